"""The guest state layout shared by every tier: register slots, state words and exit reasons.

Registers live in one int64 array: x0..x31 in slots 0..31, f0..f31 (as raw 64-bit patterns)
in slots 32..63, and SINK, a slot that absorbs writes to x0 so no op has to test rd == 0.
Everything else the kernels need lives in one int64 `state` array at the indices below.
"""

from __future__ import annotations

#: First slot of the floating-point registers in the register array.
F_BASE = 32
#: Writes to x0 land here; slot 0 is never written, so x0 always reads 0.
SINK = 64
#: A scratch register for lifters that need an intermediate value (cbo.zero's aligned address).
TMP = 65
#: Size of the register array.
NUM_SLOTS = 72

# Indices into the int64 state array.
PC = 0  # guest pc: where execution resumes (or, at an exit, the pc of the exiting instruction)
FFLAGS = 1  # accrued floating-point exception flags (fcsr bits 4..0)
FRM = 2  # dynamic rounding mode (fcsr bits 7..5)
INSTRET = 3  # guest instructions retired
RESERVATION = 4  # address reserved by LR, or -1
RESERVED_VALUE = 9  # the value LR read: SC succeeds only if memory still holds it (as QEMU does)
FAULT_ADDR = 5  # faulting guest address at EXIT_FAULT
FAULT_KIND = 6  # FAULT_* at EXIT_FAULT, TRAP_* at EXIT_TRAP
SLICE_END = 7  # the dispatcher returns EXIT_SLICE once INSTRET reaches this
EXIT_OP = 8  # index of the IR op that exited (for EXIT_CSR: the op to finish in Python), or the
#            block number at EXIT_HOT
JIT_THRESHOLD = 10  # heat at which a block is reported hot (EXIT_HOT); -1: never (no JIT)
IC_SITE = 11  # host address of the inline cache of the region exit just taken, or 0
JIT_EPOCH = 12  # bumped when compiled code is dropped: inline caches of older epochs miss
JIT_INSNS = 13  # guest instructions retired inside compiled regions (for --stats)
REGION_CALLS = 14  # calls of compiled regions from the dispatcher (for --stats)
CHAINED = 15  # region exits that tail-called the next region through their inline cache
# System mode's SoftMMU (0 everywhere in user mode: nothing is translated). Each is the state
# index of the TLB set that instruction fetch, loads and stores use in the current mode, or 0
# when that kind of access is not translated (M mode, satp Bare). Python sets them whenever
# the privilege mode, mstatus or satp changes; the kernels only when their own write of
# mstatus/sstatus changes SUM, MPRV or MPP (ir.csrfile).
MMU_FETCH = 16
MMU_LOAD = 17
MMU_STORE = 18
# What a kernel's page walk on a TLB miss needs (ir.pagewalk), set by Python with the words above.
MMU_SATP = 19  # satp
MMU_MXR = 20  # mstatus.MXR (0 or 1)
MMU_WALKS = 21  # page walks done (by the kernels and Python alike), for --stats
# System mode's hart: the privilege mode and the CSRs the kernels read and write themselves
# (ir.csrfile; sscratch..stval and mscratch..mtval in CSR number order); the hart's Python side
# keeps them here too. 0 in user mode, where PRIV 0 (U)
# makes every one of them illegal, as it should be.
PRIV = 22
CSR_MSTATUS = 23
CSR_SSCRATCH = 24
CSR_SEPC = 25
CSR_SCAUSE = 26
CSR_STVAL = 27
CSR_MSCRATCH = 28
CSR_MEPC = 29
CSR_MCAUSE = 30
CSR_MTVAL = 31
CSR_MHARTID = 32
IRQ_PENDING = 33  # mip & mie when the kernel was entered: an instruction that enables interrupts
#                   while some are pending ends the kernel call after it, so Python takes them
SFENCE_PYTHON = 34  # nonzero: blocks straddling two pages exist, which only Python drops: an
#                     sfence.vma of every address, or of one that a leaf in STRADDLE_LEAVES maps,
#                     exits to Python; -1: too many leaves to list, every sfence.vma exits. 0, or
#                     any other address: the kernels flush the TLB themselves
TLB_FLUSHES = 35  # sfence.vma flushes the kernels did (for --stats)
# System mode's time CSR, read by the kernels from the host's cycle counter (user mode leaves
# TIME_SCALE 0: every counter read exits to Python): mtime = (TIME_NS + cycles since TIME_CYCLES
# * TIME_SCALE / 2**TIME_SCALE_SHIFT) // TIME_NS_PER_TICK + TIME_OFFSET.
TIME_NS = 36  # host ns since the machine's start, taken by Python as it enters the kernels
TIME_CYCLES = 37  # the host cycle counter, read by the dispatcher as it starts
TIME_SCALE = 38  # host ns per cycle << TIME_SCALE_SHIFT, a little low (so a read never runs
#                  ahead of the host clock Python reads); 0: time reads exit to Python
TIME_NS_PER_TICK = 39  # ns per tick of the timebase
TIME_OFFSET = 40  # the CLINT's mtime offset, in ticks
#: Leaves whose pages straddling blocks were decoded across: (~(leaf size - 1), leaf base) pairs.
STRADDLE_LEAVES = 41
STRADDLE_SLOTS = 16
NUM_STATE = STRADDLE_LEAVES + 2 * STRADDLE_SLOTS
TIME_SCALE_SHIFT = 24

# The TLB (system mode only) follows the fixed words in the state array: TLB_ENTRIES entries
# of two words, tag (the virtual page number, all 52 bits, so a non-canonical address never
# matches; or -1) and addend (physical address = virtual + addend), in sets of TLB_SETS
# direct-mapped entries, one set per MMU index (U, S, S with SUM) and access type (fetch, load,
# store). Every entry is of the current satp: any change of satp flushes them all (as QEMU
# does), so the tag needs no ASID. After the entries, TLB_META_WORDS words per entry for
# sfence.vma (never read on a hit): the leaf's virtual base, ~(leaf size - 1), and its ASID
# with bit 16 set for a global leaf.
TLB_BASE = NUM_STATE
TLB_SETS = 256
TLB_MMU_INDICES = 3
TLB_ACCESSES = 3
TLB_ENTRIES = TLB_MMU_INDICES * TLB_ACCESSES * TLB_SETS
TLB_VPN_MASK = (1 << 52) - 1
TLB_META = TLB_BASE + 2 * TLB_ENTRIES
TLB_META_WORDS = 3
#: Length of a system-mode state array (user mode's is NUM_STATE long: its MMU words stay 0).
STATE_WORDS_SYSTEM = TLB_META + TLB_META_WORDS * TLB_ENTRIES

# Exit reasons the dispatcher returns to Python.
EXIT_MISS = 1  # no decoded block at state[PC]
EXIT_SYSCALL = 2  # ecall at state[PC]
EXIT_FAULT = 3  # memory access fault: state[FAULT_ADDR], state[FAULT_KIND]
EXIT_TRAP = 4  # ebreak or illegal instruction at state[PC]: state[FAULT_KIND]
EXIT_FENCE_I = 5  # fence.i at state[PC]: Python drops stale translations
EXIT_CSR = 6  # a counter CSR (cycle, time, instret) Python reads: op state[EXIT_OP]
EXIT_SLICE = 7  # instruction budget spent; resume at state[PC]
EXIT_HOT = 8  # block state[EXIT_OP] reached the JIT threshold; resume at state[PC]
# A region's check of several accesses at once failed at state[PC]: the dispatcher interprets
# from there (each access checked alone, so the fault, if any, is the interpreter's). Only ever
# returned by a region to the dispatcher, never by the dispatcher.
EXIT_INTERPRET = 9

EXIT_NAMES = {
    EXIT_MISS: "miss",
    EXIT_SYSCALL: "syscall",
    EXIT_FAULT: "fault",
    EXIT_TRAP: "trap",
    EXIT_FENCE_I: "fence.i",
    EXIT_CSR: "csr",
    EXIT_SLICE: "slice",
    EXIT_HOT: "hot",
}

# Fault kinds (state[FAULT_KIND] at EXIT_FAULT).
FAULT_LOAD = 1
FAULT_STORE = 2
FAULT_MISALIGNED = 3  # an atomic access not aligned to its size (SIGBUS)
# System mode: a translated load or store whose page is not in the TLB, or that crosses a page
# (state[FAULT_ADDR] is the virtual address); Python walks the page table or emulates it.
FAULT_TLB_LOAD = 4
FAULT_TLB_STORE = 5

# Trap kinds (state[FAULT_KIND] at EXIT_TRAP).
TRAP_ILLEGAL = 1
TRAP_BREAKPOINT = 2

# Page permission bits in the permission table (one byte per 4 KiB guest page).
PERM_R = 1
PERM_W = 2
PERM_X = 4
PERM_MAPPED = 8  # mapped, even with no access rights (PROT_NONE): faults are SEGV_ACCERR, not MAPERR
# PERM_R and PERM_W of this page and the next one together, shifted up by PERM_PAIR_SHIFT: an
# access of up to 8 bytes that starts in a page with these bits is allowed whether or not it
# crosses into the next page, so the common check reads one byte (see semantics.mem_ok).
PERM_PAIR_SHIFT = 4
PERM_R_PAIR = PERM_R << PERM_PAIR_SHIFT
PERM_W_PAIR = PERM_W << PERM_PAIR_SHIFT
PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT

# Layout of one encoded IR op: a row of four int64 words in the code array.
#   word 0: op | rd << 16 | rs1 << 24 | rs2 << 32 | rs3 << 40 | aux << 48
#   word 1: imm
#   word 2: guest pc | index of the guest instruction within its block << 48
#   word 3: extra (fall-through pc of a branch, link value of a jump)
OP_WORDS = 4
PC_BITS = 48
PC_MASK = (1 << PC_BITS) - 1
#: Word 2 keeps the low PC_BITS bits of the pc; a pc is recovered by sign-extending them (a
#: canonical Sv48 address, like a user-mode or physical one, is its low 48 bits sign-extended).
PC_SIGN_SHIFT = 64 - PC_BITS


def location_pc(location: int) -> int:
    """The pc of an op's word 2 (signed, as the kernels compute it)."""
    pc = location & PC_MASK
    return pc - (1 << PC_BITS) if pc >> (PC_BITS - 1) else pc


# Layout of one row of the block table (int64).
BLK_START = 0  # index of the block's first op in the code array
BLK_OPS = 1  # number of ops
BLK_PC = 2  # guest pc of the block
BLK_INSNS = 3  # guest instructions in the block
BLK_HEAT = 4  # execution counter (halved as time passes: an EWMA); the JIT's hotness
BLK_JIT = 5  # address of the compiled region entered at this block, or 0
BLK_PHYS = 6  # physical address of the block's first instruction (= BLK_PC but in system mode
#               under translation; -1: a block dropped from the lookup)
BLK_WORDS = 7

#: Fibonacci hashing (2^64 / golden ratio, as an int64) for the pc -> block table.
BLOCK_HASH_MULTIPLIER = -0x61C8864680B583EB


def block_slot(pc: int, mask: int) -> int:
    """The first slot the pc -> block table probes for `pc` (mask = table size - 1 < 2^31).
    Multiplicative, so the dense, sequential pcs of code spread over the table: with the pc
    itself as the index, code at addresses that alias modulo the table size formed clusters
    that linear probing walked for hundreds of slots. The same bits come out of Python's exact
    product and the kernels' wrapping int64 one (bits 32..62 of the product)."""
    return (((pc >> 1) * BLOCK_HASH_MULTIPLIER) >> 32) & mask


#: Bytes in a cache block: what cbo.zero clears and riscv_hwprobe reports (as on QEMU and most
#: hardware).
CACHE_BLOCK_SIZE = 64

#: rm field value meaning "use the dynamic rounding mode in frm".
RM_DYN = 7
