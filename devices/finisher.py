"""QEMU virt's "test" device (sifive,test1) at 0x100000: the guest powers the machine off
(0x5555), reports a failure code (0x3333 | code << 16) or asks for a reset (0x7777). OpenSBI's
system reset and Linux's poweroff (syscon-poweroff) write it.
Stage: devices.
"""

from __future__ import annotations

from dataclasses import dataclass

FINISHER_SIZE = 0x1000
FINISHER_FAIL, FINISHER_PASS, FINISHER_RESET = 0x3333, 0x5555, 0x7777


class PowerOff(Exception):
    """The guest turned the machine off: `code` is the exit status it asked for."""

    def __init__(self, code: int) -> None:
        super().__init__(f"power off, status {code}")
        self.code = code


class Reset(Exception):
    """The guest asked for a reset."""


@dataclass
class Finisher:
    name: str = "test"

    def read(self, offset: int, size: int) -> int:
        return 0

    def write(self, offset: int, size: int, value: int) -> None:
        if offset != 0:
            return
        status = value & 0xFFFF
        if status == FINISHER_PASS:
            raise PowerOff(0)
        if status == FINISHER_FAIL:
            raise PowerOff((value >> 16) & 0xFFFF)
        if status == FINISHER_RESET:
            raise Reset()
