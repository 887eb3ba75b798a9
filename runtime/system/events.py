"""The event loop of system mode: one queue of timer events and the host file descriptors the
devices wait on (through `selectors`). The vCPU runs between events: for an instruction budget
that ends near the next deadline, or not at all while the hart waits in wfi, when the loop
sleeps until a deadline or a descriptor becomes ready. Nothing polls on a timer.
Stage: runtime (system mode).
"""

from __future__ import annotations

import heapq
import itertools
import selectors
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(order=True)
class TimerEvent:
    deadline_ns: int
    seq: int
    callback: Callable[[], None] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)

    def cancel(self) -> None:
        self.cancelled = True


class EventLoop:
    """Timers on the host's monotonic clock and readable descriptors."""

    def __init__(self, clock: Callable[[], int] = time.monotonic_ns) -> None:
        self.clock = clock
        self._timers: list[TimerEvent] = []
        self._seq = itertools.count()
        self._selector = selectors.DefaultSelector()
        #: Events scheduled so far (the vCPU loop sees by it whether a device access added one).
        self.scheduled = 0

    # ---- timers ----
    def call_at(self, deadline_ns: int, callback: Callable[[], None]) -> TimerEvent:
        self.scheduled += 1
        event = TimerEvent(deadline_ns, next(self._seq), callback)
        heapq.heappush(self._timers, event)
        return event

    def next_deadline(self) -> int | None:
        while self._timers and self._timers[0].cancelled:
            heapq.heappop(self._timers)
        return self._timers[0].deadline_ns if self._timers else None

    def _run_due_timers(self) -> bool:
        ran = False
        now = self.clock()
        while self._timers and (self._timers[0].cancelled or self._timers[0].deadline_ns <= now):
            event = heapq.heappop(self._timers)
            if not event.cancelled:
                event.callback()
                ran = True
        return ran

    # ---- descriptors ----
    def add_reader(self, fd: int, callback: Callable[[], None]) -> None:
        self._selector.register(fd, selectors.EVENT_READ, callback)

    def remove_reader(self, fd: int) -> None:
        try:
            self._selector.unregister(fd)
        except (KeyError, ValueError):
            pass

    @property
    def has_readers(self) -> bool:
        return bool(self._selector.get_map())

    # ---- running ----
    def poll(self, wait: bool = False, limit_ns: int | None = None) -> bool:
        """Run what is ready: due timers and readable descriptors. With `wait`, first sleep until
        one of them is (the next deadline, or `limit_ns` from now at most). Returns whether
        anything ran."""
        timeout: float | None = 0.0
        if wait:
            deadline = self.next_deadline()
            if limit_ns is not None:
                deadline = (
                    min(deadline, self.clock() + limit_ns)
                    if deadline is not None
                    else self.clock() + limit_ns
                )
            timeout = None if deadline is None else max(deadline - self.clock(), 0) / 1e9
            if timeout is None and not self.has_readers:
                raise RuntimeError("the event loop would wait forever: no timer and no descriptor")
        ran = False
        if self.has_readers:
            for key, _ in self._selector.select(timeout):
                key.data()
                ran = True
        elif timeout:
            time.sleep(timeout)
        return self._run_due_timers() or ran

    def close(self) -> None:
        self._selector.close()
