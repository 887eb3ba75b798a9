/* heap.c: malloc/calloc/realloc/free of many sizes and the common string functions.
 *
 * Large blocks (> 128 KiB) are served by mmap in glibc and musl, and growing one with realloc may
 * use mremap.  Pointers are never printed, only properties and checksums of the contents.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state = 0x853c49e6748fea9bULL;

static uint32_t rng(void)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(rng_state >> 33);
}

static uint64_t fnv(const void *p, size_t n, uint64_t h)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ c[i]) * 0x100000001b3ULL;
    return h;
}

static void fill(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(seed + i * 31 + (i >> 8));
}

static int check(const unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != (unsigned char)(seed + i * 31 + (i >> 8)))
            return 0;
    return 1;
}

#define NSLOTS 256

static void malloc_churn(void)
{
    static unsigned char *slot[NSLOTS];
    static size_t size[NSLOTS];
    static unsigned seed[NSLOTS];
    int bad = 0, misaligned = 0;
    unsigned long allocs = 0, frees = 0, reallocs = 0;
    uint64_t h = 0xcbf29ce484222325ULL;

    for (int round = 0; round < 20000; round++) {
        unsigned i = rng() % NSLOTS;
        unsigned r = rng();
        if (slot[i] == NULL) {
            size_t n;
            switch (r % 8) {
            case 0: n = r % 16; break;
            case 1: n = 16 + r % 256; break;
            case 2: n = 1000 + r % 5000; break;
            case 3: n = 4096 * (1 + r % 8); break;
            default: n = r % 100; break;
            }
            if (r % 5 == 0) {
                slot[i] = calloc(n ? n : 1, 1);
                for (size_t k = 0; k < n; k++)
                    bad += slot[i][k] != 0;
            } else {
                slot[i] = malloc(n);
            }
            if (slot[i] == NULL && n != 0) {
                printf("allocation of %zu failed\n", n);
                exit(1);
            }
            if (slot[i] == NULL) {
                slot[i] = malloc(1);
                n = 0;
            }
            misaligned += ((uintptr_t)slot[i] & 15) != 0;
            size[i] = n;
            seed[i] = r;
            fill(slot[i], n, r);
            allocs++;
        } else if (r % 3 == 0) {
            size_t n = size[i] * 2 + 1 + r % 64;
            unsigned char *p = realloc(slot[i], n);
            if (!p) {
                printf("realloc to %zu failed\n", n);
                exit(1);
            }
            bad += !check(p, size[i], seed[i]);
            misaligned += ((uintptr_t)p & 15) != 0;
            fill(p, n, seed[i] + 1);
            slot[i] = p;
            size[i] = n;
            seed[i] = seed[i] + 1;
            reallocs++;
        } else {
            bad += !check(slot[i], size[i], seed[i]);
            h = fnv(slot[i], size[i], h);
            free(slot[i]);
            slot[i] = NULL;
            frees++;
        }
    }
    for (unsigned i = 0; i < NSLOTS; i++) {
        if (slot[i]) {
            bad += !check(slot[i], size[i], seed[i]);
            h = fnv(slot[i], size[i], h);
            free(slot[i]);
        }
    }
    printf("churn: allocs %lu reallocs %lu frees %lu corrupt %d misaligned %d hash %016" PRIx64 "\n", allocs,
           reallocs, frees, bad, misaligned, h);
}

static void big_blocks(void)
{
    static const size_t sizes[] = {100 * 1024, 128 * 1024, 200 * 1024, 1 << 20, 5 << 20, 33 << 20};
    uint64_t h = 0xcbf29ce484222325ULL;
    for (unsigned k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t n = sizes[k];
        unsigned char *p = malloc(n);
        if (!p) {
            printf("malloc(%zu) failed\n", n);
            exit(1);
        }
        /* Touch every page, then check the first, middle and last bytes. */
        for (size_t i = 0; i < n; i += 4096)
            p[i] = (unsigned char)(i >> 12);
        p[n - 1] = 0xab;
        int ok = p[0] == 0 && p[n - 1] == 0xab && p[(n / 2) & ~(size_t)4095] == (unsigned char)((n / 2) >> 12);
        h = fnv(&ok, sizeof ok, h);
        printf("malloc(%zu): %s, aligned16 %d\n", n, ok ? "ok" : "BAD", ((uintptr_t)p & 15) == 0);
        free(p);
    }
    /* calloc of a big block must be zeroed (fresh mmap). */
    unsigned char *z = calloc(3 << 20, 1);
    size_t nonzero = 0;
    for (size_t i = 0; i < (3u << 20); i++)
        nonzero += z[i] != 0;
    printf("calloc 3 MiB: nonzero bytes %zu\n", nonzero);
    free(z);

    /* Grow a big block step by step: glibc uses mremap here. */
    size_t n = 256 * 1024;
    unsigned char *p = malloc(n);
    fill(p, n, 7);
    int preserved = 1;
    for (int step = 0; step < 6; step++) {
        size_t m = n * 2;
        p = realloc(p, m);
        if (!p) {
            printf("realloc(%zu) failed\n", m);
            exit(1);
        }
        preserved &= check(p, n, 7);
        memset(p + n, 0, m - n);
        fill(p + n, m - n, 7 + (unsigned)n); /* recomputable pattern */
        n = m;
        printf("realloc grow to %zu: preserved %d\n", n, preserved);
    }
    /* Shrink it back. */
    p = realloc(p, 300 * 1024);
    preserved &= check(p, 256 * 1024, 7);
    printf("realloc shrink to %d: preserved %d\n", 300 * 1024, preserved);
    h = fnv(p, 256 * 1024, h);
    free(p);
    printf("big blocks hash %016" PRIx64 "\n", h);
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void strings(void)
{
    char buf[256], buf2[256];
    uint64_t h = 0xcbf29ce484222325ULL;

    printf("-- strings --\n");
    strcpy(buf, "The quick brown fox jumps over the lazy dog");
    printf("strlen %zu\n", strlen(buf));
    printf("strchr %s\n", strchr(buf, 'q'));
    printf("strrchr %s\n", strrchr(buf, 'o'));
    printf("strstr %s\n", strstr(buf, "fox"));
    printf("strstr missing %s\n", strstr(buf, "cat") ? "found" : "null");
    printf("strcmp %d %d %d\n", strcmp("abc", "abd") < 0, strcmp("abc", "abc") == 0, strcmp("b", "abc") > 0);
    printf("strncmp %d\n", strncmp("abcdef", "abcxyz", 3));
    printf("memcmp %d\n", memcmp("\x01\x02\xff", "\x01\x02\x01", 3) > 0);
    strcpy(buf2, buf);
    strcat(buf2, "!!");
    printf("strcat %s\n", buf2);
    strncpy(buf2, "xyz", 10);
    printf("strncpy tail zero %d\n", buf2[5] == 0 && buf2[9] == 0);

    /* memmove with overlap, both directions, at odd offsets and lengths. */
    for (int i = 0; i < 64; i++)
        buf[i] = (char)('A' + i % 26);
    memmove(buf + 3, buf, 40);
    memmove(buf + 50, buf + 51, 9);
    buf[63] = 0;
    printf("memmove %s\n", buf);
    memset(buf, '#', 17);
    printf("memset %.20s\n", buf);
    /* memcpy of many lengths and alignments. */
    static unsigned char src[1024], dst[1100];
    for (int i = 0; i < 1024; i++)
        src[i] = (unsigned char)(i * 7 + 3);
    for (int len = 0; len < 300; len += 7) {
        for (int off = 0; off < 8; off++) {
            memset(dst, 0, sizeof dst);
            memcpy(dst + off, src + (7 - off), (size_t)len);
            h = fnv(dst, (size_t)len + 16, h);
        }
    }
    printf("memcpy hash %016" PRIx64 "\n", h);

    /* strtok */
    char text[] = "alpha,beta;;gamma , delta,,epsilon";
    printf("strtok:");
    for (char *t = strtok(text, ",; "); t; t = strtok(NULL, ",; "))
        printf(" [%s]", t);
    printf("\n");

    /* qsort and bsearch */
    static int nums[1000];
    for (int i = 0; i < 1000; i++)
        nums[i] = (int)(rng() % 100000) - 50000;
    qsort(nums, 1000, sizeof nums[0], cmp_int);
    int sorted = 1;
    for (int i = 1; i < 1000; i++)
        sorted &= nums[i - 1] <= nums[i];
    printf("qsort: sorted %d min %d max %d median %d\n", sorted, nums[0], nums[999], nums[500]);
    int key = nums[123];
    int *found = bsearch(&key, nums, 1000, sizeof nums[0], cmp_int);
    printf("bsearch: found %d value %d\n", found != NULL, found ? *found : 0);
    key = 1000000;
    printf("bsearch missing: %s\n", bsearch(&key, nums, 1000, sizeof nums[0], cmp_int) ? "found" : "null");
    const char *words[] = {"pear", "apple", "fig", "banana", "cherry", "date", "apricot"};
    qsort(words, 7, sizeof words[0], cmp_str);
    printf("sorted words:");
    for (int i = 0; i < 7; i++)
        printf(" %s", words[i]);
    printf("\n");

    /* snprintf */
    int n = snprintf(buf, sizeof buf, "%d|%5d|%-5d|%05d|%x|%X|%o|%lld|%llu|%c|%s|%.3s|%10.4s|%%", -42, 42, 42, 42,
                     0xbeef, 0xbeef, 8, -1234567890123LL, 18446744073709551615ULL, 'z', "str", "truncate", "abcdefg");
    printf("snprintf (%d): %s\n", n, buf);
    static const char *volatile digits = "0123456789";
    n = snprintf(buf, 8, "%s", digits);
    printf("snprintf truncated (%d): %s\n", n, buf);
    n = snprintf(buf, sizeof buf, "%#x %#o %+d % d %hhd %hd %zu %jd", 255, 8, 5, 5, 300, 70000, (size_t)12345,
                 (intmax_t)-9);
    printf("snprintf flags (%d): %s\n", n, buf);
    printf("atoi %d strtol %ld strtoul %lu strtoll %lld\n", atoi("  -123abc"), strtol("0x1f", NULL, 16),
           strtoul("777", NULL, 8), strtoll("-9223372036854775808", NULL, 10));
    char *dup = strdup("duplicate me");
    printf("strdup %s %zu\n", dup, strlen(dup));
    free(dup);
}

int main(void)
{
    malloc_churn();
    big_blocks();
    strings();
    return 0;
}
