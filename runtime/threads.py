"""Guest threads: each guest thread runs on its own host thread, and what they share.

A guest thread is a `GuestProcess` object of its own (registers, state array, signal mask,
pending signals, tid) that shares the process's memory, decoded-block cache, JIT, file
descriptors and signal dispositions with the others; the `ThreadGroup` holds what Linux keeps
per thread group: the members, process-directed pending signals, the futex wait queues and how
the group ended. The kernels run without the GIL (ctypes releases it), so threads compute in
parallel; Python code (system calls, misses, installs) runs under the GIL and, where it changes
shared structures, under the group's lock.

To make a thread come back to Python soon (a signal for it, the group's end, a flush), another
thread lowers its state[SLICE_END] (the kernels read it at every block and loop turn) and sends
its host thread KICK, a host signal dbt keeps for itself, which ends a blocking wait the thread
is in (see syscalls.signal.wait_for).
"""

from __future__ import annotations

import ctypes
import logging
import signal as host_signal
import threading
from dataclasses import dataclass, field

import numpy as np

from dbt.ir.state import NUM_STATE, SLICE_END

log = logging.getLogger("dbt.threads")

#: The host signal that interrupts another guest thread's wait (not a guest signal's host twin).
KICK: int | None = getattr(host_signal, "SIGRTMAX", None)
_SA_ONSTACK = 0x08000000


#: KICK's host handler, in native code: it returns at once (interrupting the wait is the whole
#: point). It is not a Python handler on purpose: a Python handler makes every thread that runs
#: Python code look at the pending signal, which only the main thread may handle; under a tracing
#: function (coverage, a debugger) CPython 3.11 then loops forever in the other thread, and if
#: that thread holds the group's lock while the main thread waits for it, dbt hangs.
_KICK_HANDLER_IR = """
define void @dbt_kick_handler(i32 %signo) {
  ret void
}
"""
_kick_handler: object = None


class _Sigaction(ctypes.Structure):
    """struct sigaction of the host's C library (glibc and musl, x86-64 and aarch64 alike)."""

    _fields_ = (
        ("handler", ctypes.c_void_p),
        ("mask", ctypes.c_uint64 * 16),
        ("flags", ctypes.c_int),
        ("restorer", ctypes.c_void_p),
    )


def install_kick_handler() -> None:
    """Give KICK its native no-op handler, so it interrupts waits (EINTR) instead of killing dbt."""
    global _kick_handler
    if KICK is None or _kick_handler is not None:
        return
    from dbt.backends.native import NativeLibrary

    library = NativeLibrary.from_ir(_KICK_HANDLER_IR)
    action = _Sigaction(handler=library.address("dbt_kick_handler"), flags=_SA_ONSTACK)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.sigaction(KICK, ctypes.byref(action), None) != 0:
        raise OSError(ctypes.get_errno(), "sigaction(KICK)")
    _kick_handler = library  # keeps the code alive for the life of the process


class GroupEnded(Exception):
    """Another thread ended the thread group (exit_group, a fatal signal): this thread stops."""


@dataclass(eq=False)
class FutexWaiter:
    thread: object
    key: int
    bitset: int
    woken: bool = False


@dataclass
class ThreadGroup:
    """The guest threads of one process and the state they share."""

    lock: threading.RLock = field(default_factory=threading.RLock)
    #: Whether this process is one the guest created (see GuestProcess.is_child).
    is_child: bool = False
    #: tid -> the thread's GuestProcess, while it runs.
    threads: dict = field(default_factory=dict)
    #: Process-directed pending signals (bit n-1 for signal n) and their siginfo.
    pending: int = 0
    pending_info: dict = field(default_factory=dict)
    #: How the whole group ended (exit_group, a fatal signal), once it has: an ExitStatus.
    ended: object = None
    #: An internal error in another thread, re-raised by the main thread.
    failure: BaseException | None = None
    #: The exit code of the last thread that left with exit() (the process's if that ends it).
    last_code: int = 0
    #: Futex wait queues: guest address -> waiters in arrival order.
    futexes: dict = field(default_factory=dict)
    #: Host threads of the guest threads other than the main one.
    host_threads: list = field(default_factory=list)
    #: The counter words (process.COUNTER_WORDS) of threads that have exited, summed.
    exited_counters: np.ndarray = field(default_factory=lambda: np.zeros(NUM_STATE, dtype=np.int64))
    #: membarrier registrations: ((pid, image id) they belong to, mask).
    membarrier: tuple | None = None
    #: signalfd descriptors (host eventfds) and what they read.
    signalfds: dict = field(default_factory=dict)
    #: POSIX timers (timer_create) by id.
    posix_timers: dict = field(default_factory=dict)
    #: Kept by the program break (brk) for all threads.
    brk_start: int = 0
    brk: int = 0

    @property
    def multi(self) -> bool:
        return len(self.threads) > 1

    def end(self, status: object) -> None:
        """The whole group ends with `status` (the first cause wins): every thread stops."""
        with self.lock:
            if self.ended is None:
                self.ended = status
            members = list(self.threads.values())
        for member in members:
            kick(member)

    # ---- process-directed signals ----
    def queue(self, signo: int, info: bytes) -> None:
        """A signal for the process: pending in the group, taken by a thread that does not block
        it (the main one first), which is made to come back to Python for it."""
        from dbt.runtime import signals as sig

        with self.lock:
            self.pending |= sig.bit(signo)
            self.pending_info.setdefault(signo, info)
            members = list(self.threads.values())
            self.signal_queued()
        for member in members:
            if not member.signals.blocked & sig.bit(signo) or member.waiting_for & sig.bit(signo):
                kick(member)
                return

    def signal_queued(self) -> None:
        """A signal became pending: signalfds that read it become readable."""
        if self.signalfds:
            from dbt.runtime.syscalls.signalfd import refresh

            refresh(self)

    def take(self, blocked: int) -> tuple[int, bytes | None]:
        """The lowest pending process-directed signal `blocked` lets through (0 if none)."""
        with self.lock:
            deliverable = self.pending & ~blocked
            if not deliverable:
                return 0, None
            signo = (deliverable & -deliverable).bit_length()
            self.pending &= ~(1 << (signo - 1))
            return signo, self.pending_info.pop(signo, None)

    # ---- futexes ----
    def futex_enqueue(self, thread: object, key: int, bitset: int) -> FutexWaiter:
        waiter = FutexWaiter(thread, key, bitset)
        self.futexes.setdefault(key, []).append(waiter)
        return waiter

    def futex_dequeue(self, waiter: FutexWaiter) -> None:
        with self.lock:
            queue = self.futexes.get(waiter.key)
            if queue and waiter in queue:
                queue.remove(waiter)
                if not queue:
                    del self.futexes[waiter.key]

    def futex_wake(self, key: int, count: int, bitset: int = 0xFFFFFFFF) -> int:
        """Wake up to `count` waiters on `key` whose bitset meets `bitset` (caller holds the lock)."""
        queue = self.futexes.get(key)
        woken = 0
        if not queue:
            return 0
        for waiter in list(queue):
            if woken >= count:
                break
            if waiter.bitset & bitset:
                queue.remove(waiter)
                waiter.woken = True
                kick(waiter.thread, lower_slice=False)
                woken += 1
        if not queue:
            del self.futexes[key]
        return woken

    def futex_requeue(self, key: int, to: int, count: int) -> int:
        """Move up to `count` waiters from `key` to `to` (caller holds the lock)."""
        queue = self.futexes.get(key)
        if not queue or count <= 0:
            return 0
        moved = queue[:count]
        del queue[:count]
        if not queue:
            del self.futexes[key]
        for waiter in moved:
            waiter.key = to
        self.futexes.setdefault(to, []).extend(moved)
        return len(moved)


def kick(thread, lower_slice: bool = True, interrupt: bool = True) -> None:
    """Make `thread` return to Python soon: from compiled or interpreted code within a block
    (`lower_slice`), from a blocking wait or host call at once (`interrupt`: KICK)."""
    if lower_slice:
        thread.state[SLICE_END] = 0
    if not interrupt:
        return
    # Under the lock: a thread clears its host_ident under it before its host thread ends.
    with thread.group.lock:
        ident = thread.host_ident
        if ident is None or ident == threading.get_ident() or KICK is None:
            return
        try:
            host_signal.pthread_kill(ident, KICK)
        except (OSError, ValueError):  # it has just ended
            pass
