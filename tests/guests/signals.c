/* signals.c: guest signal handlers — delivery, siginfo, masks, the alternate stack, SA_RESETHAND,
 * faults caught and left with siglongjmp, timers, SIGCHLD, nesting and FP state across handlers. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t count, last_signo, last_code, order_pos, alarms, children;
static volatile int order[8];
static sigjmp_buf jump;
static char altstack[65536];
static volatile uintptr_t handler_sp;
static volatile void *fault_addr;
static volatile int fault_code;

static void on_info(int signo, siginfo_t *info, void *uc)
{
    (void)uc;
    count++;
    last_signo = info->si_signo;
    last_code = info->si_code;
    (void)signo;
}

static void on_usr2(int signo) { order[order_pos++] = signo; }

static void on_usr1_nested(int signo)
{
    order[order_pos++] = signo;
    raise(SIGUSR2);
    order[order_pos++] = 100 + signo;
}

static void on_segv(int signo, siginfo_t *info, void *uc)
{
    (void)signo;
    (void)uc;
    fault_addr = info->si_addr;
    fault_code = info->si_code;
    siglongjmp(jump, 1);
}

static void on_alt(int signo)
{
    int local;
    (void)signo;
    handler_sp = (uintptr_t)&local;
}

static void on_alarm(int signo) { (void)signo; alarms++; }
static void on_chld(int signo) { (void)signo; children++; }

static void on_fp(int signo)
{
    volatile double x = 3.0;
    (void)signo;
    for (int i = 0; i < 10; i++)
        x = x * 1.5 + 0.25;
    (void)x;
}

int main(void)
{
    struct sigaction sa;
    sigset_t set, old;

    /* 1. SA_SIGINFO delivery of a signal the program raises itself */
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_info;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGUSR1, &sa, NULL);
    for (int i = 0; i < 3; i++)
        raise(SIGUSR1);
    printf("1: count %d signo %d code %d\n", (int)count, (int)last_signo, (int)last_code);

    /* 2. a blocked signal stays pending until unblocked */
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, &old);
    raise(SIGUSR1);
    sigset_t pending;
    sigpending(&pending);
    printf("2: pending %d count %d\n", sigismember(&pending, SIGUSR1), (int)count);
    sigprocmask(SIG_SETMASK, &old, NULL);
    printf("2: after unblock count %d\n", (int)count);

    /* 3. a fault caught by a handler and left with siglongjmp */
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, NULL);
    volatile int *volatile low = (int *)16;
    if (sigsetjmp(jump, 1) == 0) {
        *low = 1;
        printf("3: no fault?\n");
    } else {
        printf("3: caught SIGSEGV addr %p code %d\n", (void *)fault_addr, fault_code);
    }
    if (sigsetjmp(jump, 1) == 0) {
        *(volatile int *)(uintptr_t)0x3000000000ull = 1;
    } else {
        printf("3: caught again addr %p code %d\n", (void *)fault_addr, fault_code);
    }

    /* 4. the alternate signal stack */
    stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0};
    sigaltstack(&ss, NULL);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alt;
    sa.sa_flags = SA_ONSTACK;
    sigaction(SIGUSR2, &sa, NULL);
    raise(SIGUSR2);
    int on_alt_stack = handler_sp >= (uintptr_t)altstack && handler_sp < (uintptr_t)altstack + sizeof altstack;
    printf("4: handler ran on the alternate stack: %d\n", on_alt_stack);

    /* 5. SA_RESETHAND: the disposition returns to the default after one delivery */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr2;
    sa.sa_flags = SA_RESETHAND;
    sigaction(SIGUSR2, &sa, NULL);
    order_pos = 0;
    raise(SIGUSR2);
    struct sigaction now;
    sigaction(SIGUSR2, NULL, &now);
    printf("5: ran %d, now default %d\n", order_pos, now.sa_handler == SIG_DFL);

    /* 6. nested delivery: the USR1 handler raises USR2, whose handler runs at once */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr2;
    sigaction(SIGUSR2, &sa, NULL);
    sa.sa_handler = on_usr1_nested;
    sigaction(SIGUSR1, &sa, NULL);
    order_pos = 0;
    raise(SIGUSR1);
    printf("6: order");
    for (int i = 0; i < order_pos; i++)
        printf(" %d", order[i]);
    printf("\n");

    /* 7. a timer signal wakes sigsuspend */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    sigemptyset(&set);
    sigaddset(&set, SIGALRM);
    sigprocmask(SIG_BLOCK, &set, &old);
    struct itimerval it = {.it_value = {.tv_sec = 0, .tv_usec = 20000}};
    setitimer(ITIMER_REAL, &it, NULL);
    sigset_t wait_mask = old;
    sigdelset(&wait_mask, SIGALRM);
    while (!alarms)
        sigsuspend(&wait_mask);
    sigprocmask(SIG_SETMASK, &old, NULL);
    printf("7: alarms %d\n", (int)alarms);

    /* 8. SIGCHLD from a child that exits */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_chld;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGCHLD, &sa, NULL);
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, &old);
    pid_t pid = fork();
    if (pid == 0)
        _exit(9);
    sigset_t wait_chld = old;
    sigdelset(&wait_chld, SIGCHLD);
    while (!children)
        sigsuspend(&wait_chld);
    sigprocmask(SIG_SETMASK, &old, NULL);
    int status = 0;
    waitpid(pid, &status, 0);
    printf("8: children %d, exit status %d\n", (int)children, WEXITSTATUS(status));

    /* 9. floating-point registers survive a handler that uses them */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fp;
    sigaction(SIGUSR1, &sa, NULL);
    volatile double a = 1.25, b = 2.5;
    double before = a * b;
    raise(SIGUSR1);
    printf("9: %.3f %.3f\n", before, a * b);

    /* 10. the handler's mask is undone by sigreturn: USR1 is deliverable again */
    sigprocmask(SIG_SETMASK, NULL, &old);
    printf("10: USR1 blocked after handlers: %d\n", sigismember(&old, SIGUSR1));
    fflush(stdout);

    /* 11. ignoring a signal: raise is harmless; then the default action ends the program */
    signal(SIGUSR1, SIG_IGN);
    raise(SIGUSR1);
    printf("11: ignored\n");
    fflush(stdout);
    signal(SIGUSR1, SIG_DFL);
    raise(SIGUSR1);
    printf("11: not reached\n");
    return 0;
}
