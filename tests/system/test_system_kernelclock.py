"""The time CSR in the kernels: the words Python sets as it enters them (runtime.system.
kernelclock), the calibration of the host's cycle counter, and the kernels' reading
(ir.semantics.csr_counter). The end-to-end check, that time never goes back whoever reads it,
is the bare-metal guest clock.c (test_system_boot)."""

from __future__ import annotations

import numpy as np
import pytest

from dbt.ir import semantics
from dbt.ir.state import (
    STATE_WORDS_SYSTEM,
    TIME_CYCLES,
    TIME_NS,
    TIME_NS_PER_TICK,
    TIME_OFFSET,
    TIME_SCALE,
    TIME_SCALE_SHIFT,
)
from dbt.runtime.system import kernelclock
from dbt.runtime.system.hart import PRV_M, PRV_S, PRV_U, Hart

CSR_CYCLE = 0xC00


@pytest.fixture
def clock(monkeypatch):
    state = np.zeros(STATE_WORDS_SYSTEM, dtype=np.int64)
    hart = Hart(instret=lambda: 0, mtime=lambda: 0, words=state)
    now = [10_000]
    monkeypatch.setattr(kernelclock.time, "monotonic_ns", lambda: now[0])
    return kernelclock.KernelClock(state, hart, t0_ns=0, ns_per_tick=100), now


def _call(clock: kernelclock.KernelClock, now: list[int], ns: int, cycles: int, length: int = 1000) -> None:
    """A kernel call at host time `ns`, `length` ns long, that read the cycle counter as `cycles`."""
    now[0] = ns
    entered = clock.enter(offset=0)
    clock.state[TIME_CYCLES] = cycles
    now[0] = ns + length
    clock.left(entered)


def test_calibration_from_short_calls_counts_a_little_slow(clock):
    clock, now = clock
    _call(clock, now, 1_000_000, 5_000_000)
    _call(clock, now, 50_000_000, 5_000_000 + 2 * 49_000_000)
    assert clock.scale == 0  # not yet: the baseline is short
    # a long call (preempted before the kernel read the counter, say) does not calibrate
    _call(clock, now, 101_000_000, 5_000_000 + 2 * 99_000_000, length=kernelclock.SHORT_CALL_NS + 1)
    assert clock.scale == 0
    _call(clock, now, 101_000_000, 5_000_000 + 2 * 100_000_000)  # 2 cycles a ns
    exact = (1 << TIME_SCALE_SHIFT) / 2
    margin = 4 * kernelclock.SHORT_CALL_NS / 100_000_000
    assert clock.scale == int(exact * (1 - margin))
    _call(clock, now, 1_101_000_000, 5_000_000 + 2 * 1_100_000_000)  # a second later: closer
    assert clock.scale == int(exact * (1 - kernelclock.MIN_BIAS))
    clock.hart.priv = PRV_M
    clock.enter(offset=-5)
    assert clock.state[TIME_SCALE] == clock.scale and clock.state[TIME_OFFSET] == -5
    assert clock.state[TIME_NS] == now[0] and clock.state[TIME_NS_PER_TICK] == 100


def test_a_host_without_a_cycle_counter_leaves_time_to_python(clock):
    clock, now = clock
    _call(clock, now, 1_000_000, 0)
    _call(clock, now, 200_000_000, 0)
    assert clock.scale == 0
    _call(clock, now, 2_000_000_000, 0)
    assert clock.scale == 0


@pytest.mark.parametrize(
    ("priv", "mcounteren", "scounteren", "readable"),
    [
        (PRV_M, 0, 0, True),
        (PRV_S, 0, 2, False),
        (PRV_S, 2, 0, True),
        (PRV_U, 2, 0, False),
        (PRV_U, 0, 2, False),
        (PRV_U, 2, 2, True),
    ],
)
def test_the_kernels_read_time_only_where_the_mode_may(clock, priv, mcounteren, scounteren, readable):
    """Elsewhere the read exits, and Python raises the illegal instruction."""
    clock, _now = clock
    clock.scale = 12345
    clock.hart.priv, clock.hart.mcounteren, clock.hart.scounteren = priv, mcounteren, scounteren
    clock.enter(offset=0)
    assert clock.state[TIME_SCALE] == (12345 if readable else 0)


def test_the_kernels_reading():
    state = np.zeros(STATE_WORDS_SYSTEM, dtype=np.int64)
    state[TIME_NS], state[TIME_NS_PER_TICK], state[TIME_OFFSET] = 5_000_000, 100, 7
    assert semantics.csr_counter(state, semantics.CSR_TIME) == (False, 0)  # not calibrated
    state[TIME_SCALE] = 1 << TIME_SCALE_SHIFT  # one ns a cycle
    assert semantics.csr_counter(state, CSR_CYCLE) == (False, 0)  # cycle and instret: Python's
    state[TIME_CYCLES] = 1 << 62  # a counter behind the one the kernel started with counts 0
    assert semantics.csr_counter(state, semantics.CSR_TIME) == (True, 5_000_000 // 100 + 7)
    state[TIME_CYCLES], state[TIME_SCALE] = 0, 1  # every cycle since the host started
    done, value = semantics.csr_counter(state, semantics.CSR_TIME)
    assert done and value > 5_000_000 // 100 + 7
