"""Zfa: additional floating-point instructions (RV64: the .h forms need Zfh, the .d forms D).

fli loads entry rs1 of the spec's 32-constant table; it is lifted as a `li` of the NaN-boxed
bits (it never sets flags). fcvtmod.w.d has rm = RTZ in its encoding (other rm values do not
decode). fround/froundnx take a rounding mode like any other: 5 and 6 are illegal.
"""

from __future__ import annotations

import struct

from dbt.frontends.riscv64.decoder import Insn
from dbt.frontends.riscv64.lift.common import f, xd
from dbt.frontends.riscv64.lift.rv_f import _ff_rm, _fff, _xff
from dbt.ir.builder import BlockBuilder

#: The Zfa constant table ("Immediate values loaded by the FLI.S instruction"): entry 1 is the
#: format's minimum positive normal, 30 is +inf, 31 the canonical NaN (filled in per format).
FLI_VALUES = (
    -1.0, None, 2.0**-16, 2.0**-15, 2.0**-8, 2.0**-7, 0.0625, 0.125,
    0.25, 0.3125, 0.375, 0.4375, 0.5, 0.625, 0.75, 0.875,
    1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 4.0,
    8.0, 16.0, 128.0, 256.0, 2.0**15, 2.0**16, None, None,
)  # fmt: skip

# (struct format, minimum positive normal, +inf bits, canonical NaN bits, NaN-box bits)
_FORMATS = {
    "h": ("<e", 2.0**-14, 0x7C00, 0x7E00, -(1 << 16)),
    "s": ("<f", 2.0**-126, 0x7F800000, 0x7FC00000, -(1 << 32)),
    "d": ("<d", 2.0**-1022, 0x7FF0000000000000, 0x7FF8000000000000, 0),
}


def _bits(code: str, value: float) -> int:
    size = struct.calcsize(code)
    return int.from_bytes(struct.pack(code, value), "little") & ((1 << (8 * size)) - 1)


def _fli_table(p: str) -> tuple[int, ...]:
    """The 32 register values (int64, NaN-boxed) fli.<p> loads."""
    code, min_normal, inf, nan, box = _FORMATS[p]
    out = []
    for index, value in enumerate(FLI_VALUES):
        if index == 1:
            bits = _bits(code, min_normal)
        elif index == 30 or (index == 29 and p == "h"):  # 2**16 overflows binary16: +inf
            bits = inf
        elif index == 31:
            bits = nan
        else:
            bits = _bits(code, value)
        reg = bits | box
        out.append(reg - (1 << 64) if reg >= 1 << 63 else reg)
    return tuple(out)


FLI: dict[str, tuple[int, ...]] = {p: _fli_table(p) for p in _FORMATS}


def _fli(b: BlockBuilder, i: Insn) -> bool:
    b.emit("li", rd=f(i.rd), imm=FLI[i.name[-1]][i.rs1])
    return True


def lift_fcvtmod_w_d(b: BlockBuilder, i: Insn) -> bool:
    b.emit("fcvtmod_w_d", rd=xd(i.rd), rs1=f(i.rs1))
    return True


lift_fli_h = lift_fli_s = lift_fli_d = _fli
lift_fminm_h = lift_fmaxm_h = lift_fminm_s = lift_fmaxm_s = lift_fminm_d = lift_fmaxm_d = _fff
lift_fleq_h = lift_fltq_h = lift_fleq_s = lift_fltq_s = lift_fleq_d = lift_fltq_d = _xff
lift_fround_h = lift_froundnx_h = lift_fround_s = lift_froundnx_s = _ff_rm
lift_fround_d = lift_froundnx_d = _ff_rm
