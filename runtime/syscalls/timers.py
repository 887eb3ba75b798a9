"""Interval timers: setitimer/getitimer on the host's timers (SIGALRM, SIGVTALRM and SIGPROF
arrive at dbt and reach the guest through its dispositions)."""

from __future__ import annotations

import signal as host_signal
import struct

from dbt.runtime.syscalls import errnos, syscall

ITIMERVAL = struct.Struct("<qqqq")
_WHICH = {0: "ITIMER_REAL", 1: "ITIMER_VIRTUAL", 2: "ITIMER_PROF"}


def _host_which(which: int) -> int | None:
    name = _WHICH.get(which)
    return getattr(host_signal, name, None) if name else None


def _pack(value: float, interval: float) -> bytes:
    def split(seconds: float) -> tuple[int, int]:
        micros = round(seconds * 1_000_000)
        return micros // 1_000_000, micros % 1_000_000

    return ITIMERVAL.pack(*split(interval), *split(value))


@syscall(102, "ip")
def sys_getitimer(proc, which: int, curr: int) -> int:
    host = _host_which(which)
    if host is None:
        return -errnos.EINVAL
    value, interval = host_signal.getitimer(host)
    proc.memory.write_slice(curr, _pack(value, interval))
    return 0


@syscall(103, "ipp")
def sys_setitimer(proc, which: int, new: int, old: int) -> int:
    host = _host_which(which)
    if host is None:
        return -errnos.EINVAL
    isec, iusec, vsec, vusec = (
        ITIMERVAL.unpack(proc.memory.read_slice(new, ITIMERVAL.size)) if new else (0,) * 4
    )
    if not (0 <= iusec < 1_000_000 and 0 <= vusec < 1_000_000) or isec < 0 or vsec < 0:
        return -errnos.EINVAL
    if old:
        proc.memory.view(old, ITIMERVAL.size, writable=True)
    value, interval = host_signal.setitimer(host, vsec + vusec / 1e6, isec + iusec / 1e6)
    if old:
        proc.memory.write_slice(old, _pack(value, interval))
    return 0
