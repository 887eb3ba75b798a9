/* control.c: control flow: a jump-table switch, indirect calls, recursion, setjmp/longjmp, varargs,
 * and qsort with a callback.  Every section prints its computed results.
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOINLINE __attribute__((noinline))

/* A dense switch: gcc and clang compile this to a table of targets and an indirect jump. */
static NOINLINE uint64_t dense_switch(unsigned op, uint64_t x)
{
    switch (op) {
    case 0: return x + 1;
    case 1: return x * 3;
    case 2: return x ^ 0x5555;
    case 3: return x << 3;
    case 4: return x >> 2;
    case 5: return ~x;
    case 6: return x - 77;
    case 7: return x * x;
    case 8: return x | 0x100;
    case 9: return x & 0xff00ff;
    case 10: return x + (x >> 7);
    case 11: return x * 0x9e3779b9;
    case 12: return (x << 13) | (x >> 51);
    case 13: return x / 3;
    case 14: return x % 1000;
    case 15: return x + 0x1234567;
    case 16: return -x;
    case 17: return x ^ (x >> 11);
    case 18: return x * 5 + 1;
    case 19: return x - (x >> 3);
    default: return x ^ 0xdeadbeef;
    }
}

/* A switch on characters with sparse and dense parts. */
static NOINLINE int classify_char(int c)
{
    switch (c) {
    case 'a': case 'e': case 'i': case 'o': case 'u': return 1;
    case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7': case '8': case '9': return 2;
    case ' ': case '\t': case '\n': return 3;
    case '.': case ',': case ';': case '!': case '?': return 4;
    case 'A': case 'E': case 'I': case 'O': case 'U': return 5;
    default: return 0;
    }
}

static int64_t op_add(int64_t a, int64_t b) { return a + b; }
static int64_t op_sub(int64_t a, int64_t b) { return a - b; }
static int64_t op_mul(int64_t a, int64_t b) { return a * b; }
static int64_t op_div(int64_t a, int64_t b) { return b ? a / b : 0; }
static int64_t op_max(int64_t a, int64_t b) { return a > b ? a : b; }
static int64_t op_min(int64_t a, int64_t b) { return a < b ? a : b; }

typedef int64_t (*binop)(int64_t, int64_t);
static binop const ops[] = {op_add, op_sub, op_mul, op_div, op_max, op_min};
static const char *const op_names[] = {"add", "sub", "mul", "div", "max", "min"};

static NOINLINE uint64_t fib(unsigned n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

static NOINLINE uint64_t ackermann(uint64_t m, uint64_t n)
{
    if (m == 0)
        return n + 1;
    if (n == 0)
        return ackermann(m - 1, 1);
    return ackermann(m - 1, ackermann(m, n - 1));
}

/* Mutual recursion. */
static NOINLINE int is_odd(unsigned n);
static NOINLINE int is_even(unsigned n) { return n == 0 ? 1 : is_odd(n - 1); }
static NOINLINE int is_odd(unsigned n) { return n == 0 ? 0 : is_even(n - 1); }

static NOINLINE int64_t sum_ints(int count, ...)
{
    va_list ap;
    va_start(ap, count);
    int64_t s = 0;
    for (int i = 0; i < count; i++)
        s += va_arg(ap, int);
    va_end(ap);
    return s;
}

/* Mixed varargs: 'i' int, 'l' long long, 'd' double, 's' string.  (On RISC-V, variadic doubles are
 * passed in integer registers.) */
static NOINLINE void describe(const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    for (const char *p = fmt; *p; p++) {
        switch (*p) {
        case 'i': printf(" int=%d", va_arg(ap, int)); break;
        case 'l': printf(" long=%lld", va_arg(ap, long long)); break;
        case 'd': printf(" double=%.3f", va_arg(ap, double)); break;
        case 's': printf(" str=%s", va_arg(ap, const char *)); break;
        }
    }
    va_end(ap);
    if (strncmp(fmt, "il", 2) == 0) {
        /* Hand the copied list on to vsnprintf. */
        char buf[128];
        vsnprintf(buf, sizeof buf, "%d %lld", ap2);
        printf(" | again: %s", buf);
    }
    va_end(ap2);
    printf("\n");
}

static jmp_buf env;
static int depth_reached;

static NOINLINE void dive(int depth, int limit)
{
    if (depth > limit)
        return;
    volatile char pad[64];
    pad[0] = (char)depth;
    depth_reached = depth + pad[0] - depth;
    if (depth == limit)
        longjmp(env, depth * 10);
    dive(depth + 1, limit);
}

struct item {
    char name[12];
    int score;
};

static int cmp_items(const void *a, const void *b)
{
    const struct item *x = a, *y = b;
    if (x->score != y->score)
        return y->score - x->score; /* descending score */
    return strcmp(x->name, y->name);
}

static unsigned long long cmp_calls;

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    cmp_calls++;
    return (x > y) - (x < y);
}

int main(void)
{
    printf("-- dense switch --\n");
    uint64_t x = 12345;
    for (unsigned i = 0; i < 200; i++) {
        x = dense_switch((i * 7 + (unsigned)(x & 3)) % 22, x);
        if (i % 25 == 24)
            printf("after %3u steps: %016" PRIx64 "\n", i + 1, x);
    }
    const char *text = "Hello, World! 42 apples; 7 Oranges?\tok.";
    int hist[6] = {0};
    for (const char *p = text; *p; p++)
        hist[classify_char(*p)]++;
    printf("char classes: other %d vowel %d digit %d space %d punct %d upper-vowel %d\n", hist[0], hist[1],
           hist[2], hist[3], hist[4], hist[5]);

    printf("-- function pointers --\n");
    int64_t acc = 1000;
    for (int i = 0; i < 24; i++) {
        int k = (i * 5 + 3) % 6;
        int64_t before = acc;
        acc = ops[k](acc, (int64_t)i - 7);
        if (i < 12)
            printf("%s(%" PRId64 ", %d) = %" PRId64 "\n", op_names[k], before, i - 7, acc);
    }
    printf("final acc %" PRId64 "\n", acc);

    printf("-- recursion --\n");
    for (unsigned n = 0; n <= 25; n += 5)
        printf("fib(%u) = %" PRIu64 "\n", n, fib(n));
    for (uint64_t m = 0; m <= 3; m++)
        for (uint64_t n = 0; n <= 3; n++)
            printf("ackermann(%" PRIu64 ", %" PRIu64 ") = %" PRIu64 "\n", m, n, ackermann(m, n));
    printf("ackermann(2, 100) = %" PRIu64 "\n", ackermann(2, 100));
    printf("is_even(1001) = %d is_odd(1001) = %d\n", is_even(1001), is_odd(1001));

    printf("-- setjmp/longjmp --\n");
    volatile int rounds = 0;
    int rc = setjmp(env);
    rounds++;
    if (rc == 0) {
        printf("setjmp returned 0, diving\n");
        dive(0, 50);
        printf("not reached\n");
    } else if (rc < 1000) {
        printf("longjmp returned %d (depth %d, rounds %d)\n", rc, depth_reached, rounds);
        longjmp(env, rc * 100);
    } else {
        printf("second longjmp returned %d (rounds %d)\n", rc, rounds);
    }
    /* longjmp with value 0 makes setjmp return 1. */
    rc = setjmp(env);
    if (rc == 0)
        longjmp(env, 0);
    printf("longjmp(env, 0) -> setjmp returned %d\n", rc);

    printf("-- varargs --\n");
    printf("sum_ints = %" PRId64 " %" PRId64 " %" PRId64 "\n", sum_ints(0), sum_ints(3, 1, 2, 3),
           sum_ints(12, -1, -2, -3, -4, -5, -6, -7, -8, -9, -10, -11, 1000));
    describe("ilds", 7, 1234567890123LL, 2.5, "text");
    describe("dddidddd", 1.0, 2.0, 3.0, -4, 5.0, 6.0, 7.0, 8.125);

    printf("-- qsort with callbacks --\n");
    struct item items[] = {{"delta", 5},  {"alpha", 9}, {"echo", 5},  {"bravo", 1},
                           {"charlie", 9}, {"foxtrot", 3}, {"golf", 5}, {"hotel", 0}};
    qsort(items, sizeof items / sizeof items[0], sizeof items[0], cmp_items);
    for (unsigned i = 0; i < sizeof items / sizeof items[0]; i++)
        printf("%s:%d ", items[i].name, items[i].score);
    printf("\n");
    static uint64_t big[5000];
    uint64_t s = 88172645463325252ULL;
    for (int i = 0; i < 5000; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        big[i] = s % 1000000;
    }
    qsort(big, 5000, sizeof big[0], cmp_u64);
    uint64_t h = 0;
    int ok = 1;
    for (int i = 0; i < 5000; i++) {
        h = h * 31 + big[i];
        if (i && big[i - 1] > big[i])
            ok = 0;
    }
    printf("sorted %d first %" PRIu64 " last %" PRIu64 " hash %016" PRIx64 " comparator called: %s\n", ok, big[0],
           big[4999], h, cmp_calls > 5000 ? "yes" : "no");
    return 0;
}
