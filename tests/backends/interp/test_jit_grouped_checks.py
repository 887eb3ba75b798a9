"""Loads and stores off one base register share a single permission check in JIT regions
(codegen._plan_checks). When that check fails the region hands the block to the interpreter at
the first access (EXIT_INTERPRET), so a fault must still come from the access that makes it,
with that instruction's state, and an access that does not fault must still happen.

Random groups of accesses around a page boundary, with the next page mapped with random rights
(or not at all), run under the interpreter alone and with every block compiled: exit status,
fault pc and address, registers and memory must agree.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from isa_harness import CODE_BASE, Instr, assemble, encode, listing
from test_isa_unicorn import HYPOTHESIS

from dbt.api import Machine
from dbt.backends.jit.codegen import GroupCheck, RegionBlock, _plan_checks
from dbt.config import Config
from dbt.ir.state import BLK_INSNS, BLK_OPS, BLK_START, PERM_R, PERM_W
from dbt.runtime.memory import PROT_READ, PROT_WRITE

PAGE = 0x1000
FIRST = 0x40000
SECOND = FIRST + PAGE
BASE_REG = 10
LOADS = {"lb": 1, "lbu": 1, "lh": 2, "lw": 4, "lwu": 4, "ld": 8}
STORES = {"sb": 1, "sh": 2, "sw": 4, "sd": 8}
SECOND_PAGE = st.sampled_from(["rw", "r", "none", "unmapped"])
#: Ends the block of accesses (a block ending in the ebreak Machine.from_code appends would not
#: be compiled: a trap needs Python).
JUMP = encode("jal", rd=0, jimm20=4)


@st.composite
def access_groups(draw: st.DrawFn) -> list[Instr]:
    program = []
    for _ in range(draw(st.integers(2, 7))):
        kind = draw(st.integers(0, 9))
        if kind == 0:
            # Changes the base: the accesses after it are another group.
            program.append(encode("addi", rd=BASE_REG, rs1=BASE_REG, imm12=draw(st.integers(-16, 16))))
        elif kind <= 5:
            name = draw(st.sampled_from(sorted(LOADS)))
            # Now and then the load overwrites the base itself.
            rd = draw(st.sampled_from([11, 12, 13, 14, BASE_REG]))
            program.append(encode(name, rd=rd, rs1=BASE_REG, imm12=draw(st.integers(-24, 24))))
        else:
            name = draw(st.sampled_from(sorted(STORES)))
            rs2 = draw(st.sampled_from([11, 12, 13]))
            program.append(encode(name, rs1=BASE_REG, rs2=rs2, simm12=draw(st.integers(-24, 24))))
    return [*program, JUMP]


def _run(program: list[Instr], base: int, second: str, **config: object):
    m = Machine.from_code(assemble(program), CODE_BASE, Config(**config))
    m.map(FIRST, PAGE)
    if second != "unmapped":
        prot = {"rw": PROT_READ | PROT_WRITE, "r": PROT_READ, "none": 0}[second]
        m.map(SECOND, PAGE, prot)
    m.write_memory(FIRST, bytes(range(256)) * (PAGE // 256))
    m.x[BASE_REG] = base
    for reg in (11, 12, 13):
        m.x[reg] = 0x0102_0304_0506_0708 * reg
    status = m.run()
    if config.get("jit_threshold") == 0:
        assert m._process.jit.stats.regions_installed > 0
    registers = [int(v) for v in m.x]
    return (status.code, status.signal, status.pc, status.addr), registers, m.read_memory(FIRST, PAGE)


@settings(max_examples=120, **HYPOTHESIS)
@given(program=access_groups(), near=st.integers(-40, 40), second=SECOND_PAGE)
def test_grouped_checks_fault_where_the_interpreter_does(
    program: list[Instr], near: int, second: str
) -> None:
    base = SECOND + near
    where = f"base {base:#x}, second page {second}:\n{listing(program, CODE_BASE)}"
    interpreted = _run(program, base, second, no_jit=True)
    compiled = _run(program, base, second, jit_threshold=0, jit_threads=0, no_cache=True)
    assert compiled[0] == interpreted[0], f"exit: JIT {compiled[0]}, interpreter {interpreted[0]}\n{where}"
    assert compiled[1] == interpreted[1], f"registers differ\n{where}"
    assert compiled[2] == interpreted[2], f"memory differs\n{where}"


def _block(program: list[Instr]) -> RegionBlock:
    """The program decoded as one block (what the JIT compiles)."""
    process = Machine.from_code(assemble(program), CODE_BASE, Config(no_jit=True))._process
    process._translate(CODE_BASE)
    row = process.cache.blocks[process.cache.lookup(CODE_BASE)]
    start, n = int(row[BLK_START]), int(row[BLK_OPS])
    return RegionBlock(CODE_BASE, process.cache.code[start : start + n].copy(), int(row[BLK_INSNS]))


def test_plan_groups_accesses_off_an_unchanged_base() -> None:
    program = [
        encode("sd", rs1=2, rs2=1, simm12=8),
        encode("sd", rs1=2, rs2=8, simm12=0),
        encode("ld", rd=11, rs1=10, imm12=16),  # alone: a group of one keeps its own check
        encode("lw", rd=12, rs1=2, imm12=-4),
        encode("addi", rd=2, rs1=2, imm12=16),  # sp changes: what follows is a new group
        encode("ld", rd=13, rs1=2, imm12=0),
        encode("ld", rd=2, rs1=2, imm12=8),  # overwrites its own base, after its access
        encode("ld", rd=14, rs1=2, imm12=0),
        JUMP,
    ]
    pcs = [CODE_BASE + 4 * i for i in range(len(program))]
    checks, covered = _plan_checks(_block(program))
    assert checks == {
        pcs[0]: GroupCheck(low=-4, span=20, need=PERM_R | PERM_W),
        pcs[5]: GroupCheck(low=0, span=16, need=PERM_R),
    }
    assert covered == {pcs[1], pcs[3], pcs[6]}


def test_plan_keeps_a_group_within_a_page() -> None:
    program = [
        encode("ld", rd=11, rs1=10, imm12=-2000),
        encode("ld", rd=12, rs1=10, imm12=2000),  # 4008 bytes: still one group
        encode("ld", rd=13, rs1=10, imm12=2047),  # 4055 bytes
        encode("ld", rd=14, rs1=10, imm12=-2048),  # 4103 bytes: starts another group
        JUMP,
    ]
    pcs = [CODE_BASE + 4 * i for i in range(len(program))]
    checks, covered = _plan_checks(_block(program))
    assert checks == {pcs[0]: GroupCheck(low=-2000, span=4055, need=PERM_R)}
    assert covered == {pcs[1], pcs[2]}
