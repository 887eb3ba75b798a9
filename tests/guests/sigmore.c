/* sigmore.c: more signal delivery — SIGALRM stopping a compute loop (an asynchronous signal
 * reaching code that never makes a system call), SA_RESTART versus EINTR on a blocking pipe read,
 * a SIGILL handler that reads and changes the saved registers through its ucontext (of an illegal
 * encoding and of sfence.vma, privileged), a stack
 * overflow caught on the alternate stack, a signal sent to a thread spinning in compiled code,
 * signals taken with sigwaitinfo/sigtimedwait (raised, from a timer, from another thread), and
 * POSIX timers (timer_create: one-shot to a handler, periodic to sigwaitinfo, gettime, delete),
 * signalfd (raised, from a timer, poll readiness, EAGAIN), and a thread's blocking pipe read
 * interrupted by a signal for that thread (EINTR).
 * Deterministic output only. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <poll.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

static volatile sig_atomic_t alarmed;
static int pipe_fds[2];

static void on_alarm(int signo) {
    (void)signo;
    alarmed = 1;
}

static void on_alarm_write(int signo) {
    (void)signo;
    alarmed = 1;
    (void)!write(pipe_fds[1], "x", 1);
}

static void arm(long usec) {
    struct itimerval it = {.it_value = {.tv_sec = 0, .tv_usec = usec}};
    setitimer(ITIMER_REAL, &it, NULL);
}

static void compute_loop(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    alarmed = 0;
    arm(50000);
    uint64_t x = 1, turns = 0;
    do { /* (at least one turn: on a loaded host the alarm may come before the loop starts) */
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        turns++;
    } while (!alarmed);
    printf("1: SIGALRM stopped the compute loop: %s\n", turns > 0 && x != 0 ? "yes" : "no");
}

static void pipe_read(int restart) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm_write;
    sa.sa_flags = restart ? SA_RESTART : 0;
    sigaction(SIGALRM, &sa, NULL);
    char c = 0;
    ssize_t n;
    /* Without SA_RESTART, a byte read means the alarm came before read() blocked (a loaded
     * host): try again with a longer delay. */
    for (long usec = 30000;; usec *= 2) {
        pipe(pipe_fds);
        alarmed = 0;
        arm(usec);
        errno = 0;
        n = read(pipe_fds[0], &c, 1);
        if (restart || n != 1 || usec > 2000000)
            break;
        close(pipe_fds[0]);
        close(pipe_fds[1]);
    }
    printf("2: %s: read returned %zd%s%s, handler ran %d\n", restart ? "SA_RESTART" : "no SA_RESTART", n,
           n < 0 && errno == EINTR ? " EINTR" : "", n == 1 && c == 'x' ? " (the handler's byte)" : "",
           (int)alarmed);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
}

static void on_ill(int signo, siginfo_t *info, void *context) {
    ucontext_t *uc = context;
    unsigned long *gregs = (unsigned long *)&uc->uc_mcontext;
    /* gregs[0] is the pc, gregs[10] a0 (the kernel's struct user_regs_struct order) */
    int pc_matches = gregs[0] == (unsigned long)info->si_addr;
    gregs[10] = gregs[11] * 2 + pc_matches; /* a0 = a1 * 2 + 1 */
    gregs[0] += 4;                          /* skip the illegal instruction */
    (void)signo;
}

static void ucontext_registers(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_ill;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGILL, &sa, NULL);
    long result;
    __asm__ volatile("li a1, 21\n"
                     "li a0, 0\n"
                     ".word 0\n" /* an illegal instruction */
                     "mv %0, a0"
                     : "=r"(result)
                     :
                     : "a0", "a1", "memory");
    printf("3: a0 set by the SIGILL handler: %ld\n", result);
    __asm__ volatile("li a1, 30\n"
                     "li a0, 0\n"
                     ".word 0x12000073\n" /* sfence.vma: privileged, so illegal in user mode */
                     "mv %0, a0"
                     : "=r"(result)
                     :
                     : "a0", "a1", "memory");
    printf("3: sfence.vma in user mode is illegal too: %ld\n", result);
}

static sigjmp_buf overflow_jump;
static char altstack[1 << 16];
static volatile int depth;

static void on_overflow(int signo) {
    (void)signo;
    siglongjmp(overflow_jump, 1);
}

static int recurse(int n) {
    volatile char frame[4096];
    frame[0] = (char)n;
    depth = n;
    return recurse(n + 1) + frame[0];
}

static void stack_overflow(void) {
    stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0};
    sigaltstack(&ss, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_overflow;
    sa.sa_flags = SA_ONSTACK | SA_NODEFER;
    sigaction(SIGSEGV, &sa, NULL);
    if (sigsetjmp(overflow_jump, 1) == 0) {
        recurse(0);
        printf("4: no overflow?\n");
    } else {
        printf("4: stack overflow caught on the alternate stack after more than 1000 frames: %s\n",
               depth > 1000 ? "yes" : "no");
    }
}

static volatile int spinner_ready, spinner_got;
static volatile pid_t spinner_tid;
static void on_usr2(int signo) {
    (void)signo;
    spinner_got = 1;
}
static void *spinner(void *arg) {
    (void)arg;
    spinner_ready = 1;
    uint64_t x = 7;
    while (!spinner_got) x = x * 3 + 1;
    return (void *)(uintptr_t)(x & 1);
}

static void thread_spinning(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr2;
    sigaction(SIGUSR2, &sa, NULL);
    pthread_t t;
    pthread_create(&t, NULL, spinner, NULL);
    while (!spinner_ready) sched_yield();
    pthread_kill(t, SIGUSR2);
    pthread_join(t, NULL);
    printf("5: the spinning thread took its signal: %d\n", (int)spinner_got);
}

static void *sender(void *arg) {
    (void)arg;
    usleep(20000);
    kill(getpid(), SIGUSR2);
    return NULL;
}

static void waiting_for_signals(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    sigaddset(&set, SIGALRM);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGALRM, SIG_DFL);
    raise(SIGUSR1);
    siginfo_t info;
    memset(&info, 0, sizeof info);
    int got = sigwaitinfo(&set, &info);
    printf("6: sigwaitinfo %d pid matches %d\n", got, info.si_pid == getpid());
    struct timespec ten_ms = {0, 10 * 1000 * 1000};
    errno = 0;
    got = sigtimedwait(&set, &info, &ten_ms);
    printf("6: sigtimedwait with nothing pending: %d %s\n", got, errno == EAGAIN ? "EAGAIN" : "?");
    arm(20000);
    got = sigwaitinfo(&set, &info);
    printf("6: the timer's signal taken while blocked: %d code %d\n", got, info.si_code);
    pthread_t t;
    pthread_create(&t, NULL, sender, NULL);
    got = sigwaitinfo(&set, &info);
    pthread_join(t, NULL);
    printf("6: another thread's kill taken: %d code %d\n", got, info.si_code);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
}

static volatile int timer_code, timer_value, timer_fired;
static void on_timer(int signo, siginfo_t *info, void *uc) {
    (void)signo;
    (void)uc;
    timer_code = info->si_code;
    timer_value = info->si_value.sival_int;
    timer_fired++;
}

static void posix_timers(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_timer;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGUSR1, &sa, NULL);
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = SIGUSR1;
    sev.sigev_value.sival_int = 77;
    timer_t timer;
    printf("7: timer_create %d\n", timer_create(CLOCK_MONOTONIC, &sev, &timer));
    struct itimerspec once = {.it_value = {0, 20 * 1000 * 1000}};
    timer_settime(timer, 0, &once, NULL);
    while (!timer_fired) usleep(1000);
    printf("7: one-shot fired %d time(s), code %d value %d\n", timer_fired, timer_code, timer_value);
    struct itimerspec now;
    timer_gettime(timer, &now);
    printf("7: disarmed after firing: %d\n", now.it_value.tv_sec == 0 && now.it_value.tv_nsec == 0);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, NULL);
    struct itimerspec periodic = {.it_interval = {0, 5 * 1000 * 1000}, .it_value = {0, 5 * 1000 * 1000}};
    timer_settime(timer, 0, &periodic, NULL);
    siginfo_t info;
    int taken = 0;
    for (int i = 0; i < 3; i++) taken += sigwaitinfo(&set, &info) == SIGUSR1 && info.si_code == SI_TIMER;
    timer_gettime(timer, &now);
    printf("7: periodic expiries taken %d, interval kept %ld ns\n", taken, now.it_interval.tv_nsec);
    printf("7: timer_delete %d", timer_delete(timer));
    /* raw: musl's timer_delete returns the system call's -errno itself */
    printf(", again %s\n", syscall(SYS_timer_delete, timer) == -1 && errno == EINVAL ? "EINVAL" : "?");
    sigprocmask(SIG_UNBLOCK, &set, NULL);
}

static void signal_fds(void) {
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGUSR1);
    sigaddset(&mask, SIGALRM);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    int sfd = signalfd(-1, &mask, SFD_CLOEXEC);
    int nonblocking = signalfd(-1, &mask, SFD_NONBLOCK);
    struct signalfd_siginfo si;
    errno = 0;
    printf("8: nothing pending: read %zd %s\n", read(nonblocking, &si, sizeof si), errno == EAGAIN ? "EAGAIN" : "?");
    struct pollfd pfd = {.fd = sfd, .events = POLLIN};
    printf("8: readable before raise: %d", poll(&pfd, 1, 0));
    raise(SIGUSR1);
    printf(", after: %d\n", poll(&pfd, 1, 0));
    ssize_t n = read(sfd, &si, sizeof si);
    printf("8: read %zd bytes: signo %u pid matches %d\n", n, si.ssi_signo, si.ssi_pid == (uint32_t)getpid());
    sigset_t pending;
    sigpending(&pending);
    printf("8: still pending after the read: %d\n", sigismember(&pending, SIGUSR1));
    signal(SIGALRM, SIG_DFL);
    arm(20000);
    n = read(sfd, &si, sizeof si);
    printf("8: the timer's SIGALRM read while blocked: %zd bytes, signo %u\n", n, si.ssi_signo);
    close(sfd);
    close(nonblocking);
    sigprocmask(SIG_UNBLOCK, &mask, NULL);
}

static int reader_fds[2];
static volatile int reader_ready;
static volatile ssize_t reader_result;
static volatile int reader_errno, reader_done;
static void on_usr1_plain(int signo) { (void)signo; }
static void *blocked_reader(void *arg) {
    (void)arg;
    char c;
    reader_ready = 1;
    reader_result = read(reader_fds[0], &c, 1);
    reader_errno = errno;
    reader_done = 1;
    return NULL;
}

static void thread_read_interrupted(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1_plain;
    sigaction(SIGUSR1, &sa, NULL);
    pipe(reader_fds);
    pthread_t t;
    pthread_create(&t, NULL, blocked_reader, NULL);
    while (!reader_ready) sched_yield();
    /* Once it blocks in read, a signal interrupts it; one sent before it got there (a loaded
     * host) only runs the handler, so send another until the read returns. */
    do {
        usleep(30000);
        pthread_kill(t, SIGUSR1);
        usleep(30000);
    } while (!reader_done);
    pthread_join(t, NULL);
    printf("9: the thread's blocked read: %zd %s\n", reader_result, reader_errno == EINTR ? "EINTR" : "?");
    close(reader_fds[0]);
    close(reader_fds[1]);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    compute_loop();
    pipe_read(0);
    pipe_read(1);
    ucontext_registers();
    stack_overflow();
    thread_spinning();
    waiting_for_signals();
    posix_timers();
    signal_fds();
    thread_read_interrupted();
    return 0;
}
