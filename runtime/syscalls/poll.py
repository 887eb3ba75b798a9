"""Waiting for file descriptors: ppoll and pselect6 (poll and select are built on them)."""

from __future__ import annotations

import math
import select
import struct

from dbt.runtime.syscalls import errnos, syscall
from dbt.runtime.syscalls.signal import temporary_mask
from dbt.runtime.syscalls.time import read_timespec

POLLFD = struct.Struct("<ihh")
# Guest (Linux) poll bits and the host's constant of the same name.
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
MAX_FDS = 1 << 20


def _to_host(events: int) -> int:
    return sum(host for bit, host in _POLL_BITS if events & bit)


def _from_host(events: int) -> int:
    return sum(bit for bit, host in _POLL_BITS if events & host)


def _timeout_ms(proc, addr: int) -> float | None:
    if not addr:
        return None
    ns = read_timespec(proc, addr)
    if ns is None:
        raise OSError(errnos.EINVAL, "timeout")
    return ns / 1e6


def _sigmask(proc, addr: int, size: int) -> int | None:
    if not addr:
        return None
    if size != 8:
        raise OSError(errnos.EINVAL, "sigsetsize")
    return proc.memory.read_u64(addr)


@syscall(73, "pupp")
def sys_ppoll(proc, fds: int, nfds: int, timeout: int, sigmask: int, sigsetsize: int = 8) -> int:
    if nfds > MAX_FDS:
        return -errnos.EINVAL
    raw = bytearray(proc.memory.read_slice(fds, nfds * POLLFD.size)) if nfds else bytearray()
    proc.memory.view(fds, nfds * POLLFD.size, writable=True)
    ms = _timeout_ms(proc, timeout)
    mask = _sigmask(proc, sigmask, sigsetsize)
    poller = select.poll()
    entries = []
    for i in range(nfds):
        fd, events, _ = POLLFD.unpack_from(raw, i * POLLFD.size)
        entries.append((fd, events))
        if fd >= 0:
            poller.register(fd, _to_host(events) | select.POLLERR | select.POLLHUP)
    with temporary_mask(proc, mask):
        ready = dict(poller.poll(None if ms is None else math.ceil(ms)))
    count = 0
    for i, (fd, events) in enumerate(entries):
        revents = _from_host(ready.get(fd, 0)) if fd >= 0 else 0
        revents &= events | 0x008 | 0x010 | 0x020
        count += bool(revents)
        POLLFD.pack_into(raw, i * POLLFD.size, fd, events, revents)
    if nfds:
        proc.memory.write_slice(fds, bytes(raw))
    return count


def _read_fdset(proc, addr: int, nfds: int) -> set[int]:
    if not addr:
        return set()
    words = (nfds + 63) // 64
    data = proc.memory.read_slice(addr, words * 8)
    bits = int.from_bytes(data, "little")
    return {fd for fd in range(nfds) if bits >> fd & 1}


def _write_fdset(proc, addr: int, nfds: int, fds: set[int]) -> None:
    if not addr:
        return
    words = (nfds + 63) // 64
    bits = sum(1 << fd for fd in fds)
    proc.memory.write_slice(addr, bits.to_bytes(words * 8, "little"))


@syscall(72, "ipppp")
def sys_pselect6(
    proc, nfds: int, readfds: int, writefds: int, exceptfds: int, timeout: int, sig: int = 0
) -> int:
    if nfds < 0 or nfds > MAX_FDS:
        return -errnos.EINVAL
    rset = _read_fdset(proc, readfds, nfds)
    wset = _read_fdset(proc, writefds, nfds)
    xset = _read_fdset(proc, exceptfds, nfds)
    ms = _timeout_ms(proc, timeout)
    mask = None
    if sig:
        ss, ss_len = struct.unpack("<QQ", proc.memory.read_slice(sig, 16))
        mask = _sigmask(proc, ss, ss_len)
    with temporary_mask(proc, mask):
        r, w, x = select.select(sorted(rset), sorted(wset), sorted(xset), None if ms is None else ms / 1000)
    _write_fdset(proc, readfds, nfds, set(r))
    _write_fdset(proc, writefds, nfds, set(w))
    _write_fdset(proc, exceptfds, nfds, set(x))
    return len(r) + len(w) + len(x)
