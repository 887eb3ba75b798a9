"""Clocks and sleeping.

Linux hosts number their clocks as riscv64 Linux does, so clock ids go to the host as they are
(coarse clocks, CLOCK_TAI, CPU-time clocks of other processes); elsewhere the ids with a host
clock of the same name are translated. Sleeps wait in the host's pselect with the host signal
mask, so a signal for a guest handler ends them with EINTR as on Linux (signal.wait_for).
"""

from __future__ import annotations

import ctypes
import os
import time as host_time

from dbt.runtime.syscalls import errnos, syscall
from dbt.runtime.syscalls.hostcall import LINUX
from dbt.runtime.syscalls.signal import NOT_DONE, pause_wait, wait_for
from dbt.runtime.syscalls.structs import TIMESPEC, TIMEVAL

# Linux clock ids (include/uapi/linux/time.h; 10 was CLOCK_SGI_CYCLE, long gone).
_CLOCKS = {
    0: "CLOCK_REALTIME",
    1: "CLOCK_MONOTONIC",
    2: "CLOCK_PROCESS_CPUTIME_ID",
    3: "CLOCK_THREAD_CPUTIME_ID",
    4: "CLOCK_MONOTONIC_RAW",
    5: "CLOCK_REALTIME_COARSE",
    6: "CLOCK_MONOTONIC_COARSE",
    7: "CLOCK_BOOTTIME",
    8: "CLOCK_REALTIME_ALARM",
    9: "CLOCK_BOOTTIME_ALARM",
    11: "CLOCK_TAI",
}
_FALLBACK = {"CLOCK_REALTIME_COARSE": "CLOCK_REALTIME", "CLOCK_MONOTONIC_COARSE": "CLOCK_MONOTONIC"}
#: Clocks clock_nanosleep cannot sleep on: their k_clock has no nsleep (EOPNOTSUPP).
_NO_SLEEP = frozenset({3, 4, 5, 6})
#: Clocks dbt sleeps on itself, in a wait a guest signal can end.
_SLEEPABLE = frozenset({0, 1, 7, 11})
TIMER_ABSTIME = 1
CLOCK_MONOTONIC = 1

_libc = ctypes.CDLL(None, use_errno=True) if LINUX else None


def host_clock(clock_id: int) -> int | None:
    """The host clock for a Linux clock id (None: no such clock here, EINVAL)."""
    if LINUX:
        return clock_id  # the same numbering: the host kernel judges the id
    name = _CLOCKS.get(clock_id)
    if name is None:
        return None
    value = getattr(host_time, name, None)
    if value is None:
        value = getattr(host_time, _FALLBACK.get(name, "CLOCK_MONOTONIC"), None)
    return value


def _write_timespec(proc, addr: int, ns: int) -> None:
    proc.memory.write_slice(addr, TIMESPEC.pack(ns // 1_000_000_000, ns % 1_000_000_000))


def read_timespec(proc, addr: int) -> int | None:
    """A guest timespec in nanoseconds (None if its fields are out of range: EINVAL)."""
    sec, nsec = TIMESPEC.unpack(proc.memory.read_slice(addr, TIMESPEC.size))
    if sec < 0 or not 0 <= nsec < 1_000_000_000:
        return None
    return sec * 1_000_000_000 + nsec


def timeout_deadline(proc, addr: int) -> int | None:
    """The monotonic time a timeout argument ends at (None: no timeout); EINVAL if malformed."""
    if not addr:
        return None
    ns = read_timespec(proc, addr)
    if ns is None:
        raise OSError(errnos.EINVAL, "timeout")
    return host_time.monotonic_ns() + ns if ns else 0


@syscall(113, "ip")
def sys_clock_gettime(proc, clock_id: int, tp: int) -> int:
    clock = host_clock(clock_id)
    if clock is None:
        return -errnos.EINVAL
    _write_timespec(proc, tp, host_time.clock_gettime_ns(clock))
    return 0


@syscall(114, "ip")
def sys_clock_getres(proc, clock_id: int, res: int) -> int:
    clock = host_clock(clock_id)
    if clock is None:
        return -errnos.EINVAL
    if _libc is not None:
        # Exactly as the host has it (Python's float would round a coarse clock's resolution).
        # Reading the clock first refuses what the kernel refuses: the vDSO's clock_getres
        # answers for disabled auxiliary clocks (16..23) too.
        host_time.clock_gettime_ns(clock)
        value = ctypes.create_string_buffer(TIMESPEC.size)
        if _libc.clock_getres(clock, value) != 0:
            return -errnos.from_host(ctypes.get_errno())
        sec, nsec = TIMESPEC.unpack(value.raw)
        ns = sec * 1_000_000_000 + nsec
    else:
        ns = max(round(host_time.clock_getres(clock) * 1e9), 1)
    if res:
        _write_timespec(proc, res, ns)
    return 0


@syscall(169, "pp")
def sys_gettimeofday(proc, tv: int, tz: int) -> int:
    if tv:
        ns = host_time.time_ns()
        proc.memory.write_slice(tv, TIMEVAL.pack(ns // 1_000_000_000, ns % 1_000_000_000 // 1000))
    if tz:
        proc.memory.write_slice(tz, bytes(8))
    return 0


def sleep_until(proc, clock: int, deadline: int | None) -> None:
    """Sleep until host clock `clock` reads `deadline` (None: until a signal). A signal for a guest
    handler ends the sleep first with InterruptedError (signal.wait_for)."""

    def wait(sigset: int, block: bool) -> int | None:
        if deadline is None:
            remaining = None
        else:
            remaining = deadline - host_time.clock_gettime_ns(clock)
            if remaining <= 0:
                return 0
        if block:
            # A relative wait, after which the clock is read again: it may run slower than the
            # monotonic clock the wait is timed with (CPU time) or be set meanwhile (realtime).
            pause_wait(sigset, remaining)
        return NOT_DONE

    wait_for(proc, wait)


def _sleep(proc, clock: int, deadline: int, rem: int) -> int:
    """A relative sleep: on EINTR, the time left goes to `rem` (if given) as Linux reports it."""
    try:
        sleep_until(proc, clock, deadline)
    except InterruptedError:
        if rem:
            _write_timespec(proc, rem, max(deadline - host_time.clock_gettime_ns(clock), 0))
        raise
    return 0


@syscall(101, "pp")
def sys_nanosleep(proc, req: int, rem: int) -> int:
    ns = read_timespec(proc, req)
    if ns is None:
        return -errnos.EINVAL
    clock = host_clock(CLOCK_MONOTONIC)
    return _sleep(proc, clock, host_time.clock_gettime_ns(clock) + ns, rem)


@syscall(115, "ixpp")
def sys_clock_nanosleep(proc, clock_id: int, flags: int, req: int, rem: int) -> int:
    if clock_id >= 0 and clock_id not in _CLOCKS:
        return -errnos.EINVAL
    if clock_id in _NO_SLEEP:
        return -errnos.EOPNOTSUPP
    ns = read_timespec(proc, req)
    if ns is None:
        return -errnos.EINVAL
    clock = host_clock(clock_id)
    if clock is None:
        return -errnos.EINVAL
    if _libc is not None and clock_id not in _SLEEPABLE:
        # The process CPU clock, alarm clocks, other processes' CPU clocks: the host's own sleep
        # (with its checks), which a signal for a guest handler interrupts too.
        value = ctypes.create_string_buffer(TIMESPEC.pack(ns // 1_000_000_000, ns % 1_000_000_000))
        left = ctypes.create_string_buffer(TIMESPEC.size)
        error = _libc.clock_nanosleep(clock, flags & TIMER_ABSTIME, value, left)
        if error == errnos.EINTR and rem and not flags & TIMER_ABSTIME:
            proc.memory.write_slice(rem, left.raw)
        if error:
            raise OSError(error, os.strerror(error))
        return 0
    if flags & TIMER_ABSTIME:
        sleep_until(proc, clock, ns)  # an absolute sleep reports nothing in rem
        return 0
    return _sleep(proc, clock, host_time.clock_gettime_ns(clock) + ns, rem)


@syscall(153, "p")
def sys_times(proc, buf: int) -> int:
    t = os.times()
    hz = 100
    if buf:
        values = (t.user, t.system, t.children_user, t.children_system)
        proc.memory.write_slice(buf, b"".join(int(v * hz).to_bytes(8, "little") for v in values))
    return int(t.elapsed * hz) & 0x7FFFFFFFFFFFFFFF


@syscall(124)
def sys_sched_yield(proc) -> int:
    return 0
