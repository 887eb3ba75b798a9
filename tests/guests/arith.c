/* arith.c: integer arithmetic of RV64IM, with the corner cases that a translator gets wrong.
 *
 * Division by zero and INT_MIN / -1 are undefined in C, so those go through inline asm, where
 * RISC-V defines them: x / 0 = -1 (all ones), x % 0 = x, INT_MIN / -1 = INT_MIN, INT_MIN % -1 = 0.
 * Everything else is computed in C by noinline functions on volatile inputs so that nothing is
 * constant-folded.  All results are printed in hex.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>

#define NOINLINE __attribute__((noinline))

typedef int64_t i64;
typedef uint64_t u64;
typedef int32_t i32;
typedef uint32_t u32;

/* One R-type instruction: rd = op(rs1, rs2). */
#define RTYPE(name, insn)                                                            \
    static NOINLINE u64 name(u64 a, u64 b)                                           \
    {                                                                                \
        u64 r;                                                                       \
        __asm__ volatile(insn " %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));             \
        return r;                                                                    \
    }

RTYPE(asm_div, "div")
RTYPE(asm_divu, "divu")
RTYPE(asm_rem, "rem")
RTYPE(asm_remu, "remu")
RTYPE(asm_divw, "divw")
RTYPE(asm_divuw, "divuw")
RTYPE(asm_remw, "remw")
RTYPE(asm_remuw, "remuw")
RTYPE(asm_mul, "mul")
RTYPE(asm_mulh, "mulh")
RTYPE(asm_mulhu, "mulhu")
RTYPE(asm_mulhsu, "mulhsu")
RTYPE(asm_mulw, "mulw")
RTYPE(asm_addw, "addw")
RTYPE(asm_subw, "subw")
RTYPE(asm_sll, "sll")
RTYPE(asm_srl, "srl")
RTYPE(asm_sra, "sra")
RTYPE(asm_sllw, "sllw")
RTYPE(asm_srlw, "srlw")
RTYPE(asm_sraw, "sraw")
RTYPE(asm_slt, "slt")
RTYPE(asm_sltu, "sltu")

static NOINLINE u64 c_add(u64 a, u64 b) { return a + b; }
static NOINLINE u64 c_sub(u64 a, u64 b) { return a - b; }
static NOINLINE u64 c_mul(u64 a, u64 b) { return a * b; }
static NOINLINE u64 c_mulh(i64 a, i64 b) { return (u64)(((__int128)a * b) >> 64); }
static NOINLINE u64 c_mulhu(u64 a, u64 b) { return (u64)(((unsigned __int128)a * b) >> 64); }
static NOINLINE u64 c_mulhsu(i64 a, u64 b) { return (u64)(((__int128)a * (__int128)b) >> 64); }
static NOINLINE i64 c_div(i64 a, i64 b) { return a / b; }
static NOINLINE i64 c_rem(i64 a, i64 b) { return a % b; }
static NOINLINE u64 c_divu(u64 a, u64 b) { return a / b; }
static NOINLINE u64 c_remu(u64 a, u64 b) { return a % b; }
static NOINLINE i32 c_addw(i32 a, i32 b) { return (i32)((u32)a + (u32)b); }
static NOINLINE i32 c_subw(i32 a, i32 b) { return (i32)((u32)a - (u32)b); }
static NOINLINE i32 c_mulw(i32 a, i32 b) { return (i32)((u32)a * (u32)b); }
static NOINLINE i32 c_divw(i32 a, i32 b) { return a / b; }
static NOINLINE i32 c_remw(i32 a, i32 b) { return a % b; }
static NOINLINE u32 c_divuw(u32 a, u32 b) { return a / b; }
static NOINLINE u32 c_remuw(u32 a, u32 b) { return a % b; }
static NOINLINE i64 c_sext32(u64 a) { return (i64)(i32)a; }
static NOINLINE u64 c_zext32(u64 a) { return (u64)(u32)a; }
static NOINLINE i64 c_sext16(u64 a) { return (i64)(int16_t)a; }
static NOINLINE i64 c_sext8(u64 a) { return (i64)(int8_t)a; }
static NOINLINE u64 c_shl(u64 a, unsigned s) { return a << (s & 63); }
static NOINLINE u64 c_shr(u64 a, unsigned s) { return a >> (s & 63); }
static NOINLINE i64 c_sar(i64 a, unsigned s) { return a >> (s & 63); }
static NOINLINE i32 c_shlw(i32 a, unsigned s) { return (i32)((u32)a << (s & 31)); }
static NOINLINE u32 c_shrw(u32 a, unsigned s) { return a >> (s & 31); }
static NOINLINE i32 c_sarw(i32 a, unsigned s) { return a >> (s & 31); }
static NOINLINE u64 c_rotl(u64 a, unsigned s) { return (a << (s & 63)) | (a >> ((64 - s) & 63)); }
static NOINLINE int c_lt(i64 a, i64 b) { return a < b; }
static NOINLINE int c_ltu(u64 a, u64 b) { return a < b; }
static NOINLINE int c_le(i64 a, i64 b) { return a <= b; }
static NOINLINE int c_geu(u64 a, u64 b) { return a >= b; }
static NOINLINE int c_eq(u64 a, u64 b) { return a == b; }
static NOINLINE int c_ltw(i32 a, i32 b) { return a < b; }
static NOINLINE int c_ltuw(u32 a, u32 b) { return a < b; }
static NOINLINE u64 c_clz(u64 a) { return a ? (u64)__builtin_clzll(a) : 64; }
static NOINLINE u64 c_ctz(u64 a) { return a ? (u64)__builtin_ctzll(a) : 64; }
static NOINLINE u64 c_popcount(u64 a) { return (u64)__builtin_popcountll(a); }
static NOINLINE u64 c_bswap(u64 a) { return __builtin_bswap64(a); }
static NOINLINE u64 c_addi_imm(u64 a) { return a + 2047; }
static NOINLINE u64 c_subi_imm(u64 a) { return a - 2048; }
static NOINLINE u64 c_lui_imm(u64 a) { return a ^ 0xfffffffff8000000ULL; }
static NOINLINE u64 c_big_imm(u64 a) { return a + 0x123456789abcdef0ULL; }
static NOINLINE i64 c_slti(i64 a) { return a < -5; }
static NOINLINE u64 c_sltiu(u64 a) { return a < 0xfffffffffffff800ULL; }
static NOINLINE i64 c_min(i64 a, i64 b) { return a < b ? a : b; }
static NOINLINE u64 c_maxu(u64 a, u64 b) { return a > b ? a : b; }

static u64 checksum;

static void show(const char *what, u64 v)
{
    printf("%-28s %016" PRIx64 "\n", what, v);
    checksum = (checksum ^ v) * 0x100000001b3ULL;
}

static const u64 values[] = {
    0,
    1,
    2,
    3,
    7,
    0x7f,
    0x80,
    0xff,
    0x7fffffff,
    0x80000000,
    0xffffffff,
    0x100000000,
    0x123456789abcdef0,
    0x7fffffffffffffff,
    0x8000000000000000,
    0xfffffffffffffffe,
    0xffffffffffffffff,
    0xffffffff80000000,
    0xfedcba9876543210,
    0x00000000deadbeef,
};
#define NVALUES (sizeof values / sizeof values[0])

static volatile u64 vzero = 0, vone = 1, vminus1 = (u64)-1;
static volatile u64 vmin64 = 0x8000000000000000ULL;
static volatile u64 vmin32 = 0xffffffff80000000ULL;
static volatile u64 vmin32_zext = 0x80000000ULL;
static volatile u64 vbig = 0x123456789abcdef0ULL;

static void special_division(void)
{
    char buf[64];
    printf("-- division corner cases (asm) --\n");
    u64 dividends[] = {vzero, vone, vminus1, vmin64, vbig, vmin32, vmin32_zext};
    for (unsigned i = 0; i < sizeof dividends / sizeof dividends[0]; i++) {
        u64 a = dividends[i];
        snprintf(buf, sizeof buf, "div  %u / 0", i);
        show(buf, asm_div(a, vzero));
        snprintf(buf, sizeof buf, "divu %u / 0", i);
        show(buf, asm_divu(a, vzero));
        snprintf(buf, sizeof buf, "rem  %u %% 0", i);
        show(buf, asm_rem(a, vzero));
        snprintf(buf, sizeof buf, "remu %u %% 0", i);
        show(buf, asm_remu(a, vzero));
        snprintf(buf, sizeof buf, "divw  %u / 0", i);
        show(buf, asm_divw(a, vzero));
        snprintf(buf, sizeof buf, "divuw %u / 0", i);
        show(buf, asm_divuw(a, vzero));
        snprintf(buf, sizeof buf, "remw  %u %% 0", i);
        show(buf, asm_remw(a, vzero));
        snprintf(buf, sizeof buf, "remuw %u %% 0", i);
        show(buf, asm_remuw(a, vzero));
        snprintf(buf, sizeof buf, "div  %u / -1", i);
        show(buf, asm_div(a, vminus1));
        snprintf(buf, sizeof buf, "rem  %u %% -1", i);
        show(buf, asm_rem(a, vminus1));
        snprintf(buf, sizeof buf, "divw %u / -1", i);
        show(buf, asm_divw(a, vminus1));
        snprintf(buf, sizeof buf, "remw %u %% -1", i);
        show(buf, asm_remw(a, vminus1));
        snprintf(buf, sizeof buf, "divu %u / -1", i);
        show(buf, asm_divu(a, vminus1));
        snprintf(buf, sizeof buf, "divuw %u / -1", i);
        show(buf, asm_divuw(a, vminus1));
    }
}

static void pairwise(void)
{
    char buf[64];
    printf("-- pairwise C operations --\n");
    for (unsigned i = 0; i < NVALUES; i++) {
        for (unsigned j = 0; j < NVALUES; j++) {
            u64 a = values[i], b = values[j];
            u64 acc = 0;
            /* Fold each pair into a few lines so that the output stays readable. */
            snprintf(buf, sizeof buf, "[%02u,%02u] add/sub/mul", i, j);
            show(buf, c_add(a, b) ^ (c_sub(a, b) << 1) ^ c_mul(a, b));
            snprintf(buf, sizeof buf, "[%02u,%02u] mulh/hu/hsu", i, j);
            show(buf, c_mulh((i64)a, (i64)b) ^ (c_mulhu(a, b) * 3) ^ (c_mulhsu((i64)a, b) * 5));
            if (b != 0 && !(a == 0x8000000000000000ULL && b == (u64)-1)) {
                acc = (u64)c_div((i64)a, (i64)b) * 7 ^ (u64)c_rem((i64)a, (i64)b);
                acc ^= (c_divu(a, b) * 11) ^ (c_remu(a, b) * 13);
            }
            i32 aw = (i32)a, bw = (i32)b;
            if (bw != 0 && !(aw == INT32_MIN && bw == -1)) {
                acc ^= (u64)(i64)c_divw(aw, bw) * 17 ^ (u64)(i64)c_remw(aw, bw) * 19;
            }
            if ((u32)b != 0)
                acc ^= (u64)c_divuw((u32)a, (u32)b) * 23 ^ (u64)c_remuw((u32)a, (u32)b) * 29;
            snprintf(buf, sizeof buf, "[%02u,%02u] div/rem", i, j);
            show(buf, acc);
            snprintf(buf, sizeof buf, "[%02u,%02u] addw/subw/mulw", i, j);
            show(buf, (u64)(i64)c_addw(aw, bw) ^ ((u64)(i64)c_subw(aw, bw) * 3) ^
                          ((u64)(i64)c_mulw(aw, bw) * 5));
            snprintf(buf, sizeof buf, "[%02u,%02u] cmp", i, j);
            show(buf, (u64)c_lt((i64)a, (i64)b) | (u64)c_ltu(a, b) << 1 | (u64)c_le((i64)a, (i64)b) << 2 |
                          (u64)c_geu(a, b) << 3 | (u64)c_eq(a, b) << 4 | (u64)c_ltw(aw, bw) << 5 |
                          (u64)c_ltuw((u32)a, (u32)b) << 6 | ((u64)c_min((i64)a, (i64)b) << 8 ^
                          c_maxu(a, b)));
        }
    }
}

static void asm_pairs(void)
{
    printf("-- asm R-type vs C --\n");
    int bad = 0;
    for (unsigned i = 0; i < NVALUES; i++) {
        for (unsigned j = 0; j < NVALUES; j++) {
            u64 a = values[i], b = values[j];
            i32 aw = (i32)a, bw = (i32)b;
            bad += asm_mul(a, b) != c_mul(a, b);
            bad += asm_mulh(a, b) != c_mulh((i64)a, (i64)b);
            bad += asm_mulhu(a, b) != c_mulhu(a, b);
            bad += asm_mulhsu(a, b) != c_mulhsu((i64)a, b);
            bad += asm_mulw(a, b) != (u64)(i64)c_mulw(aw, bw);
            bad += asm_addw(a, b) != (u64)(i64)c_addw(aw, bw);
            bad += asm_subw(a, b) != (u64)(i64)c_subw(aw, bw);
            bad += asm_sll(a, b) != c_shl(a, (unsigned)b);
            bad += asm_srl(a, b) != c_shr(a, (unsigned)b);
            bad += asm_sra(a, b) != (u64)c_sar((i64)a, (unsigned)b);
            bad += asm_sllw(a, b) != (u64)(i64)c_shlw(aw, (unsigned)b);
            bad += asm_srlw(a, b) != (u64)(i64)(i32)c_shrw((u32)a, (unsigned)b);
            bad += asm_sraw(a, b) != (u64)(i64)c_sarw(aw, (unsigned)b);
            bad += asm_slt(a, b) != (u64)c_lt((i64)a, (i64)b);
            bad += asm_sltu(a, b) != (u64)c_ltu(a, b);
            if (b != 0 && !(a == 0x8000000000000000ULL && b == (u64)-1)) {
                bad += asm_div(a, b) != (u64)c_div((i64)a, (i64)b);
                bad += asm_rem(a, b) != (u64)c_rem((i64)a, (i64)b);
            }
            if (b != 0) {
                bad += asm_divu(a, b) != c_divu(a, b);
                bad += asm_remu(a, b) != c_remu(a, b);
            }
            if (bw != 0 && !(aw == INT32_MIN && bw == -1)) {
                bad += asm_divw(a, b) != (u64)(i64)c_divw(aw, bw);
                bad += asm_remw(a, b) != (u64)(i64)c_remw(aw, bw);
            }
            if ((u32)b != 0) {
                bad += asm_divuw(a, b) != (u64)(i64)(i32)c_divuw((u32)a, (u32)b);
                bad += asm_remuw(a, b) != (u64)(i64)(i32)c_remuw((u32)a, (u32)b);
            }
        }
    }
    printf("asm/C mismatches: %d\n", bad);
}

static void shifts(void)
{
    char buf[64];
    static const unsigned amounts[] = {0, 1, 31, 32, 33, 63, 64, 65, 127, 128, 255, 0xffffffe0};
    printf("-- shifts (amounts masked by the hardware) --\n");
    for (unsigned k = 0; k < sizeof amounts / sizeof amounts[0]; k++) {
        u64 s = amounts[k];
        u64 v = vbig | 0x8000000000000000ULL;
        snprintf(buf, sizeof buf, "sll  by %u", amounts[k]);
        show(buf, asm_sll(v, s));
        snprintf(buf, sizeof buf, "srl  by %u", amounts[k]);
        show(buf, asm_srl(v, s));
        snprintf(buf, sizeof buf, "sra  by %u", amounts[k]);
        show(buf, asm_sra(v, s));
        snprintf(buf, sizeof buf, "sllw by %u", amounts[k]);
        show(buf, asm_sllw(v, s));
        snprintf(buf, sizeof buf, "srlw by %u", amounts[k]);
        show(buf, asm_srlw(v, s));
        snprintf(buf, sizeof buf, "sraw by %u", amounts[k]);
        show(buf, asm_sraw(v ^ 0x80000000ULL, s));
        snprintf(buf, sizeof buf, "sraw(neg) by %u", amounts[k]);
        show(buf, asm_sraw(v, s));
        snprintf(buf, sizeof buf, "rotl by %u", amounts[k]);
        show(buf, c_rotl(v, (unsigned)s));
    }
}

static void immediates(void)
{
    char buf[64];
    printf("-- immediates, extension, bit counting --\n");
    for (unsigned i = 0; i < NVALUES; i++) {
        u64 a = values[i];
        snprintf(buf, sizeof buf, "[%02u] imm", i);
        show(buf, c_addi_imm(a) ^ c_subi_imm(a) * 3 ^ c_lui_imm(a) * 5 ^ c_big_imm(a) * 7 ^
                      (u64)c_slti((i64)a) << 62 ^ c_sltiu(a) << 63);
        snprintf(buf, sizeof buf, "[%02u] sext32/zext32", i);
        show(buf, (u64)c_sext32(a) ^ c_zext32(a) << 1);
        snprintf(buf, sizeof buf, "[%02u] sext16/sext8", i);
        show(buf, (u64)c_sext16(a) ^ (u64)c_sext8(a) << 3);
        snprintf(buf, sizeof buf, "[%02u] clz/ctz/pop/bswap", i);
        show(buf, (c_clz(a) | c_ctz(a) << 8 | c_popcount(a) << 16) ^ c_bswap(a));
    }
}

static void loads_stores(void)
{
    /* Sub-word loads and stores with sign/zero extension (lb/lbu/lh/lhu/lw/lwu, sb/sh/sw). */
    static volatile unsigned char mem[32];
    printf("-- loads and stores --\n");
    for (unsigned i = 0; i < sizeof mem; i++)
        mem[i] = (unsigned char)(0x80 + i * 7);
    volatile int8_t *b = (volatile int8_t *)mem;
    volatile uint8_t *ub = (volatile uint8_t *)mem;
    volatile int16_t *h = (volatile int16_t *)mem;
    volatile uint16_t *uh = (volatile uint16_t *)mem;
    volatile int32_t *w = (volatile int32_t *)mem;
    volatile uint32_t *uw = (volatile uint32_t *)mem;
    volatile uint64_t *d = (volatile uint64_t *)mem;
    show("lb 1", (u64)(i64)b[1]);
    show("lbu 1", (u64)ub[1]);
    show("lh 1", (u64)(i64)h[1]);
    show("lhu 1", (u64)uh[1]);
    show("lw 1", (u64)(i64)w[1]);
    show("lwu 1", (u64)uw[1]);
    show("ld 1", d[1]);
    w[2] = (i32)vmin32;
    h[3] = -2;
    b[1] = -128;
    show("after sw/sh/sb ld 0", d[0]);
    show("after sw/sh/sb ld 1", d[1]);
    /* Misaligned accesses: allowed in Linux user mode (emulated by the kernel if need be). */
    u64 x;
    __builtin_memcpy(&x, (const void *)(mem + 3), 8);
    show("misaligned ld 3", x);
}

int main(void)
{
    special_division();
    pairwise();
    asm_pairs();
    shifts();
    immediates();
    loads_stores();
    printf("checksum %016" PRIx64 "\n", checksum);
    return 0;
}
