"""Guest signals: riscv64 Linux numbers, names, default actions and the guest's dispositions.

Signal numbers follow asm-generic (the same as x86-64 Linux); hosts with other numbers
(macOS) are translated by name. The host follows the guest: a signal the guest ignores is
ignored by the dbt process, one it leaves at its default acts on dbt natively, one it handles
gets a host handler that marks it pending, and the guest's blocked mask is dbt's. Pending
signals are delivered to guest handlers (sigframe.py) when the dispatcher returns to Python.
"""

from __future__ import annotations

import signal as host_signal
import threading
from collections.abc import Callable
from dataclasses import dataclass

# (number, name, description, default action) — action: "term", "core", "ign", "stop", "cont".
_TABLE = (
    (1, "SIGHUP", "Hangup", "term"),
    (2, "SIGINT", "Interrupt", "term"),
    (3, "SIGQUIT", "Quit", "core"),
    (4, "SIGILL", "Illegal instruction", "core"),
    (5, "SIGTRAP", "Trace/breakpoint trap", "core"),
    (6, "SIGABRT", "Aborted", "core"),
    (7, "SIGBUS", "Bus error", "core"),
    (8, "SIGFPE", "Floating point exception", "core"),
    (9, "SIGKILL", "Killed", "term"),
    (10, "SIGUSR1", "User defined signal 1", "term"),
    (11, "SIGSEGV", "Segmentation fault", "core"),
    (12, "SIGUSR2", "User defined signal 2", "term"),
    (13, "SIGPIPE", "Broken pipe", "term"),
    (14, "SIGALRM", "Alarm clock", "term"),
    (15, "SIGTERM", "Terminated", "term"),
    (16, "SIGSTKFLT", "Stack fault", "term"),
    (17, "SIGCHLD", "Child exited", "ign"),
    (18, "SIGCONT", "Continued", "cont"),
    (19, "SIGSTOP", "Stopped (signal)", "stop"),
    (20, "SIGTSTP", "Stopped", "stop"),
    (21, "SIGTTIN", "Stopped (tty input)", "stop"),
    (22, "SIGTTOU", "Stopped (tty output)", "stop"),
    (23, "SIGURG", "Urgent I/O condition", "ign"),
    (24, "SIGXCPU", "CPU time limit exceeded", "core"),
    (25, "SIGXFSZ", "File size limit exceeded", "core"),
    (26, "SIGVTALRM", "Virtual timer expired", "term"),
    (27, "SIGPROF", "Profiling timer expired", "term"),
    (28, "SIGWINCH", "Window changed", "ign"),
    (29, "SIGIO", "I/O possible", "term"),
    (30, "SIGPWR", "Power failure", "term"),
    (31, "SIGSYS", "Bad system call", "core"),
)
NSIG = 64
SIGKILL, SIGSTOP, SIGCHLD, SIGPIPE = 9, 19, 17, 13
SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE, SIGSEGV = 4, 5, 6, 7, 8, 11

NAMES = {number: name for number, name, _, _ in _TABLE}
DESCRIPTIONS = {number: text for number, _, text, _ in _TABLE}
DEFAULT_ACTIONS = {number: action for number, _, _, action in _TABLE}
BY_NAME = {name: number for number, name, _, _ in _TABLE}

SIG_DFL = 0
SIG_IGN = 1

# si_code values for synchronous faults.
SEGV_MAPERR, SEGV_ACCERR = 1, 2
BUS_ADRALN = 1
ILL_ILLOPC = 1
TRAP_BRKPT = 1
SI_KERNEL = 0x80
#: SIGALRM, SIGVTALRM, SIGPROF: what setitimer and alarm send.
TIMER_SIGNALS = frozenset({14, 26, 27})


def name(signo: int) -> str:
    if signo in NAMES:
        return NAMES[signo]
    if 32 <= signo < NSIG:
        return f"SIGRT{signo - 32}"
    return f"signal {signo}"


def description(signo: int) -> str:
    if signo in DESCRIPTIONS:
        return DESCRIPTIONS[signo]
    return f"Real-time signal {signo - 32}" if 32 <= signo < NSIG else f"Unknown signal {signo}"


def default_action(signo: int) -> str:
    return DEFAULT_ACTIONS.get(signo, "term")


def to_host(signo: int) -> int | None:
    """Host signal number for a guest one (None if the host has no such signal)."""
    sig_name = NAMES.get(signo)
    if sig_name is None:
        if 32 <= signo < NSIG and hasattr(host_signal, "SIGRTMIN"):
            host = host_signal.SIGRTMIN + (signo - 32)
            # The host's SIGRTMAX is dbt's own (threads.KICK).
            return host if host < host_signal.SIGRTMAX else None
        return None
    value = getattr(host_signal, sig_name, None)
    return int(value) if value is not None else None


def from_host(signo: int) -> int:
    """Guest signal number for a host one."""
    try:
        sig_name = host_signal.Signals(signo).name
    except ValueError:
        sig_name = ""
    if sig_name in BY_NAME:
        return BY_NAME[sig_name]
    if hasattr(host_signal, "SIGRTMIN") and host_signal.SIGRTMIN <= signo <= host_signal.SIGRTMAX:
        return 32 + signo - host_signal.SIGRTMIN
    return signo


@dataclass(slots=True)
class SigAction:
    """A guest disposition as rt_sigaction stores it."""

    handler: int = SIG_DFL
    flags: int = 0
    restorer: int = 0
    mask: int = 0


class FatalSignal(Exception):
    """The guest dies of a signal (default action terminate or core)."""

    def __init__(self, signo: int, pc: int | None = None, addr: int | None = None, code: int = 0) -> None:
        super().__init__(f"{name(signo)} at pc {pc}")
        self.signo = signo
        self.pc = pc
        self.addr = addr
        self.code = code


#: Signals raised by the guest's own instructions: dbt's host versions of these are dbt's own.
SYNCHRONOUS = frozenset({SIGILL, SIGTRAP, SIGBUS, SIGFPE, SIGSEGV})
#: Guest signals whose host disposition and blocking follow the guest's. SIGPIPE stays ignored by
#: the host: dbt raises it in the guest itself when a write fails with EPIPE.
MIRRORED = frozenset(range(1, NSIG + 1)) - SYNCHRONOUS - {SIGKILL, SIGSTOP, SIGPIPE}
UNBLOCKABLE = (1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1))


def bit(signo: int) -> int:
    return 1 << (signo - 1)


def host_twins(mask: int) -> set[int]:
    """The host signals that stand for the guest signals of `mask` (those that have one)."""
    return {h for s in MIRRORED if mask & bit(s) and (h := to_host(s)) is not None}


#: Guest signals some signalfd reads (a mask): they reach dbt's host handler and the main thread
#: does not block them on the host (guest-level masks keep them pending for the signalfd).
_watched = 0
#: Guest signals whose disposition a thread other than the main one changed: only the main
#: thread may set host handlers, and does at its next return to Python (apply_deferred).
_deferred: set[int] = set()


def watched() -> int:
    """The signals signalfds read (a mask)."""
    return _watched


def set_watched(mask: int, state: SignalState) -> None:
    """The signals signalfds read are now `mask`: the host follows (see _watched)."""
    global _watched
    changed, _watched = _watched ^ mask, mask
    for signo in MIRRORED:
        if changed & bit(signo):
            state.mirror(signo)
    state.mirror_mask()


#: Signals Python itself ignores at start-up (SIGPIPE is not mirrored anyway): their host
#: disposition says nothing of what dbt's process inherited.
_PYTHON_IGNORES = frozenset({25})  # SIGXFSZ


def inherited_ignored() -> list[int]:
    """Guest signals whose host twin this process started with ignored. execve keeps SIG_IGN,
    so the guest starts with them ignored, as under Linux or QEMU (a shell started in the
    background, with SIGINT ignored, cannot trap SIGINT)."""
    ignored = []
    for signo in sorted(MIRRORED - _PYTHON_IGNORES):
        host = to_host(signo)
        if host is None:
            continue
        try:
            if host_signal.getsignal(host) is host_signal.SIG_IGN:
                ignored.append(signo)
        except ValueError:
            pass
    return ignored


class SignalState:
    """One guest thread's view of the signals: the dispositions (shared by every thread of the
    process), its blocked mask and its alternate stack."""

    def __init__(self) -> None:
        self.actions = [SigAction() for _ in range(NSIG + 1)]
        for signo in inherited_ignored():
            self.actions[signo].handler = SIG_IGN
        self.blocked = 0
        self.altstack = (0, 2, 0)  # ss_sp, ss_flags (SS_DISABLE), ss_size
        #: Called with the host signal number when a host signal for a guest handler arrives.
        self.host_handler: Callable | None = None
        #: Whether the host thread's signal mask follows `blocked`: only the main thread's does,
        #: the others block every guest signal's host twin, so host signals reach the main one.
        self.host_mask = True

    def for_thread(self) -> SignalState:
        """A new thread's view: the same dispositions, the creator's mask, no alternate stack."""
        state = SignalState.__new__(SignalState)
        state.actions = self.actions
        state.blocked = self.blocked
        state.altstack = (0, 2, 0)
        state.host_handler = self.host_handler
        state.host_mask = False
        return state

    def disposition(self, signo: int) -> int:
        return self.actions[signo].handler

    def ignored(self, signo: int) -> bool:
        handler = self.disposition(signo)
        return handler == SIG_IGN or (handler == SIG_DFL and default_action(signo) == "ign")

    @property
    def any_handler(self) -> bool:
        return any(a.handler not in (SIG_DFL, SIG_IGN) for a in self.actions)

    def set_action(self, signo: int, action: SigAction) -> None:
        self.actions[signo] = action
        self.mirror(signo)

    def set_blocked(self, mask: int) -> None:
        self.blocked = mask & ~UNBLOCKABLE & ((1 << NSIG) - 1)
        self.mirror_mask()

    def mirror(self, signo: int) -> None:
        """Give the host the guest's disposition of `signo`."""
        host = to_host(signo)
        if signo not in MIRRORED or host is None:
            return
        if threading.current_thread() is not threading.main_thread():
            _deferred.add(signo)
            return
        handler = self.actions[signo].handler
        if _watched & bit(signo) and self.host_handler is not None:
            new = self.host_handler  # a signalfd reads it: it must reach dbt whatever the guest's mask
        elif handler == SIG_IGN:
            new = host_signal.SIG_IGN
        elif handler == SIG_DFL or self.host_handler is None:
            new = host_signal.SIG_DFL
        else:
            new = self.host_handler
        try:
            host_signal.signal(host, new)
        except (OSError, ValueError):  # not the main thread, or a signal the host reserves
            pass

    def apply_deferred(self) -> None:
        """In the main thread: set the host handlers other threads' rt_sigaction asked for."""
        while _deferred:
            self.mirror(_deferred.pop())

    def mirror_mask(self) -> None:
        if not self.host_mask:
            return
        hosts = host_twins(self.blocked & ~_watched)
        try:
            host_signal.pthread_sigmask(host_signal.SIG_SETMASK, hosts)
        except (OSError, ValueError):
            pass

    def mirror_all(self) -> None:
        for signo in MIRRORED:
            if self.actions[signo].handler != SIG_DFL:
                self.mirror(signo)
        self.mirror_mask()

    def reset_for_exec(self) -> None:
        """execve keeps ignored signals ignored and resets handled ones to default."""
        for signo, action in enumerate(self.actions):
            if action.handler not in (SIG_DFL, SIG_IGN):
                action.handler = SIG_DFL
                self.mirror(signo)
            action.flags = 0
            action.mask = 0
