"""Sv39/Sv48 page walks on hand-built page tables and the TLB's flush rules, each expected value
worked out from the privileged specification (sections 4.3 to 4.5 and 4.2.1)."""

from __future__ import annotations

import numpy as np
import pytest

from dbt.ir.state import CSR_MSTATUS, PERM_R, PERM_W, PRIV, SFENCE_PYTHON, TLB_FLUSHES
from dbt.runtime.int64 import to_int64
from dbt.runtime.system import hart as h
from dbt.runtime.system import mmu as m
from dbt.runtime.system.hart import Trap

RAM = 8 << 20
ROOT = 0x1000  # the root table's physical address
HOLE = 0x7F_F000  # a page of "physical memory" with no RAM behind it
LOAD, STORE, FETCH = m.ACCESS_LOAD, m.ACCESS_STORE, m.ACCESS_FETCH
RWX = m.PTE_R | m.PTE_W | m.PTE_X


class Tables:
    """Page tables built by hand in a small physical memory."""

    def __init__(self, mode: int = m.MODE_SV39, asid: int = 0) -> None:
        self.ram = np.zeros(RAM, dtype=np.uint8)
        perm = np.full(RAM >> 12, PERM_R | PERM_W, dtype=np.uint8)
        perm[HOLE >> 12] = 0
        self.memory = m.PageTableMemory(self.ram, perm)
        self.mode = mode
        self.satp = (mode << 60) | (asid << 44) | (ROOT >> 12)
        self.next_table = 0x2000

    def pte(self, table: int, index: int) -> int:
        return self.memory.read(table + 8 * index)

    def set_pte(self, table: int, index: int, value: int) -> None:
        self.memory.write(table + 8 * index, value)

    def map(self, vaddr: int, paddr: int, flags: int, level: int = 0) -> int:
        """Map `vaddr` with a leaf at `level` (0: 4 KiB, 1: 2 MiB, 2: 1 GiB, 3: 512 GiB);
        returns the leaf PTE's physical address."""
        table = ROOT
        for lvl in range(m.LEVELS[self.mode] - 1, level, -1):
            index = (vaddr >> (12 + 9 * lvl)) & 0x1FF
            entry = self.pte(table, index)
            if not entry & m.PTE_V:
                entry = ((self.next_table >> 12) << 10) | m.PTE_V
                self.next_table += 0x1000
                self.set_pte(table, index, entry)
            table = (entry >> 10) << 12
        index = (vaddr >> (12 + 9 * level)) & 0x1FF
        self.set_pte(table, index, ((paddr >> 12) << 10) | flags | m.PTE_V)
        return table + 8 * index

    def walk(self, vaddr: int, access: int = LOAD, mmu: int = m.MMU_S, mxr: bool = False) -> m.Translation:
        return m.walk(self.memory, self.satp, vaddr, access, mmu, mxr)


def _fault(tables: Tables, vaddr: int, access: int = LOAD, **kwargs) -> tuple[int, int]:
    with pytest.raises(Trap) as info:
        tables.walk(vaddr, access, **kwargs)
    return info.value.cause, info.value.tval


def test_4k_page_and_the_accessed_and_dirty_bits():
    t = Tables()
    leaf = t.map(0x4000_5000, 0x30_0000, m.PTE_R | m.PTE_W)
    found = t.walk(0x4000_5ABC, LOAD)
    assert (found.paddr, found.base, found.size) == (0x30_0ABC, 0x4000_5000, 0x1000)
    pte = t.memory.read(leaf)
    assert pte & m.PTE_A and not pte & m.PTE_D  # a load sets A only
    t.walk(0x4000_5000, STORE)
    assert t.memory.read(leaf) & m.PTE_D


@pytest.mark.parametrize(
    ("level", "vaddr", "paddr", "expected"),
    [
        (1, 0x4060_1234, 0x60_0000, 0x60_1234),  # 2 MiB megapage
        (2, 0xC012_3456, 0x4000_0000, 0x4012_3456),  # 1 GiB gigapage
    ],
)
def test_superpages_keep_the_low_bits_of_the_address(level, vaddr, paddr, expected):
    t = Tables()
    t.map(vaddr, paddr, m.PTE_R, level=level)
    found = t.walk(vaddr)
    assert found.paddr == expected
    assert found.size == 1 << (12 + 9 * level) and found.base == vaddr & ~(found.size - 1)


def test_misaligned_superpage_is_a_page_fault():
    t = Tables()
    t.map(0x4060_0000, 0x61_0000, m.PTE_R, level=1)  # ppn[0] != 0
    assert _fault(t, 0x4060_0010) == (m.CAUSE_LOAD_PAGE, 0x4060_0010)


@pytest.mark.parametrize(("access", "cause"), [(FETCH, 12), (LOAD, 13), (STORE, 15)])
def test_unmapped_address_faults_with_the_access_type(access, cause):
    assert _fault(Tables(), 0x1234_5000, access) == (cause, 0x1234_5000)


def test_write_without_read_and_high_bits_are_reserved():
    t = Tables()
    t.map(0x1000, 0x5000, m.PTE_W)
    assert _fault(t, 0x1000, STORE)[0] == m.CAUSE_STORE_PAGE
    leaf = t.map(0x2000, 0x5000, m.PTE_R)
    t.memory.write(leaf, t.memory.read(leaf) | (1 << 61))  # PBMT without Svpbmt
    assert _fault(t, 0x2000)[0] == m.CAUSE_LOAD_PAGE


def test_pointer_with_a_d_or_u_bit_or_at_the_last_level_faults():
    t = Tables()
    t.map(0x4000_0000, 0x5000, m.PTE_R)
    root_entry = t.pte(ROOT, 1)
    t.set_pte(ROOT, 1, root_entry | m.PTE_A)
    assert _fault(t, 0x4000_0000)[0] == m.CAUSE_LOAD_PAGE
    t.set_pte(ROOT, 1, root_entry)
    assert t.walk(0x4000_0000).paddr == 0x5000
    leaf = t.map(0x4000_1000, 0x5000, m.PTE_R)
    t.memory.write(leaf, t.memory.read(leaf) & ~RWX)  # a "pointer" at level 0
    assert _fault(t, 0x4000_1000)[0] == m.CAUSE_LOAD_PAGE


def test_non_canonical_addresses_fault_and_the_top_half_translates():
    t = Tables()
    t.map(0xFFFF_FFC0_0000_0000, 0x4000_0000, m.PTE_R, level=2)  # the first GiB of the top half
    assert t.walk(0xFFFF_FFC0_0000_0008).paddr == 0x4000_0008
    assert _fault(t, 0x0000_0040_0000_0000) == (m.CAUSE_LOAD_PAGE, 0x40_0000_0000)  # bit 38 alone
    assert _fault(t, 0x8000_0000_0000_0000)[0] == m.CAUSE_LOAD_PAGE


def test_page_table_outside_ram_is_an_access_fault():
    t = Tables()
    t.set_pte(ROOT, 3, ((HOLE >> 12) << 10) | m.PTE_V)
    assert _fault(t, 0xC000_0000, LOAD) == (h.CAUSE_LOAD_ACCESS, 0xC000_0000)
    assert _fault(t, 0xC000_0000, STORE)[0] == h.CAUSE_STORE_ACCESS
    assert _fault(t, 0xC000_0000, FETCH)[0] == h.CAUSE_FETCH_ACCESS


def test_user_and_supervisor_pages():
    t = Tables()
    t.map(0x1000, 0x5000, RWX | m.PTE_U)
    t.map(0x2000, 0x6000, RWX)
    assert t.walk(0x1000, LOAD, mmu=m.MMU_U).paddr == 0x5000
    assert _fault(t, 0x2000, LOAD, mmu=m.MMU_U)[0] == m.CAUSE_LOAD_PAGE  # S page from U
    assert _fault(t, 0x1000, LOAD, mmu=m.MMU_S)[0] == m.CAUSE_LOAD_PAGE  # U page from S...
    assert t.walk(0x1000, STORE, mmu=m.MMU_S_SUM).paddr == 0x5000  # ...unless SUM
    assert _fault(t, 0x1000, FETCH, mmu=m.MMU_S_SUM)[0] == m.CAUSE_FETCH_PAGE  # never to run it


def test_execute_only_page_is_readable_with_mxr():
    t = Tables()
    t.map(0x3000, 0x7000, m.PTE_X)
    assert t.walk(0x3000, FETCH).paddr == 0x7000
    assert _fault(t, 0x3000, LOAD)[0] == m.CAUSE_LOAD_PAGE
    assert t.walk(0x3000, LOAD, mxr=True).paddr == 0x7000


def test_sv48_walks_four_levels_and_has_terapages():
    t = Tables(mode=m.MODE_SV48)
    t.map(0x7F12_3456_7000, 0x12_3000, m.PTE_R)
    assert t.walk(0x7F12_3456_7FFF).paddr == 0x12_3FFF
    t.map(0x80_0000_0000, 0, m.PTE_R, level=3)  # 512 GiB at once
    assert t.walk(0x80_0000_0ABC).paddr == 0xABC
    # Sv48 addresses are canonical from bit 47: what Sv39 rejects is fine here
    assert t.walk(0x80_0000_1000).size == 1 << 39
    assert _fault(t, 0x8000_0000_0000)[0] == m.CAUSE_LOAD_PAGE


def test_mmu_index_follows_the_mode_mprv_and_sum():
    sv39 = m.MODE_SV39 << 60
    assert m.mmu_index(h.PRV_M, 0, sv39, LOAD) == m.MMU_NONE
    assert m.mmu_index(h.PRV_S, 0, 0, LOAD) == m.MMU_NONE  # Bare
    assert m.mmu_index(h.PRV_S, 0, sv39, LOAD) == m.MMU_S
    assert m.mmu_index(h.PRV_S, h.SUM, sv39, LOAD) == m.MMU_S_SUM
    assert m.mmu_index(h.PRV_U, h.SUM, sv39, STORE) == m.MMU_U
    mprv_to_u = h.MPRV | (h.PRV_U << h.MPP_SHIFT)
    assert m.mmu_index(h.PRV_M, mprv_to_u, sv39, LOAD) == m.MMU_U
    assert m.mmu_index(h.PRV_M, mprv_to_u, sv39, FETCH) == m.MMU_NONE  # MPRV leaves fetches alone


def _translation(vaddr: int, size: int = 0x1000, asid: int = 1, glob: bool = False) -> m.Translation:
    pte = m.PTE_V | m.PTE_R | (m.PTE_G if glob else 0)
    return m.Translation(0x9000_0000 + (vaddr & (size - 1)), vaddr & ~(size - 1), size, pte, asid)


def test_tlb_hit_is_tagged_by_asid_access_and_mode():
    tlb = m.Tlb()
    tlb.fill(0x4000_1234, LOAD, m.MMU_S, _translation(0x4000_1234))
    assert tlb.lookup(0x4000_1FF0, LOAD, m.MMU_S, 1) == 0x9000_0FF0
    assert tlb.lookup(0x4000_1FF0, LOAD, m.MMU_S, 2) is None
    assert tlb.lookup(0x4000_1FF0, STORE, m.MMU_S, 1) is None
    assert tlb.lookup(0x4000_1FF0, LOAD, m.MMU_U, 1) is None
    assert tlb.lookup(0x4010_1FF0, LOAD, m.MMU_S, 1) is None  # same set, another page


def _numpy_flush(tlb: m.Tlb):
    return tlb.flush


def _kernel_flush(tlb: m.Tlb):
    """The kernels' sfence.vma (ir.csrfile.sfence_vma, compiled), in S mode."""
    from dbt.ir import semantics

    tlb.state[PRIV] = h.PRV_S

    def flush(vaddr: int | None = None, asid: int | None = None) -> None:
        before = int(tlb.state[TLB_FLUSHES])
        by_vaddr, by_asid = vaddr is not None, asid is not None
        assert semantics.sfence_vma(tlb.state, to_int64(vaddr or 0), asid or 0, by_vaddr, by_asid)
        assert tlb.state[TLB_FLUSHES] == before + 1

    return flush


@pytest.mark.parametrize("flusher", [_numpy_flush, _kernel_flush], ids=["python", "kernel"])
def test_sfence_vma_by_address_asid_and_both(flusher):
    tlb = m.Tlb()
    flush = flusher(tlb)
    mega = 0x20_0000
    tlb.fill(0x4020_3000, LOAD, m.MMU_S, _translation(0x4020_3000, size=mega))
    tlb.fill(0x5000_0000, LOAD, m.MMU_S, _translation(0x5000_0000, asid=2))
    tlb.fill(0x6000_1000, LOAD, m.MMU_S, _translation(0x6000_1000, asid=2, glob=True))
    # an address elsewhere in the megapage flushes its entry
    flush(vaddr=0x4030_0000)
    assert tlb.lookup(0x4020_3000, LOAD, m.MMU_S, 1) is None
    assert tlb.lookup(0x5000_0000, LOAD, m.MMU_S, 2) is not None
    # by ASID: global mappings stay
    flush(asid=2)
    assert tlb.lookup(0x5000_0000, LOAD, m.MMU_S, 2) is None
    assert tlb.lookup(0x6000_1000, LOAD, m.MMU_S, 2) is not None
    flush(vaddr=0x6000_1000, asid=2)  # address and ASID: still not the global one
    assert tlb.lookup(0x6000_1000, LOAD, m.MMU_S, 2) is not None
    flush(vaddr=0x6000_1000)
    assert tlb.lookup(0x6000_1000, LOAD, m.MMU_S, 2) is None
    tlb.fill(0x5000_0000, LOAD, m.MMU_S, _translation(0x5000_0000, asid=2))
    flush()
    assert tlb.lookup(0x5000_0000, LOAD, m.MMU_S, 2) is None


@pytest.mark.parametrize(
    ("priv", "status", "straddlers"),
    [(h.PRV_U, 0, 0), (h.PRV_S, h.TVM, 0), (h.PRV_S, 0, 1), (h.PRV_M, 0, 1)],
    ids=["U mode", "S mode under TVM", "straddlers (S)", "straddlers (M)"],
)
def test_the_kernels_leave_sfence_vma_to_python_when_they_must(priv, status, straddlers):
    """U mode and TVM: Python raises the illegal instruction; straddling blocks: Python drops
    them. Nothing is flushed then."""
    from dbt.ir import semantics

    tlb = m.Tlb()
    tlb.fill(0x5000_0000, LOAD, m.MMU_S, _translation(0x5000_0000))
    tlb.state[PRIV], tlb.state[CSR_MSTATUS], tlb.state[SFENCE_PYTHON] = priv, status, straddlers
    assert not semantics.sfence_vma(tlb.state, 0, 0, False, False)
    assert tlb.lookup(0x5000_0000, LOAD, m.MMU_S, 1) is not None and tlb.state[TLB_FLUSHES] == 0
    tlb.state[SFENCE_PYTHON] = 0
    allowed = priv == h.PRV_M or (priv == h.PRV_S and not status)
    assert semantics.sfence_vma(tlb.state, 0, 0, False, False) == allowed


def test_mmu_caches_walks_until_sfence():
    t = Tables(asid=5)
    leaf = t.map(0x4000_0000, 0x10_0000, m.PTE_R | m.PTE_W)
    mmu = m.Mmu(t.memory)
    assert mmu.translate(0x4000_0010, LOAD, h.PRV_S, 0, t.satp) == 0x10_0010
    assert mmu.translate(0x4000_0020, LOAD, h.PRV_S, 0, t.satp) == 0x10_0020
    assert mmu.walks == 1
    # the page table changes: the TLB keeps the old translation, as hardware may, until sfence.vma
    t.memory.write(leaf, ((0x20_0000 >> 12) << 10) | m.PTE_V | m.PTE_R | m.PTE_A)
    assert mmu.translate(0x4000_0010, LOAD, h.PRV_S, 0, t.satp) == 0x10_0010
    mmu.tlb.flush(vaddr=0x4000_0000, asid=5)
    assert mmu.translate(0x4000_0010, LOAD, h.PRV_S, 0, t.satp) == 0x20_0010
    assert mmu.walks == 2
    # M mode does not translate
    assert mmu.translate(0x4000_0010, LOAD, h.PRV_M, 0, t.satp) == 0x4000_0010


def test_the_kernels_flush_addresses_outside_the_leaves_of_straddling_blocks():
    """With straddling blocks, an sfence.vma of an address that no listed leaf maps is the
    kernels' (a Linux direct read did 1,800 a second otherwise, each an exit to Python); one
    in a listed leaf, every address, or a list too long to keep is Python's."""
    from dbt.ir import semantics
    from dbt.ir.state import STRADDLE_LEAVES

    tlb = m.Tlb()
    tlb.state[PRIV] = h.PRV_S
    page_mask = to_int64(~(0x1000 - 1))
    tlb.state[STRADDLE_LEAVES : STRADDLE_LEAVES + 4] = [
        page_mask,
        0x7000,
        to_int64(~((1 << 21) - 1)),
        0x4000_0000,
    ]
    tlb.state[SFENCE_PYTHON] = 2
    for vaddr in (0x5000_0000, 0x7008, 0x4000_0000, 0x401F_F000):
        tlb.fill(vaddr, LOAD, m.MMU_S, _translation(vaddr))
    assert semantics.sfence_vma(tlb.state, 0x5000_0000, 0, True, False)
    assert tlb.lookup(0x5000_0000, LOAD, m.MMU_S, 1) is None and tlb.state[TLB_FLUSHES] == 1
    for vaddr in (0x7FF8, 0x401F_F000):  # in the 4 KiB leaf, in the 2 MiB one
        assert not semantics.sfence_vma(tlb.state, vaddr, 0, True, False)
    assert not semantics.sfence_vma(tlb.state, 0, 3, False, True)  # an ASID's every address
    assert tlb.lookup(0x7008, LOAD, m.MMU_S, 1) is not None and tlb.state[TLB_FLUSHES] == 1
    tlb.state[SFENCE_PYTHON] = -1
    assert not semantics.sfence_vma(tlb.state, 0x5000_0000, 0, True, False)


def test_softmmu_lists_the_leaves_of_straddling_blocks_for_the_kernels():
    from dbt.ir.state import STATE_WORDS_SYSTEM, STRADDLE_LEAVES, STRADDLE_SLOTS
    from dbt.runtime.blockcache import BlockCache
    from dbt.runtime.memory import GuestMemory
    from dbt.runtime.system.softmmu import SoftMmu

    state = np.zeros(STATE_WORDS_SYSTEM, dtype=np.int64)
    hart = h.Hart(instret=lambda: 0, mtime=lambda: 0, words=state)
    softmmu = SoftMmu(hart, GuestMemory(1 << 20), state, BlockCache())
    mask = to_int64(~(0x1000 - 1))
    for number, base in enumerate((0x1000, 0x1000, 0x3000)):
        softmmu.straddled = (mask, base)
        softmmu.add_straddler(number)
    assert state[SFENCE_PYTHON] == 2
    assert list(state[STRADDLE_LEAVES : STRADDLE_LEAVES + 4]) == [mask, 0x1000, mask, 0x3000]
    softmmu.sfence(0x1234, None)  # drops the first leaf's blocks
    assert state[SFENCE_PYTHON] == 1 and list(state[STRADDLE_LEAVES : STRADDLE_LEAVES + 2]) == [mask, 0x3000]
    for base in range(STRADDLE_SLOTS):
        softmmu.straddled = (mask, 0x10_0000 + base * 0x1000)
        softmmu.add_straddler(100 + base)
    assert state[SFENCE_PYTHON] == -1  # too many to list: every sfence.vma is Python's
    softmmu.sfence(None, None)
    assert state[SFENCE_PYTHON] == 0 and not softmmu.straddlers
