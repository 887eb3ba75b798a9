"""Signal system calls: dispositions, masks, the alternate stack, sending, waiting, returning.

A signal sent to the guest becomes pending; the run loop delivers it when the system call
returns (a handler gets a frame on the guest stack, default actions happen, ignored signals
vanish). See dbt.runtime.signals for how the host follows the guest's dispositions and mask.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal as host_signal

from dbt.runtime import sigframe
from dbt.runtime import signals as sig
from dbt.runtime.syscalls import KEEP, errnos, syscall
from dbt.runtime.syscalls.hostcall import LINUX, libc_function
from dbt.runtime.syscalls.structs import SIGACTION, STACK_T

log = logging.getLogger("dbt.signal")

SIG_BLOCK, SIG_UNBLOCK, SIG_SETMASK = 0, 1, 2
SIGSET_SIZE = 8
SS_ONSTACK, SS_DISABLE = 1, 2
MINSIGSTKSZ = 2048
SI_USER, SI_TKILL = 0, -6

_sigsuspend = libc_function("sigsuspend") if LINUX else None


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
            proc.pending_signals &= ~sig.bit(signo)  # POSIX: a pending signal set to be ignored is discarded
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
    proc.memory.write_u64(set_addr, proc.pending_signals & proc.signals.blocked)
    return 0


@syscall(132, "pp")
def sys_sigaltstack(proc, ss: int, old_ss: int) -> int:
    sp, flags, size = proc.signals.altstack
    current_sp = int(proc.regs[2]) & (1 << 64) - 1
    on_stack = not flags & SS_DISABLE and sp <= current_sp < sp + size
    if old_ss:
        proc.memory.write_slice(old_ss, STACK_T.pack(sp, SS_ONSTACK if on_stack else flags, 0, size))
    if ss:
        new_sp, new_flags, _, new_size = STACK_T.unpack(proc.memory.read_slice(ss, STACK_T.size))
        if on_stack:
            return -errnos.EPERM
        if new_flags & ~(SS_DISABLE | (1 << 31)):
            return -errnos.EINVAL
        if new_flags & SS_DISABLE:
            proc.signals.altstack = (0, SS_DISABLE, 0)
        else:
            if new_size < MINSIGSTKSZ:
                return -errnos.ENOMEM
            proc.signals.altstack = (new_sp, 0, new_size)
    return 0


@syscall(139)
def sys_rt_sigreturn(proc) -> object:
    mask = sigframe.restore_frame(proc)
    proc.signals.set_blocked(mask)
    return KEEP


@contextlib.contextmanager
def temporary_mask(proc, mask: int | None):
    """Block `mask` while waiting (ppoll, pselect6, sigsuspend). If a signal arrives for a handler,
    the original mask is restored after the handler runs (from its frame), as Linux does."""
    if mask is None:
        yield
        return
    state = proc.signals
    original = state.blocked
    state.set_blocked(mask)
    try:
        yield
    finally:
        if proc.pending_signals & ~state.blocked:
            proc.saved_mask = original
        else:
            state.set_blocked(original)


def _host_sigset(proc, mask: int) -> ctypes.Array:
    """A host sigset_t blocking the host signals of the guest mask (and nothing dbt needs)."""
    words = (ctypes.c_ulong * 16)()
    for signo in sig.MIRRORED:
        if mask & sig.bit(signo):
            host = sig.to_host(signo)
            if host is not None:
                words[(host - 1) // 64] |= 1 << ((host - 1) % 64)
    return words


@syscall(133, "pu")
def sys_rt_sigsuspend(proc, mask_addr: int, sigsetsize: int) -> int:
    if sigsetsize != SIGSET_SIZE:
        return -errnos.EINVAL
    mask = proc.memory.read_u64(mask_addr) & ~sig.UNBLOCKABLE
    state = proc.signals
    # The wait mask holds until the handler has run; the frame restores the original one.
    proc.saved_mask = state.blocked if proc.saved_mask is None else proc.saved_mask
    state.blocked = mask
    # Host signals stay blocked while the pending set is checked, and only sigsuspend itself
    # unblocks them, atomically: a signal arriving between the check and the wait is not lost.
    hosts = {sig.to_host(s) for s in sig.MIRRORED} - {None}
    host_signal.pthread_sigmask(host_signal.SIG_BLOCK, hosts)
    host_set = _host_sigset(proc, mask)  # kept alive for the calls below
    try:
        while not proc.pending_signals & ~mask:
            if _sigsuspend is not None:
                with contextlib.suppress(InterruptedError):
                    _sigsuspend(ctypes.addressof(host_set))
            else:
                host_signal.sigtimedwait(hosts - _host_numbers(mask), 0.05)
    finally:
        state.mirror_mask()
    return -errnos.EINTR


def _host_numbers(mask: int) -> set[int]:
    return {h for s in sig.MIRRORED if mask & sig.bit(s) and (h := sig.to_host(s)) is not None}


def _send(proc, pid: int, signo: int, code: int) -> int:
    if not 0 <= signo <= sig.NSIG:
        return -errnos.EINVAL
    if pid == os.getpid():
        raise_in_guest(proc, signo, code)
        return 0
    host = sig.to_host(signo) if signo else 0
    if host is None:
        return -errnos.EINVAL
    # Groups (pid <= 0) include dbt itself: the host disposition, which follows the guest's, acts.
    os.kill(pid, host)
    return 0


@syscall(129, "ii")
def sys_kill(proc, pid: int, signo: int) -> int:
    return _send(proc, pid, signo, SI_USER)


@syscall(130, "ii")
def sys_tkill(proc, tid: int, signo: int) -> int:
    return _send(proc, tid, signo, SI_TKILL)


@syscall(131, "iii")
def sys_tgkill(proc, tgid: int, tid: int, signo: int) -> int:
    if tgid <= 0 or tid <= 0:
        return -errnos.EINVAL
    if tgid == os.getpid() and tid != os.getpid():
        return -errnos.ESRCH
    return _send(proc, tid, signo, SI_TKILL)
