/* What the trap tests share with vectors.S: the trap log, printing it, and moving between modes. */
#ifndef TRAPS_H
#define TRAPS_H
#include "bare.h"

struct record {
    uint64_t cause, tval, epc, from, level;
};
struct record trap_log[128];
uint64_t trap_count;
static uint64_t printed;
static uint8_t m_stack[1024] __attribute__((aligned(16)));
static uint8_t s_stack[1024] __attribute__((aligned(16)));

extern void m_vector(void);
extern void s_vector(void);

#define PRV_U 0
#define PRV_S 1
#define MAGIC 0x4d

static void show(const char *step) {
    puts_(step);
    putc_('\n');
    for (; printed < trap_count; printed++) {
        struct record *r = &trap_log[printed];
        puts_("  to ");
        puts_(r->level == 3 ? "M" : "S");
        puts_(" from ");
        putdec(r->from);
        puts_(" cause ");
        puthex(r->cause);
        puts_(" tval ");
        puthex(r->tval);
        if (!(r->cause >> 63)) { /* where an interrupt arrives depends on timing */
            puts_(" epc ");
            puthex(r->epc);
        }
        putc_('\n');
    }
}

/* Continue in `mode` at the next instruction. */
static inline void enter(int mode) {
    uint64_t status = csr_read(mstatus);
    status = (status & ~(3ULL << 11)) | ((uint64_t)mode << 11);
    csr_write(mstatus, status);
    __asm__ volatile(
        "la t0, 1f\n"
        "csrw mepc, t0\n"
        "mret\n"
        "1:\n" ::: "t0", "memory");
}

/* Back to M mode (an ebreak the M handler knows). */
static inline void back_to_m(void) {
    register long a7 __asm__("a7") = MAGIC;
    __asm__ volatile("ebreak" ::"r"(a7) : "memory");
}

/* The trap vectors and their stacks, and PMP opening all memory to S and U mode (QEMU refuses an
   mret to them without a rule). */
static void trap_setup(void) {
    csr_write(mtvec, (uint64_t)m_vector);
    csr_write(mscratch, (uint64_t)(m_stack + sizeof m_stack));
    csr_write(stvec, (uint64_t)s_vector);
    csr_write(sscratch, (uint64_t)(s_stack + sizeof s_stack));
    csr_write(pmpaddr0, -1ULL >> 10);
    csr_write(pmpcfg0, 0x1f);
}
#endif
