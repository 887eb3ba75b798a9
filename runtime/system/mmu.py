"""Sv39, Sv48 and Sv57 address translation for system mode: the page-table walk of the privileged
spec (section 4.3.2, with the hardware A/D update QEMU's default harts do) and the TLB that
caches its results in numpy arrays, shaped for the kernels to look up on every access.

The TLB is direct-mapped, with one set of SETS entries per (MMU index, access type): a
translation is filled only for the access and mode it was checked for, so a hit needs no
permission test, only a tag compare. The kernels' tag is the whole virtual page number: the
machine flushes the TLB on every change of satp, as QEMU does, so the kernels only ever see
entries of the current address space; Python's look-up also checks the entry's ASID. A
superpage is entered one 4 KiB page at a time, each entry remembering the leaf's base and size
for sfence.vma by address.

MMU indices: U mode, S mode, and S mode with mstatus.SUM (QEMU's mmu_idx). M mode, and any
mode under satp Bare, translate nothing. mstatus.MXR changes what a load may read, so a
change of it flushes the TLB (the hart asks for that).
Stage: runtime (system mode).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dbt.ir.state import (
    PAGE_SHIFT,
    PAGE_SIZE,
    PERM_R,
    PERM_W,
    TLB_ACCESSES,
    TLB_BASE,
    TLB_ENTRIES,
    TLB_MMU_INDICES,
    TLB_SETS,
)
from dbt.runtime.system.hart import (
    CAUSE_FETCH_ACCESS,
    CAUSE_LOAD_ACCESS,
    CAUSE_STORE_ACCESS,
    MASK64,
    MPP,
    MPP_SHIFT,
    MPRV,
    MXR,
    PRV_M,
    PRV_U,
    SUM,
    Trap,
)

# satp.
SATP_MODE_SHIFT, SATP_ASID_SHIFT = 60, 44
SATP_ASID_MASK, SATP_PPN_MASK = 0xFFFF, (1 << 44) - 1
MODE_BARE, MODE_SV39, MODE_SV48, MODE_SV57 = 0, 8, 9, 10
#: Page-table levels of each translating mode.
LEVELS = {MODE_SV39: 3, MODE_SV48: 4, MODE_SV57: 5}

# PTE bits.
PTE_V, PTE_R, PTE_W, PTE_X, PTE_U, PTE_G, PTE_A, PTE_D = 1, 2, 4, 8, 16, 32, 64, 128
PTE_PPN_SHIFT, PTE_PPN_MASK = 10, (1 << 44) - 1
#: Bits 63..54: N (Svnapot), PBMT (Svpbmt) and reserved; none is implemented, so all must be 0.
PTE_HIGH = ((1 << 10) - 1) << 54

ACCESS_FETCH, ACCESS_LOAD, ACCESS_STORE = 0, 1, 2
ACCESSES = TLB_ACCESSES
CAUSE_FETCH_PAGE, CAUSE_LOAD_PAGE, CAUSE_STORE_PAGE = 12, 13, 15
PAGE_FAULT = (CAUSE_FETCH_PAGE, CAUSE_LOAD_PAGE, CAUSE_STORE_PAGE)
ACCESS_FAULT = (CAUSE_FETCH_ACCESS, CAUSE_LOAD_ACCESS, CAUSE_STORE_ACCESS)

MMU_U, MMU_S, MMU_S_SUM = 0, 1, 2
MMU_INDICES = TLB_MMU_INDICES
#: No translation: M mode, or satp Bare.
MMU_NONE = -1

#: Entries per (MMU index, access) set; a power of two.
SETS = TLB_SETS
INVALID = -1


@dataclass(frozen=True, slots=True)
class Translation:
    """A leaf found by a walk: the physical address of the access, and the leaf's virtual base,
    size and PTE (after the A/D update)."""

    paddr: int
    base: int
    size: int
    pte: int
    asid: int


def mmu_index(priv: int, mstatus: int, satp: int, access: int) -> int:
    """The MMU index an access uses (MMU_NONE when it is not translated). Loads and stores of M
    mode with mstatus.MPRV use the mode in MPP."""
    if access != ACCESS_FETCH and priv == PRV_M and mstatus & MPRV:
        priv = (mstatus & MPP) >> MPP_SHIFT
    if priv == PRV_M or satp >> SATP_MODE_SHIFT == MODE_BARE:
        return MMU_NONE
    if priv == PRV_U:
        return MMU_U
    return MMU_S_SUM if mstatus & SUM else MMU_S


def asid_of(satp: int) -> int:
    return (satp >> SATP_ASID_SHIFT) & SATP_ASID_MASK


def tag_of(vaddr: int) -> int:
    """The TLB tag of a virtual address: its whole page number."""
    return (vaddr & MASK64) >> PAGE_SHIFT


class PageTableMemory:
    """What a walk reads and writes: 64-bit PTEs in guest RAM. A PTE outside RAM (MMIO, a hole)
    is an access fault, as PMP or the bus would make it."""

    def __init__(self, ram: np.ndarray, perm: np.ndarray) -> None:
        self.ram = ram
        self.perm = perm
        self.words = ram[: ram.shape[0] & ~7].view(np.uint64)

    def _ok(self, paddr: int, need: int) -> bool:
        page = paddr >> PAGE_SHIFT
        return page < self.perm.shape[0] and self.perm[page] & need == need

    def read(self, paddr: int) -> int | None:
        if not self._ok(paddr, PERM_R):
            return None
        return int(self.words[paddr >> 3])

    def write(self, paddr: int, value: int) -> bool:
        if not self._ok(paddr, PERM_R | PERM_W):
            return False
        self.words[paddr >> 3] = value
        return True


def walk(memory: PageTableMemory, satp: int, vaddr: int, access: int, mmu: int, mxr: bool) -> Translation:
    """Translate `vaddr` for `access` in MMU index `mmu` under `satp`, as the hardware walk
    does, setting A (and D for a store) in the leaf. Raises Trap with the page-fault or
    access-fault cause of the access and tval = vaddr."""
    vaddr &= MASK64
    mode = satp >> SATP_MODE_SHIFT
    levels = LEVELS[mode]
    va_bits = PAGE_SHIFT + 9 * levels
    page_fault = Trap(PAGE_FAULT[access], vaddr)
    # The address must be sign-extended from its top translated bit.
    top = vaddr >> (va_bits - 1)
    if top not in (0, (1 << (65 - va_bits)) - 1):
        raise page_fault
    table = (satp & SATP_PPN_MASK) << PAGE_SHIFT
    for level in range(levels - 1, -1, -1):
        pte_addr = table + ((vaddr >> (PAGE_SHIFT + 9 * level)) & 0x1FF) * 8
        pte = memory.read(pte_addr)
        if pte is None:
            raise Trap(ACCESS_FAULT[access], vaddr)
        if not pte & PTE_V or (pte & (PTE_R | PTE_W)) == PTE_W or pte & PTE_HIGH:
            raise page_fault
        ppn = (pte >> PTE_PPN_SHIFT) & PTE_PPN_MASK
        if pte & (PTE_R | PTE_X):
            break
        # A pointer to the next level: its A, D and U bits are reserved (QEMU faults on them).
        if level == 0 or pte & (PTE_A | PTE_D | PTE_U):
            raise page_fault
        table = ppn << PAGE_SHIFT
    if not _allowed(pte, access, mmu, mxr):
        raise page_fault
    if ppn & ((1 << (9 * level)) - 1):
        raise page_fault  # a misaligned superpage
    update = PTE_A | (PTE_D if access == ACCESS_STORE else 0)
    if pte & update != update:
        pte |= update
        if not memory.write(pte_addr, pte):
            raise Trap(ACCESS_FAULT[access], vaddr)
    size = 1 << (PAGE_SHIFT + 9 * level)
    base = vaddr & ~(size - 1) & MASK64
    paddr = (ppn << PAGE_SHIFT) | (vaddr & (size - 1))
    return Translation(paddr, base, size, pte, asid_of(satp))


def _allowed(pte: int, access: int, mmu: int, mxr: bool) -> bool:
    if mmu == MMU_U:
        if not pte & PTE_U:
            return False
    elif pte & PTE_U and (access == ACCESS_FETCH or mmu != MMU_S_SUM):
        return False  # S mode never runs user pages, and reads and writes them only with SUM
    if access == ACCESS_FETCH:
        return bool(pte & PTE_X)
    if access == ACCESS_LOAD:
        return bool(pte & PTE_R or (mxr and pte & PTE_X))
    return bool(pte & PTE_W)


class Tlb:
    """Cached translations: `tag` and `addend` are what the kernels read (entry = (mmu * ACCESSES
    + access) * SETS + set; physical = virtual + addend on a tag match); `base`, `mask`, `asid`
    and `glob` serve sfence.vma. Given a system-mode state array, tag and addend are views of
    its TLB words (interleaved, as ir.state lays them out), so the kernels see every fill."""

    def __init__(self, state: np.ndarray | None = None) -> None:
        entries = TLB_ENTRIES
        if state is None:
            state = np.zeros(TLB_BASE + 2 * entries, dtype=np.int64)
        words = state[TLB_BASE : TLB_BASE + 2 * entries]
        self.tag = words[0::2]
        self.addend = words[1::2]
        self.tag[:] = INVALID
        self.base = np.zeros(entries, dtype=np.uint64)
        #: ~(leaf size - 1) of each entry's leaf.
        self.mask = np.zeros(entries, dtype=np.uint64)
        self.asid = np.zeros(entries, dtype=np.int64)
        self.glob = np.zeros(entries, dtype=np.bool_)
        self.fills = 0
        self.flushes = 0

    @staticmethod
    def set_index(access: int, mmu: int) -> int:
        """The state index of the set of (access, mmu): what MMU_FETCH/LOAD/STORE hold."""
        return TLB_BASE + 2 * (mmu * ACCESSES + access) * SETS

    @staticmethod
    def slot(vaddr: int, access: int, mmu: int) -> int:
        return (mmu * ACCESSES + access) * SETS + (((vaddr & MASK64) >> PAGE_SHIFT) & (SETS - 1))

    def lookup(self, vaddr: int, access: int, mmu: int, asid: int) -> int | None:
        """The physical address of a hit, or None."""
        slot = self.slot(vaddr, access, mmu)
        if int(self.tag[slot]) != tag_of(vaddr) or (self.asid[slot] != asid and not self.glob[slot]):
            return None
        return (vaddr + int(self.addend[slot])) & MASK64

    def fill(self, vaddr: int, access: int, mmu: int, found: Translation) -> None:
        slot = self.slot(vaddr, access, mmu)
        page = vaddr & MASK64 & ~(PAGE_SIZE - 1)
        addend = ((found.paddr & ~(PAGE_SIZE - 1)) - page) & MASK64
        if addend >= 1 << 63:  # the kernels add it in 64-bit arithmetic
            addend -= 1 << 64
        self.tag[slot] = tag_of(vaddr)
        self.addend[slot] = addend
        self.base[slot] = found.base
        self.mask[slot] = ~(found.size - 1) & MASK64
        self.asid[slot] = found.asid
        self.glob[slot] = bool(found.pte & PTE_G)
        self.fills += 1

    def flush(self, vaddr: int | None = None, asid: int | None = None) -> None:
        """sfence.vma: everything (no operands), the leaves mapping `vaddr` in every address
        space, the non-global entries of `asid`, or the non-global leaves mapping `vaddr` in
        `asid` (privileged spec 4.2.1)."""
        self.flushes += 1
        if vaddr is None and asid is None:
            self.tag[:] = INVALID
            return
        hit = self.tag != INVALID
        if vaddr is not None:
            hit &= (np.uint64(vaddr & MASK64) & self.mask) == self.base
        if asid is not None:
            hit &= (self.asid == asid) & ~self.glob
        self.tag[hit] = INVALID


class Mmu:
    """Translation for the Python side of a hart (instruction fetch for decoding, the slow
    paths): the TLB first, then a walk that fills it."""

    def __init__(self, memory: PageTableMemory, state: np.ndarray | None = None) -> None:
        self.memory = memory
        self.tlb = Tlb(state)
        self.walks = 0

    def translate(self, vaddr: int, access: int, priv: int, mstatus: int, satp: int) -> int:
        """The physical address of an access (raises Trap on a fault)."""
        mmu = mmu_index(priv, mstatus, satp, access)
        if mmu == MMU_NONE:
            return vaddr & MASK64
        asid = asid_of(satp)
        paddr = self.tlb.lookup(vaddr, access, mmu, asid)
        if paddr is not None:
            return paddr
        self.walks += 1
        found = walk(self.memory, satp, vaddr, access, mmu, bool(mstatus & MXR))
        self.tlb.fill(vaddr, access, mmu, found)
        return found.paddr
