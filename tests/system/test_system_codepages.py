"""System mode's fence.i bookkeeping (dbt.runtime.system.codepages): pages of decoded code are
write-protected; a store from the kernels or a write from Python (DMA) lifts the protection; a
fence.i drops the blocks of the pages whose bytes changed and protects the others again.
(End to end against QEMU: the paging guest's rewritten-code cases in test_system_boot.py.)"""

from __future__ import annotations

import numpy as np
import pytest

from dbt.errors import GuestFault
from dbt.ir.builder import BlockBuilder
from dbt.ir.state import PAGE_SIZE, PERM_R_PAIR, PERM_W, PERM_W_PAIR
from dbt.runtime.blockcache import BlockCache
from dbt.runtime.memory import PROT_EXEC, PROT_READ, PROT_WRITE, GuestMemory
from dbt.runtime.system.codepages import CodePages

BASE = 0x10_0000
PAGE = BASE >> 12


def _block(pc: int):
    b = BlockBuilder(pc)
    b.emit("jal", imm=pc, extra=pc + 4)
    return b.finish(pc + 4)


@pytest.fixture()
def setup():
    memory = GuestMemory(BASE + 4 * PAGE_SIZE)
    memory.map(BASE, 4 * PAGE_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC)
    cache = BlockCache()
    pages = CodePages(memory, cache)
    numbers = [cache.insert(_block(pc), pc) for pc in (BASE + 0x10, BASE + PAGE_SIZE + 0x20)]
    pages.add(numbers[0], BASE + 0x10, 4)
    pages.add(numbers[1], BASE + PAGE_SIZE + 0x20, 4)
    return memory, cache, pages, numbers


def test_code_pages_lose_write_permission_and_their_neighbours_pair_bits(setup):
    memory, _, pages, _ = setup
    perm = memory.perm
    assert not perm[PAGE] & PERM_W and not perm[PAGE + 1] & PERM_W and perm[PAGE + 2] & PERM_W
    assert not perm[PAGE - 1] & PERM_W_PAIR and not perm[PAGE + 1] & PERM_W_PAIR
    assert perm[PAGE] & PERM_R_PAIR  # reads stay allowed across pages
    assert pages.protected == {PAGE, PAGE + 1}


def test_a_page_digest_names_the_bytes_its_blocks_came_from(setup):
    """What names a region together with its entry pc in the region cache (JitManager._alias):
    none while the page is written to and not fenced yet, since a block decoded then may come
    from newer bytes than those kept."""
    memory, cache, pages, _ = setup
    before = pages.digest(PAGE)
    assert before is not None and pages.digest(PAGE + 2) is None  # (no code there)
    assert pages.store_fault(BASE + 0x800)
    assert pages.digest(PAGE) is None
    pages.fence_i([])  # unchanged: the same bytes again
    assert pages.digest(PAGE) == before
    assert pages.store_fault(BASE + 0x800)
    memory.ram[BASE + 0x800] = 1
    pages.fence_i([])
    assert pages.digest(PAGE) is None  # its blocks went
    pages.add(cache.insert(_block(BASE + 0x10), BASE + 0x10), BASE + 0x10, 4)
    assert pages.digest(PAGE) not in (None, before)


def test_a_store_lifts_the_protection_and_fence_i_drops_only_changed_pages(setup):
    memory, cache, pages, (first, _) = setup
    assert pages.store_fault(BASE + 0x800)
    assert memory.perm[PAGE] & PERM_W and memory.perm[PAGE] & PERM_W_PAIR == 0  # (next page still protected)
    assert not pages.store_fault(BASE + 0x800)  # no longer ours: a real fault
    assert pages.store_fault(BASE + 2 * PAGE_SIZE - 4)  # a store that may cross into page+1... lifts page+1
    assert memory.perm[PAGE] & PERM_W_PAIR
    memory.ram[BASE + PAGE_SIZE + 0x100] = 1  # page+1 changes; page does not
    assert pages.fence_i([]) == [PAGE + 1]
    assert cache.lookup(BASE + 0x10, BASE + 0x10) == first
    assert cache.lookup(BASE + PAGE_SIZE + 0x20, BASE + PAGE_SIZE + 0x20) == -1
    assert not memory.perm[PAGE] & PERM_W  # unchanged: protected again
    assert memory.perm[PAGE + 1] & PERM_W  # no code there any more


def test_python_writes_lift_the_protection_through_the_memory(setup):
    memory, cache, pages, _ = setup
    memory.write_slice(BASE + 0x10, b"\x13\x00\x00\x00")  # a device's DMA, say
    assert pages.fence_i([]) == [PAGE]
    assert cache.lookup(BASE + 0x10, BASE + 0x10) == -1
    memory.perm[PAGE + 3] = 0  # a page without PERM_W of its own still refuses
    with pytest.raises(GuestFault):
        memory.write_slice(BASE + 3 * PAGE_SIZE, b"x")


def test_a_flush_of_every_block_restores_write_permission(setup):
    memory, cache, pages, _ = setup
    cache.flush()
    assert memory.perm[PAGE] & PERM_W and memory.perm[PAGE + 1] & PERM_W
    assert np.all(memory.perm[PAGE : PAGE + 3] & PERM_W_PAIR)
    assert not pages.protected and not pages.pages
