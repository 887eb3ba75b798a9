/* Robust mutexes: a thread (or a process) that dies holding a PTHREAD_MUTEX_ROBUST mutex
 * leaves it to the next locker with EOWNERDEAD, through the robust list the C library
 * registers with set_robust_list and the kernel walks when the thread exits.
 *
 * qemu-riscv64 answers set_robust_list with ENOSYS (it cannot walk guest lists at thread exit),
 * so its answers here are not Linux's; the reference is this file compiled for the host and run
 * natively (the semantics do not depend on the architecture).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *name(int r) {
    switch (r) {
    case 0: return "0";
    case EOWNERDEAD: return "EOWNERDEAD";
    case ENOTRECOVERABLE: return "ENOTRECOVERABLE";
    case EBUSY: return "EBUSY";
    case EINVAL: return "EINVAL";
    case EPERM: return "EPERM";
    default: return "other";
    }
}

static void init_robust(pthread_mutex_t *m, int shared) {
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    if (shared) pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    int r = pthread_mutex_init(m, &a);
    if (r) printf("pthread_mutex_init: %s\n", name(r));
    pthread_mutexattr_destroy(&a);
}

static void sleep_ms(long ms) {
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

/* ---- one mutex, its owner exits holding it ---- */
static pthread_mutex_t one;

static void *lock_and_exit(void *arg) {
    printf("  owner lock: %s\n", name(pthread_mutex_lock(arg)));
    return NULL; /* exits holding the mutex */
}

static void dead_owner(void) {
    puts("dead owner, lock after join:");
    init_robust(&one, 0);
    pthread_t t;
    pthread_create(&t, NULL, lock_and_exit, &one);
    pthread_join(t, NULL);
    printf("  lock: %s\n", name(pthread_mutex_lock(&one)));
    printf("  consistent: %s\n", name(pthread_mutex_consistent(&one)));
    printf("  unlock: %s\n", name(pthread_mutex_unlock(&one)));
    printf("  lock again: %s\n", name(pthread_mutex_lock(&one)));
    printf("  consistent on a healthy mutex: %s\n", name(pthread_mutex_consistent(&one)));
    printf("  unlock: %s\n", name(pthread_mutex_unlock(&one)));
    pthread_mutex_destroy(&one);
}

/* ---- a waiter blocked in lock when the owner dies ---- */
static pthread_mutex_t waited;
static int pipe_fds[2];

static void *hold_then_exit(void *arg) {
    pthread_mutex_lock(&waited);
    write(pipe_fds[1], "x", 1); /* "I hold it" */
    sleep_ms(200);              /* the main thread is blocked in lock by now */
    return NULL;
}

static void waiter_woken(void) {
    puts("waiter blocked while the owner dies:");
    init_robust(&waited, 0);
    pipe(pipe_fds);
    pthread_t t;
    pthread_create(&t, NULL, hold_then_exit, NULL);
    char c;
    read(pipe_fds[0], &c, 1);
    printf("  lock: %s\n", name(pthread_mutex_lock(&waited)));
    printf("  consistent: %s\n", name(pthread_mutex_consistent(&waited)));
    printf("  unlock: %s\n", name(pthread_mutex_unlock(&waited)));
    pthread_join(t, NULL);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
}

/* ---- not made consistent: the mutex becomes unrecoverable ---- */
static void unrecoverable(void) {
    puts("unlock without consistent:");
    pthread_mutex_t m;
    init_robust(&m, 0);
    pthread_t t;
    pthread_create(&t, NULL, lock_and_exit, &m);
    pthread_join(t, NULL);
    printf("  trylock: %s\n", name(pthread_mutex_trylock(&m)));
    printf("  unlock: %s\n", name(pthread_mutex_unlock(&m)));
    printf("  lock: %s\n", name(pthread_mutex_lock(&m)));
    printf("  trylock: %s\n", name(pthread_mutex_trylock(&m)));
}

/* ---- several mutexes held at exit: the whole list is walked ---- */
#define MANY 6
static pthread_mutex_t many[MANY];

static void *lock_many(void *arg) {
    for (int i = 0; i < MANY; i++) pthread_mutex_lock(&many[i]);
    pthread_mutex_unlock(&many[2]); /* one released normally: it is off the list */
    return NULL;
}

static void several(void) {
    puts("several held at exit:");
    for (int i = 0; i < MANY; i++) init_robust(&many[i], 0);
    pthread_t t;
    pthread_create(&t, NULL, lock_many, NULL);
    pthread_join(t, NULL);
    for (int i = 0; i < MANY; i++) {
        int r = pthread_mutex_lock(&many[i]);
        printf("  mutex %d: %s\n", i, name(r));
        if (r == EOWNERDEAD) pthread_mutex_consistent(&many[i]);
        pthread_mutex_unlock(&many[i]);
    }
}

/* ---- a healthy robust mutex contended by threads (no owner dies) ---- */
static pthread_mutex_t counted;
static long counter;

static void *count(void *arg) {
    for (int i = 0; i < 20000; i++) {
        pthread_mutex_lock(&counted);
        counter++;
        pthread_mutex_unlock(&counted);
    }
    return NULL;
}

static void contended(void) {
    init_robust(&counted, 0);
    pthread_t t[4];
    for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, count, NULL);
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    printf("contended robust mutex: counter %ld\n", counter);
}

/* ---- process-shared: a child process dies holding it ---- */
static void child_process(void) {
    puts("process-shared, child exits holding it:");
    pthread_mutex_t *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        puts("  mmap failed");
        return;
    }
    init_robust(m, 1);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        int r = pthread_mutex_lock(m);
        _exit(r == 0 ? 7 : 1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    printf("  child exit status %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    printf("  lock: %s\n", name(pthread_mutex_lock(m)));
    printf("  consistent: %s\n", name(pthread_mutex_consistent(m)));
    printf("  unlock: %s\n", name(pthread_mutex_unlock(m)));
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    dead_owner();
    waiter_woken();
    unrecoverable();
    several();
    contended();
    child_process();
    return 0;
}
