/* Code rewritten in place: eight functions in one page, called, rewritten and made visible with
   fence.i, four times over. Every way dbt keeps code must follow the new bytes: decoded blocks,
   blocks entered a page at a time from the decoded-block file of an earlier run, and compiled
   regions. */
#include "bare.h"

static uint32_t code[1024] __attribute__((aligned(4096)));

static uint64_t call(int function) { return ((uint64_t(*)(void))(void *)&code[function * 16])(); }

int main(void) {
    for (uint32_t round = 0; round < 4; round++) {
        for (uint32_t f = 0; f < 8; f++) {
            code[f * 16] = 0x00000513 | ((round * 10 + f) << 20); /* li a0, round * 10 + f */
            code[f * 16 + 1] = 0x00008067;                        /* ret */
        }
        __asm__ volatile("fence.i" ::: "memory");
        uint64_t sum = 0;
        for (int times = 0; times < 3; times++) {
            for (int f = 0; f < 8; f++) {
                sum = sum * 31 + call(f);
            }
        }
        line("round", round);
        line("sum", sum);
    }
    return 0;
}
