/* Guest threads: pthreads (create, join, exit values), mutexes and condition variables, a
 * barrier, thread-local storage, atomic counters hammered by 8 threads with every AMO and an
 * LR/SC loop (checked exactly), signals sent to one thread (pthread_kill), and code generated,
 * run and unmapped again and again while other threads compute (translations dropped under
 * running threads).
 * Prints only deterministic results. argv[1] (optional) scales the work. */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define NTHREADS 8

static long rounds = 20000;

/* ---- parallel sum: a mutex-protected total and a condition variable for the last one ---- */
static pthread_mutex_t sum_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sum_done = PTHREAD_COND_INITIALIZER;
static uint64_t sum_total;
static int sum_finished;

static void *sum_worker(void *arg) {
    long id = (long)arg;
    uint64_t local = 0;
    for (long i = id; i < rounds * NTHREADS; i += NTHREADS) local += (uint64_t)i * i % 1000003;
    pthread_mutex_lock(&sum_lock);
    sum_total += local;
    sum_finished++;
    if (sum_finished == NTHREADS) pthread_cond_signal(&sum_done);
    pthread_mutex_unlock(&sum_lock);
    return (void *)(id * 10);
}

static void parallel_sum(void) {
    pthread_t t[NTHREADS];
    for (long i = 0; i < NTHREADS; i++) pthread_create(&t[i], NULL, sum_worker, (void *)i);
    pthread_mutex_lock(&sum_lock);
    while (sum_finished < NTHREADS) pthread_cond_wait(&sum_done, &sum_lock);
    pthread_mutex_unlock(&sum_lock);
    long values = 0;
    for (int i = 0; i < NTHREADS; i++) {
        void *value;
        pthread_join(t[i], &value);
        values += (long)value;
    }
    uint64_t expect = 0;
    for (long i = 0; i < rounds * NTHREADS; i++) expect += (uint64_t)i * i % 1000003;
    printf("sum: %s (joined values %ld)\n", sum_total == expect ? "ok" : "WRONG", values);
}

/* ---- atomics from 8 threads ---- */
static volatile uint64_t c_add, c_or, c_and, c_xor, c_swaps, c_lrsc, c_max, c_min;
static volatile uint32_t c_add_w, c_lrsc_w;
static volatile uint64_t c_maxu, c_minu;
static pthread_barrier_t start_line;


#define AMO_D(name, insn)                                                                  \
    static inline uint64_t name(volatile uint64_t *p, uint64_t v) {                       \
        uint64_t old;                                                                      \
        __asm__ volatile(insn " %0, %2, (%1)" : "=r"(old) : "r"(p), "r"(v) : "memory"); \
        return old;                                                                        \
    }
AMO_D(amoadd_d, "amoadd.d.aqrl")
AMO_D(amoor_d, "amoor.d")
AMO_D(amoand_d, "amoand.d")
AMO_D(amoxor_d, "amoxor.d")
AMO_D(amoswap_d, "amoswap.d.aq")
AMO_D(amomax_d, "amomax.d")
AMO_D(amomin_d, "amomin.d")
AMO_D(amomaxu_d, "amomaxu.d")
AMO_D(amominu_d, "amominu.d")

static inline uint32_t amoadd_w(volatile uint32_t *p, uint32_t v) {
    uint32_t old;
    __asm__ volatile("amoadd.w %0, %2, (%1)" : "=r"(old) : "r"(p), "r"(v) : "memory");
    return old;
}

static inline void lrsc_add_d(volatile uint64_t *p, uint64_t v) {
    uint64_t tmp, fail;
    __asm__ volatile("1: lr.d.aq %0, (%2)\n"
                     "   add %0, %0, %3\n"
                     "   sc.d.rl %1, %0, (%2)\n"
                     "   bnez %1, 1b"
                     : "=&r"(tmp), "=&r"(fail)
                     : "r"(p), "r"(v)
                     : "memory");
}

static inline void lrsc_add_w(volatile uint32_t *p, uint32_t v) {
    uint32_t tmp, fail;
    __asm__ volatile("1: lr.w %0, (%2)\n"
                     "   addw %0, %0, %3\n"
                     "   sc.w %1, %0, (%2)\n"
                     "   bnez %1, 1b"
                     : "=&r"(tmp), "=&r"(fail)
                     : "r"(p), "r"(v)
                     : "memory");
}

/* A spin lock on amoswap protecting a plain counter: lost updates show as a wrong total. */
static volatile uint64_t spin, plain_counter;

static void *atomic_worker(void *arg) {
    long id = (long)arg;
    pthread_barrier_wait(&start_line);
    for (long i = 0; i < rounds; i++) {
        amoadd_d(&c_add, 3);
        amoadd_w(&c_add_w, 1);
        amoor_d(&c_or, 1ull << ((id * 8 + i) % 64));
        amoand_d(&c_and, ~(1ull << ((id * 8 + i) % 64)));
        amoxor_d(&c_xor, (uint64_t)(i & 1) << id);
        amomax_d(&c_max, (uint64_t)(id * rounds + i));
        amomin_d(&c_min, (uint64_t)(-(long)(id * rounds + i)));
        amomaxu_d(&c_maxu, (uint64_t)(id * rounds + i));
        amominu_d(&c_minu, (uint64_t)(id * rounds + i + 1));
        lrsc_add_d(&c_lrsc, 2);
        lrsc_add_w(&c_lrsc_w, 1);
        while (amoswap_d(&spin, 1)) {
        }
        plain_counter = plain_counter + 1;
        __asm__ volatile("amoswap.d.rl zero, zero, (%0)" : : "r"(&spin) : "memory");
        __atomic_fetch_add(&c_swaps, 1, __ATOMIC_SEQ_CST);
    }
    return NULL;
}

static void atomics(void) {
    pthread_t t[NTHREADS];
    c_and = ~0ull;
    c_min = 0;
    c_minu = ~0ull;
    pthread_barrier_init(&start_line, NULL, NTHREADS);
    for (long i = 0; i < NTHREADS; i++) pthread_create(&t[i], NULL, atomic_worker, (void *)i);
    for (int i = 0; i < NTHREADS; i++) pthread_join(t[i], NULL);
    pthread_barrier_destroy(&start_line);
    long n = rounds * NTHREADS;
    printf("amoadd.d %s, amoadd.w %s, lr/sc.d %s, lr/sc.w %s, spinlock %s, __atomic %s\n",
           c_add == (uint64_t)(3 * n) ? "ok" : "WRONG", c_add_w == (uint32_t)n ? "ok" : "WRONG",
           c_lrsc == (uint64_t)(2 * n) ? "ok" : "WRONG", c_lrsc_w == (uint32_t)n ? "ok" : "WRONG",
           plain_counter == (uint64_t)n ? "ok" : "WRONG", c_swaps == (uint64_t)n ? "ok" : "WRONG");
    printf("amoor %#llx amoand %#llx amoxor %#llx\n", (unsigned long long)c_or, (unsigned long long)c_and,
           (unsigned long long)c_xor);
    printf("amomax %lld amomin %lld amomaxu %llu amominu %llu\n", (long long)c_max, (long long)c_min,
           (unsigned long long)c_maxu, (unsigned long long)c_minu);
}

/* ---- thread-local storage and thread ids ---- */
static __thread long tls_value = 7;
static __thread char tls_name[16] = "main";

static void *tls_worker(void *arg) {
    long id = (long)arg;
    long before = tls_value;
    tls_value = id * 100;
    snprintf(tls_name, sizeof tls_name, "thread%ld", id);
    pid_t tid = (pid_t)syscall(SYS_gettid);
    int distinct = tid != getpid();
    char out[64];
    snprintf(out, sizeof out, "%s:%ld->%ld%s", tls_name, before, tls_value, distinct ? "" : " SAME-TID");
    return strdup(out);
}

static void tls(void) {
    pthread_t t[4];
    for (long i = 0; i < 4; i++) pthread_create(&t[i], NULL, tls_worker, (void *)(i + 1));
    printf("tls:");
    for (int i = 0; i < 4; i++) {
        char *text;
        pthread_join(t[i], (void **)&text);
        printf(" %s", text);
        free(text);
    }
    printf(" main:%ld %s, gettid==getpid in main: %d\n", tls_value, tls_name,
           (pid_t)syscall(SYS_gettid) == getpid());
}

/* ---- pthread_exit, detached threads, many threads ---- */
static void *exiter(void *arg) {
    pthread_exit((void *)((long)arg + 1));
    return NULL;
}

static volatile int detached_done;
static void *detached(void *arg) {
    (void)arg;
    __atomic_fetch_add(&detached_done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

static void lifetimes(void) {
    void *value;
    pthread_t t;
    pthread_create(&t, NULL, exiter, (void *)41);
    pthread_join(t, &value);
    printf("pthread_exit value %ld\n", (long)value);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    for (int i = 0; i < 16; i++) pthread_create(&t, &attr, detached, NULL);
    pthread_attr_destroy(&attr);
    while (__atomic_load_n(&detached_done, __ATOMIC_SEQ_CST) < 16) sched_yield();
    /* Many threads alive at once, more than cores. */
    enum { MANY = 100 };
    static pthread_t many[MANY];
    long total = 0;
    for (long i = 0; i < MANY; i++) pthread_create(&many[i], NULL, exiter, (void *)i);
    for (int i = 0; i < MANY; i++) {
        pthread_join(many[i], &value);
        total += (long)value;
    }
    printf("detached done %d, %d threads joined, total %ld\n", detached_done, MANY, total);
}

/* ---- a signal for one thread ---- */
static volatile pid_t handled_by;
static void on_usr1(int signo) {
    (void)signo;
    handled_by = (pid_t)syscall(SYS_gettid);
}

static volatile int target_ready, target_stop;
static volatile pid_t target_tid;
static void *signal_target(void *arg) {
    (void)arg;
    target_tid = (pid_t)syscall(SYS_gettid);
    target_ready = 1;
    volatile unsigned long spins = 0;
    while (!target_stop) spins++; /* spinning in compiled code */
    return NULL;
}

static void thread_signal(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    pthread_t t;
    pthread_create(&t, NULL, signal_target, NULL);
    while (!target_ready) sched_yield();
    pthread_kill(t, SIGUSR1);
    while (!handled_by) sched_yield();
    target_stop = 1;
    pthread_join(t, NULL);
    printf("SIGUSR1 handled by the target thread: %s\n", handled_by == target_tid ? "yes" : "NO");
}

/* ---- generated code while other threads run ---- */
static volatile int churn_stop;
static void *churn_worker(void *arg) {
    uint64_t acc = (uint64_t)(uintptr_t)arg;
    while (!churn_stop)
        for (int i = 0; i < 1000; i++) acc = acc * 6364136223846793005ull + (uint64_t)i;
    return (void *)(uintptr_t)(acc == 42);
}

static void code_churn(void) {
    pthread_t t[3];
    for (long i = 0; i < 3; i++) pthread_create(&t[i], NULL, churn_worker, (void *)i);
    long sum = 0, expect = 0;
    for (int round = 0; round < 200; round++) {
        uint32_t *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (page == MAP_FAILED) break;
        page[0] = 0x00000513u | ((uint32_t)(round & 0x7ff) << 20); /* li a0, round */
        page[1] = 0x00008067u;                                      /* ret */
        __builtin___clear_cache((char *)page, (char *)(page + 2));
        sum += ((long (*)(void))page)();
        expect += round;
        munmap(page, 4096);
    }
    churn_stop = 1;
    for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
    printf("generated code while threads compute: %s\n", sum == expect ? "ok" : "WRONG");
}

int main(int argc, char **argv) {
    if (argc > 1) rounds = atol(argv[1]);
    setvbuf(stdout, NULL, _IONBF, 0);
    parallel_sum();
    atomics();
    tls();
    lifetimes();
    thread_signal();
    code_churn();
    return 0;
}
