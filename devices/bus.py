"""The physical address map of system mode: which device answers an MMIO access.

A device is a data object with two small operations, `read(offset, size)` and
`write(offset, size, value)`, on its own register block; the bus finds it by address. RAM is not
on the bus: the kernels access it directly, and only accesses outside RAM reach the bus.
Stage: devices.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Protocol


class MmioDevice(Protocol):
    name: str

    def read(self, offset: int, size: int) -> int: ...

    def write(self, offset: int, size: int, value: int) -> None: ...


@dataclass
class Bus:
    """MMIO regions, sorted by base address; regions never overlap."""

    _bases: list[int] = field(default_factory=list)
    _regions: list[tuple[int, int, MmioDevice]] = field(default_factory=list)

    def attach(self, base: int, size: int, device: MmioDevice) -> None:
        i = bisect.bisect_right(self._bases, base)
        before = self._regions[i - 1] if i else None
        after = self._regions[i] if i < len(self._regions) else None
        if (before and before[0] + before[1] > base) or (after and base + size > after[0]):
            raise ValueError(f"MMIO region {device.name} at {base:#x} overlaps another")
        self._bases.insert(i, base)
        self._regions.insert(i, (base, size, device))

    def find(self, addr: int, size: int) -> tuple[MmioDevice, int] | None:
        """(device, offset) of the region holding [addr, addr+size), or None."""
        i = bisect.bisect_right(self._bases, addr) - 1
        if i < 0:
            return None
        base, length, device = self._regions[i]
        if addr + size > base + length:
            return None
        return device, addr - base

    @property
    def regions(self) -> list[tuple[int, int, MmioDevice]]:
        return list(self._regions)
