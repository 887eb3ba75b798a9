"""ppoll and pselect6 (runtime/syscalls/poll.py) on pipes, compared with the host's poll/select."""

from __future__ import annotations

import errno
import fcntl
import os
import select
import signal
import struct
import time

import pytest
from syscall_harness import Guest, preserved_signal_state

PSELECT6, PPOLL, RT_SIGPROCMASK, KILL = 72, 73, 135, 129
POLLIN, POLLPRI, POLLOUT, POLLERR, POLLHUP, POLLNVAL = 0x1, 0x2, 0x4, 0x8, 0x10, 0x20
POLLFD = struct.Struct("<ihh")
SIGUSR1 = 10


def pollfds(guest, entries, offset=0) -> int:
    return guest.put(offset, b"".join(POLLFD.pack(fd, events, 0x7FFF) for fd, events in entries))


def revents(guest, count, offset=0) -> list[int]:
    return [POLLFD.unpack_from(guest.get(offset, 8 * count), 8 * i)[2] for i in range(count)]


def timespec(guest, seconds: float, offset=512) -> int:
    ns = round(seconds * 1e9)
    return guest.put(offset, struct.pack("<qq", ns // 10**9, ns % 10**9))


def host_poll(entries) -> list[int]:
    poller = select.poll()
    for fd, events in entries:
        poller.register(fd, events)
    ready = dict(poller.poll(0))
    return [ready.get(fd, 0) for fd, _ in entries]


# ---- ppoll ----
def test_ppoll_readable_writable_and_hangup_match_the_host(guest, fds):
    r, w = os.pipe()
    fds.add(r, w)
    entries = [(r, POLLIN), (w, POLLOUT)]
    assert guest.call(PPOLL, pollfds(guest, entries), 2, timespec(guest, 0), 0) == 1
    assert revents(guest, 2) == [0, POLLOUT] == host_poll(entries)
    os.write(w, b"data")
    assert guest.call(PPOLL, pollfds(guest, entries), 2, timespec(guest, 0), 0) == 2
    assert revents(guest, 2) == [POLLIN, POLLOUT] == host_poll(entries)
    # the write end closed: readable (data left) and hung up, though POLLHUP was not asked for
    os.close(w)
    entries = [(r, POLLIN)]
    assert guest.call(PPOLL, pollfds(guest, entries), 1, timespec(guest, 0), 0) == 1
    assert revents(guest, 1) == [POLLIN | POLLHUP] == host_poll(entries)
    # events not asked for are not reported (POLLIN), POLLHUP always is
    assert guest.call(PPOLL, pollfds(guest, [(r, POLLPRI)]), 1, timespec(guest, 0), 0) == 1
    assert revents(guest, 1) == [POLLHUP]


def test_ppoll_closed_and_negative_descriptors(guest, fds):
    r, w = os.pipe()
    fds.add(r, w)
    closed = os.dup(r)
    os.close(closed)
    entries = [(closed, POLLIN), (-1, POLLIN), (-r, POLLIN), (w, POLLOUT)]
    assert guest.call(PPOLL, pollfds(guest, entries), 4, timespec(guest, 0), 0) == 2
    assert revents(guest, 4) == [POLLNVAL, 0, 0, POLLOUT]
    # fd, events are kept as they were
    assert [POLLFD.unpack_from(guest.get(0, 32), 8 * i)[:2] for i in range(4)] == entries


def test_ppoll_waits_for_its_timeout_or_forever(guest, fds):
    r, w = os.pipe()
    fds.add(r, w)
    start = time.monotonic()
    assert guest.call(PPOLL, pollfds(guest, [(r, POLLIN)]), 1, timespec(guest, 0.05), 0) == 0
    assert time.monotonic() - start >= 0.045
    assert revents(guest, 1) == [0]
    os.write(w, b"x")
    assert guest.call(PPOLL, pollfds(guest, [(r, POLLIN)]), 1, 0, 0) == 1  # no timeout: ready at once
    assert guest.call(PPOLL, 0, 0, timespec(guest, 0.01), 0) == 0  # nothing to wait for: a sleep


def test_ppoll_argument_errors(guest, fds):
    r, w = os.pipe()
    fds.add(r, w)
    fdset = pollfds(guest, [(r, POLLIN)])
    assert guest.call(PPOLL, fdset, 1, guest.put(512, struct.pack("<qq", 0, 10**9)), 0) == -errno.EINVAL
    assert guest.call(PPOLL, fdset, 1, guest.put(512, struct.pack("<qq", -1, 0)), 0) == -errno.EINVAL
    assert guest.call(PPOLL, fdset, 1, 0x10, 0) == -errno.EFAULT
    assert guest.call(PPOLL, 0x10, 1, timespec(guest, 0), 0) == -errno.EFAULT
    assert guest.call(PPOLL, guest.code, 1, timespec(guest, 0), 0) == -errno.EFAULT  # not writable
    assert guest.call(PPOLL, fdset, 1 << 21, timespec(guest, 0), 0) == -errno.EINVAL
    assert guest.call(PPOLL, fdset, 1, timespec(guest, 0), 0x10, 8) == -errno.EFAULT  # the sigmask


def test_ppoll_sigmask_is_temporary(guest, fds):
    r, w = os.pipe()
    fds.add(r, w)
    with preserved_signal_state(signal.SIGUSR1, signal.SIGUSR2):
        block = guest.put(600, struct.pack("<Q", 1 << (SIGUSR1 - 1)))
        assert guest.call(RT_SIGPROCMASK, 0, block, 0, 8) == 0  # SIG_BLOCK SIGUSR1
        during = guest.put(608, struct.pack("<Q", 1 << 11))  # SIGUSR2 only while waiting
        assert guest.call(PPOLL, pollfds(guest, [(w, POLLOUT)]), 1, timespec(guest, 0), during, 8) == 1
        assert guest.call(RT_SIGPROCMASK, 0, 0, guest.addr(616), 8) == 0
        assert guest.unpack("<Q", 616) == (1 << (SIGUSR1 - 1),)
        assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == {signal.SIGUSR1}


def test_ppoll_checks_the_sigset_size(guest, fds):
    r, w = os.pipe()
    fds.add(r, w)
    mask = guest.put(600, bytes(16))
    assert guest.call(PPOLL, pollfds(guest, [(w, POLLOUT)]), 1, timespec(guest, 0), mask, 16) == -errno.EINVAL


def test_ppoll_reports_each_entry_of_a_repeated_descriptor(guest, fds):
    r, w = os.pipe()
    fds.add(r, w)
    os.write(w, b"x")
    assert guest.call(PPOLL, pollfds(guest, [(r, POLLIN), (r, POLLPRI)]), 2, timespec(guest, 0), 0) == 1
    assert revents(guest, 2) == [POLLIN, 0]


def test_ppoll_returns_eintr_for_a_pending_signal_its_mask_unblocks(fds):
    r, w = os.pipe()
    fds.add(r, w)
    with preserved_signal_state(signal.SIGUSR1):
        g = Guest()
        assert g.install_handler(SIGUSR1) == 0
        block = g.put(600, struct.pack("<Q", 1 << (SIGUSR1 - 1)))
        assert g.call(RT_SIGPROCMASK, 0, block, 0, 8) == 0
        assert g.call(KILL, os.getpid(), SIGUSR1) == 0  # pending, blocked
        assert g.handled() == 0
        unblock = g.put(608, bytes(8))
        start = time.monotonic()
        result = g.call(PPOLL, pollfds(g, [(r, POLLIN)]), 1, timespec(g, 0.5), unblock, 8)
        assert g.handled() == SIGUSR1
        assert result == -errno.EINTR and time.monotonic() - start < 0.4


# ---- pselect6 ----
def fdset(fds_in: list[int], nfds: int) -> bytes:
    bits = sum(1 << fd for fd in fds_in)
    return bits.to_bytes((nfds + 63) // 64 * 8, "little")


def set_members(raw: bytes) -> set[int]:
    bits = int.from_bytes(raw, "little")
    return {i for i in range(len(raw) * 8) if bits >> i & 1}


def test_pselect6_fd_set_layout_with_descriptors_past_64(guest, fds):
    r, w = os.pipe()
    idle_r, idle_w = os.pipe()
    fds.add(r, w, idle_r, idle_w)
    high_r = fds.add(fcntl.fcntl(r, fcntl.F_DUPFD, 70))
    high_idle = fds.add(fcntl.fcntl(idle_r, fcntl.F_DUPFD, 130))
    assert high_r >= 64 and high_idle >= 128
    os.write(w, b"x")
    nfds = max(high_r, high_idle, w) + 1
    size = (nfds + 63) // 64 * 8
    rset = guest.put(0, fdset([r, idle_r, high_r, high_idle], nfds))
    wset = guest.put(256, fdset([w, idle_w], nfds))
    xset = guest.put(512, fdset([r, high_r], nfds))
    n = guest.call(PSELECT6, nfds, rset, wset, xset, timespec(guest, 0, offset=768))
    host_r, host_w, host_x = select.select([r, idle_r, high_r, high_idle], [w, idle_w], [r, high_r], 0)
    assert n == len(host_r) + len(host_w) + len(host_x) == 4
    assert set_members(guest.get(0, size)) == set(host_r) == {r, high_r}
    assert set_members(guest.get(256, size)) == set(host_w) == {w, idle_w}
    assert set_members(guest.get(512, size)) == set(host_x) == set()
    # bit `fd % 64` of little-endian word `fd // 64`
    word = struct.unpack_from("<Q", guest.get(0, size), 8 * (high_r // 64))[0]
    assert word == 1 << (high_r % 64)


def test_pselect6_timeouts_and_null_sets(guest, fds):
    r, w = os.pipe()
    fds.add(r, w)
    rset = guest.put(0, fdset([r], r + 1))
    start = time.monotonic()
    assert guest.call(PSELECT6, r + 1, rset, 0, 0, timespec(guest, 0.05)) == 0
    assert time.monotonic() - start >= 0.045
    assert set_members(guest.get(0, 8)) == set()
    os.write(w, b"x")
    guest.put(0, fdset([r], r + 1))
    assert guest.call(PSELECT6, r + 1, rset, 0, 0, 0) == 1  # no timeout: returns when ready
    assert guest.call(PSELECT6, 0, 0, 0, 0, timespec(guest, 0)) == 0


def test_pselect6_argument_errors(guest, fds):
    r, w = os.pipe()
    fds.add(r, w)
    closed = os.dup(r)
    os.close(closed)
    assert guest.call(PSELECT6, -1, 0, 0, 0, timespec(guest, 0)) == -errno.EINVAL
    rset = guest.put(0, fdset([closed], closed + 1))
    assert guest.call(PSELECT6, closed + 1, rset, 0, 0, timespec(guest, 0)) == -errno.EBADF
    assert guest.call(PSELECT6, r + 1, 0x10, 0, 0, timespec(guest, 0)) == -errno.EFAULT
    rset = guest.put(0, fdset([r], r + 1))
    assert (
        guest.call(PSELECT6, r + 1, rset, 0, 0, guest.put(512, struct.pack("<qq", 0, 10**9))) == -errno.EINVAL
    )
    # Linux cuts nfds to the size of the descriptor table: no error (as the host's pselect says)
    assert guest.call(PSELECT6, 1 << 21, 0, 0, 0, timespec(guest, 0)) == 0


def test_pselect6_reads_its_sigmask_argument(guest, fds):
    r, w = os.pipe()
    fds.add(r, w)
    wset = guest.put(0, fdset([w], w + 1))
    mask = guest.put(600, bytes(16))
    bad_size = guest.put(640, struct.pack("<QQ", mask, 16))
    assert guest.call(PSELECT6, w + 1, 0, wset, 0, timespec(guest, 0), bad_size) == -errno.EINVAL
    bad_pointer = guest.put(640, struct.pack("<QQ", 0x10, 8))
    assert guest.call(PSELECT6, w + 1, 0, wset, 0, timespec(guest, 0), bad_pointer) == -errno.EFAULT


@pytest.mark.parametrize("call", ["ppoll", "pselect6"])
def test_a_handled_signal_interrupts_the_wait(fds, call):
    r, w = os.pipe()
    fds.add(r, w)
    with preserved_signal_state(signal.SIGALRM):
        g = Guest()
        try:
            assert g.install_handler(14) == 0  # SIGALRM, without SA_RESTART
            signal.setitimer(signal.ITIMER_REAL, 0.02)
            start = time.monotonic()
            if call == "ppoll":
                result = g.call(PPOLL, pollfds(g, [(r, POLLIN)]), 1, timespec(g, 0.5), 0)
            else:
                result = g.call(PSELECT6, r + 1, g.put(0, fdset([r], r + 1)), 0, 0, timespec(g, 0.5))
            elapsed = time.monotonic() - start
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        assert g.handled() == 14
        assert result == -errno.EINTR and elapsed < 0.4
