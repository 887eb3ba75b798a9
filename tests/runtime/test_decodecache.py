"""The cache of lifted blocks by their bytes (runtime/decodecache.py): a block is reused only
where the code fetched now is what it was lifted from, and the file it saves is read back, or
ignored when damaged."""

from __future__ import annotations

import io
import logging

import numpy as np
import pytest

from dbt.frontends.riscv64.translate import FetchFault, lift_block
from dbt.runtime import decodecache
from dbt.runtime.decodecache import DecodeCache, cache_path

PC = 0x8000_1000
ADDI = (0x00128293).to_bytes(4, "little")  # addi t0, t0, 1
ADDI2 = (0x00228293).to_bytes(4, "little")  # addi t0, t0, 2
JAL = (0x0000006F).to_bytes(4, "little")  # j . (ends the block)
ILLEGAL = bytes(4)  # 0x0000: the defined illegal instruction
MAX = 8


def fetcher(code: bytes):
    return lambda pc, size: code[:size]


def same(a, b) -> bool:
    return (a.pc, a.insns, a.end_pc) == (b.pc, b.insns, b.end_pc) and np.array_equal(a.code, b.code)


def test_a_block_is_reused_where_its_bytes_are_found_again_whatever_follows():
    cache = DecodeCache(MAX, None)
    first = cache.translate(fetcher(ADDI + JAL + ADDI), PC)
    assert same(first, lift_block(ADDI + JAL, PC, MAX).block)
    again = cache.translate(fetcher(ADDI + JAL + ADDI2 + ILLEGAL), PC)  # (not part of the block)
    assert again is first
    assert (cache.lifted, cache.reused) == (1, 1)


def test_other_bytes_at_the_same_pc_are_lifted_again():
    cache = DecodeCache(MAX, None)
    cache.translate(fetcher(ADDI + JAL), PC)
    changed = cache.translate(fetcher(ADDI2 + JAL), PC)
    assert same(changed, lift_block(ADDI2 + JAL, PC, MAX).block)
    assert cache.lifted == 2
    assert cache.translate(fetcher(ADDI + JAL), PC + 4).pc == PC + 4  # and another pc


def test_an_illegal_instruction_is_part_of_what_must_match():
    """The trap block retires nothing (its end is its pc), but it was decoded from the
    illegal word: valid code at that pc later must not find it."""
    cache = DecodeCache(MAX, None)
    trap = cache.translate(fetcher(ILLEGAL + JAL), PC)
    assert trap.end_pc == PC and lift_block(ILLEGAL + JAL, PC, MAX).examined == 2
    valid = cache.translate(fetcher(ADDI + JAL), PC)
    assert same(valid, lift_block(ADDI + JAL, PC, MAX).block)


def test_a_block_cut_where_the_fetch_ended_matches_only_the_same_fetch():
    cache = DecodeCache(MAX, None)
    cut = cache.translate(fetcher(ADDI), PC)
    assert lift_block(ADDI, PC, MAX).fetch_limited and cut.insns == 1
    longer = cache.translate(fetcher(ADDI + JAL), PC)
    assert longer.insns == 2
    assert cache.translate(fetcher(ADDI), PC) is cut


def test_nothing_fetchable_is_a_fetch_fault():
    with pytest.raises(FetchFault):
        DecodeCache(MAX, None).translate(fetcher(b""), PC)


def test_rows_leave_the_others_illegal():
    block = DecodeCache(MAX, {"jal"}).translate(fetcher(ADDI + JAL), PC)
    assert block.insns == 1 and block.end_pc == PC  # addi is not among the rows: a trap


def test_the_saved_file_is_read_back_and_still_checked(tmp_path, monkeypatch):
    monkeypatch.setattr(decodecache, "SAVE_AT_LEAST", 0)
    path = tmp_path / "decoded.npz"
    codes = {PC + 0x40 * i: (ADDI2 * i + ADDI + JAL) for i in range(5)}
    codes[PC + 0x400] = ADDI  # fetch-limited
    codes[PC + 0x800] = ILLEGAL
    writer = DecodeCache(MAX, None, path)
    lifted = {pc: writer.translate(fetcher(code), pc) for pc, code in codes.items()}
    writer.save()
    reader = DecodeCache(MAX, None, path)
    assert reader.loaded == len(codes)
    for pc, code in codes.items():
        assert same(reader.translate(fetcher(code + ADDI), pc) if pc != PC + 0x400 else
                    reader.translate(fetcher(code), pc), lifted[pc])  # fmt: skip
    assert (reader.lifted, reader.reused) == (0, len(codes))
    assert reader.translate(fetcher(ADDI + ADDI), PC + 0x400).insns == 2  # longer fetch: lifted
    valid = lift_block(ADDI + JAL, PC + 0x800, MAX).block
    assert same(reader.translate(fetcher(ADDI + JAL), PC + 0x800), valid)
    assert reader.translate(fetcher(ADDI2 + JAL), PC).insns == 2 and reader.lifted == 3
    # a second generation keeps the first one's blocks and adds the new ones
    reader.save()
    third = DecodeCache(MAX, None, path)
    assert third.loaded == len(codes) + 3


def test_a_run_that_lifted_few_blocks_leaves_the_file_as_it_was(tmp_path):
    path = tmp_path / "decoded.npz"
    cache = DecodeCache(MAX, None, path)
    cache.translate(fetcher(ADDI + JAL), PC)
    cache.save()
    assert not path.exists()


def _npz(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"not a zip file at all",
        _npz(index=np.zeros((1, 8), dtype=np.int64)),  # arrays missing
        _npz(index=np.array([[PC, 0, 5, 1, PC + 4, 0, 4, 0]]), code=np.zeros((2, 4), np.int64),
             blob=np.frombuffer(ADDI, np.uint8)),  # ops past the end of code
        _npz(index=np.array([[PC, 0, 1, 1, PC + 4, 0, 0, 0]]), code=np.zeros((1, 4), np.int64),
             blob=np.zeros(0, np.uint8)),  # nothing to match: it would match anything
        _npz(index=np.zeros((1, 7), dtype=np.int64), code=np.zeros((1, 4), np.int64),
             blob=np.zeros(4, np.uint8)),  # wrong shape
    ],
    ids=["empty", "garbage", "missing", "past-end", "empty-match", "shape"],
)  # fmt: skip
def test_a_damaged_file_is_ignored_with_a_warning(tmp_path, caplog, content):
    path = tmp_path / "decoded.npz"
    path.write_bytes(content)
    with caplog.at_level(logging.WARNING, logger="dbt.decode"):
        cache = DecodeCache(MAX, None, path)
    assert cache.loaded == 0
    assert "decoded-block cache" in caplog.text
    assert same(cache.translate(fetcher(ADDI + JAL), PC), lift_block(ADDI + JAL, PC, MAX).block)


def test_a_truncated_file_is_ignored(tmp_path, caplog, monkeypatch):
    monkeypatch.setattr(decodecache, "SAVE_AT_LEAST", 0)
    path = tmp_path / "decoded.npz"
    writer = DecodeCache(MAX, None, path)
    writer.translate(fetcher(ADDI + JAL), PC)
    writer.save()
    path.write_bytes(path.read_bytes()[:-100])
    with caplog.at_level(logging.WARNING, logger="dbt.decode"):
        assert DecodeCache(MAX, None, path).loaded == 0
    assert "damaged" in caplog.text


def test_the_file_name_follows_the_decoder_settings_and_the_images(tmp_path):
    image = tmp_path / "kernel"
    image.write_bytes(b"one")
    base = cache_path(MAX, {"addi"}, [str(image), None])
    assert cache_path(MAX, {"addi"}, [str(image)]) == base
    assert cache_path(MAX + 1, {"addi"}, [str(image)]) != base
    assert cache_path(MAX, {"addi", "jal"}, [str(image)]) != base
    image.write_bytes(b"other")
    assert cache_path(MAX, {"addi"}, [str(image)]) != base


def test_a_file_that_would_grow_past_the_cap_keeps_only_the_newest_run(tmp_path, monkeypatch):
    monkeypatch.setattr(decodecache, "SAVE_AT_LEAST", 0)
    monkeypatch.setattr(decodecache, "MAX_BLOCKS", 3)
    path = tmp_path / "decoded.npz"
    first = DecodeCache(MAX, None, path)
    for pc in (PC, PC + 0x40):
        first.translate(fetcher(ADDI + JAL), pc)
    first.save()
    second = DecodeCache(MAX, None, path)
    assert second.loaded == 2
    for pc in (PC + 0x80, PC + 0xC0):
        second.translate(fetcher(ADDI2 + JAL), pc)
    second.save()
    third = DecodeCache(MAX, None, path)
    assert third.loaded == 2
    assert same(
        third.translate(fetcher(ADDI2 + JAL), PC + 0x80), lift_block(ADDI2 + JAL, PC + 0x80, MAX).block
    )
    assert (third.lifted, third.reused) == (0, 1)
    third.translate(fetcher(ADDI + JAL), PC)  # (the first run's: gone)
    assert third.lifted == 1


def test_a_page_finds_the_file_blocks_its_bytes_still_hold(tmp_path, monkeypatch):
    """in_page gives what translate would find one miss at a time, and no more: not a block
    whose bytes changed, one cut where its fetch ended, or one running into the next page."""
    monkeypatch.setattr(decodecache, "SAVE_AT_LEAST", 0)
    path = tmp_path / "decoded.npz"
    page = bytearray(4096)
    blocks = {0x100: ADDI + JAL, 0x200: ADDI2 + ADDI + JAL, 0x300: ADDI + JAL, 0xFFC: ADDI + JAL}
    writer = DecodeCache(MAX, None, path)
    for offset, code in blocks.items():
        page[offset : offset + len(code)] = code[: 4096 - offset]
        writer.translate(fetcher(code), PC + offset)
    writer.translate(fetcher(ADDI), PC + 0x400)  # cut short by its fetch: must match exactly
    page[0x400:0x404] = ADDI
    writer.translate(fetcher(ADDI + JAL), PC + 0x1000)  # the next page
    writer.save()
    page[0x300:0x304] = ADDI2  # changed since
    reader = DecodeCache(MAX, None, path)
    found = reader.in_page(PC, bytes(page))
    assert [pc - PC for pc, _, _, _ in found] == [0x100, 0x200]
    for pc, code, insns, end_pc in found:
        reference = lift_block(blocks[pc - PC], pc, MAX).block
        assert (insns, end_pc) == (reference.insns, reference.end_pc)
        assert np.array_equal(code, reference.code)
    assert reader.reused == 2
