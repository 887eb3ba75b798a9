"""IEEE-754 binary16 / binary32 / binary64 arithmetic with exact RISC-V F/D/Zfh/Zfa semantics, in
integer arithmetic.

Every public function is a Numba nopython function (callable from Python and from other njit code,
e.g. the interpreter kernel) and returns ``(result, flags)`` except ``*_class``.

Conventions
-----------
* A floating value travels as a ``uint64`` bit pattern; binary32 (binary16) lives in the low 32 (16)
  bits with the upper bits zero (NaN-boxing is the caller's job; bits above the format are ignored
  on input).
* ``rm`` is the RISC-V rounding mode: ``RNE=0, RTZ=1, RDN=2, RUP=3, RMM=4`` (the caller resolves DYN).
* ``flags`` is an int64 made of the fflags bits ``NV=16, DZ=8, OF=4, UF=2, NX=1``.
* NaN results are always the canonical NaN (RISC-V does not propagate payloads).
* Tininess is detected after rounding; UF is raised only for a tiny and inexact result.
* Conversions to integers return the int64 the 64-bit destination register receives (32-bit results,
  signed or unsigned, are sign-extended from bit 31).

Internal design
---------------
The cores (``_add``, ``_mul``, ``_div``, ``_sqrt``, ``_fma``, ``_to_int``, ``_from_int``,
``_convert``, ``_minmax``, ``_compare``, ``_classify``) are generic over the format: they take the
exponent width ``EB`` and the fraction width ``FB`` as trailing arguments.  The public functions are
thin wrappers made by the ``_make_*`` factories, which bind a format tuple ``(EB, FB)`` as compile-time
constants, so LLVM specialises the cores per format after inlining (binary16, for Zfh, is
made this way too: ``f16_add = _make_binop(_add, F16, "f16_add")``).

Every core funnels its finite non-zero results through ``_round_pack(sign, e, sig, rm, EB, FB)``,
whose input is the exact value ``(-1)**sign * sig * 2**(e - 62)`` with ``0 < sig < 2**63``, where the
bits of ``sig`` below the precision act as round/sticky bits (a lost non-zero tail must be "jammed"
into bit 0).  The cores require ``2 <= EB`` and ``FB <= 60``.

Wide arithmetic is done on uint64 halves: ``_mul128`` (64x64 -> 128), ``_divlu`` (128/64, Knuth's
algorithm D on 32-bit digits), ``_srj``/``_srj128`` (shift right with jamming, safe for counts >= 64).
``_sqrt`` seeds its 63-bit integer root from the host's ``math.sqrt`` (a correctly rounded double,
within ~2**10 of the root), refines it with one integer Newton step and fixes it exactly by squaring,
so the result does not depend on the host beyond the seed's accuracy.  ``rm`` values other than 0..4
are the caller's problem (they must raise an illegal instruction before getting here).
"""

from __future__ import annotations

import math

import numba
import numpy as np
from llvmlite import ir as _llir
from numba.core import types as _nbt
from numba.extending import intrinsic, overload

__all__ = [
    "DZ",
    "F16",
    "F16_CANONICAL_NAN",
    "F32",
    "F32_CANONICAL_NAN",
    "F64",
    "F64_CANONICAL_NAN",
    "NV",
    "NX",
    "OF",
    "PUBLIC_FUNCTIONS",
    "RDN",
    "RMM",
    "RNE",
    "RTZ",
    "RUP",
    "UF",
    "f16_add",
    "f16_class",
    "f16_div",
    "f16_eq",
    "f16_fma",
    "f16_le",
    "f16_leq",
    "f16_lt",
    "f16_ltq",
    "f16_max",
    "f16_maxm",
    "f16_min",
    "f16_minm",
    "f16_mul",
    "f16_round",
    "f16_roundnx",
    "f16_sqrt",
    "f16_sub",
    "f16_to_f32",
    "f16_to_f64",
    "f16_to_i32",
    "f16_to_i64",
    "f16_to_u32",
    "f16_to_u64",
    "f32_add",
    "f32_class",
    "f32_div",
    "f32_eq",
    "f32_fma",
    "f32_le",
    "f32_leq",
    "f32_lt",
    "f32_ltq",
    "f32_max",
    "f32_maxm",
    "f32_min",
    "f32_minm",
    "f32_mul",
    "f32_round",
    "f32_roundnx",
    "f32_sqrt",
    "f32_sub",
    "f32_to_f16",
    "f32_to_f64",
    "f32_to_i32",
    "f32_to_i64",
    "f32_to_u32",
    "f32_to_u64",
    "f64_add",
    "f64_class",
    "f64_div",
    "f64_eq",
    "f64_fma",
    "f64_le",
    "f64_leq",
    "f64_lt",
    "f64_ltq",
    "f64_max",
    "f64_maxm",
    "f64_min",
    "f64_minm",
    "f64_mul",
    "f64_round",
    "f64_roundnx",
    "f64_sqrt",
    "f64_sub",
    "f64_to_f16",
    "f64_to_f32",
    "f64_to_i32",
    "f64_to_i32_mod",
    "f64_to_i64",
    "f64_to_u32",
    "f64_to_u64",
    "i32_to_f16",
    "i32_to_f32",
    "i32_to_f64",
    "i64_to_f16",
    "i64_to_f32",
    "i64_to_f64",
    "u32_to_f16",
    "u32_to_f32",
    "u32_to_f64",
    "u64_to_f16",
    "u64_to_f32",
    "u64_to_f64",
]

# fflags bits.
NX = 1
UF = 2
OF = 4
DZ = 8
NV = 16

# Rounding modes (the rm field of the instruction / frm).
RNE = 0
RTZ = 1
RDN = 2
RUP = 3
RMM = 4

# Formats: (exponent bits, fraction bits).
F16 = (5, 10)
F32 = (8, 23)
F64 = (11, 52)

F32_CANONICAL_NAN = 0x7FC00000
F64_CANONICAL_NAN = 0x7FF8000000000000
F16_CANONICAL_NAN = 0x7E00

_jit = numba.njit(cache=False, error_model="numpy")

_U0 = np.uint64(0)
_U1 = np.uint64(1)
_M32 = np.uint64(0xFFFFFFFF)
_B32 = np.uint64(32)
_TOP = np.uint64(1 << 63)


# ----------------------------------------------------------------------------------------------------
# Word-level helpers
# ----------------------------------------------------------------------------------------------------


def _clz64(x):
    """Count of leading zero bits of a 64-bit value (64 for 0)."""
    return 64 - int(x).bit_length()


@intrinsic
def _clz64_intrinsic(typingctx, x):
    if not (isinstance(x, _nbt.Integer) and x.bitwidth == 64):
        return None

    def codegen(context, builder, signature, args):
        return builder.ctlz(args[0], _llir.Constant(_llir.IntType(1), 0))

    return _nbt.int64(x), codegen


@overload(_clz64, jit_options={"cache": False})
def _clz64_overload(x):
    def impl(x):
        return _clz64_intrinsic(np.uint64(x))

    return impl


@_jit
def _mask(n):
    """uint64 with the low n bits set, 1 <= n <= 64."""
    return (~_U0) >> np.uint64(64 - n)


@_jit
def _srj(x, n):
    """Shift the uint64 x right by n >= 0 bits, OR-ing any lost bit into bit 0 ("jamming")."""
    if n <= 0:
        return x
    if n >= 64:
        return np.uint64(x != _U0)
    return (x >> np.uint64(n)) | np.uint64((x << np.uint64(64 - n)) != _U0)


@_jit
def _srj128(hi, lo, n):
    """Shift the 128-bit hi:lo right by n >= 0 bits with jamming."""
    if n <= 0:
        return hi, lo
    if n < 64:
        un = np.uint64(n)
        ln = np.uint64(64 - n)
        return hi >> un, (lo >> un) | (hi << ln) | np.uint64((lo << ln) != _U0)
    if n == 64:
        return _U0, hi | np.uint64(lo != _U0)
    if n < 128:
        um = np.uint64(n - 64)
        return _U0, (hi >> um) | np.uint64(((hi << np.uint64(128 - n)) | lo) != _U0)
    return _U0, np.uint64((hi | lo) != _U0)


@_jit
def _mul128(a, b):
    """Full 64x64 -> 128-bit product of two uint64, as (hi, lo)."""
    a0 = a & _M32
    a1 = a >> _B32
    b0 = b & _M32
    b1 = b >> _B32
    p00 = a0 * b0
    p01 = a0 * b1
    p10 = a1 * b0
    p11 = a1 * b1
    mid = (p00 >> _B32) + (p01 & _M32) + (p10 & _M32)
    lo = (mid << _B32) | (p00 & _M32)
    hi = p11 + (p01 >> _B32) + (p10 >> _B32) + (mid >> _B32)
    return hi, lo


@_jit
def _divlu(u1, u0, v):
    """(u1:u0) // v and (u1:u0) % v for a normalised v (bit 63 set) and u1 < v.

    Knuth's algorithm D on 32-bit digits (Hacker's Delight ``divlu``), returns (quotient, remainder).
    """
    b = np.uint64(1 << 32)
    vn1 = v >> _B32
    vn0 = v & _M32
    un1 = u0 >> _B32
    un0 = u0 & _M32
    q1 = u1 // vn1
    rhat = u1 - q1 * vn1
    while q1 >= b or q1 * vn0 > ((rhat << _B32) | un1):
        q1 -= _U1
        rhat += vn1
        if rhat >= b:
            break
    un21 = (u1 << _B32) + un1 - q1 * v
    q0 = un21 // vn1
    rhat = un21 - q0 * vn1
    while q0 >= b or q0 * vn0 > ((rhat << _B32) | un0):
        q0 -= _U1
        rhat += vn1
        if rhat >= b:
            break
    r = (un21 << _B32) + un0 - q0 * v
    return (q1 << _B32) | q0, r


# ----------------------------------------------------------------------------------------------------
# Format helpers
# ----------------------------------------------------------------------------------------------------


@_jit
def _fields(a, EB, FB):
    """(sign 0/1, biased exponent, fraction) of a bit pattern; bits above the format are ignored."""
    sign = np.int64(a >> np.uint64(EB + FB)) & 1
    exp = np.int64(a >> np.uint64(FB)) & ((1 << EB) - 1)
    frac = a & _mask(FB)
    return sign, exp, frac


@_jit
def _inf(sign, EB, FB):
    return (np.uint64(sign) << np.uint64(EB + FB)) | (_mask(EB) << np.uint64(FB))


@_jit
def _zero(sign, EB, FB):
    return np.uint64(sign) << np.uint64(EB + FB)


@_jit
def _cnan(EB, FB):
    return (_mask(EB + 1) << np.uint64(FB - 1)) & _mask(EB + FB)


@_jit
def _is_snan(exp, frac, EB, FB):
    return exp == (1 << EB) - 1 and frac != _U0 and (frac >> np.uint64(FB - 1)) == _U0


@_jit
def _norm(exp, frac, EB, FB):
    """Unbiased exponent and significand (bit FB = leading one) of a finite non-zero value.

    The value is sig * 2**(e - FB).
    """
    bias = (1 << (EB - 1)) - 1
    if exp == 0:
        sh = _clz64(frac) - (63 - FB)
        return 1 - bias - sh, frac << np.uint64(sh)
    return exp - bias, frac | (_U1 << np.uint64(FB))


@_jit
def _round_pack(sign, e, sig, rm, EB, FB):
    """Round (-1)**sign * sig * 2**(e - 62) (0 < sig < 2**63, low bits jammed) to the format.

    Returns (bits, flags).  Handles overflow, subnormal results and tininess after rounding.
    """
    lz = _clz64(sig)
    if lz > 1:
        sh = lz - 1
        sig = sig << np.uint64(sh)
        e -= sh
    bias = (1 << (EB - 1)) - 1
    emax = (1 << EB) - 1
    r = 62 - FB
    ur = np.uint64(r)
    mask = _mask(r)
    half = _U1 << np.uint64(r - 1)
    if rm == RTZ:
        inc = _U0
    elif rm == RDN:
        inc = mask if sign else _U0
    elif rm == RUP:
        inc = _U0 if sign else mask
    else:  # RNE, RMM
        inc = half
    be = e + bias  # biased exponent of the leading bit
    usign = np.uint64(sign) << np.uint64(EB + FB)
    if be <= 0:
        # Tiny after rounding unless rounding at full precision carries up to the min normal.
        tiny = be < 0 or sig + inc < _TOP
        sig = _srj(sig, 1 - be)
        rbits = sig & mask
        q = (sig + inc) >> ur
        flags = 0
        if rbits != _U0:
            flags = (NX | UF) if tiny else NX
            if rm == RNE and rbits == half:
                q &= ~_U1
        return usign | q, flags
    if be >= emax - 1 and (be >= emax or sig + inc >= _TOP):
        if rm == RTZ or (rm == RDN and sign == 0) or (rm == RUP and sign != 0):
            return usign | ((_mask(EB) << np.uint64(FB)) - _U1), OF | NX
        return usign | (_mask(EB) << np.uint64(FB)), OF | NX
    rbits = sig & mask
    q = (sig + inc) >> ur
    flags = 0
    if rbits != _U0:
        flags = NX
        if rm == RNE and rbits == half:
            q &= ~_U1
    # The leading one of q adds 1 to the exponent field (and a rounding carry adds one more).
    return usign | ((np.uint64(be - 1) << np.uint64(FB)) + q), flags


@_jit
def _exact_zero(rm, EB, FB):
    """Sign of an exact zero sum of operands of opposite signs."""
    return _zero(1 if rm == RDN else 0, EB, FB)


# ----------------------------------------------------------------------------------------------------
# Generic cores
# ----------------------------------------------------------------------------------------------------


@_jit
def _add(a, b, rm, EB, FB):
    emax = (1 << EB) - 1
    sa, ea, fa = _fields(a, EB, FB)
    sb, eb, fb = _fields(b, EB, FB)
    if ea == emax or eb == emax:
        if (ea == emax and fa != _U0) or (eb == emax and fb != _U0):
            if _is_snan(ea, fa, EB, FB) or _is_snan(eb, fb, EB, FB):
                return _cnan(EB, FB), NV
            return _cnan(EB, FB), 0
        if ea == emax and eb == emax and sa != sb:
            return _cnan(EB, FB), NV
        if ea == emax:
            return _inf(sa, EB, FB), 0
        return _inf(sb, EB, FB), 0
    za = ea == 0 and fa == _U0
    zb = eb == 0 and fb == _U0
    if za or zb:
        if za and zb:
            if sa == sb:
                return _zero(sa, EB, FB), 0
            return _exact_zero(rm, EB, FB), 0
        if za:
            return (np.uint64(sb) << np.uint64(EB + FB)) | (b & _mask(EB + FB)), 0
        return (np.uint64(sa) << np.uint64(EB + FB)) | (a & _mask(EB + FB)), 0
    xa, siga = _norm(ea, fa, EB, FB)
    xb, sigb = _norm(eb, fb, EB, FB)
    siga <<= np.uint64(61 - FB)
    sigb <<= np.uint64(61 - FB)
    if xa < xb or (xa == xb and siga < sigb):
        sa, sb = sb, sa
        xa, xb = xb, xa
        siga, sigb = sigb, siga
    sigb = _srj(sigb, xa - xb)
    if sa == sb:
        return _round_pack(sa, xa + 1, siga + sigb, rm, EB, FB)
    diff = siga - sigb
    if diff == _U0:
        return _exact_zero(rm, EB, FB), 0
    return _round_pack(sa, xa + 1, diff, rm, EB, FB)


@_jit
def _mul(a, b, rm, EB, FB):
    emax = (1 << EB) - 1
    sa, ea, fa = _fields(a, EB, FB)
    sb, eb, fb = _fields(b, EB, FB)
    s = sa ^ sb
    za = ea == 0 and fa == _U0
    zb = eb == 0 and fb == _U0
    if ea == emax or eb == emax:
        if (ea == emax and fa != _U0) or (eb == emax and fb != _U0):
            if _is_snan(ea, fa, EB, FB) or _is_snan(eb, fb, EB, FB):
                return _cnan(EB, FB), NV
            return _cnan(EB, FB), 0
        if za or zb:
            return _cnan(EB, FB), NV
        return _inf(s, EB, FB), 0
    if za or zb:
        return _zero(s, EB, FB), 0
    xa, siga = _norm(ea, fa, EB, FB)
    xb, sigb = _norm(eb, fb, EB, FB)
    hi, lo = _mul128(siga << np.uint64(62 - FB), sigb << np.uint64(63 - FB))
    return _round_pack(s, xa + xb + 1, hi | np.uint64(lo != _U0), rm, EB, FB)


@_jit
def _div(a, b, rm, EB, FB):
    emax = (1 << EB) - 1
    sa, ea, fa = _fields(a, EB, FB)
    sb, eb, fb = _fields(b, EB, FB)
    s = sa ^ sb
    za = ea == 0 and fa == _U0
    zb = eb == 0 and fb == _U0
    if ea == emax or eb == emax:
        if (ea == emax and fa != _U0) or (eb == emax and fb != _U0):
            if _is_snan(ea, fa, EB, FB) or _is_snan(eb, fb, EB, FB):
                return _cnan(EB, FB), NV
            return _cnan(EB, FB), 0
        if ea == emax:
            if eb == emax:
                return _cnan(EB, FB), NV
            return _inf(s, EB, FB), 0
        return _zero(s, EB, FB), 0
    if zb:
        if za:
            return _cnan(EB, FB), NV
        return _inf(s, EB, FB), DZ
    if za:
        return _zero(s, EB, FB), 0
    xa, siga = _norm(ea, fa, EB, FB)
    xb, sigb = _norm(eb, fb, EB, FB)
    siga <<= np.uint64(63 - FB)
    sigb <<= np.uint64(63 - FB)
    if siga < sigb:
        q, r = _divlu(siga, _U0, sigb)
        x = xa - xb - 1
    else:
        q, r = _divlu(siga >> _U1, siga << np.uint64(63), sigb)
        x = xa - xb
    sig = (q >> _U1) | (q & _U1) | np.uint64(r != _U0)
    return _round_pack(s, x, sig, rm, EB, FB)


@_jit
def _sqrt(a, rm, EB, FB):
    emax = (1 << EB) - 1
    sa, ea, fa = _fields(a, EB, FB)
    if ea == emax and fa != _U0:
        return _cnan(EB, FB), NV if _is_snan(ea, fa, EB, FB) else 0
    if ea == 0 and fa == _U0:
        return _zero(sa, EB, FB), 0
    if sa:
        return _cnan(EB, FB), NV
    if ea == emax:
        return _inf(0, EB, FB), 0
    x, sig = _norm(ea, fa, EB, FB)
    # N = sig * 2**t = hi * 2**64 with 2**124 <= N < 2**126 and x - FB - t even.
    t = (125 - FB) if (x & 1) else (124 - FB)
    hi = sig << np.uint64(t - 64)
    # Seed from the host's correctly rounded sqrt (accurate to ~2**10 ulp of the 63-bit root), then
    # one integer Newton step (which never lands below isqrt(N)) and exact correction by squaring.
    r0 = np.uint64(math.sqrt(np.float64(hi)) * 4294967296.0)
    if r0 < np.uint64(1 << 62):
        r0 = np.uint64(1 << 62)
    if r0 >= _TOP:
        r0 = _TOP - _U1
    q, _ = _divlu(hi << _U1, _U0, r0 << _U1)  # floor(N / r0)
    r = (r0 >> _U1) + (q >> _U1) + (r0 & q & _U1)
    sh, sl = _mul128(r, r)
    while sh > hi or (sh == hi and sl != _U0):
        r -= _U1
        sh, sl = _mul128(r, r)
    inexact = sh != hi or sl != _U0
    return _round_pack(0, ((x - FB - t) >> 1) + 62, r | np.uint64(inexact), rm, EB, FB)


@_jit
def _finish128(sign, x, hi, lo, rm, EB, FB):
    """Round the non-zero (-1)**sign * (hi:lo) * 2**(x - 125), hi:lo < 2**127."""
    if hi == _U0:
        if lo >= _TOP:
            return _round_pack(sign, x - 62, _srj(lo, 1), rm, EB, FB)
        return _round_pack(sign, x - 63, lo, rm, EB, FB)
    sh = _clz64(hi) - 1
    if sh > 0:
        hi = (hi << np.uint64(sh)) | (lo >> np.uint64(64 - sh))
        lo = lo << np.uint64(sh)
    return _round_pack(sign, x + 1 - sh, hi | np.uint64(lo != _U0), rm, EB, FB)


@_jit
def _fma(a, b, c, rm, EB, FB):
    emax = (1 << EB) - 1
    sa, ea, fa = _fields(a, EB, FB)
    sb, eb, fb = _fields(b, EB, FB)
    sc, ec, fc = _fields(c, EB, FB)
    sp = sa ^ sb
    za = ea == 0 and fa == _U0
    zb = eb == 0 and fb == _U0
    zc = ec == 0 and fc == _U0
    if ea == emax or eb == emax or ec == emax:
        ia = ea == emax and fa == _U0
        ib = eb == emax and fb == _U0
        ic = ec == emax and fc == _U0
        invalid_mul = (ia and zb) or (za and ib)
        if (ea == emax and fa != _U0) or (eb == emax and fb != _U0) or (ec == emax and fc != _U0):
            if (
                invalid_mul
                or _is_snan(ea, fa, EB, FB)
                or _is_snan(eb, fb, EB, FB)
                or _is_snan(ec, fc, EB, FB)
            ):
                return _cnan(EB, FB), NV
            return _cnan(EB, FB), 0
        if invalid_mul:
            return _cnan(EB, FB), NV
        if ia or ib:
            if ic and sc != sp:
                return _cnan(EB, FB), NV
            return _inf(sp, EB, FB), 0
        return _inf(sc, EB, FB), 0
    if za or zb:
        if zc:
            if sc == sp:
                return _zero(sp, EB, FB), 0
            return _exact_zero(rm, EB, FB), 0
        return (np.uint64(sc) << np.uint64(EB + FB)) | (c & _mask(EB + FB)), 0
    xa, siga = _norm(ea, fa, EB, FB)
    xb, sigb = _norm(eb, fb, EB, FB)
    # Product P = ph:pl with its leading one at bit 125; value P * 2**(xp - 125).
    ph, pl = _mul128(siga << np.uint64(62 - FB), sigb << np.uint64(62 - FB))
    xp = xa + xb + 1
    if ph < np.uint64(1 << 61):
        ph = (ph << _U1) | (pl >> np.uint64(63))
        pl = pl << _U1
        xp -= 1
    if zc:
        return _finish128(sp, xp, ph, pl, rm, EB, FB)
    xc, sigc = _norm(ec, fc, EB, FB)
    ch = sigc << np.uint64(61 - FB)  # leading one at bit 125 of ch:0
    cl = _U0
    if xp > xc or (xp == xc and (ph > ch or (ph == ch and pl >= cl))):
        bh, bl, bs, bx = ph, pl, sp, xp
        th, tl, ts, tx = ch, cl, sc, xc
    else:
        bh, bl, bs, bx = ch, cl, sc, xc
        th, tl, ts, tx = ph, pl, sp, xp
    th, tl = _srj128(th, tl, bx - tx)
    if bs == ts:
        lo = bl + tl
        hi = bh + th + np.uint64(lo < bl)
    else:
        lo = bl - tl
        hi = bh - th - np.uint64(bl < tl)
        if hi == _U0 and lo == _U0:
            return _exact_zero(rm, EB, FB), 0
    return _finish128(bs, bx, hi, lo, rm, EB, FB)


@_jit
def _convert(a, rm, EBS, FBS, EBD, FBD):
    """Format conversion (widening is exact, narrowing rounds)."""
    emax = (1 << EBS) - 1
    s, e, f = _fields(a, EBS, FBS)
    if e == emax:
        if f != _U0:
            return _cnan(EBD, FBD), NV if _is_snan(e, f, EBS, FBS) else 0
        return _inf(s, EBD, FBD), 0
    if e == 0 and f == _U0:
        return _zero(s, EBD, FBD), 0
    x, sig = _norm(e, f, EBS, FBS)
    return _round_pack(s, x, sig << np.uint64(62 - FBS), rm, EBD, FBD)


@_jit
def _to_int(a, rm, EB, FB, SIGNED, WIDTH):
    """Float to integer with RISC-V saturation; returns (int64 register value, flags)."""
    emax = (1 << EB) - 1
    if SIGNED:
        maxv = np.int64((1 << (WIDTH - 1)) - 1) if WIDTH < 64 else np.int64(0x7FFFFFFFFFFFFFFF)
        minv = -maxv - 1
    else:
        maxv = np.int64(-1)  # 0xFFFFFFFF sign-extended, or 2**64 - 1
        minv = np.int64(0)
    s, e, f = _fields(a, EB, FB)
    if e == emax:
        if f != _U0 or s == 0:
            return maxv, NV
        return minv, NV
    if e == 0 and f == _U0:
        return np.int64(0), 0
    x, sig = _norm(e, f, EB, FB)
    if x >= 64:
        return (minv if s else maxv), NV
    sig <<= np.uint64(62 - FB)  # value = sig * 2**(x - 62)
    inexact = False
    if x >= 62:
        mag = sig << np.uint64(x - 62)
    else:
        # Two fractional bits plus sticky: value * 4.
        if x >= 60:
            t = sig << np.uint64(x - 60)
        else:
            t = _srj(sig, 60 - x)
        rb = t & np.uint64(3)
        mag = t >> np.uint64(2)
        if rb != _U0:
            inexact = True
            if rm == RNE:
                if rb > np.uint64(2) or (rb == np.uint64(2) and (mag & _U1) != _U0):
                    mag += _U1
            elif rm == RMM:
                if rb >= np.uint64(2):
                    mag += _U1
            elif (rm == RDN and s != 0) or (rm == RUP and s == 0):
                mag += _U1
    flags = NX if inexact else 0
    if SIGNED:
        lim = _U1 << np.uint64(WIDTH - 1)
        if s:
            if mag > lim:
                return minv, NV
            return np.int64(_U0 - mag), flags
        if mag >= lim:
            return maxv, NV
        return np.int64(mag), flags
    if s:
        if mag != _U0:
            return minv, NV
        return np.int64(0), flags
    if WIDTH < 64:
        if mag > _mask(WIDTH):
            return maxv, NV
        # Sign-extend bit 31 (RISC-V keeps 32-bit results sign-extended in the register).
        return (np.int64(mag) ^ np.int64(0x80000000)) - np.int64(0x80000000), flags
    return np.int64(mag), flags


@_jit
def _from_int(x, rm, SIGNED, WIDTH, EB, FB):
    """Integer (held in an int64 register value) to float."""
    x = np.int64(x)
    if WIDTH < 64:
        if SIGNED:
            v = ((x & np.int64(0xFFFFFFFF)) ^ np.int64(0x80000000)) - np.int64(0x80000000)
        else:
            v = x & np.int64(0xFFFFFFFF)
        s = 1 if v < 0 else 0
        mag = np.uint64(-v if v < 0 else v)
    elif SIGNED:
        s = 1 if x < 0 else 0
        mag = (_U0 - np.uint64(x)) if x < 0 else np.uint64(x)
    else:
        s = 0
        mag = np.uint64(x)
    if mag == _U0:
        return _U0, 0
    if mag >= _TOP:
        return _round_pack(s, 63, _srj(mag, 1), rm, EB, FB)
    return _round_pack(s, 62, mag, rm, EB, FB)


@_jit
def _minmax(a, b, is_max, EB, FB):
    """RISC-V (F/D v2.2) fmin/fmax: -0 < +0, a single NaN operand is ignored, sNaN raises NV."""
    emax = (1 << EB) - 1
    sa, ea, fa = _fields(a, EB, FB)
    sb, eb, fb = _fields(b, EB, FB)
    na = ea == emax and fa != _U0
    nb = eb == emax and fb != _U0
    flags = NV if (_is_snan(ea, fa, EB, FB) or _is_snan(eb, fb, EB, FB)) else 0
    m = _mask(EB + FB + 1)
    if na or nb:
        if na and nb:
            return _cnan(EB, FB), flags
        if na:
            return b & m, flags
        return a & m, flags
    ma = a & _mask(EB + FB)
    mb = b & _mask(EB + FB)
    if sa != sb:
        a_lt_b = sa != 0
    elif sa == 0:
        a_lt_b = ma < mb
    else:
        a_lt_b = ma > mb
    if a_lt_b != is_max:
        return a & m, flags
    return b & m, flags


@_jit
def _compare(a, b, op, EB, FB):
    """op 0: feq (quiet), 1: flt, 2: fle (signaling), 3: fltq, 4: fleq (Zfa, quiet).

    Returns (0/1, flags).
    """
    emax = (1 << EB) - 1
    sa, ea, fa = _fields(a, EB, FB)
    sb, eb, fb = _fields(b, EB, FB)
    if (ea == emax and fa != _U0) or (eb == emax and fb != _U0):
        if op == 1 or op == 2 or _is_snan(ea, fa, EB, FB) or _is_snan(eb, fb, EB, FB):
            return np.int64(0), NV
        return np.int64(0), 0
    ma = a & _mask(EB + FB)
    mb = b & _mask(EB + FB)
    both_zero = (ma | mb) == _U0
    if op == 0:
        res = both_zero or (ma == mb and sa == sb)
    elif op == 1 or op == 3:
        if sa != sb:
            res = sa != 0 and not both_zero
        elif sa == 0:
            res = ma < mb
        else:
            res = ma > mb
    else:
        if sa != sb:
            res = sa != 0 or both_zero
        elif sa == 0:
            res = ma <= mb
        else:
            res = ma >= mb
    return np.int64(1 if res else 0), 0


@_jit
def _classify(a, EB, FB):
    """RISC-V fclass mask."""
    emax = (1 << EB) - 1
    s, e, f = _fields(a, EB, FB)
    if e == emax:
        if f == _U0:
            return np.int64(1 << 0) if s else np.int64(1 << 7)
        if (f >> np.uint64(FB - 1)) != _U0:
            return np.int64(1 << 9)
        return np.int64(1 << 8)
    if e == 0:
        if f == _U0:
            return np.int64(1 << 3) if s else np.int64(1 << 4)
        return np.int64(1 << 2) if s else np.int64(1 << 5)
    return np.int64(1 << 1) if s else np.int64(1 << 6)


@_jit
def _minmax_ieee(a, b, is_max, EB, FB):
    """IEEE 754-2019 minimum/maximum (Zfa fminm/fmaxm): any NaN operand gives the canonical NaN."""
    emax = (1 << EB) - 1
    _, ea, fa = _fields(a, EB, FB)
    _, eb, fb = _fields(b, EB, FB)
    if (ea == emax and fa != _U0) or (eb == emax and fb != _U0):
        flags = NV if (_is_snan(ea, fa, EB, FB) or _is_snan(eb, fb, EB, FB)) else 0
        return _cnan(EB, FB), flags
    return _minmax(a, b, is_max, EB, FB)


@_jit
def _round_integral(a, rm, exact, EB, FB):
    """roundToIntegral (Zfa fround; with `exact`, roundToIntegralExact: froundnx).

    Zeros and infinities pass through, NaNs become the canonical NaN (NV for a signaling one);
    the only other flag is NX, and only with `exact`.
    """
    emax = (1 << EB) - 1
    s, e, f = _fields(a, EB, FB)
    if e == emax and f != _U0:
        return _cnan(EB, FB), NV if _is_snan(e, f, EB, FB) else 0
    if e == emax or (e == 0 and f == _U0):
        return a & _mask(EB + FB + 1), 0
    x, sig = _norm(e, f, EB, FB)
    if x >= FB:  # no fraction bits: already an integer
        return a & _mask(EB + FB + 1), 0
    # Two fraction bits plus sticky of the magnitude: value * 4 (x < FB <= 60, so no overflow).
    t = _srj(sig << np.uint64(62 - FB), 60 - x)
    rb = t & np.uint64(3)
    mag = t >> np.uint64(2)
    if rm == RNE:
        if rb > np.uint64(2) or (rb == np.uint64(2) and (mag & _U1) != _U0):
            mag += _U1
    elif rm == RMM:
        if rb >= np.uint64(2):
            mag += _U1
    elif rb != _U0 and ((rm == RDN and s != 0) or (rm == RUP and s == 0)):
        mag += _U1
    flags = NX if (exact and rb != _U0) else 0
    if mag == _U0:
        return _zero(s, EB, FB), flags
    bits, _ = _round_pack(s, 62, mag, RNE, EB, FB)  # exact: mag has at most FB + 1 bits
    return bits, flags


@_jit
def _to_i32_mod(a, EB, FB):
    """Zfa fcvtmod.w.d: truncate, keep bits 31..0 of the unbounded integer, sign-extend.

    NaN and infinities give 0; the flags are those of fcvt.w with RTZ (NV when the truncated value
    is outside int32, else NX when it is inexact).
    """
    emax = (1 << EB) - 1
    s, e, f = _fields(a, EB, FB)
    if e == emax:
        return np.int64(0), NV
    if e == 0 and f == _U0:
        return np.int64(0), 0
    x, sig = _norm(e, f, EB, FB)
    if x < 0:
        return np.int64(0), NX
    inexact = False
    if x >= FB:
        sh = x - FB
        mag = (sig << np.uint64(sh)) if sh < 64 else _U0
    else:
        mag = sig >> np.uint64(FB - x)
        inexact = (sig & _mask(FB - x)) != _U0
    # |truncated value| >= 2**31, except exactly -2**31, is out of range.
    overflow = x > 31 or (x == 31 and not (s != 0 and mag == np.uint64(1 << 31)))
    low = mag & _M32
    if s:
        low = (_U0 - low) & _M32
    value = (np.int64(low) ^ np.int64(0x80000000)) - np.int64(0x80000000)
    if overflow:
        return value, NV
    return value, NX if inexact else 0


# ----------------------------------------------------------------------------------------------------
# Public wrappers (format bound as compile-time constants)
# ----------------------------------------------------------------------------------------------------


def _finish(fn, name, doc):
    fn.__name__ = name
    fn.__qualname__ = name
    fn.__doc__ = doc
    return _jit(fn)


def _make_binop(core, fmt, name):
    EB, FB = fmt

    def fn(a, b, rm):
        return core(np.uint64(a), np.uint64(b), np.int64(rm), EB, FB)

    return _finish(fn, name, f"{name}(a, b, rm) -> (bits, flags)")


def _make_sub(fmt, name):
    EB, FB = fmt

    def fn(a, b, rm):
        return _add(np.uint64(a), np.uint64(b) ^ (_U1 << np.uint64(EB + FB)), np.int64(rm), EB, FB)

    return _finish(fn, name, f"{name}(a, b, rm) -> (bits, flags): a - b")


def _make_sqrt(fmt, name):
    EB, FB = fmt

    def fn(a, rm):
        return _sqrt(np.uint64(a), np.int64(rm), EB, FB)

    return _finish(fn, name, f"{name}(a, rm) -> (bits, flags)")


def _make_fma(fmt, name):
    EB, FB = fmt

    def fn(a, b, c, rm):
        return _fma(np.uint64(a), np.uint64(b), np.uint64(c), np.int64(rm), EB, FB)

    return _finish(fn, name, f"{name}(a, b, c, rm) -> (bits, flags): a*b+c with a single rounding")


def _make_minmax(fmt, is_max, name):
    EB, FB = fmt

    def fn(a, b):
        return _minmax(np.uint64(a), np.uint64(b), is_max, EB, FB)

    return _finish(fn, name, f"{name}(a, b) -> (bits, flags)")


def _make_compare(fmt, op, name):
    EB, FB = fmt

    def fn(a, b):
        return _compare(np.uint64(a), np.uint64(b), op, EB, FB)

    return _finish(fn, name, f"{name}(a, b) -> (0 or 1, flags)")


def _make_class(fmt, name):
    EB, FB = fmt

    def fn(a):
        return _classify(np.uint64(a), EB, FB)

    return _finish(fn, name, f"{name}(a) -> int64 fclass mask")


def _make_to_int(fmt, signed, width, name):
    EB, FB = fmt

    def fn(a, rm):
        return _to_int(np.uint64(a), np.int64(rm), EB, FB, signed, width)

    return _finish(fn, name, f"{name}(a, rm) -> (int64 register value, flags)")


def _make_from_int(signed, width, fmt, name):
    EB, FB = fmt

    def fn(x, rm):
        return _from_int(x, np.int64(rm), signed, width, EB, FB)

    return _finish(fn, name, f"{name}(x, rm) -> (bits, flags); x is the int64 source register")


def _make_convert(src, dst, name):
    EBS, FBS = src
    EBD, FBD = dst

    def fn(a, rm):
        return _convert(np.uint64(a), np.int64(rm), EBS, FBS, EBD, FBD)

    return _finish(fn, name, f"{name}(a, rm) -> (bits, flags)")


def _make_minmax_ieee(fmt, is_max, name):
    EB, FB = fmt

    def fn(a, b):
        return _minmax_ieee(np.uint64(a), np.uint64(b), is_max, EB, FB)

    return _finish(fn, name, f"{name}(a, b) -> (bits, flags): IEEE 754-2019 minimum/maximum")


def _make_round(fmt, exact, name):
    EB, FB = fmt

    def fn(a, rm):
        return _round_integral(np.uint64(a), np.int64(rm), exact, EB, FB)

    return _finish(fn, name, f"{name}(a, rm) -> (bits, flags): round to an integral value")


def _make_exact_convert(src, dst, name):
    """A widening conversion: exact, so no rounding mode (sNaN -> NV, any NaN -> canonical)."""
    EBS, FBS = src
    EBD, FBD = dst

    def fn(a):
        return _convert(np.uint64(a), np.int64(RNE), EBS, FBS, EBD, FBD)

    return _finish(fn, name, f"{name}(a) -> (bits, flags); exact")


f32_add = _make_binop(_add, F32, "f32_add")
f32_sub = _make_sub(F32, "f32_sub")
f32_mul = _make_binop(_mul, F32, "f32_mul")
f32_div = _make_binop(_div, F32, "f32_div")
f32_sqrt = _make_sqrt(F32, "f32_sqrt")
f32_fma = _make_fma(F32, "f32_fma")
f32_min = _make_minmax(F32, False, "f32_min")
f32_max = _make_minmax(F32, True, "f32_max")
f32_eq = _make_compare(F32, 0, "f32_eq")
f32_lt = _make_compare(F32, 1, "f32_lt")
f32_le = _make_compare(F32, 2, "f32_le")
f32_class = _make_class(F32, "f32_class")
f32_to_i32 = _make_to_int(F32, True, 32, "f32_to_i32")
f32_to_u32 = _make_to_int(F32, False, 32, "f32_to_u32")
f32_to_i64 = _make_to_int(F32, True, 64, "f32_to_i64")
f32_to_u64 = _make_to_int(F32, False, 64, "f32_to_u64")

f64_add = _make_binop(_add, F64, "f64_add")
f64_sub = _make_sub(F64, "f64_sub")
f64_mul = _make_binop(_mul, F64, "f64_mul")
f64_div = _make_binop(_div, F64, "f64_div")
f64_sqrt = _make_sqrt(F64, "f64_sqrt")
f64_fma = _make_fma(F64, "f64_fma")
f64_min = _make_minmax(F64, False, "f64_min")
f64_max = _make_minmax(F64, True, "f64_max")
f64_eq = _make_compare(F64, 0, "f64_eq")
f64_lt = _make_compare(F64, 1, "f64_lt")
f64_le = _make_compare(F64, 2, "f64_le")
f64_class = _make_class(F64, "f64_class")
f64_to_i32 = _make_to_int(F64, True, 32, "f64_to_i32")
f64_to_u32 = _make_to_int(F64, False, 32, "f64_to_u32")
f64_to_i64 = _make_to_int(F64, True, 64, "f64_to_i64")
f64_to_u64 = _make_to_int(F64, False, 64, "f64_to_u64")

i32_to_f32 = _make_from_int(True, 32, F32, "i32_to_f32")
u32_to_f32 = _make_from_int(False, 32, F32, "u32_to_f32")
i64_to_f32 = _make_from_int(True, 64, F32, "i64_to_f32")
u64_to_f32 = _make_from_int(False, 64, F32, "u64_to_f32")
i32_to_f64 = _make_from_int(True, 32, F64, "i32_to_f64")
u32_to_f64 = _make_from_int(False, 32, F64, "u32_to_f64")
i64_to_f64 = _make_from_int(True, 64, F64, "i64_to_f64")
u64_to_f64 = _make_from_int(False, 64, F64, "u64_to_f64")

_f32_to_f64_rm = _make_convert(F32, F64, "_f32_to_f64_rm")


@_jit
def f32_to_f64(a):
    """f32_to_f64(a) -> (bits, flags); exact (sNaN -> NV, any NaN -> canonical NaN)."""
    return _f32_to_f64_rm(a, RNE)


f64_to_f32 = _make_convert(F64, F32, "f64_to_f32")

# binary16 (Zfh, Zfhmin).
f16_add = _make_binop(_add, F16, "f16_add")
f16_sub = _make_sub(F16, "f16_sub")
f16_mul = _make_binop(_mul, F16, "f16_mul")
f16_div = _make_binop(_div, F16, "f16_div")
f16_sqrt = _make_sqrt(F16, "f16_sqrt")
f16_fma = _make_fma(F16, "f16_fma")
f16_min = _make_minmax(F16, False, "f16_min")
f16_max = _make_minmax(F16, True, "f16_max")
f16_eq = _make_compare(F16, 0, "f16_eq")
f16_lt = _make_compare(F16, 1, "f16_lt")
f16_le = _make_compare(F16, 2, "f16_le")
f16_class = _make_class(F16, "f16_class")
f16_to_i32 = _make_to_int(F16, True, 32, "f16_to_i32")
f16_to_u32 = _make_to_int(F16, False, 32, "f16_to_u32")
f16_to_i64 = _make_to_int(F16, True, 64, "f16_to_i64")
f16_to_u64 = _make_to_int(F16, False, 64, "f16_to_u64")
i32_to_f16 = _make_from_int(True, 32, F16, "i32_to_f16")
u32_to_f16 = _make_from_int(False, 32, F16, "u32_to_f16")
i64_to_f16 = _make_from_int(True, 64, F16, "i64_to_f16")
u64_to_f16 = _make_from_int(False, 64, F16, "u64_to_f16")
f16_to_f32 = _make_exact_convert(F16, F32, "f16_to_f32")
f16_to_f64 = _make_exact_convert(F16, F64, "f16_to_f64")
f32_to_f16 = _make_convert(F32, F16, "f32_to_f16")
f64_to_f16 = _make_convert(F64, F16, "f64_to_f16")

# Zfa: IEEE 754-2019 minimum/maximum, quiet comparisons, round to integral, modular conversion.
f16_minm = _make_minmax_ieee(F16, False, "f16_minm")
f16_maxm = _make_minmax_ieee(F16, True, "f16_maxm")
f32_minm = _make_minmax_ieee(F32, False, "f32_minm")
f32_maxm = _make_minmax_ieee(F32, True, "f32_maxm")
f64_minm = _make_minmax_ieee(F64, False, "f64_minm")
f64_maxm = _make_minmax_ieee(F64, True, "f64_maxm")
f16_ltq = _make_compare(F16, 3, "f16_ltq")
f16_leq = _make_compare(F16, 4, "f16_leq")
f32_ltq = _make_compare(F32, 3, "f32_ltq")
f32_leq = _make_compare(F32, 4, "f32_leq")
f64_ltq = _make_compare(F64, 3, "f64_ltq")
f64_leq = _make_compare(F64, 4, "f64_leq")
f16_round = _make_round(F16, False, "f16_round")
f16_roundnx = _make_round(F16, True, "f16_roundnx")
f32_round = _make_round(F32, False, "f32_round")
f32_roundnx = _make_round(F32, True, "f32_roundnx")
f64_round = _make_round(F64, False, "f64_round")
f64_roundnx = _make_round(F64, True, "f64_roundnx")


@_jit
def f64_to_i32_mod(a):
    """f64_to_i32_mod(a) -> (int64 register value, flags): Zfa fcvtmod.w.d."""
    return _to_i32_mod(np.uint64(a), 11, 52)


PUBLIC_FUNCTIONS = tuple(name for name in __all__ if name[:1] in "fiu" and name[1:2].isdigit())
