"""Sv39, Sv48 and Sv57 address translation for system mode, as the machine's Python side uses
it: the walk itself (privileged spec 4.3.2) is dbt.ir.pagewalk's, the same code the kernels run
on a TLB miss; here it raises Trap on a fault. The TLB caches its results in the state array,
shaped for the kernels to look up on every access.

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

from dbt.ir import pagewalk
from dbt.ir.csrfile import MMU_NONE, mmu_index
from dbt.ir.pagewalk import (
    ACCESS_FETCH,
    ACCESS_LOAD,
    ACCESS_STORE,
    CAUSE_FETCH_PAGE,
    CAUSE_LOAD_PAGE,
    CAUSE_STORE_PAGE,
    META_GLOBAL,
    MMU_S,
    MMU_S_SUM,
    MMU_U,
    MODE_BARE,
    MODE_SV39,
    MODE_SV48,
    MODE_SV57,
    PTE_A,
    PTE_D,
    PTE_G,
    PTE_R,
    PTE_U,
    PTE_V,
    PTE_W,
    PTE_X,
    SATP_ASID_MASK,
    SATP_ASID_SHIFT,
    tlb_set,
)
from dbt.ir.state import (
    MMU_WALKS,
    PAGE_SHIFT,
    PERM_R,
    PERM_W,
    STATE_WORDS_SYSTEM,
    TLB_ACCESSES,
    TLB_BASE,
    TLB_ENTRIES,
    TLB_META,
    TLB_META_WORDS,
    TLB_MMU_INDICES,
    TLB_SETS,
)
from dbt.runtime.int64 import to_int64
from dbt.runtime.system.hart import MASK64, MXR, Trap

#: (The names from ir.pagewalk are re-exported: the machine and the tests use them from here.)
__all__ = [
    "ACCESSES",
    "ACCESS_FETCH",
    "ACCESS_LOAD",
    "ACCESS_STORE",
    "CAUSE_FETCH_PAGE",
    "CAUSE_LOAD_PAGE",
    "CAUSE_STORE_PAGE",
    "INVALID",
    "LEVELS",
    "MMU_INDICES",
    "MMU_NONE",
    "MMU_S",
    "MMU_S_SUM",
    "MMU_U",
    "MODE_BARE",
    "MODE_SV39",
    "MODE_SV48",
    "MODE_SV57",
    "PTE_A",
    "PTE_D",
    "PTE_G",
    "PTE_R",
    "PTE_U",
    "PTE_V",
    "PTE_W",
    "PTE_X",
    "SETS",
    "Mmu",
    "PageTableMemory",
    "Tlb",
    "Translation",
    "asid_of",
    "mmu_index",
    "tag_of",
    "walk",
]

#: Page-table levels of each translating mode.
LEVELS = {MODE_SV39: 3, MODE_SV48: 4, MODE_SV57: 5}
ACCESSES = TLB_ACCESSES
MMU_INDICES = TLB_MMU_INDICES

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
    does, setting A (and D for a store) in the leaf (ir.pagewalk.walk, run as Python). Raises
    Trap with the page-fault or access-fault cause of the access and tval = vaddr."""
    found = pagewalk.walk(memory.ram, memory.perm, to_int64(satp), to_int64(vaddr), access, mmu, int(mxr))
    cause, paddr, base, size, pte = (int(value) for value in found)
    if cause:
        raise Trap(cause, vaddr & MASK64)
    return Translation(paddr, base & MASK64, size, pte, asid_of(satp))


class Tlb:
    """Cached translations in a system-mode state array (ir.state's layout): `tag` and `addend`
    are what the kernels read (entry = (mmu * ACCESSES + access) * SETS + set; physical =
    virtual + addend on a tag match); `base`, `mask` and `owner` (ASID, and META_GLOBAL for a
    global leaf) serve sfence.vma. All are views of the state's words, so Python and the kernels
    see each other's fills."""

    def __init__(self, state: np.ndarray | None = None) -> None:
        entries = TLB_ENTRIES
        if state is None:
            state = np.zeros(STATE_WORDS_SYSTEM, dtype=np.int64)
        self.state = state
        words = state[TLB_BASE:TLB_META]
        self.tag = words[0::2]
        self.addend = words[1::2]
        self.tag[:] = INVALID
        meta = state[TLB_META : TLB_META + TLB_META_WORDS * entries]
        self.base = meta[0::TLB_META_WORDS].view(np.uint64)
        self.mask = meta[1::TLB_META_WORDS].view(np.uint64)
        self.owner = meta[2::TLB_META_WORDS]
        self.flushes = 0

    @staticmethod
    def set_index(access: int, mmu: int) -> int:
        """The state index of the set of (access, mmu): what MMU_FETCH/LOAD/STORE hold."""
        return tlb_set(access, mmu)

    @staticmethod
    def slot(vaddr: int, access: int, mmu: int) -> int:
        """The entry's number (the index into tag, addend and owner): ir.pagewalk's entry, in
        entries rather than state words."""
        return (pagewalk.tlb_entry(tlb_set(access, mmu), vaddr & MASK64) - TLB_BASE) >> 1

    def lookup(self, vaddr: int, access: int, mmu: int, asid: int) -> int | None:
        """The physical address of a hit, or None."""
        slot = self.slot(vaddr, access, mmu)
        if int(self.tag[slot]) != tag_of(vaddr):
            return None
        owner = int(self.owner[slot])
        if owner & SATP_ASID_MASK != asid and not owner & META_GLOBAL:
            return None
        return (vaddr + int(self.addend[slot])) & MASK64

    def fill(self, vaddr: int, access: int, mmu: int, found: Translation) -> None:
        entry = TLB_BASE + 2 * self.slot(vaddr, access, mmu)
        pagewalk.tlb_enter(
            self.state,
            entry,
            to_int64(vaddr),
            found.paddr,
            to_int64(found.base),
            found.size,
            found.pte,
            found.asid,
        )

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
            hit &= self.owner == asid  # (a global entry's owner has META_GLOBAL set)
        self.tag[hit] = INVALID


class Mmu:
    """Translation for the Python side of a hart (instruction fetch for decoding, the slow
    paths): the TLB first, then a walk that fills it."""

    def __init__(self, memory: PageTableMemory, state: np.ndarray | None = None) -> None:
        self.memory = memory
        self.tlb = Tlb(state)

    @property
    def walks(self) -> int:
        """Page walks done, by the kernels and here."""
        return int(self.tlb.state[MMU_WALKS])

    def translate(self, vaddr: int, access: int, priv: int, mstatus: int, satp: int) -> int:
        """The physical address of an access (raises Trap on a fault)."""
        mmu = mmu_index(priv, mstatus, satp, access)
        if mmu == MMU_NONE:
            return vaddr & MASK64
        paddr = self.tlb.lookup(vaddr, access, mmu, asid_of(satp))
        if paddr is not None:
            return paddr
        memory = self.memory
        mxr = 1 if mstatus & MXR else 0
        set_base = tlb_set(access, mmu)
        cause = pagewalk.tlb_fill(
            self.tlb.state, memory.ram, memory.perm, set_base, to_int64(vaddr), to_int64(satp), mxr
        )
        if cause:
            raise Trap(int(cause), vaddr & MASK64)
        return (vaddr + int(self.tlb.addend[Tlb.slot(vaddr, access, mmu)])) & MASK64
