/* Traps and interrupts between M, S and U mode: exceptions with their cause, tval and epc,
   delegation to S mode, privilege checks, and timer and software interrupts (CLINT, Sstc's
   stimecmp, SSIP). vectors.S logs every trap; main prints the log after each step. */
#include "traps.h"

/* Wait in wfi until a trap is logged. Interrupts stay globally off while the log is checked, so
   one cannot arrive between the check and the wfi (it would be lost: nothing wakes the wfi);
   wfi ends for a pending interrupt that mie/sie enables whatever mstatus says, and a moment with
   MIE (or SIE) set takes it. */
static void wait_for_interrupt(int s_mode) {
    while (trap_count == printed) {
        __asm__ volatile("wfi");
        if (s_mode) {
            csr_set(sstatus, 1 << 1);
            csr_clear(sstatus, 1 << 1);
        } else {
            csr_set(mstatus, 1 << 3);
            csr_clear(mstatus, 1 << 3);
        }
    }
}

int main(void) {
    trap_setup();

    __asm__ volatile("li a7, 0\n ecall" ::: "a7", "memory");
    show("ecall in M");
    __asm__ volatile(".word 0xc0001073" ::: "memory"); /* csrw cycle, zero: read-only CSR */
    show("write to a read-only CSR");
    __asm__ volatile("li a7, 0\n ebreak" ::: "a7", "memory");
    show("ebreak");
    (void)*(volatile uint32_t *)0x0e000000;
    show("load from nowhere");
    *(volatile uint32_t *)0x0e000010 = 1;
    show("store to nowhere");

    enter(PRV_S);
    __asm__ volatile("li a7, 0\n ecall" ::: "a7", "memory");
    (void)csr_read(mstatus);
    (void)csr_read(sstatus);
    back_to_m();
    show("S mode: ecall, an M CSR, an S CSR");

    csr_write(medeleg, (1 << 2) | (1 << 8));
    line("medeleg", csr_read(medeleg));
    enter(PRV_U);
    (void)csr_read(sstatus);
    __asm__ volatile("li a7, 0\n ecall" ::: "a7", "memory");
    back_to_m();
    show("U mode with delegation: an S CSR, ecall");
    csr_write(medeleg, 0);

    /* M timer interrupt */
    *CLINT_MTIMECMP = *CLINT_MTIME + 1000;
    csr_set(mie, 1 << 7);
    wait_for_interrupt(0);
    show("M timer interrupt");

    /* M software interrupt */
    csr_set(mie, 1 << 3);
    *CLINT_MSIP = 1;
    csr_set(mstatus, 1 << 3);
    while (trap_count == printed) {
    }
    csr_clear(mstatus, 1 << 3);
    show("M software interrupt");
    csr_write(mie, 0);

    /* S software interrupt, delegated */
    csr_write(mideleg, (1 << 1) | (1 << 5));
    line("mideleg (S bits)", csr_read(mideleg) & 0x222);
    csr_write(mie, (1 << 1) | (1 << 5));
    enter(PRV_S);
    csr_set(sstatus, 1 << 1);
    csr_set(sip, 1 << 1);
    while (trap_count == printed) {
    }
    csr_clear(sstatus, 1 << 1);
    back_to_m();
    show("S software interrupt");

    /* S timer interrupt through Sstc's stimecmp */
    csr_set(0x30a, 1ULL << 63); /* menvcfg.STCE */
    csr_write(mcounteren, 2);   /* S mode may read time */
    enter(PRV_S);
    csr_write(0x14d, csr_read(time) + 1000);
    wait_for_interrupt(1);
    back_to_m();
    show("S timer interrupt (stimecmp)");

    /* counters from U mode: time is allowed by mcounteren and scounteren, cycle is not */
    csr_write(scounteren, 2);
    enter(PRV_U);
    (void)csr_read(time);
    (void)csr_read(cycle);
    back_to_m();
    show("U mode counters: time allowed, cycle not");

    puts_("done\n");
    return 0;
}
