/* isarunner.c: runs machine-code test cases read from stdin and writes the final machine state to
 * stdout, so the same case stream can be run under dbt and under a reference emulator (qemu) and
 * the outputs compared byte for byte (tests/isaref.py generates the cases and reads the results).
 *
 * Everything is little-endian binary; the layout constants are mirrored in tests/isaref.py.
 *
 * Input, per case:
 *   u32 magic 0x53414349 ("ICAS"), u32 code_len (0: end of stream)
 *   code_len bytes of code: a prologue that saves the C ABI registers and loads every register
 *     and fcsr from the state block (a0 = the state block on entry, kept in sp), the instructions
 *     under test, an epilogue that stores every register back and returns
 *   u64 x[32], u64 f[32], u64 fcsr: the initial state (x[2] is ignored: sp is the state pointer)
 *   DATA_SIZE bytes: the initial contents of the read-write data buffer at DATA_BASE
 * Output, per case:
 *   u32 magic 0x53455243 ("CRES"), u32 signal (0: the code returned), u32 si_code, u32 0,
 *   u64 si_addr, u64 pc at the fault (0 if none),
 *   u64 x[32], u64 f[32], u64 fcsr: the final state (at a fault: from the signal's ucontext),
 *   DATA_SIZE bytes: the data buffer afterwards.
 *
 * Fixed addresses: DATA_BASE (read-write, DATA_SIZE), DATA_BASE + DATA_SIZE (one read-only page
 * filled with RO_PATTERN), the page after it unmapped, the code at CODE_BASE (mapped for each case
 * and unmapped after), the state block at STATE_ADDR. SIGILL, SIGSEGV and SIGBUS are caught on an
 * alternate stack and left with siglongjmp. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stddef.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#define DATA_BASE 0x20000000ul
#define DATA_SIZE 0x1000ul
#define RO_BASE (DATA_BASE + DATA_SIZE)
#define HOLE_BASE (RO_BASE + 0x1000ul)
#define STATE_MAP 0x21000000ul
#define STATE_MAP_SIZE 0x10000ul
#define STATE_ADDR (STATE_MAP + 0x8000ul)
#define CODE_BASE 0x22000000ul
#define MAX_CODE 0x10000ul
#define MAGIC_CASE 0x53414349u
#define MAGIC_RESULT 0x53455243u

/* Offsets mirrored in isaref.py: x at 0, f at 256, fcsr at 512, the C registers' save area after. */
struct state {
    uint64_t x[32];
    uint64_t f[32];
    uint64_t fcsr;
    uint64_t save_x[16]; /* ra, sp, gp, tp, s0..s11 */
    uint64_t save_f[12]; /* fs0..fs11 */
    uint64_t save_fcsr;
};

struct result {
    uint32_t magic, signo, code, pad;
    uint64_t addr, pc;
    uint64_t x[32], f[32], fcsr;
};

static sigjmp_buf jump;
static volatile struct result res;
static char altstack[1 << 16];
static uint8_t inbuf[MAX_CODE];

static void on_fault(int signo, siginfo_t *info, void *ctx)
{
    struct state *st = (struct state *)STATE_ADDR;
    /* The code under test may have changed gp and tp: the C code needs them back first. */
    __asm__ volatile("mv gp, %0\n\tmv tp, %1" : : "r"(st->save_x[2]), "r"(st->save_x[3]) : "memory");
    ucontext_t *uc = ctx;
    res.signo = (uint32_t)signo;
    res.code = (uint32_t)info->si_code;
    res.addr = (uint64_t)(uintptr_t)info->si_addr;
    res.pc = uc->uc_mcontext.__gregs[0];
    res.x[0] = 0;
    for (int i = 1; i < 32; i++)
        res.x[i] = uc->uc_mcontext.__gregs[i];
    for (int i = 0; i < 32; i++)
        res.f[i] = uc->uc_mcontext.__fpregs.__d.__f[i];
    res.fcsr = uc->uc_mcontext.__fpregs.__d.__fcsr;
    siglongjmp(jump, 1);
}

static void read_exact(void *buf, size_t n)
{
    uint8_t *p = buf;
    while (n) {
        ssize_t got = read(0, p, n);
        if (got <= 0) {
            fprintf(stderr, "isarunner: short read\n");
            exit(3);
        }
        p += got;
        n -= (size_t)got;
    }
}

static void *map_fixed(unsigned long addr, unsigned long size, int prot)
{
    void *p = mmap((void *)addr, size, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (p != (void *)addr) {
        fprintf(stderr, "isarunner: cannot map %#lx\n", addr);
        exit(2);
    }
    return p;
}

int main(void)
{
    static char outbuf[1 << 16];
    setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);

    uint8_t *data = map_fixed(DATA_BASE, DATA_SIZE, PROT_READ | PROT_WRITE);
    uint8_t *ro = map_fixed(RO_BASE, 0x1000, PROT_READ | PROT_WRITE);
    for (int i = 0; i < 0x1000; i++)
        ro[i] = (uint8_t)(0xa5 ^ i);
    mprotect(ro, 0x1000, PROT_READ);
    map_fixed(STATE_MAP, STATE_MAP_SIZE, PROT_READ | PROT_WRITE);
    struct state *st = (struct state *)STATE_ADDR;

    stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0};
    sigaltstack(&ss, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigaction(SIGILL, &sa, NULL);
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);

    for (;;) {
        uint32_t head[2];
        read_exact(head, sizeof head);
        if (head[0] != MAGIC_CASE) {
            fprintf(stderr, "isarunner: bad case magic %#x\n", head[0]);
            return 3;
        }
        uint32_t len = head[1];
        if (len == 0)
            break;
        if (len > MAX_CODE) {
            fprintf(stderr, "isarunner: code too long\n");
            return 3;
        }
        read_exact(inbuf, len);
        read_exact(st, offsetof(struct state, save_x));
        read_exact(data, DATA_SIZE);
        unsigned long size = (len + 0xfff) & ~0xffful;
        uint8_t *code = map_fixed(CODE_BASE, size, PROT_READ | PROT_WRITE | PROT_EXEC);
        memcpy(code, inbuf, len);
        __builtin___clear_cache((char *)code, (char *)code + len);
        memset((void *)&res, 0, sizeof res);
        if (sigsetjmp(jump, 1) == 0) {
            ((void (*)(struct state *))(uintptr_t)CODE_BASE)(st);
            memcpy((void *)res.x, st->x, sizeof st->x);
            memcpy((void *)res.f, st->f, sizeof st->f);
            res.fcsr = st->fcsr;
            res.x[0] = 0;
            res.x[2] = STATE_ADDR;
        } else {
            /* Left from the handler: the C code's fcsr is the one of the faulting code. */
            __asm__ volatile("csrw fcsr, %0" : : "r"(st->save_fcsr));
        }
        munmap(code, size);
        res.magic = MAGIC_RESULT;
        fwrite((const void *)&res, sizeof res, 1, stdout);
        fwrite(data, DATA_SIZE, 1, stdout);
    }
    fflush(stdout);
    return 0;
}
