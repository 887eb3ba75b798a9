/* M mode from the reset vector: the boot protocol's registers, a few machine CSRs, and the UART. */
#include "bare.h"

int main(uint64_t hartid, uint64_t fdt) {
    puts_("hello from M mode\n");
    line("hartid", hartid);
    volatile uint8_t *magic = (volatile uint8_t *)fdt;
    line("fdt magic", (uint64_t)magic[0] << 24 | magic[1] << 16 | magic[2] << 8 | magic[3]);
    line("misa (without H, which QEMU's hart has)", csr_read(misa) & ~(1ULL << 7));
    line("mhartid", csr_read(mhartid));
    uint64_t before = csr_read(mscratch);
    csr_write(mscratch, 0x1234abcd);
    line("mscratch", csr_read(mscratch) + before);
    line("mstatus.MPP after reset", (csr_read(mstatus) >> 11) & 3);
    /* UART: the scratch register keeps a byte, LSR says the transmitter is empty */
    UART[7] = 0x5a;
    line("uart scr", UART[7]);
    line("uart lsr", UART[5] & 0x60);
    return 0;
}
