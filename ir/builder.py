"""Building and encoding IR blocks.

A frontend lifts each guest instruction of a block through `BlockBuilder`, which tags every op
with the guest pc and the instruction's index in the block (for precise faults and retired
instruction counts) and encodes the block into rows of the int64 code array the tiers run.
Stage: IR.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dbt.ir.ops import OP, OPS
from dbt.ir.state import OP_WORDS, PC_BITS, PC_MASK


@dataclass(slots=True)
class Block:
    """A decoded guest basic block."""

    pc: int
    #: Encoded ops, shape (n, OP_WORDS).
    code: np.ndarray
    #: Guest instructions in the block.
    insns: int
    #: Guest address just past the block's last instruction.
    end_pc: int
    #: (pc, size) of each guest instruction, for tracing and invalidation.
    insn_spans: list[tuple[int, int]] = field(default_factory=list)


class BlockBuilder:
    """Collects the ops of one block while a frontend lifts its instructions."""

    __slots__ = ("_insn_pc", "ended", "insn_index", "ops", "pc", "spans")

    def __init__(self, pc: int) -> None:
        self.pc = pc
        self.ops: list[tuple[int, int, int, int]] = []
        self.insn_index = -1
        self._insn_pc = pc
        self.ended = False
        self.spans: list[tuple[int, int]] = []

    def begin_insn(self, pc: int, size: int) -> None:
        """Start lifting the guest instruction at pc."""
        self.insn_index += 1
        self._insn_pc = pc
        self.spans.append((pc, size))

    def emit(
        self,
        op: str,
        rd: int = 0,
        rs1: int = 0,
        rs2: int = 0,
        rs3: int = 0,
        aux: int = 0,
        imm: int = 0,
        extra: int = 0,
    ) -> None:
        number = OP[op]
        word0 = number | rd << 16 | rs1 << 24 | rs2 << 32 | rs3 << 40 | aux << 48
        if word0 >= 1 << 63:
            word0 -= 1 << 64
        location = (self._insn_pc & PC_MASK) | self.insn_index << PC_BITS
        self.ops.append((word0, _wrap(imm), location, _wrap(extra)))
        if OPS[number].ends_block:
            self.ended = True

    def finish(self, end_pc: int) -> Block:
        code = np.array(self.ops, dtype=np.int64).reshape(-1, OP_WORDS)
        return Block(self.pc, code, self.insn_index + 1, end_pc, self.spans)


def _wrap(value: int) -> int:
    """Two's complement int64 of a Python int (guest addresses and immediates wrap at 64 bits)."""
    value &= (1 << 64) - 1
    return value - (1 << 64) if value >= 1 << 63 else value
