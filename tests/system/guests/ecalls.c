/* M mode: a thousand ecalls, each returning with mret from a handler that skips it. dbt takes
   both in Python and goes straight back into the kernel (the vCPU loop's turns are counted by
   test_system_service). */
#include "bare.h"

extern void skip_ecall(void);
__asm__(".align 4\n"
        "skip_ecall:\n"
        "    csrr t0, mepc\n"
        "    addi t0, t0, 4\n"
        "    csrw mepc, t0\n"
        "    mret\n");

int main(void) {
    csr_write(mtvec, (uint64_t)skip_ecall);
    uint64_t count = 0;
    for (; count < 1000; count++) __asm__ volatile("ecall" ::: "t0", "memory");
    line("ecalls returned from", count);
    return 0;
}
