"""The event loop's timing, on a clock the test moves (no sleeping), and its descriptors."""

from __future__ import annotations

import os

from dbt.runtime.system.events import EventLoop


class FakeClock:
    def __init__(self) -> None:
        self.now = 0

    def __call__(self) -> int:
        return self.now


def test_timers_fire_in_deadline_order_when_due():
    clock = FakeClock()
    loop = EventLoop(clock)
    fired = []
    loop.call_at(300, lambda: fired.append("c"))
    loop.call_at(100, lambda: fired.append("a"))
    loop.call_at(200, lambda: fired.append("b"))
    assert loop.next_deadline() == 100
    assert not loop.poll() and fired == []
    clock.now = 250
    assert loop.poll()
    assert fired == ["a", "b"] and loop.next_deadline() == 300


def test_cancelled_timers_never_fire():
    clock = FakeClock()
    loop = EventLoop(clock)
    fired = []
    event = loop.call_at(10, lambda: fired.append(1))
    loop.call_at(20, lambda: fired.append(2))
    event.cancel()
    assert loop.next_deadline() == 20
    clock.now = 30
    loop.poll()
    assert fired == [2] and loop.next_deadline() is None


def test_wait_returns_for_a_due_timer_without_sleeping():
    clock = FakeClock()
    loop = EventLoop(clock)
    fired = []
    loop.call_at(0, lambda: fired.append(1))  # already due: a wait takes no time
    assert loop.poll(wait=True)
    assert fired == [1]


def test_readable_descriptor_runs_its_callback():
    loop = EventLoop(FakeClock())
    read_fd, write_fd = os.pipe()
    got = []
    loop.add_reader(read_fd, lambda: got.append(os.read(read_fd, 10)))
    assert not loop.poll()
    os.write(write_fd, b"hi")
    assert loop.poll(wait=True, limit_ns=10**9)
    assert got == [b"hi"]
    loop.remove_reader(read_fd)
    assert not loop.has_readers
    os.close(read_fd)
    os.close(write_fd)
    loop.close()


def test_waiting_with_nothing_to_wait_for_is_an_error():
    import pytest

    loop = EventLoop(FakeClock())
    with pytest.raises(RuntimeError):
        loop.poll(wait=True)
