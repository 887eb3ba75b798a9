/* Bit manipulation, Zicond-style selects and byte/halfword atomics as compilers emit them when
 * built with -march=rv64gc_zba_zbb_zbc_zbs_zbkb_zbkx (and more), plus inline assembly for what
 * has no C idiom. Prints every result, so a run under dbt can be compared with one under QEMU 10
 * (tests/e2e/test_isa_guests.py). Build flags choose which extensions the compiler may use. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static const uint64_t vals[] = {
    0, 1, 2, 3, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff,
    0x100000000ull, 0x7fffffffffffffffull, 0x8000000000000000ull, 0xffffffffffffffffull,
    0x0123456789abcdefull, 0xfedcba9876543210ull, 31, 32, 63, 64,
};
#define N (sizeof vals / sizeof vals[0])

static uint64_t rotl(uint64_t x, unsigned s) { return (x << (s & 63)) | (x >> (-s & 63)); }
static uint32_t rotl32(uint32_t x, unsigned s) { return (x << (s & 31)) | (x >> (-s & 31)); }
static int64_t smax(int64_t a, int64_t b) { return a > b ? a : b; }
static uint64_t umin(uint64_t a, uint64_t b) { return a < b ? a : b; }
static uint64_t select_nz(uint64_t c, uint64_t a, uint64_t b) { return c ? a : b; }

#ifdef __riscv_zbc
static uint64_t clmul(uint64_t a, uint64_t b) { uint64_t r; __asm__("clmul %0, %1, %2" : "=r"(r) : "r"(a), "r"(b)); return r; }
static uint64_t clmulh(uint64_t a, uint64_t b) { uint64_t r; __asm__("clmulh %0, %1, %2" : "=r"(r) : "r"(a), "r"(b)); return r; }
static uint64_t clmulr(uint64_t a, uint64_t b) { uint64_t r; __asm__("clmulr %0, %1, %2" : "=r"(r) : "r"(a), "r"(b)); return r; }
#endif
#ifdef __riscv_zbkb
static uint64_t brev8(uint64_t a) { uint64_t r; __asm__("brev8 %0, %1" : "=r"(r) : "r"(a)); return r; }
static uint64_t pack(uint64_t a, uint64_t b) { uint64_t r; __asm__("pack %0, %1, %2" : "=r"(r) : "r"(a), "r"(b)); return r; }
#endif
#ifdef __riscv_zbkx
static uint64_t xperm8(uint64_t a, uint64_t b) { uint64_t r; __asm__("xperm8 %0, %1, %2" : "=r"(r) : "r"(a), "r"(b)); return r; }
static uint64_t xperm4(uint64_t a, uint64_t b) { uint64_t r; __asm__("xperm4 %0, %1, %2" : "=r"(r) : "r"(a), "r"(b)); return r; }
#endif

int main(void) {
    uint64_t table[64];
    for (unsigned i = 0; i < 64; i++) table[i] = i * 0x9e3779b97f4a7c15ull;
    uint64_t sum = 0;
    for (unsigned i = 0; i < N; i++) {
        uint64_t a = vals[i];
        printf("%016llx clz %d ctz %d cpop %d clzw %d ctzw %d cpopw %d bswap %016llx\n", (unsigned long long)a,
               a ? __builtin_clzll(a) : 64, a ? __builtin_ctzll(a) : 64, __builtin_popcountll(a),
               (uint32_t)a ? __builtin_clz((uint32_t)a) : 32, (uint32_t)a ? __builtin_ctz((uint32_t)a) : 32,
               __builtin_popcount((uint32_t)a), (unsigned long long)__builtin_bswap64(a));
        printf("  sext.b %lld sext.h %lld zext.h %llu zext.w %llu\n", (long long)(int8_t)a, (long long)(int16_t)a,
               (unsigned long long)(uint16_t)a, (unsigned long long)(uint32_t)a);
        for (unsigned j = 0; j < N; j++) {
            uint64_t b = vals[j];
            /* address arithmetic: sh1add/sh2add/sh3add and the .uw forms */
            sum += table[(a + b) & 63] + ((uint32_t)a << 3) + ((uint64_t)(uint32_t)b << 1);
            printf("  %2u %2u rol %016llx rolw %08x andn %016llx orn %016llx xnor %016llx max %lld minu %llu"
                   " bset %016llx bclr %016llx binv %016llx bext %d sel %llu\n",
                   i, j, (unsigned long long)rotl(a, (unsigned)b), rotl32((uint32_t)a, (unsigned)b),
                   (unsigned long long)(a & ~b), (unsigned long long)(a | ~b), (unsigned long long)~(a ^ b),
                   (long long)smax((int64_t)a, (int64_t)b), (unsigned long long)umin(a, b),
                   (unsigned long long)(a | 1ull << (b & 63)), (unsigned long long)(a & ~(1ull << (b & 63))),
                   (unsigned long long)(a ^ 1ull << (b & 63)), (int)(a >> (b & 63) & 1),
                   (unsigned long long)select_nz(b & 1, a, 0));
#ifdef __riscv_zbc
            printf("     clmul %016llx %016llx %016llx\n", (unsigned long long)clmul(a, b),
                   (unsigned long long)clmulh(a, b), (unsigned long long)clmulr(a, b));
#endif
#ifdef __riscv_zbkb
            printf("     brev8 %016llx pack %016llx\n", (unsigned long long)brev8(a), (unsigned long long)pack(a, b));
#endif
#ifdef __riscv_zbkx
            printf("     xperm %016llx %016llx\n", (unsigned long long)xperm8(a, b), (unsigned long long)xperm4(a, b));
#endif
        }
    }
    /* byte and halfword atomics with Zabha (gcc 12 has no Zabha and would call libatomic) */
#ifdef __riscv_zabha
    static uint8_t bytes[8];
    static uint16_t halves[8];
#else
    static uint32_t bytes[8];
    static uint32_t halves[8];
#endif
    for (unsigned i = 0; i < N; i++) {
        __atomic_fetch_add(&bytes[i & 7], (uint8_t)vals[i], __ATOMIC_SEQ_CST);
        __atomic_fetch_xor(&halves[i & 7], (uint16_t)vals[i], __ATOMIC_SEQ_CST);
        __typeof__(bytes[0]) expected = bytes[(i + 1) & 7];
        __atomic_compare_exchange_n(&bytes[(i + 1) & 7], &expected, expected + 3, 0, __ATOMIC_SEQ_CST,
                                    __ATOMIC_SEQ_CST);
    }
    for (unsigned i = 0; i < 8; i++) printf("atomic %u %02x %04x\n", i, (unsigned)bytes[i] & 0xff, (unsigned)halves[i] & 0xffff);
    printf("sum %016llx\n", (unsigned long long)sum);
    return 0;
}
