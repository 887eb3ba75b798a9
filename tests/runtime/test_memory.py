"""Guest memory: mappings, permissions, bulk access and the checks every access goes through."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dbt.errors import GuestFault
from dbt.ir.state import PERM_MAPPED, PERM_PAIR_SHIFT, PERM_R, PERM_W, PERM_X
from dbt.runtime.memory import (
    MMAP_MIN,
    MMAP_TOP,
    PAIR_BITS,
    PROT_EXEC,
    PROT_READ,
    PROT_WRITE,
    TASK_SIZE,
    GuestMemory,
    prot_to_perm,
)

PAGE = 4096


@pytest.fixture(scope="module")
def memory():
    return GuestMemory()


@pytest.fixture
def mem(memory):
    yield memory
    memory.unmap(0, memory.size)


def test_address_space_is_the_sv39_user_half(mem):
    assert mem.size == TASK_SIZE == 1 << 38
    assert len(mem.perm) == TASK_SIZE // PAGE


def test_prot_to_perm():
    assert prot_to_perm(0) == PERM_MAPPED
    assert prot_to_perm(PROT_READ) == PERM_MAPPED | PERM_R
    # Write implies read, as in RISC-V page tables.
    assert prot_to_perm(PROT_WRITE) == PERM_MAPPED | PERM_R | PERM_W
    assert prot_to_perm(PROT_EXEC) == PERM_MAPPED | PERM_X


def test_map_read_write_roundtrip(mem):
    mem.map(0x10000, 3 * PAGE, PROT_READ | PROT_WRITE, name="[test]")
    mem.write_slice(0x10000 + PAGE - 2, b"abcd")  # crosses a page boundary
    assert mem.read_slice(0x10000 + PAGE - 2, 4) == b"abcd"
    mem.write_u64(0x10008, 0x1122334455667788)
    assert mem.read_u64(0x10008) == 0x1122334455667788
    mem.write_u32(0x10010, -1)
    assert mem.read_u32(0x10010) == 0xFFFFFFFF


def test_fresh_mappings_read_zero_after_unmap(mem):
    mem.map(0x20000, PAGE, PROT_READ | PROT_WRITE)
    mem.write_slice(0x20000, b"\xff" * 16)
    mem.unmap(0x20000, PAGE)
    assert not mem.check(0x20000, 1, PERM_R)
    mem.map(0x20000, PAGE, PROT_READ | PROT_WRITE)
    assert mem.read_slice(0x20000, 16) == bytes(16)


@pytest.mark.parametrize("addr", [0, 0x1000, TASK_SIZE - 1, TASK_SIZE, 2**40, 2**63, -8])
def test_unmapped_and_outside_addresses_fault(mem, addr):
    with pytest.raises(GuestFault):
        mem.read_slice(addr, 8)
    with pytest.raises(GuestFault):
        mem.write_slice(addr, b"x")
    assert not mem.check(addr, 8, PERM_R)


def test_permissions_are_enforced(mem):
    mem.map(0x30000, PAGE, PROT_READ)
    assert mem.read_slice(0x30000, 4) == bytes(4)
    with pytest.raises(GuestFault):
        mem.write_slice(0x30000, b"x")
    mem.protect(0x30000, PAGE, PROT_READ | PROT_WRITE)
    mem.write_slice(0x30000, b"x")
    mem.protect(0x30000, PAGE, 0)
    with pytest.raises(GuestFault):
        mem.read_slice(0x30000, 1)
    # PROT_NONE pages are still mapped (SEGV_ACCERR rather than SEGV_MAPERR).
    assert mem.perm[0x30000 // PAGE] == PERM_MAPPED


def test_an_access_spanning_into_an_unmapped_page_faults(mem):
    mem.map(0x40000, PAGE, PROT_READ | PROT_WRITE)
    with pytest.raises(GuestFault):
        mem.read_slice(0x40000 + PAGE - 4, 8)


def test_protect_of_unmapped_range_fails(mem):
    mem.map(0x50000, PAGE, PROT_READ)
    assert not mem.protect(0x50000, 2 * PAGE, PROT_READ | PROT_WRITE)
    assert mem.protect(0x50000, PAGE, PROT_READ | PROT_WRITE)


def test_vmas_split_and_merge_on_partial_unmap_and_protect(mem):
    mem.map(0x100000, 4 * PAGE, PROT_READ | PROT_WRITE, name="[x]")
    mem.unmap(0x101000, PAGE)
    spans = [(v.start, v.end) for v in mem.vmas]
    assert spans == [(0x100000, 0x101000), (0x102000, 0x104000)]
    mem.protect(0x102000, PAGE, PROT_READ)
    prots = [(v.start, v.prot) for v in mem.vmas]
    assert prots == [(0x100000, 3), (0x102000, 1), (0x103000, 3)]
    assert mem.vma_at(0x102800).prot == PROT_READ
    assert mem.vma_at(0x101000) is None


def test_find_free_is_top_down_below_mmap_top(mem):
    first = mem.find_free(PAGE)
    assert first == MMAP_TOP - PAGE
    mem.map(first, PAGE, PROT_READ)
    assert mem.find_free(2 * PAGE) == first - 2 * PAGE
    assert mem.is_free(first - PAGE, PAGE)
    assert not mem.is_free(first, PAGE)


def test_find_free_gives_up_when_the_space_is_full(mem):
    assert mem.find_free(MMAP_TOP) is None
    assert mem.find_free(MMAP_TOP - MMAP_MIN) == MMAP_MIN


def test_read_cstr(mem):
    mem.map(0x60000, 2 * PAGE, PROT_READ | PROT_WRITE)
    mem.write_slice(0x60000 + PAGE - 3, b"abcdef\0")
    assert mem.read_cstr(0x60000 + PAGE - 3) == b"abcdef"
    mem.write_slice(0x60000 + 2 * PAGE - 4, b"xyzw")  # no terminator before the end of the mapping
    with pytest.raises(GuestFault):
        mem.read_cstr(0x60000 + 2 * PAGE - 4)


def test_view_is_zero_copy(mem):
    mem.map(0x70000, PAGE, PROT_READ | PROT_WRITE)
    view = mem.view(0x70000, 16, writable=True)
    view[:] = np.arange(16, dtype=np.uint8)
    assert mem.read_slice(0x70000, 16) == bytes(range(16))


def test_fetch_needs_exec_permission(mem):
    mem.map(0x80000, PAGE, PROT_READ | PROT_EXEC)
    mem.poke(0x80000, b"\x13\x05\x55\x00")
    assert mem.fetch(0x80000, 4) == b"\x13\x05\x55\x00"
    # The window stops where execute permission ends.
    assert len(mem.fetch(0x80000 + PAGE - 2, 16)) == 2
    mem.map(0x90000, PAGE, PROT_READ)
    assert mem.fetch(0x90000, 2) == b""


def test_code_change_callbacks(mem):
    seen = []
    mem.on_code_change.append(lambda start, end: seen.append((start, end)))
    try:
        mem.map(0xA0000, PAGE, PROT_READ | PROT_EXEC)
        mem.protect(0xA0000, PAGE, PROT_READ)
        mem.map(0xB0000, PAGE, PROT_READ | PROT_EXEC)
        mem.unmap(0xB0000, PAGE)
        mem.map(0xC0000, PAGE, PROT_READ)
        mem.unmap(0xC0000, PAGE)
    finally:
        mem.on_code_change.pop()
    assert seen == [(0xA0000, 0xA1000), (0xB0000, 0xB1000)]


def test_zero_returns_large_ranges_to_zero(mem):
    mem.map(0x200000, 64 * PAGE, PROT_READ | PROT_WRITE)
    mem.write_slice(0x200000, b"\x01" * (64 * PAGE))
    mem.zero(0x200010, 62 * PAGE)
    data = mem.read_slice(0x200000, 64 * PAGE)
    assert data[:16] == b"\x01" * 16
    assert data[16 : 16 + 62 * PAGE] == bytes(62 * PAGE)
    assert data[16 + 62 * PAGE :] == b"\x01" * (2 * PAGE - 16)


def _pair_bits_from_scratch(perm: np.ndarray) -> np.ndarray:
    rights = perm & (PERM_R | PERM_W)
    pairs = np.zeros_like(perm)
    pairs[:-1] = (rights[:-1] & rights[1:]) << PERM_PAIR_SHIFT
    return pairs


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["map", "protect", "unmap"]),
            st.integers(0, 12),
            st.integers(1, 4),
            st.sampled_from([0, PROT_READ, PROT_READ | PROT_WRITE, PROT_WRITE | PROT_EXEC]),
        ),
        max_size=12,
    )
)
def test_pair_bits_always_describe_each_page_and_the_next(memory, ops):
    """The fast memory check trusts PERM_*_PAIR; every mapping change must keep them exact,
    at both ends of the changed range and at the top of the address space."""
    memory.unmap(0, memory.size)
    top = memory.size - 8 * PAGE
    for kind, page, pages, prot in ops:
        for base in (0x10000, top):
            start = base + page * PAGE
            length = min(pages * PAGE, memory.size - start)
            if kind == "map":
                memory.map(start, length, prot)
            elif kind == "protect":
                memory.protect(start, length, prot)
            else:
                memory.unmap(start, length)
    for lo in (0x10000 // PAGE - 1, top // PAGE - 1):
        window = memory.perm[lo : lo + 20]
        expected = _pair_bits_from_scratch(memory.perm[lo : lo + 21])[: len(window)]
        assert np.array_equal(window & PAIR_BITS, expected)
    memory.unmap(0, memory.size)


def _exact(perm: np.ndarray, addr: int, size: int, need: int) -> bool:
    if addr < 0 or addr + size > len(perm) * PAGE:
        return False
    return all(perm[p] & need == need for p in range(addr // PAGE, (addr + size - 1) // PAGE + 1))


def test_mem_ok_agrees_with_an_exact_check_around_page_edges(mem):
    """semantics.mem_ok (the check every tier makes) takes a one-byte fast path on the pair
    bits; near guard pages, read-only pages and the top of the space it must still be exact, and
    the fast check alone (what the JIT inlines) may say "ask the exact one" but never "allowed"
    where the access is not."""
    from dbt.ir.semantics import mem_ok, mem_ok_fast

    mem.map(0x10000, 2 * PAGE, PROT_READ | PROT_WRITE)
    mem.map(0x12000, PAGE, PROT_READ)
    mem.map(0x14000, PAGE, PROT_READ | PROT_WRITE)
    mem.map(mem.size - PAGE, PAGE, PROT_READ | PROT_WRITE)
    perm = mem.perm
    edges = [0x10000, 0x11000, 0x12000, 0x13000, 0x14000, 0x15000, mem.size - PAGE, mem.size]
    addrs = sorted({e + d for e in edges for d in range(-9, 9)} | {-8, -1, 1 << 63, (1 << 64) - 4})
    for addr in addrs:
        for size in (1, 2, 4, 8):
            for need in (PERM_R, PERM_W, PERM_R | PERM_W):
                signed = addr - (1 << 64) if addr >= 1 << 63 else addr
                exact = _exact(perm, addr, size, need)
                where = (hex(addr), size, need)
                assert mem_ok(perm, np.int64(signed), size, need) == exact, where
                assert exact or not mem_ok_fast(perm, np.int64(signed), size, need), where


def test_views_check_each_range_as_view_does(mem):
    """Several ranges at once (a device's buffers): within a page, across pages, protected
    pages (system mode lifts its own write protection of code through on_protected_write)."""
    base = 0x80000
    mem.map(base, 4 * PAGE, PROT_READ | PROT_WRITE)
    mem.protect(base + 3 * PAGE, PAGE, PROT_READ)
    ranges = [(base + 8, 100), (base + PAGE - 4, 8), (base + 2 * PAGE, PAGE)]
    views = mem.views(ranges, writable=True)
    for view, (addr, length) in zip(views, ranges, strict=True):
        view[:] = np.full(length, addr & 0xFF, dtype=np.uint8)  # (memoryview or numpy)
        assert mem.read_slice(addr, length) == bytes([addr & 0xFF]) * length
    assert bytes(mem.views([(base + 3 * PAGE, 4)])[0]) == bytes(4)  # readable
    lifted = []
    mem.on_protected_write = lambda addr, length: lifted.append(addr) or False
    try:
        for bad in [
            (base + 3 * PAGE, 4),
            (base + 4 * PAGE - 2, 4),
            (base + 4 * PAGE, 1),
            (-8, 4),
            (mem.size - 2, 4),
        ]:
            with pytest.raises(GuestFault):
                mem.views([(base, 4), bad], writable=True)
    finally:
        mem.on_protected_write = None
    assert base + 3 * PAGE in lifted  # asked before it refused
    assert mem.views([]) == [] and len(mem.views([(base, 0)])[0]) == 0
