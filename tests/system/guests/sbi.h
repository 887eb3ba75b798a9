/* SBI calls from S mode (the payload programs that OpenSBI starts). */
#ifndef SBI_H
#define SBI_H
#include <stdint.h>

struct sbiret {
    long error;
    long value;
};

static inline struct sbiret sbi_call(long eid, long fid, long a0, long a1, long a2) {
    register long r_a0 __asm__("a0") = a0;
    register long r_a1 __asm__("a1") = a1;
    register long r_a2 __asm__("a2") = a2;
    register long r_a6 __asm__("a6") = fid;
    register long r_a7 __asm__("a7") = eid;
    __asm__ volatile("ecall" : "+r"(r_a0), "+r"(r_a1) : "r"(r_a2), "r"(r_a6), "r"(r_a7) : "memory");
    return (struct sbiret){r_a0, r_a1};
}

#define SBI_EXT_BASE 0x10
#define SBI_EXT_TIME 0x54494D45
#define SBI_EXT_SRST 0x53525354
#define SBI_LEGACY_PUTCHAR 0x01

static inline void sputc(char c) { sbi_call(SBI_LEGACY_PUTCHAR, 0, c, 0, 0); }
static inline void sputs(const char *s) {
    while (*s) sputc(*s++);
}
static inline void sputhex(uint64_t v) {
    sputs("0x");
    int started = 0;
    for (int i = 60; i >= 0; i -= 4) {
        int d = (v >> i) & 15;
        if (d || started || i == 0) {
            sputc("0123456789abcdef"[d]);
            started = 1;
        }
    }
}
static inline void sline(const char *label, uint64_t value) {
    sputs(label);
    sputs(": ");
    sputhex(value);
    sputc('\n');
}
#endif
