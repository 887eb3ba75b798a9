"""Decoding the load or store the kernels handed back, so Python can finish it: an access outside
RAM that the device models perform, or (under translation) one that crosses into another page.
Stage: runtime (system mode).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Access:
    store: bool
    size: int
    signed: bool
    #: The destination register of a load, the source register of a store (an f register when
    #: `fp`).
    reg: int
    #: Instruction length in bytes.
    length: int
    #: The address is x[base] + offset.
    base: int = 0
    offset: int = 0
    fp: bool = False


_LOADS = {0: (1, True), 1: (2, True), 2: (4, True), 3: (8, True), 4: (1, False), 5: (2, False), 6: (4, False)}
_STORES = {0: 1, 1: 2, 2: 4, 3: 8}
_FP_SIZES = {2: 4, 3: 8}


def _signed12(value: int) -> int:
    return value - 4096 if value & 2048 else value


def decode_access(word: int) -> Access | None:
    """The load or store (integer or floating-point) `word` encodes, or None (atomics and
    everything else)."""
    if word & 3 != 3:
        return _decode_compressed(word & 0xFFFF)
    opcode, funct3, rd, rs1 = word & 0x7F, (word >> 12) & 7, (word >> 7) & 31, (word >> 15) & 31
    load_offset = _signed12(word >> 20)
    store_offset = _signed12(((word >> 25) << 5) | rd)
    if opcode == 0x03 and funct3 in _LOADS:
        size, signed = _LOADS[funct3]
        return Access(False, size, signed, rd, 4, rs1, load_offset)
    if opcode == 0x23 and funct3 in _STORES:
        return Access(True, _STORES[funct3], False, (word >> 20) & 31, 4, rs1, store_offset)
    if opcode == 0x07 and funct3 in _FP_SIZES:
        return Access(False, _FP_SIZES[funct3], False, rd, 4, rs1, load_offset, fp=True)
    if opcode == 0x27 and funct3 in _FP_SIZES:
        return Access(True, _FP_SIZES[funct3], False, (word >> 20) & 31, 4, rs1, store_offset, fp=True)
    return None


def _bits(half: int, high: int, low: int, to: int) -> int:
    """Bits high..low of `half`, placed at bit `to` upward."""
    return ((half >> low) & ((1 << (high - low + 1)) - 1)) << to


def _decode_compressed(half: int) -> Access | None:
    quadrant, funct3 = half & 3, half >> 13
    if quadrant == 0 and funct3 in (1, 2, 3, 5, 6, 7):
        reg, base = 8 + ((half >> 2) & 7), 8 + ((half >> 7) & 7)
        if funct3 in (2, 6):  # c.lw, c.sw
            offset = _bits(half, 12, 10, 3) | _bits(half, 6, 6, 2) | _bits(half, 5, 5, 6)
        else:  # c.fld, c.ld, c.fsd, c.sd
            offset = _bits(half, 12, 10, 3) | _bits(half, 6, 5, 6)
    elif quadrant == 2 and funct3 in (1, 2, 3, 5, 6, 7):
        base = 2
        store = funct3 >= 5
        reg = (half >> 2) & 31 if store else (half >> 7) & 31
        if funct3 == 2:  # c.lwsp
            offset = _bits(half, 12, 12, 5) | _bits(half, 6, 4, 2) | _bits(half, 3, 2, 6)
        elif funct3 in (1, 3):  # c.fldsp, c.ldsp
            offset = _bits(half, 12, 12, 5) | _bits(half, 6, 5, 3) | _bits(half, 4, 2, 6)
        elif funct3 == 6:  # c.swsp
            offset = _bits(half, 12, 9, 2) | _bits(half, 8, 7, 6)
        else:  # c.fsdsp, c.sdsp
            offset = _bits(half, 12, 10, 3) | _bits(half, 9, 7, 6)
        if not store and reg == 0 and funct3 != 1:
            return None  # reserved encodings
    else:
        return None
    store = funct3 >= 5
    size = 4 if funct3 in (2, 6) else 8
    return Access(store, size, not store and size == 4, reg, 2, base, offset, fp=funct3 in (1, 5))
