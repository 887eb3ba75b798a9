"""RV64GC decoding: instruction words to `Insn` records, through the generated `_decoder`.

Compressed instructions come out already expanded: an Insn names its 32-bit base instruction
(c.addi -> addi) so the lifters never see RVC. Decoding is a pure function of the word, so
results are memoised. Stage: frontend.
"""

from __future__ import annotations

from dataclasses import dataclass

from dbt.frontends.riscv64 import _decoder as gen


@dataclass(frozen=True, slots=True)
class Insn:
    """One decoded instruction, with the operands of its base (32-bit) form."""

    #: Base instruction name, e.g. "addi" (also for c.addi).
    name: str
    #: The table row that matched, e.g. "c.addi".
    row: str
    extension: str
    #: Length in bytes: 2 (compressed) or 4.
    size: int
    raw: int
    rd: int
    rs1: int
    rs2: int
    rs3: int
    imm: int
    rm: int
    csr: int


_cache: dict[int, Insn | None] = {}


def insn_size(low_half: int) -> int:
    """Length in bytes of the instruction whose first 16 bits are given (0: longer than 32 bits)."""
    if low_half & 3 != 3:
        return 2
    if low_half & 0x1F != 0x1F:
        return 4
    return 0


def decode(word: int) -> Insn | None:
    """Decode the instruction at the start of `word` (32 bits, little-endian fetch).

    Returns None for an illegal, reserved or unsupported encoding (the guest gets SIGILL).
    """
    size = insn_size(word & 0xFFFF)
    if size == 2:
        word &= 0xFFFF
    try:
        return _cache[word]
    except KeyError:
        pass
    insn = _decode_uncached(word, size)
    if len(_cache) > 1 << 20:
        _cache.clear()
    _cache[word] = insn
    return insn


def _decode_uncached(word: int, size: int) -> Insn | None:
    if size == 2:
        row = gen.decode16(word)
    elif size == 4:
        row = gen.decode32(word)
    else:
        return None
    if row < 0:
        return None
    operands = gen.OPERANDS[row](word)
    if operands is None:
        return None
    rd, rs1, rs2, rs3, imm, rm, csr = operands
    return Insn(
        gen.BASE[row], gen.NAMES[row], gen.EXTENSION[row], size, word, rd, rs1, rs2, rs3, imm, rm, csr
    )
