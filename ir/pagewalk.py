"""The Sv39, Sv48 and Sv57 page-table walk of system mode (privileged spec 4.3.2, with the
hardware A/D update QEMU's default harts do) and the TLB fill, written once as plain Python that
Numba also compiles: the kernels walk on a TLB miss without leaving native code
(semantics.tlb_translate), and the machine's Python side runs the very same functions as
Python (dbt.runtime.system.mmu) for the few translations it needs itself.

Both must run as plain Python and under Numba, so they use int64 arithmetic only (addresses and
satp are passed as signed 64-bit values), read guest RAM a byte at a time and call nothing but
each other. The TLB layout is ir.state's.
"""

from __future__ import annotations

import numpy as np

from dbt.ir.state import (
    MMU_WALKS,
    PAGE_SHIFT,
    PERM_R,
    PERM_W,
    TLB_ACCESSES,
    TLB_BASE,
    TLB_META,
    TLB_META_WORDS,
    TLB_MMU_INDICES,
    TLB_SETS,
    TLB_VPN_MASK,
)

# Access types and MMU indices: a TLB set is (mmu * TLB_ACCESSES + access).
ACCESS_FETCH, ACCESS_LOAD, ACCESS_STORE = 0, 1, 2
#: U mode, S mode, and S mode with mstatus.SUM (QEMU's mmu_idx).
MMU_U, MMU_S, MMU_S_SUM = 0, 1, 2

# satp.
SATP_MODE_SHIFT, SATP_ASID_SHIFT = 60, 44
SATP_ASID_MASK, SATP_PPN_MASK = 0xFFFF, (1 << 44) - 1
MODE_BARE, MODE_SV39, MODE_SV48, MODE_SV57 = 0, 8, 9, 10
#: Page-table levels of a translating mode: Sv39 3, Sv48 4, Sv57 5.
LEVELS_BELOW_MODE = 5

# PTE bits.
PTE_V, PTE_R, PTE_W, PTE_X, PTE_U, PTE_G, PTE_A, PTE_D = 1, 2, 4, 8, 16, 32, 64, 128
PTE_PPN_SHIFT, PTE_PPN_MASK = 10, (1 << 44) - 1
#: Bits 63..54: N (Svnapot), PBMT (Svpbmt) and reserved; none is implemented, so all must be 0.
#: (Negative: the mask as a signed 64-bit value, as everything here is.)
PTE_HIGH = -(1 << 54)

# Fault causes by access type (mcause/scause).
CAUSE_FETCH_ACCESS, CAUSE_LOAD_ACCESS, CAUSE_STORE_ACCESS = 1, 5, 7
CAUSE_FETCH_PAGE, CAUSE_LOAD_PAGE, CAUSE_STORE_PAGE = 12, 13, 15
#: Meta word 2 of an entry: its ASID, and this bit for a global leaf.
META_GLOBAL = 1 << 16


def _page_fault(access):
    return (
        CAUSE_FETCH_PAGE
        if access == ACCESS_FETCH
        else (CAUSE_LOAD_PAGE if access == ACCESS_LOAD else CAUSE_STORE_PAGE)
    )


def _access_fault(access):
    if access == ACCESS_FETCH:
        return CAUSE_FETCH_ACCESS
    return CAUSE_LOAD_ACCESS if access == ACCESS_LOAD else CAUSE_STORE_ACCESS


def _ram_ok(perm, paddr, need):
    """A PTE (8 aligned bytes) at paddr lies in RAM with `need` permissions."""
    page = paddr >> PAGE_SHIFT
    return 0 <= page < perm.shape[0] and (perm[page] & need) == need


def _allowed(pte, access, mmu, mxr):
    if mmu == MMU_U:
        if not pte & PTE_U:
            return False
    elif pte & PTE_U and (access == ACCESS_FETCH or mmu != MMU_S_SUM):
        return False  # S mode never runs user pages, and reads and writes them only with SUM
    if access == ACCESS_FETCH:
        return (pte & PTE_X) != 0
    if access == ACCESS_LOAD:
        return (pte & PTE_R) != 0 or (mxr != 0 and (pte & PTE_X) != 0)
    return (pte & PTE_W) != 0


def walk(ram, perm, satp, vaddr, access, mmu, mxr):
    """Translate `vaddr` for `access` in MMU index `mmu` under `satp` (a translating mode),
    setting A (and D for a store) in the leaf. Returns (cause, paddr, leaf base, leaf size,
    leaf PTE): cause 0 on success, else the page-fault or access-fault cause of the access."""
    levels = ((satp >> SATP_MODE_SHIFT) & 0xF) - LEVELS_BELOW_MODE
    va_bits = PAGE_SHIFT + 9 * levels
    # The address must be sign-extended from its top translated bit.
    top = vaddr >> (va_bits - 1)
    if top != 0 and top != -1:
        return _page_fault(access), 0, 0, 0, 0
    table = (satp & SATP_PPN_MASK) << PAGE_SHIFT
    level = levels - 1
    pte = 0
    pte_addr = 0
    while True:
        pte_addr = table + ((vaddr >> (PAGE_SHIFT + 9 * level)) & 0x1FF) * 8
        if not _ram_ok(perm, pte_addr, PERM_R):
            return _access_fault(access), 0, 0, 0, 0
        pte = 0
        for k in range(8):
            pte |= np.int64(ram[pte_addr + k]) << (8 * k)
        if not pte & PTE_V or (pte & (PTE_R | PTE_W)) == PTE_W or pte & PTE_HIGH:
            return _page_fault(access), 0, 0, 0, 0
        if pte & (PTE_R | PTE_X):
            break
        # A pointer to the next level: its A, D and U bits are reserved (QEMU faults on them).
        if level == 0 or pte & (PTE_A | PTE_D | PTE_U):
            return _page_fault(access), 0, 0, 0, 0
        table = ((pte >> PTE_PPN_SHIFT) & PTE_PPN_MASK) << PAGE_SHIFT
        level -= 1
    ppn = (pte >> PTE_PPN_SHIFT) & PTE_PPN_MASK
    if not _allowed(pte, access, mmu, mxr):
        return _page_fault(access), 0, 0, 0, 0
    if ppn & ((1 << (9 * level)) - 1):
        return _page_fault(access), 0, 0, 0, 0  # a misaligned superpage
    update = PTE_A | (PTE_D if access == ACCESS_STORE else 0)
    if pte & update != update:
        if not _ram_ok(perm, pte_addr, PERM_R | PERM_W):
            return _access_fault(access), 0, 0, 0, 0
        pte |= update
        ram[pte_addr] = pte & 0xFF  # A and D are both in the low byte
    size = 1 << (PAGE_SHIFT + 9 * level)
    paddr = (ppn << PAGE_SHIFT) | (vaddr & (size - 1))
    return 0, paddr, vaddr & ~(size - 1), size, pte


def tlb_set(access, mmu):
    """The state index of the TLB set of (access, mmu): what MMU_FETCH/LOAD/STORE hold."""
    return TLB_BASE + 2 * (mmu * TLB_ACCESSES + access) * TLB_SETS


def tlb_entry(set_base, vaddr):
    """The state index of the entry (tag, addend) for `vaddr` in a set."""
    return set_base + 2 * ((vaddr >> PAGE_SHIFT) & (TLB_SETS - 1))


def tlb_meta(entry):
    """The state index of an entry's meta words (leaf base, ~(leaf size - 1), ASID | global)."""
    return TLB_META + TLB_META_WORDS * ((entry - TLB_BASE) >> 1)


def tlb_enter(state, entry, vaddr, paddr, base, size, pte, asid):
    """Enter a translation of `vaddr` (a leaf found by walk) at TLB entry `entry`."""
    page = vaddr >> PAGE_SHIFT
    state[entry] = page & TLB_VPN_MASK
    # Canonical addresses keep this within 64 bits.
    state[entry + 1] = ((paddr >> PAGE_SHIFT) - page) << PAGE_SHIFT
    meta = tlb_meta(entry)
    state[meta] = base
    state[meta + 1] = ~(size - 1)
    state[meta + 2] = asid | (META_GLOBAL if pte & PTE_G else 0)


def tlb_flush(state, vaddr, asid, by_vaddr, by_asid):
    """sfence.vma's flush (privileged spec 4.2.1): every entry (neither operand), the entries of
    leaves mapping `vaddr` in any address space, the non-global entries of `asid`, or the
    non-global entries of leaves mapping `vaddr` in `asid`. A superpage's entries sit at the
    sets of the 4 KiB pages used in it, so every entry is looked at, by its meta words.
    (runtime.system.mmu.Tlb.flush is the same, over numpy views, for Python.)"""
    for number in range(TLB_MMU_INDICES * TLB_ACCESSES * TLB_SETS):
        tag = TLB_BASE + 2 * number
        if state[tag] == -1:
            continue
        meta = TLB_META + TLB_META_WORDS * number
        if by_vaddr and (vaddr & state[meta + 1]) != state[meta]:
            continue
        if by_asid and state[meta + 2] != asid:
            continue
        state[tag] = -1


def tlb_fill(state, ram, perm, set_base, vaddr, satp, mxr):
    """Walk for `vaddr` with the access and MMU index of the TLB set at `set_base` and enter the
    result; returns 0, or the fault's cause (nothing entered)."""
    kind = (set_base - TLB_BASE) // (2 * TLB_SETS)
    cause, paddr, base, size, pte = walk(
        ram, perm, satp, vaddr, kind % TLB_ACCESSES, kind // TLB_ACCESSES, mxr
    )
    state[MMU_WALKS] += 1
    if cause != 0:
        return cause
    asid = (satp >> SATP_ASID_SHIFT) & SATP_ASID_MASK
    tlb_enter(state, tlb_entry(set_base, vaddr), vaddr, paddr, base, size, pte, asid)
    return 0
