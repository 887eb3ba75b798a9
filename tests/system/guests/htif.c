/* HTIF, as the riscv-tests environments use it: characters to the console through device 1,
   and the end of the test through tohost ((status << 1) | 1). Runs on QEMU's spike machine and
   on dbt's virt machine alike (it touches no other device). */
#include <stdint.h>

volatile uint64_t tohost __attribute__((section(".tohost"), aligned(8)));
volatile uint64_t fromhost __attribute__((section(".tohost"), aligned(8)));

static void htif_putc(char c) {
    tohost = (1ULL << 56) | (1ULL << 48) | (uint8_t)c;
    while (fromhost == 0) {
    }
    fromhost = 0;
}

static void htif_puts(const char *s) {
    while (*s) htif_putc(*s++);
}

int main(void) {
    htif_puts("hello through HTIF\n");
    uint64_t sum = 0;
    for (int i = 1; i <= 100; i++) sum += (uint64_t)i * i;
    htif_puts(sum == 338350 ? "sum ok\n" : "sum WRONG\n");
    return 3; /* the exit status the host reports */
}

void poweroff(int status) {
    tohost = ((uint64_t)status << 1) | 1;
    for (;;) {
    }
}
