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
from typing import TextIO

import numpy as np

from dbt.config import Config
from dbt.frontends.riscv64.translate import FetchFault, translate_block
from dbt.ir.state import (
    EXIT_CSR,
    EXIT_FAULT,
    EXIT_FENCE_I,
    EXIT_MISS,
    EXIT_OP,
    EXIT_SLICE,
    EXIT_SYSCALL,
    EXIT_TRAP,
    FAULT_ADDR,
    FAULT_KIND,
    FAULT_MISALIGNED,
    INSTRET,
    NUM_SLOTS,
    NUM_STATE,
    PC,
    PERM_MAPPED,
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
        self.memory = GuestMemory()
        self.regs = np.zeros(NUM_SLOTS, dtype=np.int64)
        self.state = np.zeros(NUM_STATE, dtype=np.int64)
        self.state[RESERVATION] = -1
        self.cache = BlockCache()
        self.memory.on_code_change.append(self._code_changed)
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
        #: Signals sent while blocked, as a mask (bit n-1 for signal n).
        self.pending_signals = 0
        #: The name prctl(PR_SET_NAME) sets.
        self.comm = b""
        #: Resource limits the guest set that dbt records instead of applying to itself.
        self.rlimits: dict[int, tuple[int, int]] = {}
        self.robust_list = 0
        #: In a vfork child: the pipe end whose closing lets the parent go on (at execve or exit).
        self.vfork_release: int | None = None
        #: File descriptors dbt itself owns (kept open across a guest execve).
        self.own_fds: set[int] = set()
        #: An ebreak at one of these pcs ends run() with exit code 0 instead of SIGTRAP (code snippets).
        self.halt_pcs: set[int] = set()

    # ---- setup ----
    def load(self, path: str, argv: list[bytes], envp: list[bytes]) -> None:
        image = load_program(self.memory, self.paths, path, argv, envp)
        self.image = image
        self.exe_path = image.exe_path
        self.comm = os.path.basename(os.fsencode(path))[:15]
        self.brk_start = self.brk = image.brk
        self.state[PC] = image.entry
        self.regs[2] = image.sp
        log.debug("entry %#x sp %#x brk %#x", image.entry, image.sp, image.brk)

    def set_kernel(self, kernel) -> None:
        self._kernel = kernel

    # ---- the run loop ----
    def run(self) -> ExitStatus:
        from dbt.runtime.syscalls import dispatch
        from dbt.runtime.syscalls.process import ExecRequest

        if self._kernel is None:
            from dbt.backends.interp import load_kernel

            self._kernel = load_kernel()
        kernel = self._kernel
        regs, state, memory, cache = self.regs, self.state, self.memory, self.cache
        slice_insns = self.config.slice_insns
        raw = kernel.raw
        version = -1
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
                state[SLICE_END] = state[INSTRET] + slice_insns
                reason = raw(*args)
                self.stats.kernel_entries += 1
                regs[SINK] = 0
                if reason == EXIT_MISS:
                    self._translate(int(state[PC]))
                elif reason == EXIT_SYSCALL:
                    self.stats.syscalls += 1
                    try:
                        dispatch(self)
                    except ExecRequest as request:
                        self._exec(request.path, request.argv, request.envp)
                elif reason == EXIT_FAULT:
                    self._fault()
                elif reason == EXIT_TRAP:
                    pc = int(state[PC])
                    if state[FAULT_KIND] == TRAP_BREAKPOINT:
                        if pc in self.halt_pcs:
                            return ExitStatus(code=0, pc=pc)
                        raise sig.FatalSignal(sig.SIGTRAP, pc, code=sig.TRAP_BRKPT)
                    raise sig.FatalSignal(sig.SIGILL, pc, pc, code=sig.ILL_ILLOPC)
                elif reason == EXIT_FENCE_I:
                    cache.flush()
                    self.advance()
                elif reason == EXIT_CSR:
                    self._counter_csr()
                elif reason == EXIT_SLICE:
                    continue
                else:
                    raise AssertionError(f"unknown dispatcher exit {reason}")
        except GuestExit as done:
            return ExitStatus(code=done.code & 0xFF)
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
        self.state[:] = 0
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

    def advance(self, size: int = 4) -> None:
        """Retire the instruction at pc that exited to Python (ecall, fence.i, csr: all 4 bytes)."""
        self.state[PC] += size
        self.state[INSTRET] += 1

    def _translate(self, pc: int) -> None:
        try:
            block = translate_block(self.memory.fetch, pc, self.config.max_block_insns)
        except FetchFault:
            raise sig.FatalSignal(sig.SIGSEGV, pc, pc, code=self._segv_code(pc)) from None
        self.cache.insert(block)
        if self.trace_out is not None:
            from dbt.frontends.riscv64.disasm import format_block

            self.trace_out.write(format_block(self.memory, block))
            self.trace_out.flush()

    def _fault(self) -> None:
        pc = int(self.state[PC])
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
