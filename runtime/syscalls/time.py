"""Clocks and sleeping."""

from __future__ import annotations

import os
import time as host_time

from dbt.runtime.syscalls import errnos, syscall
from dbt.runtime.syscalls.structs import TIMESPEC, TIMEVAL

# Linux clock ids and the host clock of the same meaning.
_CLOCKS = {
    0: "CLOCK_REALTIME",
    1: "CLOCK_MONOTONIC",
    2: "CLOCK_PROCESS_CPUTIME_ID",
    3: "CLOCK_THREAD_CPUTIME_ID",
    4: "CLOCK_MONOTONIC_RAW",
    5: "CLOCK_REALTIME_COARSE",
    6: "CLOCK_MONOTONIC_COARSE",
    7: "CLOCK_BOOTTIME",
}
_FALLBACK = {"CLOCK_REALTIME_COARSE": "CLOCK_REALTIME", "CLOCK_MONOTONIC_COARSE": "CLOCK_MONOTONIC"}
TIMER_ABSTIME = 1


def host_clock(clock_id: int) -> int | None:
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
    if res:
        _write_timespec(proc, res, int(host_time.clock_getres(clock) * 1e9) or 1)
    return 0


@syscall(169, "pp")
def sys_gettimeofday(proc, tv: int, tz: int) -> int:
    if tv:
        ns = host_time.time_ns()
        proc.memory.write_slice(tv, TIMEVAL.pack(ns // 1_000_000_000, ns % 1_000_000_000 // 1000))
    if tz:
        proc.memory.write_slice(tz, bytes(8))
    return 0


def _sleep_until(clock: int, deadline: int) -> None:
    while True:
        remaining = deadline - host_time.clock_gettime_ns(clock)
        if remaining <= 0:
            return
        host_time.sleep(remaining / 1e9)


@syscall(101, "pp")
def sys_nanosleep(proc, req: int, rem: int) -> int:
    ns = read_timespec(proc, req)
    if ns is None:
        return -errnos.EINVAL
    _sleep_until(host_time.CLOCK_MONOTONIC, host_time.clock_gettime_ns(host_time.CLOCK_MONOTONIC) + ns)
    return 0


@syscall(115, "ixpp")
def sys_clock_nanosleep(proc, clock_id: int, flags: int, req: int, rem: int) -> int:
    clock = host_clock(clock_id)
    if clock is None or clock_id in (2, 3):
        return -errnos.EINVAL
    ns = read_timespec(proc, req)
    if ns is None:
        return -errnos.EINVAL
    deadline = ns if flags & TIMER_ABSTIME else host_time.clock_gettime_ns(clock) + ns
    _sleep_until(clock, deadline)
    return 0


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
