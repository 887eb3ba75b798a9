/* exitcode.c: ways for a process to end.
 *
 *   exitcode N               exit status N (0..255)
 *   exitcode abort           abort() -> SIGABRT
 *   exitcode segv            store through a NULL pointer -> SIGSEGV
 *   exitcode segv-wild       load from the unmapped address 0x4000000000000 -> SIGSEGV
 *   exitcode ill             an illegal instruction -> SIGILL
 *   exitcode fpe             raise(SIGFPE)
 *   exitcode bus             raise(SIGBUS)
 *   exitcode kill            kill(getpid(), SIGTERM)
 *   exitcode exit-in-atexit  main returns 5; an atexit handler prints a line first
 *
 * Each mode writes a line to stdout and to stderr before it ends; stdout is flushed first so the
 * line is not lost in the stdio buffer when the process dies from a signal.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void announce(const char *mode)
{
    printf("exitcode: mode %s\n", mode);
    fflush(stdout);
    fprintf(stderr, "exitcode: about to %s\n", mode);
}

static void at_exit_handler(void)
{
    printf("atexit handler ran\n");
    /* stdout is flushed by exit() after the handlers. */
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: exitcode N|abort|segv|segv-wild|ill|fpe|bus|kill|exit-in-atexit\n");
        return 2;
    }
    const char *mode = argv[1];
    if (strcmp(mode, "abort") == 0) {
        announce(mode);
        abort();
    } else if (strcmp(mode, "segv") == 0) {
        announce(mode);
        *(volatile int *)(uintptr_t)0 = 1;
    } else if (strcmp(mode, "segv-wild") == 0) {
        announce(mode);
        volatile int v = *(volatile int *)(uintptr_t)0x4000000000000ULL;
        (void)v;
    } else if (strcmp(mode, "ill") == 0) {
        announce(mode);
        __asm__ volatile(".word 0");
    } else if (strcmp(mode, "fpe") == 0) {
        announce(mode);
        raise(SIGFPE);
    } else if (strcmp(mode, "bus") == 0) {
        announce(mode);
        raise(SIGBUS);
    } else if (strcmp(mode, "kill") == 0) {
        announce(mode);
        kill(getpid(), SIGTERM);
        /* The signal is delivered before kill() returns to a single-threaded process. */
        pause();
    } else if (strcmp(mode, "exit-in-atexit") == 0) {
        announce(mode);
        atexit(at_exit_handler);
        printf("main returns 5\n");
        return 5;
    } else {
        char *end;
        long status = strtol(mode, &end, 10);
        if (*end != '\0' || end == mode) {
            fprintf(stderr, "exitcode: bad argument\n");
            return 2;
        }
        printf("exitcode: exiting with %ld\n", status);
        fprintf(stderr, "exitcode: status %ld\n", status);
        exit((int)status);
    }
    printf("exitcode: still alive after %s\n", mode);
    return 100;
}
