"""The decoded-block cache (runtime/blockcache.py): its arrays grow, its hash table rehashes, every
block stays findable by pc, and flush forgets everything."""

from __future__ import annotations

import numpy as np
import pytest

from dbt.ir.builder import BlockBuilder
from dbt.ir.state import BLK_INSNS, BLK_OPS, BLK_PC, BLK_START, PAGE_SIZE
from dbt.runtime.blockcache import BlockCache


def make_block(pc: int, insns: int):
    """A block of `insns` 4-byte instructions at pc, each lifted to two ops."""
    builder = BlockBuilder(pc)
    for i in range(insns):
        builder.begin_insn(pc + 4 * i, 4)
        builder.emit("add_i", rd=5, rs1=5, imm=i + 1)
        builder.emit("xor", rd=6, rs1=5, rs2=7)
    return builder.finish(pc + 4 * insns)


def test_insert_grows_every_array_and_keeps_each_block_findable():
    cache = BlockCache(op_capacity=4, block_capacity=2, table_size=4)
    blocks = [make_block(0x10000 + 0x1000 * (i % 7) + 64 * i, 1 + i % 5) for i in range(300)]
    versions = [cache.version]
    for number, block in enumerate(blocks):
        arrays = (cache.code, cache.blocks, cache.keys)
        assert cache.insert(block) == number
        replaced = sum(new is not old for new, old in zip((cache.code, cache.blocks, cache.keys), arrays))
        # the version moves exactly when an array the kernel holds a pointer to was replaced
        assert cache.version == versions[-1] + replaced
        versions.append(cache.version)
    assert len(cache.code) >= sum(len(b.code) for b in blocks) > 4
    assert len(cache.blocks) >= 300 > 2
    assert len(cache.keys) >= 600 and len(cache.keys) & (len(cache.keys) - 1) == 0  # a power of two
    assert cache.version > 10
    assert cache.n_blocks == 300 and cache.total_decoded == 300
    assert cache.n_ops == sum(len(b.code) for b in blocks)
    for number, block in enumerate(blocks):
        assert cache.lookup(block.pc) == number
        row = cache.blocks[number]
        assert (row[BLK_PC], row[BLK_INSNS], row[BLK_OPS]) == (block.pc, block.insns, len(block.code))
        start = int(row[BLK_START])
        assert np.array_equal(cache.code[start : start + len(block.code)], block.code)
    assert cache.lookup(0x10002) == -1  # never inserted
    assert cache.lookup(0x9_0000_0000) == -1


def test_a_block_decoded_again_at_the_same_pc_replaces_the_old_one():
    cache = BlockCache()
    first = cache.insert(make_block(0x10000, 2))
    second = cache.insert(make_block(0x10000, 3))
    assert second != first and cache.lookup(0x10000) == second


def test_code_pages_and_overlaps_code():
    cache = BlockCache()
    cache.insert(make_block(0x10000, 4))
    cache.insert(make_block(0x20FF8, 4))  # crosses into the next page
    assert cache.code_pages == {0x10, 0x20, 0x21}
    assert cache.overlaps_code(0x10000, 0x10004)
    assert cache.overlaps_code(0x10FFF, 0x11000)
    assert not cache.overlaps_code(0x11000, 0x20000)
    assert cache.overlaps_code(0x21000, 0x21001)
    assert not cache.overlaps_code(0x22000, 0x22000 + PAGE_SIZE)
    # a range much larger than the set of code pages (checked the other way round)
    assert cache.overlaps_code(0, 1 << 40)
    assert not cache.overlaps_code(0x100000, 1 << 40)


def test_flush_forgets_every_block_but_keeps_the_totals():
    cache = BlockCache(op_capacity=4, block_capacity=2, table_size=4)
    calls = []
    cache.on_flush.append(lambda: calls.append(True))
    for i in range(10):
        cache.insert(make_block(0x10000 + 0x100 * i, 2))
    version, old_keys, old_code = cache.version, cache.keys, cache.code
    old_rows = old_code.copy()
    cache.flush()
    assert (cache.n_blocks, cache.n_ops, cache.code_pages) == (0, 0, set())
    assert all(cache.lookup(0x10000 + 0x100 * i) == -1 for i in range(10))
    assert not cache.overlaps_code(0x10000, 0x11000)
    assert cache.flushes == 1 and calls == [True]
    assert cache.total_decoded == 10
    # New arrays: a thread still inside its kernel on the old ones sees them unchanged.
    assert cache.version == version + 1 and cache.keys is not old_keys
    assert (old_keys != -1).sum() == 10 and (cache.keys == -1).all()
    assert cache.insert(make_block(0x30000, 1)) == 0  # numbering starts again
    assert cache.lookup(0x30000) == 0
    assert (old_code == old_rows).all()  # the insert went into the new arrays
    cache.flush()
    assert cache.flushes == 2


@pytest.mark.parametrize("step", [2, 4, 4096, 1 << 20])
def test_colliding_pcs_are_all_found(step):
    """pcs that hash to the same slot probe onwards; every one is still found."""
    cache = BlockCache(table_size=8)
    pcs = [0x10000 + step * i for i in range(40)]
    for pc in pcs:
        cache.insert(make_block(pc, 1))
    assert [cache.lookup(pc) for pc in pcs] == list(range(40))
