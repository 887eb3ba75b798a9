/* M mode: the time CSR and the CLINT's mtime never go back, whoever reads them. dbt's kernels
   read time from the host's cycle counter once they have calibrated it (0.1 s into the run), and
   Python reads the host clock at exits (an MMIO read of mtime, a kernel call's start): 0.7 s of
   reads, first alternating between the two, then the CSR alone, then mtime once more. */
#include "bare.h"

#define TICKS_PER_SECOND 10000000ULL

int main(void) {
    puts_("reading the clock for 0.7 s\n");
    uint64_t start = csr_read(time), last = start, backwards = 0, reads = 0;
    while (last - start < TICKS_PER_SECOND * 5 / 10) {
        uint64_t csr = csr_read(time);
        uint64_t mmio = *CLINT_MTIME;
        backwards += (csr < last) + (mmio < csr);
        last = mmio;
        reads += 2;
    }
    while (last - start < TICKS_PER_SECOND * 7 / 10) {
        uint64_t csr = csr_read(time);
        backwards += csr < last;
        last = csr;
        reads++;
    }
    backwards += *CLINT_MTIME < last;
    line("steps back", backwards);
    line("more than 1000 reads", reads > 1000);
    return 0;
}
