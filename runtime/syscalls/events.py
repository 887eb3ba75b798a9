"""Event descriptors: eventfd2 and epoll (create1, ctl, pwait, pwait2), on the host's own.

The descriptors are the host's, so they mix with every other descriptor as on Linux. Only the
layout of struct epoll_event differs: riscv64's is 16 bytes (u32 events, 4 bytes of padding, u64
data), x86-64's is packed into 12, so events are copied across. epoll_pwait waits with the
host signal mask (signal.wait_for), so a signal for a guest handler ends it with EINTR.
"""

from __future__ import annotations

import ctypes
import os
import platform
import struct
import time as host_time

from dbt.runtime.syscalls import errnos, syscall
from dbt.runtime.syscalls.hostcall import LINUX, libc_function
from dbt.runtime.syscalls.signal import NOT_DONE, SIGSET_SIZE, wait_for
from dbt.runtime.syscalls.time import timeout_deadline

#: The guest's struct epoll_event.
GUEST_EVENT = struct.Struct("<I4xQ")
#: The host's: packed on x86-64 (__EPOLL_PACKED), naturally aligned elsewhere.
HOST_EVENT = struct.Struct("<IQ" if platform.machine() in ("x86_64", "AMD64") else "<I4xQ")
#: The most events one epoll_pwait returns (Linux: INT_MAX / sizeof(struct epoll_event)).
EP_MAX_EVENTS = 0x7FFFFFFF // GUEST_EVENT.size
EPOLL_CLOEXEC = 0o2000000
EFD_SEMAPHORE, EFD_NONBLOCK, EFD_CLOEXEC = 1, 0o4000, 0o2000000

_epoll_create1 = libc_function("epoll_create1") if LINUX else None
_epoll_ctl = libc_function("epoll_ctl") if LINUX else None
_epoll_pwait = libc_function("epoll_pwait") if LINUX else None


@syscall(19, "ux")
def sys_eventfd2(proc, initval: int, flags: int) -> int:
    if flags & ~(EFD_SEMAPHORE | EFD_NONBLOCK | EFD_CLOEXEC) or initval > 0xFFFFFFFF:
        return -errnos.EINVAL
    if not hasattr(os, "eventfd"):
        return -errnos.ENOSYS
    # The flag bits are the same on every Linux architecture dbt runs on.
    return os.eventfd(initval, flags)


@syscall(20, "x")
def sys_epoll_create1(proc, flags: int) -> int:
    if _epoll_create1 is None:
        return -errnos.ENOSYS
    if flags & ~EPOLL_CLOEXEC:
        return -errnos.EINVAL
    return _epoll_create1(flags)


@syscall(21, "iiip")
def sys_epoll_ctl(proc, epfd: int, op: int, fd: int, event: int) -> int:
    if _epoll_ctl is None:
        return -errnos.ENOSYS
    host = ctypes.create_string_buffer(HOST_EVENT.size)
    if event and op != 2:  # EPOLL_CTL_DEL ignores the event
        events, data = GUEST_EVENT.unpack(proc.memory.read_slice(event, GUEST_EVENT.size))
        HOST_EVENT.pack_into(host, 0, events, data)
    return _epoll_ctl(epfd, op, fd, host if event else 0)


@syscall(22, "ipiipu")
def sys_epoll_pwait(proc, epfd: int, events: int, maxevents: int, timeout_ms: int, sigmask: int,
                    sigsetsize: int) -> int:  # fmt: skip
    deadline = None if timeout_ms < 0 else host_time.monotonic_ns() + timeout_ms * 1_000_000
    return _pwait(proc, epfd, events, maxevents, deadline, sigmask, sigsetsize)


@syscall(441, "ipippu")
def sys_epoll_pwait2(proc, epfd: int, events: int, maxevents: int, timeout: int, sigmask: int,
                     sigsetsize: int) -> int:  # fmt: skip
    deadline = timeout_deadline(proc, timeout)
    return _pwait(proc, epfd, events, maxevents, deadline, sigmask, sigsetsize)


def _pwait(proc, epfd: int, events: int, maxevents: int, deadline: int | None, sigmask: int,
           sigsetsize: int) -> int:  # fmt: skip
    if _epoll_pwait is None:
        return -errnos.ENOSYS
    if not 0 < maxevents <= EP_MAX_EVENTS:
        return -errnos.EINVAL
    mask = None
    if sigmask:
        if sigsetsize != SIGSET_SIZE:
            return -errnos.EINVAL
        mask = proc.memory.read_u64(sigmask)
    proc.memory.view(events, maxevents * GUEST_EVENT.size, writable=True)  # EFAULT before waiting
    count = min(maxevents, 1024)
    host = ctypes.create_string_buffer(count * HOST_EVENT.size)

    def wait(sigset: int, block: bool) -> int | None:
        if not block:
            timeout = 0
        elif deadline is None:
            timeout = -1
        else:
            timeout = (max(deadline - host_time.monotonic_ns(), 0) + 999_999) // 1_000_000
        ready = _epoll_pwait(epfd, host, count, timeout, sigset)
        if ready:
            return ready
        if block and deadline is not None and host_time.monotonic_ns() >= deadline:
            return 0
        return NOT_DONE

    ready = wait_for(proc, wait, mask)
    out = b"".join(GUEST_EVENT.pack(*HOST_EVENT.unpack_from(host, i * HOST_EVENT.size)) for i in range(ready))
    proc.memory.write_slice(events, out)
    return ready
