"""A guest process: its memory, registers and state, and the loop that runs it.

`GuestProcess.run()` calls the dispatcher kernel and services each exit in Python: decoding a
missed block, a system call, a fault, a trap, fence.i, a counter CSR. Guest termination (exit,
exit_group, a fatal signal) ends the loop with an `ExitStatus`.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Protocol, TextIO

import numpy as np

from dbt import hostfd
from dbt.config import Config
from dbt.frontends.riscv64.cpu import parse_cpu
from dbt.frontends.riscv64.translate import FetchFault, translate_block
from dbt.ir.state import (
    CHAINED,
    EXIT_CSR,
    EXIT_FAULT,
    EXIT_FENCE_I,
    EXIT_HOT,
    EXIT_MISS,
    EXIT_OP,
    EXIT_SLICE,
    EXIT_SYSCALL,
    EXIT_TRAP,
    FAULT_ADDR,
    FAULT_KIND,
    FAULT_MISALIGNED,
    INSTRET,
    JIT_EPOCH,
    JIT_INSNS,
    JIT_THRESHOLD,
    NUM_SLOTS,
    NUM_STATE,
    PC,
    PERM_MAPPED,
    REGION_CALLS,
    RESERVATION,
    SINK,
    SLICE_END,
    TRAP_BREAKPOINT,
)
from dbt.runtime import signals as sig
from dbt.runtime.blockcache import BlockCache
from dbt.runtime.loader import ProcessImage, load_program
from dbt.runtime.memory import GuestMemory
from dbt.runtime.paths import PathMapper

log = logging.getLogger("dbt.runtime")

#: riscv64 Linux's timebase: the `time` CSR counts at 10 MHz on QEMU's virt machine.
TIMEBASE_HZ = 10_000_000
#: Instruction budget between returns to Python while guest signal handlers are installed, so a
#: host signal reaches a guest spinning in a loop within milliseconds.
HANDLER_SLICE = 1 << 22
#: ... and with the JIT on, often enough to install finished regions promptly.
JIT_SLICE = 1 << 24
MASK64 = (1 << 64) - 1


def to_int64(value: int) -> int:
    """A 64-bit guest value as the int64 the register and state arrays hold."""
    value &= MASK64
    return value - (1 << 64) if value >= 1 << 63 else value


@dataclass(frozen=True, slots=True)
class ExitStatus:
    """How a guest ended."""

    #: Exit code given to exit/exit_group, or None if a signal ended the guest.
    code: int | None = None
    #: Guest signal that ended it, or None.
    signal: int | None = None
    pc: int | None = None
    addr: int | None = None

    @property
    def status(self) -> int:
        """The process exit status dbt reports: the guest's code, or 128 + signal number."""
        return self.code if self.signal is None else 128 + self.signal  # type: ignore[return-value]

    def describe(self) -> str:
        if self.signal is None:
            return f"exited with status {self.code}"
        text = f"guest terminated by {sig.name(self.signal)} ({sig.description(self.signal)})"
        if self.pc is not None:
            text += f" at pc {self.pc:#x}"
        if self.addr is not None:
            text += f", address {self.addr:#x}"
        return text


class Halted(Exception):
    """An ebreak at a halt pc (code snippets run through the API)."""

    def __init__(self, pc: int) -> None:
        super().__init__(pc)
        self.pc = pc


#: Dispatcher exits an observer hears of: the guest events, where the guest state is defined.
OBSERVED_EXITS = frozenset({EXIT_SYSCALL, EXIT_FAULT, EXIT_TRAP, EXIT_CSR})


class EventObserver(Protocol):
    def before(self, process: GuestProcess, reason: int) -> None: ...

    def after(self, process: GuestProcess) -> None: ...


class GuestExit(Exception):
    """exit/exit_group: unwinds to the run loop."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class RunStats:
    started: float = field(default_factory=time.perf_counter)
    syscalls: int = 0
    kernel_entries: int = 0


class GuestProcess:
    """One emulated process."""

    def __init__(self, config: Config, *, is_child: bool = False) -> None:
        self.config = config
        #: The hart's extensions: which instructions decode, hwprobe and AT_HWCAP.
        self.cpu = parse_cpu(config.cpu)
        self.memory = GuestMemory()
        self.regs = np.zeros(NUM_SLOTS, dtype=np.int64)
        self.state = np.zeros(NUM_STATE, dtype=np.int64)
        self.state[RESERVATION] = -1
        self.cache = BlockCache()
        self.memory.on_code_change.append(self._code_changed)
        if config.cache_dir:
            from dbt.backends.diskcache import set_cache_dir

            set_cache_dir(config.cache_dir)
        #: The JIT (None with --no-jit): hot blocks become compiled regions.
        self.jit = None
        if not config.no_jit:
            from dbt.runtime.jit import JitManager

            self.jit = JitManager(config, self.cache, self.state)
            self.cache.region_for = self.jit.address_for
            self.cache.on_flush.append(self.jit.flush)
        self.paths = PathMapper(config.sysroot)
        self.signals = sig.SignalState()
        self.image: ProcessImage | None = None
        self.exe_path = ""
        self.brk_start = self.brk = 0
        self.tid_address = 0
        #: True in processes the guest created (fork, execve): fatal signals are re-raised for real
        #: so the guest parent's wait sees them.
        self.is_child = is_child
        self.stats = RunStats()
        self.strace: TextIO | None = sys.stderr if config.strace else None
        self.trace_out: TextIO | None = None
        self._kernel = None
        #: Per-fd directory listings for getdents64.
        self.dir_streams: dict[int, object] = {}
        #: Pending signals, as a mask (bit n-1 for signal n), and the siginfo of each.
        self.pending_signals = 0
        self.pending_info: dict[int, bytes] = {}
        #: The mask to restore after a handler interrupts sigsuspend/ppoll/pselect6 (their own
        #: temporary mask is in force meanwhile).
        self.saved_mask: int | None = None
        #: Guest address of the signal-return trampoline page.
        self.sigtramp = 0
        self.signals.host_handler = self._host_signal
        #: The name prctl(PR_SET_NAME) sets.
        self.comm = b""
        #: Resource limits the guest set that dbt records instead of applying to itself.
        self.rlimits: dict[int, tuple[int, int]] = {}
        self.robust_list = 0
        #: In a vfork child: the pipe end whose closing lets the parent go on (at execve or exit).
        self.vfork_release: int | None = None
        #: File descriptors dbt itself owns (kept open across a guest execve, not the guest's
        #: to close): the process-wide set of dbt.hostfd.
        self.own_fds: set[int] = hostfd.owned()
        #: An ebreak at one of these pcs ends run() with exit code 0 instead of SIGTRAP (code snippets).
        self.halt_pcs: set[int] = set()
        #: Told of guest events before and after they are handled (differential runs).
        self.observer: EventObserver | None = None

    # ---- setup ----
    def load(self, path: str, argv: list[bytes], envp: list[bytes]) -> None:
        image = load_program(self.memory, self.paths, path, argv, envp, self.cpu.hwcap)
        self.image = image
        self._map_sigtramp()
        self.exe_path = image.exe_path
        self.paths.exe = image.host_path
        self.paths.exe_guest = image.exe_path
        self.comm = os.path.basename(os.fsencode(path))[:15]
        self.brk_start = self.brk = image.brk
        self.state[PC] = image.entry
        self.regs[2] = image.sp
        log.debug("entry %#x sp %#x brk %#x", image.entry, image.sp, image.brk)

    def set_kernel(self, kernel) -> None:
        self._kernel = kernel

    @property
    def kernel(self):
        """The interpreter kernel (loaded, and compiled if not cached, on first use)."""
        if self._kernel is None:
            from dbt.backends.interp import load_kernel

            self._kernel = load_kernel()
        return self._kernel

    def _map_sigtramp(self) -> None:
        from dbt.runtime.memory import PROT_EXEC, PROT_READ, STACK_SIZE, STACK_TOP
        from dbt.runtime.sigframe import TRAMPOLINE_CODE

        self.sigtramp = STACK_TOP - STACK_SIZE - 2 * 4096
        self.memory.map(self.sigtramp, 4096, PROT_READ | PROT_EXEC, name="[vdso]")
        self.memory.poke(self.sigtramp, TRAMPOLINE_CODE)

    # ---- signals ----
    def _host_signal(self, host_signo: int, frame: object) -> None:
        """Python-level handler of host signals the guest handles: they become pending."""
        signo = sig.from_host(host_signo)
        from dbt.runtime.sigframe import siginfo

        self.queue_signal(signo, siginfo(signo))

    def queue_signal(self, signo: int, info: bytes) -> None:
        self.pending_signals |= sig.bit(signo)
        self.pending_info.setdefault(signo, info)

    def restart_interrupted(self) -> bool:
        """After EINTR: restart the call if the signal about to be delivered asks for it (SA_RESTART)."""
        deliverable = self.pending_signals & ~self.signals.blocked
        if not deliverable:
            return True  # nothing for the guest to see: just run the call again
        signo = (deliverable & -deliverable).bit_length()
        action = self.signals.actions[signo]
        if action.handler in (sig.SIG_DFL, sig.SIG_IGN):
            return True
        from dbt.runtime.sigframe import SA_RESTART

        return bool(action.flags & SA_RESTART)

    def deliver_signals(self) -> None:
        """Act on every deliverable pending signal: default action, or a frame for its handler."""
        from dbt.runtime import sigframe

        state = self.signals
        while True:
            deliverable = self.pending_signals & ~state.blocked
            if not deliverable:
                break
            signo = (deliverable & -deliverable).bit_length()
            self.pending_signals &= ~sig.bit(signo)
            info = self.pending_info.pop(signo, sigframe.siginfo(signo))
            action = state.actions[signo]
            if action.handler == sig.SIG_IGN:
                continue
            if action.handler == sig.SIG_DFL:
                default = sig.default_action(signo)
                if default in ("term", "core"):
                    raise sig.FatalSignal(signo, int(self.state[PC]) & MASK64)
                if default == "stop":
                    os.kill(os.getpid(), sig.to_host(sig.SIGSTOP) or 19)
                continue
            restored = state.blocked if self.saved_mask is None else self.saved_mask
            self.saved_mask = None
            sigframe.build_frame(self, signo, info, action.handler, action.flags, restored)
            new_mask = state.blocked | action.mask
            if not action.flags & sigframe.SA_NODEFER:
                new_mask |= sig.bit(signo)
            if action.flags & sigframe.SA_RESETHAND:
                state.set_action(signo, sig.SigAction())
            state.set_blocked(new_mask)
        if self.saved_mask is not None:
            state.set_blocked(self.saved_mask)
            self.saved_mask = None

    def _synchronous_signal(self, fatal: sig.FatalSignal) -> None:
        """A fault, trap or illegal instruction: its handler runs with the faulting pc saved, so
        returning retries the instruction; with no handler (or blocked, or ignored) it is fatal."""
        signo = fatal.signo
        action = self.signals.actions[signo]
        if action.handler in (sig.SIG_DFL, sig.SIG_IGN) or self.signals.blocked & sig.bit(signo):
            raise fatal
        from dbt.runtime.sigframe import siginfo

        if fatal.pc is not None:
            self.state[PC] = to_int64(fatal.pc)
        self.pending_info[signo] = siginfo(
            signo, fatal.code, addr=fatal.addr if fatal.addr is not None else 0
        )
        self.pending_signals |= sig.bit(signo)
        self.deliver_signals()

    # ---- the run loop ----
    def run(self) -> ExitStatus:
        from dbt.runtime.syscalls import dispatch
        from dbt.runtime.syscalls.process import ExecRequest

        kernel = self.kernel
        regs, state, memory, cache = self.regs, self.state, self.memory, self.cache
        slice_insns = self.config.slice_insns
        raw = kernel.raw
        version = -1
        self.signals.mirror_all()
        jit = self.jit
        state[JIT_THRESHOLD] = -1 if jit is None else jit.threshold
        if jit is not None:
            # Return to Python often enough to install finished regions and age the counters.
            slice_insns = min(slice_insns, JIT_SLICE)
        try:
            while True:
                if cache.version != version:
                    version = cache.version
                    args = kernel.arguments(
                        regs,
                        state,
                        memory.ram,
                        memory.perm,
                        cache.code,
                        cache.blocks,
                        cache.keys,
                        cache.values,
                    )
                # With guest handlers installed, come back often enough to deliver host signals.
                budget = min(slice_insns, HANDLER_SLICE) if self.signals.any_handler else slice_insns
                state[SLICE_END] = state[INSTRET] + budget
                reason = raw(*args)
                self.stats.kernel_entries += 1
                regs[SINK] = 0
                if jit is not None:
                    jit.poll()
                    jit.tick(int(state[INSTRET]))
                observer = self.observer
                observed = observer is not None and reason in OBSERVED_EXITS
                if observed:
                    observer.before(self, reason)
                try:
                    self._service(reason, dispatch, ExecRequest)
                except sig.FatalSignal as fatal:
                    if fatal.signo not in sig.SYNCHRONOUS:
                        raise
                    self._synchronous_signal(fatal)
                if self.pending_signals:
                    observed = observer is not None
                    self.deliver_signals()
                if observed:
                    observer.after(self)
        except GuestExit as done:
            return ExitStatus(code=done.code & 0xFF)
        except Halted as halt:
            return ExitStatus(code=0, pc=halt.pc)
        except sig.FatalSignal as fatal:
            return ExitStatus(signal=fatal.signo, pc=fatal.pc, addr=fatal.addr)

    def _exec(self, path: str, argv: list[bytes], envp: list[bytes]) -> None:
        """Replace the guest program in this host process (execve after its checks passed)."""
        from dbt.errors import ElfLoadError, GuestFileNotFound
        from dbt.runtime.elf import read_elf
        from dbt.runtime.syscalls import errnos

        try:
            image = read_elf(self.paths.host(path), display=path)
            if image.interp:
                read_elf(self.paths.host(image.interp), display=image.interp)
        except GuestFileNotFound:
            self.regs[10] = -errnos.ENOENT
            self.advance()
            return
        except ElfLoadError:
            self.regs[10] = -errnos.ENOEXEC
            self.advance()
            return
        log.debug("execve %s %s", path, argv)
        if self.vfork_release is not None:
            os.close(self.vfork_release)
            self.vfork_release = None
        self._close_on_exec()
        self.memory.unmap(0, self.memory.size)
        self.cache.flush()
        self.regs[:] = 0
        # The guest's state starts afresh; the JIT's words in the state array carry on.
        jit_words = (JIT_THRESHOLD, JIT_EPOCH, JIT_INSNS, REGION_CALLS, CHAINED)
        kept = [self.state[i] for i in jit_words]
        self.state[:] = 0
        self.state[list(jit_words)] = kept
        self.state[RESERVATION] = -1
        self.signals.reset_for_exec()
        self.tid_address = 0
        self.dir_streams.clear()
        self.load(path, argv, envp)

    def _close_on_exec(self) -> None:
        fd_dir = "/proc/self/fd" if os.path.isdir("/proc/self/fd") else "/dev/fd"
        for name in os.listdir(fd_dir):
            fd = int(name)
            if fd in self.own_fds:
                continue
            try:
                if not os.get_inheritable(fd):
                    os.close(fd)
            except OSError:
                pass

    def _service(self, reason: int, dispatch, exec_request) -> None:
        """Handle one exit of the dispatcher kernel."""
        state = self.state
        if reason == EXIT_MISS:
            self._translate(int(state[PC]))
        elif reason == EXIT_SYSCALL:
            self.stats.syscalls += 1
            try:
                dispatch(self)
            except exec_request as request:
                self._exec(request.path, request.argv, request.envp)
        elif reason == EXIT_FAULT:
            self._fault()
        elif reason == EXIT_TRAP:
            pc = int(state[PC]) & MASK64
            if state[FAULT_KIND] == TRAP_BREAKPOINT:
                if pc in self.halt_pcs:
                    raise Halted(pc)
                raise sig.FatalSignal(sig.SIGTRAP, pc, code=sig.TRAP_BRKPT)
            raise sig.FatalSignal(sig.SIGILL, pc, pc, code=sig.ILL_ILLOPC)
        elif reason == EXIT_FENCE_I:
            self.cache.flush()
            self.advance()
        elif reason == EXIT_CSR:
            self._counter_csr()
        elif reason == EXIT_HOT:
            if self.jit is not None:
                self.jit.hot(int(state[EXIT_OP]))
        elif reason != EXIT_SLICE:
            raise AssertionError(f"unknown dispatcher exit {reason}")

    def advance(self, size: int = 4) -> None:
        """Retire the instruction at pc that exited to Python (ecall, fence.i, csr: all 4 bytes)."""
        self.state[PC] += size
        self.state[INSTRET] += 1

    def _translate(self, pc: int) -> None:
        pc &= MASK64
        try:
            block = translate_block(self.memory.fetch, pc, self.config.max_block_insns, self.cpu.rows)
        except FetchFault:
            raise sig.FatalSignal(sig.SIGSEGV, pc, pc, code=self._segv_code(pc)) from None
        self.cache.insert(block)
        if self.trace_out is not None:
            from dbt.frontends.riscv64.disasm import format_block

            self.trace_out.write(format_block(self.memory, block))
            self.trace_out.flush()

    def _fault(self) -> None:
        pc = int(self.state[PC]) & MASK64
        addr = int(self.state[FAULT_ADDR]) & (1 << 64) - 1
        if self.state[FAULT_KIND] == FAULT_MISALIGNED:
            raise sig.FatalSignal(sig.SIGBUS, pc, addr, code=sig.BUS_ADRALN)
        raise sig.FatalSignal(sig.SIGSEGV, pc, addr, code=self._segv_code(addr))

    def _segv_code(self, addr: int) -> int:
        mapped = 0 <= addr < self.memory.size and self.memory.perm[addr >> 12] & PERM_MAPPED
        return sig.SEGV_ACCERR if mapped else sig.SEGV_MAPERR

    def _counter_csr(self) -> None:
        op = self.cache.code[int(self.state[EXIT_OP])]
        rd = (int(op[0]) >> 16) & 0xFF
        csr = (int(op[0]) >> 48) & 0xFFFF
        if csr == 0xC01:  # time
            value = time.monotonic_ns() * TIMEBASE_HZ // 1_000_000_000
        else:  # cycle and instret both count retired instructions
            value = int(self.state[INSTRET])
        self.regs[rd] = np.int64(value - (1 << 64) if value >= 1 << 63 else value)
        self.regs[SINK] = 0
        self.advance()

    def _code_changed(self, start: int, end: int) -> None:
        if self.cache.overlaps_code(start, end):
            self.cache.flush()

    # ---- information for tools and the API ----
    @property
    def instructions(self) -> int:
        return int(self.state[INSTRET])

    def wall_time(self) -> float:
        return time.perf_counter() - self.stats.started


def host_pid() -> int:
    return os.getpid()
