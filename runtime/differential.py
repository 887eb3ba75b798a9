"""Differential runs: the interpreter and the JIT in lockstep, compared at every guest event.

The guest runs for real under the interpreter (process A): its system calls, signals and
output are the run's. A shadow process B holds a second copy of the guest state and runs the
same code with the JIT forced (every block compiled on its first execution, compiled in the
main thread, so the run is deterministic). Whenever A's dispatcher stops for a guest event
(a system call, a fault, a trap, a counter CSR), B runs until its own next event, and the two
must agree on the event, the x and f registers, pc, fcsr, instret, the LR/SC reservation and
every byte of mapped memory. Then A handles the event and B is brought to A's state after it:
registers, page permissions and the memory pages that differ (decoded code in pages that
changed is dropped from B, so its regions are rebuilt).

B never runs ahead of A, so an asynchronous signal A delivers between events costs only a
comparison: B is re-synchronised at that point without being compared.

Stage: runtime.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from dbt.errors import DbtError
from dbt.ir.state import (
    EXIT_CSR,
    EXIT_FAULT,
    EXIT_SYSCALL,
    EXIT_TRAP,
    F_BASE,
    FAULT_ADDR,
    FAULT_KIND,
    FFLAGS,
    FRM,
    INSTRET,
    PC,
    RESERVATION,
    RESERVED_VALUE,
)
from dbt.runtime.memory import PAGE_SHIFT, PAGE_SIZE

log = logging.getLogger("dbt.differential")

_EVENT_NAMES = {EXIT_SYSCALL: "system call", EXIT_FAULT: "fault", EXIT_TRAP: "trap", EXIT_CSR: "counter CSR"}
#: Guest-visible state words, compared and copied.
_STATE_WORDS = (PC, FFLAGS, FRM, INSTRET, RESERVATION, RESERVED_VALUE)
_STATE_NAMES = {PC: "pc", FFLAGS: "fflags", FRM: "frm", INSTRET: "instret", RESERVATION: "reservation",
                RESERVED_VALUE: "reserved value"}  # fmt: skip
#: Compare and copy memory this many pages at a time (bounds the temporary arrays).
_CHUNK_PAGES = 1 << 12


class DifferentialMismatch(DbtError):
    """The interpreter and the JIT disagree about the guest state."""

    exit_status = 125


class _Stop(Exception):
    """B reached an event: unwinds B's run loop with the exit reason."""

    def __init__(self, reason: int) -> None:
        super().__init__(reason)
        self.reason = reason


class _StopAtEvents:
    def before(self, process, reason: int) -> None:
        raise _Stop(reason)

    def after(self, process) -> None:
        pass


@dataclass
class LockstepStats:
    events: int = 0
    compared: int = 0
    resyncs: int = 0
    pages_copied: int = 0


class Lockstep:
    """Attach to an interpreter-only process A; B is created here and follows it."""

    def __init__(self, process) -> None:
        from dbt.runtime.process import GuestProcess

        if process.jit is not None:
            raise DbtError("a differential run needs the interpreter-only process as its reference")
        self.a = process
        config = process.config.with_(
            no_jit=False, jit_threshold=0, jit_threads=0, strace=False, trace=(), differential=False
        )
        self.b = GuestProcess(config)
        self.b.observer = _StopAtEvents()
        self.b.halt_pcs = process.halt_pcs
        # One set of signal dispositions: B's run loop mirrors them onto the host as A's does.
        self.b.signals = process.signals
        self.stats = LockstepStats()
        #: Mapped ranges of A at the last synchronisation (B's permissions equal A's there).
        self._ranges: list[tuple[int, int]] = []
        process.observer = self
        self.resync()

    # ---- hooks called by A's run loop ----
    def before(self, process, reason: int) -> None:
        """A stopped for an event: run B to its own next event and compare."""
        self.stats.events += 1
        b = self.b
        b.set_kernel(process.kernel)
        try:
            status = b.run()
        except _Stop as stop:
            b_reason = stop.reason
        else:
            raise self._mismatch(reason, f"the JIT tier ended the run ({status.describe()}) instead")
        if b_reason != reason:
            raise self._mismatch(reason, f"the JIT tier stopped for a {_EVENT_NAMES.get(b_reason, b_reason)}")
        self._compare(reason)
        self.stats.compared += 1

    def after(self, process) -> None:
        """A handled the event (or delivered a signal): B takes A's state."""
        self.resync()

    # ---- comparing ----
    def _compare(self, reason: int) -> None:
        a, b = self.a, self.b
        problems: list[str] = []
        for i in np.flatnonzero(a.regs[: F_BASE + 32] != b.regs[: F_BASE + 32])[:4]:
            name = f"x{i}" if i < F_BASE else f"f{i - F_BASE}"
            problems.append(f"{name} interpreter {_hex(a.regs[i])} JIT {_hex(b.regs[i])}")
        words = list(_STATE_WORDS)
        if reason in (EXIT_FAULT, EXIT_TRAP):
            words += [FAULT_ADDR, FAULT_KIND]
        for index in words:
            if a.state[index] != b.state[index]:
                name = _STATE_NAMES.get(index, f"state[{index}]")
                problems.append(f"{name} interpreter {_hex(a.state[index])} JIT {_hex(b.state[index])}")
        if not problems:
            for start, end in self._mapped(a):
                first = _first_difference(a.memory.ram, b.memory.ram, start, end)
                if first is not None:
                    mine, theirs = a.memory.ram[first], b.memory.ram[first]
                    problems.append(f"memory at {first:#x}: interpreter {mine:#04x} JIT {theirs:#04x}")
                    break
        if problems:
            raise self._mismatch(reason, "; ".join(problems))

    def _mismatch(self, reason: int, detail: str) -> DifferentialMismatch:
        pc = int(self.a.state[PC]) & (1 << 64) - 1
        event = _EVENT_NAMES.get(reason, str(reason))
        return DifferentialMismatch(
            f"interpreter and JIT differ at event {self.stats.events} ({event} at pc {pc:#x}: "
            f"{self._disassemble(pc)}, after {int(self.a.state[INSTRET]):,} instructions): {detail}"
        )

    def _disassemble(self, pc: int) -> str:
        from dbt.frontends.riscv64.disasm import format_insn

        code = self.a.memory.fetch(pc, 4)
        try:
            return format_insn(code, pc).strip() if code else "unmapped"
        except Exception:  # the message must not fail for want of a listing
            return code.hex()

    # ---- synchronising ----
    def resync(self) -> None:
        a, b = self.a, self.b
        self.stats.resyncs += 1
        b.regs[:] = a.regs
        for index in _STATE_WORDS:
            b.state[index] = a.state[index]
        ranges = self._mapped(a)
        changed: list[tuple[int, int]] = []
        # Permissions: B's were A's over the previous ranges; make them A's now.
        for start, end in _union(self._ranges, ranges):
            lo, hi = start >> PAGE_SHIFT, end >> PAGE_SHIFT
            pages = np.flatnonzero(a.memory.perm[lo:hi] != b.memory.perm[lo:hi])
            if pages.size:
                b.memory.perm[lo:hi] = a.memory.perm[lo:hi]
                changed.extend(_runs(pages + lo))
        for start, end in ranges:
            for page_start, page_end in _differing_pages(a.memory.ram, b.memory.ram, start, end):
                b.memory.ram[page_start:page_end] = a.memory.ram[page_start:page_end]
                self.stats.pages_copied += (page_end - page_start) >> PAGE_SHIFT
                changed.append((page_start >> PAGE_SHIFT, page_end >> PAGE_SHIFT))
        for lo, hi in changed:
            if b.cache.overlaps_code(lo << PAGE_SHIFT, hi << PAGE_SHIFT):
                b.cache.flush()
                break
        self._ranges = ranges

    @staticmethod
    def _mapped(process) -> list[tuple[int, int]]:
        return [(v.start, v.end) for v in process.memory.vmas]


def _hex(value) -> str:
    return f"{int(value) & (1 << 64) - 1:#x}"


def _union(first: list[tuple[int, int]], second: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(first + second):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _runs(pages: np.ndarray) -> list[tuple[int, int]]:
    """Consecutive page numbers as [lo, hi) runs."""
    if pages.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(pages) != 1) + 1
    return [(int(run[0]), int(run[-1]) + 1) for run in np.split(pages, breaks)]


def _differing_pages(x: np.ndarray, y: np.ndarray, start: int, end: int):
    """[start, end) byte ranges of the pages in [start, end) whose contents differ."""
    step = _CHUNK_PAGES * PAGE_SIZE
    for lo in range(start, end, step):
        hi = min(end, lo + step)
        a = x[lo:hi].view(np.uint64).reshape(-1, PAGE_SIZE // 8)
        b = y[lo:hi].view(np.uint64).reshape(-1, PAGE_SIZE // 8)
        pages = np.flatnonzero((a != b).any(axis=1))
        for run_lo, run_hi in _runs(pages):
            yield lo + run_lo * PAGE_SIZE, lo + run_hi * PAGE_SIZE


def _first_difference(x: np.ndarray, y: np.ndarray, start: int, end: int) -> int | None:
    for lo, hi in _differing_pages(x, y, start, end):
        return lo + int(np.flatnonzero(x[lo:hi] != y[lo:hi])[0])
    return None
