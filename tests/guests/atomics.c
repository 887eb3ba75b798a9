/* atomics.c: the A extension: AMOs (.w and .d), LR/SC, and the __atomic builtins built on them.
 *
 * Single-threaded, so every result is deterministic.  32-bit AMOs and lr.w return the old memory
 * value sign-extended to 64 bits; the full register is printed in hex to show it.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define NOINLINE __attribute__((noinline))

static uint64_t checksum;

static void show(const char *what, uint64_t reg, uint64_t mem)
{
    printf("%-34s ret %016" PRIx64 " mem %016" PRIx64 "\n", what, reg, mem);
    checksum = (checksum ^ reg ^ (mem << 1)) * 0x100000001b3ULL;
}

/* AMO with a 32-bit memory operand: rd = sext(mem); mem = op(mem, rs2). */
#define AMO_W(name, insn)                                                                  \
    static NOINLINE uint64_t name(volatile int32_t *p, uint64_t v)                          \
    {                                                                                       \
        uint64_t r;                                                                         \
        __asm__ volatile(insn " %0, %2, (%1)" : "=&r"(r) : "r"(p), "r"(v) : "memory");      \
        return r;                                                                           \
    }
#define AMO_D(name, insn)                                                                  \
    static NOINLINE uint64_t name(volatile int64_t *p, uint64_t v)                          \
    {                                                                                       \
        uint64_t r;                                                                         \
        __asm__ volatile(insn " %0, %2, (%1)" : "=&r"(r) : "r"(p), "r"(v) : "memory");      \
        return r;                                                                           \
    }

AMO_W(amoswap_w, "amoswap.w")
AMO_W(amoadd_w, "amoadd.w")
AMO_W(amoand_w, "amoand.w")
AMO_W(amoor_w, "amoor.w.aq")
AMO_W(amoxor_w, "amoxor.w.rl")
AMO_W(amomin_w, "amomin.w")
AMO_W(amomax_w, "amomax.w")
AMO_W(amominu_w, "amominu.w.aqrl")
AMO_W(amomaxu_w, "amomaxu.w")
AMO_D(amoswap_d, "amoswap.d")
AMO_D(amoadd_d, "amoadd.d.aqrl")
AMO_D(amoand_d, "amoand.d")
AMO_D(amoor_d, "amoor.d")
AMO_D(amoxor_d, "amoxor.d")
AMO_D(amomin_d, "amomin.d")
AMO_D(amomax_d, "amomax.d.aq")
AMO_D(amominu_d, "amominu.d")
AMO_D(amomaxu_d, "amomaxu.d.rl")

typedef uint64_t (*amo_w_fn)(volatile int32_t *, uint64_t);
typedef uint64_t (*amo_d_fn)(volatile int64_t *, uint64_t);

static void amos(void)
{
    static const struct {
        const char *name;
        amo_w_fn fn;
    } wops[] = {
        {"amoswap.w", amoswap_w}, {"amoadd.w", amoadd_w}, {"amoand.w", amoand_w},
        {"amoor.w", amoor_w},     {"amoxor.w", amoxor_w}, {"amomin.w", amomin_w},
        {"amomax.w", amomax_w},   {"amominu.w", amominu_w}, {"amomaxu.w", amomaxu_w},
    };
    static const struct {
        const char *name;
        amo_d_fn fn;
    } dops[] = {
        {"amoswap.d", amoswap_d}, {"amoadd.d", amoadd_d}, {"amoand.d", amoand_d},
        {"amoor.d", amoor_d},     {"amoxor.d", amoxor_d}, {"amomin.d", amomin_d},
        {"amomax.d", amomax_d},   {"amominu.d", amominu_d}, {"amomaxu.d", amomaxu_d},
    };
    static const uint32_t wmem[] = {0x00000005, 0x7fffffff, 0x80000000, 0xffffffff, 0x12345678};
    static const uint64_t wsrc[] = {0x0000000000000003, 0x0000000000000001, 0xfffffffffffffffe,
                                    0x1234567880000000, 0x00000000ffff0000};
    static const uint64_t dmem[] = {5, 0x7fffffffffffffff, 0x8000000000000000, 0xffffffffffffffff,
                                    0x00000000ffffffff};
    static const uint64_t dsrc[] = {3, 1, 0xfffffffffffffffe, 0x8000000000000001, 0x0000000100000000};
    char label[64];
    static volatile int32_t w[2];
    static volatile int64_t d;

    printf("-- AMO .w (neighbour word must stay untouched) --\n");
    for (unsigned k = 0; k < sizeof wops / sizeof wops[0]; k++) {
        for (unsigned i = 0; i < sizeof wmem / sizeof wmem[0]; i++) {
            w[0] = (int32_t)wmem[i];
            w[1] = 0x55555555;
            uint64_t r = wops[k].fn(&w[0], wsrc[i]);
            snprintf(label, sizeof label, "%s [%08" PRIx32 "]", wops[k].name, wmem[i]);
            show(label, r, (uint64_t)(uint32_t)w[0] | (uint64_t)(uint32_t)w[1] << 32);
        }
    }
    printf("-- AMO .d --\n");
    for (unsigned k = 0; k < sizeof dops / sizeof dops[0]; k++) {
        for (unsigned i = 0; i < sizeof dmem / sizeof dmem[0]; i++) {
            d = (int64_t)dmem[i];
            uint64_t r = dops[k].fn(&d, dsrc[i]);
            snprintf(label, sizeof label, "%s [%016" PRIx64 "]", dops[k].name, dmem[i]);
            show(label, r, (uint64_t)d);
        }
    }
    /* rd = x0: the AMO still updates memory. */
    d = 40;
    __asm__ volatile("amoadd.d zero, %1, (%0)" : : "r"(&d), "r"(2L) : "memory");
    show("amoadd.d rd=zero", 0, (uint64_t)d);
}

/* Atomically multiply *p by m with an lr.d/sc.d loop; returns the old value. */
static NOINLINE int64_t lrsc_mul_d(volatile int64_t *p, int64_t m, unsigned long *tries)
{
    int64_t old, tmp;
    unsigned long n = 0;
    __asm__ volatile("1: lr.d.aq %0, (%3)\n"
                     "   mul %1, %0, %4\n"
                     "   addi %2, %2, 1\n"
                     "   sc.d.rl %1, %1, (%3)\n"
                     "   bnez %1, 1b\n"
                     : "=&r"(old), "=&r"(tmp), "+r"(n)
                     : "r"(p), "r"(m)
                     : "memory");
    *tries = n;
    return old;
}

/* Same with lr.w/sc.w: add to a 32-bit word, returns the sign-extended old value. */
static NOINLINE int64_t lrsc_add_w(volatile int32_t *p, int64_t a)
{
    int64_t old, tmp;
    __asm__ volatile("1: lr.w %0, (%2)\n"
                     "   addw %1, %0, %3\n"
                     "   sc.w %1, %1, (%2)\n"
                     "   bnez %1, 1b\n"
                     : "=&r"(old), "=&r"(tmp)
                     : "r"(p), "r"(a)
                     : "memory");
    return old;
}

/* sc.d without a preceding lr.d: must fail and leave memory alone. */
static NOINLINE uint64_t sc_without_lr(volatile int64_t *p, int64_t v)
{
    uint64_t rc;
    __asm__ volatile("sc.d %0, %2, (%1)" : "=&r"(rc) : "r"(p), "r"(v) : "memory");
    return rc;
}

/* lr.d, then sc.d to the same address twice: the first succeeds, the second fails. */
static NOINLINE uint64_t double_sc(volatile int64_t *p, int64_t v1, int64_t v2)
{
    uint64_t loaded, rc1, rc2;
    __asm__ volatile("lr.d %0, (%3)\n"
                     "sc.d %1, %4, (%3)\n"
                     "sc.d %2, %5, (%3)\n"
                     : "=&r"(loaded), "=&r"(rc1), "=&r"(rc2)
                     : "r"(p), "r"(v1), "r"(v2)
                     : "memory");
    return (loaded & 0xffff) << 8 | (rc1 != 0) << 1 | (rc2 != 0);
}

static void lrsc(void)
{
    static volatile int64_t d;
    static volatile int32_t w[2];
    unsigned long tries;
    printf("-- LR/SC --\n");
    d = 3;
    int64_t total_tries = 0;
    for (int i = 0; i < 20; i++) {
        int64_t old = lrsc_mul_d(&d, 3, &tries);
        total_tries += (int64_t)tries;
        if (i % 5 == 4)
            show("lr.d/sc.d mul by 3", (uint64_t)old, (uint64_t)d);
    }
    /* SC may fail spuriously, so the number of tries is not printed, only that it is sane. */
    printf("lr/sc loop iterations for 20 updates: %s\n", total_tries >= 20 ? ">= 20" : "too few");
    w[0] = 0x7ffffffe;
    w[1] = -1;
    for (int i = 0; i < 4; i++) {
        int64_t old = lrsc_add_w(&w[0], 1);
        show("lr.w/sc.w add 1", (uint64_t)old, (uint64_t)(uint32_t)w[0] | (uint64_t)(uint32_t)w[1] << 32);
    }
    d = 1234;
    uint64_t rc = sc_without_lr(&d, 99);
    printf("sc.d without lr.d: %s, mem %" PRId64 "\n", rc ? "failed" : "succeeded", d);
    /* Without a reservation an SC fails before it touches memory: no SIGBUS for a misaligned
       address, no SIGSEGV for an unmapped one (as QEMU). */
    rc = sc_without_lr((volatile int64_t *)((uintptr_t)&d + 4), 99);
    printf("misaligned sc.d without lr.d: %s\n", rc ? "failed" : "succeeded");
    rc = sc_without_lr((volatile int64_t *)(uintptr_t)0x10, 99);
    printf("sc.d to an unmapped address without lr.d: %s\n", rc ? "failed" : "succeeded");
    uint64_t r = double_sc(&d, 111, 222);
    printf("lr.d + sc.d + sc.d: loaded %" PRIu64 " first %s second %s mem %" PRId64 "\n", r >> 8,
           (r & 2) ? "failed" : "succeeded", (r & 1) ? "failed" : "succeeded", d);
}

/* Add v to the (mask << shift) field of the aligned word *p; returns the old field value. */
static NOINLINE uint32_t subword_fetch_add(volatile uint32_t *p, unsigned shift, uint32_t mask, uint32_t v)
{
    uint64_t old, tmp, m = (uint64_t)mask << shift, inc = (uint64_t)v << shift;
    __asm__ volatile("1: lr.w.aqrl %0, (%2)\n"
                     "   add %1, %0, %3\n"
                     "   xor %1, %1, %0\n"
                     "   and %1, %1, %4\n"
                     "   xor %1, %1, %0\n"
                     "   sc.w.rl %1, %1, (%2)\n"
                     "   bnez %1, 1b\n"
                     : "=&r"(old), "=&r"(tmp)
                     : "r"(p), "r"(inc), "r"(m)
                     : "memory");
    return (uint32_t)(old >> shift) & mask;
}

static void builtins(void)
{
    static int32_t a32;
    static int64_t a64;
    static uint32_t u32;
    static uint64_t u64;
    printf("-- __atomic builtins --\n");
    a32 = 0x7ffffff0;
    show("fetch_add 32", (uint64_t)(int64_t)__atomic_fetch_add(&a32, 0x20, __ATOMIC_SEQ_CST), (uint64_t)a32);
    show("add_fetch 32", (uint64_t)(int64_t)__atomic_add_fetch(&a32, 0x20, __ATOMIC_RELAXED), (uint64_t)a32);
    show("fetch_sub 32", (uint64_t)(int64_t)__atomic_fetch_sub(&a32, 0x7fffffff, __ATOMIC_ACQ_REL), (uint64_t)a32);
    show("fetch_and 32", (uint64_t)(int64_t)__atomic_fetch_and(&a32, 0xff00ff00, __ATOMIC_ACQUIRE), (uint64_t)a32);
    show("fetch_or 32", (uint64_t)(int64_t)__atomic_fetch_or(&a32, 0x80000001, __ATOMIC_RELEASE), (uint64_t)a32);
    show("fetch_xor 32", (uint64_t)(int64_t)__atomic_fetch_xor(&a32, -1, __ATOMIC_SEQ_CST), (uint64_t)a32);
    show("fetch_nand 32", (uint64_t)(int64_t)__atomic_fetch_nand(&a32, 0x0ff0, __ATOMIC_SEQ_CST), (uint64_t)a32);
    show("exchange 32", (uint64_t)(int64_t)__atomic_exchange_n(&a32, INT32_MIN, __ATOMIC_SEQ_CST), (uint64_t)a32);
    int32_t exp32 = 5;
    bool ok = __atomic_compare_exchange_n(&a32, &exp32, 6, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    show(ok ? "cas 32 (expect 5): ok" : "cas 32 (expect 5): failed", (uint64_t)(int64_t)exp32, (uint64_t)a32);
    ok = __atomic_compare_exchange_n(&a32, &exp32, 6, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    show(ok ? "cas 32 (expect old): ok" : "cas 32 (expect old): failed", (uint64_t)(int64_t)exp32, (uint64_t)a32);
    u32 = 0xfffffff0;
    int spins = 0;
    uint32_t cur = __atomic_load_n(&u32, __ATOMIC_RELAXED);
    while (!__atomic_compare_exchange_n(&u32, &cur, cur + 0x20, true, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
        spins++;
    show("cas weak loop 32", (uint64_t)cur, (uint64_t)u32);
    printf("weak cas retries: %s\n", spins < 100 ? "few" : "many");

    a64 = INT64_MAX - 1;
    show("fetch_add 64", (uint64_t)__atomic_fetch_add(&a64, 3, __ATOMIC_SEQ_CST), (uint64_t)a64);
    show("fetch_sub 64", (uint64_t)__atomic_fetch_sub(&a64, 1, __ATOMIC_SEQ_CST), (uint64_t)a64);
    show("fetch_and 64", (uint64_t)__atomic_fetch_and(&a64, 0xf0f0f0f0f0f0f0f0LL, __ATOMIC_SEQ_CST), (uint64_t)a64);
    show("fetch_or 64", (uint64_t)__atomic_fetch_or(&a64, 0x0102030405060708LL, __ATOMIC_SEQ_CST), (uint64_t)a64);
    show("fetch_xor 64", (uint64_t)__atomic_fetch_xor(&a64, -1LL, __ATOMIC_SEQ_CST), (uint64_t)a64);
    show("exchange 64", (uint64_t)__atomic_exchange_n(&a64, 42, __ATOMIC_SEQ_CST), (uint64_t)a64);
    int64_t exp64 = 42;
    ok = __atomic_compare_exchange_n(&a64, &exp64, -42, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    show(ok ? "cas 64 (expect 42): ok" : "cas 64 (expect 42): failed", (uint64_t)exp64, (uint64_t)a64);
    ok = __atomic_compare_exchange_n(&a64, &exp64, 7, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    show(ok ? "cas 64 (expect 42 again): ok" : "cas 64 (expect 42 again): failed", (uint64_t)exp64,
         (uint64_t)a64);
    u64 = 0;
    for (int i = 0; i < 1000; i++)
        __atomic_fetch_add(&u64, (uint64_t)i * 0x9e3779b97f4a7c15ULL, __ATOMIC_RELAXED);
    show("1000 fetch_add 64", 0, u64);
    __atomic_store_n(&u64, 0x1122334455667788ULL, __ATOMIC_RELEASE);
    show("store/load 64", __atomic_load_n(&u64, __ATOMIC_ACQUIRE), u64);
    /* Sub-word atomics (gcc 12 would call libatomic for these): lr.w/sc.w on the containing word. */
    static uint8_t bytes[8] __attribute__((aligned(8))) = {1, 2, 3, 4, 5, 6, 7, 8};
    static uint16_t halves[4] __attribute__((aligned(8))) = {0xfff0, 0x1111, 0x2222, 0x3333};
    uint32_t ob = subword_fetch_add((volatile uint32_t *)bytes, 16, 0xff, 0xff);
    uint32_t oh = subword_fetch_add((volatile uint32_t *)halves, 0, 0xffff, 0x20);
    uint32_t ob2 = subword_fetch_add((volatile uint32_t *)&bytes[4], 24, 0xff, 0x7a);
    uint64_t bw, hw;
    __builtin_memcpy(&bw, bytes, 8);
    __builtin_memcpy(&hw, halves, 8);
    show("byte fetch_add", ob, bw);
    show("byte fetch_add (top byte)", ob2, bw);
    show("half fetch_add", oh, hw);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    __asm__ volatile("fence rw, rw\n\tfence.i\n\tfence r, r\n\tfence iorw, iorw" ::: "memory");
    printf("fences done\n");
}

int main(void)
{
    amos();
    lrsc();
    builtins();
    printf("checksum %016" PRIx64 "\n", checksum);
    return 0;
}
