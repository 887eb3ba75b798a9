/* parcompute.c: the same integer work split over argv[1] threads (default 4); argv[2] scales it.
 * 16 chunks of a hash-and-sort kernel are shared out round-robin, so the checksum does not
 * depend on the thread count: the benchmark for guest threads running in parallel. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define CHUNKS 16
#define N 4096

static long scale = 40;
static int nthreads = 4;
static uint64_t results[CHUNKS];

static uint64_t chunk(int c) {
    static __thread uint32_t data[N];
    uint64_t x = 0x9E3779B97F4A7C15ull * (uint64_t)(c + 1), acc = 0;
    for (long round = 0; round < scale; round++) {
        for (int i = 0; i < N; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            data[i] = (uint32_t)x;
        }
        /* insertion sort of a prefix: branches, loads and stores */
        for (int i = 1; i < 256; i++) {
            uint32_t v = data[i];
            int j = i - 1;
            while (j >= 0 && data[j] > v) {
                data[j + 1] = data[j];
                j--;
            }
            data[j + 1] = v;
        }
        for (int i = 0; i < N; i += 8) acc = acc * 31 + data[i];
    }
    return acc;
}

static void *worker(void *arg) {
    long id = (long)arg;
    for (int c = (int)id; c < CHUNKS; c += nthreads) results[c] = chunk(c);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc > 1) nthreads = atoi(argv[1]);
    if (argc > 2) scale = atol(argv[2]);
    if (nthreads < 1 || nthreads > CHUNKS) return 2;
    pthread_t t[CHUNKS];
    for (long i = 0; i < nthreads; i++) pthread_create(&t[i], NULL, worker, (void *)i);
    for (int i = 0; i < nthreads; i++) pthread_join(t[i], NULL);
    uint64_t sum = 0;
    for (int c = 0; c < CHUNKS; c++) sum = sum * 1000003 + results[c];
    printf("checksum %016llx\n", (unsigned long long)sum);
    return 0;
}
