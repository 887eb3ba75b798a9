"""HTIF, the host-target interface of Spike and the riscv-tests: two 64-bit words, `tohost` and
`fromhost`, at the addresses of the ELF's symbols of those names. A program ends by writing
(code << 1) | 1 to tohost (0: pass); device 1 command 1 writes a character to the console.
Stage: devices.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from dbt.devices.finisher import PowerOff


@dataclass
class Htif:
    """The page holding tohost and fromhost; other words of the page read and write through."""

    transmit: Callable[[int], None]
    tohost_offset: int
    fromhost_offset: int | None
    #: The rest of the page's contents (the page is MMIO so that the tohost write is seen).
    page: bytearray
    name: str = "htif"
    fromhost: int = 0

    def read(self, offset: int, size: int) -> int:
        if offset == self.fromhost_offset:
            return self.fromhost & ((1 << (8 * size)) - 1)
        if offset == self.tohost_offset:
            return 0
        return int.from_bytes(self.page[offset : offset + size], "little")

    def write(self, offset: int, size: int, value: int) -> None:
        if offset == self.tohost_offset:
            self._command(value)
        elif offset == self.fromhost_offset:
            self.fromhost = value
        else:
            self.page[offset : offset + size] = (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little")

    def _command(self, value: int) -> None:
        device, command, payload = value >> 56, (value >> 48) & 0xFF, value & ((1 << 48) - 1)
        if device == 0 and command == 0 and payload & 1:
            raise PowerOff(payload >> 1)
        if device == 1 and command == 1:
            self.transmit(payload & 0xFF)
            self.fromhost = (1 << 56) | (1 << 48)
