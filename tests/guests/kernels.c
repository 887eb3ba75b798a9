/* kernels.c: the benchmark kernels, one per kind of work, for the interpreter and JIT MIPS figures.
 *
 *   kernels KERNEL [N]     KERNEL: arith, memory, branch or fp; N scales the work (default 100)
 *
 * Each kernel runs a loop dominated by one kind of instruction and prints a checksum, so a wrong
 * emulation shows up in the output as well as in the timing:
 *   arith   integer ALU and multiply (a mixing hash over registers, no memory in the loop)
 *   memory  loads and stores streaming over a 256 KiB buffer (prefix sums, then a strided gather)
 *   branch  data-dependent branches that a predictor cannot learn (a pseudo-random decision tree)
 *   fp      double-precision add, multiply, divide and fused multiply-add (a small n-body step)
 */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t arith(long n)
{
    uint64_t a = 0x243f6a8885a308d3ULL, b = 0x13198a2e03707344ULL, c = 0xa4093822299f31d0ULL;
    for (long i = 0; i < n * 100000; i++) {
        a = (a ^ (b >> 7)) * 0x9e3779b97f4a7c15ULL;
        b = (b + c) ^ (a << 11);
        c = c * 5 + (uint64_t)i + (a >> 29);
    }
    return a ^ b ^ c;
}

static uint64_t memory(long n)
{
    enum { WORDS = 32768 };
    uint64_t *buf = malloc(WORDS * sizeof(uint64_t));
    for (int i = 0; i < WORDS; i++)
        buf[i] = (uint64_t)i * 2654435761u;
    uint64_t sum = 0;
    for (long r = 0; r < n * 3; r++) {
        for (int i = 1; i < WORDS; i++)
            buf[i] += buf[i - 1];
        for (int i = 0; i < WORDS; i++)
            sum += buf[(i * 97) & (WORDS - 1)];
    }
    free(buf);
    return sum;
}

static uint64_t branch(long n)
{
    uint64_t x = 0x853c49e6748fea9bULL, count = 0;
    for (long i = 0; i < n * 50000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if (x & 1) {
            if (x & 2)
                count += 3;
            else
                count ^= x >> 40;
        } else if (x & 4) {
            count -= 1;
        } else if ((x >> 8) % 3 == 0) {
            count += x & 0xff;
        } else {
            count = count * 3 + 1;
        }
    }
    return count;
}

static uint64_t fp(long n)
{
    enum { BODIES = 16 };
    double px[BODIES], py[BODIES], vx[BODIES], vy[BODIES], m[BODIES];
    for (int i = 0; i < BODIES; i++) {
        px[i] = i * 1.5 - 11.0;
        py[i] = (i % 5) * 2.25 - 4.0;
        vx[i] = vy[i] = 0.0;
        m[i] = 1.0 + i * 0.125;
    }
    const double dt = 0.001;
    for (long step = 0; step < n * 20; step++) {
        for (int i = 0; i < BODIES; i++) {
            double ax = 0.0, ay = 0.0;
            for (int j = 0; j < BODIES; j++) {
                if (j == i)
                    continue;
                double dx = px[j] - px[i], dy = py[j] - py[i];
                double d2 = fma(dx, dx, fma(dy, dy, 0.01));
                double inv = m[j] / (d2 * sqrt(d2));
                ax = fma(dx, inv, ax);
                ay = fma(dy, inv, ay);
            }
            vx[i] += ax * dt;
            vy[i] += ay * dt;
        }
        for (int i = 0; i < BODIES; i++) {
            px[i] += vx[i] * dt;
            py[i] += vy[i] * dt;
        }
    }
    double e = 0.0;
    for (int i = 0; i < BODIES; i++)
        e += 0.5 * m[i] * (vx[i] * vx[i] + vy[i] * vy[i]) + px[i] - py[i];
    uint64_t bits;
    memcpy(&bits, &e, sizeof bits);
    printf("energy %.12e\n", e);
    return bits;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: kernels arith|memory|branch|fp [N]\n");
        return 2;
    }
    long n = argc > 2 ? atol(argv[2]) : 100;
    if (n < 1)
        n = 1;
    uint64_t result;
    if (!strcmp(argv[1], "arith"))
        result = arith(n);
    else if (!strcmp(argv[1], "memory"))
        result = memory(n);
    else if (!strcmp(argv[1], "branch"))
        result = branch(n);
    else if (!strcmp(argv[1], "fp"))
        result = fp(n);
    else {
        fprintf(stderr, "kernels: unknown kernel %s\n", argv[1]);
        return 2;
    }
    printf("%s x %ld: %016" PRIx64 "\n", argv[1], n, result);
    return 0;
}
