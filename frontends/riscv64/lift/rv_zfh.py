"""Zfhmin and Zfh: half precision, NaN-boxed in the f registers (upper 48 bits all ones).

The arithmetic follows rv_f's patterns (rounding modes 5 and 6 are reserved: illegal). flh boxes
the loaded half; fsh stores the low 16 bits as they are; fmv.x.h sign-extends them; fmv.h.x boxes.
"""

from __future__ import annotations

from dbt.frontends.riscv64.decoder import Insn
from dbt.frontends.riscv64.lift.common import f, xd
from dbt.frontends.riscv64.lift.rv_f import _ff_rm, _fff, _fff_rm, _ffff_rm, _fx_rm, _xf_rm, _xff
from dbt.ir.builder import BlockBuilder


def lift_flh(b: BlockBuilder, i: Insn) -> bool:
    b.emit("flh", rd=f(i.rd), rs1=i.rs1, imm=i.imm)
    return True


def lift_fsh(b: BlockBuilder, i: Insn) -> bool:
    b.emit("sh", rs1=i.rs1, rs2=f(i.rs2), imm=i.imm)
    return True


def lift_fmv_x_h(b: BlockBuilder, i: Insn) -> bool:
    b.emit("sext_h", rd=xd(i.rd), rs1=f(i.rs1))
    return True


def lift_fmv_h_x(b: BlockBuilder, i: Insn) -> bool:
    b.emit("box_h", rd=f(i.rd), rs1=i.rs1)
    return True


def lift_fclass_h(b: BlockBuilder, i: Insn) -> bool:
    b.emit("fclass_h", rd=xd(i.rd), rs1=f(i.rs1))
    return True


lift_fadd_h = lift_fsub_h = lift_fmul_h = lift_fdiv_h = _fff_rm
lift_fmadd_h = lift_fmsub_h = lift_fnmsub_h = lift_fnmadd_h = _ffff_rm
lift_fsqrt_h = lift_fcvt_s_h = lift_fcvt_h_s = lift_fcvt_d_h = lift_fcvt_h_d = _ff_rm
lift_fsgnj_h = lift_fsgnjn_h = lift_fsgnjx_h = lift_fmin_h = lift_fmax_h = _fff
lift_feq_h = lift_flt_h = lift_fle_h = _xff
lift_fcvt_w_h = lift_fcvt_wu_h = lift_fcvt_l_h = lift_fcvt_lu_h = _xf_rm
lift_fcvt_h_w = lift_fcvt_h_wu = lift_fcvt_h_l = lift_fcvt_h_lu = _fx_rm
