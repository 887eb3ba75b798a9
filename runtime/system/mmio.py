"""Decoding the load or store that touched an address outside RAM, so the device models can
perform it (the kernels report the fault; Python finishes the instruction).
Stage: runtime (system mode).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Access:
    store: bool
    size: int
    signed: bool
    #: The destination register of a load, the source register of a store.
    reg: int
    #: Instruction length in bytes.
    length: int


_LOADS = {0: (1, True), 1: (2, True), 2: (4, True), 3: (8, True), 4: (1, False), 5: (2, False), 6: (4, False)}
_STORES = {0: 1, 1: 2, 2: 4, 3: 8}


def decode_access(word: int) -> Access | None:
    """The integer load or store `word` encodes, or None (FP, atomics and others are not MMIO
    accesses dbt performs: they fault)."""
    if word & 3 != 3:
        return _decode_compressed(word & 0xFFFF)
    opcode, funct3 = word & 0x7F, (word >> 12) & 7
    if opcode == 0x03 and funct3 in _LOADS:
        size, signed = _LOADS[funct3]
        return Access(False, size, signed, (word >> 7) & 31, 4)
    if opcode == 0x23 and funct3 in _STORES:
        return Access(True, _STORES[funct3], False, (word >> 20) & 31, 4)
    return None


def _decode_compressed(half: int) -> Access | None:
    quadrant, funct3 = half & 3, half >> 13
    if quadrant == 0:
        reg = 8 + ((half >> 2) & 7)
        kinds = {2: (False, 4, True), 3: (False, 8, True), 6: (True, 4, False), 7: (True, 8, False)}
    elif quadrant == 2:
        kinds = {2: (False, 4, True), 3: (False, 8, True), 6: (True, 4, False), 7: (True, 8, False)}
        store = funct3 in (6, 7)
        reg = (half >> 2) & 31 if store else (half >> 7) & 31
    else:
        return None
    if funct3 not in kinds:
        return None
    store, size, signed = kinds[funct3]
    return Access(store, size, signed, reg, 2)
