"""Register mapping and small emit helpers shared by the lifters."""

from __future__ import annotations

from dbt.frontends.riscv64.decoder import Insn
from dbt.ir.builder import BlockBuilder
from dbt.ir.state import F_BASE, SINK


def xd(r: int) -> int:
    """Slot an integer destination register writes: x0's writes go to the sink."""
    return r if r else SINK


def f(r: int) -> int:
    """Slot of floating-point register f<r>."""
    return F_BASE + r


def rr(b: BlockBuilder, op: str, i: Insn) -> bool:
    """rd <- op(rs1, rs2) on integer registers."""
    b.emit(op, rd=xd(i.rd), rs1=i.rs1, rs2=i.rs2)
    return True


def ri(b: BlockBuilder, op: str, i: Insn) -> bool:
    """rd <- op(rs1, imm) on integer registers."""
    b.emit(op, rd=xd(i.rd), rs1=i.rs1, imm=i.imm)
    return True
