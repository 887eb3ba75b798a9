"""Compiled code follows the guest's code: fence.i after self-modifying code, munmap and a new
mapping at the same address, and mprotect taking execute permission away must each drop the
regions compiled from the old code, in every tier (interpreter, JIT with every block compiled,
and the differential lockstep of both).

The guest calls a function F at FUNC three times, changes F (one of the three ways), then calls
it once more; F first answers 1 and afterwards 2, so s4 ends as 3 + 2 = 5.
"""

from __future__ import annotations

import signal

import pytest
from isa_harness import CODE_BASE, Instr, assemble, encode

from dbt.api import Machine
from dbt.config import Config
from dbt.runtime.memory import PROT_EXEC, PROT_READ, PROT_WRITE

FUNC = 0x40000
S2, S3, S4, S5, S6 = 18, 19, 20, 21, 22
ANSWER_1 = encode("addi", rd=10, rs1=0, imm12=1)
ANSWER_2 = encode("addi", rd=10, rs1=0, imm12=2)
RET = encode("jalr", rd=0, rs1=1, imm12=0)

TIERS = {
    "interpreter": {"no_jit": True},
    "jit": {"jit_threshold": 0, "jit_threads": 0, "no_cache": True},
    "differential": {"differential": True, "no_cache": True},
}


def _call_f() -> list[Instr]:
    return [encode("jalr", rd=1, rs1=S2, imm12=0), encode("add", rd=S4, rs1=S4, rs2=10)]


def _syscall(number: int, *args: tuple[int, int]) -> list[Instr]:
    """a7 = number, then each (register, value) with lui/addi, then ecall."""
    code = [encode("addi", rd=17, rs1=0, imm12=number)]
    for reg, value in args:
        if value >= 0x800 or value < -0x800:
            assert value & 0xFFF == 0
            code.append(encode("lui", rd=reg, imm20=value))
        else:
            code.append(encode("addi", rd=reg, rs1=0, imm12=value))
    return [*code, encode("ecall")]


def _program(change: list[Instr]) -> bytes:
    loop = [*_call_f(), encode("addi", rd=S3, rs1=S3, imm12=-1), encode("bne", rs1=S3, rs2=0, bimm12=-12)]
    head = [encode("lui", rd=S2, imm20=FUNC), encode("addi", rd=S3, rs1=0, imm12=3)]
    return assemble(head + loop + change + _call_f())


def _machine(change: list[Instr], tier: str, func_prot: int) -> Machine:
    m = Machine.from_code(_program(change), CODE_BASE, Config(**TIERS[tier]))
    m.map(FUNC, 4096, func_prot)
    m.process.memory.poke(FUNC, assemble([ANSWER_1, RET]))
    m.x[S5] = ANSWER_2.word
    m.x[S6] = RET.word
    return m


@pytest.mark.parametrize("tier", TIERS)
def test_fence_i_after_self_modifying_code(tier: str) -> None:
    change = [encode("sw", rs1=S2, rs2=S5, simm12=0), encode("fence.i", imm12=0, rs1=0, rd=0)]
    m = _machine(change, tier, PROT_READ | PROT_WRITE | PROT_EXEC)
    status = m.run()
    assert status.code == 0 and status.signal is None, status
    assert m.x[S4] == 5
    if tier == "jit":
        assert m.process.jit.stats.regions_installed > 0


@pytest.mark.parametrize("tier", TIERS)
def test_munmap_and_a_new_mapping_at_the_same_address(tier: str) -> None:
    map_anonymous_fixed = 0x32  # MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED
    change = [
        *_syscall(215, (10, FUNC), (11, 4096)),  # munmap(FUNC, 4096)
        *_syscall(222, (10, FUNC), (11, 4096), (12, 7), (13, map_anonymous_fixed), (14, -1), (15, 0)),
        encode("sw", rs1=S2, rs2=S5, simm12=0),
        encode("sw", rs1=S2, rs2=S6, simm12=4),
    ]
    m = _machine(change, tier, PROT_READ | PROT_EXEC)
    status = m.run()
    assert status.code == 0 and status.signal is None, status
    assert m.x[S4] == 5


@pytest.mark.parametrize("tier", TIERS)
def test_mprotect_without_exec_faults_even_when_compiled(tier: str) -> None:
    change = _syscall(226, (10, FUNC), (11, 4096), (12, PROT_READ))  # mprotect(FUNC, 4096, PROT_READ)
    m = _machine(change, tier, PROT_READ | PROT_EXEC)
    status = m.run()
    assert status.signal == signal.SIGSEGV and status.pc == FUNC, status
    assert m.x[S4] == 3
