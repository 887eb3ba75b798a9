"""Interval timers: setitimer/getitimer on the host's timers (SIGALRM, SIGVTALRM and SIGPROF
arrive at dbt and reach the guest through its dispositions), and POSIX timers (timer_create and
family), each armed one a host timer thread that queues its signal for the process or a thread."""

from __future__ import annotations

import signal as host_signal
import struct
import threading
import time
from dataclasses import dataclass

from dbt.hostthreads import start_quiet
from dbt.runtime import signals as sig
from dbt.runtime.syscalls import errnos, syscall
from dbt.runtime.threads import kick

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


# ---- POSIX timers (timer_create family): a host timer thread per armed timer ----
SIGEV_SIGNAL, SIGEV_NONE, SIGEV_THREAD, SIGEV_THREAD_ID = 0, 1, 2, 4
SI_TIMER = -2
TIMER_ABSTIME = 1
#: struct sigevent's head: sigev_value, sigev_signo, sigev_notify, then the union (_tid first).
SIGEVENT = struct.Struct("<Qiii")
ITIMERSPEC = struct.Struct("<qqqq")
#: Clocks a POSIX timer may count on: REALTIME, MONOTONIC, BOOTTIME (CPU-time clocks: EINVAL).
TIMER_CLOCKS = {0: time.CLOCK_REALTIME, 1: time.CLOCK_MONOTONIC, 7: time.CLOCK_MONOTONIC}
MAX_TIMERS = 1 << 12


@dataclass(eq=False)
class PosixTimer:
    clock: int
    notify: int
    signo: int
    value: int
    tid: int
    interval_ns: int = 0
    #: Monotonic time of the next expiry (0: disarmed).
    due_ns: int = 0
    #: Expiries while the last signal was still pending, and the count its siginfo reported.
    overrun: int = 0
    reported_overrun: int = 0
    thread: threading.Timer | None = None


def _timers(proc) -> dict[int, PosixTimer]:
    return proc.group.posix_timers


@syscall(107, "ipp")
def sys_timer_create(proc, clock_id: int, sevp: int, timerid: int) -> int:
    if clock_id not in TIMER_CLOCKS:
        return -errnos.EINVAL
    timers = _timers(proc)
    number = next((n for n in range(MAX_TIMERS) if n not in timers), None)
    if number is None:
        return -errnos.EAGAIN
    if sevp:
        value, signo, notify, tid = SIGEVENT.unpack(proc.memory.read_slice(sevp, SIGEVENT.size))
    else:  # SIGALRM with the timer's id as its value
        value, signo, notify, tid = number, 14, SIGEV_SIGNAL, 0
    if notify not in (SIGEV_SIGNAL, SIGEV_NONE, SIGEV_THREAD_ID):
        return -errnos.EINVAL  # SIGEV_THREAD is the C library's, made of SIGEV_THREAD_ID
    if notify != SIGEV_NONE and not 1 <= signo <= sig.NSIG:
        return -errnos.EINVAL
    if notify == SIGEV_THREAD_ID and tid not in proc.group.threads:
        return -errnos.EINVAL
    proc.memory.write_u32(timerid, number)
    timers[number] = PosixTimer(clock_id, notify, signo, value, tid)
    return 0


def _timer(proc, timerid: int) -> PosixTimer | None:
    return _timers(proc).get(timerid)


def _remaining(timer: PosixTimer) -> int:
    return max(timer.due_ns - time.monotonic_ns(), 1) if timer.due_ns else 0


@syscall(110, "iipp")
def sys_timer_settime(proc, timerid: int, flags: int, new: int, old: int) -> int:
    timer = _timer(proc, timerid)
    if timer is None:
        return -errnos.EINVAL
    isec, insec, vsec, vnsec = ITIMERSPEC.unpack(proc.memory.read_slice(new, ITIMERSPEC.size))
    if min(isec, vsec) < 0 or not (0 <= insec < 1_000_000_000 and 0 <= vnsec < 1_000_000_000):
        return -errnos.EINVAL
    if old:
        _write_itimerspec(proc, old, timer)
    _disarm(timer)
    value_ns, interval_ns = vsec * 1_000_000_000 + vnsec, isec * 1_000_000_000 + insec
    if value_ns:
        if flags & TIMER_ABSTIME:  # an absolute time on the timer's clock, as a delay from now
            value_ns = max(value_ns - time.clock_gettime_ns(TIMER_CLOCKS[timer.clock]), 0)
        timer.interval_ns = interval_ns
        _arm(proc, timer, value_ns)
    return 0


@syscall(108, "ip")
def sys_timer_gettime(proc, timerid: int, curr: int) -> int:
    timer = _timer(proc, timerid)
    if timer is None:
        return -errnos.EINVAL
    _write_itimerspec(proc, curr, timer)
    return 0


@syscall(109, "i")
def sys_timer_getoverrun(proc, timerid: int) -> int:
    timer = _timer(proc, timerid)
    return -errnos.EINVAL if timer is None else timer.reported_overrun


@syscall(111, "i")
def sys_timer_delete(proc, timerid: int) -> int:
    timer = _timers(proc).pop(timerid, None)
    if timer is None:
        return -errnos.EINVAL
    _disarm(timer)
    return 0


def _write_itimerspec(proc, addr: int, timer: PosixTimer) -> None:
    left, interval = _remaining(timer), timer.interval_ns if timer.due_ns else 0
    proc.memory.write_slice(
        addr, ITIMERSPEC.pack(*divmod(interval, 1_000_000_000), *divmod(left, 1_000_000_000))
    )


def _disarm(timer: PosixTimer) -> None:
    if timer.thread is not None:
        timer.thread.cancel()
    timer.thread = None
    timer.due_ns = 0
    timer.interval_ns = 0


def _arm(proc, timer: PosixTimer, delay_ns: int) -> None:
    timer.due_ns = time.monotonic_ns() + delay_ns
    host = threading.Timer(delay_ns / 1e9, _expire, args=(proc, timer, timer.due_ns))
    host.daemon = True
    timer.thread = host
    start_quiet(host)


def _expire(proc, timer: PosixTimer, due_ns: int) -> None:
    """A host timer thread: the timer expired (unless re-armed or deleted meanwhile)."""
    from dbt.runtime.sigframe import siginfo

    group = proc.group
    with group.lock:
        if timer.due_ns != due_ns or group.ended is not None:
            return
        if timer.notify != SIGEV_NONE:
            target = group.threads.get(timer.tid) if timer.notify == SIGEV_THREAD_ID else None
            pending = (target.pending_signals if target is not None else group.pending) & sig.bit(timer.signo)
            if pending:
                timer.overrun += 1
            else:
                timer.reported_overrun, timer.overrun = timer.overrun, 0
                number = next(n for n, t in _timers(proc).items() if t is timer)
                # siginfo's _timer fields: si_timerid, si_overrun, si_value.
                info = siginfo(timer.signo, SI_TIMER)[:16] + struct.pack(
                    "<iiQ", number, timer.reported_overrun, timer.value
                )
                if target is not None:
                    target.queue_signal(timer.signo, info)
                    kick(target)
                else:
                    group.queue(timer.signo, info)
        if timer.interval_ns:
            _arm(proc, timer, max(due_ns + timer.interval_ns - time.monotonic_ns(), 0))
        else:
            timer.due_ns = 0
            timer.thread = None
