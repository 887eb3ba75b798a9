"""RV64A (LR/SC and AMOs), Zabha (byte and halfword AMOs) and Zacas (compare-and-swap).

aq/rl need no code: user-mode dbt runs one hart, so every access is already ordered.
"""

from __future__ import annotations

from dbt.frontends.riscv64.decoder import Insn
from dbt.frontends.riscv64.lift.common import rr, xd
from dbt.ir.builder import BlockBuilder
from dbt.ir.state import SINK


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


# Zabha: byte and halfword AMOs (the same semantics, sized).
def _amo_sized(b: BlockBuilder, i: Insn) -> bool:
    return rr(b, i.name.replace(".", "_"), i)


lift_amoswap_b = lift_amoadd_b = lift_amoxor_b = lift_amoand_b = lift_amoor_b = _amo_sized
lift_amomin_b = lift_amomax_b = lift_amominu_b = lift_amomaxu_b = _amo_sized
lift_amoswap_h = lift_amoadd_h = lift_amoxor_h = lift_amoand_h = lift_amoor_h = _amo_sized
lift_amomin_h = lift_amomax_h = lift_amominu_h = lift_amomaxu_h = _amo_sized


# Zacas: rd is read (the expected value; x0 reads 0) and written (the old memory value).
def _amocas(b: BlockBuilder, i: Insn) -> bool:
    b.emit(i.name.replace(".", "_"), rd=xd(i.rd), rs1=i.rs1, rs2=i.rs2, rs3=i.rd)
    return True


lift_amocas_b = lift_amocas_h = lift_amocas_w = lift_amocas_d = _amocas


def lift_amocas_q(b: BlockBuilder, i: Insn) -> bool:
    # Register pairs (even, even + 1); an odd rd or rs2 is reserved. The pair x0 reads as zero and
    # its writes are dropped (x0 + 1 is not touched).
    if i.rd % 2 or i.rs2 % 2:
        return False
    dest_hi = i.rd + 1 if i.rd else SINK
    cmp_hi = i.rd + 1 if i.rd else 0
    src_hi = i.rs2 + 1 if i.rs2 else 0
    b.emit("amocas_q", rd=xd(i.rd), rs1=i.rs1, rs2=i.rs2, rs3=i.rd, imm=dest_hi | cmp_hi << 8 | src_hi << 16)
    return True
