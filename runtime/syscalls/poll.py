"""Waiting for file descriptors: ppoll and pselect6 (poll and select are built on them).

On Linux hosts both are the host's own calls, on the guest's pollfd array in place (struct pollfd
and the POLL* bits are the same) and on copies of its fd_sets, made with the host signal mask so
that a signal for a guest handler ends the wait with EINTR as on Linux (signal.wait_for).
"""

from __future__ import annotations

import contextlib
import ctypes
import resource
import select
import struct
import time as host_time

from dbt.errors import GuestFault
from dbt.runtime.syscalls import errnos, syscall
from dbt.runtime.syscalls.hostcall import LINUX, libc_function
from dbt.runtime.syscalls.signal import NOT_DONE, SIGSET_SIZE, Timespec, wait_for
from dbt.runtime.syscalls.time import timeout_deadline

POLLFD = struct.Struct("<ihh")
POLLERR, POLLHUP, POLLNVAL = 0x008, 0x010, 0x020
# Guest (Linux) poll bits and the host's constant of the same name (for hosts other than Linux).
_POLL_BITS = tuple(
    (bit, getattr(select, name))
    for bit, name in (
        (0x001, "POLLIN"),
        (0x002, "POLLPRI"),
        (0x004, "POLLOUT"),
        (0x008, "POLLERR"),
        (0x010, "POLLHUP"),
        (0x020, "POLLNVAL"),
        (0x040, "POLLRDNORM"),
        (0x080, "POLLRDBAND"),
        (0x100, "POLLWRNORM"),
        (0x200, "POLLWRBAND"),
        (0x2000, "POLLRDHUP"),
    )
    if hasattr(select, name)
)
#: select's descriptor tables are at least this big (NR_OPEN_DEFAULT: one word of bits).
MIN_FD_TABLE = 64

_ppoll = libc_function("ppoll") if LINUX else None
_pselect = libc_function("pselect")


def _to_host(events: int) -> int:
    return sum(host for bit, host in _POLL_BITS if events & bit)


def _from_host(events: int) -> int:
    return sum(bit for bit, host in _POLL_BITS if events & host)


def _host_timeout(deadline: int | None, block: bool) -> Timespec | None:
    """The timeout of one host wait: what is left of the guest's, or 0 for a check that must not wait."""
    if not block:
        return Timespec(0, 0)
    if deadline is None:
        return None
    return Timespec.of(max(deadline - host_time.monotonic_ns(), 0) if deadline else 0)


def _address(timeout: Timespec | None) -> int:
    return ctypes.addressof(timeout) if timeout is not None else 0


def _write_remaining(proc, addr: int, deadline: int | None) -> None:
    """Linux writes back the time left of a non-zero timeout, whatever the result (a read-only
    timeout is left alone)."""
    if addr and deadline:
        left = max(deadline - host_time.monotonic_ns(), 0)
        with contextlib.suppress(GuestFault):
            proc.memory.write_slice(addr, struct.pack("<qq", left // 1_000_000_000, left % 1_000_000_000))


def _sigmask(proc, addr: int, size: int) -> int | None:
    if not addr:
        return None
    if size != SIGSET_SIZE:
        raise OSError(errnos.EINVAL, "sigsetsize")
    return proc.memory.read_u64(addr)


@syscall(73, "puppu")
def sys_ppoll(proc, fds: int, nfds: int, timeout: int, sigmask: int, sigsetsize: int) -> int:
    nfds &= 0xFFFFFFFF  # an unsigned int
    deadline = timeout_deadline(proc, timeout)
    mask = _sigmask(proc, sigmask, sigsetsize)
    if nfds > resource.getrlimit(resource.RLIMIT_NOFILE)[0]:
        return -errnos.EINVAL
    size = nfds * POLLFD.size
    memory = proc.memory
    if _ppoll is not None:
        # The host kernel polls the guest's array in place, a repeated descriptor and all.
        array = memory.host_address(fds, size, writable=True)

        def wait(sigset: int, block: bool) -> int | None:
            limit = _host_timeout(deadline, block)
            count = _ppoll(array, nfds, _address(limit), sigset)
            return count if count or block else NOT_DONE

    else:
        raw = bytearray(memory.read_slice(fds, size))
        memory.view(fds, size, writable=True)
        entries = [POLLFD.unpack_from(raw, i * POLLFD.size)[:2] for i in range(nfds)]
        poller = select.poll()
        wanted: dict[int, int] = {}
        for fd, events in entries:
            if fd >= 0:  # one registration per descriptor, for what all its entries ask
                wanted[fd] = wanted.get(fd, 0) | _to_host(events) | select.POLLERR | select.POLLHUP
        for fd, events in wanted.items():
            poller.register(fd, events)

        def wait(sigset: int, block: bool) -> int | None:
            limit = _host_timeout(deadline, block)
            ms = None if limit is None else -(-(limit.tv_sec * 10**9 + limit.tv_nsec) // 10**6)
            ready = dict(poller.poll(ms))
            count = 0
            for i, (fd, events) in enumerate(entries):
                revents = _from_host(ready.get(fd, 0)) if fd >= 0 else 0
                revents &= events | POLLERR | POLLHUP | POLLNVAL
                count += bool(revents)
                POLLFD.pack_into(raw, i * POLLFD.size, fd, events, revents)
            memory.write_slice(fds, bytes(raw))
            return count if count or block else NOT_DONE

    try:
        return wait_for(proc, wait, mask)
    finally:
        _write_remaining(proc, timeout, deadline)


def _fd_table_size(nfds: int) -> int:
    """How many descriptors select looks at: Linux cuts nfds to the size of the descriptor table
    (FDSize in /proc/self/status, at least 64)."""
    if nfds <= MIN_FD_TABLE:
        return nfds
    try:
        with open("/proc/self/status", "rb") as f:
            for line in f:
                if line.startswith(b"FDSize:"):
                    return min(nfds, int(line.split()[1]))
    except OSError:
        pass
    return nfds


@syscall(72, "ippppp")
def sys_pselect6(proc, nfds: int, readfds: int, writefds: int, exceptfds: int, timeout: int, sig: int) -> int:
    # Linux's order: the sigmask argument pack, the timeout, the sigmask, then the sets.
    ss, ss_len = struct.unpack("<QQ", proc.memory.read_slice(sig, 16)) if sig else (0, 0)
    deadline = timeout_deadline(proc, timeout)
    mask = _sigmask(proc, ss, ss_len)
    if nfds < 0:
        return -errnos.EINVAL
    n = _fd_table_size(nfds)
    nbytes = (n + 63) // 64 * 8  # fd_set is an array of 64-bit words: bit fd % 64 of word fd // 64
    addrs = (readfds, writefds, exceptfds)
    sets = [
        ctypes.create_string_buffer(proc.memory.read_slice(a, nbytes), nbytes) if a else None for a in addrs
    ]
    given = [bytes(s.raw) if s is not None else b"" for s in sets]

    def wait(sigset: int, block: bool) -> int | None:
        for s, data in zip(sets, given):  # a wait that found nothing cleared them
            if s is not None:
                ctypes.memmove(s, data, nbytes)
        limit = _host_timeout(deadline, block)
        pointers = [ctypes.addressof(s) if s is not None else 0 for s in sets]
        count = _pselect(n, *pointers, _address(limit), sigset)
        return count if count or block else NOT_DONE

    try:
        count = wait_for(proc, wait, mask)
    finally:
        _write_remaining(proc, timeout, deadline)
    for addr, s in zip(addrs, sets):
        if s is not None:
            proc.memory.write_slice(addr, s.raw)
    return count
