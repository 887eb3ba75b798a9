"""Op semantics, written once: every tier runs these functions (Numba nopython).

Values are int64 (guest registers and raw floating-point bit patterns); unsigned views are
taken explicitly. Floating-point values are IEEE bit patterns handled by `dbt.ir.softfloat`
(exact flags and all five rounding modes); single-precision values are NaN-boxed in 64-bit
registers (RISC-V unprivileged spec, "NaN Boxing of Narrower Values"). Stage: IR.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numba.extending import register_jitable

from dbt.ir import csrfile, pagewalk
from dbt.ir import hostfloat as hf
from dbt.ir import hostops as h
from dbt.ir import softfloat as sf
from dbt.ir import state as state_layout
from dbt.ir.ops import CSR_MODE_CLEAR, CSR_MODE_SET, CSR_MODE_WRITE
from dbt.ir.state import (
    CACHE_BLOCK_SIZE,
    MMU_MXR,
    MMU_SATP,
    PERM_PAIR_SHIFT,
    TIME_CYCLES,
    TIME_NS,
    TIME_NS_PER_TICK,
    TIME_OFFSET,
    TIME_SCALE,
    TIME_SCALE_SHIFT,
    TLB_SETS,
    TLB_VPN_MASK,
)

INT64_MIN = np.int64(-(1 << 63))
MASK32 = np.int64(0xFFFFFFFF)
BOX_HI = np.int64(-(1 << 32))  # upper 32 bits all ones
CANONICAL_NAN_S = np.int64(0x7FC00000)
FSIGN_S = np.int64(0x80000000)
FSIGN_D = INT64_MIN

_inline = njit(inline="always", cache=False)


@_inline
def sext_w(a):
    return np.int64(np.int32(a))


@_inline
def u64(a):
    return np.uint64(a)


# ---- integer ALU (RV64I, RV64M) ----
@_inline
def add(a, b):
    return a + b


@_inline
def sub(a, b):
    return a - b


@_inline
def slt(a, b):
    return np.int64(a < b)


@_inline
def sltu(a, b):
    return np.int64(u64(a) < u64(b))


@_inline
def xor(a, b):
    return a ^ b


@_inline
def or_(a, b):
    return a | b


@_inline
def and_(a, b):
    return a & b


@_inline
def sll(a, b):
    return a << (b & 63)


@_inline
def srl(a, b):
    return np.int64(u64(a) >> u64(b & 63))


@_inline
def sra(a, b):
    return a >> (b & 63)


@_inline
def addw(a, b):
    return sext_w(a + b)


@_inline
def subw(a, b):
    return sext_w(a - b)


@_inline
def sllw(a, b):
    return sext_w(a << (b & 31))


@_inline
def srlw(a, b):
    return sext_w(np.int64(u64(a & MASK32) >> u64(b & 31)))


@_inline
def sraw(a, b):
    return sext_w(a) >> (b & 31)


@_inline
def mul(a, b):
    return a * b


@_inline
def mulh(a, b):
    return h.mulh_ss(a, b)


@_inline
def mulhsu(a, b):
    return h.mulh_su(a, b)


@_inline
def mulhu(a, b):
    return h.mulh_uu(a, b)


# Division never traps on RISC-V: x/0 is all ones, x%0 is x, and INT_MIN/-1 overflows to INT_MIN
# with remainder 0 (unprivileged spec, "Division Operations").
@_inline
def div(a, b):
    if b == 0:
        return np.int64(-1)
    if a == INT64_MIN and b == -1:
        return a
    return h.sdiv(a, b)


@_inline
def divu(a, b):
    if b == 0:
        return np.int64(-1)
    return h.udiv(a, b)


@_inline
def rem(a, b):
    if b == 0:
        return a
    if a == INT64_MIN and b == -1:
        return np.int64(0)
    return h.srem(a, b)


@_inline
def remu(a, b):
    if b == 0:
        return a
    return h.urem(a, b)


@_inline
def mulw(a, b):
    return sext_w(a * b)


@_inline
def divw(a, b):
    x = sext_w(a)
    y = sext_w(b)
    if y == 0:
        return np.int64(-1)
    if x == -(1 << 31) and y == -1:
        return x
    return sext_w(h.sdiv(x, y))


@_inline
def divuw(a, b):
    x = a & MASK32
    y = b & MASK32
    if y == 0:
        return np.int64(-1)
    return sext_w(h.udiv(x, y))


@_inline
def remw(a, b):
    x = sext_w(a)
    y = sext_w(b)
    if y == 0:
        return x
    if x == -(1 << 31) and y == -1:
        return np.int64(0)
    return sext_w(h.srem(x, y))


@_inline
def remuw(a, b):
    x = a & MASK32
    y = b & MASK32
    if y == 0:
        return sext_w(x)
    return sext_w(h.urem(x, y))


# ---- bit manipulation (Zba, Zbb, Zbc, Zbs, Zbkb, Zbkx) and Zicond ----
_U_MASK32 = np.uint64(0xFFFFFFFF)
_U63 = np.uint64(63)
_U1 = np.uint64(1)
_LOW7_EACH_BYTE = np.uint64(0x7F7F7F7F7F7F7F7F)
_HIGH_EACH_BYTE = np.uint64(0x8080808080808080)
_LOW_EACH_BYTE = np.uint64(0x0101010101010101)


@_inline
def sh1add(a, b):
    return (a << 1) + b


@_inline
def sh2add(a, b):
    return (a << 2) + b


@_inline
def sh3add(a, b):
    return (a << 3) + b


@_inline
def add_uw(a, b):
    return (a & MASK32) + b


@_inline
def sh1add_uw(a, b):
    return ((a & MASK32) << 1) + b


@_inline
def sh2add_uw(a, b):
    return ((a & MASK32) << 2) + b


@_inline
def sh3add_uw(a, b):
    return ((a & MASK32) << 3) + b


@_inline
def slli_uw(a, shamt):
    return (a & MASK32) << (shamt & 63)


@_inline
def andn(a, b):
    return a & ~b


@_inline
def orn(a, b):
    return a | ~b


@_inline
def xnor(a, b):
    return ~(a ^ b)


@_inline
def clz(a):
    return h.clz64(a)


@_inline
def ctz(a):
    return h.ctz64(a)


@_inline
def cpop(a):
    return h.cpop64(a)


@_inline
def clzw(a):
    return h.clz64(a & MASK32) - 32


@_inline
def ctzw(a):
    return h.ctz64(a | np.int64(1 << 32))


@_inline
def cpopw(a):
    return h.cpop64(a & MASK32)


@_inline
def sext_b(a):
    return np.int64(np.int8(a))


@_inline
def sext_h(a):
    return np.int64(np.int16(a))


@_inline
def zext_h(a):
    return a & np.int64(0xFFFF)


@_inline
def max_(a, b):
    return a if a > b else b


@_inline
def min_(a, b):
    return a if a < b else b


@_inline
def maxu(a, b):
    return a if u64(a) > u64(b) else b


@_inline
def minu(a, b):
    return a if u64(a) < u64(b) else b


@_inline
def rol(a, b):
    x = u64(a)
    sh = u64(b) & _U63
    return np.int64((x << sh) | (x >> ((np.uint64(64) - sh) & _U63)))


@_inline
def ror(a, b):
    x = u64(a)
    sh = u64(b) & _U63
    return np.int64((x >> sh) | (x << ((np.uint64(64) - sh) & _U63)))


@_inline
def rolw(a, b):
    x = u64(a) & _U_MASK32
    sh = u64(b) & np.uint64(31)
    return sext_w(np.int64((x << sh) | (x >> ((np.uint64(32) - sh) & np.uint64(31)))))


@_inline
def rorw(a, b):
    x = u64(a) & _U_MASK32
    sh = u64(b) & np.uint64(31)
    return sext_w(np.int64((x >> sh) | (x << ((np.uint64(32) - sh) & np.uint64(31)))))


@_inline
def orc_b(a):
    """Each byte becomes 0xff if it was non-zero, else 0x00."""
    x = u64(a)
    nonzero = (((x & _LOW7_EACH_BYTE) + _LOW7_EACH_BYTE) | x) & _HIGH_EACH_BYTE
    return np.int64((nonzero >> np.uint64(7)) * np.uint64(0xFF))


@_inline
def rev8(a):
    return h.bswap64(a)


@_inline
def brev8(a):
    """The bits of each byte reversed, the bytes in place."""
    return h.bitreverse64(h.bswap64(a))


@_inline
def clmul(a, b):
    x = u64(a)
    y = u64(b)
    r = np.uint64(0)
    for i in range(64):
        if (y >> np.uint64(i)) & _U1:
            r ^= x << np.uint64(i)
    return np.int64(r)


@_inline
def clmulh(a, b):
    x = u64(a)
    y = u64(b)
    r = np.uint64(0)
    for i in range(1, 64):
        if (y >> np.uint64(i)) & _U1:
            r ^= x >> np.uint64(64 - i)
    return np.int64(r)


@_inline
def clmulr(a, b):
    x = u64(a)
    y = u64(b)
    r = np.uint64(0)
    for i in range(64):
        if (y >> np.uint64(i)) & _U1:
            r ^= x >> np.uint64(63 - i)
    return np.int64(r)


@_inline
def bclr(a, b):
    return a & ~(np.int64(1) << (b & 63))


@_inline
def bext(a, b):
    return np.int64((u64(a) >> (u64(b) & _U63)) & _U1)


@_inline
def binv(a, b):
    return a ^ (np.int64(1) << (b & 63))


@_inline
def bset(a, b):
    return a | (np.int64(1) << (b & 63))


@_inline
def pack(a, b):
    return (a & MASK32) | (b << 32)


@_inline
def packh(a, b):
    return (a & np.int64(0xFF)) | ((b & np.int64(0xFF)) << 8)


@_inline
def packw(a, b):
    return sext_w((a & np.int64(0xFFFF)) | ((b & np.int64(0xFFFF)) << 16))


@_inline
def xperm8(a, b):
    """Byte i of the result is byte (byte i of b) of a, or 0 if that index is 8 or more."""
    x = u64(a)
    y = u64(b)
    r = np.uint64(0)
    for i in range(8):
        index = (y >> np.uint64(8 * i)) & np.uint64(0xFF)
        if index < np.uint64(8):
            r |= ((x >> (index * np.uint64(8))) & np.uint64(0xFF)) << np.uint64(8 * i)
    return np.int64(r)


@_inline
def xperm4(a, b):
    """Nibble i of the result is nibble (nibble i of b) of a (every index is below 16 on RV64)."""
    x = u64(a)
    y = u64(b)
    r = np.uint64(0)
    for i in range(16):
        index = (y >> np.uint64(4 * i)) & np.uint64(0xF)
        r |= ((x >> (index * np.uint64(4))) & np.uint64(0xF)) << np.uint64(4 * i)
    return np.int64(r)


@_inline
def czero_eqz(a, b):
    return np.int64(0) if b == 0 else a


@_inline
def czero_nez(a, b):
    return a if b == 0 else np.int64(0)


@_inline
def box_s(a):
    return a | BOX_HI


# ---- branch conditions ----
@_inline
def cond_eq(a, b):
    return a == b


@_inline
def cond_ne(a, b):
    return a != b


@_inline
def cond_lt(a, b):
    return a < b


@_inline
def cond_ge(a, b):
    return a >= b


@_inline
def cond_ltu(a, b):
    return u64(a) < u64(b)


@_inline
def cond_geu(a, b):
    return u64(a) >= u64(b)


# ---- loads and stores (the caller has checked the address) ----
@_inline
def load_lb(mem, addr):
    return h.load_s8(mem, addr)


@_inline
def load_lbu(mem, addr):
    return h.load_u8(mem, addr)


@_inline
def load_lh(mem, addr):
    return h.load_s16(mem, addr)


@_inline
def load_lhu(mem, addr):
    return h.load_u16(mem, addr)


@_inline
def load_lw(mem, addr):
    return h.load_s32(mem, addr)


@_inline
def load_lwu(mem, addr):
    return h.load_u32(mem, addr)


@_inline
def load_ld(mem, addr):
    return h.load_64(mem, addr)


@_inline
def load_flw(mem, addr):
    return h.load_u32(mem, addr) | BOX_HI


@_inline
def store_sb(mem, addr, value):
    h.store_8(mem, addr, value)


@_inline
def store_sh(mem, addr, value):
    h.store_16(mem, addr, value)


@_inline
def store_sw(mem, addr, value):
    h.store_32(mem, addr, value)


@_inline
def store_sd(mem, addr, value):
    h.store_64(mem, addr, value)


@_inline
def store_cbo_zero(mem, addr, value):
    """cbo.zero: clear the CACHE_BLOCK_SIZE-aligned block at addr (the lifter aligned it)."""
    for k in range(CACHE_BLOCK_SIZE // 8):
        h.store_64(mem, addr + 8 * k, np.int64(0))


@_inline
def load_cbo_probe(mem, addr):
    """cbo.clean / cbo.flush: no data moves in user mode; the access check is the instruction."""
    return np.int64(0)


@_inline
def load_sized(mem, addr, size):
    """Sign-extended load of 1, 2, 4 or 8 bytes (AMO and LR results)."""
    if size == 1:
        return h.load_s8(mem, addr)
    if size == 2:
        return h.load_s16(mem, addr)
    if size == 4:
        return h.load_s32(mem, addr)
    return h.load_64(mem, addr)


@_inline
def cas_sized(mem, addr, expected, new, size):
    """Atomic compare-and-swap of 1, 2, 4 or 8 aligned bytes (what makes AMOs, SC and amocas
    atomic across guest threads): returns the old contents, sign-extended; stored if they equal
    the low bytes of `expected`."""
    if size == 1:
        return h.cas_8(mem, addr, expected, new)
    if size == 2:
        return h.cas_16(mem, addr, expected, new)
    if size == 4:
        return h.cas_32(mem, addr, expected, new)
    return h.cas_64(mem, addr, expected, new)


@_inline
def fence(full):
    """A guest fence: the host's full barrier when it orders stores before loads, else an
    acquire-release barrier (see hostops.fence_full)."""
    if full:
        h.fence_full()
    else:
        h.fence_acq_rel()


@_inline
def sext_sized(value, size):
    """The low `size` bytes of value, sign-extended (size is a constant at every call site)."""
    if size == 1:
        return np.int64(np.int8(value))
    if size == 2:
        return np.int64(np.int16(value))
    if size == 4:
        return sext_w(value)
    return value


@_inline
def zext_sized(value, size):
    if size == 8:
        return value
    return value & np.int64((1 << (8 * size)) - 1)


# ---- atomic memory operations: new memory value from the old one (sign-extended) and rs2 ----
@_inline
def amo_swap(old, src, size):
    return src


@_inline
def amo_add(old, src, size):
    return old + src


@_inline
def amo_xor(old, src, size):
    return old ^ src


@_inline
def amo_and(old, src, size):
    return old & src


@_inline
def amo_or(old, src, size):
    return old | src


@_inline
def amo_min(old, src, size):
    b = sext_sized(src, size)
    return old if old < b else b


@_inline
def amo_max(old, src, size):
    b = sext_sized(src, size)
    return old if old > b else b


@_inline
def amo_minu(old, src, size):
    a = zext_sized(old, size)
    b = zext_sized(src, size)
    return a if u64(a) < u64(b) else b


@_inline
def amo_maxu(old, src, size):
    a = zext_sized(old, size)
    b = zext_sized(src, size)
    return a if u64(a) > u64(b) else b


# ---- floating-point CSRs (fflags 0x001, frm 0x002, fcsr 0x003) ----


@_inline
def csr_fp(state, csr, src, mode, fflags_index, frm_index):
    fflags = state[fflags_index]
    frm = state[frm_index]
    if csr == 1:
        old = fflags
    elif csr == 2:
        old = frm
    else:
        old = (frm << 5) | fflags
    if mode == CSR_MODE_WRITE:
        new = src
    elif mode == CSR_MODE_SET:
        new = old | src
    elif mode == CSR_MODE_CLEAR:
        new = old & ~src
    else:
        return old
    if csr == 1:
        state[fflags_index] = new & 0x1F
    elif csr == 2:
        state[frm_index] = new & 7
    else:
        state[fflags_index] = new & 0x1F
        state[frm_index] = (new >> 5) & 7
    return old


# ---- floating point: single precision values are NaN-boxed in 64-bit registers ----
@_inline
def unbox_s(a):
    """The binary32 operand of a register: a value not properly NaN-boxed reads as the canonical NaN."""
    if (a & BOX_HI) == BOX_HI:
        return np.uint64(a & MASK32)
    return np.uint64(CANONICAL_NAN_S)


@_inline
def box_bits_s(bits):
    return np.int64(bits) | BOX_HI


@_inline
def fadd_s(a, b, rm):
    r, f = hf.f32_add(unbox_s(a), unbox_s(b), rm)
    return box_bits_s(r), f


@_inline
def fsub_s(a, b, rm):
    r, f = hf.f32_sub(unbox_s(a), unbox_s(b), rm)
    return box_bits_s(r), f


@_inline
def fmul_s(a, b, rm):
    r, f = hf.f32_mul(unbox_s(a), unbox_s(b), rm)
    return box_bits_s(r), f


@_inline
def fdiv_s(a, b, rm):
    r, f = hf.f32_div(unbox_s(a), unbox_s(b), rm)
    return box_bits_s(r), f


@_inline
def fsqrt_s(a, rm):
    r, f = hf.f32_sqrt(unbox_s(a), rm)
    return box_bits_s(r), f


_SIGN32 = np.uint64(0x80000000)
_SIGN64 = np.uint64(0x8000000000000000)


@_inline
def fmadd_s(a, b, c, rm):
    r, f = sf.f32_fma(unbox_s(a), unbox_s(b), unbox_s(c), rm)
    return box_bits_s(r), f


@_inline
def fmsub_s(a, b, c, rm):
    r, f = sf.f32_fma(unbox_s(a), unbox_s(b), unbox_s(c) ^ _SIGN32, rm)
    return box_bits_s(r), f


@_inline
def fnmsub_s(a, b, c, rm):
    r, f = sf.f32_fma(unbox_s(a) ^ _SIGN32, unbox_s(b), unbox_s(c), rm)
    return box_bits_s(r), f


@_inline
def fnmadd_s(a, b, c, rm):
    r, f = sf.f32_fma(unbox_s(a) ^ _SIGN32, unbox_s(b), unbox_s(c) ^ _SIGN32, rm)
    return box_bits_s(r), f


@_inline
def fmin_s(a, b):
    r, f = sf.f32_min(unbox_s(a), unbox_s(b))
    return box_bits_s(r), f


@_inline
def fmax_s(a, b):
    r, f = sf.f32_max(unbox_s(a), unbox_s(b))
    return box_bits_s(r), f


@_inline
def feq_s(a, b):
    return sf.f32_eq(unbox_s(a), unbox_s(b))


@_inline
def flt_s(a, b):
    return sf.f32_lt(unbox_s(a), unbox_s(b))


@_inline
def fle_s(a, b):
    return sf.f32_le(unbox_s(a), unbox_s(b))


# Sign injection is a bit operation: no flags, NaNs pass through unchanged (but unboxed inputs
# still read as the canonical NaN).
@_inline
def fsgnj_s(a, b):
    return box_bits_s((unbox_s(a) & ~_SIGN32) | (unbox_s(b) & _SIGN32))


@_inline
def fsgnjn_s(a, b):
    return box_bits_s((unbox_s(a) & ~_SIGN32) | (~unbox_s(b) & _SIGN32))


@_inline
def fsgnjx_s(a, b):
    return box_bits_s(unbox_s(a) ^ (unbox_s(b) & _SIGN32))


@_inline
def fclass_s(a):
    return sf.f32_class(unbox_s(a))


@_inline
def fcvt_w_s(a, rm):
    return sf.f32_to_i32(unbox_s(a), rm)


@_inline
def fcvt_wu_s(a, rm):
    return sf.f32_to_u32(unbox_s(a), rm)


@_inline
def fcvt_l_s(a, rm):
    return sf.f32_to_i64(unbox_s(a), rm)


@_inline
def fcvt_lu_s(a, rm):
    return sf.f32_to_u64(unbox_s(a), rm)


@_inline
def fcvt_s_w(a, rm):
    r, f = sf.i32_to_f32(a, rm)
    return box_bits_s(r), f


@_inline
def fcvt_s_wu(a, rm):
    r, f = sf.u32_to_f32(a, rm)
    return box_bits_s(r), f


@_inline
def fcvt_s_l(a, rm):
    r, f = sf.i64_to_f32(a, rm)
    return box_bits_s(r), f


@_inline
def fcvt_s_lu(a, rm):
    r, f = sf.u64_to_f32(a, rm)
    return box_bits_s(r), f


@_inline
def fcvt_s_d(a, rm):
    r, f = sf.f64_to_f32(np.uint64(a), rm)
    return box_bits_s(r), f


@_inline
def fcvt_d_s(a, rm):
    r, f = sf.f32_to_f64(unbox_s(a))
    return np.int64(r), f


# ---- double precision ----
@_inline
def fadd_d(a, b, rm):
    r, f = hf.f64_add(u64(a), u64(b), rm)
    return np.int64(r), f


@_inline
def fsub_d(a, b, rm):
    r, f = hf.f64_sub(u64(a), u64(b), rm)
    return np.int64(r), f


@_inline
def fmul_d(a, b, rm):
    r, f = hf.f64_mul(u64(a), u64(b), rm)
    return np.int64(r), f


@_inline
def fdiv_d(a, b, rm):
    r, f = hf.f64_div(u64(a), u64(b), rm)
    return np.int64(r), f


@_inline
def fsqrt_d(a, rm):
    r, f = hf.f64_sqrt(u64(a), rm)
    return np.int64(r), f


@_inline
def fmadd_d(a, b, c, rm):
    r, f = hf.f64_fma(u64(a), u64(b), u64(c), rm)
    return np.int64(r), f


@_inline
def fmsub_d(a, b, c, rm):
    r, f = hf.f64_fma(u64(a), u64(b), u64(c) ^ _SIGN64, rm)
    return np.int64(r), f


@_inline
def fnmsub_d(a, b, c, rm):
    r, f = hf.f64_fma(u64(a) ^ _SIGN64, u64(b), u64(c), rm)
    return np.int64(r), f


@_inline
def fnmadd_d(a, b, c, rm):
    r, f = hf.f64_fma(u64(a) ^ _SIGN64, u64(b), u64(c) ^ _SIGN64, rm)
    return np.int64(r), f


@_inline
def fmin_d(a, b):
    r, f = sf.f64_min(u64(a), u64(b))
    return np.int64(r), f


@_inline
def fmax_d(a, b):
    r, f = sf.f64_max(u64(a), u64(b))
    return np.int64(r), f


@_inline
def feq_d(a, b):
    return sf.f64_eq(u64(a), u64(b))


@_inline
def flt_d(a, b):
    return sf.f64_lt(u64(a), u64(b))


@_inline
def fle_d(a, b):
    return sf.f64_le(u64(a), u64(b))


@_inline
def fsgnj_d(a, b):
    return (a & ~FSIGN_D) | (b & FSIGN_D)


@_inline
def fsgnjn_d(a, b):
    return (a & ~FSIGN_D) | (~b & FSIGN_D)


@_inline
def fsgnjx_d(a, b):
    return a ^ (b & FSIGN_D)


@_inline
def fclass_d(a):
    return sf.f64_class(u64(a))


@_inline
def fcvt_w_d(a, rm):
    return sf.f64_to_i32(u64(a), rm)


@_inline
def fcvt_wu_d(a, rm):
    return sf.f64_to_u32(u64(a), rm)


@_inline
def fcvt_l_d(a, rm):
    return sf.f64_to_i64(u64(a), rm)


@_inline
def fcvt_lu_d(a, rm):
    return sf.f64_to_u64(u64(a), rm)


@_inline
def fcvt_d_w(a, rm):
    r, f = sf.i32_to_f64(a, rm)
    return np.int64(r), f


@_inline
def fcvt_d_wu(a, rm):
    r, f = sf.u32_to_f64(a, rm)
    return np.int64(r), f


@_inline
def fcvt_d_l(a, rm):
    r, f = sf.i64_to_f64(a, rm)
    return np.int64(r), f


@_inline
def fcvt_d_lu(a, rm):
    r, f = sf.u64_to_f64(a, rm)
    return np.int64(r), f


# ---- half precision (Zfhmin, Zfh) and the additional FP instructions (Zfa) ----
# A half value is NaN-boxed with the upper 48 bits all ones; any other register value reads as
# the canonical half NaN (fmv.x.h and fsh move the low 16 bits as they are).
BOX_HI_H = np.int64(-(1 << 16))  # upper 48 bits all ones
MASK16 = np.int64(0xFFFF)
CANONICAL_NAN_H = np.int64(0x7E00)
_SIGN16 = np.uint64(0x8000)


@_inline
def unbox_h(a):
    """The binary16 operand of a register: a value not properly NaN-boxed reads as the canonical NaN."""
    if (a & BOX_HI_H) == BOX_HI_H:
        return np.uint64(a & MASK16)
    return np.uint64(CANONICAL_NAN_H)


@_inline
def box_bits_h(bits):
    return np.int64(bits) | BOX_HI_H


@_inline
def box_h(a):
    return a | BOX_HI_H


@_inline
def load_flh(mem, addr):
    return h.load_u16(mem, addr) | BOX_HI_H


@_inline
def fadd_h(a, b, rm):
    r, f = sf.f16_add(unbox_h(a), unbox_h(b), rm)
    return box_bits_h(r), f


@_inline
def fsub_h(a, b, rm):
    r, f = sf.f16_sub(unbox_h(a), unbox_h(b), rm)
    return box_bits_h(r), f


@_inline
def fmul_h(a, b, rm):
    r, f = sf.f16_mul(unbox_h(a), unbox_h(b), rm)
    return box_bits_h(r), f


@_inline
def fdiv_h(a, b, rm):
    r, f = sf.f16_div(unbox_h(a), unbox_h(b), rm)
    return box_bits_h(r), f


@_inline
def fsqrt_h(a, rm):
    r, f = sf.f16_sqrt(unbox_h(a), rm)
    return box_bits_h(r), f


@_inline
def fmadd_h(a, b, c, rm):
    r, f = sf.f16_fma(unbox_h(a), unbox_h(b), unbox_h(c), rm)
    return box_bits_h(r), f


@_inline
def fmsub_h(a, b, c, rm):
    r, f = sf.f16_fma(unbox_h(a), unbox_h(b), unbox_h(c) ^ _SIGN16, rm)
    return box_bits_h(r), f


@_inline
def fnmsub_h(a, b, c, rm):
    r, f = sf.f16_fma(unbox_h(a) ^ _SIGN16, unbox_h(b), unbox_h(c), rm)
    return box_bits_h(r), f


@_inline
def fnmadd_h(a, b, c, rm):
    r, f = sf.f16_fma(unbox_h(a) ^ _SIGN16, unbox_h(b), unbox_h(c) ^ _SIGN16, rm)
    return box_bits_h(r), f


@_inline
def fmin_h(a, b):
    r, f = sf.f16_min(unbox_h(a), unbox_h(b))
    return box_bits_h(r), f


@_inline
def fmax_h(a, b):
    r, f = sf.f16_max(unbox_h(a), unbox_h(b))
    return box_bits_h(r), f


@_inline
def feq_h(a, b):
    return sf.f16_eq(unbox_h(a), unbox_h(b))


@_inline
def flt_h(a, b):
    return sf.f16_lt(unbox_h(a), unbox_h(b))


@_inline
def fle_h(a, b):
    return sf.f16_le(unbox_h(a), unbox_h(b))


@_inline
def fsgnj_h(a, b):
    return box_bits_h((unbox_h(a) & ~_SIGN16) | (unbox_h(b) & _SIGN16))


@_inline
def fsgnjn_h(a, b):
    return box_bits_h((unbox_h(a) & ~_SIGN16) | (~unbox_h(b) & _SIGN16))


@_inline
def fsgnjx_h(a, b):
    return box_bits_h(unbox_h(a) ^ (unbox_h(b) & _SIGN16))


@_inline
def fclass_h(a):
    return sf.f16_class(unbox_h(a))


@_inline
def fcvt_w_h(a, rm):
    return sf.f16_to_i32(unbox_h(a), rm)


@_inline
def fcvt_wu_h(a, rm):
    return sf.f16_to_u32(unbox_h(a), rm)


@_inline
def fcvt_l_h(a, rm):
    return sf.f16_to_i64(unbox_h(a), rm)


@_inline
def fcvt_lu_h(a, rm):
    return sf.f16_to_u64(unbox_h(a), rm)


@_inline
def fcvt_h_w(a, rm):
    r, f = sf.i32_to_f16(a, rm)
    return box_bits_h(r), f


@_inline
def fcvt_h_wu(a, rm):
    r, f = sf.u32_to_f16(a, rm)
    return box_bits_h(r), f


@_inline
def fcvt_h_l(a, rm):
    r, f = sf.i64_to_f16(a, rm)
    return box_bits_h(r), f


@_inline
def fcvt_h_lu(a, rm):
    r, f = sf.u64_to_f16(a, rm)
    return box_bits_h(r), f


@_inline
def fcvt_s_h(a, rm):
    r, f = sf.f16_to_f32(unbox_h(a))
    return box_bits_s(r), f


@_inline
def fcvt_h_s(a, rm):
    r, f = sf.f32_to_f16(unbox_s(a), rm)
    return box_bits_h(r), f


@_inline
def fcvt_d_h(a, rm):
    r, f = sf.f16_to_f64(unbox_h(a))
    return np.int64(r), f


@_inline
def fcvt_h_d(a, rm):
    r, f = sf.f64_to_f16(u64(a), rm)
    return box_bits_h(r), f


@_inline
def fminm_h(a, b):
    r, f = sf.f16_minm(unbox_h(a), unbox_h(b))
    return box_bits_h(r), f


@_inline
def fmaxm_h(a, b):
    r, f = sf.f16_maxm(unbox_h(a), unbox_h(b))
    return box_bits_h(r), f


@_inline
def fleq_h(a, b):
    return sf.f16_leq(unbox_h(a), unbox_h(b))


@_inline
def fltq_h(a, b):
    return sf.f16_ltq(unbox_h(a), unbox_h(b))


@_inline
def fround_h(a, rm):
    r, f = sf.f16_round(unbox_h(a), rm)
    return box_bits_h(r), f


@_inline
def froundnx_h(a, rm):
    r, f = sf.f16_roundnx(unbox_h(a), rm)
    return box_bits_h(r), f


@_inline
def fminm_s(a, b):
    r, f = sf.f32_minm(unbox_s(a), unbox_s(b))
    return box_bits_s(r), f


@_inline
def fmaxm_s(a, b):
    r, f = sf.f32_maxm(unbox_s(a), unbox_s(b))
    return box_bits_s(r), f


@_inline
def fleq_s(a, b):
    return sf.f32_leq(unbox_s(a), unbox_s(b))


@_inline
def fltq_s(a, b):
    return sf.f32_ltq(unbox_s(a), unbox_s(b))


@_inline
def fround_s(a, rm):
    r, f = sf.f32_round(unbox_s(a), rm)
    return box_bits_s(r), f


@_inline
def froundnx_s(a, rm):
    r, f = sf.f32_roundnx(unbox_s(a), rm)
    return box_bits_s(r), f


@_inline
def fminm_d(a, b):
    r, f = sf.f64_minm(u64(a), u64(b))
    return np.int64(r), f


@_inline
def fmaxm_d(a, b):
    r, f = sf.f64_maxm(u64(a), u64(b))
    return np.int64(r), f


@_inline
def fleq_d(a, b):
    return sf.f64_leq(u64(a), u64(b))


@_inline
def fltq_d(a, b):
    return sf.f64_ltq(u64(a), u64(b))


@_inline
def fround_d(a, rm):
    r, f = sf.f64_round(u64(a), rm)
    return np.int64(r), f


@_inline
def froundnx_d(a, rm):
    r, f = sf.f64_roundnx(u64(a), rm)
    return np.int64(r), f


@_inline
def fcvtmod_w_d(a):
    return sf.f64_to_i32_mod(u64(a))


# ---- guest memory checks: every access of every tier goes through this ----
@_inline
def mem_ok(perm, addr, size, need):
    """True if the `size` bytes at guest `addr` are mapped with all the `need` permission bits.

    The permission table has one byte per 4 KiB page and covers the whole guest address space,
    so an address outside it (including 'negative' ones) fails here and never reaches host memory.
    """
    return mem_ok_fast(perm, addr, size, need) or mem_ok_exact(perm, addr, size, need)


@_inline
def mem_ok_fast(perm, addr, size, need):
    """The common case of mem_ok in one table byte; False means "ask mem_ok_exact", not "fault".

    The page's pair bits say it and the next page both allow `need`, so the access is fine
    wherever in the page it starts, if it is at most a page long (a single byte never crosses).
    The JIT inlines this at every access (or group of accesses) and calls mem_ok_exact out of
    line (a helper compiled once) when it fails: the last bytes before a guard page, a page
    whose neighbour has other rights, or a real fault. (A branch-free range test here, a
    clamped index and an and, was measured slower to compile and to run.)
    """
    page = np.uint64(addr) >> np.uint64(12)
    if page >= np.uint64(perm.shape[0]):
        return False
    if size == 1:
        return (perm[page] & need) == need
    return (perm[page] & (need << PERM_PAIR_SHIFT)) == need << PERM_PAIR_SHIFT


block_slot = register_jitable(state_layout.block_slot)

# The page walk and TLB fill, plain Python that Python runs too (see ir.pagewalk): compiled
# into the kernels as they are.
for _walk_part in (
    pagewalk._page_fault,
    pagewalk._access_fault,
    pagewalk._ram_ok,
    pagewalk._allowed,
    pagewalk.walk,
    pagewalk.tlb_entry,
    pagewalk.tlb_meta,
    pagewalk.tlb_enter,
    pagewalk.tlb_flush,
):
    register_jitable(_walk_part)
tlb_fill = njit(cache=False)(pagewalk.tlb_fill)  # one out-of-line copy for every access site

# The privileged CSRs the kernels do themselves (see ir.csrfile), plain Python as the walk is.
for _csr_part in (
    pagewalk.tlb_set,
    csrfile.mmu_index,
    csrfile.mmu_word,
    csrfile.status_with_sd,
    csrfile.status_written,
    csrfile._word_of,
    csrfile._write_status,
):
    register_jitable(_csr_part)
csr_sys = njit(cache=False)(csrfile.csr_sys)
sfence_vma = njit(cache=False)(csrfile.sfence_vma)

#: The time CSR (the others, cycle and instret, are Python's).
CSR_TIME = 0xC01


@njit(cache=False)
def csr_counter(state, csr):
    """A counter CSR the kernels read themselves: (True, value), or (False, 0) for Python to
    read it. Only time, once Python has calibrated the host's cycle counter against its clock
    and where the mode may read it (TIME_SCALE nonzero): system mode's Linux reads it tens of
    thousands of times a boot, each an exit to Python before. The reading extrapolates from the
    clock Python read as it entered the kernels, and never runs ahead of it (see ir.state)."""
    scale = state[TIME_SCALE]
    if csr != CSR_TIME or scale == 0:
        return False, 0
    cycles = max(h.cycle_counter() - state[TIME_CYCLES], 0)
    ns = state[TIME_NS] + ((cycles * scale) >> TIME_SCALE_SHIFT)
    return True, ns // state[TIME_NS_PER_TICK] + state[TIME_OFFSET]


@_inline
def tlb_translate(state, mem, perm, base, addr, size):
    """System mode's SoftMMU on a kernel access: the physical address of the `size` bytes at
    virtual `addr` through the TLB set at state[base], walking the page table on a miss; or -1
    when Python must act (the walk faulted: Python walks again to raise the trap; or the access
    crosses into the next page: emulated there). A hit costs a tag compare; the entry was
    filled for this access type and mode, so no permission test."""
    if (addr & 0xFFF) + size > 0x1000:
        return -1
    page = (addr >> 12) & TLB_VPN_MASK
    entry = base + 2 * (page & (TLB_SETS - 1))
    if state[entry] != page and tlb_fill(state, mem, perm, base, addr, state[MMU_SATP], state[MMU_MXR]) != 0:
        return -1
    return addr + state[entry + 1]


@_inline
def mem_ok_exact(perm, addr, size, need):
    first = np.uint64(addr)
    page = first >> np.uint64(12)
    last = (first + np.uint64(size - 1)) >> np.uint64(12)
    # last < page: the access wraps around the top of the address space.
    if last >= np.uint64(perm.shape[0]) or last < page:
        return False
    return (perm[page] & perm[last] & need) == need
