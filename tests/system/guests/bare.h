/* What the bare-metal test programs share: the virt machine's UART and test device, CSR access,
   and printing without a C library. */
#ifndef BARE_H
#define BARE_H
#include <stdint.h>

#define UART ((volatile uint8_t *)0x10000000)
#define FINISHER ((volatile uint32_t *)0x100000)
#define CLINT_MSIP ((volatile uint32_t *)0x2000000)
#define CLINT_MTIMECMP ((volatile uint64_t *)0x2004000)
#define CLINT_MTIME ((volatile uint64_t *)0x200bff8)

#define csr_read(csr) ({ uint64_t v_; __asm__ volatile("csrr %0, " #csr : "=r"(v_)); v_; })
#define csr_write(csr, val) __asm__ volatile("csrw " #csr ", %0" ::"r"((uint64_t)(val)))
#define csr_set(csr, val) __asm__ volatile("csrs " #csr ", %0" ::"r"((uint64_t)(val)))
#define csr_clear(csr, val) __asm__ volatile("csrc " #csr ", %0" ::"r"((uint64_t)(val)))

static inline void putc_(char c) {
    while (!(UART[5] & 0x20)) {
    }
    UART[0] = (uint8_t)c;
}

static inline void puts_(const char *s) {
    while (*s) putc_(*s++);
}

static inline void puthex(uint64_t v) {
    puts_("0x");
    int started = 0;
    for (int i = 60; i >= 0; i -= 4) {
        int d = (v >> i) & 15;
        if (d || started || i == 0) {
            putc_("0123456789abcdef"[d]);
            started = 1;
        }
    }
}

static inline void putdec(uint64_t v) {
    char buf[24];
    int n = 0;
    do {
        buf[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n) putc_(buf[--n]);
}

static inline void line(const char *label, uint64_t value) {
    puts_(label);
    puts_(": ");
    puthex(value);
    putc_('\n');
}

__attribute__((noreturn)) static inline void finish(int status) {
    *FINISHER = status ? (0x3333 | ((uint32_t)status << 16)) : 0x5555;
    for (;;) {
    }
}

void poweroff(int status) { finish(status); }
#endif
