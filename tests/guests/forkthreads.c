/* fork in a threaded program: from the main thread and from another thread (the child then
 * has that thread alone), exit codes and deaths by signal of such children, threads started in
 * a child, and MAP_SHARED anonymous memory shared between parent and child.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile long *shared_counter;

static void report(const char *who, int status) {
    if (WIFEXITED(status))
        printf("%s: exited %d\n", who, WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        printf("%s: killed by signal %d\n", who, WTERMSIG(status));
    else
        printf("%s: status %#x\n", who, status);
}

static int tid_is_pid(void) { return syscall(SYS_gettid) == getpid(); }

static void *child_thread(void *arg) { return (void *)(long)(tid_is_pid() ? 1 : 2); }

static void *worker(void *arg) {
    int status;
    pid_t pid = fork();
    if (pid == 0) {
        printf("  child of a worker: gettid==getpid %d\n", tid_is_pid());
        _exit(3);
    }
    waitpid(pid, &status, 0);
    report("  _exit(3) in the child of a worker", status);

    pid = fork();
    if (pid == 0) exit(5); /* atexit handlers and stdio flush in the child */
    waitpid(pid, &status, 0);
    report("  exit(5)", status);

    pid = fork();
    if (pid == 0) {
        raise(SIGTERM);
        _exit(99);
    }
    waitpid(pid, &status, 0);
    report("  raise(SIGTERM)", status);

    pid = fork();
    if (pid == 0) {
        pthread_t t;
        void *value = 0;
        pthread_create(&t, NULL, child_thread, NULL);
        pthread_join(t, &value);
        _exit(10 + (int)(long)value); /* 12: the new thread has a tid of its own */
    }
    waitpid(pid, &status, 0);
    report("  a thread in the child", status);

    pid = fork();
    if (pid == 0) {
        for (int i = 0; i < 1000; i++) __atomic_fetch_add(shared_counter, 1, __ATOMIC_SEQ_CST);
        _exit(0);
    }
    for (int i = 0; i < 1000; i++) __atomic_fetch_add(shared_counter, 1, __ATOMIC_SEQ_CST);
    waitpid(pid, &status, 0);
    printf("  MAP_SHARED counter after parent and child: %ld\n", *shared_counter);

    /* the child returns from the thread function: the thread exits, and with it the process */
    pid = fork();
    if (pid == 0) return (void *)7;
    waitpid(pid, &status, 0);
    report("  the forking thread returns in the child", status);
    return NULL;
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    shared_counter = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared_counter == MAP_FAILED) return 1;

    puts("fork in the main thread:");
    int status;
    pid_t pid = fork();
    if (pid == 0) {
        printf("  child: gettid==getpid %d\n", tid_is_pid());
        *shared_counter = 41;
        _exit(4);
    }
    waitpid(pid, &status, 0);
    report("  child", status);
    printf("  shared word written by the child: %ld\n", *shared_counter);
    *shared_counter = 0;

    puts("fork in another thread:");
    pthread_t t;
    pthread_create(&t, NULL, worker, NULL);
    pthread_join(t, NULL);

    /* a private mapping stays private */
    int *private_word = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    *private_word = 1;
    pid = fork();
    if (pid == 0) {
        *private_word = 2;
        _exit(0);
    }
    waitpid(pid, &status, 0);
    printf("private word after the child wrote it: %d\n", *private_word);
    return 0;
}
