"""Signal system calls: dispositions, masks, the alternate stack, sending, waiting, returning.

A signal sent to the guest becomes pending; the run loop delivers it when the system call
returns (a handler gets a frame on the guest stack, default actions happen, ignored signals
vanish). See dbt.runtime.signals for how the host follows the guest's dispositions and mask.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal as host_signal
import time
from collections.abc import Callable

from dbt.runtime import sigframe
from dbt.runtime import signals as sig
from dbt.runtime.syscalls import KEEP, errnos, syscall
from dbt.runtime.syscalls.hostcall import libc_function
from dbt.runtime.syscalls.structs import SIGACTION, STACK_T
from dbt.runtime.threads import KICK, GroupEnded, kick

log = logging.getLogger("dbt.signal")

SIG_BLOCK, SIG_UNBLOCK, SIG_SETMASK = 0, 1, 2
SIGSET_SIZE = 8
SS_ONSTACK, SS_DISABLE, SS_AUTODISARM = 1, 2, 1 << 31
MINSIGSTKSZ = 2048
SI_USER, SI_TKILL = 0, -6


def raise_in_guest(proc, signo: int, code: int = SI_USER, pid: int | None = None) -> None:
    """Make `signo` pending for the guest (sent by itself, or by the kernel as SIGPIPE is)."""
    if signo == 0:
        return
    proc.queue_signal(signo, sigframe.siginfo(signo, code, os.getpid() if pid is None else pid, os.getuid()))


@syscall(134, "ippu")
def sys_rt_sigaction(proc, signo: int, act: int, oldact: int, sigsetsize: int) -> int:
    if sigsetsize != SIGSET_SIZE or not 1 <= signo <= sig.NSIG:
        return -errnos.EINVAL
    if act and signo in (sig.SIGKILL, sig.SIGSTOP):
        return -errnos.EINVAL
    current = proc.signals.actions[signo]
    new = None
    if act:
        handler, flags, mask = SIGACTION.unpack(proc.memory.read_slice(act, SIGACTION.size))
        new = sig.SigAction(handler, flags, 0, mask & ~sig.UNBLOCKABLE)
    if oldact:
        proc.memory.write_slice(oldact, SIGACTION.pack(current.handler, current.flags, current.mask))
    if new is not None:
        proc.signals.set_action(signo, new)
        if new.handler == sig.SIG_IGN or (new.handler == sig.SIG_DFL and sig.default_action(signo) == "ign"):
            # POSIX: a pending signal set to be ignored is discarded, for the process and every thread.
            group = proc.group
            with group.lock:
                group.pending &= ~sig.bit(signo)
                for thread in [proc, *group.threads.values()]:
                    thread.pending_signals &= ~sig.bit(signo)
    return 0


@syscall(135, "ippu")
def sys_rt_sigprocmask(proc, how: int, set_addr: int, oldset: int, sigsetsize: int) -> int:
    if sigsetsize != SIGSET_SIZE:
        return -errnos.EINVAL
    state = proc.signals
    old = state.blocked
    if set_addr:
        value = proc.memory.read_u64(set_addr)
        if how == SIG_BLOCK:
            new = old | value
        elif how == SIG_UNBLOCK:
            new = old & ~value
        elif how == SIG_SETMASK:
            new = value
        else:
            return -errnos.EINVAL
        if oldset:
            proc.memory.write_u64(oldset, old)
        state.set_blocked(new)
    elif oldset:
        proc.memory.write_u64(oldset, old)
    return 0


@syscall(136, "pu")
def sys_rt_sigpending(proc, set_addr: int, sigsetsize: int) -> int:
    if sigsetsize > SIGSET_SIZE:
        return -errnos.EINVAL
    pending = proc.pending_signals | proc.group.pending
    proc.memory.write_u64(set_addr, pending & proc.signals.blocked)
    return 0


def _on_altstack(proc, sp: int) -> bool:
    """Linux's on_sig_stack: sp in (ss_sp, ss_sp + ss_size]; never with SS_AUTODISARM, whose
    stack is disarmed while a handler runs on it."""
    ss_sp, flags, size = proc.signals.altstack
    return not flags & SS_AUTODISARM and 0 < sp - ss_sp <= size


@syscall(132, "pp")
def sys_sigaltstack(proc, ss: int, old_ss: int) -> int:
    # Linux copies the new stack in first, and the old one out only if the call succeeds.
    new = STACK_T.unpack(proc.memory.read_slice(ss, STACK_T.size)) if ss else None
    sp, flags, size = proc.signals.altstack
    current_sp = int(proc.regs[2]) & (1 << 64) - 1
    on_stack = _on_altstack(proc, current_sp)
    if new is not None:
        new_sp, new_flags, _, new_size = new
        new_flags &= 0xFFFFFFFF  # an unsigned int in the kernel: SS_AUTODISARM is bit 31
        if on_stack:
            return -errnos.EPERM
        mode = new_flags & ~SS_AUTODISARM
        if mode not in (0, SS_ONSTACK, SS_DISABLE):  # SS_ONSTACK is accepted and means 0
            return -errnos.EINVAL
        if (new_sp, new_flags, new_size) != (sp, flags, size):
            if mode == SS_DISABLE:
                new_sp, new_size = 0, 0
            elif new_size < MINSIGSTKSZ:
                return -errnos.ENOMEM
            proc.signals.altstack = (new_sp, new_flags, new_size)
    if old_ss:
        # The state (disabled, on it, or neither) as of now, and the SS_AUTODISARM bit as set.
        state = SS_DISABLE if not size else SS_ONSTACK if on_stack else 0
        old_flags = state | (flags & SS_AUTODISARM)
        old_flags -= (1 << 32) if old_flags >= 1 << 31 else 0
        proc.memory.write_slice(old_ss, STACK_T.pack(sp, old_flags, 0, size))
    return 0


@syscall(139)
def sys_rt_sigreturn(proc) -> object:
    mask = sigframe.restore_frame(proc)
    proc.signals.set_blocked(mask)
    return KEEP


def _host_sigset(mask: int) -> ctypes.Array:
    """A host sigset_t blocking the host signals of the guest mask (and nothing dbt needs: not
    KICK, not what a signalfd reads)."""
    words = (ctypes.c_ulong * 16)()
    for host in sig.host_twins(mask & ~sig.watched()):
        words[(host - 1) // 64] |= 1 << ((host - 1) % 64)
    return words


#: Every host signal that follows a guest disposition, and the one that interrupts a thread's wait.
_ALL_HOSTS = frozenset(sig.host_twins((1 << sig.NSIG) - 1)) | ({KICK} if KICK else set())


def block_host_signals() -> None:
    """In a guest thread's host thread (not the main one): block every guest signal's host twin,
    so host signals reach the main thread, and let KICK through: it interrupts a blocking host
    call (a read of a pipe, say) with EINTR for a signal for this thread. dbt's own waits block
    KICK while they look for a reason to stop and let it through only while they sleep."""
    host_signal.pthread_sigmask(host_signal.SIG_SETMASK, _ALL_HOSTS)
    _let_kick_through()


def _let_kick_through() -> None:
    if KICK is not None:
        host_signal.pthread_sigmask(host_signal.SIG_UNBLOCK, {KICK})


def _interrupting(proc, mask: int) -> bool:
    """Whether a pending signal that `mask` lets through ends a wait: one with a guest handler, or
    one whose default action ends the process. Ignored ones do not: Linux restarts the call."""
    deliverable = (proc.pending_signals | proc.group.pending) & ~mask
    while deliverable:
        signo = (deliverable & -deliverable).bit_length()
        deliverable &= deliverable - 1
        handler = proc.signals.disposition(signo)
        if handler not in (sig.SIG_DFL, sig.SIG_IGN):
            return True
        if handler == sig.SIG_DFL and sig.default_action(signo) in ("term", "core"):
            return True
    return False


#: A wait's answer meaning "not finished yet" (a sleep woken early, a probe that found nothing).
NOT_DONE = None


def wait_for(proc, wait: Callable[[int, bool], int | None], mask: int | None = None) -> int:
    """Run a blocking host wait so that a signal for a guest handler ends it as it ends Linux's:
    raises InterruptedError then (the dispatcher answers -EINTR, or restarts an SA_RESTART call).

    `wait(sigset, block)` makes one host call that waits with the host signal mask at address
    `sigset` (ppoll's and pselect's argument) and returns its result, or NOT_DONE if the wait is not
    over (a sleep woken early; with block=False, a check that must not wait found nothing ready:
    Linux reports ready descriptors or an elapsed sleep rather than EINTR). The host signals the
    guest handles stay blocked outside that call and it unblocks them atomically, so a signal that
    arrives just before the wait still ends it. `mask` is the guest's blocked mask during the wait
    (ppoll's, pselect6's and sigsuspend's argument; None: the current one). After an interruption
    it stays in force until the handler has run, whose frame restores the mask from before (as
    Linux's set_restore_sigmask); otherwise the old mask is back at once.
    """
    state = proc.signals
    original = state.blocked
    wait_mask = original if mask is None else mask & ~sig.UNBLOCKABLE
    state.blocked = wait_mask
    host_signal.pthread_sigmask(host_signal.SIG_BLOCK, _ALL_HOSTS)
    # Other threads than the main one keep the guest signals' host twins blocked even here: only
    # KICK (another thread's signal for this one, a futex wake) ends their waits.
    host_set = _host_sigset(wait_mask if state.host_mask else (1 << sig.NSIG) - 1)
    interrupted = False
    try:
        while True:
            if proc.stop_requested or proc.group.ended is not None:
                raise GroupEnded  # the process ends, or another thread's execve replaces it
            if state.host_mask:
                state.apply_deferred()
            pending = _interrupting(proc, wait_mask)
            try:
                result = wait(ctypes.addressof(host_set), not pending)
            except InterruptedError:
                continue  # the host signal's Python handler has made it pending: look again
            if result is not NOT_DONE:
                return result
            if pending:
                interrupted = True
                raise InterruptedError
    finally:
        if interrupted:
            if proc.saved_mask is None:
                proc.saved_mask = original
            state.mirror_mask()  # the wait's mask until the handler runs
        else:
            state.set_blocked(original)
        if not state.host_mask:
            _let_kick_through()


_pselect = libc_function("pselect")


class Timespec(ctypes.Structure):
    """struct timespec of the 64-bit hosts dbt runs on (the same as riscv64's)."""

    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]

    @classmethod
    def of(cls, ns: int) -> Timespec:
        return cls(min(ns // 1_000_000_000, (1 << 63) - 1), ns % 1_000_000_000)


def pause_wait(sigset: int, timeout_ns: int | None) -> None:
    """Wait until a signal the host mask `sigset` lets through arrives or `timeout_ns` passes
    (None: no timeout): pselect with no descriptors, which takes a signal mask as ppoll does."""
    timeout = None if timeout_ns is None else Timespec.of(max(timeout_ns, 0))
    _pselect(0, 0, 0, 0, ctypes.addressof(timeout) if timeout is not None else 0, sigset)


@syscall(133, "pu")
def sys_rt_sigsuspend(proc, mask_addr: int, sigsetsize: int) -> int:
    if sigsetsize != SIGSET_SIZE:
        return -errnos.EINVAL
    mask = proc.memory.read_u64(mask_addr)

    def wait(sigset: int, block: bool) -> None:
        if block:
            pause_wait(sigset, None)
        return NOT_DONE

    # Only a signal ends it (InterruptedError: -EINTR); its handler runs with `mask` in force.
    return wait_for(proc, wait, mask)


def _send(proc, pid: int, signo: int, code: int) -> int:
    if not 0 <= signo <= sig.NSIG:
        return -errnos.EINVAL
    if pid == os.getpid():
        if signo:  # for the process: any thread that does not block it takes it
            proc.group.queue(signo, sigframe.siginfo(signo, code, os.getpid(), os.getuid()))
        return 0
    host = sig.to_host(signo) if signo else 0
    if host is None:
        return -errnos.EINVAL
    # Groups (pid <= 0) include dbt itself: the host disposition, which follows the guest's, acts.
    os.kill(pid, host)
    return 0


_tgkill = libc_function("tgkill")


def _thread_group(tid: int) -> int | None:
    """The process (thread group) of host thread `tid`, or None if there is no such thread."""
    if tid == os.getpid():
        return tid
    try:
        with open(f"/proc/{tid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"Tgid:"):
                    return int(line.split()[1])
    except OSError:
        if not os.path.isdir("/proc"):  # no procfs to ask: take the thread for a process
            return tid
    return None


def _send_to_thread(proc, tgid: int, tid: int, signo: int) -> int:
    """tkill (tgid 0) and tgkill: signal one thread, which must belong to tgid."""
    target = proc.group.threads.get(tid)
    if target is not None and tgid in (0, os.getpid()):
        if not 0 <= signo <= sig.NSIG:
            return -errnos.EINVAL
        if signo:
            target.queue_signal(signo, sigframe.siginfo(signo, SI_TKILL, os.getpid(), os.getuid()))
            if target is not proc:
                kick(target)
        return 0
    group = _thread_group(tid)
    # dbt's own host threads (compile pool, ...) are not the guest's.
    if group is None or (tgid and group != tgid) or (group == os.getpid() and tid != group):
        return -errnos.ESRCH
    if tid == os.getpid():
        return _send(proc, tid, signo, SI_TKILL)
    if not 0 <= signo <= sig.NSIG:
        return -errnos.EINVAL
    host = sig.to_host(signo) if signo else 0
    if host is None:
        return -errnos.EINVAL
    if _tgkill is not None:
        _tgkill(group, tid, host)
    else:
        os.kill(tid, host)
    return 0


@syscall(129, "ii")
def sys_kill(proc, pid: int, signo: int) -> int:
    return _send(proc, pid, signo, SI_USER)


@syscall(130, "ii")
def sys_tkill(proc, tid: int, signo: int) -> int:
    if tid <= 0:  # not a process group, as kill's pid would be
        return -errnos.EINVAL
    return _send_to_thread(proc, 0, tid, signo)


@syscall(131, "iii")
def sys_tgkill(proc, tgid: int, tid: int, signo: int) -> int:
    if tgid <= 0 or tid <= 0:
        return -errnos.EINVAL
    return _send_to_thread(proc, tgid, tid, signo)


@syscall(137, "pppu")
def sys_rt_sigtimedwait(proc, set_addr: int, info: int, timeout: int, sigsetsize: int) -> int:
    """Take a pending signal of the set (its handler does not run), waiting for one up to the
    timeout (EAGAIN) or until another signal with a handler arrives (EINTR)."""
    from dbt.runtime.syscalls.time import timeout_deadline

    if sigsetsize != SIGSET_SIZE:
        return -errnos.EINVAL
    wanted = proc.memory.read_u64(set_addr) & ~sig.UNBLOCKABLE
    deadline = timeout_deadline(proc, timeout)
    state = proc.signals
    # The waited-for signals reach dbt while it waits even if the guest blocks them or leaves
    # them at their default action: the host handler queues them (main thread only).
    replaced = {}
    if state.host_mask and state.host_handler is not None:
        for signo in sig.MIRRORED:
            host = sig.to_host(signo)
            if (
                wanted & sig.bit(signo)
                and host is not None
                and state.disposition(signo) in (sig.SIG_DFL, sig.SIG_IGN)
            ):
                replaced[host] = host_signal.signal(host, state.host_handler)
    host_signal.pthread_sigmask(host_signal.SIG_BLOCK, _ALL_HOSTS)
    host_set = _host_sigset((state.blocked & ~wanted) if state.host_mask else (1 << sig.NSIG) - 1)
    proc.waiting_for = wanted
    try:
        while True:
            if proc.stop_requested or proc.group.ended is not None:
                raise GroupEnded
            signo, siginfo = take_pending(proc, wanted)
            if signo:
                if info:
                    proc.memory.write_slice(info, siginfo.ljust(sigframe.INFO_SIZE, b"\0"))
                return signo
            if _interrupting(proc, state.blocked | wanted):
                return -errnos.EINTR
            remaining = None if deadline is None else deadline - time.monotonic_ns()
            if remaining is not None and remaining <= 0:
                return -errnos.EAGAIN
            try:
                pause_wait(ctypes.addressof(host_set), remaining)
            except InterruptedError:
                pass
    finally:
        proc.waiting_for = 0
        for host, previous in replaced.items():
            host_signal.signal(host, previous)
        if state.host_mask:
            state.mirror_mask()
        else:
            _let_kick_through()


def take_pending(proc, wanted: int) -> tuple[int, bytes]:
    """The lowest pending signal of `wanted`, for this thread first, then for the process."""
    with proc.group.lock:
        mine = proc.pending_signals & wanted
        if mine:
            signo = (mine & -mine).bit_length()
            proc.pending_signals &= ~sig.bit(signo)
            return signo, proc.pending_info.pop(signo, None) or sigframe.siginfo(signo)
    signo, info = proc.group.take(~wanted & ((1 << sig.NSIG) - 1))
    return signo, (info or sigframe.siginfo(signo)) if signo else b""
