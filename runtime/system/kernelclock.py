"""The time CSR inside the kernels: what Python tells them as it enters them, and the
calibration of the host's cycle counter against its monotonic clock (see ir.state's TIME_*
words and ir.semantics.csr_counter).

A kernel's reading is the host clock Python read as it called the kernel, plus the cycles since
the kernel started, times the calibrated ns per cycle. The scale is made a little low, so a
reading never runs ahead of the host clock: the next one Python takes (an exit, the next call)
is never earlier, and the guest's time never goes back. Until the first calibration (0.1 s into
the run), and where the mode may not read time, every read exits to Python as before.
Stage: runtime.
"""

from __future__ import annotations

import time

import numpy as np

from dbt.ir.state import TIME_CYCLES, TIME_NS, TIME_NS_PER_TICK, TIME_OFFSET, TIME_SCALE, TIME_SCALE_SHIFT
from dbt.runtime.int64 import to_int64
from dbt.runtime.system.hart import PRV_M, PRV_S, Hart

#: Calls that calibrate: only those that returned within this of the clock read before them, so
#: the cycle count the kernel read at its start lies at most this far after that clock reading
#: (a thread preempted in between would otherwise make the counter look slower than it is,
#: and the guest's time run ahead of the host's).
SHORT_CALL_NS = 50_000
#: Baselines of the first calibrations (then one a second, over an ever longer baseline).
FIRST_BASELINE_NS, BASELINE_NS = 100_000_000, 1_000_000_000
#: Least margin: how much slower than the measured rate the kernels count (a reading lags the
#: host clock by at most this much of a kernel call's length, 10 us of a 10 ms call). It covers
#: NTP slewing the host clock (at most 500 ppm); the margin also covers twice the error
#: SHORT_CALL_NS can make over the baseline.
MIN_BIAS = 1e-3
#: The time CSR's bit in mcounteren and scounteren.
TM = 1 << 1


class KernelClock:
    """Calibration and per-call words for one hart's kernels."""

    def __init__(self, state: np.ndarray, hart: Hart, t0_ns: int, ns_per_tick: int) -> None:
        self.state = state
        self.hart = hart
        self.t0_ns = t0_ns
        state[TIME_NS_PER_TICK] = ns_per_tick
        #: (ns, cycles) of the first call: the calibration's base.
        self._base: tuple[int, int] | None = None
        self._due_ns = 0
        #: ns per cycle << TIME_SCALE_SHIFT, a little low; 0 until calibrated.
        self.scale = 0

    def enter(self, offset: int) -> int:
        """Set the words for a kernel call (`offset`: the CLINT's); returns the clock read."""
        state, hart = self.state, self.hart
        now = time.monotonic_ns() - self.t0_ns
        state[TIME_NS] = now
        state[TIME_OFFSET] = to_int64(offset)
        priv = hart.priv
        readable = priv == PRV_M or (hart.mcounteren & TM and (priv == PRV_S or hart.scounteren & TM))
        state[TIME_SCALE] = self.scale if readable else 0
        return now

    def left(self, now: int) -> None:
        """After a kernel call entered at `now`: calibrate when one is due and the call was short."""
        if now < self._due_ns or time.monotonic_ns() - self.t0_ns - now > SHORT_CALL_NS:
            return
        cycles = int(self.state[TIME_CYCLES])
        if self._base is None:
            self._base, self._due_ns = (now, cycles), now + FIRST_BASELINE_NS
            return
        base_ns, base_cycles = self._base
        if cycles <= base_cycles:  # no cycle counter (0), or it went back: leave reads to Python
            self.scale, self._due_ns = 0, 1 << 62
            return
        baseline = now - base_ns
        exact = (baseline << TIME_SCALE_SHIFT) / (cycles - base_cycles)
        self.scale = int(exact * (1 - max(MIN_BIAS, 4 * SHORT_CALL_NS / baseline)))
        self._due_ns = now + BASELINE_NS
