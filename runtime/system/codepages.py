"""Which decoded blocks a fence.i must drop in system mode: those whose instruction bytes changed.

Linux executes fence.i after every patch of its own text (static keys, alternatives) and before
running pages it has just filled; dropping every decoded block each time made the boot spend
most of its time decoding the same code again. Instead, the RAM page under each decoded block
is kept as it was when decoded, and a fence.i compares: only the blocks of pages whose bytes
differ go (and the one-instruction blocks that span two pages). Compiled regions may hold code
of several pages, so while any region is installed a change still drops everything.
Stage: runtime (system mode).
"""

from __future__ import annotations

import numpy as np

from dbt.ir.state import PAGE_SHIFT, PAGE_SIZE
from dbt.runtime.blockcache import BlockCache


class CodePages:
    def __init__(self, ram: np.ndarray, cache: BlockCache) -> None:
        self.ram = ram
        self.cache = cache
        #: Physical page -> (its bytes when first decoded from, the blocks decoded from it).
        self.pages: dict[int, tuple[bytes, list[int]]] = {}
        self.dropped = 0
        cache.on_flush.append(self.pages.clear)

    def add(self, number: int, phys: int, length: int) -> None:
        """Block `number` was decoded from the `length` bytes at physical `phys`."""
        for page in range(phys >> PAGE_SHIFT, ((phys + max(length, 1) - 1) >> PAGE_SHIFT) + 1):
            entry = self.pages.get(page)
            if entry is None:
                start = page << PAGE_SHIFT
                entry = self.pages[page] = (self.ram[start : start + PAGE_SIZE].tobytes(), [])
            entry[1].append(number)

    def changed(self) -> list[int]:
        """Pages whose bytes differ from when their blocks were decoded."""
        ram = self.ram
        return [
            page
            for page, (saved, _) in self.pages.items()
            if ram[page << PAGE_SHIFT : (page + 1) << PAGE_SHIFT].tobytes() != saved
        ]

    def fence_i(self, regions_installed: bool, also_drop: list[int]) -> None:
        """A fence.i: drop the blocks of changed pages (and `also_drop`), or all blocks when
        compiled regions exist and something changed."""
        pages = self.changed()
        if not pages and not also_drop:
            return
        if pages and regions_installed:
            self.cache.flush()
            return
        for page in pages:
            for number in self.pages.pop(page)[1]:
                self.cache.drop(number)
                self.dropped += 1
        for number in also_drop:
            self.cache.drop(number)
