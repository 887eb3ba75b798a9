"""The hart's addresses as the machine's Python side sees them: the state words that tell the
kernels which TLB sets to use, instruction fetch for the decoder, and the accesses the kernels
hand back under translation (a TLB miss: walk and fill; an access crossing into another page:
performed here). The walk and the TLB are dbt.runtime.system.mmu's; the look-up on a hit is the
kernels' (semantics.tlb_translate), never Python's.

Decoded blocks are found by virtual and physical pc, and a block never spans two virtual pages
(the fetch below stops at the page's end), so a changed mapping finds other blocks. The one
exception, an instruction whose two halves lie in two pages, makes a block of its own that a
flush of its second page's translation drops (that page may map elsewhere by then): an
sfence.vma of an address in the leaf that mapped it, or of everything.
Stage: runtime (system mode).
"""

from __future__ import annotations

import numpy as np

from dbt.ir import pagewalk
from dbt.ir.csrfile import mmu_word
from dbt.ir.state import (
    CSR_MSTATUS,
    F_BASE,
    MMU_FETCH,
    MMU_LOAD,
    MMU_MXR,
    MMU_SATP,
    MMU_STORE,
    PAGE_SIZE,
    PRIV,
    SFENCE_PYTHON,
    STRADDLE_LEAVES,
    STRADDLE_SLOTS,
)
from dbt.runtime.blockcache import BlockCache
from dbt.runtime.int64 import to_int64
from dbt.runtime.memory import GuestFault, GuestMemory
from dbt.runtime.system.hart import CAUSE_LOAD_ACCESS, CAUSE_STORE_ACCESS, MASK64, MXR, Hart, Trap
from dbt.runtime.system.mmio import Access
from dbt.runtime.system.mmu import (
    ACCESS_FETCH,
    ACCESS_LOAD,
    ACCESS_STORE,
    Mmu,
    PageTableMemory,
    asid_of,
    mmu_index,
)


class SoftMmu:
    """Translation glue of one hart (see the module's doc)."""

    def __init__(self, hart: Hart, memory: GuestMemory, state: np.ndarray, cache: BlockCache) -> None:
        self.hart = hart
        self.memory = memory
        self.state = state
        self.cache = cache
        self.mmu = Mmu(PageTableMemory(memory.ram, memory.perm), state)
        #: Blocks made of one instruction spanning two virtual pages (see the module's doc), by
        #: the leaf that mapped their second page: (~(leaf size - 1), leaf base) as int64.
        self.straddlers: dict[tuple[int, int], list[int]] = {}
        #: Set by fetch() when the bytes it returned span two pages: that leaf.
        self.straddled: tuple[int, int] | None = None
        self._context: tuple[int, int, int] | None = None
        hart.on_translation_change = self.flush
        cache.on_flush.append(self.take_straddlers)

    def add_straddler(self, number: int) -> None:
        """Block `number` was decoded from the bytes of the last fetch, which straddled."""
        assert self.straddled is not None
        self.straddlers.setdefault(self.straddled, []).append(number)
        self._publish_straddlers()  # (an sfence.vma of its leaf must drop it: Python's job)

    def _publish_straddlers(self) -> None:
        """Tell the kernels which leaves' sfence.vma they must leave to Python (ir.state's
        SFENCE_PYTHON and STRADDLE_LEAVES)."""
        state, leaves = self.state, list(self.straddlers)
        if len(leaves) > STRADDLE_SLOTS:
            state[SFENCE_PYTHON] = -1
            return
        for slot, (mask, base) in enumerate(leaves):
            state[STRADDLE_LEAVES + 2 * slot] = mask
            state[STRADDLE_LEAVES + 2 * slot + 1] = base
        state[SFENCE_PYTHON] = len(leaves)

    def take_straddlers(self) -> list[int]:
        """Every straddling block, forgotten here (for fence.i, which drops them)."""
        numbers = [number for group in self.straddlers.values() for number in group]
        self.straddlers.clear()
        self._publish_straddlers()
        return numbers

    # ---- the kernels' view ----
    def sync(self) -> None:
        """Point the kernels at the TLB sets of the hart's current mode (after any change of
        privilege mode, mstatus or satp; cheap when nothing changed)."""
        hart = self.hart
        context = (hart.priv, hart.mstatus, hart.satp)  # (satp changes flush: see ir.state)
        if context == self._context:
            return
        self._context = context
        state = self.state
        priv, status, satp = (int(state[word]) for word in (PRIV, CSR_MSTATUS, MMU_SATP))
        for word, access in ((MMU_FETCH, ACCESS_FETCH), (MMU_LOAD, ACCESS_LOAD), (MMU_STORE, ACCESS_STORE)):
            state[word] = mmu_word(priv, status, satp, access)
        state[MMU_MXR] = 1 if status & MXR else 0

    @property
    def translating(self) -> bool:
        state = self.state
        return bool(state[MMU_FETCH] or state[MMU_LOAD] or state[MMU_STORE])

    # ---- flushes ----
    def flush(self) -> None:
        """Every cached translation goes (satp or mstatus.MXR changed, a snapshot loaded)."""
        self.sfence(None, None)

    def sfence(self, vaddr: int | None, asid: int | None) -> None:
        """sfence.vma's flush (see Tlb.flush), and the blocks whose second page may have moved."""
        self.mmu.tlb.flush(None if vaddr is None else vaddr & MASK64, asid)
        self._context = None
        if not self.straddlers:
            return
        if vaddr is None:
            dropped = self.take_straddlers()
        else:  # only the blocks whose second page that leaf mapped (any ASID: conservative)
            address = to_int64(vaddr)
            dropped = []
            for mask in {mask for mask, _ in self.straddlers}:
                dropped += self.straddlers.pop((mask, address & mask), [])
            self._publish_straddlers()
        for number in dropped:
            self.cache.drop(number)

    # ---- translation for Python ----
    def translate(self, vaddr: int, access: int) -> int:
        """The physical address of an access of the current mode (raises Trap on a fault)."""
        hart = self.hart
        return self.mmu.translate(vaddr, access, hart.priv, hart.mstatus, hart.satp)

    def fetch(self, pc: int, size: int, phys: int | None = None) -> bytes:
        """Up to `size` bytes of instructions from virtual `pc`, for the decoder: to the end of
        pc's page only, except that an instruction starting in the page's last two bytes is
        completed from the next page. Raises Trap (fetch page fault) if pc does not translate.
        `phys`: pc's fetch_address, if the caller has it already."""
        self.straddled = None
        if not self.state[MMU_FETCH]:
            return self.memory.fetch(pc & MASK64, size)
        room = PAGE_SIZE - (pc & (PAGE_SIZE - 1))
        if phys is None:
            phys = self.translate(pc, ACCESS_FETCH)
        code = self.memory.fetch(phys, min(size, room))
        if room == 2 and size > 2 and len(code) == 2 and code[0] & 3 == 3:
            rest = self.memory.fetch(self.translate(pc + 2, ACCESS_FETCH), 2)
            if len(rest) == 2:
                self.straddled = self._fetch_leaf(pc + 2)
                return code + rest
        return code

    def _fetch_leaf(self, vaddr: int) -> tuple[int, int]:
        """(~(size - 1), base) of the leaf the fetch TLB entry for `vaddr` came from (just
        filled or hit by translate)."""
        hart = self.hart
        set_base = pagewalk.tlb_set(ACCESS_FETCH, mmu_index(hart.priv, hart.mstatus, hart.satp, ACCESS_FETCH))
        meta = pagewalk.tlb_meta(pagewalk.tlb_entry(set_base, vaddr & MASK64))
        return int(self.state[meta + 1]), int(self.state[meta])

    def fetch_address(self, pc: int) -> int:
        """The physical address of pc for instruction fetch (raises Trap on a fault)."""
        return self.translate(pc, ACCESS_FETCH) if self.state[MMU_FETCH] else pc

    # ---- what the kernels hand back ----
    def tlb_miss(self, vaddr: int, store: bool) -> bool:
        """A kernel access at virtual `vaddr` found no TLB entry, or crossed a page. Fills the
        entry (raises Trap on a fault) and returns False for the kernel to run the instruction
        again; returns True when the page was there: the access crosses into the next page and
        the caller performs it (perform_crossing)."""
        hart = self.hart
        access = ACCESS_STORE if store else ACCESS_LOAD
        mmu = mmu_index(hart.priv, hart.mstatus, hart.satp, access)
        if self.mmu.tlb.lookup(vaddr, access, mmu, asid_of(hart.satp)) is not None:
            return True
        self.translate(vaddr, access)
        return False

    def perform_crossing(self, access: Access, vaddr: int, regs: np.ndarray) -> None:
        """A load or store whose bytes lie in two pages, each translated on its own (both before
        any byte is written, so a fault leaves memory as it was). Raises Trap."""
        kind = ACCESS_STORE if access.store else ACCESS_LOAD
        cause = CAUSE_STORE_ACCESS if access.store else CAUSE_LOAD_ACCESS
        split = PAGE_SIZE - (vaddr & (PAGE_SIZE - 1))
        parts = (
            (self.translate(vaddr, kind), split),
            (self.translate(vaddr + split, kind), access.size - split),
        )
        try:  # (the views check both pages, and lift a code page's write protection)
            views = [self.memory.view(paddr, length, writable=access.store) for paddr, length in parts]
        except GuestFault:
            raise Trap(cause, vaddr) from None
        reg = access.reg + (F_BASE if access.fp else 0)
        if access.store:
            data = np.frombuffer(
                (int(regs[reg]) & MASK64).to_bytes(8, "little")[: access.size], dtype=np.uint8
            )
            views[0][:] = data[:split]
            views[1][:] = data[split:]
            return
        data = b"".join(view.tobytes() for view in views)
        value = int.from_bytes(data, "little")
        bits = 8 * access.size
        if access.fp and access.size == 4:
            value |= MASK64 ^ 0xFFFFFFFF  # NaN-boxed
        elif access.signed and value >> (bits - 1):
            value -= 1 << bits
        if reg:
            regs[reg] = to_int64(value)
