/* A system reset through the virt "test" device: the program starts again from the reset vector
 * with the hart and the devices in their power-on state, while RAM outside the loaded image keeps
 * what was written (a boot counter here). The third boot powers off. */
#include "bare.h"

/* RAM past the image, which a reset leaves as it was. */
#define BOOTS ((volatile uint64_t *)0x84000000)

int main(uint64_t hartid, uint64_t fdt) {
    uint64_t boots = ++*BOOTS;
    puts_("boot ");
    putdec(boots);
    putc_('\n');
    line("fdt magic", (uint64_t)((volatile uint8_t *)fdt)[0]);
    line("mstatus.MPP", (csr_read(mstatus) >> 11) & 3);
    line("mie", csr_read(mie));
    line("mtvec", csr_read(mtvec));
    line("uart lcr", UART[3]);
    line("uart ier", UART[1]);
    csr_write(mie, 0x888);
    csr_write(mtvec, 0x80001000);
    csr_set(mstatus, 1ULL << 11);
    UART[3] = 0x03;
    UART[1] = 0x00;
    if (boots < 3) *FINISHER = 0x7777; /* reset */
    return 0;
}
