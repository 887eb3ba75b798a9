"""Numba intrinsics for the few host operations Python arithmetic cannot express directly.

Unaligned loads and stores into the guest RAM array, truncating division, 128-bit multiply
high parts and float/int bit casts, each a single LLVM instruction. Stage: IR (no ISA, no backend).
Callers must guard what LLVM leaves undefined (division by zero, INT_MIN / -1, out-of-range
addresses): the semantics in `dbt.ir.semantics` and the kernel's memory checks do.
"""

from __future__ import annotations

import platform

from llvmlite import ir as llir
from numba import types
from numba.extending import intrinsic

_I64 = llir.IntType(64)
_I128 = llir.IntType(128)


def _element_ptr(context, builder, arr_type, arr, index, width: int):
    ary = context.make_array(arr_type)(context, builder, arr)
    ptr = builder.gep(ary.data, [index])
    return builder.bitcast(ptr, llir.IntType(width).as_pointer())


def _make_load(width: int, signed: bool):
    @intrinsic
    def load(typingctx, arr, index):
        sig = types.int64(arr, index)

        def codegen(context, builder, signature, args):
            ptr = _element_ptr(context, builder, signature.args[0], args[0], args[1], width)
            value = builder.load(ptr, align=1)
            if width == 64:
                return value
            return builder.sext(value, _I64) if signed else builder.zext(value, _I64)

        return sig, codegen

    return load


def _make_store(width: int):
    @intrinsic
    def store(typingctx, arr, index, value):
        sig = types.void(arr, index, value)

        def codegen(context, builder, signature, args):
            ptr = _element_ptr(context, builder, signature.args[0], args[0], args[1], width)
            val = args[2]
            if val.type.width != width:
                val = builder.trunc(val, llir.IntType(width))
            builder.store(val, ptr, align=1)
            return context.get_dummy_value()

        return sig, codegen

    return store


load_u8 = _make_load(8, False)
load_s8 = _make_load(8, True)
load_u16 = _make_load(16, False)
load_s16 = _make_load(16, True)
load_u32 = _make_load(32, False)
load_s32 = _make_load(32, True)
load_64 = _make_load(64, True)
store_8 = _make_store(8)
store_16 = _make_store(16)
store_32 = _make_store(32)
store_64 = _make_store(64)


def _make_binop(name: str):
    @intrinsic
    def binop(typingctx, a, b):
        sig = types.int64(types.int64, types.int64)

        def codegen(context, builder, signature, args):
            return getattr(builder, name)(args[0], args[1])

        return sig, codegen

    return binop


#: Truncating division and remainder (LLVM sdiv/udiv/srem/urem); undefined for b == 0 and,
#: signed, for INT64_MIN / -1: callers guard both.
sdiv = _make_binop("sdiv")
udiv = _make_binop("udiv")
srem = _make_binop("srem")
urem = _make_binop("urem")


def _make_mulh(sign_a: bool, sign_b: bool):
    @intrinsic
    def mulh(typingctx, a, b):
        sig = types.int64(types.int64, types.int64)

        def codegen(context, builder, signature, args):
            wa = builder.sext(args[0], _I128) if sign_a else builder.zext(args[0], _I128)
            wb = builder.sext(args[1], _I128) if sign_b else builder.zext(args[1], _I128)
            product = builder.mul(wa, wb)
            return builder.trunc(builder.lshr(product, llir.Constant(_I128, 64)), _I64)

        return sig, codegen

    return mulh


def _make_unary(name: str, *flag: int):
    @intrinsic
    def unary(typingctx, a):
        sig = types.int64(types.int64)

        def codegen(context, builder, signature, args):
            extra = [llir.Constant(llir.IntType(1), f) for f in flag]
            return getattr(builder, name)(args[0], *extra)

        return sig, codegen

    return unary


#: Bit counts and byte/bit reversals of a 64-bit value (single LLVM intrinsics); clz64 and ctz64
#: are 64 for 0 (the zero-is-poison flag is off).
clz64 = _make_unary("ctlz", 0)
ctz64 = _make_unary("cttz", 0)
cpop64 = _make_unary("ctpop")
bswap64 = _make_unary("bswap")
bitreverse64 = _make_unary("bitreverse")

#: High 64 bits of the 128-bit product: signed x signed, unsigned x unsigned, signed x unsigned.
mulh_ss = _make_mulh(True, True)
mulh_uu = _make_mulh(False, False)
mulh_su = _make_mulh(True, False)


_HOST_HAS_TSC = platform.machine().lower() in ("x86_64", "amd64", "i386", "i686")


@intrinsic
def cycle_counter(typingctx):
    """The host's cycle counter: rdtsc on x86 (llvm.readcyclecounter, a constant-rate counter on
    the CPUs of the last fifteen years). 0 elsewhere, which leaves the kernels' time reads
    uncalibrated (they exit to Python): on AArch64, LLVM reads PMCCNTR_EL0, which Linux does
    not let user space read by default (SIGILL)."""
    sig = types.int64()

    def codegen(context, builder, signature, args):
        if not _HOST_HAS_TSC:
            return llir.Constant(_I64, 0)
        function = builder.module.declare_intrinsic("llvm.readcyclecounter", fnty=llir.FunctionType(_I64, []))
        return builder.call(function, [])

    return sig, codegen


@intrinsic
def bits_to_f64(typingctx, x):
    sig = types.float64(types.int64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], llir.DoubleType())

    return sig, codegen


@intrinsic
def f64_to_bits(typingctx, x):
    sig = types.int64(types.float64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], _I64)

    return sig, codegen


@intrinsic
def bits_to_f32(typingctx, x):
    """The binary32 value whose bits are the low 32 bits of `x`."""
    sig = types.float32(types.int64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(builder.trunc(args[0], llir.IntType(32)), llir.FloatType())

    return sig, codegen


@intrinsic
def f32_to_bits(typingctx, x):
    """The bits of a binary32 value, zero-extended."""
    sig = types.int64(types.float32)

    def codegen(context, builder, signature, args):
        return builder.zext(builder.bitcast(args[0], llir.IntType(32)), _I64)

    return sig, codegen


@intrinsic
def fma_f64(typingctx, x, y, z):
    """x * y + z rounded once (llvm.fma: the host's FMA instruction, else libm's fma)."""
    sig = types.float64(types.float64, types.float64, types.float64)

    def codegen(context, builder, signature, args):
        return builder.fma(*args)

    return sig, codegen


@intrinsic
def poke_i64(typingctx, address, index, value):
    """Store `value` at the host address `address` + 8 * `index` (a region's inline cache)."""
    sig = types.void(types.int64, types.int64, types.int64)

    def codegen(context, builder, signature, args):
        base = builder.inttoptr(args[0], _I64.as_pointer())
        builder.store(args[2], builder.gep(base, [args[1]]))
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def call_region(typingctx, address, regs, state, mem, perm):
    """Call compiled region code at `address`: i64 region(i64* regs, i64* state, i8* mem,
    i8* perm, i64 npages). Returns 0 (continue at state[PC]) or an exit reason."""
    sig = types.int64(types.int64, regs, state, mem, perm)

    def codegen(context, builder, signature, args):
        i8p = llir.IntType(8).as_pointer()
        fnty = llir.FunctionType(_I64, [_I64.as_pointer(), _I64.as_pointer(), i8p, i8p, _I64])
        function = builder.inttoptr(args[0], fnty.as_pointer())
        arrays = [context.make_array(t)(context, builder, v) for t, v in zip(signature.args[1:], args[1:])]
        regs_p = builder.bitcast(arrays[0].data, _I64.as_pointer())
        state_p = builder.bitcast(arrays[1].data, _I64.as_pointer())
        mem_p = builder.bitcast(arrays[2].data, i8p)
        perm_p = builder.bitcast(arrays[3].data, i8p)
        npages = builder.extract_value(arrays[3].shape, 0)
        return builder.call(function, [regs_p, state_p, mem_p, perm_p, npages])

    return sig, codegen


def _make_cas(width: int):
    @intrinsic
    def cas(typingctx, arr, index, expected, new):
        sig = types.int64(arr, index, expected, new)

        def codegen(context, builder, signature, args):
            ptr = _element_ptr(context, builder, signature.args[0], args[0], args[1], width)
            kind = llir.IntType(width)
            want, value = args[2], args[3]
            if width != 64:
                want, value = builder.trunc(want, kind), builder.trunc(value, kind)
            pair = builder.cmpxchg(ptr, want, value, "seq_cst", "seq_cst")
            seen = builder.extract_value(pair, 0)
            return seen if width == 64 else builder.sext(seen, _I64)

        return sig, codegen

    return cas


#: Atomic compare-and-swap of 1, 2, 4 or 8 bytes at `index` of the guest RAM array (one host
#: `lock cmpxchg` / LL-SC loop, sequentially consistent): stores the low bytes of `new` if the
#: memory holds the low bytes of `expected`; returns what the memory held, sign-extended.
#: The address must be aligned to the size (callers check: AMOs, LR/SC and amocas trap otherwise).
cas_8 = _make_cas(8)
cas_16 = _make_cas(16)
cas_32 = _make_cas(32)
cas_64 = _make_cas(64)


@intrinsic
def cas_128(typingctx, arr, index, expected_lo, expected_hi, new_lo, new_hi):
    """Atomic 16-byte compare-and-swap (cmpxchg16b on x86-64, casp / an LL-SC pair loop on
    arm64); returns the (low, high) halves memory held. `index` must be 16-byte aligned."""
    sig = types.UniTuple(types.int64, 2)(arr, index, expected_lo, expected_hi, new_lo, new_hi)

    def codegen(context, builder, signature, args):
        ptr = _element_ptr(context, builder, signature.args[0], args[0], args[1], 128)

        def join(lo, hi):
            wide_hi = builder.shl(builder.zext(hi, _I128), llir.Constant(_I128, 64))
            return builder.or_(builder.zext(lo, _I128), wide_hi)

        pair = builder.cmpxchg(ptr, join(args[2], args[3]), join(args[4], args[5]), "seq_cst", "seq_cst")
        seen = builder.extract_value(pair, 0)
        lo = builder.trunc(seen, _I64)
        hi = builder.trunc(builder.lshr(seen, llir.Constant(_I128, 64)), _I64)
        return context.make_tuple(builder, signature.return_type, [lo, hi])

    return sig, codegen


def _make_fence(ordering: str):
    @intrinsic
    def fence(typingctx):
        sig = types.void()

        def codegen(context, builder, signature, args):
            builder.fence(ordering)
            return context.get_dummy_value()

        return sig, codegen

    return fence


#: A guest fence that orders earlier stores before later loads needs the host's full barrier
#: (x86 reorders exactly that pair); every other guest fence is an acquire-release barrier (free
#: on x86 apart from stopping LLVM's reordering, a `dmb ish` on arm64).
fence_full = _make_fence("seq_cst")
fence_acq_rel = _make_fence("acq_rel")


@intrinsic
def load_shared_i64(typingctx, arr, index):
    """arr[index] of an int64 array another thread may write (a relaxed atomic load: read afresh
    every time, never hoisted out of a loop)."""
    sig = types.int64(arr, index)

    def codegen(context, builder, signature, args):
        ptr = _element_ptr(context, builder, signature.args[0], args[0], args[1], 64)
        return builder.load_atomic(ptr, "monotonic", 8)

    return sig, codegen
