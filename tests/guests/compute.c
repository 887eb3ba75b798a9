/* compute.c: integer benchmark guest.
 *
 *   compute [SIZE]     SIZE scales the work linearly (default 600: about 1.5 s under qemu-riscv64)
 *
 * Runs a prime sieve, CRC-32 over a pseudo-random buffer, an integer matrix multiply, a quicksort
 * and an open-addressing hash table, and prints one line per part plus a combined checksum.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t xorshift(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

static uint64_t sieve(uint32_t limit, uint64_t *sum_out)
{
    uint8_t *composite = calloc(limit + 1, 1);
    uint64_t count = 0, sum = 0;
    for (uint32_t i = 2; i <= limit; i++) {
        if (composite[i])
            continue;
        count++;
        sum += i;
        for (uint64_t j = (uint64_t)i * i; j <= limit; j += i)
            composite[j] = 1;
    }
    free(composite);
    *sum_out = sum;
    return count;
}

static uint64_t sieve_bench(int reps)
{
    uint64_t total_count = 0, total_sum = 0, sum;
    for (int r = 0; r < reps; r++) {
        total_count += sieve(100000 + 9973 * (uint32_t)(r % 16), &sum);
        total_sum += sum;
    }
    printf("sieve x %d: %" PRIu64 " primes, sum %" PRIu64 "\n", reps, total_count, total_sum);
    return total_count * 1000003 + total_sum;
}

static uint32_t crc_table[256];

static uint64_t crc32_bench(size_t len, int rounds)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xedb88320u & -(c & 1));
        crc_table[i] = c;
    }
    uint8_t *buf = malloc(len);
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)xorshift();
    uint32_t crc = 0;
    for (int r = 0; r < rounds; r++) {
        uint32_t c = ~crc;
        for (size_t i = 0; i < len; i++)
            c = crc_table[(c ^ buf[i]) & 0xff] ^ (c >> 8);
        crc = ~c;
        buf[(size_t)r % len] ^= (uint8_t)crc;
    }
    free(buf);
    printf("crc32(%zu bytes x %d): %08" PRIx32 "\n", len, rounds, crc);
    return crc;
}

static uint64_t matmul(int n, int reps)
{
    int32_t *a = malloc(sizeof(int32_t) * (size_t)(n * n));
    int32_t *b = malloc(sizeof(int32_t) * (size_t)(n * n));
    int64_t *c = malloc(sizeof(int64_t) * (size_t)(n * n));
    uint64_t h = 0;
    int64_t corners = 0;
    for (int r = 0; r < reps; r++) {
        for (int i = 0; i < n * n; i++) {
            a[i] = (int32_t)(xorshift() % 2001) - 1000;
            b[i] = (int32_t)(xorshift() % 2001) - 1000;
            c[i] = 0;
        }
        for (int i = 0; i < n; i++)
            for (int k = 0; k < n; k++) {
                int64_t aik = a[i * n + k];
                for (int j = 0; j < n; j++)
                    c[i * n + j] += aik * b[k * n + j];
            }
        for (int i = 0; i < n * n; i++)
            h = h * 0x100000001b3ULL + (uint64_t)c[i];
        corners += c[0] + c[n * n - 1];
    }
    printf("matmul(%d) x %d: corners %" PRId64 " hash %016" PRIx64 "\n", n, reps, corners, h);
    free(a);
    free(b);
    free(c);
    return h;
}

static void quicksort(int64_t *v, long lo, long hi)
{
    while (lo < hi) {
        int64_t pivot = v[lo + (hi - lo) / 2];
        long i = lo, j = hi;
        while (i <= j) {
            while (v[i] < pivot)
                i++;
            while (v[j] > pivot)
                j--;
            if (i <= j) {
                int64_t t = v[i];
                v[i++] = v[j];
                v[j--] = t;
            }
        }
        if (j - lo < hi - i) {
            quicksort(v, lo, j);
            lo = i;
        } else {
            quicksort(v, i, hi);
            hi = j;
        }
    }
}

static uint64_t sort_bench(long n)
{
    int64_t *v = malloc(sizeof(int64_t) * (size_t)n);
    for (long i = 0; i < n; i++)
        v[i] = (int64_t)(xorshift() >> 1) - (INT64_MAX / 2);
    quicksort(v, 0, n - 1);
    uint64_t h = 0;
    long bad = 0;
    for (long i = 0; i < n; i++) {
        h = (h ^ (uint64_t)v[i]) * 0x100000001b3ULL;
        bad += i > 0 && v[i - 1] > v[i];
    }
    printf("sort(%ld): unsorted pairs %ld hash %016" PRIx64 "\n", n, bad, h);
    free(v);
    return h;
}

static uint64_t hash_bench(long ops)
{
    const size_t cap = 1 << 16;
    uint64_t *keys = calloc(cap, sizeof(uint64_t));
    uint32_t *vals = calloc(cap, sizeof(uint32_t));
    long inserted = 0, found = 0;
    for (long i = 0; i < ops; i++) {
        uint64_t key = (xorshift() % 50000) + 1;
        size_t slot = (size_t)((key * 0x9e3779b97f4a7c15ULL) >> 48);
        while (keys[slot] != 0 && keys[slot] != key)
            slot = (slot + 1) & (cap - 1);
        if (keys[slot] == key) {
            vals[slot]++;
            found++;
        } else {
            keys[slot] = key;
            vals[slot] = 1;
            inserted++;
        }
    }
    uint64_t h = 0;
    for (size_t i = 0; i < cap; i++)
        h += keys[i] * vals[i];
    printf("hash(%ld ops): inserted %ld found %ld weighted sum %" PRIu64 "\n", ops, inserted, found, h);
    free(keys);
    free(vals);
    return h;
}

int main(int argc, char **argv)
{
    long size = argc > 1 ? atol(argv[1]) : 600;
    if (size < 1)
        size = 1;
    uint64_t total = 0;
    total ^= sieve_bench((int)size);
    total = total * 31 + crc32_bench(65536, (int)size);
    total = total * 31 + matmul(40, (int)size);
    total = total * 31 + sort_bench(5000 * size);
    total = total * 31 + hash_bench(20000 * size);
    printf("checksum %016" PRIx64 "\n", total);
    return 0;
}
