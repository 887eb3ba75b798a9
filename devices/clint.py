"""The CLINT of QEMU's virt machine (SiFive layout): msip, mtimecmp and mtime for one hart.

mtime counts at the timebase frequency from the host's monotonic clock (the `now` callable
gives it in ticks); the device service turns mtimecmp into a timer event and MTIP.
Stage: devices.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

MSIP, MTIMECMP, MTIME = 0x0, 0x4000, 0xBFF8
CLINT_SIZE = 0x10000
TIMEBASE_HZ = 10_000_000  # QEMU virt's timebase-frequency
NEVER = (1 << 64) - 1


def _merge(old: int, offset: int, size: int, value: int) -> int:
    """A 32-bit or 64-bit write into part of a 64-bit register."""
    shift = 8 * (offset & 7)
    mask = ((1 << (8 * size)) - 1) << shift
    return (old & ~mask) | ((value << shift) & mask)


@dataclass
class Clint:
    now: Callable[[], int]
    name: str = "clint"
    msip: int = 0
    mtimecmp: int = NEVER
    #: mtime = now() + offset (a guest write of mtime moves the offset).
    offset: int = 0

    @property
    def mtime(self) -> int:
        return (self.now() + self.offset) & NEVER

    def read(self, offset: int, size: int) -> int:
        shift = 8 * (offset & 7)
        mask = (1 << (8 * size)) - 1
        if offset == MSIP:
            return self.msip
        if MTIMECMP <= offset < MTIMECMP + 8:
            return (self.mtimecmp >> shift) & mask
        if MTIME <= offset < MTIME + 8:
            return (self.mtime >> shift) & mask
        return 0

    def write(self, offset: int, size: int, value: int) -> None:
        if offset == MSIP:
            self.msip = value & 1
        elif MTIMECMP <= offset < MTIMECMP + 8:
            self.mtimecmp = _merge(self.mtimecmp, offset - MTIMECMP, size, value)
        elif MTIME <= offset < MTIME + 8:
            wanted = _merge(self.mtime, offset - MTIME, size, value)
            self.offset = (wanted - self.now()) & NEVER
