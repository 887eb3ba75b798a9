"""A guest process: its memory, registers and state, and the loop that runs it.

`GuestProcess.run()` calls the dispatcher kernel and services each exit in Python: decoding a
missed block, a system call, a fault, a trap, fence.i, a counter CSR. Guest termination (exit,
exit_group, a fatal signal) ends the loop with an `ExitStatus`.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, TextIO

import numpy as np

from dbt import hostfd
from dbt.config import Config
from dbt.frontends.riscv64.cpu import parse_cpu
from dbt.frontends.riscv64.translate import FetchFault, translate_block
from dbt.hostthreads import start_quiet
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
    FFLAGS,
    FRM,
    IC_SITE,
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
from dbt.runtime.int64 import MASK64, to_int64
from dbt.runtime.loader import ProcessImage, load_program
from dbt.runtime.memory import GuestMemory
from dbt.runtime.paths import PathMapper
from dbt.runtime.threads import GroupEnded, ThreadGroup, install_kick_handler, kick

log = logging.getLogger("dbt.runtime")

#: State words that count events (summed over threads for --stats).
COUNTER_WORDS = [INSTRET, JIT_INSNS, REGION_CALLS, CHAINED]
#: riscv64 Linux's timebase: the `time` CSR counts at 10 MHz on QEMU's virt machine.
TIMEBASE_HZ = 10_000_000
#: Instruction budget between returns to Python while guest signal handlers are installed, so a
#: host signal reaches a guest spinning in a loop within milliseconds.
HANDLER_SLICE = 1 << 22
#: ... and with the JIT on, often enough to install finished regions promptly.
JIT_SLICE = 1 << 24


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
    """exit/exit_group: unwinds to the run loop (exit ends one thread, exit_group all)."""

    def __init__(self, code: int, group: bool = True) -> None:
        super().__init__(code)
        self.code = code
        self.group = group


@dataclass
class RunStats:
    started: float = field(default_factory=time.perf_counter)
    syscalls: int = 0
    kernel_entries: int = 0


class GuestProcess:
    """One emulated process."""

    def __init__(self, config: Config, *, is_child: bool = False) -> None:
        self.config = config
        #: The threads of this process and what they share; this object is its main thread.
        self.group = ThreadGroup()
        self.tid = os.getpid()
        #: The host thread running this guest thread (threading.get_ident()), once it runs.
        self.host_ident: int | None = None
        #: Whether the thread is inside the kernel, and the block cache version its arrays are
        #: (the JIT frees flushed regions only when no thread may still run them).
        self.in_kernel = False
        self.kernel_version = -1
        self.kernel_returns = 0
        #: Set when another thread's execve ends this one.
        self.stop_requested = False
        #: Set in a child of fork made by a thread other than the main one: that thread ends
        #: the process (see after_fork_child).
        self.leads_fork_child = False
        #: How the embedding program turns the guest's end into an exit code (the CLI's messages);
        #: used where a forked child's last thread ends the process itself.
        self.finish: Callable[[ExitStatus], int] | None = None
        #: The signals an rt_sigtimedwait of this thread waits for (they wake it though blocked).
        self.waiting_for = 0
        #: The hart's extensions: which instructions decode, hwprobe and AT_HWCAP.
        self.cpu = parse_cpu(config.cpu)
        self.memory = GuestMemory()
        self.regs = np.zeros(NUM_SLOTS, dtype=np.int64)
        self.state = np.zeros(NUM_STATE, dtype=np.int64)
        self.state[RESERVATION] = -1
        self.cache = BlockCache()
        self.memory.on_code_change.append(self._code_changed)
        self.cache.on_flush.append(self._kick_others)
        if config.cache_dir:
            from dbt.backends.diskcache import set_cache_dir

            set_cache_dir(config.cache_dir)
        #: The JIT (None with --no-jit): hot blocks become compiled regions.
        self.jit = None
        if not config.no_jit:
            from dbt.runtime.jit import JitManager

            self.jit = JitManager(config, self.cache, self.state)
            self.jit.may_free = self._no_thread_runs_before
            self.cache.region_for = self.jit.address_for
            self.cache.on_flush.append(self.jit.flush)
        self.paths = PathMapper(config.sysroot)
        self.signals = sig.SignalState()
        self.image: ProcessImage | None = None
        self.exe_path = ""
        self.brk_start = self.brk = 0
        self.tid_address = 0
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

    @property
    def brk(self) -> int:
        return self.group.brk

    @brk.setter
    def brk(self, value: int) -> None:
        self.group.brk = value

    @property
    def brk_start(self) -> int:
        return self.group.brk_start

    @brk_start.setter
    def brk_start(self, value: int) -> None:
        self.group.brk_start = value

    @property
    def is_child(self) -> bool:
        """True in processes the guest created (fork, execve): fatal signals are re-raised for
        real so the guest parent's wait sees them. The process's, so every thread's."""
        return self.group.is_child

    @is_child.setter
    def is_child(self, value: bool) -> None:
        self.group.is_child = value

    # ---- threads ----
    def new_thread(self) -> GuestProcess:
        """A guest thread created by this one (clone with CLONE_THREAD): its own registers (the
        creator's, to be adjusted by the caller), state, signal mask and pending signals; the
        rest is shared. Not yet running: see start_thread."""
        thread = copy.copy(self)
        thread.regs = self.regs.copy()
        thread.state = np.zeros(NUM_STATE, dtype=np.int64)
        for word in (FFLAGS, FRM, JIT_THRESHOLD, JIT_EPOCH):
            thread.state[word] = self.state[word]
        thread.state[RESERVATION] = -1
        thread.signals = self.signals.for_thread()
        thread.pending_signals = 0
        thread.pending_info = {}
        thread.saved_mask = None
        thread.tid_address = 0
        thread.robust_list = 0
        thread.host_ident = None
        thread.in_kernel = False
        thread.kernel_version = -1
        thread.waiting_for = 0
        thread.stop_requested = False
        thread.leads_fork_child = False
        thread.vfork_release = None
        #: Set by the creator once the thread may start running guest code.
        thread.may_run = threading.Event()
        if self.jit is not None:
            self.jit.states.append(thread.state)
        return thread

    def after_fork_child(self, in_worker: bool) -> None:
        """In a child of fork: this thread is the process's only one, with the child's pid as its
        tid. Forked by a thread other than the main one (`in_worker`), it is now also the host's
        main thread: it takes host signals and, when its guest ends, ends the process."""
        group = self.group
        self.tid = os.getpid()
        group.threads = {self.tid: self}
        group.host_threads = []
        group.futexes = {}
        group.pending = 0
        group.pending_info = {}
        self.pending_signals = 0
        self.pending_info = {}
        if self.jit is not None:
            self.jit.states = [self.state]
        if in_worker:
            self.leads_fork_child = True
            self.signals.host_mask = True
            self.signals.apply_deferred()
            self.signals.mirror_mask()

    def _end_fork_child(self) -> None:
        """The guest of a child forked by a thread other than the main one has ended: the process
        ends here, as the main thread's run() and the caller's `finish` would have ended it."""
        group = self.group
        status = group.ended if group.ended is not None else ExitStatus(code=group.last_code)
        try:
            if group.failure is not None:
                raise group.failure
            code = self.finish(status) if self.finish is not None else status.status
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException as exc:
            log.error("internal error in a forked child: %s: %s", type(exc).__name__, exc)
            code = 70
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)

    def start_thread(self, thread: GuestProcess) -> int:
        """Run `thread` on a new host thread; returns its tid once it is known."""
        started = threading.Event()
        host = threading.Thread(target=thread._thread_main, args=(started,), daemon=True, name="guest")
        start_quiet(host)  # it unblocks what it takes itself (KICK)
        started.wait()
        with self.group.lock:
            alive = [h for h in self.group.host_threads if h.is_alive()]
            self.group.host_threads = [*alive, host]
            self.group.threads[thread.tid] = thread
        return thread.tid

    def _thread_main(self, started: threading.Event) -> None:
        """The body of a guest thread's host thread (not the main one)."""
        from dbt.runtime.syscalls.signal import block_host_signals

        block_host_signals()
        group = self.group
        self.tid = threading.get_native_id()
        self.host_ident = threading.get_ident()
        started.set()
        self.may_run.wait()  # until the creator has written the tid words
        try:
            self._loop()
        except GuestExit as done:
            if done.group:
                group.end(ExitStatus(code=done.code & 0xFF))
            else:
                group.last_code = done.code & 0xFF
        except sig.FatalSignal as fatal:
            group.end(ExitStatus(signal=fatal.signo, pc=fatal.pc, addr=fatal.addr))
        except GroupEnded:
            pass
        except BaseException as exc:  # dbt's own failure: the main thread reports it
            group.failure = exc
            group.end(ExitStatus(code=1))
        finally:
            try:
                self._thread_exit()
            except BaseException as exc:
                group.failure = group.failure or exc
                group.end(ExitStatus(code=1))
        if self.leads_fork_child:
            self._end_fork_child()

    def _thread_exit(self) -> None:
        """This thread is gone: its robust futexes are released, its CLONE_CHILD_CLEARTID word
        cleared and woken (pthread_join), and it leaves the group."""
        from dbt.errors import GuestFault

        group = self.group
        with group.lock:
            self._release_robust_list()
            try:
                if self.tid_address and not self.stop_requested:
                    self.memory.write_u32(self.tid_address, 0)
                    group.futex_wake(self.tid_address, 1)
            except GuestFault:
                pass
            group.threads.pop(self.tid, None)
            group.exited_counters[COUNTER_WORDS] += self.state[COUNTER_WORDS]
            self.host_ident = None
            self.in_kernel = False
            if self.jit is not None:
                self.jit.states = [state for state in self.jit.states if state is not self.state]
            leader = next(iter(group.threads.values()), None)
        if leader is not None:
            kick(leader, lower_slice=False)

    def _kick_others(self) -> None:
        """Guest code changed: the other threads take up the new translations at once (those in
        Python or a system call will when they next enter the kernel)."""
        current = threading.get_ident()
        for thread in list(self.group.threads.values()):
            if thread.host_ident != current:
                kick(thread, interrupt=False)

    def _no_thread_runs_before(self, version: int) -> bool:
        """True if no thread is inside the kernel with block-cache arrays older than `version`."""
        return not any(t.in_kernel and t.kernel_version < version for t in list(self.group.threads.values()))

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

        # Python's handlers do not see the host's siginfo: the timer signals come from dbt's own
        # itimers (SI_KERNEL, as Linux reports them), the others from kill (SI_USER).
        code = sig.SI_KERNEL if signo in sig.TIMER_SIGNALS else 0
        self.group.queue(signo, siginfo(signo, code))

    def queue_signal(self, signo: int, info: bytes) -> None:
        """Make `signo` pending for this thread."""
        with self.group.lock:
            self.pending_signals |= sig.bit(signo)
            self.pending_info.setdefault(signo, info)
            self.group.signal_queued()

    def restart_interrupted(self) -> bool:
        """After EINTR: restart the call if the signal about to be delivered asks for it (SA_RESTART)."""
        deliverable = (self.pending_signals | self.group.pending) & ~self.signals.blocked
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
        group = self.group
        while True:
            with group.lock:
                deliverable = self.pending_signals & ~state.blocked
                if deliverable:
                    signo = (deliverable & -deliverable).bit_length()
                    self.pending_signals &= ~sig.bit(signo)
                    info = self.pending_info.pop(signo, None)
                else:  # then those for the process
                    signo, info = group.take(state.blocked)
            if not signo:
                break
            if info is None:
                info = sigframe.siginfo(signo)
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
        """Run the guest (this is its main thread) until the process ends."""
        group = self.group
        self.host_ident = threading.get_ident()
        with group.lock:
            group.threads[self.tid] = self
            if len(group.threads) == 1:
                group.ended = None  # run() again after a halt (code snippets)
        install_kick_handler()
        _warn_of_threads_taking_signals()
        halted = False
        try:
            self._loop()
        except GuestExit as done:
            if done.group or not group.multi:
                status = ExitStatus(code=done.code & 0xFF)
            else:
                # The main thread left with exit(): the process lives on until its last thread.
                group.last_code = done.code & 0xFF
                self._thread_exit()
                status = self._wait_for_threads()
        except Halted as halt:
            status = ExitStatus(code=0, pc=halt.pc)
            halted = True
        except sig.FatalSignal as fatal:
            status = ExitStatus(signal=fatal.signo, pc=fatal.pc, addr=fatal.addr)
        except GroupEnded:
            if group.ended is not None:
                status = group.ended  # type: ignore[assignment]
            else:  # another thread's execve replaced this one: wait for the new program's end
                with group.lock:
                    group.threads.pop(self.tid, None)
                status = self._wait_for_threads()
        if not halted:
            # The main thread dies with its process (exit_group, a fatal signal): as every
            # thread's exit does, it leaves its robust mutexes (in memory shared with other
            # processes, the only ones still there to see them) to the next locker.
            self._release_robust_list()
        self._end_threads(status)
        return status

    def _release_robust_list(self) -> None:
        from dbt.errors import GuestFault
        from dbt.runtime.syscalls.misc import release_robust_list

        if self.stop_requested:  # (after an execve its memory is the new program's)
            return
        with self.group.lock:
            try:
                release_robust_list(self)
            except GuestFault:
                pass

    def _wait_for_threads(self) -> ExitStatus:
        group = self.group
        while True:
            with group.lock:
                if group.ended is not None:
                    return group.ended  # type: ignore[return-value]
                if not group.threads:
                    return ExitStatus(code=group.last_code)
            # Host signals still arrive here (the main host thread), for the other threads.
            self.signals.apply_deferred()
            time.sleep(0.005)

    def _end_threads(self, status: ExitStatus) -> None:
        """The process ends: stop the other threads (they leave their kernels within a block) and
        re-raise a failure one of them had."""
        group = self.group
        group.end(status)
        # A thread in a blocking host call (a read of a terminal, say) cannot be stopped; it is a
        # daemon thread and goes with the process.
        deadline = time.monotonic() + 1.0
        for host in list(group.host_threads):
            host.join(timeout=max(deadline - time.monotonic(), 0))
        if group.failure is not None:
            raise group.failure

    def _loop(self) -> None:
        """Run this guest thread until it exits (GuestExit), dies (FatalSignal) or the group ends."""
        from dbt.runtime.syscalls import dispatch
        from dbt.runtime.syscalls.process import ExecRequest

        kernel = self.kernel
        regs, state, cache, group = self.regs, self.state, self.cache, self.group
        slice_insns = self.config.slice_insns
        raw = kernel.raw
        version = -1
        arrays: tuple = ()
        self.signals.mirror_all()
        jit = self.jit
        main = self.signals.host_mask
        state[JIT_THRESHOLD] = -1 if jit is None else jit.threshold
        if jit is not None:
            # Return to Python often enough to install finished regions and age the counters.
            slice_insns = min(slice_insns, JIT_SLICE)
        while True:
            if group.ended is not None or self.stop_requested:
                raise GroupEnded
            if cache.version != version:
                # Held while the kernel runs: another thread's flush or growth replaces the
                # cache's arrays, and these must outlive this thread's use of them. Taken under
                # the lock every change of the cache holds, so the four belong together.
                with group.lock:
                    version = cache.version
                    arrays = (cache.code, cache.blocks, cache.keys, cache.values)
                args = kernel.arguments(regs, state, self.memory.ram, self.memory.perm, *arrays)
                state[IC_SITE] = 0  # an exit of a region from before a flush
            # With guest handlers or other threads, come back often enough to deliver signals.
            if self.signals.any_handler or group.multi:
                budget = min(slice_insns, HANDLER_SLICE)
            else:
                budget = slice_insns
            state[SLICE_END] = state[INSTRET] + budget
            self.kernel_version = version
            self.in_kernel = True
            reason = raw(*args)
            self.in_kernel = False
            self.kernel_returns += 1
            self.stats.kernel_entries += 1
            regs[SINK] = 0
            if jit is not None:
                with group.lock:
                    jit.poll()
                    jit.tick(int(state[INSTRET]))
            observer = self.observer
            observed = observer is not None and reason in OBSERVED_EXITS
            if observed:
                observer.before(self, reason)
            try:
                self._service(reason, dispatch, ExecRequest, arrays, version)
            except sig.FatalSignal as fatal:
                if fatal.signo not in sig.SYNCHRONOUS:
                    raise
                self._synchronous_signal(fatal)
            if self.pending_signals or group.pending:
                observed = observer is not None
                self.deliver_signals()
            if main:
                self.signals.apply_deferred()
            if observed:
                observer.after(self)

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
        self._stop_other_threads()
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

    def _stop_other_threads(self) -> None:
        """execve: every other thread of the process ends (Linux's de_thread); this one becomes
        the process's only thread, with the process's id as its tid."""
        group = self.group
        others = [t for t in list(group.threads.values()) if t is not self]
        if not others:
            return
        for thread in others:
            thread.stop_requested = True
            kick(thread)
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            with group.lock:
                if all(t.tid not in group.threads for t in others):
                    break
            time.sleep(0.001)
        else:
            log.warning("execve: a thread did not stop (blocked in a host call); it is abandoned")
            with group.lock:
                for thread in others:
                    group.threads.pop(thread.tid, None)
        with group.lock:
            group.threads.pop(self.tid, None)
            self.tid = os.getpid()
            group.threads[self.tid] = self

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

    def _service(self, reason: int, dispatch, exec_request, arrays: tuple, version: int) -> None:
        """Handle one exit of the dispatcher kernel, which ran on `arrays` (the block cache's
        arrays at `version`: another thread may have replaced them meanwhile)."""
        state = self.state
        if reason == EXIT_MISS:
            with self.group.lock:
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
            with self.group.lock:
                self.cache.flush()
            self.advance()
        elif reason == EXIT_CSR:
            self._counter_csr(arrays[0])
        elif reason == EXIT_HOT:
            # The block number is one of `arrays`: stale if the cache changed since.
            if self.jit is not None:
                with self.group.lock:  # (checked under it: another thread may flush meanwhile)
                    if version == self.cache.version:
                        self.jit.hot(int(state[EXIT_OP]))
        elif reason != EXIT_SLICE:
            raise AssertionError(f"unknown dispatcher exit {reason}")

    def advance(self, size: int = 4) -> None:
        """Retire the instruction at pc that exited to Python (ecall, fence.i, csr: all 4 bytes)."""
        self.state[PC] += size
        self.state[INSTRET] += 1

    def _translate(self, pc: int) -> None:
        pc &= MASK64
        if self.cache.lookup(pc) >= 0:
            return  # another thread decoded it after this one's arrays were replaced
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

    def _counter_csr(self, code: np.ndarray) -> None:
        op = code[int(self.state[EXIT_OP])]
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
        """Guest instructions retired by every thread of the process."""
        return int(self.counters()[INSTRET])

    def counters(self) -> np.ndarray:
        """The state words that count (instructions, compiled ones, region calls, chained
        transfers) summed over the process's threads, those that have exited included."""
        with self.group.lock:
            states = [t.state for t in self.group.threads.values() if t is not self]
        total = self.state.copy()
        for state in states:
            total[COUNTER_WORDS] += state[COUNTER_WORDS]
        total[COUNTER_WORDS] += self.group.exited_counters[COUNTER_WORDS]
        return total

    def wall_time(self) -> float:
        return time.perf_counter() - self.stats.started


_warned_of_threads = False


def _warn_of_threads_taking_signals() -> None:
    """A host thread that dbt did not start (a library's, started before dbt was imported) and
    that does not block the guest's signals can take one: a guest timer's SIGALRM would then
    kill dbt, or not interrupt the guest's blocking call. Said once per host process."""
    global _warned_of_threads
    if _warned_of_threads:
        return
    from dbt.hostthreads import threads_taking_signals

    found = threads_taking_signals(sig.host_twins((1 << sig.NSIG) - 1))
    if found:
        _warned_of_threads = True
        log.warning(
            "%d host thread(s) started before dbt (numpy's OpenBLAS, say) do not block signals: "
            "the guest's signals may reach them (import dbt first, or set OPENBLAS_NUM_THREADS=1)",
            len(found),
        )


def host_pid() -> int:
    return os.getpid()
