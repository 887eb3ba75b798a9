"""RV64F and RV64D: single- and double-precision floating point.

Rounding modes 5 and 6 are reserved: such an instruction is illegal. rm = 7 (dynamic) is
resolved at run time from frm, where an invalid frm is illegal too.
"""

from __future__ import annotations

from dbt.frontends.riscv64.decoder import Insn
from dbt.frontends.riscv64.lift.common import f, xd
from dbt.ir.builder import BlockBuilder

RESERVED_RM = (5, 6)


def _op(i: Insn) -> str:
    return i.name.replace(".", "_")


def _fff_rm(b: BlockBuilder, i: Insn) -> bool:
    """fd <- op(fs1, fs2) with a rounding mode."""
    if i.rm in RESERVED_RM:
        return False
    b.emit(_op(i), rd=f(i.rd), rs1=f(i.rs1), rs2=f(i.rs2), aux=i.rm)
    return True


def _ffff_rm(b: BlockBuilder, i: Insn) -> bool:
    """fd <- op(fs1, fs2, fs3) with a rounding mode (fused multiply-add family)."""
    if i.rm in RESERVED_RM:
        return False
    b.emit(_op(i), rd=f(i.rd), rs1=f(i.rs1), rs2=f(i.rs2), rs3=f(i.rs3), aux=i.rm)
    return True


def _unary_rm(b: BlockBuilder, i: Insn, rd: int, rs1: int) -> bool:
    if i.rm in RESERVED_RM:
        return False
    b.emit(_op(i), rd=rd, rs1=rs1, aux=i.rm)
    return True


def _ff_rm(b: BlockBuilder, i: Insn) -> bool:
    return _unary_rm(b, i, f(i.rd), f(i.rs1))


def _xf_rm(b: BlockBuilder, i: Insn) -> bool:
    """xd <- op(fs1): conversions to integer."""
    return _unary_rm(b, i, xd(i.rd), f(i.rs1))


def _fx_rm(b: BlockBuilder, i: Insn) -> bool:
    """fd <- op(xs1): conversions from integer."""
    return _unary_rm(b, i, f(i.rd), i.rs1)


def _fff(b: BlockBuilder, i: Insn) -> bool:
    b.emit(_op(i), rd=f(i.rd), rs1=f(i.rs1), rs2=f(i.rs2))
    return True


def _xff(b: BlockBuilder, i: Insn) -> bool:
    """xd <- compare(fs1, fs2)."""
    b.emit(_op(i), rd=xd(i.rd), rs1=f(i.rs1), rs2=f(i.rs2))
    return True


def lift_flw(b: BlockBuilder, i: Insn) -> bool:
    b.emit("flw", rd=f(i.rd), rs1=i.rs1, imm=i.imm)
    return True


def lift_fld(b: BlockBuilder, i: Insn) -> bool:
    b.emit("ld", rd=f(i.rd), rs1=i.rs1, imm=i.imm)
    return True


def lift_fsw(b: BlockBuilder, i: Insn) -> bool:
    # Stores the low 32 bits as they are, NaN-boxed or not.
    b.emit("sw", rs1=i.rs1, rs2=f(i.rs2), imm=i.imm)
    return True


def lift_fsd(b: BlockBuilder, i: Insn) -> bool:
    b.emit("sd", rs1=i.rs1, rs2=f(i.rs2), imm=i.imm)
    return True


def lift_fmv_x_w(b: BlockBuilder, i: Insn) -> bool:
    b.emit("sext_w", rd=xd(i.rd), rs1=f(i.rs1))
    return True


def lift_fmv_w_x(b: BlockBuilder, i: Insn) -> bool:
    b.emit("box_s", rd=f(i.rd), rs1=i.rs1)
    return True


def lift_fmv_x_d(b: BlockBuilder, i: Insn) -> bool:
    b.emit("add_i", rd=xd(i.rd), rs1=f(i.rs1), imm=0)
    return True


def lift_fmv_d_x(b: BlockBuilder, i: Insn) -> bool:
    b.emit("add_i", rd=f(i.rd), rs1=i.rs1, imm=0)
    return True


def lift_fclass_s(b: BlockBuilder, i: Insn) -> bool:
    b.emit("fclass_s", rd=xd(i.rd), rs1=f(i.rs1))
    return True


def lift_fclass_d(b: BlockBuilder, i: Insn) -> bool:
    b.emit("fclass_d", rd=xd(i.rd), rs1=f(i.rs1))
    return True


lift_fadd_s = lift_fsub_s = lift_fmul_s = lift_fdiv_s = _fff_rm
lift_fadd_d = lift_fsub_d = lift_fmul_d = lift_fdiv_d = _fff_rm
lift_fmadd_s = lift_fmsub_s = lift_fnmsub_s = lift_fnmadd_s = _ffff_rm
lift_fmadd_d = lift_fmsub_d = lift_fnmsub_d = lift_fnmadd_d = _ffff_rm
lift_fsqrt_s = lift_fsqrt_d = lift_fcvt_s_d = lift_fcvt_d_s = _ff_rm
lift_fsgnj_s = lift_fsgnjn_s = lift_fsgnjx_s = lift_fmin_s = lift_fmax_s = _fff
lift_fsgnj_d = lift_fsgnjn_d = lift_fsgnjx_d = lift_fmin_d = lift_fmax_d = _fff
lift_feq_s = lift_flt_s = lift_fle_s = lift_feq_d = lift_flt_d = lift_fle_d = _xff
lift_fcvt_w_s = lift_fcvt_wu_s = lift_fcvt_l_s = lift_fcvt_lu_s = _xf_rm
lift_fcvt_w_d = lift_fcvt_wu_d = lift_fcvt_l_d = lift_fcvt_lu_d = _xf_rm
lift_fcvt_s_w = lift_fcvt_s_wu = lift_fcvt_s_l = lift_fcvt_s_lu = _fx_rm
lift_fcvt_d_w = lift_fcvt_d_wu = lift_fcvt_d_l = lift_fcvt_d_lu = _fx_rm
