"""signalfd4: pending signals read from a descriptor as struct signalfd_siginfo records.

The descriptor is a host eventfd, so poll, select and epoll see it become readable: it holds a
count while a signal of its mask is pending for the process (or for the thread that reads). A
read takes such signals (they are then not delivered) and drains the eventfd when none are left.
The host follows: a signal a signalfd watches gets dbt's host handler and is not blocked by the
main thread on the host (dbt.runtime.signals.watched), so host signals the guest blocks to read
them this way (the usual pattern) still reach it.
"""

from __future__ import annotations

import ctypes
import os
import select
import struct
from dataclasses import dataclass

from dbt.runtime import signals as sig
from dbt.runtime.syscalls import errnos, syscall
from dbt.runtime.syscalls.hostcall import libc_function
from dbt.runtime.syscalls.signal import NOT_DONE, Timespec, take_pending, wait_for

_ppoll = libc_function("ppoll")

SFD_NONBLOCK, SFD_CLOEXEC = 0o4000, 0o2000000
#: struct signalfd_siginfo: signo, errno, code, pid, uid, fd, tid, band, overrun, trapno, status,
#: int, ptr, utime, stime, addr, addr_lsb (then padding to 128 bytes).
SIGNALFD_SIGINFO = struct.Struct("<IiiIIiIIIIiiQQQQH")
RECORD_SIZE = 128


@dataclass
class SignalFd:
    mask: int


@syscall(74, "ipux")
def sys_signalfd4(proc, fd: int, mask_addr: int, sizemask: int, flags: int) -> int:
    if sizemask != 8 or flags & ~(SFD_NONBLOCK | SFD_CLOEXEC) or not hasattr(os, "eventfd"):
        return -errnos.EINVAL
    mask = proc.memory.read_u64(mask_addr) & ~sig.UNBLOCKABLE
    group = proc.group
    with group.lock:
        if fd != -1:
            existing = group.signalfds.get(fd)
            if existing is None:
                os.fstat(fd)  # EBADF for no descriptor at all
                return -errnos.EINVAL
            existing.mask = mask
        else:
            eventfd_flags = (os.EFD_NONBLOCK if flags & SFD_NONBLOCK else 0) | (
                os.EFD_CLOEXEC if flags & SFD_CLOEXEC else 0
            )
            fd = os.eventfd(0, eventfd_flags)
            group.signalfds[fd] = SignalFd(mask)
        _watch(proc)
        refresh(group)
    return fd


def _watch(proc) -> None:
    """Tell the host side which signals signalfds watch (see the module's docstring)."""
    watched = 0
    for entry in proc.group.signalfds.values():
        watched |= entry.mask
    sig.set_watched(watched, proc.signals)


def refresh(group) -> None:
    """Make each signalfd readable exactly while a signal of its mask is pending for the process or
    one of its threads (caller holds the group's lock)."""
    pending = group.pending
    for thread in group.threads.values():
        pending |= thread.pending_signals
    for fd, entry in list(group.signalfds.items()):
        try:
            if pending & entry.mask:
                os.eventfd_write(fd, 1)
            else:
                _drain(fd)
        except OSError:  # closed behind dbt's back
            del group.signalfds[fd]


def _drain(fd: int) -> None:
    if select.select([fd], [], [], 0)[0]:  # (the guest may have made it blocking)
        os.eventfd_read(fd)


def read_signalfd(proc, fd: int, buf: int, count: int) -> int | None:
    """read() of a signalfd (None: `fd` is not one)."""
    group = proc.group
    entry = group.signalfds.get(fd)
    if entry is None:
        return None
    if count < RECORD_SIZE:
        return -errnos.EINVAL
    records = []
    while True:
        with group.lock:
            while len(records) < count // RECORD_SIZE:
                signo, info = take_pending(proc, entry.mask)
                if not signo:
                    break
                records.append(_record(signo, info))
            refresh(group)
        if records:
            proc.memory.write_slice(buf, b"".join(records))
            return len(records) * RECORD_SIZE
        if not os.get_blocking(fd):  # SFD_NONBLOCK, or O_NONBLOCK set with fcntl
            return -errnos.EAGAIN
        _wait_readable(proc, fd)


def _record(signo: int, info: bytes | None) -> bytes:
    info = (info or b"").ljust(24, b"\0")
    _, errno_, code = struct.unpack_from("<iii", info)
    pid, uid = struct.unpack_from("<iI", info, 16)
    addr = struct.unpack_from("<Q", info, 16)[0] if signo in sig.SYNCHRONOUS else 0
    fields = (signo, errno_, code, pid & 0xFFFFFFFF, uid, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, addr, 0)
    return SIGNALFD_SIGINFO.pack(*fields).ljust(RECORD_SIZE, b"\0")


def _wait_readable(proc, fd: int) -> None:
    """Block until the signalfd is readable (a signal for it arrived), or a signal with a handler
    interrupts (InterruptedError: the dispatcher answers EINTR or restarts)."""
    pollfd = (ctypes.c_int * 2)(fd, 1)  # struct pollfd {fd, events = POLLIN, revents = 0}
    zero = Timespec(0, 0)

    def wait(sigset: int, block: bool) -> int | None:
        timeout = None if block else ctypes.addressof(zero)
        ready = _ppoll(ctypes.addressof(pollfd), 1, timeout, sigset)
        return ready if ready else NOT_DONE

    wait_for(proc, wait)
