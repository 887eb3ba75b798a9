"""Which decoded blocks a fence.i must drop in system mode: those whose instruction bytes changed.

Linux executes fence.i after every patch of its own text (static keys, alternatives) and before
running pages it has just filled; dropping every decoded block each time made the boot spend
most of its time decoding the same code again. Instead, the RAM page under each decoded block
is kept as it was when decoded, and write-protected (its PERM_W bit cleared), as QEMU protects
pages it translated: the first store to it from the kernels faults, and the machine lifts the
protection and lets the store run again (store_fault); a device's DMA or a store emulated in
Python lifts it through GuestMemory.on_protected_write. A fence.i compares only the pages
written since (dirty): the blocks of those whose bytes differ go (and the one-instruction
blocks that span two pages), the others are protected again. Compiled regions hold the code of
one page in system mode, so the JIT drops those of the changed pages too.

(The page walk's A/D updates write RAM without lifting anything: page tables are never code.)
Stage: runtime (system mode).
"""

from __future__ import annotations

import hashlib

from dbt.ir.state import PAGE_SHIFT, PAGE_SIZE, PERM_PAIR_SHIFT, PERM_R, PERM_W
from dbt.runtime.blockcache import BlockCache
from dbt.runtime.memory import GuestMemory

PAIR_BITS = (PERM_R | PERM_W) << PERM_PAIR_SHIFT


class CodePages:
    def __init__(self, memory: GuestMemory, cache: BlockCache) -> None:
        self.ram = memory.ram
        self.perm = memory.perm
        self.cache = cache
        #: Physical page -> (its bytes when first decoded from, the blocks decoded from it).
        self.pages: dict[int, tuple[bytes, list[int]]] = {}
        #: Tracked pages whose PERM_W this class cleared (the others are dirty, or not writable).
        self.protected: set[int] = set()
        #: Tracked pages written since the last fence.i.
        self.dirty: set[int] = set()
        self.dropped = 0
        self.lifted = 0
        cache.on_flush.append(self._forget)
        memory.on_protected_write = self.lift

    def add(self, number: int, phys: int, length: int) -> None:
        """Block `number` was decoded from the `length` bytes at physical `phys`."""
        for page in range(phys >> PAGE_SHIFT, ((phys + max(length, 1) - 1) >> PAGE_SHIFT) + 1):
            self._blocks_of(page).append(number)

    def add_in_page(self, numbers: range, page: int) -> None:
        """Blocks `numbers` were decoded from bytes lying wholly in physical `page`."""
        self._blocks_of(page).extend(numbers)

    def _blocks_of(self, page: int) -> list[int]:
        """The list of the blocks decoded from `page`; at the first, its bytes are kept and it
        is protected."""
        entry = self.pages.get(page)
        if entry is None:
            start = page << PAGE_SHIFT
            entry = self.pages[page] = (self.ram[start : start + PAGE_SIZE].tobytes(), [])
            self._protect(page)
        return entry[1]

    def digest(self, page: int) -> bytes | None:
        """A digest of the bytes every block decoded from `page` was decoded from, or None: the
        page holds no decoded code, or was written since the last fence.i (a block decoded
        since may hold newer bytes than those kept)."""
        entry = self.pages.get(page)
        if entry is None or page in self.dirty:
            return None
        return hashlib.blake2b(entry[0], digest_size=16).digest()

    # ---- writes ----
    def store_fault(self, paddr: int) -> bool:
        """A kernel store to physical `paddr` (of up to 8 bytes) found no PERM_W: True if that
        was this class's protection, now lifted, so the store may run again."""
        return self.lift(paddr, 8)  # (the next page too if the store may cross into it)

    def lift(self, addr: int, length: int) -> bool:
        """Lift the protection of the pages of [addr, addr + length); True if there was any."""
        hit = False
        for page in range(addr >> PAGE_SHIFT, ((addr + max(length, 1) - 1) >> PAGE_SHIFT) + 1):
            if page in self.protected:
                self.protected.discard(page)
                self.dirty.add(page)
                self._set_writable(page, True)
                self.lifted += 1
                hit = True
        return hit

    # ---- fence.i ----
    def fence_i(self, also_drop: list[int]) -> list[int]:
        """A fence.i: drop the blocks of changed pages (and `also_drop`); returns the changed
        pages."""
        changed = []
        for page in self.dirty:
            start = page << PAGE_SHIFT
            if self.ram[start : start + PAGE_SIZE].tobytes() != self.pages[page][0]:
                changed.append(page)
            else:
                self._protect(page)
        self.dirty.clear()
        for page in changed:
            for number in self.pages.pop(page)[1]:
                self.cache.drop(number)
                self.dropped += 1
        for number in also_drop:
            self.cache.drop(number)
        return changed

    # ---- protection ----
    def _protect(self, page: int) -> None:
        if self.perm[page] & PERM_W:
            self.protected.add(page)
            self._set_writable(page, False)

    def _set_writable(self, page: int, writable: bool) -> None:
        """Set or clear PERM_W of `page`, and the pair bits of it and the page before (which
        describe their next page too: see ir.state)."""
        perm = self.perm
        perm[page] = perm[page] | PERM_W if writable else perm[page] & (0xFF ^ PERM_W)
        for q in (page - 1, page):
            if 0 <= q < perm.shape[0] - 1:
                both = perm[q] & perm[q + 1] & (PERM_R | PERM_W)
                perm[q] = (perm[q] & (0xFF ^ PAIR_BITS)) | (both << PERM_PAIR_SHIFT)

    def _forget(self) -> None:
        """Every block went: so do the pages and their protection."""
        for page in self.protected:
            self._set_writable(page, True)
        self.protected.clear()
        self.dirty.clear()
        self.pages.clear()
