"""The translator reuses the ops of an instruction word whose lifter did not read the pc
(translate._lifted): for every row of the encoding table, a block lifted with those ops at
another pc must equal one lifted afresh there."""

from __future__ import annotations

import numpy as np
import pytest

from dbt.frontends.riscv64 import _decoder as table
from dbt.frontends.riscv64 import translate
from dbt.frontends.riscv64.translate import lift_block

FIRST, SECOND = 0x8020_0000, 0x1_0000_1236  # (the second not 4-byte aligned: compressed code)


def _words() -> list[int]:
    """Each row's match value with registers and immediates of its own (x5..x7, a nonzero
    immediate field): some encodings with all-zero fields are reserved."""
    words = []
    for row, (mask, match) in enumerate(zip(table.MASK, table.MATCH, strict=True)):
        free = ~mask & (0xFFFF if table.SIZE[row] == 2 else 0xFFFFFFFF)
        words.append(match | (0x5A5A5A5A & free))
        words.append(match | (0x0C8A_0280 & free))
    return words


def _lift(word: int, pc: int, fresh: bool):
    if fresh:
        translate._lifted.clear()
    size = 2 if word & 3 != 3 else 4
    code = word.to_bytes(size, "little") + (0x0000006F).to_bytes(4, "little")  # then j .
    return lift_block(code, pc, 8).block


@pytest.mark.parametrize("word", _words(), ids=lambda w: f"{w:08x}")
def test_reused_ops_equal_a_fresh_lift(word):
    _lift(word, FIRST, fresh=True)  # (the word's ops are kept if its lifter did not read pc)
    reused = _lift(word, SECOND, fresh=False)
    fresh = _lift(word, SECOND, fresh=True)
    assert (reused.insns, reused.end_pc) == (fresh.insns, fresh.end_pc)
    assert np.array_equal(reused.code, fresh.code)


def test_pc_relative_words_are_not_kept():
    auipc = 0x00001297  # auipc t0, 1
    _lift(auipc, FIRST, fresh=True)
    assert auipc not in translate._lifted
    addi = 0x00128293
    _lift(addi, FIRST, fresh=True)
    assert addi in translate._lifted
