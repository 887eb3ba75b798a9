/* An S-mode payload for OpenSBI: SBI base calls, a timer interrupt through SBI's set_timer,
   an illegal instruction OpenSBI delegates to S mode, and a shutdown through SRST. */
#include "sbi.h"

#define csr_read(csr) ({ uint64_t v_; __asm__ volatile("csrr %0, " #csr : "=r"(v_)); v_; })
#define csr_write(csr, val) __asm__ volatile("csrw " #csr ", %0" ::"r"((uint64_t)(val)))
#define csr_set(csr, val) __asm__ volatile("csrs " #csr ", %0" ::"r"((uint64_t)(val)))

static volatile uint64_t last_cause, traps;

__attribute__((interrupt("supervisor"), aligned(4))) void strap(void) {
    uint64_t cause = csr_read(scause);
    last_cause = cause;
    traps++;
    if (cause == 2) {
        csr_write(sepc, csr_read(sepc) + 4); /* skip the illegal instruction */
    } else if (cause == ((1ULL << 63) | 5)) {
        sbi_call(SBI_EXT_TIME, 0, -1, 0, 0); /* no more timer interrupts */
    }
}

int main(uint64_t hartid, uint64_t fdt) {
    sputs("payload in S mode\n");
    sline("hartid", hartid);
    struct sbiret spec = sbi_call(SBI_EXT_BASE, 0, 0, 0, 0);
    sline("sbi spec version", spec.value);
    sline("probe TIME", sbi_call(SBI_EXT_BASE, 3, SBI_EXT_TIME, 0, 0).value);
    sline("probe SRST", sbi_call(SBI_EXT_BASE, 3, SBI_EXT_SRST, 0, 0).value);
    sline("probe unknown", sbi_call(SBI_EXT_BASE, 3, 0x12345678, 0, 0).value);
    sline("unknown extension error", (uint64_t)sbi_call(0x12345678, 0, 0, 0, 0).error);
    csr_write(stvec, (uint64_t)strap);
    /* an illegal instruction in S mode: OpenSBI delegates it to us */
    __asm__ volatile(".word 0" ::: "memory");
    sline("illegal instruction trap, scause", last_cause);
    /* a timer interrupt shortly after now */
    uint64_t now = csr_read(time);
    sbi_call(SBI_EXT_TIME, 0, now + 10000, 0, 0);
    csr_set(sie, 1 << 5);
    /* SIE stays off while last_cause is checked, so the interrupt cannot slip in between the
       check and the wfi (which it would not wake); wfi ends for it anyway, and SIE is opened
       for a moment to take it */
    while (last_cause != ((1ULL << 63) | 5)) {
        __asm__ volatile("wfi");
        csr_set(sstatus, 1 << 1);
        __asm__ volatile("csrc sstatus, %0" ::"r"(1 << 1));
    }
    sline("timer interrupt, scause", last_cause);
    sline("traps taken", traps);
    sputs("shutting down\n");
    sbi_call(SBI_EXT_SRST, 0, 0, 0, 0);
    sputs("still running after shutdown\n");
    for (;;) {
    }
}

void poweroff(int status) { sbi_call(SBI_EXT_SRST, 0, 0, status ? 1 : 0, 0); }
