"""The decoded-block cache: encoded IR of every block decoded so far, and the pc lookup table.

Held in numpy arrays the dispatcher kernel reads directly: `code` (the ops of all blocks, one
row each), `blocks` (one row per block: first op, op count, guest pc, instruction count) and an
open-addressing hash table from guest pc to block number (`keys` -1 = empty slot). Python only
appends on a miss and starts afresh when guest code changes.

Guest threads run kernels on these arrays while another thread inserts: an entry is complete
before its key appears (value, then key), and a flush or a growth replaces the arrays instead
of changing rows in use, so a thread inside the kernel keeps a consistent (if old) view until
it returns to Python and picks up `version`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np

from dbt.ir.builder import Block
from dbt.ir.state import (
    BLK_HEAT,
    BLK_INSNS,
    BLK_JIT,
    BLK_OPS,
    BLK_PC,
    BLK_PHYS,
    BLK_START,
    BLK_WORDS,
    OP_WORDS,
    PAGE_SHIFT,
    block_slot,
)

log = logging.getLogger("dbt.cache")


class BlockCache:
    def __init__(self, op_capacity: int = 1 << 16, block_capacity: int = 1 << 13, table_size: int = 1 << 15):
        self._sizes = (op_capacity, block_capacity, table_size)
        self._allocate()
        self.n_ops = 0
        self.n_blocks = 0
        #: Guest pages holding decoded instructions (to know when a change needs a flush).
        self.code_pages: set[int] = set()
        #: Blocks decoded over the whole run (survives flushes), for --stats.
        self.total_decoded = 0
        self.flushes = 0
        #: Bumped whenever an array is replaced, so callers holding raw pointers refresh them.
        self.version = 0
        #: Compiled code for a block's (pc, physical address) (the JIT's L1), consulted when a
        #: block is (re)decoded.
        self.region_for: Callable[[int, int], int] = lambda pc, phys: 0
        #: Called when every decoded block is dropped.
        self.on_flush: list[Callable[[], None]] = []

    def _allocate(self) -> None:
        op_capacity, block_capacity, table_size = self._sizes
        self.dropped_slots = 0
        self.code = np.zeros((op_capacity, OP_WORDS), dtype=np.int64)
        self.blocks = np.zeros((block_capacity, BLK_WORDS), dtype=np.int64)
        self.keys = np.full(table_size, -1, dtype=np.int64)
        self.values = np.zeros(table_size, dtype=np.int64)

    def insert(self, block: Block, phys: int | None = None) -> int:
        """Add a decoded block; returns its number. `phys` is the physical address of its first
        instruction where that is not its pc (system mode under translation): the kernels find
        the block only when the pc translates there, so a changed mapping never runs it."""
        n = len(block.code)
        self._make_room(n, 1)
        self.code[self.n_ops : self.n_ops + n] = block.code
        number = self.n_blocks
        row = self.blocks[number]
        row[BLK_START] = self.n_ops
        row[BLK_OPS] = n
        row[BLK_PC] = block.pc
        row[BLK_INSNS] = block.insns
        row[BLK_HEAT] = 0
        row[BLK_PHYS] = block.pc if phys is None else phys
        row[BLK_JIT] = self.region_for(block.pc, int(row[BLK_PHYS]))
        self.n_ops += n
        self.n_blocks += 1
        self._put(block.pc, number)
        self._add_code_pages(block.pc, block.end_pc)
        self.total_decoded += 1
        return number

    def insert_many(self, blocks: list[tuple[int, np.ndarray, int, int]], phys: list[int]) -> range:
        """Add decoded blocks given as (pc, ops, instructions, end pc), at physical `phys` each,
        as insert would one by one, with one copy of their ops and of their rows; returns their
        numbers."""
        count = len(blocks)
        codes = [code for _, code, _, _ in blocks]
        sizes = [len(code) for code in codes]
        total = sum(sizes)
        self._make_room(total, count)
        pcs = [pc for pc, _, _, _ in blocks]
        first = self.n_blocks
        self.code[self.n_ops : self.n_ops + total] = np.concatenate(codes)
        rows = self.blocks[first : first + count]
        rows[:, BLK_START] = self.n_ops + np.cumsum([0, *sizes[:-1]])
        rows[:, BLK_OPS] = sizes
        rows[:, BLK_PC] = pcs
        rows[:, BLK_INSNS] = [insns for _, _, insns, _ in blocks]
        rows[:, BLK_HEAT] = 0
        rows[:, BLK_PHYS] = phys
        rows[:, BLK_JIT] = [self.region_for(pc, at) for pc, at in zip(pcs, phys, strict=True)]
        self.n_ops += total
        self.n_blocks += count
        for number, (pc, _, _, end_pc) in enumerate(blocks, first):
            self._put(pc, number)
            self._add_code_pages(pc, end_pc)
        self.total_decoded += count
        return range(first, first + count)

    def _make_room(self, ops: int, blocks: int) -> None:
        """Grow the arrays (and the hash table, kept at most half full) for `ops` more ops in
        `blocks` more blocks; each replacement bumps `version`."""
        if self.n_ops + ops > len(self.code):
            self.code = _grow(self.code, self.n_ops + ops)
            self.version += 1
        if self.n_blocks + blocks > len(self.blocks):
            self.blocks = _grow(self.blocks, self.n_blocks + blocks)
            self.version += 1
        while 2 * (self.n_blocks + blocks) > len(self.keys):
            self._rehash(2 * len(self.keys))
            self.version += 1

    def _add_code_pages(self, pc: int, end_pc: int) -> None:
        self.code_pages.update(range(pc >> PAGE_SHIFT, ((end_pc - 1) >> PAGE_SHIFT) + 1))

    def lookup(self, pc: int, phys: int | None = None) -> int:
        """The number of the block at `pc` (at physical `phys`, when given), or -1."""
        return self._find(pc, pc if phys is None else phys)[1]

    def _find(self, pc: int, phys: int) -> tuple[int, int]:
        """(slot, block number) of the block at (pc, phys), or (the empty slot ending the
        probe, -1). Blocks of one pc at several physical addresses (one program's code at an
        address another maps elsewhere) each have their own slot."""
        mask = len(self.keys) - 1
        slot = block_slot(pc, mask)
        while True:
            key = int(self.keys[slot])
            if key == -1:
                return slot, -1
            number = int(self.values[slot])
            if key == pc and int(self.blocks[number, BLK_PHYS]) == phys:
                return slot, number
            slot = (slot + 1) & mask

    def _put(self, pc: int, number: int) -> None:
        """Enter block `number` at `pc`: in the slot of a block it replaces (same pc and
        physical address), else in that of a dropped block of the same pc, else in the empty
        slot ending the probe. Reusing the dropped block's slot matters: code decoded again
        and again at one pc (an instruction straddling two pages, dropped at every sfence.vma)
        otherwise left a run of thousands of dead slots that every lookup nearby walked."""
        mask = len(self.keys) - 1
        slot = block_slot(pc, mask)
        phys = int(self.blocks[number, BLK_PHYS])
        dead = -1
        while True:
            key = int(self.keys[slot])
            if key == -1:
                break
            if key == pc:
                old = int(self.blocks[int(self.values[slot]), BLK_PHYS])
                if old == phys:
                    self.values[slot] = number  # (a kernel reading it finds the old or the new)
                    return
                if old == -1 and dead == -1:
                    dead = slot
            slot = (slot + 1) & mask
        if dead != -1:
            self.values[dead] = number
            self.dropped_slots -= 1
            return
        self.values[slot] = number
        self.keys[slot] = pc  # last: a kernel that finds the key finds its value

    def _rehash(self, size: int) -> None:
        self.dropped_slots = 0
        self.keys = np.full(size, -1, dtype=np.int64)
        self.values = np.zeros(size, dtype=np.int64)
        for number in range(self.n_blocks):
            if self.blocks[number, BLK_PHYS] != -1:
                self._put(int(self.blocks[number, BLK_PC]), number)

    def drop(self, number: int) -> None:
        """Take one block out of the lookup. Its slot stays, matching nothing, until the table
        is rebuilt: once dropped blocks hold a quarter of it (probes walk past them)."""
        if self.blocks[number, BLK_PHYS] == -1:
            return
        self.blocks[number, BLK_PHYS] = -1
        self.dropped_slots += 1
        if 4 * self.dropped_slots > len(self.keys):
            self._rehash(len(self.keys))
            self.version += 1

    def overlaps_code(self, start: int, end: int) -> bool:
        first, last = start >> PAGE_SHIFT, (end - 1) >> PAGE_SHIFT
        if last - first > len(self.code_pages):
            return any(first <= page <= last for page in self.code_pages)
        return any(page in self.code_pages for page in range(first, last + 1))

    def flush(self) -> None:
        """Forget every decoded block (guest code changed)."""
        if self.n_blocks:
            log.debug("flushing %d decoded blocks", self.n_blocks)
        self._allocate()
        self.version += 1
        self.n_ops = 0
        self.n_blocks = 0
        self.code_pages.clear()
        self.flushes += 1
        for callback in self.on_flush:
            callback()


def _grow(array: np.ndarray, needed: int) -> np.ndarray:
    size = len(array)
    while size < needed:
        size *= 2
    bigger = np.zeros((size, array.shape[1]), dtype=array.dtype)
    bigger[: len(array)] = array
    return bigger
