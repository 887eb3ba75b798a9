"""The decoded-block cache (runtime/blockcache.py): its arrays grow, its hash table rehashes, every
block stays findable by pc, and flush forgets everything."""

from __future__ import annotations

import numpy as np
import pytest

from dbt.ir.builder import BlockBuilder
from dbt.ir.state import BLK_INSNS, BLK_OPS, BLK_PC, BLK_START, OP_WORDS, PAGE_SIZE, block_slot
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


def _probes(cache: BlockCache, pc: int) -> int:
    """How many slots a lookup of `pc` reads (as the kernels' loop does)."""
    mask, slot, count = len(cache.keys) - 1, block_slot(pc, len(cache.keys) - 1), 1
    while cache.keys[slot] not in (-1, pc):
        slot, count = (slot + 1) & mask, count + 1
    return count


def test_code_at_addresses_a_table_span_apart_does_not_pile_up():
    """The same offset in 64 mappings 2 MiB apart (the table's span, at 2 bytes a slot, divides
    it): a pc-as-index table put them all in one run of slots; the hash spreads them."""
    cache = BlockCache(table_size=1 << 10)
    pcs = [0x4000_0000 + 0x20_0000 * i + 0x1234 for i in range(64)]
    for pc in pcs:
        cache.insert(make_block(pc, 2))
    probes = [_probes(cache, pc) for pc in pcs]
    assert max(probes) <= 4 and all(cache.lookup(pc) >= 0 for pc in pcs)


def test_code_decoded_again_at_one_pc_reuses_its_dropped_slot():
    """An instruction straddling two pages is dropped at every sfence.vma and decoded again:
    the table keeps one slot for it, not one per decoding."""
    cache = BlockCache(table_size=1 << 12)
    neighbours = [cache.insert(make_block(0x8021_6000 + 16 * i, 2)) for i in range(8)]
    number = cache.insert(make_block(0x8021_6FFE, 1))
    for _ in range(3000):
        cache.drop(number)
        number = cache.insert(make_block(0x8021_6FFE, 1))
    assert cache.lookup(0x8021_6FFE) == number and cache.dropped_slots == 0
    assert int((cache.keys == 0x8021_6FFE).sum()) == 1
    assert _probes(cache, 0x8021_6FFE) <= 2
    assert [cache.lookup(0x8021_6000 + 16 * i) for i in range(8)] == neighbours
    # Another physical address for the same pc (another mapping) gets a slot of its own.
    other = cache.insert(make_block(0x8021_6FFE, 1), phys=0x9000_0FFE)
    assert cache.lookup(0x8021_6FFE, 0x9000_0FFE) == other and cache.lookup(0x8021_6FFE) == number


def test_dropped_blocks_are_rehashed_away_and_the_rest_stay_findable():
    cache = BlockCache(table_size=1 << 10)
    numbers = [cache.insert(make_block(0x40_0000 + 16 * i, 2)) for i in range(400)]
    size, version = len(cache.keys), cache.version
    for number in numbers[:300:2]:  # 150 dropped: fewer than a quarter of the 1024 slots
        cache.drop(number)
    assert cache.version == version and cache.dropped_slots == 150
    for number in numbers[:300:2]:
        cache.drop(number)  # twice: counted once
    assert cache.dropped_slots == 150
    for number in numbers[1:300:2] + numbers[300:]:
        cache.drop(number)  # 250 more: the table is rebuilt when 257 are dropped
    assert cache.version == version + 1 and len(cache.keys) == size
    assert cache.dropped_slots == 400 - 257
    live = make_block(0x40_0000, 2)
    number = cache.insert(live)
    assert cache.lookup(0x40_0000) == number
    assert all(cache.lookup(0x40_0000 + 16 * i) == -1 for i in range(1, 400))


def test_inserting_many_blocks_at_once_is_inserting_them_one_by_one():
    from dbt.ir.builder import Block

    one_by_one, at_once = BlockCache(8, 2, 4), BlockCache(8, 2, 4)  # (both must grow)
    blocks = [
        (0x1000 + 0x10 * i, np.arange(OP_WORDS * (i + 1), dtype=np.int64).reshape(i + 1, OP_WORDS), i + 1,
         0x1004 + 0x10 * i + (0xFFC if i == 3 else 0))  # (the last one runs into the next page)
        for i in range(4)
    ]  # fmt: skip
    phys = [0x8000 + 0x10 * i for i in range(4)]
    for (pc, code, insns, end_pc), at in zip(blocks, phys, strict=True):
        one_by_one.insert(Block(pc, code, insns, end_pc, []), at)
    assert at_once.insert_many(blocks, phys) == range(4)
    for name in ("code", "blocks"):
        a, b = getattr(one_by_one, name), getattr(at_once, name)
        assert np.array_equal(
            a[: one_by_one.n_ops if name == "code" else 4], b[: at_once.n_ops if name == "code" else 4]
        )
    assert one_by_one.code_pages == at_once.code_pages == {1, 2}
    for (pc, _, _, _), at, number in zip(blocks, phys, range(4), strict=True):
        assert at_once.lookup(pc, at) == number
    assert (at_once.n_blocks, at_once.total_decoded) == (4, 4)
