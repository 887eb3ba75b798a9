"""System-mode regions: loads and stores translated through the SoftMMU's TLB in native code.

A region compiled for system mode is called here directly, on a state array holding a TLB set
with one entry, and must access the physical address that entry names on a hit, leave for the
interpreter (EXIT_INTERPRET, at the access, nothing retired) on a miss or an access across two
pages, and use the address as it is while translation is off.
"""

from __future__ import annotations

import ctypes

import numpy as np
import pytest

from dbt.backends.jit.codegen import RegionBlock, generate
from dbt.backends.jit.compiler import compile_ir
from dbt.backends.jit.helpers import load_region
from dbt.ir.ops import OPS
from dbt.ir.pagewalk import ACCESS_FETCH, ACCESS_LOAD, ACCESS_STORE, MMU_S, tlb_entry, tlb_set
from dbt.ir.state import (
    CHAINED,
    EXIT_INTERPRET,
    IC_SITE,
    INSTRET,
    JIT_EPOCH,
    MMU_FETCH,
    MMU_LOAD,
    MMU_STORE,
    PAGE_SIZE,
    PC,
    PC_BITS,
    SLICE_END,
    STATE_WORDS_SYSTEM,
    TLB_VPN_MASK,
)

CODE = -0x7FFF_F000  # a kernel-style (negative) virtual pc
VIRTUAL = 0x4000_0000  # the data page's virtual address
PHYSICAL = 3 * PAGE_SIZE  # and its physical address
OP = {op.name: number for number, op in enumerate(OPS)}
REGION = ctypes.CFUNCTYPE(ctypes.c_int64, *[ctypes.c_void_p] * 4, ctypes.c_int64)


def _row(name: str, pc: int, index: int, rd=0, rs1=0, rs2=0, imm=0, extra=0) -> list[int]:
    w0 = OP[name] | rd << 16 | rs1 << 24 | rs2 << 32
    return [w0, imm, (pc & ((1 << PC_BITS) - 1)) | index << PC_BITS, extra]


@pytest.fixture(scope="module")
def region():
    """ld x5, 8(x6); sd x5, 16(x7); jal x0, CODE + 0x100 (out of the region)."""
    rows = [
        _row("ld", CODE, 0, rd=5, rs1=6, imm=8),
        _row("sd", CODE + 4, 1, rs1=7, rs2=5, imm=16),
        _row("jal", CODE + 8, 2, imm=CODE + 0x100, extra=CODE + 12),
    ]
    block = RegionBlock(CODE, np.array(rows, dtype=np.int64), 3)
    text, symbols = generate("dbt_region_system_test", [block], system=True)
    object_code, _ = compile_ir(text, "dbt_region_system_test", symbols)
    library = load_region(object_code)
    return library, REGION(library.address("dbt_region_system_test"))


def _machine(translated: bool):
    regs = np.zeros(72, dtype=np.int64)
    state = np.zeros(STATE_WORDS_SYSTEM, dtype=np.int64)
    mem = np.zeros(8 * PAGE_SIZE, dtype=np.uint8)
    perm = np.full(8, 0xFF, dtype=np.uint8)
    state[PC] = CODE
    state[SLICE_END] = 1 << 40
    if translated:
        for access, word in ((ACCESS_LOAD, MMU_LOAD), (ACCESS_STORE, MMU_STORE)):
            base = tlb_set(access, MMU_S)
            state[word] = base
            entry = tlb_entry(base, VIRTUAL)
            state[entry] = (VIRTUAL >> 12) & TLB_VPN_MASK
            state[entry + 1] = PHYSICAL - VIRTUAL
    return regs, state, mem, perm


def _call(region, regs, state, mem, perm) -> int:
    _, function = region
    pointers = [a.ctypes.data for a in (regs, state, mem, perm)]
    return function(*pointers, len(perm))


def test_a_tlb_hit_reaches_the_physical_page(region):
    regs, state, mem, perm = _machine(translated=True)
    mem[PHYSICAL + 0x108 : PHYSICAL + 0x110] = np.frombuffer(
        (0x1122334455667788).to_bytes(8, "little"), np.uint8
    )
    regs[6] = VIRTUAL + 0x100
    regs[7] = VIRTUAL + 0x200
    assert _call(region, regs, state, mem, perm) == 0
    assert regs[5] == 0x1122334455667788
    assert bytes(mem[PHYSICAL + 0x210 : PHYSICAL + 0x218]) == (0x1122334455667788).to_bytes(8, "little")
    assert state[PC] == CODE + 0x100 and state[INSTRET] == 3
    assert not mem[:PHYSICAL].any() and not mem[PHYSICAL + PAGE_SIZE :].any()


@pytest.mark.parametrize("case", ["load miss", "store miss", "load across pages"])
def test_a_miss_or_an_access_across_pages_leaves_for_the_interpreter_at_the_access(region, case):
    regs, state, mem, perm = _machine(translated=True)
    regs[6] = VIRTUAL + 0x100
    regs[7] = VIRTUAL + 0x200
    if case == "load miss":
        regs[6] = VIRTUAL + PAGE_SIZE  # another page: no entry
    elif case == "store miss":
        regs[7] = VIRTUAL - PAGE_SIZE
    else:
        regs[6] = VIRTUAL + PAGE_SIZE - 12  # the 8 bytes at +8 cross into the next page
    assert _call(region, regs, state, mem, perm) == EXIT_INTERPRET
    at_store = case == "store miss"
    assert state[PC] == CODE + (4 if at_store else 0)
    assert state[INSTRET] == (1 if at_store else 0)
    assert not mem.any()


def test_with_translation_off_the_address_is_physical(region):
    regs, state, mem, perm = _machine(translated=False)
    mem[PHYSICAL + 0x108] = 42
    regs[6] = PHYSICAL + 0x100
    regs[7] = PHYSICAL + 0x300
    assert _call(region, regs, state, mem, perm) == 0
    assert regs[5] == 42 and mem[PHYSICAL + 0x310] == 42


TARGET = CODE + 5 * PAGE_SIZE  # the next region's pc, on another page


def _compiled(name: str, rows: list[list[int]], pc: int):
    text, symbols = generate(name, [RegionBlock(pc, np.array(rows, dtype=np.int64), len(rows))], system=True)
    library = load_region(compile_ir(text, name, symbols)[0])
    return library, REGION(library.address(name))


def _map_fetch(state, physical: int | None) -> None:
    """The fetch TLB set (state[MMU_FETCH]) maps TARGET's page to `physical` (None: no entry)."""
    base = tlb_set(ACCESS_FETCH, MMU_S)
    state[MMU_FETCH] = base
    entry = tlb_entry(base, TARGET)
    state[entry] = -1 if physical is None else (TARGET >> 12) & TLB_VPN_MASK
    state[entry + 1] = 0 if physical is None else physical - (TARGET & ~(PAGE_SIZE - 1))


def test_a_chained_exit_follows_its_inline_cache_only_where_pc_translates_as_it_did():
    """A region's exit to TARGET misses its (empty) inline cache and stores where TARGET
    translates now; filled as the dispatcher fills it, it then tail-calls the next region,
    but no longer once TARGET's page maps elsewhere, or not at all, and not in another epoch:
    the cache then takes the new translation (-1: none) and waits to be filled again."""
    first = _compiled("dbt_region_chain_a", [_row("jal", CODE, 0, imm=TARGET, extra=CODE + 4)], CODE)
    second = _compiled("dbt_region_chain_b", [_row("add_i", TARGET, 0, rd=5, rs1=5, imm=1),
                                              _row("jal", TARGET + 4, 1, imm=CODE, extra=TARGET + 8)],
                       TARGET)  # fmt: skip
    second_address = ctypes.cast(second[1], ctypes.c_void_p).value
    regs, state, mem, perm = _machine(translated=False)

    def run(physical: int | None) -> int:
        """Call the first region with TARGET mapped to `physical`; the inline cache whose
        exit was taken last (the first region's, or the second's after a chain)."""
        _map_fetch(state, physical)
        state[PC], state[IC_SITE] = CODE, 0
        assert _call(first, regs, state, mem, perm) == 0
        return int(state[IC_SITE])

    site = run(6 * PAGE_SIZE)
    assert site  # the exit has an inline cache, though TARGET is on another page
    cache = np.ctypeslib.as_array((ctypes.c_int64 * 4).from_address(site))
    assert state[PC] == TARGET and regs[5] == 0 and state[CHAINED] == 0
    assert cache[0] == -1 and cache[3] == 6 * PAGE_SIZE
    cache[:3] = (TARGET, second_address, state[JIT_EPOCH])  # as the dispatcher fills it
    assert run(6 * PAGE_SIZE) != site  # a hit: chained; the second region's exit missed
    assert regs[5] == 1 and state[CHAINED] == 1 and state[PC] == CODE
    assert run(7 * PAGE_SIZE) == site  # remapped
    assert state[PC] == TARGET and regs[5] == 1 and cache[0] == -1 and cache[3] == 7 * PAGE_SIZE
    cache[:3] = (TARGET, second_address, state[JIT_EPOCH])
    assert run(None) == site and cache[0] == -1 and cache[3] == -1  # no fetch TLB entry
    cache[:3] = (TARGET, second_address, state[JIT_EPOCH])
    cache[3] = 7 * PAGE_SIZE
    state[JIT_EPOCH] += 1  # (a flush, or a page whose code changed)
    assert run(7 * PAGE_SIZE) == site and regs[5] == 1 and state[CHAINED] == 1
    cache[:3] = (TARGET, second_address, state[JIT_EPOCH])
    assert run(7 * PAGE_SIZE) != site and regs[5] == 2 and state[CHAINED] == 2  # (and hits again)


def test_regions_added_to_one_library_each_run(region):
    """Installing adds a region's object to the current library (one MCJIT engine for many
    regions): the first region keeps working after a second is added, and the second works."""
    library, _ = region
    block = RegionBlock(CODE, np.array([_row("ld", CODE, 0, rd=9, rs1=6, imm=0),
                                        _row("jal", CODE + 4, 1, imm=CODE + 0x40, extra=CODE + 8)],
                                       dtype=np.int64), 2)  # fmt: skip
    text, symbols = generate("dbt_region_system_second", [block], system=True)
    object_code, _ = compile_ir(text, "dbt_region_system_second", symbols)
    assert load_region(object_code, into=library) is library
    second = REGION(library.address("dbt_region_system_second"))
    regs, state, mem, perm = _machine(translated=False)
    mem[PHYSICAL] = 7
    regs[6] = PHYSICAL
    assert _call((library, second), regs, state, mem, perm) == 0
    assert regs[9] == 7 and state[PC] == CODE + 0x40
    test_with_translation_off_the_address_is_physical(region)


def test_one_function_per_physical_page_and_dropped_pages_stop_the_inline_caches():
    """The same code at one pc on two physical pages (two processes' copies) compiles to one
    region key, but each page gets a function of its own: an inline cache filled under one
    page's mapping names that page's regions. A page whose code changed bumps the epoch the
    inline caches must hold."""
    from dbt.config import Config
    from dbt.frontends.riscv64.translate import lift_block
    from dbt.ir.state import BLK_JIT, JIT_EPOCH
    from dbt.runtime.blockcache import BlockCache
    from dbt.runtime.jit import JitManager

    cache = BlockCache()
    state = np.zeros(STATE_WORDS_SYSTEM, dtype=np.int64)
    jit = JitManager(Config(jit_threads=0, no_cache=True), cache, state, system=True)
    code = (0x00128293).to_bytes(4, "little") + (0x0000006F).to_bytes(4, "little")  # addi; j .
    pages = (5 * PAGE_SIZE, 9 * PAGE_SIZE)
    numbers = [cache.insert(lift_block(code, CODE, 8).block, phys) for phys in pages]
    numbers.append(cache.insert(lift_block(code, CODE, 8).block, pages[0]))  # (replaces the first)
    for number in numbers:
        jit.hot(number)
    first, second = (jit.address_for(CODE, phys) for phys in pages)
    assert first and second and first != second
    assert cache.blocks[numbers[2], BLK_JIT] == first  # same page: the same function
    epoch = state[JIT_EPOCH]
    jit.drop_pages([pages[0] // PAGE_SIZE])
    assert jit.address_for(CODE, pages[0]) == 0 and jit.address_for(CODE, pages[1]) == second
    assert state[JIT_EPOCH] == epoch + 1


def test_a_region_is_found_again_by_its_page_whatever_blocks_it_holds(tmp_path):
    """Which blocks join a region depends on which had run when its entry turned hot, so the
    next run may form another region for the same entry: it still loads the one compiled
    before, by the entry pc and the identity of the page's code (JitManager._alias), unless
    that page's code is another."""
    from dbt.config import Config
    from dbt.frontends.riscv64.translate import lift_block
    from dbt.ir.state import BLK_HEAT
    from dbt.runtime.blockcache import BlockCache
    from dbt.runtime.jit import JitManager

    # CODE: addi x5, x5, 1; beq x5, x6, CODE + 12 | CODE + 8: j CODE | CODE + 12: j CODE + 12
    first = (0x00128293).to_bytes(4, "little") + (0x00628263).to_bytes(4, "little")
    phys = 5 * PAGE_SIZE

    def run(successors_ran: bool, identity: bytes | None) -> JitManager:
        cache = BlockCache()
        state = np.zeros(STATE_WORDS_SYSTEM, dtype=np.int64)
        jit = JitManager(Config(jit_threads=0, cache_dir=str(tmp_path)), cache, state, system=True)
        jit.page_identity = lambda address: None if identity is None or address >> 12 != 5 else identity
        entry = cache.insert(lift_block(first, CODE, 8).block, phys)
        for pc, word in ((CODE + 8, 0xFF9FF06F), (CODE + 12, 0x0000006F)):
            number = cache.insert(lift_block(word.to_bytes(4, "little"), pc, 8).block, phys + pc - CODE)
            cache.blocks[number, BLK_HEAT] = 1 if successors_ran else 0
        jit.hot(entry)
        assert jit.address_for(CODE, phys)
        return jit

    assert run(True, b"page A").stats.compiled == 1
    again = run(False, b"page A")  # a region of the entry block alone: another key
    assert (again.stats.compiled, again.stats.l2_hits) == (0, 1)
    assert run(False, b"page B").stats.compiled == 1  # other bytes on the page
    assert run(False, None).stats.compiled == 0  # (no alias: the previous run's key)
    assert run(True, None).stats.compiled == 0
