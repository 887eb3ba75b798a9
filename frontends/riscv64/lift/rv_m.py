"""RV64M: integer multiplication and division."""

from __future__ import annotations

from dbt.frontends.riscv64.decoder import Insn
from dbt.frontends.riscv64.lift.common import rr
from dbt.ir.builder import BlockBuilder


def lift_mul(b: BlockBuilder, i: Insn) -> bool:
    return rr(b, "mul", i)


def lift_mulh(b: BlockBuilder, i: Insn) -> bool:
    return rr(b, "mulh", i)


def lift_mulhsu(b: BlockBuilder, i: Insn) -> bool:
    return rr(b, "mulhsu", i)


def lift_mulhu(b: BlockBuilder, i: Insn) -> bool:
    return rr(b, "mulhu", i)


def lift_div(b: BlockBuilder, i: Insn) -> bool:
    return rr(b, "div", i)


def lift_divu(b: BlockBuilder, i: Insn) -> bool:
    return rr(b, "divu", i)


def lift_rem(b: BlockBuilder, i: Insn) -> bool:
    return rr(b, "rem", i)


def lift_remu(b: BlockBuilder, i: Insn) -> bool:
    return rr(b, "remu", i)


def lift_mulw(b: BlockBuilder, i: Insn) -> bool:
    return rr(b, "mulw", i)


def lift_divw(b: BlockBuilder, i: Insn) -> bool:
    return rr(b, "divw", i)


def lift_divuw(b: BlockBuilder, i: Insn) -> bool:
    return rr(b, "divuw", i)


def lift_remw(b: BlockBuilder, i: Insn) -> bool:
    return rr(b, "remw", i)


def lift_remuw(b: BlockBuilder, i: Insn) -> bool:
    return rr(b, "remuw", i)
