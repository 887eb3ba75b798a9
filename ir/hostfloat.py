"""Host-FPU fast paths for the common floating-point operations, with exact RISC-V flags.

The soft float of `dbt.ir.softfloat` is exact for every input and rounding mode, but costs
dozens of integer operations per instruction. Most operations in real programs round to nearest
even on ordinary numbers, where the host's IEEE arithmetic gives the same result bits; the only
flag such an operation can raise is inexact (NX), and an error-free transformation tells whether
the result was exact. These functions take that path when it is certainly right and call the soft
float otherwise, so the results and flags are always the soft float's (tests/ir/test_hostfloat.py
checks them against each other):

* the rounding mode is RNE (0);
* every operand is a normal number whose magnitude lies in [2^-400, 2^400] (binary64) or
  [2^-50, 2^50] (binary32). Then no result, partial product or error term can overflow, underflow
  or be subnormal, NaN and infinity cannot arise, and zero arises only from an exact cancellation
  (x + -x), whose RNE sign the host gets right. Anything else (zeros, subnormals, NaNs,
  infinities, huge or tiny values, other rounding modes) takes the soft-float path.

Exactness tests (no fused multiply-add needed, the host may lack one):
add/sub: Knuth's TwoSum error is zero. mul: Dekker's TwoProduct error is zero. div: q * y == x
exactly (TwoProduct of q and y gives x and zero). sqrt: r * r == x exactly. fma: see f64_fma.
binary32 operations
compute in binary64 (exact for products, correctly rounded once more for the others, which is
innocuous since 53 >= 2 * 24 + 2) and compare the narrowed result.

binary64 fused multiply-add uses the host's FMA (llvm.fma); binary32 fused multiply-add stays in
soft float (computing it in binary64 would round twice).
Stage: IR.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from dbt.ir import hostops as h
from dbt.ir import softfloat as sf

_inline = njit(inline="always", cache=False)

_NX = np.int64(sf.NX)
_RNE = 0
# Biased exponent windows (see the module docstring).
_D_EXP_LO = np.uint64(1023 - 400)
_D_EXP_HI = np.uint64(1023 + 400)
_S_EXP_LO = np.uint64(127 - 50)
_S_EXP_HI = np.uint64(127 + 50)
_SPLIT = 134217729.0  # 2^27 + 1: Veltkamp's splitter for binary64


@_inline
def _d_ok(x):
    e = (x >> np.uint64(52)) & np.uint64(0x7FF)
    return e >= _D_EXP_LO and e <= _D_EXP_HI


@_inline
def _s_ok(x):
    e = (x >> np.uint64(23)) & np.uint64(0xFF)
    return e >= _S_EXP_LO and e <= _S_EXP_HI


@_inline
def _d(x):
    return h.bits_to_f64(np.int64(x))


@_inline
def _bits(value):
    return np.uint64(h.f64_to_bits(value))


@_inline
def _two_sum_error(x, y, s):
    bb = s - x
    return (x - (s - bb)) + (y - bb)


@_inline
def _split(x):
    c = _SPLIT * x
    high = c - (c - x)
    return high, x - high


@_inline
def _two_product_error(x, y, p):
    xh, xl = _split(x)
    yh, yl = _split(y)
    return ((xh * yh - p) + xh * yl + xl * yh) + xl * yl


@_inline
def _flag(inexact):
    return _NX if inexact else np.int64(0)


# ---- binary64 ----
@_inline
def _f64_sum(x, y):
    s = x + y
    return _bits(s), _flag(_two_sum_error(x, y, s) != 0.0)


@_inline
def f64_add(a, b, rm):
    if rm == _RNE and _d_ok(a) and _d_ok(b):
        return _f64_sum(_d(a), _d(b))
    return sf.f64_add(a, b, rm)


@_inline
def f64_sub(a, b, rm):
    if rm == _RNE and _d_ok(a) and _d_ok(b):
        return _f64_sum(_d(a), -_d(b))
    return sf.f64_sub(a, b, rm)


@_inline
def f64_mul(a, b, rm):
    if rm == _RNE and _d_ok(a) and _d_ok(b):
        x, y = _d(a), _d(b)
        p = x * y
        return _bits(p), _flag(_two_product_error(x, y, p) != 0.0)
    return sf.f64_mul(a, b, rm)


@_inline
def f64_div(a, b, rm):
    if rm == _RNE and _d_ok(a) and _d_ok(b):
        x, y = _d(a), _d(b)
        q = x / y
        p = q * y
        exact = p == x and _two_product_error(q, y, p) == 0.0
        return _bits(q), _flag(not exact)
    return sf.f64_div(a, b, rm)


@_inline
def f64_sqrt(a, rm):
    if rm == _RNE and _d_ok(a) and a >> np.uint64(63) == 0:
        x = _d(a)
        r = np.sqrt(x)
        p = r * r
        exact = p == x and _two_product_error(r, r, p) == 0.0
        return _bits(r), _flag(not exact)
    return sf.f64_sqrt(a, rm)


@_inline
def f64_fma(a, b, c, rm):
    """a * b + c rounded once. The result r is exact when x * y = r - z: with x * y = p + e
    (TwoProduct) and r - z = v + w (TwoSum), both pairs are the real value's RNE rounding and
    the error, so the two reals are equal exactly when p == v and e == w."""
    if rm == _RNE and _d_ok(a) and _d_ok(b) and _d_ok(c):
        x, y, z = _d(a), _d(b), _d(c)
        r = h.fma_f64(x, y, z)
        p = x * y
        e = _two_product_error(x, y, p)
        v = r - z
        w = _two_sum_error(r, -z, v)
        return _bits(r), _flag(p != v or e != w)
    return sf.f64_fma(a, b, c, rm)


# ---- binary32 (operands and results are the low 32 bits) ----
@_inline
def _s(x):
    return np.float64(h.bits_to_f32(np.int64(x)))


@_inline
def _narrow(value):
    """(binary32 bits, the binary32 value widened back) of a binary64 value, rounded RNE."""
    single = np.float32(value)
    return np.uint64(h.f32_to_bits(single)), np.float64(single)


@_inline
def _f32_sum(x, y):
    """Inexact if the binary64 sum was (then no binary32 can be exact) or narrowing changed it."""
    s = x + y
    bits, back = _narrow(s)
    return bits, _flag(back != s or _two_sum_error(x, y, s) != 0.0)


@_inline
def f32_add(a, b, rm):
    if rm == _RNE and _s_ok(a) and _s_ok(b):
        return _f32_sum(_s(a), _s(b))
    return sf.f32_add(a, b, rm)


@_inline
def f32_sub(a, b, rm):
    if rm == _RNE and _s_ok(a) and _s_ok(b):
        return _f32_sum(_s(a), -_s(b))
    return sf.f32_sub(a, b, rm)


@_inline
def f32_mul(a, b, rm):
    if rm == _RNE and _s_ok(a) and _s_ok(b):
        p = _s(a) * _s(b)  # exact: 24 + 24 bits
        bits, back = _narrow(p)
        return bits, _flag(back != p)
    return sf.f32_mul(a, b, rm)


@_inline
def f32_div(a, b, rm):
    if rm == _RNE and _s_ok(a) and _s_ok(b):
        x, y = _s(a), _s(b)
        bits, back = _narrow(x / y)
        return bits, _flag(back * y != x)  # back * y is exact: 24 + 24 bits
    return sf.f32_div(a, b, rm)


@_inline
def f32_sqrt(a, rm):
    if rm == _RNE and _s_ok(a) and a >> np.uint64(31) == 0:
        x = _s(a)
        bits, back = _narrow(np.sqrt(x))
        return bits, _flag(back * back != x)
    return sf.f32_sqrt(a, rm)
