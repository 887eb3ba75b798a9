/* float.c: RV64FD floating point: arithmetic, conversions, rounding modes, NaNs, flags, NaN boxing.
 *
 * Values go through volatile variables so nothing is constant-folded, and everything that depends
 * on the rounding mode is computed first and printed after the mode is back to round-to-nearest
 * (glibc's printf honours the current rounding mode, musl's does not).  Bit patterns are printed in
 * hex, accrued exception flags as numbers (NX=1 UF=2 OF=4 DZ=8 NV=16).
 */
#include <fenv.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOINLINE __attribute__((noinline))

/* No implicit fused multiply-add: gcc and clang contract differently (fma() stays fused). */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

static uint64_t dbits(double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    return u;
}

static uint32_t fbits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static double bitsd(uint64_t u)
{
    double d;
    memcpy(&d, &u, 8);
    return d;
}

static float bitsf(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static unsigned read_fflags(void)
{
    unsigned long v;
    __asm__ volatile("frflags %0" : "=r"(v));
    return (unsigned)v;
}

static void clear_fflags(void) { __asm__ volatile("fsflags zero"); }

static void pd(const char *what, double d)
{
    printf("%-34s %016" PRIx64 " %.17g\n", what, dbits(d), d);
}

static void pf(const char *what, float f)
{
    printf("%-34s %08" PRIx32 " %.9g\n", what, fbits(f), (double)f);
}

/* Test inputs. */
static volatile double d_one = 1.0, d_two = 2.0, d_three = 3.0, d_zero = 0.0, d_negzero = -0.0;
static volatile double d_tenth = 0.1, d_big = 1e308, d_tiny = 1e-308, d_neg = -2.5, d_min_sub = 5e-324;
static volatile double d_inf = INFINITY;
static volatile float f_one = 1.0f, f_three = 3.0f, f_tenth = 0.1f, f_big = 3e38f, f_neg = -2.5f;
static volatile uint64_t qnan_payload_bits = 0x7ff8000000000123ULL; /* quiet NaN with a payload */
static volatile uint64_t snan_bits = 0x7ff4000000000000ULL;
static volatile uint32_t fsnan_bits = 0x7fa00000U;
static volatile uint32_t fqnan_payload_bits = 0xffc00abcU;

/* Sinks that keep results (and the order of operations) alive. */
static volatile double sink_d;
static volatile float sink_f;

static void arithmetic(void)
{
    printf("-- arithmetic --\n");
    pd("1/3", d_one / d_three);
    pd("0.1+0.2", d_tenth + d_tenth * d_two);
    pd("0.1*3", d_tenth * d_three);
    pd("sqrt(2)", sqrt(d_two));
    pd("sqrt(0.1)", sqrt(d_tenth));
    pd("fma(0.1,3,-0.3)", fma(d_tenth, d_three, -0.3));
    pd("0.1*3-0.3 (unfused)", d_tenth * d_three - 0.3);
    pd("fma(1e308,2,-1e308)", fma(d_big, d_two, -d_big));
    pd("1e308*2-1e308 (unfused)", d_big * d_two - d_big);
    pd("big*10", d_big * 10.0);
    pd("tiny/1e10 (subnormal)", d_tiny / 1e10);
    pd("min_sub/2", d_min_sub / d_two);
    pd("min_sub*0.75", d_min_sub * 0.75);
    pd("-2.5*-2.5", d_neg * d_neg);
    pd("1/-0", d_one / d_negzero);
    pd("-0 + 0", d_negzero + d_zero);
    pd("-0 - 0", d_negzero - d_zero);
    pd("-0 * 5", d_negzero * 5.0);
    pd("fabs(-2.5)", fabs(d_neg));
    pd("-(-0)", -d_negzero);
    pf("1f/3f", f_one / f_three);
    pf("0.1f*3f", f_tenth * f_three);
    pf("sqrtf(3)", sqrtf(f_three));
    pf("fmaf(0.1,3,-0.3)", fmaf(f_tenth, f_three, -0.3f));
    pf("3e38f*2", f_big * 2.0f);
    pf("-2.5f/0.1f", f_neg / f_tenth);
    pf("fabsf(-2.5)", fabsf(f_neg));
}

/* fcvt with an explicit (static) rounding mode: RM is one of rne rtz rdn rup rmm. */
#define CVT_D(name, insn, rm, type)                                                      \
    static NOINLINE uint64_t name(double x, unsigned *flags)                              \
    {                                                                                     \
        type r;                                                                           \
        clear_fflags();                                                                   \
        __asm__ volatile(insn " %0, %1, " rm : "=r"(r) : "f"(x));                         \
        *flags = read_fflags();                                                           \
        return (uint64_t)r;                                                               \
    }
#define CVT_S(name, insn, rm, type)                                                      \
    static NOINLINE uint64_t name(float x, unsigned *flags)                               \
    {                                                                                     \
        type r;                                                                           \
        clear_fflags();                                                                   \
        __asm__ volatile(insn " %0, %1, " rm : "=r"(r) : "f"(x));                         \
        *flags = read_fflags();                                                           \
        return (uint64_t)r;                                                               \
    }

CVT_D(cvt_w_d_rne, "fcvt.w.d", "rne", int64_t)
CVT_D(cvt_w_d_rtz, "fcvt.w.d", "rtz", int64_t)
CVT_D(cvt_w_d_rdn, "fcvt.w.d", "rdn", int64_t)
CVT_D(cvt_w_d_rup, "fcvt.w.d", "rup", int64_t)
CVT_D(cvt_w_d_rmm, "fcvt.w.d", "rmm", int64_t)
CVT_D(cvt_wu_d_rtz, "fcvt.wu.d", "rtz", int64_t)
CVT_D(cvt_l_d_rtz, "fcvt.l.d", "rtz", int64_t)
CVT_D(cvt_l_d_rne, "fcvt.l.d", "rne", int64_t)
CVT_D(cvt_lu_d_rtz, "fcvt.lu.d", "rtz", int64_t)
CVT_D(cvt_lu_d_rup, "fcvt.lu.d", "rup", int64_t)
CVT_S(cvt_w_s_rtz, "fcvt.w.s", "rtz", int64_t)
CVT_S(cvt_wu_s_rtz, "fcvt.wu.s", "rtz", int64_t)
CVT_S(cvt_l_s_rmm, "fcvt.l.s", "rmm", int64_t)
CVT_S(cvt_lu_s_rtz, "fcvt.lu.s", "rtz", int64_t)

typedef uint64_t (*cvt_d_fn)(double, unsigned *);
typedef uint64_t (*cvt_s_fn)(float, unsigned *);

static void conversions(void)
{
    static const struct {
        const char *name;
        cvt_d_fn fn;
    } dcvts[] = {
        {"fcvt.w.d rne", cvt_w_d_rne},   {"fcvt.w.d rtz", cvt_w_d_rtz},   {"fcvt.w.d rdn", cvt_w_d_rdn},
        {"fcvt.w.d rup", cvt_w_d_rup},   {"fcvt.w.d rmm", cvt_w_d_rmm},   {"fcvt.wu.d rtz", cvt_wu_d_rtz},
        {"fcvt.l.d rtz", cvt_l_d_rtz},   {"fcvt.l.d rne", cvt_l_d_rne},   {"fcvt.lu.d rtz", cvt_lu_d_rtz},
        {"fcvt.lu.d rup", cvt_lu_d_rup},
    };
    static const struct {
        const char *name;
        cvt_s_fn fn;
    } scvts[] = {
        {"fcvt.w.s rtz", cvt_w_s_rtz},
        {"fcvt.wu.s rtz", cvt_wu_s_rtz},
        {"fcvt.l.s rmm", cvt_l_s_rmm},
        {"fcvt.lu.s rtz", cvt_lu_s_rtz},
    };
    static const uint64_t inputs[] = {
        0x0000000000000000ULL, /* 0 */
        0x8000000000000000ULL, /* -0 */
        0x3fe0000000000000ULL, /* 0.5 */
        0xbfe0000000000000ULL, /* -0.5 */
        0x3ff8000000000000ULL, /* 1.5 */
        0x4004000000000000ULL, /* 2.5 */
        0xc004000000000000ULL, /* -2.5 */
        0xbfeccccccccccccdULL, /* -0.9 */
        0x41dfffffffc00000ULL, /* 2147483647 */
        0x41e0000000000000ULL, /* 2147483648 */
        0xc1e0000000000000ULL, /* -2147483648 */
        0xc1e0000000200000ULL, /* -2147483649 */
        0x41efffffffe00000ULL, /* 4294967295 */
        0x41f0000000000000ULL, /* 4294967296 */
        0x43dfffffffffffffULL, /* largest double below 2^63 */
        0x43e0000000000000ULL, /* 2^63 */
        0xc3e0000000000000ULL, /* -2^63 */
        0x43f0000000000000ULL, /* 2^64 */
        0x7ff0000000000000ULL, /* +inf */
        0xfff0000000000000ULL, /* -inf */
        0x7ff8000000000000ULL, /* qNaN */
        0xfff8000000000000ULL, /* -qNaN */
        0x7ff4000000000000ULL, /* sNaN */
    };
    printf("-- fcvt double -> int (value, flags) --\n");
    for (unsigned i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        double x = bitsd(inputs[i]);
        printf("input %016" PRIx64 " (%.17g)\n", inputs[i], x);
        for (unsigned k = 0; k < sizeof dcvts / sizeof dcvts[0]; k++) {
            unsigned fl;
            uint64_t r = dcvts[k].fn(x, &fl);
            printf("  %-14s %016" PRIx64 " %2u\n", dcvts[k].name, r, fl);
        }
        float xf = (float)x; /* inexact for some inputs; the float is what is converted */
        for (unsigned k = 0; k < sizeof scvts / sizeof scvts[0]; k++) {
            unsigned fl;
            uint64_t r = scvts[k].fn(xf, &fl);
            printf("  %-14s %016" PRIx64 " %2u  (float %08" PRIx32 ")\n", scvts[k].name, r, fl, fbits(xf));
        }
    }

    printf("-- int -> fp (C casts, round to nearest) --\n");
    static volatile int64_t ints[] = {0, 1, -1, 16777217, -16777217, 9007199254740993LL, INT64_MAX, INT64_MIN};
    for (unsigned i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        int64_t v = ints[i];
        printf("%20" PRId64 " -> d %016" PRIx64 " f %08" PRIx32 " ud %016" PRIx64 " uf %08" PRIx32
               " wd %016" PRIx64 " uwf %08" PRIx32 "\n",
               v, dbits((double)v), fbits((float)v), dbits((double)(uint64_t)v), fbits((float)(uint64_t)v),
               dbits((double)(int32_t)v), fbits((float)(uint32_t)v));
    }
    printf("-- in-range C casts fp -> int (truncate) --\n");
    static volatile double cast_in[] = {0.0, -0.0, 0.999, -0.999, 2.5, -2.5, 123456789.75, -2147483648.5,
                                        9.2233720368547748e18};
    for (unsigned i = 0; i < sizeof cast_in / sizeof cast_in[0]; i++) {
        double x = cast_in[i];
        int64_t l = (int64_t)x;
        int32_t w = (x > -2147483649.0 && x < 2147483648.0) ? (int32_t)x : 0;
        uint64_t ul = x > -1.0 ? (uint64_t)x : 0;
        printf("%.17g -> l %" PRId64 " w %" PRId32 " ul %" PRIu64 "\n", x, l, w, ul);
    }

    printf("-- float <-> double --\n");
    static volatile double to_float[] = {0.1, 1.0 / 3.0, 3.4028235677973366e38, 3.4028236e38, 1e39, 1e-40,
                                         1e-46, 7e-46, -1e-50, 1.00000005960464478};
    for (unsigned i = 0; i < sizeof to_float / sizeof to_float[0]; i++) {
        double x = to_float[i];
        clear_fflags();
        float f = (float)x;
        sink_f = f;
        unsigned fl = read_fflags();
        printf("%.17g -> %08" PRIx32 " flags %u -> back %016" PRIx64 "\n", x, fbits(f), fl, dbits((double)f));
    }
}

/* Results of the rounding-mode tests, printed after returning to FE_TONEAREST. */
struct rm_results {
    int mode_read;
    unsigned long frm_csr;
    double third, neg_third, two_thirds, big_sum, sqrt2, fma_r, l2d, third_rne, third_rup;
    float fthird, fd_narrow, l2f;
    double rint_r[4], nearby_r[4];
    long lrint_r[4];
    int64_t dyn_cvt[4];
};

static const double rint_in[4] = {2.5, -2.5, 3.5, -0.4};

static NOINLINE void compute_under_mode(struct rm_results *r)
{
    unsigned long frm;
    r->mode_read = fegetround();
    __asm__ volatile("frrm %0" : "=r"(frm));
    r->frm_csr = frm;
    r->third = d_one / d_three;
    double one = d_one, three = d_three, q;
    /* A static rounding mode in the instruction overrides frm. */
    __asm__ volatile("fdiv.d %0, %1, %2, rne" : "=f"(q) : "f"(one), "f"(three));
    r->third_rne = q;
    __asm__ volatile("fdiv.d %0, %1, %2, rup" : "=f"(q) : "f"(one), "f"(three));
    r->third_rup = q;
    r->neg_third = -d_one / d_three;
    r->two_thirds = d_two / d_three;
    r->big_sum = d_big + d_big;
    r->sqrt2 = sqrt(d_two);
    r->fma_r = fma(d_tenth, d_three, -0.3);
    r->l2d = (double)(int64_t)(9007199254740993LL + (int64_t)d_zero);
    r->fthird = f_one / f_three;
    r->fd_narrow = (float)(d_one / d_three);
    r->l2f = (float)(int64_t)(16777217LL + (int64_t)d_zero);
    for (int i = 0; i < 4; i++) {
        volatile double x = rint_in[i];
        r->rint_r[i] = rint(x);
        r->nearby_r[i] = nearbyint(x);
        r->lrint_r[i] = lrint(x);
        /* fcvt.l.d with the dynamic rounding mode (rm = dyn). */
        double y = x;
        int64_t c;
        __asm__ volatile("fcvt.l.d %0, %1, dyn" : "=r"(c) : "f"(y));
        r->dyn_cvt[i] = c;
    }
}

static void rounding_modes(void)
{
    static const struct {
        const char *name;
        int mode;
    } modes[] = {
        {"FE_TONEAREST", FE_TONEAREST},
        {"FE_TOWARDZERO", FE_TOWARDZERO},
        {"FE_DOWNWARD", FE_DOWNWARD},
        {"FE_UPWARD", FE_UPWARD},
    };
    struct rm_results res[4];
    int set_rc[4];
    for (int m = 0; m < 4; m++) {
        set_rc[m] = fesetround(modes[m].mode);
        compute_under_mode(&res[m]);
        fesetround(FE_TONEAREST);
    }
    printf("-- rounding modes --\n");
    for (int m = 0; m < 4; m++) {
        struct rm_results *r = &res[m];
        printf("%s (value %d): fesetround %d fegetround %d frm %lu\n", modes[m].name, modes[m].mode, set_rc[m],
               r->mode_read, r->frm_csr);
        pd("  1/3", r->third);
        pd("  1/3 fdiv.d rne", r->third_rne);
        pd("  1/3 fdiv.d rup", r->third_rup);
        pd("  -1/3", r->neg_third);
        pd("  2/3", r->two_thirds);
        pd("  1e308+1e308", r->big_sum);
        pd("  sqrt(2)", r->sqrt2);
        pd("  fma(0.1,3,-0.3)", r->fma_r);
        pd("  (double)(2^53+1)", r->l2d);
        pf("  1f/3f", r->fthird);
        pf("  (float)(1/3)", r->fd_narrow);
        pf("  (float)(2^24+1)", r->l2f);
        for (int i = 0; i < 4; i++)
            printf("  x=%-5g rint %-4g nearbyint %-4g lrint %-3ld fcvt.l.d dyn %" PRId64 "\n", rint_in[i],
                   r->rint_r[i], r->nearby_r[i], r->lrint_r[i], r->dyn_cvt[i]);
    }
    printf("fesetround(invalid 7) -> %s\n", fesetround(7) == 0 ? "accepted" : "rejected");
    printf("after: fegetround %d\n", fegetround());
}

struct flag_case {
    const char *name;
    unsigned flags;
};

static void exception_flags(void)
{
    printf("-- exception flags (fetestexcept) --\n");
    printf("FE_INEXACT %d FE_UNDERFLOW %d FE_OVERFLOW %d FE_DIVBYZERO %d FE_INVALID %d\n", FE_INEXACT,
           FE_UNDERFLOW, FE_OVERFLOW, FE_DIVBYZERO, FE_INVALID);
#define FLAGCASE(label, expr)                                                                     \
    do {                                                                                          \
        feclearexcept(FE_ALL_EXCEPT);                                                             \
        sink_d = (expr);                                                                          \
        int fl = fetestexcept(FE_ALL_EXCEPT);                                                     \
        printf("%-28s flags %2d result %016" PRIx64 "\n", label, fl, dbits(sink_d));              \
    } while (0)
    FLAGCASE("1+1", d_one + d_one);
    FLAGCASE("1/3", d_one / d_three);
    FLAGCASE("1/0", d_one / d_zero);
    FLAGCASE("0/0", d_zero / d_zero);
    FLAGCASE("inf-inf", d_inf - d_inf);
    FLAGCASE("inf*0", d_inf * d_zero);
    FLAGCASE("sqrt(-2.5)", sqrt(d_neg));
    FLAGCASE("1e308*10", d_big * 10.0);
    FLAGCASE("1e-308/1e10", d_tiny / 1e10);
    FLAGCASE("min_sub/2", d_min_sub / d_two);
    FLAGCASE("snan+1", bitsd(snan_bits) + d_one);
    FLAGCASE("qnan+1", bitsd(qnan_payload_bits) + d_one);
    FLAGCASE("snan < 1", (double)(bitsd(snan_bits) < d_one));
    FLAGCASE("qnan < 1", (double)(bitsd(qnan_payload_bits) < d_one));
    FLAGCASE("qnan == 1", (double)(bitsd(qnan_payload_bits) == d_one));
    FLAGCASE("snan == 1", (double)(bitsd(snan_bits) == d_one));
    FLAGCASE("(float)1e39", (double)(float)(d_big * 1e-269));
    FLAGCASE("inf+1", d_inf + d_one);
#undef FLAGCASE
    feclearexcept(FE_ALL_EXCEPT);
    feraiseexcept(FE_OVERFLOW | FE_INEXACT);
    printf("feraiseexcept(OF|NX): fetestexcept %d fflags %u\n", fetestexcept(FE_ALL_EXCEPT), read_fflags());
    fenv_t env;
    fegetenv(&env);
    feclearexcept(FE_ALL_EXCEPT);
    fesetround(FE_UPWARD);
    fesetenv(&env);
    printf("after fesetenv: flags %d round %d\n", fetestexcept(FE_ALL_EXCEPT), fegetround());
    feclearexcept(FE_ALL_EXCEPT);
    unsigned long fcsr;
    __asm__ volatile("fscsr %0" : : "r"(0x7fUL)); /* frm = 3 (RUP), fflags = all */
    __asm__ volatile("frcsr %0" : "=r"(fcsr));
    printf("fcsr after writing 0x7f: %#lx round %d\n", fcsr, fegetround());
    __asm__ volatile("fscsr %0" : : "r"(0UL));
    __asm__ volatile("frcsr %0" : "=r"(fcsr));
    printf("fcsr after writing 0: %#lx round %d\n", fcsr, fegetround());
}

static void nans(void)
{
    printf("-- NaNs --\n");
    pd("0/0", d_zero / d_zero);
    pd("inf-inf", d_inf - d_inf);
    pd("sqrt(-1)", sqrt(-d_one));
    pd("qnan(payload)+1", bitsd(qnan_payload_bits) + d_one);
    pd("snan*1", bitsd(snan_bits) * d_one);
    pd("-qnan(payload) (fsgnjn)", -bitsd(qnan_payload_bits));
    pd("fabs(-nan)", fabs(bitsd(0xfff8000000000042ULL ^ (uint64_t)(int64_t)d_zero)));
    pd("copysign(nan,-1)", copysign(bitsd(qnan_payload_bits), -d_one));
    pf("0f/0f", (float)d_zero / (float)d_zero);
    pf("fqnan(payload)+1", bitsf(fqnan_payload_bits) + f_one);
    pf("fsnan+1", bitsf(fsnan_bits) + f_one);
    pd("(double)fsnan", (double)bitsf(fsnan_bits));
    pd("(double)fqnan(payload)", (double)bitsf(fqnan_payload_bits));
    pf("(float)qnan(payload)", (float)bitsd(qnan_payload_bits));
    pf("(float)snan", (float)bitsd(snan_bits));
    printf("isnan %d %d %d isinf %d signbit(-0) %d\n", isnan(d_zero / d_zero), isnan(bitsd(snan_bits)),
           isnan(d_one), isinf(d_inf), signbit(d_negzero) != 0);
}

#define FBIN_D(name, insn)                                                                 \
    static NOINLINE double name(double a, double b, unsigned *fl)                           \
    {                                                                                       \
        double r;                                                                           \
        clear_fflags();                                                                     \
        __asm__ volatile(insn " %0, %1, %2" : "=f"(r) : "f"(a), "f"(b));                    \
        *fl = read_fflags();                                                                \
        return r;                                                                           \
    }
#define FBIN_S(name, insn)                                                                 \
    static NOINLINE float name(float a, float b, unsigned *fl)                              \
    {                                                                                       \
        float r;                                                                            \
        clear_fflags();                                                                     \
        __asm__ volatile(insn " %0, %1, %2" : "=f"(r) : "f"(a), "f"(b));                    \
        *fl = read_fflags();                                                                \
        return r;                                                                           \
    }
FBIN_D(fmin_d, "fmin.d")
FBIN_D(fmax_d, "fmax.d")
FBIN_S(fmin_s, "fmin.s")
FBIN_S(fmax_s, "fmax.s")
FBIN_D(fsgnj_d, "fsgnj.d")
FBIN_D(fsgnjn_d, "fsgnjn.d")
FBIN_D(fsgnjx_d, "fsgnjx.d")
FBIN_S(fsgnjn_s, "fsgnjn.s")

static void minmax_sign(void)
{
    static const uint64_t dv[] = {
        0x0000000000000000ULL, 0x8000000000000000ULL, 0x3ff0000000000000ULL, 0xbff0000000000000ULL,
        0x7ff0000000000000ULL, 0x7ff8000000000123ULL, 0x7ff4000000000000ULL,
    };
    static const char *const dn[] = {"+0", "-0", "1", "-1", "inf", "qnan", "snan"};
    printf("-- fmin.d/fmax.d/fsgnj (asm) and fmin/fmax (libm) --\n");
    for (unsigned i = 0; i < 7; i++) {
        for (unsigned j = 0; j < 7; j++) {
            double a = bitsd(dv[i]), b = bitsd(dv[j]);
            unsigned f1, f2, f3, f4, f5;
            double mn = fmin_d(a, b, &f1), mx = fmax_d(a, b, &f2);
            double sj = fsgnj_d(a, b, &f3), sn = fsgnjn_d(a, b, &f4), sx = fsgnjx_d(a, b, &f5);
            printf("%-4s %-4s fmin.d %016" PRIx64 " %2u fmax.d %016" PRIx64 " %2u", dn[i], dn[j], dbits(mn), f1,
                   dbits(mx), f2);
            printf(" sgnj %016" PRIx64 " sgnjn %016" PRIx64 " sgnjx %016" PRIx64 " %u\n", dbits(sj), dbits(sn),
                   dbits(sx), f3 | f4 | f5);
            /* libm fmin/fmax: the sign of a zero result is unspecified in C, so skip +0/-0 pairs, and
             * with a signaling NaN musl and glibc may differ too. */
            if (!(i < 2 && j < 2) && i != 6 && j != 6)
                printf("          fmin %016" PRIx64 " fmax %016" PRIx64 "\n", dbits(fmin(a, b)), dbits(fmax(a, b)));
        }
    }
    static const uint32_t sv[] = {0x00000000, 0x80000000, 0x3f800000, 0x7fc00000, 0x7fa00000, 0xff800000};
    static const char *const sn[] = {"+0", "-0", "1", "qnan", "snan", "-inf"};
    for (unsigned i = 0; i < 6; i++) {
        for (unsigned j = 0; j < 6; j++) {
            unsigned f1, f2, f3;
            float a = bitsf(sv[i]), b = bitsf(sv[j]);
            float mn = fmin_s(a, b, &f1), mx = fmax_s(a, b, &f2), sgn = fsgnjn_s(a, b, &f3);
            printf("%-4s %-4s fmin.s %08" PRIx32 " %2u fmax.s %08" PRIx32 " %2u fsgnjn.s %08" PRIx32 " %u\n", sn[i],
                   sn[j], fbits(mn), f1, fbits(mx), f2, fbits(sgn), f3);
        }
    }
}

static NOINLINE unsigned long fclass_d(double x)
{
    unsigned long r;
    __asm__ volatile("fclass.d %0, %1" : "=r"(r) : "f"(x));
    return r;
}

static NOINLINE unsigned long fclass_s(float x)
{
    unsigned long r;
    __asm__ volatile("fclass.s %0, %1" : "=r"(r) : "f"(x));
    return r;
}

static void classify(void)
{
    static const uint64_t dv[] = {
        0xfff0000000000000ULL, 0xbff0000000000000ULL, 0x800fffffffffffffULL, 0x8000000000000000ULL,
        0x0000000000000000ULL, 0x0000000000000001ULL, 0x3ff0000000000000ULL, 0x7ff0000000000000ULL,
        0x7ff4000000000000ULL, 0x7ff8000000000000ULL, 0xfff0000000000001ULL, 0xffffffffffffffffULL,
    };
    static const uint32_t sv[] = {
        0xff800000, 0xbf800000, 0x807fffff, 0x80000000, 0x00000000, 0x00000001,
        0x3f800000, 0x7f800000, 0x7fa00000, 0x7fc00000, 0xff800001, 0xffffffff,
    };
    printf("-- fclass --\n");
    for (unsigned i = 0; i < sizeof dv / sizeof dv[0]; i++)
        printf("fclass.d %016" PRIx64 " -> %#05lx   fclass.s %08" PRIx32 " -> %#05lx\n", dv[i],
               fclass_d(bitsd(dv[i])), sv[i], fclass_s(bitsf(sv[i])));
}

/* NaN boxing: single-precision values live in 64-bit registers with the upper 32 bits all ones. */
static void nan_boxing(void)
{
    volatile uint64_t unboxed = 0x000000003f800000ULL; /* 1.0f without the box */
    volatile uint64_t boxed = 0xffffffff3f800000ULL;   /* properly boxed 1.0f */
    volatile uint64_t badbox = 0xfffffffe40000000ULL;  /* almost boxed 2.0f */
    volatile float two = 2.0f;
    uint64_t r1, r2, r3, r4, r5, r6, r7;
    long x1, x2, x3;
    unsigned long c1, c2;
    float tmp;
    double td;
    printf("-- NaN boxing --\n");
    /* fmv.x.d of a single computed by fadd.s shows the box. */
    tmp = two + two;
    __asm__ volatile("fmv.x.d %0, %1" : "=r"(r1) : "f"(tmp));
    /* flw writes a boxed value. */
    __asm__ volatile("flw %1, 0(%2)\n\tfmv.x.d %0, %1" : "=r"(r2), "=&f"(td) : "r"(&two) : "memory");
    /* fmv.w.x boxes the low 32 bits of an integer register. */
    __asm__ volatile("fmv.w.x %1, %2\n\tfmv.x.d %0, %1" : "=r"(r3), "=&f"(td) : "r"(0x12345678c0000000ULL));
    /* An unboxed value used as a single is the canonical NaN. */
    __asm__ volatile("fmv.d.x %1, %2\n\tfadd.s %1, %1, %3\n\tfmv.x.d %0, %1"
                     : "=r"(r4), "=&f"(td)
                     : "r"(unboxed), "f"(two));
    __asm__ volatile("fmv.d.x %1, %2\n\tfadd.s %1, %1, %3\n\tfmv.x.d %0, %1"
                     : "=r"(r5), "=&f"(td)
                     : "r"(boxed), "f"(two));
    __asm__ volatile("fmv.d.x %1, %2\n\tfadd.s %1, %1, %3\n\tfmv.x.d %0, %1"
                     : "=r"(r6), "=&f"(td)
                     : "r"(badbox), "f"(two));
    /* fsgnj.s (fmv.s) of an unboxed value: canonical NaN, boxed. */
    __asm__ volatile("fmv.d.x %1, %2\n\tfsgnj.s %1, %1, %1\n\tfmv.x.d %0, %1" : "=r"(r7), "=&f"(td) : "r"(unboxed));
    /* fmv.x.w copies the low 32 bits (sign-extended) without checking the box. */
    __asm__ volatile("fmv.d.x %1, %2\n\tfmv.x.w %0, %1" : "=r"(x1), "=&f"(td) : "r"(unboxed));
    __asm__ volatile("fmv.d.x %1, %2\n\tfmv.x.w %0, %1" : "=r"(x2), "=&f"(td) : "r"(0x00000000bf800000ULL));
    __asm__ volatile("fmv.d.x %1, %2\n\tfmv.x.w %0, %1" : "=r"(x3), "=&f"(td) : "r"(boxed));
    /* fclass.s of an unboxed value: quiet NaN (0x200). */
    __asm__ volatile("fmv.d.x %1, %2\n\tfclass.s %0, %1" : "=r"(c1), "=&f"(td) : "r"(unboxed));
    __asm__ volatile("fmv.d.x %1, %2\n\tfclass.s %0, %1" : "=r"(c2), "=&f"(td) : "r"(boxed));
    printf("fadd.s result register     %016" PRIx64 "\n", r1);
    printf("flw register               %016" PRIx64 "\n", r2);
    printf("fmv.w.x register           %016" PRIx64 "\n", r3);
    printf("unboxed 1.0f + 2.0f        %016" PRIx64 "\n", r4);
    printf("boxed 1.0f + 2.0f          %016" PRIx64 "\n", r5);
    printf("badly boxed 2.0f + 2.0f    %016" PRIx64 "\n", r6);
    printf("fsgnj.s of unboxed         %016" PRIx64 "\n", r7);
    printf("fmv.x.w unboxed 1.0f       %016lx\n", (unsigned long)x1);
    printf("fmv.x.w unboxed -1.0f      %016lx\n", (unsigned long)x2);
    printf("fmv.x.w boxed 1.0f         %016lx\n", (unsigned long)x3);
    printf("fclass.s unboxed %#lx boxed %#lx\n", c1, c2);
    /* fcvt.d.s of an unboxed value: the canonical double NaN. */
    uint64_t r8;
    __asm__ volatile("fmv.d.x %1, %2\n\tfcvt.d.s %1, %1\n\tfmv.x.d %0, %1" : "=r"(r8), "=&f"(td) : "r"(unboxed));
    printf("fcvt.d.s of unboxed        %016" PRIx64 "\n", r8);
}

static void formatting(void)
{
    static volatile double vals[] = {0.1, 1.0 / 3.0, 1e300, 5e-324, 2.2250738585072014e-308, -0.0, 123456789.0,
                                     1e21, 0.5, 2.5, 1e-5, 6.02214076e23};
    printf("-- printf --\n");
    for (unsigned i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        double x = vals[i];
        printf("%.17g | %e | %.3e | %g | %.0f | %f\n", x, x, x, x, x, x < 1e22 ? x : 0.0);
    }
    printf("%.17g %e %g %f\n", (double)d_inf, -(double)d_inf, (double)(d_zero / d_zero), (double)d_inf);
    printf("%.2f %.2f %.2f %.1f\n", 0.125, 0.375, 2.675, 0.25);
    printf("%10.4f|%-10.2e|%+g|% g\n", 3.14159265, 271.828, 1.5, 2.0);
    static const char *const strs[] = {"0.1", "1e-320", "2.2250738585072011e-308", "1.7976931348623157e308",
                                       "1e309", "-0", "0x1.8p1", "4.9406564584124654e-324", "123.456e-2"};
    for (unsigned i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        double x = strtod(strs[i], NULL);
        printf("strtod(%s) = %016" PRIx64 "\n", strs[i], dbits(x));
    }
    printf("strtof(0.1) = %08" PRIx32 "\n", fbits(strtof("0.1", NULL)));
}

static void libm(void)
{
    /* Only functions that both libcs compute exactly (correctly rounded or exact by definition). */
    static volatile double v[] = {-2.5, -0.5, 0.5, 1.5, 2.5, 1e300, -7.25};
    printf("-- exact libm functions --\n");
    for (unsigned i = 0; i < sizeof v / sizeof v[0]; i++) {
        double x = v[i];
        int e;
        double m = frexp(x, &e);
        printf("%g: floor %g ceil %g trunc %g round %g rint %g fmod(x,0.75) %g ldexp %g frexp %g/%d copysign %g\n",
               x, floor(x), ceil(x), trunc(x), round(x), rint(x), fmod(x, 0.75), ldexp(x, -3), m, e,
               copysign(3.0, x));
    }
}

int main(void)
{
    arithmetic();
    conversions();
    rounding_modes();
    exception_flags();
    nans();
    minmax_sign();
    classify();
    nan_boxing();
    formatting();
    libm();
    return 0;
}
