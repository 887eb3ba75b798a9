"""Random programs with loops, branches, loads and stores and floating point, run by the
interpreter alone and with every block compiled by the JIT (--jit-threshold 0): the final state
(x and f registers, fcsr, data memory, where it stopped) must be the same, and the same as the
corrected Unicorn reference's. A differential run (the lockstep of runtime/differential.py) of
each program must also agree, and the lockstep must notice a difference when one is planted.

A program is the random straight-line instructions of test_isa_unicorn, split into a loop body
with forward branches over some of its instructions, run 1 to 4 times by a counter in s1 (x9).
"""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from isa_harness import (
    BODY_BASE,
    CODE_BASE,
    Instr,
    State,
    UnicornReference,
    assemble,
    describe_state,
    encode,
    listing,
    run_on_dbt,
    state_differences,
)
from test_isa_unicorn import HYPOTHESIS, initial_states, straight_line_instr

from dbt.api import Machine
from dbt.config import Config
from dbt.ir.state import FRM
from dbt.runtime.differential import DifferentialMismatch

COUNTER = 9
JIT = {"jit_threshold": 0, "jit_threads": 0, "no_cache": True}


@st.composite
def loop_programs(draw: st.DrawFn, max_body: int) -> list[Instr]:
    size = draw(st.integers(1, max_body))
    parts = draw(st.lists(straight_line_instr(), min_size=size, max_size=size))
    for part in parts:
        for instr in part:
            assume(instr.operand("rd") != COUNTER)
    # Forward branches over the next few parts, on a comparison of random registers. Targets are
    # part numbers (len(parts): the loop's tail), turned into offsets once everything is laid out.
    branches: dict[int, tuple[str, int, int, int]] = {}
    for index in range(len(parts) - 1):
        if draw(st.integers(0, 4)) == 0:
            target = min(len(parts), index + 1 + draw(st.integers(1, 3)))
            name = draw(st.sampled_from(["beq", "bne", "blt", "bge", "bltu", "bgeu"]))
            branches[index] = (name, draw(st.integers(0, 31)), draw(st.integers(0, 31)), target)
    starts, branch_at, address = [], {}, 0
    for index, part in enumerate(parts):
        starts.append(address)
        address += sum(i.size for i in part)
        if index in branches:
            branch_at[index] = address
            address += 4
    starts.append(address)
    body: list[Instr] = []
    for index, part in enumerate(parts):
        body.extend(part)
        if index in branches:
            name, rs1, rs2, target = branches[index]
            body.append(encode(name, rs1=rs1, rs2=rs2, bimm12=starts[target] - branch_at[index]))
    back = -(sum(i.size for i in body) + 4)
    assume(back >= -4096)
    count = draw(st.integers(1, 4))
    return [
        encode("addi", rd=COUNTER, rs1=0, imm12=count),
        *body,
        encode("addi", rd=COUNTER, rs1=COUNTER, imm12=-1),
        encode("bne", rs1=COUNTER, rs2=0, bimm12=back),
    ]


def _check(program: list[Instr], init: State, block: int) -> None:
    where = f"program:\n{listing(program, BODY_BASE)}\ninitial state:\n{describe_state(init)}"
    interpreted, interp_status = run_on_dbt(program, init, block, no_jit=True)
    compiled, jit_status = run_on_dbt(program, init, block, **JIT)
    assert (jit_status.code, jit_status.signal, jit_status.pc) == (
        interp_status.code,
        interp_status.signal,
        interp_status.pc,
    ), f"interpreter {interp_status}, JIT {jit_status}\n{where}"
    differences = state_differences(compiled.state, interpreted.state)
    assert not differences, "JIT against interpreter:\n" + "\n".join(differences) + "\n" + where
    reference = UnicornReference().run(program, init)
    assert reference.trap_pc == interpreted.trap_pc, where
    differences = state_differences(interpreted.state, reference.state)
    assert not differences, "dbt against Unicorn:\n" + "\n".join(differences) + "\n" + where
    _, lockstep_status = run_on_dbt(program, init, block, differential=True, no_cache=True)
    assert lockstep_status.pc == interp_status.pc, where


BLOCK_SIZES = st.sampled_from([64, 64, 3])


@settings(max_examples=60, **HYPOTHESIS)
@given(program=loop_programs(max_body=10), init=initial_states(), block=BLOCK_SIZES)
def test_random_loops_jit_matches_interpreter(program: list[Instr], init: State, block: int) -> None:
    _check(program, init, block)


@pytest.mark.slow
@settings(max_examples=600, **HYPOTHESIS)
@given(program=loop_programs(max_body=30), init=initial_states(), block=BLOCK_SIZES)
def test_random_loops_jit_matches_interpreter_long(program: list[Instr], init: State, block: int) -> None:
    _check(program, init, block)


# ---- the lockstep notices differences ----
LOOP = [
    encode("addi", rd=COUNTER, rs1=0, imm12=3),
    encode("addi", rd=10, rs1=10, imm12=5),
    encode("addi", rd=COUNTER, rs1=COUNTER, imm12=-1),
    encode("bne", rs1=COUNTER, rs2=0, bimm12=-8),
]


def _lockstep_machine() -> Machine:
    m = Machine.from_code(assemble(LOOP), CODE_BASE, Config(differential=True, no_cache=True))
    m.map(0x200000, 4096)
    return m


def test_lockstep_agrees_on_a_loop() -> None:
    m = _lockstep_machine()
    status = m.run()
    assert status.code == 0 and m.x[10] == 15
    assert m.lockstep.stats.compared == 1
    assert m.lockstep.b.jit.stats.regions_installed > 0


@pytest.mark.parametrize("plant", ["register", "memory", "fcsr"])
def test_lockstep_reports_a_planted_difference(plant: str) -> None:
    m = _lockstep_machine()
    from dbt.runtime.differential import Lockstep

    m.lockstep = Lockstep(m.process)
    original = m.lockstep.resync

    def resync_then_plant() -> None:
        original()
        shadow = m.lockstep.b
        if plant == "register":
            shadow.regs[10] += 1
        elif plant == "memory":
            shadow.memory.ram[0x200010] ^= 0x40
        else:
            shadow.state[FRM] ^= 1

    m.lockstep.resync = resync_then_plant
    with pytest.raises(DifferentialMismatch) as caught:
        m.run()
    message = str(caught.value)
    expected = {"register": "x10 interpreter 0xf JIT 0x10", "memory": "memory at 0x200010", "fcsr": "frm"}
    assert expected[plant] in message, message
    assert f"pc {CODE_BASE + len(assemble(LOOP)):#x}: ebreak" in message
