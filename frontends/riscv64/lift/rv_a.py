"""RV64A: load-reserved/store-conditional and atomic memory operations.

aq/rl need no code: user-mode dbt runs one hart, so every access is already ordered.
"""

from __future__ import annotations

from dbt.frontends.riscv64.decoder import Insn
from dbt.frontends.riscv64.lift.common import rr, xd
from dbt.ir.builder import BlockBuilder


def _lr(b: BlockBuilder, op: str, i: Insn) -> bool:
    b.emit(op, rd=xd(i.rd), rs1=i.rs1)
    return True


def lift_lr_w(b: BlockBuilder, i: Insn) -> bool:
    return _lr(b, "lr_w", i)


def lift_lr_d(b: BlockBuilder, i: Insn) -> bool:
    return _lr(b, "lr_d", i)


def lift_sc_w(b: BlockBuilder, i: Insn) -> bool:
    return rr(b, "sc_w", i)


def lift_sc_d(b: BlockBuilder, i: Insn) -> bool:
    return rr(b, "sc_d", i)


def lift_amoswap_w(b: BlockBuilder, i: Insn) -> bool:
    return rr(b, "amoswap_w", i)


def lift_amoadd_w(b: BlockBuilder, i: Insn) -> bool:
    return rr(b, "amoadd_w", i)


def lift_amoxor_w(b: BlockBuilder, i: Insn) -> bool:
    return rr(b, "amoxor_w", i)


def lift_amoand_w(b: BlockBuilder, i: Insn) -> bool:
    return rr(b, "amoand_w", i)


def lift_amoor_w(b: BlockBuilder, i: Insn) -> bool:
    return rr(b, "amoor_w", i)


def lift_amomin_w(b: BlockBuilder, i: Insn) -> bool:
    return rr(b, "amomin_w", i)


def lift_amomax_w(b: BlockBuilder, i: Insn) -> bool:
    return rr(b, "amomax_w", i)


def lift_amominu_w(b: BlockBuilder, i: Insn) -> bool:
    return rr(b, "amominu_w", i)


def lift_amomaxu_w(b: BlockBuilder, i: Insn) -> bool:
    return rr(b, "amomaxu_w", i)


def lift_amoswap_d(b: BlockBuilder, i: Insn) -> bool:
    return rr(b, "amoswap_d", i)


def lift_amoadd_d(b: BlockBuilder, i: Insn) -> bool:
    return rr(b, "amoadd_d", i)


def lift_amoxor_d(b: BlockBuilder, i: Insn) -> bool:
    return rr(b, "amoxor_d", i)


def lift_amoand_d(b: BlockBuilder, i: Insn) -> bool:
    return rr(b, "amoand_d", i)


def lift_amoor_d(b: BlockBuilder, i: Insn) -> bool:
    return rr(b, "amoor_d", i)


def lift_amomin_d(b: BlockBuilder, i: Insn) -> bool:
    return rr(b, "amomin_d", i)


def lift_amomax_d(b: BlockBuilder, i: Insn) -> bool:
    return rr(b, "amomax_d", i)


def lift_amominu_d(b: BlockBuilder, i: Insn) -> bool:
    return rr(b, "amominu_d", i)


def lift_amomaxu_d(b: BlockBuilder, i: Insn) -> bool:
    return rr(b, "amomaxu_d", i)
