"""Numba cfunc wrappers that give each op's semantics a flat C signature (see oplib)."""

from __future__ import annotations

from numba import carray, cfunc, types

from dbt.ir import semantics as sem
from dbt.ir.state import FFLAGS, FRM

_i64 = types.int64
_i64p = types.CPointer(types.int64)
_u8p = types.CPointer(types.uint8)
_OPTIONS = {"nopython": True, "error_model": "numpy"}
#: carray length for raw guest memory: any address the caller has checked is in range.
_WHOLE = 1 << 62


def compile_symbol(kind: str, sem_name: str, size: int):
    fn = getattr(sem, sem_name)
    return _BUILDERS[kind](fn, size)


def _alu2(fn, size):
    def f(a, b):
        return fn(a, b)

    return cfunc(_i64(_i64, _i64), **_OPTIONS)(f)


def _alu1(fn, size):
    def f(a):
        return fn(a)

    return cfunc(_i64(_i64), **_OPTIONS)(f)


def _cond(fn, size):
    def f(a, b):
        return 1 if fn(a, b) else 0

    return cfunc(_i64(_i64, _i64), **_OPTIONS)(f)


def _load(fn, size):
    def f(mem_p, addr):
        return fn(carray(mem_p, (_WHOLE,)), addr)

    return cfunc(_i64(_u8p, _i64), **_OPTIONS)(f)


def _store(fn, size):
    def f(mem_p, addr, value):
        fn(carray(mem_p, (_WHOLE,)), addr, value)

    return cfunc(types.void(_u8p, _i64, _i64), **_OPTIONS)(f)


def _lsized(fn, size):
    def f(mem_p, addr):
        return fn(carray(mem_p, (_WHOLE,)), addr, size)

    return cfunc(_i64(_u8p, _i64), **_OPTIONS)(f)


def _amo(fn, size):
    def f(old, src):
        return fn(old, src, size)

    return cfunc(_i64(_i64, _i64), **_OPTIONS)(f)


def _csr(fn, size):
    def f(state_p, csr, src, mode):
        return fn(carray(state_p, (16,)), csr, src, mode, FFLAGS, FRM)

    return cfunc(_i64(_i64p, _i64, _i64, _i64), **_OPTIONS)(f)


def _memok(fn, size):
    def f(perm_p, npages, addr, access_size, need):
        return 1 if fn(carray(perm_p, (npages,)), addr, access_size, need) else 0

    return cfunc(_i64(_u8p, _i64, _i64, _i64, _i64), **_OPTIONS)(f)


def _fp3rm(fn, size):
    def f(a, b, c, rm, flags):
        r, fl = fn(a, b, c, rm)
        if fl:
            flags[0] |= fl
        return r

    return cfunc(_i64(_i64, _i64, _i64, _i64, _i64p), **_OPTIONS)(f)


def _fp2rm(fn, size):
    def f(a, b, rm, flags):
        r, fl = fn(a, b, rm)
        if fl:
            flags[0] |= fl
        return r

    return cfunc(_i64(_i64, _i64, _i64, _i64p), **_OPTIONS)(f)


def _fp1rm(fn, size):
    def f(a, rm, flags):
        r, fl = fn(a, rm)
        if fl:
            flags[0] |= fl
        return r

    return cfunc(_i64(_i64, _i64, _i64p), **_OPTIONS)(f)


def _fp2(fn, size):
    def f(a, b, flags):
        r, fl = fn(a, b)
        if fl:
            flags[0] |= fl
        return r

    return cfunc(_i64(_i64, _i64, _i64p), **_OPTIONS)(f)


def _fp1(fn, size):
    def f(a, flags):
        r, fl = fn(a)
        if fl:
            flags[0] |= fl
        return r

    return cfunc(_i64(_i64, _i64p), **_OPTIONS)(f)


_BUILDERS = {
    "alu2": _alu2,
    "alu1": _alu1,
    "cond": _cond,
    "load": _load,
    "store": _store,
    "lsized": _lsized,
    "amo": _amo,
    "csr": _csr,
    "memok": _memok,
    "fp3rm": _fp3rm,
    "fp2rm": _fp2rm,
    "fp1rm": _fp1rm,
    "fp2": _fp2,
    "fp1": _fp1,
}
