/* Virtual memory: Sv39, Sv48 and Sv57 page tables built here, used from S and U mode (and M mode
   with MPRV): 4 KiB pages, megapages and gigapages, the hardware's A and D updates, page faults
   with their cause and tval, U pages and SUM, MXR, accesses crossing into a page mapped
   elsewhere, a device mapped at a virtual address, code remapped under the same virtual
   address, one physical page of code at two virtual addresses, the upper half of the address
   space, ASIDs and sfence.vma. vectors.S logs every trap (to M mode unless delegated). */
#include "traps.h"

#define PTE_V 1UL
#define PTE_R 2UL
#define PTE_W 4UL
#define PTE_X 8UL
#define PTE_U 16UL
#define PTE_G 32UL
#define PTE_A 64UL
#define PTE_D 128UL
#define RW (PTE_R | PTE_W | PTE_A | PTE_D)
#define RWX (RW | PTE_X)

#define SV39 (8UL << 60)
#define SV48 (9UL << 60)
#define SV57 (10UL << 60)
#define ASID(n) ((uint64_t)(n) << 44)

typedef uint64_t pte_t;
static pte_t root[512] __attribute__((aligned(4096)));   /* Sv39 root; level 2 of Sv48 */
static pte_t root_u[512] __attribute__((aligned(4096))); /* the same with user code and data */
static pte_t root48[512] __attribute__((aligned(4096)));
static pte_t root57[512] __attribute__((aligned(4096)));
static pte_t l1[512] __attribute__((aligned(4096)));     /* VA 0x40000000.. */
static pte_t l0[512] __attribute__((aligned(4096)));     /* VA 0x40000000..0x401fffff */
static uint8_t pages[16][4096] __attribute__((aligned(4096)));
#define MEGA_PA 0x80400000UL /* a 2 MiB-aligned stretch of RAM after the program */

static uint64_t u_results[4];

static pte_t leaf(uint64_t pa, uint64_t flags) { return ((pa >> 12) << 10) | flags | PTE_V; }
static pte_t table(const pte_t *t) { return (((uint64_t)t >> 12) << 10) | PTE_V; }
#define VA(n) (0x40000000UL + (uint64_t)(n) * 0x1000UL)
#define PA(n) ((uint64_t)pages[n])
static void map(int slot, uint64_t pa, uint64_t flags) { l0[slot] = leaf(pa, flags); }

static void flush_va(uint64_t va) { __asm__ volatile("sfence.vma %0, zero" ::"r"(va) : "memory"); }
static void flush_all(void) { __asm__ volatile("sfence.vma" ::: "memory"); }
static void fence_i(void) { __asm__ volatile("fence.i" ::: "memory"); }

/* Accesses that may fault: a faulting load leaves -1 (vectors.S skips the instruction). */
#define LOAD(name)                                                                   \
    static uint64_t name(uint64_t va) {                                              \
        uint64_t v;                                                                  \
        __asm__ volatile("li %0, -1\n " #name " %0, 0(%1)" : "=&r"(v) : "r"(va) : "memory"); \
        return v;                                                                    \
    }
LOAD(ld)
LOAD(lw)
LOAD(lbu)
LOAD(lhu)
static void sd(uint64_t va, uint64_t v) { __asm__ volatile("sd %0, 0(%1)" ::"r"(v), "r"(va) : "memory"); }
static void sw(uint64_t va, uint64_t v) { __asm__ volatile("sw %0, 0(%1)" ::"r"(v), "r"(va) : "memory"); }
static void sb(uint64_t va, uint64_t v) { __asm__ volatile("sb %0, 0(%1)" ::"r"(v), "r"(va) : "memory"); }
static uint64_t call(uint64_t va) {
    register uint64_t a0 __asm__("a0") = (uint64_t)-1;
    __asm__ volatile("jalr ra, 0(%1)" : "+r"(a0) : "r"(va) : "ra", "memory");
    return a0;
}
static uint64_t amoadd(uint64_t va, uint64_t v) {
    uint64_t old;
    __asm__ volatile("li %0, -1\n amoadd.d %0, %2, (%1)" : "=&r"(old) : "r"(va), "r"(v) : "memory");
    return old;
}
static uint64_t lr_sc(uint64_t va, uint64_t v) {
    uint64_t old, fail;
    __asm__ volatile("li %0, -1\n li %1, -1\n lr.d %0, (%2)\n sc.d %1, %3, (%2)"
                     : "=&r"(old), "=&r"(fail) : "r"(va), "r"(v) : "memory");
    return old << 8 | fail;
}
static uint64_t fld_fsd(uint64_t from, uint64_t to) {
    uint64_t v;
    __asm__ volatile("fld ft0, 0(%1)\n fsd ft0, 0(%2)\n fmv.x.d %0, ft0" : "=r"(v) : "r"(from), "r"(to)
                     : "ft0", "memory");
    return v;
}
static uint64_t here(void) {
    uint64_t pc;
    __asm__ volatile("auipc %0, 0" : "=r"(pc));
    return pc;
}

static void put_words(uint64_t pa, const uint32_t *words, int n) {
    for (int i = 0; i < n; i++) ((volatile uint32_t *)pa)[i] = words[i];
}

static void satp(uint64_t value) {
    csr_write(satp, value);
    flush_all();
}

int main(void) {
    trap_setup();
    csr_set(mstatus, 1 << 13); /* FS: Initial */

    root[0] = leaf(0, RW);                /* devices, identity */
    root[1] = table(l1);                  /* the test mappings */
    root[2] = leaf(0x80000000UL, RWX);    /* RAM, identity: this program */
    root[511] = leaf(0x80000000UL, RWX);  /* RAM again, in the upper half */
    l1[0] = table(l0);
    l1[1] = leaf(MEGA_PA, RW);            /* a megapage */
    l1[2] = leaf(MEGA_PA + 0x1000, RW);   /* a misaligned megapage */
    for (int i = 0; i < 512; i++) root_u[i] = root[i];
    root_u[2] = leaf(0x80000000UL, RWX | PTE_U);
    root48[0] = table(root);
    root48[511] = table(root);
    root57[0] = table(root48);
    root57[511] = table(root48);

    satp(SV39 | ((uint64_t)root >> 12));
    enter(PRV_S);
    line("satp", csr_read(satp) >> 60);
    line("running at", here() >> 31);

    /* a page, written through its virtual address and read back through RAM's */
    map(0, PA(0), RW);
    sd(VA(0) + 8, 0x1122334455667788UL);
    line("physical", *(volatile uint64_t *)(PA(0) + 8));
    line("virtual", ld(VA(0) + 8));
    line("lw", lw(VA(0) + 12));
    show("4 KiB page");

    /* A and D: set by the walk (QEMU 7.2 updates them in hardware) */
    map(1, PA(1), PTE_R | PTE_W);
    line("pte before", l0[1] & 0xff);
    (void)ld(VA(1));
    line("pte after a load", l0[1] & 0xff);
    sd(VA(1), 5);
    line("pte after a store", l0[1] & 0xff);
    show("accessed and dirty");

    /* faults */
    (void)ld(VA(5));
    sd(VA(5), 1);
    map(2, PA(2), PTE_R | PTE_A);
    sd(VA(2), 1);
    line("read-only page", ld(VA(2)));
    (void)call(VA(0)); /* no X */
    (void)ld(0x0000004000000000UL); /* not sign-extended from bit 38 */
    (void)ld(VA(0x40200) + 0x10); /* the misaligned megapage */
    map(3, PA(3), PTE_W | PTE_A | PTE_D); /* W without R: reserved */
    (void)ld(VA(3));
    show("page faults");

    /* atomics and floating point through the MMU */
    line("amoadd", amoadd(VA(0) + 8, 1));
    line("after", ld(VA(0) + 8));
    line("lr/sc", lr_sc(VA(0) + 8, 42));
    line("after", ld(VA(0) + 8));
    (void)amoadd(VA(2), 1); /* read-only: a store fault */
    (void)lr_sc(VA(5), 1);
    line("fld/fsd", fld_fsd(VA(0) + 8, VA(0) + 16));
    line("copied", ld(VA(0) + 16));
    show("atomics and FP");

    /* megapage and gigapage */
    *(volatile uint64_t *)(MEGA_PA + 0x1234 * 8) = 0xabcdef;
    line("megapage", ld(0x40200000UL + 0x1234 * 8));
    line("upper half", ld(0xffffffffc0000000UL + (PA(0) - 0x80000000UL) + 16));
    show("superpages");

    /* an access across two pages that map to pages apart in RAM (5 after 6) */
    map(6, PA(6), RW);
    map(7, PA(5), RW);
    for (int i = 0; i < 8; i++) {
        pages[6][4088 + i] = (uint8_t)(0x10 + i);
        pages[5][i] = (uint8_t)(0x20 + i);
    }
    line("ld across", ld(VA(7) - 4));
    line("lw across", lw(VA(7) - 2));
    line("lhu across", lhu(VA(7) - 1));
    sd(VA(7) - 3, 0x8877665544332211UL);
    line("sd across: first page", *(volatile uint64_t *)(PA(6) + 4088));
    line("sd across: second page", *(volatile uint64_t *)PA(5));
    line("fld/fsd across", fld_fsd(VA(7) - 4, VA(7) - 6));
    line("ld into nothing", ld(VA(8) - 4));
    sd(VA(8) - 2, 0);
    line("second page kept", *(volatile uint64_t *)(PA(5) + 4088));
    map(8, PA(4), RW);
    map(9, PA(9), PTE_R | PTE_A);
    sw(VA(9) - 2, 0x01020304); /* the second page is read-only */
    line("first page kept", *(volatile uint64_t *)(PA(4) + 4088));
    show("across pages");

    /* a device at a virtual address, and a hole */
    map(10, 0x10000000UL, RW);
    sb(VA(10), 'V');
    sb(VA(10), '\n');
    line("uart lsr", lbu(VA(10) + 5) & 0x60);
    map(11, 0x0e000000UL, RW);
    (void)ld(VA(11) + 0x10);
    sd(VA(11) + 0x18, 1);
    show("devices");

    /* code: remapped under one address, and one page at two addresses */
    static const uint32_t one[] = {0x00100513, 0x00008067};   /* li a0, 1; ret */
    static const uint32_t two[] = {0x00200513, 0x00008067};   /* li a0, 2; ret */
    static const uint32_t where[] = {0x00000517, 0x00008067}; /* auipc a0, 0; ret */
    put_words(PA(12), one, 2);
    put_words(PA(13), two, 2);
    put_words(PA(14) + 0xff8, where, 2);
    fence_i();
    map(12, PA(12), PTE_R | PTE_X | PTE_A);
    line("call", call(VA(12)));
    map(12, PA(13), PTE_R | PTE_X | PTE_A);
    flush_va(VA(12));
    line("call after remap", call(VA(12)));
    map(13, PA(14), PTE_X | PTE_A);
    map(14, PA(14), PTE_X | PTE_A);
    line("first alias", call(VA(13) + 0xff8));
    line("second alias", call(VA(14) + 0xff8));
    map(15, PA(14), PTE_R | PTE_X | PTE_A | PTE_U);
    (void)call(VA(15) + 0xff8); /* S mode never runs a U page */
    line("execute-only", ld(VA(13)));
    csr_set(sstatus, 1 << 19); /* MXR */
    line("execute-only with MXR", ld(VA(13)) & 0xffffffff);
    csr_clear(sstatus, 1 << 19);
    show("code");

    /* code rewritten in place: after a fence.i the new instructions run, the old ones are gone */
    for (uint32_t value = 5; value < 8; value++) {
        *(volatile uint32_t *)PA(13) = 0x00000513 | value << 20; /* li a0, value */
        fence_i();
        line("rewritten", call(VA(12)));
    }
    show("code rewritten");

    /* an instruction across two pages: lui a0, 0x12345 (0x12345537), halves apart in RAM */
    map(16, PA(7), PTE_R | PTE_X | PTE_A);
    map(17, PA(8), PTE_R | PTE_X | PTE_A);
    *(volatile uint16_t *)(PA(7) + 0xffe) = 0x5537;
    *(volatile uint16_t *)PA(8) = 0x1234;
    *(volatile uint32_t *)(PA(8) + 2) = 0x00008067;
    fence_i();
    line("across pages", call(VA(17) - 2));
    *(volatile uint16_t *)PA(9) = 0x4321;
    *(volatile uint32_t *)(PA(9) + 2) = 0x00008067;
    fence_i();
    map(17, PA(9), PTE_R | PTE_X | PTE_A);
    flush_va(VA(17));
    line("second half remapped", call(VA(17) - 2));
    map(17, 0, 0);
    flush_va(VA(17));
    (void)call(VA(17) - 2);
    show("instruction across pages");

    /* U pages from S mode: only with SUM */
    map(18, PA(10), RW | PTE_U);
    sd(VA(18), 77);
    csr_set(sstatus, 1 << 18);
    sd(VA(18), 78);
    line("with SUM", ld(VA(18)));
    csr_clear(sstatus, 1 << 18);
    show("SUM");

    /* page faults delegated to S mode */
    back_to_m();
    csr_write(medeleg, (1 << 13) | (1 << 15));
    enter(PRV_S);
    (void)ld(VA(5));
    sd(VA(2), 1);
    back_to_m();
    csr_write(medeleg, 0);
    show("delegated");

    /* M mode: no translation, except for loads and stores with MPRV */
    line("M mode reads physical", ld(PA(0) + 8));
    csr_set(mstatus, (1UL << 17) | (1UL << 11)); /* MPRV, MPP = S */
    line("M mode with MPRV", ld(VA(0) + 8));
    csr_clear(mstatus, (1UL << 17) | (3UL << 11));
    for (uint32_t value = 8; value < 10; value++) { /* and its code, by physical address */
        *(volatile uint32_t *)PA(13) = 0x00000513 | value << 20;
        fence_i();
        line("rewritten, physical", call(PA(13)));
    }
    show("MPRV");

    /* U mode, under page tables whose RAM mapping it may use */
    satp(SV39 | ((uint64_t)root_u >> 12));
    enter(PRV_U);
    u_results[0] = ld(VA(18));
    u_results[1] = ld(VA(0) + 8);
    u_results[2] = call(VA(15) + 0xff8);
    back_to_m();
    line("U page from U", u_results[0]);
    line("S page from U", u_results[1]);
    line("U code from U", u_results[2]);
    show("U mode");

    /* ASIDs: one address space's entries do not serve another's */
    satp(SV39 | ASID(0xffff) | ((uint64_t)root >> 12));
    line("asid bits", (csr_read(satp) >> 44) & 0xffff);
    enter(PRV_S);
    map(19, PA(11), RW);
    sd(VA(19), 0x1111);
    csr_write(satp, SV39 | ASID(2) | ((uint64_t)root >> 12));
    map(19, PA(15), RW);
    __asm__ volatile("sfence.vma zero, %0" ::"r"(2UL) : "memory");
    sd(VA(19), 0x2222);
    csr_write(satp, SV39 | ASID(1) | ((uint64_t)root >> 12));
    __asm__ volatile("sfence.vma %0, %1" ::"r"(VA(19)), "r"(1UL) : "memory");
    line("asid 1 sees", ld(VA(19)));
    line("page 11", *(volatile uint64_t *)PA(11));
    line("page 15", *(volatile uint64_t *)PA(15));
    back_to_m();
    show("ASIDs");

    /* Sv48 and Sv57: more levels above the same tables */
    satp(SV48 | ((uint64_t)root48 >> 12));
    line("sv48 mode", csr_read(satp) >> 60);
    enter(PRV_S);
    line("sv48", ld(VA(0) + 8));
    line("sv48 upper half", ld(0xffffffffc0000000UL + (PA(0) - 0x80000000UL) + 8));
    (void)ld(0x0000800000000000UL); /* not sign-extended from bit 47 */
    back_to_m();
    show("Sv48");
    satp(SV57 | ((uint64_t)root57 >> 12));
    line("sv57 mode", csr_read(satp) >> 60);
    enter(PRV_S);
    line("sv57", ld(VA(0) + 8));
    back_to_m();
    show("Sv57");
    satp(7UL << 60); /* a reserved mode: satp keeps its value */
    line("after a reserved mode", csr_read(satp) >> 60);
    satp(0);
    line("bare", csr_read(satp));

    puts_("done\n");
    return 0;
}
