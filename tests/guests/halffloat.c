/* Half precision (Zfh, Zfhmin) and Zfa: runs each instruction on raw register values (NaN-boxed or
 * not) in every rounding mode and prints the result bits and fflags, then some _Float16 C code.
 *
 * Build: python -m ziglang cc -target riscv64-linux-musl -static -O2 \
 *            -mcpu=generic_rv64+m+a+f+d+c+zfh halffloat.c -o halffloat
 *    or: riscv64-linux-gnu-gcc -static -O2 -march=rv64gc_zfh halffloat.c -o halffloat -lm
 * (gcc 12 has no _Float16 on RISC-V: the C-level part is left out there.) Zfa instructions are
 * written as .word directives, so the assembler needs only Zfh. Run with a CPU that has Zfh and
 * Zfa (dbt --cpu max, qemu-riscv64 -cpu max). */
#include <fenv.h>
#include <stdint.h>
#include <stdio.h>

typedef uint64_t u64;

/* ---- one instruction on raw 64-bit f-register values; returns the raw result, fflags in *fl ---- */
#define FF_RR(fn, insn)                                                                        \
    static u64 fn(u64 a, u64 b, unsigned *fl) {                                                \
        u64 r;                                                                                 \
        unsigned f;                                                                            \
        __asm__ volatile("fsflags x0\n\tfmv.d.x ft0, %2\n\tfmv.d.x ft1, %3\n\t" insn           \
                         "\n\tfmv.x.d %0, ft2\n\tfrflags %1"                                   \
                         : "=r"(r), "=r"(f) : "r"(a), "r"(b) : "ft0", "ft1", "ft2");           \
        *fl = f;                                                                               \
        return r;                                                                              \
    }
#define FF_RRR(fn, insn)                                                                       \
    static u64 fn(u64 a, u64 b, u64 c, unsigned *fl) {                                         \
        u64 r;                                                                                 \
        unsigned f;                                                                            \
        __asm__ volatile("fsflags x0\n\tfmv.d.x ft0, %2\n\tfmv.d.x ft1, %3\n\tfmv.d.x ft3, %4\n\t" \
                         insn "\n\tfmv.x.d %0, ft2\n\tfrflags %1"                              \
                         : "=r"(r), "=r"(f) : "r"(a), "r"(b), "r"(c) : "ft0", "ft1", "ft2", "ft3"); \
        *fl = f;                                                                               \
        return r;                                                                              \
    }
/* result in an x register (compares, classes, conversions to integer, fmv.x.h) */
#define XF_R(fn, insn)                                                                         \
    static u64 fn(u64 a, u64 b, unsigned *fl) {                                                \
        u64 r;                                                                                 \
        unsigned f;                                                                            \
        __asm__ volatile("fsflags x0\n\tfmv.d.x ft0, %2\n\tfmv.d.x ft1, %3\n\t" insn           \
                         "\n\tfrflags %1"                                                      \
                         : "=&r"(r), "=r"(f) : "r"(a), "r"(b) : "ft0", "ft1");                 \
        *fl = f;                                                                               \
        return r;                                                                              \
    }
/* source in an x register (conversions from integer, fmv.h.x) */
#define FX_R(fn, insn)                                                                         \
    static u64 fn(u64 a, u64 b, unsigned *fl) {                                                \
        u64 r;                                                                                 \
        unsigned f;                                                                            \
        (void)b;                                                                               \
        __asm__ volatile("fsflags x0\n\tmv t0, %2\n\t" insn "\n\tfmv.x.d %0, ft2\n\tfrflags %1" \
                         : "=r"(r), "=r"(f) : "r"(a) : "t0", "ft2");                           \
        *fl = f;                                                                               \
        return r;                                                                              \
    }

/* Zfa encodings (the assembler may not know them): OP-FP = 0x53, rd = ft2 (2), rs1 = ft0 (0),
 * rs2 = ft1 (1), rd = t1 (6) for integer results. */
#define OPFP(f7, rs2, rs1, f3, rd) (0x53 | (rd) << 7 | (f3) << 12 | (rs1) << 15 | (rs2) << 20 | (f7) << 25)
#define STR(x) #x
#define WORD(w) ".word " STR(w)

/* Zfh */
FF_RR(fadd_h, "fadd.h ft2, ft0, ft1, dyn")
FF_RR(fsub_h, "fsub.h ft2, ft0, ft1, dyn")
FF_RR(fmul_h, "fmul.h ft2, ft0, ft1, dyn")
FF_RR(fdiv_h, "fdiv.h ft2, ft0, ft1, dyn")
FF_RR(fsqrt_h, "fsqrt.h ft2, ft0, dyn")
FF_RR(fmin_h, "fmin.h ft2, ft0, ft1")
FF_RR(fmax_h, "fmax.h ft2, ft0, ft1")
FF_RR(fsgnj_h, "fsgnj.h ft2, ft0, ft1")
FF_RR(fsgnjn_h, "fsgnjn.h ft2, ft0, ft1")
FF_RR(fsgnjx_h, "fsgnjx.h ft2, ft0, ft1")
FF_RR(fadd_h_rmm, "fadd.h ft2, ft0, ft1, rmm")
FF_RR(fmul_h_rtz, "fmul.h ft2, ft0, ft1, rtz")
FF_RRR(fmadd_h, "fmadd.h ft2, ft0, ft1, ft3, dyn")
FF_RRR(fmsub_h, "fmsub.h ft2, ft0, ft1, ft3, dyn")
FF_RRR(fnmsub_h, "fnmsub.h ft2, ft0, ft1, ft3, dyn")
FF_RRR(fnmadd_h, "fnmadd.h ft2, ft0, ft1, ft3, dyn")
XF_R(feq_h, "feq.h %0, ft0, ft1")
XF_R(flt_h, "flt.h %0, ft0, ft1")
XF_R(fle_h, "fle.h %0, ft0, ft1")
XF_R(fclass_h, "fclass.h %0, ft0")
XF_R(fmv_x_h, "fmv.x.h %0, ft0")
XF_R(fcvt_w_h, "fcvt.w.h %0, ft0, dyn")
XF_R(fcvt_wu_h, "fcvt.wu.h %0, ft0, dyn")
XF_R(fcvt_l_h, "fcvt.l.h %0, ft0, dyn")
XF_R(fcvt_lu_h, "fcvt.lu.h %0, ft0, dyn")
FX_R(fcvt_h_w, "fcvt.h.w ft2, t0, dyn")
FX_R(fcvt_h_wu, "fcvt.h.wu ft2, t0, dyn")
FX_R(fcvt_h_l, "fcvt.h.l ft2, t0, dyn")
FX_R(fcvt_h_lu, "fcvt.h.lu ft2, t0, dyn")
FX_R(fmv_h_x, "fmv.h.x ft2, t0")
/* Zfhmin conversions */
FF_RR(fcvt_s_h, "fcvt.s.h ft2, ft0")
FF_RR(fcvt_d_h, "fcvt.d.h ft2, ft0")
FF_RR(fcvt_h_s, "fcvt.h.s ft2, ft0, dyn")
FF_RR(fcvt_h_d, "fcvt.h.d ft2, ft0, dyn")

/* Zfa: fminm/fmaxm (funct7 = 0x14 | fmt, funct3 2/3), fround/froundnx (0x20 | fmt, rs2 4/5, rm
 * dynamic), fleq/fltq (0x50 | fmt, funct3 4/5), fcvtmod.w.d (0x61, rs2 8, rm 1) */
#define ZFA_FF(fn, f7, rs2, f3) FF_RR(fn, WORD(OPFP(f7, rs2, 0, f3, 2)))
#define ZFA_XF(fn, f7, f3) XF_R(fn, WORD(OPFP(f7, 1, 0, f3, 6)) "\n\tmv %0, t1")
ZFA_FF(fminm_h, 0x16, 1, 2)
ZFA_FF(fmaxm_h, 0x16, 1, 3)
ZFA_FF(fminm_s, 0x14, 1, 2)
ZFA_FF(fmaxm_s, 0x14, 1, 3)
ZFA_FF(fminm_d, 0x15, 1, 2)
ZFA_FF(fmaxm_d, 0x15, 1, 3)
ZFA_FF(fround_h, 0x22, 4, 7)
ZFA_FF(froundnx_h, 0x22, 5, 7)
ZFA_FF(fround_s, 0x20, 4, 7)
ZFA_FF(froundnx_s, 0x20, 5, 7)
ZFA_FF(fround_d, 0x21, 4, 7)
ZFA_FF(froundnx_d, 0x21, 5, 7)
ZFA_XF(fleq_h, 0x52, 4)
ZFA_XF(fltq_h, 0x52, 5)
ZFA_XF(fleq_s, 0x50, 4)
ZFA_XF(fltq_s, 0x50, 5)
ZFA_XF(fleq_d, 0x51, 4)
ZFA_XF(fltq_d, 0x51, 5)
static u64 fcvtmod(u64 a, u64 b, unsigned *fl) {
    u64 r;
    unsigned f;
    (void)b;
    __asm__ volatile("fsflags x0\n\tfmv.d.x ft0, %2\n\t" WORD(OPFP(0x61, 8, 0, 1, 6))
                     "\n\tmv %0, t1\n\tfrflags %1"
                     : "=r"(r), "=r"(f) : "r"(a) : "ft0", "t1");
    *fl = f;
    return r;
}

/* fli.fmt rd=ft2, index n: the rs1 field is the index */
#define FLI(fmt7, n) WORD(OPFP(fmt7, 1, n, 0, 2))
#define FLI_ROW(n)                                                                             \
    __asm__ volatile(FLI(0x7a, n) "\n\tfmv.x.d %0, ft2\n\t" FLI(0x78, n) "\n\tfmv.x.d %1, ft2\n\t" \
                     FLI(0x79, n) "\n\tfmv.x.d %2, ft2"                                       \
                     : "=r"(h), "=r"(s), "=r"(d) : : "ft2");                                  \
    printf("fli %2d h=%016llx s=%016llx d=%016llx\n", n, (unsigned long long)h,                 \
           (unsigned long long)s, (unsigned long long)d);

static void fli_all(void) {
    u64 h, s, d;
    FLI_ROW(0) FLI_ROW(1) FLI_ROW(2) FLI_ROW(3) FLI_ROW(4) FLI_ROW(5) FLI_ROW(6) FLI_ROW(7)
    FLI_ROW(8) FLI_ROW(9) FLI_ROW(10) FLI_ROW(11) FLI_ROW(12) FLI_ROW(13) FLI_ROW(14) FLI_ROW(15)
    FLI_ROW(16) FLI_ROW(17) FLI_ROW(18) FLI_ROW(19) FLI_ROW(20) FLI_ROW(21) FLI_ROW(22) FLI_ROW(23)
    FLI_ROW(24) FLI_ROW(25) FLI_ROW(26) FLI_ROW(27) FLI_ROW(28) FLI_ROW(29) FLI_ROW(30) FLI_ROW(31)
}

#define BOXH(x) (0xFFFFFFFFFFFF0000ull | (x))
#define BOXS(x) (0xFFFFFFFF00000000ull | (x))

static const u64 H[] = {
    BOXH(0x0000), BOXH(0x8000), BOXH(0x3c00), BOXH(0xbc00), BOXH(0x3e00), BOXH(0x4248),
    BOXH(0x7bff), BOXH(0xfbff), BOXH(0x0001), BOXH(0x8001), BOXH(0x03ff), BOXH(0x0400),
    BOXH(0x7c00), BOXH(0xfc00), BOXH(0x7e00), BOXH(0x7d00), BOXH(0xfe01), BOXH(0x3555),
    BOXH(0x3800), BOXH(0xb900), BOXH(0x4100), BOXH(0x5640), BOXH(0x7800), BOXH(0x1400),
    0x0000000000003c00ull, 0xFFFFFFFF00003c00ull, 0x7FFF00000000ull | 0x4000,
};
#define NH (sizeof H / sizeof H[0])
static const u64 S[] = {
    BOXS(0x00000000), BOXS(0x80000000), BOXS(0x3f800000), BOXS(0xbfc00000), BOXS(0x3f000000),
    BOXS(0x3fc00000), BOXS(0xc0200000), BOXS(0x4b000001), BOXS(0x4afffffe), BOXS(0xcb7fffff),
    BOXS(0x7f7fffff), BOXS(0x00000001), BOXS(0x80800000), BOXS(0x7f800000), BOXS(0xff800000),
    BOXS(0x7fc00000), BOXS(0x7fa00000), BOXS(0x3eaaaaab), BOXS(0x477fe000), BOXS(0x477ff000),
    BOXS(0x33800000), BOXS(0x33000001), BOXS(0x387fc000), 0x000000003f800000ull,
};
#define NS (sizeof S / sizeof S[0])
static const u64 D[] = {
    0x0000000000000000ull, 0x8000000000000000ull, 0x3ff0000000000000ull, 0xbff8000000000000ull,
    0x3fe0000000000000ull, 0x4004000000000000ull, 0xc004000000000000ull, 0x4330000000000001ull,
    0x432fffffffffffffull, 0x7fefffffffffffffull, 0x0000000000000001ull, 0x7ff0000000000000ull,
    0xfff0000000000000ull, 0x7ff8000000000000ull, 0x7ff4000000000000ull, 0x41dfffffffc00000ull,
    0x41e0000000000000ull, 0xc1e0000000000000ull, 0xc1e0000000100000ull, 0x41f0000000000000ull,
    0x41f0000001400000ull, 0xc3e0000000000001ull, 0x44b52d02c7e14af6ull, 0x40effe0000000000ull,
    0x40effc0000000001ull, 0x3e70000000000000ull, 0x3e6fffffffffffffull, 0xc0dfffe000000000ull,
};
#define ND (sizeof D / sizeof D[0])
static const u64 I[] = {
    0, 1, (u64)-1, 2047, 2049, 65504, 65519, 65520, 65535, 70000, (u64)-65520, 0x80000000ull,
    0xFFFFFFFF80000000ull, 0x7FFFFFFFFFFFFFFFull, 0x8000000000000000ull, 0x100000000ull | 3, 12345,
};
#define NI (sizeof I / sizeof I[0])

static const char *RM_NAME[] = {"rne", "rtz", "rdn", "rup", "rmm"};

static void set_rm(int rm) {
    static const int fe[] = {FE_TONEAREST, FE_TOWARDZERO, FE_DOWNWARD, FE_UPWARD};
    if (rm < 4)
        fesetround(fe[rm]);
    else
        __asm__ volatile("fsrmi 4");
}

typedef u64 (*op2)(u64, u64, unsigned *);
typedef u64 (*op3)(u64, u64, u64, unsigned *);

static void show(const char *name, const char *rm, u64 a, u64 b, u64 r, unsigned fl) {
    printf("%s %s %llx %llx -> %llx %02x\n", name, rm, (unsigned long long)a, (unsigned long long)b,
           (unsigned long long)r, fl);
}

static void unary(const char *name, op2 fn, const u64 *v, unsigned n, int rounding) {
    for (int rm = 0; rm < (rounding ? 5 : 1); rm++) {
        set_rm(rm);
        for (unsigned i = 0; i < n; i++) {
            unsigned fl;
            u64 r = fn(v[i], 0, &fl);
            show(name, RM_NAME[rm], v[i], 0, r, fl);
        }
    }
    set_rm(0);
}

static void binary(const char *name, op2 fn, const u64 *v, unsigned n, int rounding) {
    for (int rm = 0; rm < (rounding ? 5 : 1); rm++) {
        set_rm(rm);
        for (unsigned i = 0; i < n; i++)
            for (unsigned j = 0; j < n; j++) {
                unsigned fl;
                u64 r = fn(v[i], v[j], &fl);
                show(name, RM_NAME[rm], v[i], v[j], r, fl);
            }
    }
    set_rm(0);
}

static void ternary(const char *name, op3 fn) {
    static const unsigned pick[] = {0, 1, 2, 3, 4, 5, 6, 8, 10, 12, 13, 14, 15, 17, 19};
    const unsigned n = sizeof pick / sizeof pick[0];
    for (int rm = 0; rm < 5; rm++) {
        set_rm(rm);
        for (unsigned i = 0; i < n; i++)
            for (unsigned j = 0; j < n; j++)
                for (unsigned k = 0; k < n; k += 3) {
                    unsigned fl;
                    u64 a = H[pick[i]], b = H[pick[j]], c = H[pick[(k + i) % n]];
                    u64 r = fn(a, b, c, &fl);
                    printf("%s %s %llx %llx %llx -> %llx %02x\n", name, RM_NAME[rm], (unsigned long long)a,
                           (unsigned long long)b, (unsigned long long)c, (unsigned long long)r, fl);
                }
    }
    set_rm(0);
}

/* ---- C code on _Float16: what the compiler emits (flh, fsh, conversions, arithmetic) ---- */
#ifdef __FLT16_MANT_DIG__
static volatile _Float16 vh[] = {1.0f16, -2.5f16, 0.1f16, 65504.0f16, 6.1e-5f16, 3.0f16, 1e-7f16};
static volatile float vf = 3.14159f;
static volatile double vd = -123456.789;

static void c_code(void) {
    static const char *mode[] = {"rne", "rtz", "rdn", "rup"};
    static const int fe[] = {FE_TONEAREST, FE_TOWARDZERO, FE_DOWNWARD, FE_UPWARD};
    for (int m = 0; m < 4; m++) {
        fesetround(fe[m]);
        feclearexcept(FE_ALL_EXCEPT);
        _Float16 acc = 0;
        for (unsigned i = 0; i < sizeof vh / sizeof vh[0]; i++) {
            acc = acc * vh[i] + vh[(i + 1) % 7] / vh[i];
        }
        _Float16 big = vh[3] * vh[5];
        _Float16 tiny = vh[4] * vh[6];
        _Float16 fromf = (_Float16)vf;
        _Float16 fromd = (_Float16)vd;
        int toi = (int)vh[1];
        long tol = (long)(vh[3] * vh[2]);
        unsigned tou = (unsigned)vh[3];
        int ex = fetestexcept(FE_ALL_EXCEPT);
        printf("c %s acc=%a big=%a tiny=%a fromf=%a fromd=%a toi=%d tol=%ld tou=%u flags=%x\n", mode[m],
               (double)acc, (double)big, (double)tiny, (double)fromf, (double)fromd, toi, tol, tou, ex);
    }
    fesetround(FE_TONEAREST);
    _Float16 arr[16];
    for (int i = 0; i < 16; i++)
        arr[i] = (_Float16)(i * 0.7f) - vh[i % 7];
    _Float16 sum = 0;
    for (int i = 0; i < 16; i++)
        sum += arr[i] * arr[15 - i];
    printf("c dot=%a last=%a\n", (double)sum, (double)arr[15]);
}
#else
static void c_code(void) { printf("c: no _Float16 in this compiler\n"); }
#endif

int main(void) {
    fli_all();
    binary("fadd.h", fadd_h, H, NH, 1);
    binary("fsub.h", fsub_h, H, NH, 1);
    binary("fmul.h", fmul_h, H, NH, 1);
    binary("fdiv.h", fdiv_h, H, NH, 1);
    binary("fadd.h.rmm", fadd_h_rmm, H, NH, 0);
    binary("fmul.h.rtz", fmul_h_rtz, H, NH, 0);
    unary("fsqrt.h", fsqrt_h, H, NH, 1);
    binary("fmin.h", fmin_h, H, NH, 0);
    binary("fmax.h", fmax_h, H, NH, 0);
    binary("fsgnj.h", fsgnj_h, H, NH, 0);
    binary("fsgnjn.h", fsgnjn_h, H, NH, 0);
    binary("fsgnjx.h", fsgnjx_h, H, NH, 0);
    binary("feq.h", feq_h, H, NH, 0);
    binary("flt.h", flt_h, H, NH, 0);
    binary("fle.h", fle_h, H, NH, 0);
    unary("fclass.h", fclass_h, H, NH, 0);
    unary("fmv.x.h", fmv_x_h, H, NH, 0);
    ternary("fmadd.h", fmadd_h);
    ternary("fmsub.h", fmsub_h);
    ternary("fnmsub.h", fnmsub_h);
    ternary("fnmadd.h", fnmadd_h);
    unary("fcvt.w.h", fcvt_w_h, H, NH, 1);
    unary("fcvt.wu.h", fcvt_wu_h, H, NH, 1);
    unary("fcvt.l.h", fcvt_l_h, H, NH, 1);
    unary("fcvt.lu.h", fcvt_lu_h, H, NH, 1);
    unary("fcvt.h.w", fcvt_h_w, I, NI, 1);
    unary("fcvt.h.wu", fcvt_h_wu, I, NI, 1);
    unary("fcvt.h.l", fcvt_h_l, I, NI, 1);
    unary("fcvt.h.lu", fcvt_h_lu, I, NI, 1);
    unary("fmv.h.x", fmv_h_x, I, NI, 0);
    unary("fcvt.s.h", fcvt_s_h, H, NH, 0);
    unary("fcvt.d.h", fcvt_d_h, H, NH, 0);
    unary("fcvt.h.s", fcvt_h_s, S, NS, 1);
    unary("fcvt.h.d", fcvt_h_d, D, ND, 1);
    binary("fminm.h", fminm_h, H, NH, 0);
    binary("fmaxm.h", fmaxm_h, H, NH, 0);
    binary("fminm.s", fminm_s, S, NS, 0);
    binary("fmaxm.s", fmaxm_s, S, NS, 0);
    binary("fminm.d", fminm_d, D, ND, 0);
    binary("fmaxm.d", fmaxm_d, D, ND, 0);
    binary("fleq.h", fleq_h, H, NH, 0);
    binary("fltq.h", fltq_h, H, NH, 0);
    binary("fleq.s", fleq_s, S, NS, 0);
    binary("fltq.s", fltq_s, S, NS, 0);
    binary("fleq.d", fleq_d, D, ND, 0);
    binary("fltq.d", fltq_d, D, ND, 0);
    unary("fround.h", fround_h, H, NH, 1);
    unary("froundnx.h", froundnx_h, H, NH, 1);
    unary("fround.s", fround_s, S, NS, 1);
    unary("froundnx.s", froundnx_s, S, NS, 1);
    unary("fround.d", fround_d, D, ND, 1);
    unary("froundnx.d", froundnx_d, D, ND, 1);
    unary("fcvtmod.w.d", fcvtmod, D, ND, 0);
    c_code();
    return 0;
}
