"""Bit manipulation (Zba, Zbb, Zbc, Zbs, Zbkb, Zbkc, Zbkx) and integer conditional ops (Zicond).

Every instruction here is one ALU op; the arithmetic is in dbt.ir.semantics. The immediate
forms (rori, bseti, slli.uw, ...) take their shift amount or bit index from the imm slot.
"""

from __future__ import annotations

from dbt.frontends.riscv64.decoder import Insn
from dbt.frontends.riscv64.lift.common import ri, rr, xd
from dbt.ir.builder import BlockBuilder

#: Register-register instructions: base name -> IR op.
_RR = {
    "sh1add": "sh1add",
    "sh2add": "sh2add",
    "sh3add": "sh3add",
    "add.uw": "add_uw",
    "sh1add.uw": "sh1add_uw",
    "sh2add.uw": "sh2add_uw",
    "sh3add.uw": "sh3add_uw",
    "andn": "andn",
    "orn": "orn",
    "xnor": "xnor",
    "max": "max",
    "maxu": "maxu",
    "min": "min",
    "minu": "minu",
    "rol": "rol",
    "ror": "ror",
    "rolw": "rolw",
    "rorw": "rorw",
    "clmul": "clmul",
    "clmulh": "clmulh",
    "clmulr": "clmulr",
    "bclr": "bclr",
    "bext": "bext",
    "binv": "binv",
    "bset": "bset",
    "pack": "pack",
    "packh": "packh",
    "packw": "packw",
    "xperm4": "xperm4",
    "xperm8": "xperm8",
    "czero.eqz": "czero_eqz",
    "czero.nez": "czero_nez",
}
#: Register-immediate instructions.
_RI = {
    "slli.uw": "slli_uw",
    "rori": "ror_i",
    "roriw": "rorw_i",
    "bclri": "bclr_i",
    "bexti": "bext_i",
    "binvi": "binv_i",
    "bseti": "bset_i",
}
#: One-operand instructions.
_R = {
    "clz": "clz",
    "ctz": "ctz",
    "cpop": "cpop",
    "clzw": "clzw",
    "ctzw": "ctzw",
    "cpopw": "cpopw",
    "sext.b": "sext_b",
    "sext.h": "sext_h",
    "zext.h": "zext_h",
    "orc.b": "orc_b",
    "rev8": "rev8",
    "brev8": "brev8",
}


def _lift_rr(b: BlockBuilder, i: Insn) -> bool:
    return rr(b, _RR[i.name], i)


def _lift_ri(b: BlockBuilder, i: Insn) -> bool:
    return ri(b, _RI[i.name], i)


def _lift_r(b: BlockBuilder, i: Insn) -> bool:
    b.emit(_R[i.name], rd=xd(i.rd), rs1=i.rs1)
    return True


def lifters() -> dict[str, object]:
    """Base instruction name -> lifter, for every instruction of this module."""
    table: dict[str, object] = {}
    for names, fn in ((_RR, _lift_rr), (_RI, _lift_ri), (_R, _lift_r)):
        for name in names:
            table[name] = fn
    return table
