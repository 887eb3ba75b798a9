"""Clocks, sleeps and interval timers (runtime/syscalls/time.py, timers.py), compared with the
host's clocks and timers."""

from __future__ import annotations

import ctypes
import errno
import os
import signal
import struct
import time

import pytest
from syscall_harness import Guest, preserved_signal_state

CLOCK_GETTIME, CLOCK_GETRES, CLOCK_NANOSLEEP, NANOSLEEP, GETTIMEOFDAY = 113, 114, 115, 101, 169
TIMES, SCHED_YIELD, GETITIMER, SETITIMER = 153, 124, 102, 103
TIMER_ABSTIME = 1
ITIMERVAL = struct.Struct("<qqqq")  # it_interval, it_value


def ns(guest, offset=0) -> int:
    sec, nsec = guest.unpack("<qq", offset)
    assert 0 <= nsec < 10**9
    return sec * 10**9 + nsec


def timespec(guest, total_ns: int, offset=256) -> int:
    return guest.put(offset, struct.pack("<qq", total_ns // 10**9, total_ns % 10**9))


CLOCKS = [0, 1, 2, 3, 4, 5, 6, 7]


@pytest.mark.parametrize("clock", CLOCKS)
def test_clock_gettime_reads_the_same_clock_as_the_host(guest, clock):
    before = time.clock_gettime_ns(clock)
    assert guest.call(CLOCK_GETTIME, clock, guest.addr(0)) == 0
    after = time.clock_gettime_ns(clock)
    assert before <= ns(guest) <= after


@pytest.mark.parametrize("clock", CLOCKS)
def test_clock_getres_matches_the_host(guest, clock):
    assert guest.call(CLOCK_GETRES, clock, guest.addr(0)) == 0
    assert ns(guest) == max(round(time.clock_getres(clock) * 1e9), 1)
    assert guest.call(CLOCK_GETRES, clock, 0) == 0  # res may be NULL


def test_unknown_clocks_and_bad_pointers(guest):
    for clock in (10, 12, 15, 16, 99):
        with pytest.raises(OSError) as host:
            time.clock_gettime(clock)
        assert host.value.errno == errno.EINVAL
        assert guest.call(CLOCK_GETTIME, clock, guest.addr(0)) == -errno.EINVAL
        assert guest.call(CLOCK_GETRES, clock, guest.addr(0)) == -errno.EINVAL
    assert guest.call(CLOCK_GETTIME, 0, 0x10) == -errno.EFAULT
    assert guest.call(CLOCK_GETRES, 0, 0x10) == -errno.EFAULT


def test_clock_tai(guest):
    assert guest.call(CLOCK_GETTIME, 11, guest.addr(0)) == 0
    assert abs(ns(guest) - time.clock_gettime_ns(11)) < 10**9


def test_gettimeofday_with_and_without_a_timezone(guest):
    before = time.time_ns() // 1000
    guest.put(16, b"\xff" * 8)
    assert guest.call(GETTIMEOFDAY, guest.addr(0), guest.addr(16)) == 0
    sec, usec = guest.unpack("<qq", 0)
    assert 0 <= usec < 10**6 and before <= sec * 10**6 + usec <= time.time_ns() // 1000
    libc = ctypes.CDLL(None, use_errno=True)
    tv, tz = ctypes.create_string_buffer(16), ctypes.create_string_buffer(8)
    assert libc.gettimeofday(tv, tz) == 0
    assert guest.get(16, 8) == tz.raw  # struct timezone as the host kernel keeps it
    assert guest.call(GETTIMEOFDAY, guest.addr(0), 0) == 0
    assert guest.call(GETTIMEOFDAY, 0, 0) == 0
    assert guest.call(GETTIMEOFDAY, 0x10, 0) == -errno.EFAULT


def test_nanosleep(guest):
    start = time.monotonic_ns()
    assert guest.call(NANOSLEEP, timespec(guest, 20_000_000), guest.addr(64)) == 0
    assert time.monotonic_ns() - start >= 20_000_000
    assert guest.call(NANOSLEEP, timespec(guest, 0), 0) == 0
    assert guest.call(NANOSLEEP, guest.put(256, struct.pack("<qq", 0, 10**9)), 0) == -errno.EINVAL
    assert guest.call(NANOSLEEP, guest.put(256, struct.pack("<qq", -1, 0)), 0) == -errno.EINVAL
    assert guest.call(NANOSLEEP, guest.put(256, struct.pack("<qq", 0, -1)), 0) == -errno.EINVAL
    assert guest.call(NANOSLEEP, 0x10, 0) == -errno.EFAULT


def test_clock_nanosleep_relative_and_absolute(guest):
    start = time.monotonic_ns()
    assert guest.call(CLOCK_NANOSLEEP, 1, 0, timespec(guest, 20_000_000), 0) == 0
    assert time.monotonic_ns() - start >= 20_000_000
    deadline = time.clock_gettime_ns(0) + 20_000_000
    assert guest.call(CLOCK_NANOSLEEP, 0, TIMER_ABSTIME, timespec(guest, deadline), 0) == 0
    assert time.clock_gettime_ns(0) >= deadline
    start = time.monotonic_ns()
    past = time.clock_gettime_ns(7) - 10**9
    assert guest.call(CLOCK_NANOSLEEP, 7, TIMER_ABSTIME, timespec(guest, past), 0) == 0  # at once
    assert time.monotonic_ns() - start < 500_000_000
    assert guest.call(CLOCK_NANOSLEEP, 99, 0, timespec(guest, 0), 0) == -errno.EINVAL
    bad = guest.put(256, struct.pack("<qq", 0, 10**9))
    assert guest.call(CLOCK_NANOSLEEP, 1, 0, bad, 0) == -errno.EINVAL
    assert guest.call(CLOCK_NANOSLEEP, 1, 0, 0x10, 0) == -errno.EFAULT


@pytest.mark.parametrize("clock", [3, 4, 5, 6])
def test_clock_nanosleep_on_clocks_without_a_sleep_is_eopnotsupp(guest, clock):
    assert guest.call(CLOCK_NANOSLEEP, clock, 0, timespec(guest, 1000), 0) == -errno.EOPNOTSUPP


def test_times_and_sched_yield(guest):
    hz = os.sysconf("SC_CLK_TCK")
    assert hz == 100  # USER_HZ, which riscv64 uses too
    before = os.times()
    elapsed = guest.call(TIMES, guest.addr(0))
    after = os.times()
    assert int(before.elapsed * hz) - 1 <= elapsed <= int(after.elapsed * hz) + 1
    utime, stime, cutime, cstime = guest.unpack("<qqqq", 0)
    assert int(before.user * hz) - 1 <= utime <= int(after.user * hz) + 1
    assert int(before.system * hz) - 1 <= stime <= int(after.system * hz) + 1
    assert (cutime, cstime) == (int(after.children_user * hz), int(after.children_system * hz))
    assert guest.call(TIMES, 0) > 0
    assert guest.call(TIMES, 0x10) == -errno.EFAULT
    assert guest.call(SCHED_YIELD) == 0


# ---- interval timers ----
@pytest.fixture
def timers():
    """Interval timers of this process, disarmed after the test whatever happened."""
    with preserved_signal_state(signal.SIGALRM, signal.SIGVTALRM, signal.SIGPROF):
        try:
            yield
        finally:
            for which in (signal.ITIMER_REAL, signal.ITIMER_VIRTUAL, signal.ITIMER_PROF):
                signal.setitimer(which, 0)


def itimerval(guest, value_us: int, interval_us: int, offset=0) -> int:
    data = ITIMERVAL.pack(interval_us // 10**6, interval_us % 10**6, value_us // 10**6, value_us % 10**6)
    return guest.put(offset, data)


def read_itimerval(guest, offset) -> tuple[int, int]:
    """(value, interval) in microseconds."""
    isec, iusec, vsec, vusec = guest.unpack("<qqqq", offset)
    assert 0 <= iusec < 10**6 and 0 <= vusec < 10**6
    return vsec * 10**6 + vusec, isec * 10**6 + iusec


def test_setitimer_real_read_back_and_disarm(guest, timers):
    assert guest.call(SETITIMER, 0, itimerval(guest, 10 * 10**6, 0), guest.addr(64)) == 0
    assert read_itimerval(guest, 64) == (0, 0)  # nothing was armed
    value, interval = signal.getitimer(signal.ITIMER_REAL)
    assert 9 < value <= 10 and interval == 0
    assert guest.call(GETITIMER, 0, guest.addr(128)) == 0
    value_us, interval_us = read_itimerval(guest, 128)
    assert 9 * 10**6 < value_us <= 10 * 10**6 and interval_us == 0
    # disarm, getting the time that was left
    assert guest.call(SETITIMER, 0, itimerval(guest, 0, 0), guest.addr(64)) == 0
    left, _ = read_itimerval(guest, 64)
    assert 9 * 10**6 < left <= value_us
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert guest.call(GETITIMER, 0, guest.addr(128)) == 0
    assert read_itimerval(guest, 128) == (0, 0)


@pytest.mark.parametrize("which", [1, 2])
def test_setitimer_cpu_timers_keep_their_interval(guest, timers, which):
    host = (signal.ITIMER_REAL, signal.ITIMER_VIRTUAL, signal.ITIMER_PROF)[which]
    assert guest.call(SETITIMER, which, itimerval(guest, 30 * 10**6, 500_000), 0) == 0
    assert signal.getitimer(host)[1] == pytest.approx(0.5)
    assert guest.call(GETITIMER, which, guest.addr(64)) == 0
    value_us, interval_us = read_itimerval(guest, 64)
    assert interval_us == 500_000
    assert 0 < value_us <= 30 * 10**6 + 10_000  # the host rounds CPU timers up to its tick
    # a NULL new value disarms (as Linux treats it)
    assert guest.call(SETITIMER, which, 0, guest.addr(128)) == 0
    assert read_itimerval(guest, 128)[1] == 500_000
    assert signal.getitimer(host) == (0.0, 0.0)


def test_setitimer_argument_errors(guest, timers):
    good = itimerval(guest, 10**6, 0)
    assert guest.call(SETITIMER, 3, good, 0) == -errno.EINVAL
    assert guest.call(GETITIMER, 3, guest.addr(64)) == -errno.EINVAL
    assert guest.call(SETITIMER, 0, guest.put(0, ITIMERVAL.pack(0, 0, 0, 10**6)), 0) == -errno.EINVAL
    assert guest.call(SETITIMER, 0, guest.put(0, ITIMERVAL.pack(0, 10**6, 1, 0)), 0) == -errno.EINVAL
    assert guest.call(SETITIMER, 0, guest.put(0, ITIMERVAL.pack(0, 0, -1, 0)), 0) == -errno.EINVAL
    assert guest.call(SETITIMER, 0, 0x10, 0) == -errno.EFAULT
    assert guest.call(SETITIMER, 0, itimerval(guest, 10**6, 0), 0x10) == -errno.EFAULT
    assert guest.call(GETITIMER, 0, 0x10) == -errno.EFAULT
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_sigalrm_from_a_guest_timer_reaches_the_guest_handler(timers):
    g = Guest()
    assert g.install_handler(14) == 0  # SIGALRM
    assert g.call(SETITIMER, 0, itimerval(g, 20_000, 0), 0) == 0
    # the signal ends the nanosleep (EINTR) or, should it come later, reaches the handler after it
    assert g.call(NANOSLEEP, timespec(g, 100_000_000), 0) in (0, -errno.EINTR)
    deadline = time.monotonic() + 2
    while not (seen := g.handled()) and time.monotonic() < deadline:
        g.call(SCHED_YIELD)
    assert seen == 14


def test_nanosleep_is_interrupted_by_a_handled_signal(timers):
    g = Guest()
    assert g.install_handler(14) == 0  # SIGALRM, without SA_RESTART
    assert g.call(SETITIMER, 0, itimerval(g, 20_000, 0), 0) == 0
    start = time.monotonic()
    result = g.call(NANOSLEEP, timespec(g, 500_000_000), g.addr(64))
    elapsed = time.monotonic() - start
    assert g.handled() == 14
    assert result == -errno.EINTR and elapsed < 0.4
    remaining = ns(g, 64)
    assert 0 < remaining <= 500_000_000 - 10_000_000  # rem: what was left to sleep
