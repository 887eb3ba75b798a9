/* futex.c: the futex system call's answers, raw: wait with a changed word (EAGAIN), relative
 * and absolute timeouts on both clocks, wake counts, bitsets, requeue and cmp_requeue, wake_op,
 * errors for bad arguments, and waits ended by wakes from other threads. Prints deterministic
 * results (counts and errno names, never times). */
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static long futex(volatile uint32_t *uaddr, int op, uint32_t val, const struct timespec *timeout,
                  volatile uint32_t *uaddr2, uint32_t val3) {
    return syscall(SYS_futex, uaddr, op, val, timeout, uaddr2, val3);
}

static const char *err(long r) {
    if (r >= 0) return "ok";
    switch (errno) {
    case EAGAIN: return "EAGAIN";
    case ETIMEDOUT: return "ETIMEDOUT";
    case EINVAL: return "EINVAL";
    case ENOSYS: return "ENOSYS";
    case EFAULT: return "EFAULT";
    case EINTR: return "EINTR";
    default: return strerror(errno);
    }
}

static void show(const char *what, long r) { printf("%-34s %ld %s\n", what, r < 0 ? -1 : r, err(r)); }

static volatile uint32_t word, word2;
static volatile int waiting;

struct waiter_arg {
    volatile uint32_t *addr;
    int op;
    uint32_t bitset;
    long result;
    int error;
};

static void *waiter(void *p) {
    struct waiter_arg *a = p;
    __atomic_fetch_add(&waiting, 1, __ATOMIC_SEQ_CST);
    a->result = futex(a->addr, a->op, 0, NULL, NULL, a->bitset);
    a->error = a->result < 0 ? errno : 0;
    return NULL;
}

/* Wake until `expect` threads have left (they may not all be asleep yet when we first wake). */
static long wake_all(volatile uint32_t *addr, int op, uint32_t bitset, int count) {
    long total = 0;
    while (total < count) {
        long r = futex(addr, op, (uint32_t)count, NULL, NULL, bitset);
        if (r > 0) total += r;
        else usleep(1000);
    }
    return total;
}

int main(void) {
    struct timespec short_rel = {0, 20 * 1000 * 1000}, now, abs_time;
    word = 1;
    show("wait, word differs", futex(&word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0));
    show("wait, relative timeout", futex(&word, FUTEX_WAIT_PRIVATE, 1, &short_rel, NULL, 0));
    clock_gettime(CLOCK_MONOTONIC, &now);
    abs_time = now;
    abs_time.tv_nsec += 20 * 1000 * 1000;
    if (abs_time.tv_nsec >= 1000000000) abs_time.tv_sec++, abs_time.tv_nsec -= 1000000000;
    show("wait_bitset, absolute monotonic", futex(&word, FUTEX_WAIT_BITSET_PRIVATE, 1, &abs_time, NULL, ~0u));
    clock_gettime(CLOCK_REALTIME, &now);
    abs_time = now;
    abs_time.tv_nsec += 20 * 1000 * 1000;
    if (abs_time.tv_nsec >= 1000000000) abs_time.tv_sec++, abs_time.tv_nsec -= 1000000000;
    show("wait_bitset, absolute realtime",
         futex(&word, FUTEX_WAIT_BITSET_PRIVATE | FUTEX_CLOCK_REALTIME, 1, &abs_time, NULL, ~0u));
    struct timespec past = {0, 0};
    show("wait_bitset, deadline passed", futex(&word, FUTEX_WAIT_BITSET, 1, &past, NULL, ~0u));
    struct timespec bad = {0, 1000000000};
    show("wait, tv_nsec out of range", futex(&word, FUTEX_WAIT, 1, &bad, NULL, 0));
    show("wait, misaligned word", futex((volatile uint32_t *)((char *)&word + 1), FUTEX_WAIT, 1, NULL, NULL, 0));
    show("wait_bitset, bitset 0", futex(&word, FUTEX_WAIT_BITSET, 1, NULL, NULL, 0));
    show("wake, nobody waits", futex(&word, FUTEX_WAKE_PRIVATE, 5, NULL, NULL, 0));
    show("cmp_requeue, word differs", futex(&word, FUTEX_CMP_REQUEUE_PRIVATE, 1, (void *)1, &word2, 7));
    show("unknown op", futex(&word, 99, 1, NULL, NULL, 0));

    /* Waits ended by other threads' wakes. */
    enum { N = 4 };
    pthread_t t[N];
    struct waiter_arg args[N];
    word = 0;
    for (int i = 0; i < N; i++) {
        args[i] = (struct waiter_arg){&word, FUTEX_WAIT_PRIVATE, 0, 0, 0};
        pthread_create(&t[i], NULL, waiter, &args[i]);
    }
    while (waiting < N) usleep(1000);
    usleep(20000);
    printf("wake 1 of %d: %ld\n", N, futex(&word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0));
    printf("wake the rest: %ld\n", wake_all(&word, FUTEX_WAKE_PRIVATE, 0, N - 1));
    for (int i = 0; i < N; i++) pthread_join(t[i], NULL);
    int ok = 1;
    for (int i = 0; i < N; i++) ok &= args[i].result == 0;
    printf("all woken waits returned 0: %s\n", ok ? "yes" : "no");

    /* Bitsets: a wake with bitset 2 wakes only the waiter waiting with bit 2. */
    waiting = 0;
    args[0] = (struct waiter_arg){&word, FUTEX_WAIT_BITSET_PRIVATE, 1, 0, 0};
    args[1] = (struct waiter_arg){&word, FUTEX_WAIT_BITSET_PRIVATE, 2, 0, 0};
    pthread_create(&t[0], NULL, waiter, &args[0]);
    pthread_create(&t[1], NULL, waiter, &args[1]);
    while (waiting < 2) usleep(1000);
    usleep(20000);
    printf("wake_bitset 2: %ld\n", futex(&word, FUTEX_WAKE_BITSET_PRIVATE, 10, NULL, NULL, 2));
    pthread_join(t[1], NULL);
    printf("wake_bitset 1: %ld\n", wake_all(&word, FUTEX_WAKE_BITSET_PRIVATE, 1, 1));
    pthread_join(t[0], NULL);

    /* Requeue: wake 1, move the others to word2, then wake them there. */
    waiting = 0;
    word = 0;
    word2 = 0;
    for (int i = 0; i < 3; i++) {
        args[i] = (struct waiter_arg){&word, FUTEX_WAIT_PRIVATE, 0, 0, 0};
        pthread_create(&t[i], NULL, waiter, &args[i]);
    }
    while (waiting < 3) usleep(1000);
    usleep(30000);
    printf("cmp_requeue wake 1 move 5: %ld\n", futex(&word, FUTEX_CMP_REQUEUE_PRIVATE, 1, (void *)5, &word2, 0));
    printf("wake on the old word: %ld\n", futex(&word, FUTEX_WAKE_PRIVATE, 10, NULL, NULL, 0));
    printf("wake on the new word: %ld\n", futex(&word2, FUTEX_WAKE_PRIVATE, 10, NULL, NULL, 0));
    for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);

    /* wake_op: word2 += 5 (old value 0 compared == 0), wakes nobody but changes the word. */
    word2 = 0;
    uint32_t op = FUTEX_OP(FUTEX_OP_ADD, 5, FUTEX_OP_CMP_EQ, 0);
    show("wake_op add 5", futex(&word, FUTEX_WAKE_OP_PRIVATE, 1, (void *)1, &word2, op));
    printf("word2 after wake_op: %u\n", word2);
    return 0;
}
