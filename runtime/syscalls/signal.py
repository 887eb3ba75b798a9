"""Signal system calls: dispositions, masks, the alternate stack, and sending signals.

Signals a guest sends itself take effect at once: ignored ones vanish, blocked ones wait until
unblocked, and others take their default action (a handler cannot be delivered yet; see the
README). Dispositions the host kernel acts on (SIG_IGN of SIGINT, SIGTERM, ...) are mirrored to
the host so that they survive a real fork and keyboard signals behave.
"""

from __future__ import annotations

import logging
import os
import signal as host_signal

from dbt.runtime import signals as sig
from dbt.runtime.syscalls import errnos, syscall
from dbt.runtime.syscalls.structs import SIGACTION, STACK_T

log = logging.getLogger("dbt.signal")

SIG_BLOCK, SIG_UNBLOCK, SIG_SETMASK = 0, 1, 2
SIGSET_SIZE = 8
UNBLOCKABLE = (1 << (sig.SIGKILL - 1)) | (1 << (sig.SIGSTOP - 1))
SS_ONSTACK, SS_DISABLE = 1, 2
MINSIGSTKSZ = 2048
#: Host signals whose disposition follows the guest's (the rest stay under dbt's control).
MIRRORED = frozenset(range(1, 32)) - {sig.SIGKILL, sig.SIGSTOP, sig.SIGPIPE, sig.SIGCHLD, 4, 5, 7, 8, 11}

_warned: set[int] = set()


def mirror_to_host(signo: int, handler: int) -> None:
    if signo not in MIRRORED:
        return
    host = sig.to_host(signo)
    if host is None:
        return
    try:
        host_signal.signal(host, host_signal.SIG_IGN if handler == sig.SIG_IGN else host_signal.SIG_DFL)
    except (OSError, ValueError):
        pass


def raise_in_guest(proc, signo: int, pc: int | None = None) -> None:
    """A signal sent to the guest by itself: apply its disposition now."""
    state = proc.signals
    if signo == 0 or state.ignored(signo):
        return
    if state.blocked & (1 << (signo - 1)) and signo not in (sig.SIGKILL, sig.SIGSTOP):
        proc.pending_signals |= 1 << (signo - 1)
        return
    handler = state.disposition(signo)
    if handler not in (sig.SIG_DFL, sig.SIG_IGN) and signo not in _warned:
        _warned.add(signo)
        log.warning(
            "guest signal handlers are not delivered yet: %s takes its default action", sig.name(signo)
        )
    action = sig.default_action(signo)
    if action in ("term", "core"):
        raise sig.FatalSignal(signo, pc)
    if action == "stop":
        os.kill(os.getpid(), host_signal.SIGSTOP)


@syscall(134, "ippu")
def sys_rt_sigaction(proc, signo: int, act: int, oldact: int, sigsetsize: int) -> int:
    if sigsetsize != SIGSET_SIZE or not 1 <= signo <= sig.NSIG:
        return -errnos.EINVAL
    current = proc.signals.actions[signo]
    if oldact:
        proc.memory.write_slice(oldact, SIGACTION.pack(current.handler, current.flags, current.mask))
    if act:
        if signo in (sig.SIGKILL, sig.SIGSTOP):
            return -errnos.EINVAL
        handler, flags, mask = SIGACTION.unpack(proc.memory.read_slice(act, SIGACTION.size))
        current.handler, current.flags, current.mask = handler, flags, mask
        mirror_to_host(signo, handler)
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
            state.blocked |= value
        elif how == SIG_UNBLOCK:
            state.blocked &= ~value
        elif how == SIG_SETMASK:
            state.blocked = value
        else:
            return -errnos.EINVAL
        state.blocked &= ~UNBLOCKABLE
    if oldset:
        proc.memory.write_u64(oldset, old)
    deliverable = proc.pending_signals & ~state.blocked
    if deliverable:
        signo = (deliverable & -deliverable).bit_length()
        proc.pending_signals &= ~(1 << (signo - 1))
        raise_in_guest(proc, signo, int(proc.state[0]))
    return 0


@syscall(136, "pu")
def sys_rt_sigpending(proc, set_addr: int, sigsetsize: int) -> int:
    if sigsetsize > SIGSET_SIZE:
        return -errnos.EINVAL
    proc.memory.write_u64(set_addr, proc.pending_signals)
    return 0


@syscall(132, "pp")
def sys_sigaltstack(proc, ss: int, old_ss: int) -> int:
    if old_ss:
        sp, flags, size = proc.signals.altstack
        proc.memory.write_slice(old_ss, STACK_T.pack(sp, flags, 0, size))
    if ss:
        sp, flags, _, size = STACK_T.unpack(proc.memory.read_slice(ss, STACK_T.size))
        if flags & ~(SS_DISABLE | (1 << 31)):
            return -errnos.EINVAL
        if not flags & SS_DISABLE and size < MINSIGSTKSZ:
            return -errnos.ENOMEM
        proc.signals.altstack = (sp, flags, size)
    return 0


def _send(proc, pid: int, signo: int) -> int:
    if not 0 <= signo <= sig.NSIG:
        return -errnos.EINVAL
    if pid == os.getpid():
        raise_in_guest(proc, signo, int(proc.state[0]))
        return 0
    host = sig.to_host(signo) if signo else 0
    if host is None:
        return -errnos.EINVAL
    # Groups (pid <= 0) include dbt itself: the host disposition, which mirrors the guest's, acts.
    os.kill(pid, host)
    return 0


@syscall(129, "ii")
def sys_kill(proc, pid: int, signo: int) -> int:
    return _send(proc, pid, signo)


@syscall(130, "ii")
def sys_tkill(proc, tid: int, signo: int) -> int:
    return _send(proc, tid, signo)


@syscall(131, "iii")
def sys_tgkill(proc, tgid: int, tid: int, signo: int) -> int:
    if tgid <= 0 or tid <= 0:
        return -errnos.EINVAL
    if tgid == os.getpid() and tid != os.getpid():
        return -errnos.ESRCH
    return _send(proc, tid, signo)
