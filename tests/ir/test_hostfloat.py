"""The host-FPU fast paths (ir/hostfloat.py) against the soft float they stand in for.

The fast path must give the soft float's result bits and flags for every input: it is taken
only where it is certainly right and falls back to the soft float elsewhere. Inputs are drawn
around the edges of the fast path's window, from ordinary numbers (where it is taken: exact and
inexact results, cancellations, exact quotients and square roots) and from raw bit patterns.
The soft float itself is checked against an exact rational reference in test_softfloat.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit

from dbt.ir import hostfloat as hf
from dbt.ir import softfloat as sf

OPS = [
    "f64_add",
    "f64_sub",
    "f64_mul",
    "f64_div",
    "f64_sqrt",
    "f32_add",
    "f32_sub",
    "f32_mul",
    "f32_div",
    "f32_sqrt",
]
OPS3 = ["f64_fma"]


@njit(cache=False)
def _both(op, a, b, rm):
    """((fast result, fast flags), (soft result, soft flags)) of operation number `op`."""
    if op == 0:
        return hf.f64_add(a, b, rm), sf.f64_add(a, b, rm)
    if op == 1:
        return hf.f64_sub(a, b, rm), sf.f64_sub(a, b, rm)
    if op == 2:
        return hf.f64_mul(a, b, rm), sf.f64_mul(a, b, rm)
    if op == 3:
        return hf.f64_div(a, b, rm), sf.f64_div(a, b, rm)
    if op == 4:
        return hf.f64_sqrt(a, rm), sf.f64_sqrt(a, rm)
    if op == 5:
        return hf.f32_add(a, b, rm), sf.f32_add(a, b, rm)
    if op == 6:
        return hf.f32_sub(a, b, rm), sf.f32_sub(a, b, rm)
    if op == 7:
        return hf.f32_mul(a, b, rm), sf.f32_mul(a, b, rm)
    if op == 8:
        return hf.f32_div(a, b, rm), sf.f32_div(a, b, rm)
    return hf.f32_sqrt(a, rm), sf.f32_sqrt(a, rm)


@njit(cache=False)
def _both_fma(a, b, c, rm):
    return hf.f64_fma(a, b, c, rm), sf.f64_fma(a, b, c, rm)


def check_fma(a: int, b: int, c: int, rm: int = 0) -> None:
    fast, soft = _both_fma(np.uint64(a), np.uint64(b), np.uint64(c), rm)
    assert (int(fast[0]), int(fast[1])) == (int(soft[0]), int(soft[1])), (hex(a), hex(b), hex(c), rm)


def check(op: str, a: int, b: int, rm: int = 0) -> None:
    fast, soft = _both(OPS.index(op), np.uint64(a), np.uint64(b), rm)
    assert (int(fast[0]), int(fast[1])) == (int(soft[0]), int(soft[1])), (op, hex(a), hex(b), rm)


def f64_bits(value: float) -> int:
    return int(np.float64(value).view(np.uint64))


def f32_bits(value: float) -> int:
    return int(np.float32(value).view(np.uint32))


def _bits_near_window(width: int):
    """Raw patterns with exponents around the window's edges and everywhere else."""
    frac_bits, bias = (52, 1023) if width == 64 else (23, 127)
    edge = 400 if width == 64 else 50
    exponents = st.one_of(
        st.integers(bias - edge - 2, bias - edge + 2),
        st.integers(bias + edge - 2, bias + edge + 2),
        st.integers(bias - 30, bias + 30),
        st.integers(0, 2 * bias + 1),
    )
    fractions = st.one_of(
        st.integers(0, (1 << frac_bits) - 1),
        st.sampled_from([0, 1, 1 << (frac_bits - 1), (1 << frac_bits) - 1]),
    )
    return st.builds(
        lambda s, e, f: (s << (width - 1)) | (e << frac_bits) | f, st.integers(0, 1), exponents, fractions
    )


@settings(max_examples=3000, deadline=None)
@given(op=st.sampled_from(OPS), data=st.data())
def test_fast_path_equals_soft_float_on_raw_bits(op: str, data) -> None:
    width = 64 if op.startswith("f64") else 32
    a, b = data.draw(_bits_near_window(width)), data.draw(_bits_near_window(width))
    check(op, a, b, data.draw(st.sampled_from([0, 0, 0, 1, 2, 3, 4])))


@settings(max_examples=3000, deadline=None)
@given(
    op=st.sampled_from(OPS),
    x=st.floats(-1e6, 1e6, allow_nan=False, width=32),
    y=st.floats(-1e6, 1e6, allow_nan=False, width=32),
    small=st.booleans(),
)
def test_fast_path_equals_soft_float_on_ordinary_numbers(op: str, x: float, y: float, small: bool) -> None:
    """Small integers and short fractions give exact results, others inexact ones."""
    if small:
        x, y = float(round(x)) / 8, float(round(y)) / 8
    bits = f64_bits if op.startswith("f64") else f32_bits
    check(op, bits(x), bits(y))
    check(op, bits(x), bits(-x))
    check(op, bits(x * y), bits(y))


@pytest.mark.parametrize(
    ("op", "a", "b"),
    [
        ("f64_add", 1.0, -1.0),  # exact cancellation: +0
        ("f64_add", 1.0, 2.0**-60),  # inexact, the error is all of b
        ("f64_sub", 2.0**400, 2.0**-400),  # window edges
        ("f64_mul", 3.0, 1.0 / 3.0),
        ("f64_mul", 2.0**400, 2.0**400),
        ("f64_div", 1.0, 3.0),
        ("f64_div", 6.0, 3.0),  # exact quotient
        ("f64_div", 2.0**-400, 2.0**400),
        ("f64_sqrt", 2.0, 0.0),
        ("f64_sqrt", 9.0, 0.0),  # exact root
        ("f64_sqrt", -4.0, 0.0),  # invalid: soft float
        ("f64_div", 1.0, 0.0),  # divide by zero: soft float
        ("f32_add", 1.0, 2.0**-30),
        ("f32_mul", 3.0, 1.0 / 3.0),
        ("f32_div", 1.0, 10.0),
        ("f32_div", 10.0, 4.0),
        ("f32_sqrt", 2.0, 0.0),
        ("f32_sqrt", 0.25, 0.0),
    ],
)
def test_fast_path_edge_cases(op: str, a: float, b: float) -> None:
    bits = f64_bits if op.startswith("f64") else f32_bits
    for rm in range(5):
        check(op, bits(a), bits(b), rm)


@settings(max_examples=3000, deadline=None)
@given(data=st.data())
def test_fma_fast_path_equals_soft_float(data) -> None:
    """Raw patterns, and products that cancel against the addend (exact and inexact)."""
    rm = data.draw(st.sampled_from([0, 0, 0, 1, 2, 3, 4]))
    a, b, c = (data.draw(_bits_near_window(64)) for _ in range(3))
    check_fma(a, b, c, rm)
    x = data.draw(st.floats(-1e6, 1e6, allow_nan=False))
    y = data.draw(st.floats(-1e6, 1e6, allow_nan=False))
    product = x * y
    check_fma(f64_bits(x), f64_bits(y), f64_bits(-product))
    check_fma(f64_bits(x), f64_bits(y), f64_bits(-product * (1 + 2.0**-52)))
    small_x, small_y = float(round(x)) / 4, float(round(y)) / 4
    check_fma(f64_bits(small_x), f64_bits(small_y), f64_bits(0.75))


@pytest.mark.parametrize(
    ("a", "b", "c"),
    [
        (3.0, 1.0 / 3.0, -1.0),
        (2.0, 3.0, 4.0),
        (1.0 + 2.0**-30, 1.0 + 2.0**-30, -1.0),
        (0.1, 10.0, -1.0),
        (2.0**400, 2.0**-400, 2.0**-400),
    ],
)
def test_fma_edge_cases(a: float, b: float, c: float) -> None:
    for rm in range(5):
        check_fma(f64_bits(a), f64_bits(b), f64_bits(c), rm)
