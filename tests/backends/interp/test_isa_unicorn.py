"""Every RV64GC instruction on dbt's interpreter against Unicorn (UC_ARCH_RISCV, UC_MODE_RISCV64).

Unicorn is the outside reference (QEMU 5.0's RISC-V target), corrected to the ratified spec where
QEMU 5.0 predates it (NaN boxing, fmin/fmax with a signaling NaN, NV of inf*0+qNaN); see
isa_harness.py, and `test_unicorn_deviations_are_still_there`, which pins each correction down.

* table-driven: every base and compressed row with random operands (x0 as destination and
  source, rd == rs1), random initial registers and memory; the whole register file, fcsr and the
  data memory are compared;
* riscv-tests style vectors (TEST_RR_OP, TEST_IMM_OP, TEST_FP_OP...): edge values through
  every arithmetic instruction, every static rounding mode and the dynamic one with each frm;
* hypothesis: random straight-line sequences over all non-control-flow instructions;
* faults, dbt only: SIGSEGV, SIGBUS, SIGILL and SIGTRAP with the right pc and address.
"""

from __future__ import annotations

import gc
import itertools
import math
import random
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from isa_harness import (
    BODY_BASE,
    BOX,
    CODE_BASE,
    CSR_FCSR,
    CSR_FFLAGS,
    CSR_FRM,
    DATA_BASE,
    DATA_SIZE,
    INT64_MAX,
    INT64_MIN,
    MASK64,
    ROWS,
    TABLES,
    Instr,
    Outcome,
    State,
    UnicornReference,
    compare_with_unicorn,
    dbt_machine,
    encode,
    encode_fields,
    f32_bits,
    f64_bits,
    operand_kinds,
    run_on_dbt,
    shadowed,
    signed64,
)

from dbt.api import Machine
from dbt.frontends.riscv64.cpu import default_model
from dbt.frontends.riscv64.table import Row
from dbt.runtime.memory import PROT_READ, TASK_SIZE

SIGILL, SIGTRAP, SIGBUS, SIGSEGV = 4, 5, 7, 11

# ----------------------------------------------------------------------------------------------------
# Instruction classes
# ----------------------------------------------------------------------------------------------------

#: The rows Unicorn (QEMU 5.0) knows: RV64GC, what the default rv64gc model decodes. The newer
#: extensions are compared with QEMU 10 in test_isa_extensions.py.
RV64GC_ROWS = [row for row in TABLES.rows if row.name in default_model().rows]
BRANCHES = {"beq", "bne", "blt", "bge", "bltu", "bgeu"}
JUMPS = {"jal", "jalr"}
ACCESS_SIZE = {
    "lb": 1, "lbu": 1, "sb": 1, "lh": 2, "lhu": 2, "sh": 2,
    "lw": 4, "lwu": 4, "sw": 4, "flw": 4, "fsw": 4,
    "ld": 8, "sd": 8, "fld": 8, "fsd": 8,
}  # fmt: skip
LOADS = {"lb", "lbu", "lh", "lhu", "lw", "lwu", "ld", "flw", "fld"}
STORES = {"sb", "sh", "sw", "sd", "fsw", "fsd"}
LR_SC = {"lr.w", "sc.w", "lr.d", "sc.d"}
AMOS = {row.name for row in RV64GC_ROWS if row.name.startswith("amo")}
CSR_OPS = {"csrrw", "csrrs", "csrrc", "csrrwi", "csrrsi", "csrrci"}
#: Tested without Unicorn (they end the run): see the fault tests.
TRAPPING = {"ecall", "ebreak"}

BASE_ROWS = [row for row in RV64GC_ROWS if row.size == 4]
FP_ROWS = [row for row in BASE_ROWS if row.extension in ("f", "d")]
RM_ROWS = [row for row in FP_ROWS if "rm" in row.fields]

#: (rm field, frm) pairs: the five static modes and the dynamic mode with each valid frm.
RM_CHOICES = [(rm, 0) for rm in range(5)] + [(7, frm) for frm in range(5)]


def base_of(row: Row) -> str:
    return row.base or row.name


def seeded_rng(*key: object) -> random.Random:
    """A generator seeded from the test's identity, so a failure reproduces."""
    return random.Random(zlib.crc32(repr(key).encode()))


# ----------------------------------------------------------------------------------------------------
# Values
# ----------------------------------------------------------------------------------------------------

INT_EDGES = (
    0, 1, -1, 2, -2, INT64_MIN, INT64_MAX, INT64_MIN + 1, 0x8000_0000, 0xFFFF_FFFF, 0x7FFF_FFFF,
    -0x8000_0000, -0x7FFF_FFFF, 1 << 32, (1 << 32) + 1, 31, 32, 63, 64, 0x1234_5678_9ABC_DEF0,
)  # fmt: skip

# binary32 bit patterns: zeros, infinities, quiet and signaling NaNs, subnormals, extreme normals,
# exact and inexact values, powers of two at the integer conversion limits.
F32_EDGES = (
    0x0000_0000, 0x8000_0000, 0x7F80_0000, 0xFF80_0000, 0x7FC0_0000, 0xFFC0_1234, 0x7F80_0001,
    0xFFA0_0000, 0x0000_0001, 0x807F_FFFF, 0x0080_0000, 0x8080_0000, 0x7F7F_FFFF, 0xFF7F_FFFF,
    0x3F80_0000, 0xBF80_0000, 0x3FC0_0000, 0x4020_0000, 0xBF00_0000, 0x3EAA_AAAB,
    0x4F00_0000, 0xCF00_0000, 0x4F80_0000, 0x5F00_0000, 0xDF00_0000, 0x5F80_0000,
)  # fmt: skip
F64_EDGES = (
    0x0000_0000_0000_0000, 0x8000_0000_0000_0000, 0x7FF0_0000_0000_0000, 0xFFF0_0000_0000_0000,
    0x7FF8_0000_0000_0000, 0xFFF8_0000_0000_1234, 0x7FF0_0000_0000_0001, 0xFFF4_0000_0000_0000,
    0x0000_0000_0000_0001, 0x800F_FFFF_FFFF_FFFF, 0x0010_0000_0000_0000, 0x8010_0000_0000_0000,
    0x7FEF_FFFF_FFFF_FFFF, 0xFFEF_FFFF_FFFF_FFFF, 0x3FF0_0000_0000_0000, 0xBFF0_0000_0000_0000,
    0x3FF8_0000_0000_0000, 0x4004_0000_0000_0000, 0xBFE0_0000_0000_0000, 0x3FD5_5555_5555_5555,
    0x41E0_0000_0000_0000, 0xC1E0_0000_0000_0000, 0x41F0_0000_0000_0000, 0x43E0_0000_0000_0000,
    0xC3E0_0000_0000_0000, 0x43F0_0000_0000_0000,
)  # fmt: skip
#: Around the limits of the integer conversions, and halfway cases for each rounding mode.
CONVERSION_POINTS = (
    0.0, -0.0, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, -1.0, 0.999, -0.999,
    2.0**31 - 1, 2.0**31 - 0.5, 2.0**31, -(2.0**31), -(2.0**31) - 0.5, -(2.0**31) - 1,
    2.0**32 - 1, 2.0**32 - 0.5, 2.0**32, 2.0**63, -(2.0**63), 2.0**64, 2.0**64 - 2048, 1e300,
    math.inf, -math.inf, math.nan,
)  # fmt: skip
INT_TO_FP_EDGES = (*INT_EDGES, (1 << 24) + 1, (1 << 53) + 1, -((1 << 53) + 1), (1 << 63) + 1, 2**63 - 1024)


def int_value(rng: random.Random) -> int:
    """An integer register value: mostly edge cases, sometimes random 64 or 32 bits."""
    pick = rng.random()
    if pick < 0.6:
        return rng.choice(INT_EDGES) & MASK64
    if pick < 0.8:
        return rng.getrandbits(64)
    low = rng.getrandbits(32)
    if rng.random() < 0.5:
        return low  # zero-extended word
    return ((low ^ 0x8000_0000) - 0x8000_0000) & MASK64  # sign-extended word


def random_float_bits(rng: random.Random, fmt: str) -> int:
    """A random finite value of moderate magnitude (so arithmetic mostly rounds, not overflows)."""
    value = rng.uniform(-1, 1) * 2.0 ** rng.randint(-40, 40)
    return f32_bits(value) if fmt == "s" else f64_bits(value)


def fp_value(rng: random.Random, fmt: str) -> int:
    """An f register value holding a binary32 (NaN-boxed) or binary64."""
    pick = rng.random()
    if pick < 0.55:
        bits = rng.choice(F32_EDGES if fmt == "s" else F64_EDGES)
    elif pick < 0.85:
        bits = random_float_bits(rng, fmt)
    else:
        bits = rng.getrandbits(32 if fmt == "s" else 64)
    return BOX | bits if fmt == "s" else bits


def f_register_value(rng: random.Random) -> int:
    """Any f register content: a boxed single, a double or a raw pattern (an unboxed 'single')."""
    pick = rng.random()
    if pick < 0.45:
        return fp_value(rng, "s")
    if pick < 0.9:
        return fp_value(rng, "d")
    return rng.getrandbits(64)


def fp_register(value: float, fmt: str) -> int:
    """The f register content for a Python float as a binary32 (NaN-boxed) or binary64."""
    if fmt == "s":
        return BOX | (0x7FC0_0000 if math.isnan(value) else f32_bits(value))
    return 0x7FF8_0000_0000_0000 if math.isnan(value) else f64_bits(value)


def conversion_source(rng: random.Random, fmt: str) -> int:
    return fp_register(rng.choice(CONVERSION_POINTS), fmt)


def random_state(rng: random.Random) -> State:
    return State(
        x=[0] + [int_value(rng) for _ in range(31)],
        f=[f_register_value(rng) for _ in range(32)],
        frm=rng.randrange(5),
        fflags=rng.randrange(32),
        mem=rng.randbytes(DATA_SIZE),
    )


# ----------------------------------------------------------------------------------------------------
# Building instructions with random operands
# ----------------------------------------------------------------------------------------------------


def random_fields(row: Row, rng: random.Random) -> dict[str, int]:
    """Operand fields of a random encoding of `row` (never one of its reserved encodings)."""
    while True:
        word = (rng.getrandbits(8 * row.size) & ~row.mask) | row.match
        fields = {name: TABLES.fields[name].extract(word) for name in row.fields}
        if not shadowed(row, word) and not any(fields[name] == value for name, value in row.reserved):
            return fields


def pick_register(rng: random.Random) -> int:
    """A register number, x0 one time in four."""
    return 0 if rng.random() < 0.25 else rng.randrange(1, 32)


def random_operands(row: Row, rng: random.Random) -> dict[str, int]:
    """Random fields, with x0 and rd == rs1 made frequent for 32-bit rows."""
    fields = random_fields(row, rng)
    for name in ("rd", "rs1", "rs2", "rs3"):
        if name in fields:
            fields[name] = pick_register(rng)
    if "rd" in fields and "rs1" in fields and rng.random() < 0.25:
        fields["rd"] = fields["rs1"]
    return fields


def build(row: Row, fields: dict[str, int]) -> Instr:
    return encode(row.name, **fields)


def marker(rng: random.Random) -> Instr:
    """An instruction whose execution shows in the register file (to tell taken from not taken)."""
    reg = rng.randrange(1, 32)
    return encode("addi", rd=reg, rs1=reg, imm12=0x555)


# ----------------------------------------------------------------------------------------------------
# Cases: (program, initial state) for one row
# ----------------------------------------------------------------------------------------------------

Case = tuple[list[Instr], State]


def alu_case(row: Row, rng: random.Random) -> Case:
    """Integer computation (also lui, auipc, fence, fence.i): random operands, interesting values."""
    fields = random_operands(row, rng)
    for name in ("imm12", "shamt6", "shamt5"):
        if name in fields and rng.random() < 0.4:
            edges = {"imm12": (0, 1, -1, 2047, -2048), "shamt6": (0, 1, 31, 32, 63), "shamt5": (0, 1, 31)}
            fields[name] = rng.choice(edges[name])
    return [build(row, fields)], random_state(rng)


def data_address(rng: random.Random, size: int, aligned: bool) -> int:
    """An address for a `size`-byte access inside the data memory: aligned, misaligned, or
    misaligned across the page boundary in its middle."""
    if aligned or size == 1:
        return DATA_BASE + rng.randrange(0, DATA_SIZE - 8, size)
    if rng.random() < 0.3:
        return DATA_BASE + 0x1000 - rng.randrange(1, size)
    return DATA_BASE + rng.randrange(0, DATA_SIZE - 16, size) + rng.randrange(1, size)


def memory_case(row: Row, rng: random.Random, aligned: bool) -> Case:
    """A load or store: the base register points so that base + offset lands in the data memory."""
    fields = random_operands(row, rng)
    if "rs1" in fields and fields["rs1"] == 0:
        fields["rs1"] = rng.randrange(1, 32)
    instr = build(row, fields)
    state = random_state(rng)
    base_reg = instr.operand("rs1")
    offset = instr.operand("imm12") if instr.operand("imm12") is not None else instr.operand("simm12")
    addr = data_address(rng, ACCESS_SIZE[instr.base], aligned)
    state.x[base_reg] = (addr - offset) & MASK64
    return [instr], state


def amo_case(row: Row, rng: random.Random) -> Case:
    """An AMO, LR or SC on an aligned word/doubleword holding an interesting value."""
    fields = random_operands(row, rng)
    if fields["rs1"] == 0:
        fields["rs1"] = rng.randrange(1, 32)
    instr = build(row, fields)
    state = random_state(rng)
    size = 4 if row.name.endswith(".w") else 8
    addr = data_address(rng, size, aligned=True)
    state.x[fields["rs1"]] = addr
    state.mem = put(state.mem, addr, int_value(rng), size)
    return [instr], state


def put(mem: bytes, addr: int, value: int, size: int) -> bytes:
    offset = addr - DATA_BASE
    return mem[:offset] + (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little") + mem[offset + size :]


def lr_sc_case(width: str, rng: random.Random, variant: str) -> Case:
    """LR/SC pairs: a successful pair, SC without LR, SC to another address, SC after a store
    that changed the reserved value (both fail)."""
    size = 4 if width == "w" else 8
    base, other, rd_lr, rd_sc, src = rng.sample(range(1, 32), 5)
    state = random_state(rng)
    addr = data_address(rng, size, aligned=True)
    state.x[base] = addr
    state.x[other] = addr ^ 0x100
    state.mem = put(state.mem, addr, int_value(rng), size)
    aqrl = {"aq": rng.randrange(2), "rl": rng.randrange(2)}
    lr = encode(f"lr.{width}", rd=rd_lr, rs1=base, **aqrl)
    sc_here = encode(f"sc.{width}", rd=rd_sc, rs1=base, rs2=src, **aqrl)
    if variant == "pair":
        return [lr, sc_here], state
    if variant == "alone":
        return [sc_here], state
    if variant == "other address":
        return [lr, encode(f"sc.{width}", rd=rd_sc, rs1=other, rs2=src)], state
    # A store that changes the reserved word between LR and SC.
    state.x[src] = (int.from_bytes(state.mem[addr - DATA_BASE :][:size], "little") + 1) & MASK64
    store = encode("sw" if size == 4 else "sd", rs1=base, rs2=src, simm12=0)
    return [lr, store, sc_here], state


def control_case(row: Row, rng: random.Random, backward: bool) -> Case:
    """A branch or jal: forward over a marker, or backward to a marker, taken or not taken.

    forward:  [transfer -> end] [marker] end
    backward: [j -> transfer] [marker] [j -> end] [transfer -> marker] end
    """
    fields = random_operands(row, rng)
    offset_field = next(name for name in fields if name in ("bimm12", "jimm20", "c_bimm9", "c_jimm12"))
    size = row.size
    fields[offset_field] = -8 if backward else size + 4
    transfer = build(row, fields)
    state = random_state(rng)
    # Branch operands: often equal (for c.beqz/c.bnez: zero), or one apart.
    rs1, rs2 = transfer.operand("rs1"), transfer.operand("rs2")
    if rs1 and rs2 is not None:
        pick = rng.random()
        if pick < 0.4:
            state.x[rs1] = state.x[rs2]
        elif pick < 0.6:
            state.x[rs1] = (state.x[rs2] + rng.choice((1, -1))) & MASK64
    if not backward:
        return [transfer, marker(rng)], state
    program = [
        encode("jal", rd=0, jimm20=12),
        marker(rng),
        encode("jal", rd=0, jimm20=4 + size),
        transfer,
    ]
    return program, state


def jalr_case(row: Row, rng: random.Random) -> Case:
    """jalr/c.jr/c.jalr to the next instruction or over a marker; bit 0 of the target is ignored."""
    fields = random_operands(row, rng)
    if "rs1" in fields and fields["rs1"] == 0:
        fields["rs1"] = rng.randrange(1, 32)
    if "rd" in fields and rng.random() < 0.3:
        fields["rd"] = fields["rs1"]
    instr = build(row, fields)
    state = random_state(rng)
    target = BODY_BASE + row.size + rng.choice((0, 4))
    state.x[instr.operand("rs1")] = (target - instr.operand("imm12") + rng.randrange(2)) & MASK64
    return [instr, marker(rng)], state


def fp_case(row: Row, rng: random.Random, rm: int | None = None, frm: int = 0) -> Case:
    """An F/D computation with inputs of the right format (boxed singles, doubles or integers)."""
    fields = random_operands(row, rng)
    if rm is not None:
        fields["rm"] = rm
    instr = build(row, fields)
    state = random_state(rng)
    state.frm = frm
    base = instr.base
    for name, kind in operand_kinds(base).items():
        reg = instr.operand(name)
        if name == "rd":
            continue
        if kind == "x" and reg:
            state.x[reg] = rng.choice(INT_TO_FP_EDGES) & MASK64 if rng.random() < 0.6 else int_value(rng)
        elif kind in ("s", "d"):
            if base.startswith("fcvt.") and rng.random() < 0.5:
                state.f[reg] = conversion_source(rng, kind)
            else:
                state.f[reg] = fp_value(rng, kind)
        elif kind == "raw":
            state.f[reg] = f_register_value(rng)
    return [instr], state


def csr_case(row: Row, rng: random.Random) -> Case:
    """fflags, frm and fcsr through every CSR instruction (frm may hold 5..7: nothing reads it)."""
    fields = random_operands(row, rng)
    fields["csr"] = rng.choice((CSR_FFLAGS, CSR_FRM, CSR_FCSR))
    state = random_state(rng)
    state.frm = rng.randrange(8)
    if "rs1" in fields and fields["rs1"] and rng.random() < 0.5:
        state.x[fields["rs1"]] = rng.randrange(256)
    return [build(row, fields)], state


def cases_for(row: Row, rng: random.Random) -> Iterable[Case]:
    """The cases of the table-driven test for one row."""
    base = base_of(row)
    if base in LOADS or base in STORES:
        for i in range(12):
            yield memory_case(row, rng, aligned=i % 2 == 0)
    elif base in AMOS or base in LR_SC:
        for _ in range(12):
            yield amo_case(row, rng)
    elif base in BRANCHES or base == "jal":
        for i in range(12):
            yield control_case(row, rng, backward=i % 3 == 2)
    elif base == "jalr":
        for _ in range(10):
            yield jalr_case(row, rng)
    elif base in CSR_OPS:
        for _ in range(24):
            yield csr_case(row, rng)
    elif row in RM_ROWS:
        for rm, frm in RM_CHOICES * 3:
            yield fp_case(row, rng, rm, frm)
    elif row in FP_ROWS:
        for _ in range(20):
            yield fp_case(row, rng)
    else:
        for _ in range(16):
            yield alu_case(row, rng)


UNICORN_ROWS = [row for row in RV64GC_ROWS if base_of(row) not in TRAPPING]


@pytest.mark.parametrize("row", UNICORN_ROWS, ids=lambda row: row.name)
def test_instruction_matches_unicorn(row: Row) -> None:
    rng = seeded_rng("row", row.name)
    for program, state in cases_for(row, rng):
        compare_with_unicorn(program, state)


@pytest.mark.parametrize("width", ["w", "d"])
@pytest.mark.parametrize("variant", ["pair", "alone", "other address", "intervening store"])
def test_lr_sc(width: str, variant: str) -> None:
    rng = seeded_rng("lr/sc", width, variant)
    for _ in range(6):
        compare_with_unicorn(*lr_sc_case(width, rng, variant))


def test_every_row_is_covered() -> None:
    """The table-driven test leaves out only ecall, ebreak and c.ebreak (see the fault tests) of RV64GC."""
    left_out = {row.name for row in RV64GC_ROWS} - {row.name for row in UNICORN_ROWS}
    assert left_out == {"ecall", "ebreak", "c.ebreak"}


# ----------------------------------------------------------------------------------------------------
# riscv-tests style vectors: one program runs many (inputs, rounding mode) vectors of one
# instruction; operands are loaded from memory, results and fflags stored back, so every vector's
# result is compared, not only the last.
# ----------------------------------------------------------------------------------------------------

IN_PTR, OUT_PTR, FLAGS_REG = 8, 9, 5
IN_REGS = {"x": (11, 12, 13), "f": (1, 2, 3)}
OUT_REG = {"x": 10, "f": 4}
VECTORS_PER_PROGRAM = 32

Vector = tuple[tuple[int, ...], int, int]  # (inputs, rm field, frm)


def vector_program(name: str, vectors: Sequence[Vector], imm: Sequence[int] | None = None) -> Case:
    """Program and memory for TEST_*_OP style vectors of instruction `name` (a 32-bit row)."""
    row = ROWS[name]
    kinds = operand_kinds(name)
    sources = [reg for reg in ("rs1", "rs2", "rs3") if reg in kinds]
    rd_file = "x" if kinds.get("rd", "x") == "x" else "f"
    is_fp = row.extension in ("f", "d")
    memory = bytearray(DATA_SIZE)
    program: list[Instr] = []
    for i, (inputs, rm, frm) in enumerate(vectors):
        fields: dict[str, int] = {}
        for j, (reg, value) in enumerate(zip(sources, inputs)):
            file = "x" if kinds[reg] == "x" else "f"
            number = IN_REGS[file][j]
            offset = 24 * i + 8 * j
            memory[offset : offset + 8] = (value & MASK64).to_bytes(8, "little")
            load = "ld" if file == "x" else "fld"
            program.append(encode(load, rd=number, rs1=IN_PTR, imm12=offset))
            fields[reg] = number
        if "rd" in kinds:
            fields["rd"] = OUT_REG[rd_file]
        if "rm" in row.fields:
            fields["rm"] = rm
            if rm == 7:
                program.append(encode("csrrwi", rd=0, csr=CSR_FRM, zimm=frm))
        if imm is not None:
            immediate_field = next(f for f in row.fields if f in ("imm12", "shamt6", "shamt5"))
            fields[immediate_field] = imm[i]
        program.append(encode(name, **fields))
        store = "sd" if rd_file == "x" else "fsd"
        program.append(encode(store, rs1=OUT_PTR, rs2=OUT_REG[rd_file], simm12=16 * i))
        if is_fp:
            program.append(encode("csrrw", rd=FLAGS_REG, csr=CSR_FFLAGS, rs1=0))
            program.append(encode("sd", rs1=OUT_PTR, rs2=FLAGS_REG, simm12=16 * i + 8))
    state = State(mem=bytes(memory))
    state.x[IN_PTR], state.x[OUT_PTR] = DATA_BASE, DATA_BASE + 0x1000
    return program, state


def check_vectors(name: str, vectors: Sequence[Vector], imm: Sequence[int] | None = None) -> None:
    for start in range(0, len(vectors), VECTORS_PER_PROGRAM):
        chunk = vectors[start : start + VECTORS_PER_PROGRAM]
        imm_chunk = imm[start : start + VECTORS_PER_PROGRAM] if imm is not None else None
        compare_with_unicorn(*vector_program(name, chunk, imm_chunk))


def check_rr_op(name: str, pairs: Iterable[tuple[int, int]]) -> None:
    """TEST_RR_OP: rd <- op(rs1, rs2) for each pair of register values."""
    check_vectors(name, [((a, b), 0, 0) for a, b in pairs])


def check_imm_op(name: str, cases: Sequence[tuple[int, int]]) -> None:
    """TEST_IMM_OP: rd <- op(rs1, imm) for each (register value, immediate)."""
    check_vectors(name, [((a,), 0, 0) for a, _ in cases], imm=[imm for _, imm in cases])


def with_rounding_modes(inputs: Iterable[tuple[int, ...]]) -> list[Vector]:
    """Each input tuple with the next rounding mode choice, cycling through RM_CHOICES."""
    choices = itertools.cycle(RM_CHOICES)
    out = []
    for values in inputs:
        rm, frm = next(choices)
        out.append((values, rm, frm))
    return out


def check_fp_op(name: str, inputs: Iterable[tuple[int, ...]], all_modes: bool = False) -> None:
    """TEST_FP_OP: fd/rd <- op(fs1, fs2, fs3) and fflags, under the rounding modes."""
    inputs = list(inputs)
    row = ROWS[name]
    if "rm" not in row.fields:
        vectors = [(values, 0, 0) for values in inputs]
    elif all_modes:
        vectors = [(values, rm, frm) for values in inputs for rm, frm in RM_CHOICES]
    else:
        vectors = with_rounding_modes(inputs)
    check_vectors(name, vectors)


INT_RR_OPS = [
    row.name
    for row in BASE_ROWS
    if row.extension in ("i", "m") and set(row.fields) == {"rd", "rs1", "rs2"} and row.name not in BRANCHES
]
INT_IMM_OPS = [
    row.name
    for row in BASE_ROWS
    if row.extension == "i"
    and row.name not in LOADS | JUMPS
    and ({"imm12", "shamt6", "shamt5"} & set(row.fields))
    and "rd" in row.fields
    and row.name != "fence.i"
]


@pytest.mark.parametrize("name", INT_RR_OPS)
def test_rr_op_edge_values(name: str) -> None:
    """Every pair of edge values: division by zero, INT_MIN / -1 (and the W forms), shifts by
    0/31/32/63/64 and by negative amounts, high products of extreme values."""
    check_rr_op(name, itertools.product(INT_EDGES, repeat=2))


@pytest.mark.parametrize("name", INT_IMM_OPS)
def test_imm_op_edge_values(name: str) -> None:
    row = ROWS[name]
    if "shamt6" in row.fields:
        immediates: tuple[int, ...] = (0, 1, 31, 32, 33, 63)
    elif "shamt5" in row.fields:
        immediates = (0, 1, 15, 31)
    else:
        immediates = (0, 1, -1, 2047, -2048, 0x555, -0x556)
    check_imm_op(name, list(itertools.product(INT_EDGES, immediates)))


def vector_results(name: str, vectors: Sequence[Vector]) -> list[tuple[int, int]]:
    """(result, fflags) of each vector, as computed by dbt (and checked against the reference)."""
    program, state = vector_program(name, vectors)
    got = compare_with_unicorn(program, state).state
    out = got.mem[0x1000 : 0x1000 + 16 * len(vectors)]
    return [
        (
            int.from_bytes(out[16 * i : 16 * i + 8], "little"),
            int.from_bytes(out[16 * i + 8 : 16 * i + 16], "little"),
        )
        for i in range(len(vectors))
    ]


INT32_MIN = -(1 << 31)
#: The M extension's special cases (unprivileged spec, "Division Operations"): (op, a, b, result).
DIVISION_SPEC = [
    ("div", 5, 0, -1),
    ("div", INT64_MIN, -1, INT64_MIN),
    ("divu", 5, 0, MASK64),
    ("rem", -5, 0, -5),
    ("rem", INT64_MIN, -1, 0),
    ("remu", 5, 0, 5),
    ("divw", 7, 0, -1),
    ("divw", INT32_MIN, -1, INT32_MIN),
    ("divw", 0x1_8000_0000, 0xFFFF_FFFF, INT32_MIN),  # only the low words count
    ("divuw", 7, 1 << 32, -1),
    ("remw", 0x1_8000_0007, 0, -0x7FFF_FFF9),  # the sign-extended low word of the dividend
    ("remw", INT32_MIN, -1, 0),
    ("remuw", 0x1_8000_0007, 0, -0x7FFF_FFF9),
]


@pytest.mark.parametrize("name,a,b,want", DIVISION_SPEC)
def test_division_special_cases(name: str, a: int, b: int, want: int) -> None:
    assert vector_results(name, [((a & MASK64, b & MASK64), 0, 0)]) == [(want & MASK64, 0)]


NV, DZ, OF, UF, NX = 0x10, 0x08, 0x04, 0x02, 0x01
S_ONE, S_QNAN, S_SNAN, S_INF, S_NEG = 0x3F80_0000, 0x7FC0_0000, 0x7F80_0001, 0x7F80_0000, 0x8000_0000
D_ONE, D_QNAN, D_SNAN, D_INF, D_NEG = 0x3FF0 << 48, 0x7FF8 << 48, 0x7FF0_0000_0000_0001, 0x7FF0 << 48, 1 << 63


def boxed(bits: int) -> int:
    return BOX | bits


#: Results the F and D chapters fix, whatever the reference says:
#: (instruction, inputs, rm, result, fflags).
FP_SPEC = [
    # Float-to-integer conversions out of range or NaN (table "domains of float-to-integer conversions").
    ("fcvt.w.s", (boxed(S_QNAN),), 1, 0x7FFF_FFFF, NV),
    ("fcvt.w.s", (boxed(S_INF),), 1, 0x7FFF_FFFF, NV),
    ("fcvt.w.s", (boxed(S_NEG | S_INF),), 1, INT32_MIN & MASK64, NV),
    ("fcvt.wu.s", (boxed(S_QNAN),), 1, MASK64, NV),  # 2**32 - 1, sign-extended
    ("fcvt.wu.s", (boxed(S_NEG | S_ONE),), 1, 0, NV),
    ("fcvt.wu.s", (boxed(0xBF00_0000),), 1, 0, NX),  # -0.5 truncates to 0: inexact, not invalid
    ("fcvt.l.d", (D_QNAN,), 0, (1 << 63) - 1, NV),
    ("fcvt.l.d", (D_NEG | D_INF,), 0, 1 << 63, NV),
    ("fcvt.lu.d", (D_SNAN,), 0, MASK64, NV),
    ("fcvt.lu.d", (D_NEG | D_INF,), 0, 0, NV),
    ("fcvt.w.d", (f64_bits(2.5),), 0, 2, NX),  # ties to even
    ("fcvt.w.d", (f64_bits(2.5),), 4, 3, NX),  # ties away from zero
    ("fcvt.w.d", (f64_bits(-2.5),), 2, -3 & MASK64, NX),  # down
    ("fcvt.w.d", (f64_bits(-2.5),), 3, -2 & MASK64, NX),  # up
    # Signed zeros in fmin/fmax, NaN operands (F 2.2, IEEE 754-2019 minimumNumber/maximumNumber).
    ("fmin.d", (0, D_NEG), 0, D_NEG, 0),
    ("fmax.d", (D_NEG, 0), 0, 0, 0),
    ("fmin.s", (boxed(S_QNAN), boxed(S_ONE)), 0, boxed(S_ONE), 0),
    ("fmax.s", (boxed(S_SNAN), boxed(S_ONE)), 0, boxed(S_ONE), NV),
    ("fmin.s", (boxed(S_QNAN | 0x1234), boxed(S_SNAN)), 0, boxed(S_QNAN), NV),
    # NaN results are canonical, whatever the input payloads.
    ("fadd.d", (D_SNAN, D_ONE), 0, D_QNAN, NV),
    ("fmul.s", (boxed(0xFFC0_1234), boxed(S_ONE)), 0, boxed(S_QNAN), 0),
    ("fcvt.d.s", (boxed(0xFFC0_1234),), 0, D_QNAN, 0),
    ("fcvt.s.d", (D_SNAN,), 0, boxed(S_QNAN), NV),
    ("fsqrt.s", (boxed(S_NEG | S_ONE),), 0, boxed(S_QNAN), NV),
    ("fmadd.d", (D_INF, 0, D_QNAN), 0, D_QNAN, NV),  # inf * 0 is invalid even with a quiet NaN addend
    # Exceptions.
    ("fdiv.d", (D_ONE, 0), 0, D_INF, DZ),
    ("fdiv.s", (boxed(S_NEG | S_ONE), boxed(0)), 0, boxed(S_NEG | S_INF), DZ),
    ("fmul.d", (0x7FEF_FFFF_FFFF_FFFF, 0x4000 << 48), 1, 0x7FEF_FFFF_FFFF_FFFF, OF | NX),  # rtz: max finite
    ("fmul.s", (boxed(0x0080_0000), boxed(0x3F00_0000)), 0, boxed(0x0040_0000), 0),  # exact subnormal: no UF
    ("fmul.s", (boxed(0x0080_0001), boxed(0x3F00_0000)), 0, boxed(0x0040_0000), UF | NX),  # tie to even, tiny
    # Comparisons: feq is quiet, flt/fle signal on any NaN.
    ("feq.s", (boxed(S_QNAN), boxed(S_ONE)), 0, 0, 0),
    ("feq.s", (boxed(S_SNAN), boxed(S_ONE)), 0, 0, NV),
    ("flt.d", (D_QNAN, D_ONE), 0, 0, NV),
    ("fle.d", (D_NEG, 0), 0, 1, 0),
    # fclass: one bit per class.
    *[
        ("fclass.d", (bits,), 0, 1 << bit, 0)
        for bit, bits in enumerate(
            (D_NEG | D_INF, D_NEG | D_ONE, D_NEG | 1, D_NEG, 0, 1, D_ONE, D_INF, D_SNAN, D_QNAN)
        )
    ],
    ("fclass.s", (0x3F80_0000,), 0, 1 << 9, 0),  # not NaN-boxed: the canonical NaN
]


@pytest.mark.parametrize("name,inputs,rm,want,flags", FP_SPEC)
def test_fp_spec_values(name: str, inputs: tuple[int, ...], rm: int, want: int, flags: int) -> None:
    uses_rm = "rm" in ROWS[name].fields
    assert vector_results(name, [(inputs, rm if uses_rm else 0, 0)]) == [(want, flags)]


def fp_edges(kind: str) -> list[int]:
    """Edge values of an operand kind ("s", "d", or "raw": any f register content)."""
    singles = [BOX | bits for bits in F32_EDGES]
    if kind == "s":
        return singles
    return list(F64_EDGES) if kind == "d" else singles + list(F64_EDGES)


def int_source_edges() -> list[int]:
    return [value & MASK64 for value in INT_TO_FP_EDGES]


def fp_inputs(name: str, rng: random.Random) -> list[tuple[int, ...]]:
    """Input tuples for an F/D instruction: all pairs of edge values for two operands, a sample of
    edge triples for the fused multiply-adds, conversion limits, plus random values."""
    kinds = operand_kinds(name)
    sources = [kinds[reg] for reg in ("rs1", "rs2", "rs3") if reg in kinds]

    def pool(kind: str) -> list[int]:
        if kind == "x":
            return int_source_edges()
        if name.startswith("fcvt."):
            return fp_edges(kind) + [fp_register(value, kind) for value in CONVERSION_POINTS]
        return fp_edges(kind)

    def random_source(kind: str) -> int:
        return int_value(rng) if kind == "x" else fp_value(rng, kind)

    if len(sources) == 1:
        inputs = [(value,) for value in pool(sources[0])]
    elif len(sources) == 2:
        inputs = list(itertools.product(pool(sources[0]), pool(sources[1])))
    else:
        triples = list(itertools.product(*(pool(kind) for kind in sources)))
        inputs = rng.sample(triples, 400)
    inputs += [tuple(random_source(kind) for kind in sources) for _ in range(64)]
    return inputs


FP_VECTOR_OPS = [row.name for row in FP_ROWS if row.name not in ("flw", "fld", "fsw", "fsd")]


@pytest.mark.parametrize("name", FP_VECTOR_OPS)
def test_fp_op_edge_values(name: str) -> None:
    """TEST_FP_OP over edge values; unary operations see every rounding mode for every input."""
    rng = seeded_rng("fp vectors", name)
    inputs = fp_inputs(name, rng)
    check_fp_op(name, inputs, all_modes=len(inputs[0]) == 1)


def test_fp_unboxed_single_inputs_read_as_canonical_nan() -> None:
    """A binary32 operand whose upper 32 bits are not all ones is the canonical NaN (F spec,
    NaN boxing); transfers (fmv.x.w, fsw) move the low bits as they are."""
    unboxed = (0x3F80_0000, 0x0000_0000_7F80_0000, 0x1234_5678_3F80_0000, 0xFFFF_FFFE_3F80_0000)
    one = BOX | 0x3F80_0000
    for name in ("fadd.s", "fmul.s", "fmin.s", "fmax.s", "fsgnj.s", "fsgnjn.s", "fsgnjx.s", "feq.s", "fle.s"):
        check_fp_op(name, [(value, one) for value in unboxed] + [(one, value) for value in unboxed])
    for name in ("fsqrt.s", "fclass.s", "fcvt.d.s", "fcvt.w.s", "fcvt.lu.s", "fmv.x.w"):
        check_fp_op(name, [(value,) for value in unboxed])
    check_fp_op(
        "fmadd.s", [(value, one, one) for value in unboxed] + [(one, one, value) for value in unboxed]
    )


# ----------------------------------------------------------------------------------------------------
# Where Unicorn departs from the spec: pinned down, and dbt checked against the spec values
# ----------------------------------------------------------------------------------------------------


def test_unicorn_deviations_are_still_there() -> None:
    """Each correction the reference applies corresponds to a real QEMU 5.0 behaviour (so an
    upgrade of Unicorn shows up here), and dbt gives the spec's result in each case."""
    one_s, snan_s = BOX | 0x3F80_0000, BOX | 0x7F80_0001
    one_d, snan_d, qnan_d, inf_d = 0x3FF0 << 48, 0x7FF0_0000_0000_0001, 0x7FF8 << 48, 0x7FF0 << 48

    def run_both(name: str, fields: dict[str, int], f: dict[int, int]) -> tuple[State, State, State]:
        state = State()
        for reg, value in f.items():
            state.f[reg] = value
        program = [encode(name, **fields)]
        raw = UnicornReference(correct=False).run(program, state).state
        corrected = UnicornReference().run(program, state).state
        got, _ = run_on_dbt(program, state)
        return raw, corrected, got.state

    # Single results are not NaN-boxed by QEMU 5.0.
    raw, spec, got = run_both("fadd.s", {"rd": 1, "rs1": 2, "rs2": 2, "rm": 0}, {2: one_s})
    assert raw.f[1] == 0x4000_0000 and spec.f[1] == got.f[1] == BOX | 0x4000_0000
    # An unboxed single input is used as a value by QEMU 5.0, as the canonical NaN by the spec.
    raw, spec, got = run_both("fadd.s", {"rd": 1, "rs1": 2, "rs2": 3, "rm": 0}, {2: 0x3F80_0000, 3: one_s})
    assert raw.f[1] & 0xFFFF_FFFF == 0x4000_0000 and spec.f[1] == got.f[1] == BOX | 0x7FC0_0000
    # fmin with one signaling NaN: QEMU 5.0 gives the canonical NaN, F 2.2 the other operand (NV set).
    raw, spec, got = run_both("fmin.d", {"rd": 1, "rs1": 2, "rs2": 3}, {2: snan_d, 3: one_d})
    assert raw.f[1] == qnan_d and spec.f[1] == got.f[1] == one_d and got.fflags == 0x10
    raw, spec, got = run_both("fmax.s", {"rd": 1, "rs1": 2, "rs2": 3}, {2: one_s, 3: snan_s})
    assert raw.f[1] & 0xFFFF_FFFF == 0x7FC0_0000 and spec.f[1] == got.f[1] == one_s
    # inf * 0 + qNaN: invalid even though the addend is a quiet NaN.
    raw, spec, got = run_both(
        "fmadd.d", {"rd": 1, "rs1": 2, "rs2": 3, "rs3": 4, "rm": 0}, {2: inf_d, 4: qnan_d}
    )
    assert raw.fflags == 0 and spec.fflags == got.fflags == 0x10 and got.f[1] == qnan_d


# ----------------------------------------------------------------------------------------------------
# Random straight-line sequences (hypothesis)
# ----------------------------------------------------------------------------------------------------

#: sp and s0 point into the data memory for the whole sequence; no instruction writes them.
SP_VALUE, S0_VALUE = DATA_BASE + 0x1000, DATA_BASE + 0x1800
PROTECTED = (2, 8)
CONTROL_FLOW = BRANCHES | JUMPS
SEQUENCE_ROWS = [
    row
    for row in RV64GC_ROWS
    if base_of(row) not in CONTROL_FLOW | TRAPPING and row.name not in ("c.addi16sp", "lr.w", "lr.d")
]
LR_ROWS = [ROWS["lr.w"], ROWS["lr.d"]]
#: Reserved rounding modes (5, 6) are rare: they end the run with SIGILL on both sides.
RM_VALUES = [0, 1, 2, 3, 4, 7] * 6 + [5, 6]


def destination_field(row: Row) -> str | None:
    """The field that names the integer register the instruction writes, if any."""
    base = base_of(row)
    if operand_kinds(base).get("rd") != "x":
        return None
    if not row.base:
        return "rd"
    source = dict(row.assign).get("rd")
    return source if isinstance(source, str) else None


@st.composite
def straight_line_instr(draw: st.DrawFn) -> list[Instr]:
    """One instruction (or an LR/SC pair) with random operands; memory operands use sp or s0."""
    row = draw(st.sampled_from(SEQUENCE_ROWS + LR_ROWS))
    word = draw(st.integers(0, (1 << (8 * row.size)) - 1))
    word = (word & ~row.mask) | row.match
    fields = {name: TABLES.fields[name].extract(word) for name in row.fields}
    base = base_of(row)
    if "rm" in fields:
        fields["rm"] = draw(st.sampled_from(RM_VALUES))
    if "csr" in fields:
        fields["csr"] = draw(st.sampled_from((CSR_FFLAGS, CSR_FFLAGS, CSR_FRM, CSR_FCSR)))
    if base in LOADS | STORES | AMOS | LR_SC:
        if "rs1" in fields:
            fields["rs1"] = draw(st.sampled_from(PROTECTED))
        if "c_rs1p" in fields:
            fields["c_rs1p"] = 8
    dest = destination_field(row)
    if dest is not None and fields[dest] in PROTECTED:
        kind = TABLES.fields[dest].kind
        fields[dest] = draw(st.integers(9, 15) if kind == "creg" else st.sampled_from([3, 4, 5, 10, 31]))
    assume(not any(fields[name] == value for name, value in row.reserved))
    assume(not shadowed(row, encode_fields(row, fields)[0]))
    instr = encode(row.name, **fields)
    if row in LR_ROWS:
        sc = encode(
            "sc" + row.name[2:],
            rd=draw(st.sampled_from([0, 1, 5, 12, 30])),
            rs1=fields["rs1"],
            rs2=draw(st.integers(0, 31)),
        )
        return [instr, sc]
    return [instr]


int_values = st.one_of(st.sampled_from(INT_EDGES), st.integers(INT64_MIN, INT64_MAX)).map(
    lambda v: v & MASK64
)
f_values = st.one_of(
    st.sampled_from(F32_EDGES).map(lambda bits: BOX | bits),
    st.sampled_from(F64_EDGES),
    st.integers(0, MASK64),
)


@st.composite
def initial_states(draw: st.DrawFn) -> State:
    x = [0, *draw(st.lists(int_values, min_size=31, max_size=31))]
    x[2], x[8] = SP_VALUE, S0_VALUE
    f = draw(st.lists(f_values, min_size=32, max_size=32))
    seed = draw(st.integers(0, 2**32 - 1))
    return State(
        x=x,
        f=f,
        frm=draw(st.integers(0, 4)),
        fflags=draw(st.integers(0, 31)),
        mem=random.Random(seed).randbytes(DATA_SIZE),
    )


@st.composite
def sequences(draw: st.DrawFn, max_size: int) -> list[Instr]:
    """Programs of 1..max_size instructions (an LR/SC pair counts as one), lengths uniform."""
    size = draw(st.integers(1, max_size))
    parts = draw(st.lists(straight_line_instr(), min_size=size, max_size=size))
    return list(itertools.chain.from_iterable(parts))


def record_outcome(outcome: Outcome, program: Sequence[Instr]) -> None:
    """Hypothesis statistics: how long the programs were and how many ended at a trap."""
    event(f"{len(program) // 10 * 10}+ instructions")
    event("stopped at an illegal instruction" if outcome.trap_pc is not None else "ran to the end")


HYPOTHESIS = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow, HealthCheck.filter_too_much]}


#: dbt's block size limit: 1 puts every instruction in a block of its own.
BLOCK_SIZES = st.sampled_from([64, 64, 1, 2, 5])


@settings(max_examples=150, **HYPOTHESIS)
@given(program=sequences(max_size=12), init=initial_states(), block=BLOCK_SIZES)
def test_random_sequences(program: list[Instr], init: State, block: int) -> None:
    record_outcome(compare_with_unicorn(program, init, block), program)


@pytest.mark.slow
@settings(max_examples=1500, **HYPOTHESIS)
@given(program=sequences(max_size=40), init=initial_states(), block=BLOCK_SIZES)
def test_random_sequences_long(program: list[Instr], init: State, block: int) -> None:
    record_outcome(compare_with_unicorn(program, init, block), program)


# ----------------------------------------------------------------------------------------------------
# Faults (dbt only): signal, pc of the faulting instruction, address; the faulting instruction
# does not retire and the ones before it do.
# ----------------------------------------------------------------------------------------------------

UNMAPPED = 0x30000


def snippet(
    program: Sequence[Instr | bytes], x: dict[int, int] | None = None, max_block_insns: int = 64
) -> tuple[Machine, int]:
    """A dbt machine with raw code at CODE_BASE and the data memory mapped, and the code size."""
    code = b"".join(item if isinstance(item, bytes) else item.encoding() for item in program)
    m = dbt_machine(code, max_block_insns)
    m.map(DATA_BASE, DATA_SIZE)
    for reg, value in (x or {}).items():
        m.x[reg] = signed64(value)
    return m, len(code)


def expect_signal(m: Machine, signal: int, pc: int, addr: int | None = None) -> None:
    status = m.run()
    assert status.signal == signal, status
    assert status.pc == pc, f"{status.pc:#x} != {pc:#x}"
    if addr is not None:
        assert status.addr is not None and status.addr & MASK64 == addr & MASK64, status


FAR_ADDRESSES = [UNMAPPED, 0, 2**38, 2**38 - 4, 2**40, 2**47, 2**63, 2**64 - 8, 2**64 - 1]
LOAD_STORE_ROWS = ["lb", "lhu", "lw", "ld", "flw", "fld", "sb", "sh", "sw", "sd", "fsw", "fsd"]


def access(name: str, base: int = 6, data: int = 7) -> Instr:
    """`name data, 0(base)` for a load or a store."""
    if name in LOADS:
        return encode(name, rd=data, rs1=base, imm12=0)
    return encode(name, rs1=base, rs2=data, simm12=0)


@pytest.mark.parametrize("addr", FAR_ADDRESSES, ids=hex)
@pytest.mark.parametrize("name", LOAD_STORE_ROWS)
def test_access_outside_memory_is_sigsegv(name: str, addr: int) -> None:
    """Also far outside the guest address space: the host never touches its own memory."""
    before = encode("addi", rd=5, rs1=0, imm12=42)
    m, _ = snippet([before, access(name)], {6: addr, 7: 0x1122})
    expect_signal(m, SIGSEGV, CODE_BASE + 4, addr)
    assert m.x[5] == 42, "the instruction before the fault retired"
    if name in ("flw", "fld"):
        assert m.f[7] == 0, "the faulting load did not write its destination"
    else:
        assert m.x[7] == 0x1122, "the faulting load did not write its destination"


@pytest.mark.parametrize("name", ["lh", "lw", "ld", "sh", "sw", "sd"])
def test_access_across_the_end_of_mapped_memory_is_sigsegv(name: str) -> None:
    """A misaligned access whose last bytes fall on an unmapped page faults and writes nothing."""
    size = ACCESS_SIZE[name]
    addr = DATA_BASE + DATA_SIZE - size + 1
    m, _ = snippet([access(name)], {6: addr, 7: -1})
    before = m.read_memory(DATA_BASE + DATA_SIZE - 8, 8)
    status = m.run()
    assert status.signal == SIGSEGV and status.pc == CODE_BASE
    assert status.addr is not None and addr <= status.addr < addr + size
    assert m.read_memory(DATA_BASE + DATA_SIZE - 8, 8) == before
    assert m.x[7] == -1


def test_store_to_read_only_page_is_sigsegv() -> None:
    page = 0x40000
    m, _ = snippet([encode("sd", rs1=6, rs2=7, simm12=8)], {6: page, 7: 5})
    m.map(page, 0x1000, PROT_READ)
    expect_signal(m, SIGSEGV, CODE_BASE, page + 8)
    assert m.read_memory(page + 8, 8) == bytes(8)


def test_load_from_read_only_page_works() -> None:
    page = 0x40000
    m, size = snippet([encode("ld", rd=7, rs1=6, imm12=0)], {6: page, 7: 3})
    m.map(page, 0x1000, PROT_READ)
    status = m.run()
    assert status.code == 0 and status.pc == CODE_BASE + size
    assert m.x[7] == 0


ATOMIC_ROWS = sorted(AMOS | LR_SC)
#: An SC without a reservation of its address fails before it touches memory (see below).
FAULTING_ATOMIC_ROWS = [name for name in ATOMIC_ROWS if not name.startswith("sc.")]


@pytest.mark.parametrize("name", FAULTING_ATOMIC_ROWS)
def test_misaligned_atomic_is_sigbus(name: str) -> None:
    size = 4 if name.endswith(".w") else 8
    addr = DATA_BASE + 0x100 + size // 2
    program = [encode("addi", rd=5, rs1=0, imm12=1), encode(name, rd=7, rs1=6)]
    m, _ = snippet(program, {6: addr, 7: 9})
    expect_signal(m, SIGBUS, CODE_BASE + 4, addr)
    assert m.x[5] == 1 and m.x[7] == 9


@pytest.mark.parametrize("addr", [a for a in FAR_ADDRESSES if a % 8 == 0], ids=hex)
@pytest.mark.parametrize("name", FAULTING_ATOMIC_ROWS)
def test_atomic_outside_memory_is_sigsegv(name: str, addr: int) -> None:
    source = {} if name.startswith("lr") else {"rs2": 7}
    m, _ = snippet([encode(name, rd=7, rs1=6, **source)], {6: addr, 7: 5})
    expect_signal(m, SIGSEGV, CODE_BASE, addr)
    assert m.x[7] == 5


# (Not 2**64 - 1: that is "no reservation" itself, in dbt as in QEMU.)
@pytest.mark.parametrize("addr", [DATA_BASE + 0x104, *FAR_ADDRESSES[:-1]], ids=hex)
@pytest.mark.parametrize("name", ["sc.w", "sc.d"])
def test_sc_without_reservation_fails_without_a_fault(name: str, addr: int) -> None:
    """No reservation: the SC fails (rd = 1) without a SIGBUS or SIGSEGV, wherever it points, as
    under qemu-riscv64 (the atomics guest checks the same against it)."""
    m, size = snippet([encode(name, rd=7, rs1=6, rs2=8)], {6: addr, 7: 5, 8: -1})
    status = m.run()
    assert status.code == 0 and status.signal is None and status.pc == CODE_BASE + size, status
    assert m.x[7] == 1


ILLEGAL_WORDS = {
    "all zeros (16-bit)": (0x0000).to_bytes(2, "little"),
    "all ones": (0xFFFF_FFFF).to_bytes(4, "little"),
    "c.lui x1, 0 (reserved)": (0x6081).to_bytes(2, "little"),
    "unknown major opcode": (0x0000_007B).to_bytes(4, "little"),
    "48-bit prefix": (0x0000_001F).to_bytes(4, "little"),
    "csrrw x0, cycle, x0 (unimp)": encode("csrrw", rd=0, csr=0xC00, rs1=0).encoding(),
    "csrrs to an unknown CSR": encode("csrrs", rd=5, csr=0x7C0, rs1=0).encoding(),
    "mstatus from user mode": encode("csrrs", rd=5, csr=0x300, rs1=0).encoding(),
    "fadd.d rm=5": encode("fadd.d", rd=1, rs1=2, rs2=3, rm=5).encoding(),
    "fmul.s rm=6": encode("fmul.s", rd=1, rs1=2, rs2=3, rm=6).encoding(),
    "fcvt.w.d rm=5": encode("fcvt.w.d", rd=1, rs1=2, rm=5).encoding(),
    "fcvt.d.s rm=6": encode("fcvt.d.s", rd=1, rs1=2, rm=6).encoding(),
    "fmadd.d rm=5": encode("fmadd.d", rd=1, rs1=2, rs2=3, rs3=4, rm=5).encoding(),
}


@pytest.mark.parametrize("word", ILLEGAL_WORDS.values(), ids=ILLEGAL_WORDS.keys())
def test_illegal_instruction_is_sigill(word: bytes) -> None:
    program = [encode("addi", rd=5, rs1=0, imm12=3), word, encode("addi", rd=6, rs1=0, imm12=4)]
    m, _ = snippet(program)
    expect_signal(m, SIGILL, CODE_BASE + 4, CODE_BASE + 4)
    assert m.x[5] == 3 and m.x[6] == 0


@pytest.mark.parametrize("frm", [5, 6, 7])
@pytest.mark.parametrize("name", ["fadd.s", "fsqrt.d", "fcvt.l.s", "fcvt.s.lu", "fmsub.d", "fcvt.d.s"])
def test_dynamic_rounding_with_invalid_frm_is_sigill(name: str, frm: int) -> None:
    row = ROWS[name]
    fields = {f: 1 for f in row.fields if f in ("rd", "rs1", "rs2", "rs3")} | {"rm": 7}
    set_frm = encode("csrrwi", rd=0, csr=CSR_FRM, zimm=frm)
    m, _ = snippet([set_frm, encode(name, **fields)])
    expect_signal(m, SIGILL, CODE_BASE + 4)
    assert m.fcsr >> 5 == frm


def test_static_rounding_ignores_an_invalid_frm() -> None:
    set_frm = encode("csrrwi", rd=0, csr=CSR_FRM, zimm=7)
    m, size = snippet([set_frm, encode("fadd.d", rd=1, rs1=2, rs2=3, rm=0)])
    status = m.run()
    assert status.code == 0 and status.pc == CODE_BASE + size


@pytest.mark.parametrize("name", ["ebreak", "c.ebreak"])
def test_ebreak_in_the_middle_is_sigtrap(name: str) -> None:
    program = [encode("addi", rd=5, rs1=0, imm12=1), encode(name), encode("addi", rd=6, rs1=0, imm12=1)]
    m, _ = snippet(program)
    expect_signal(m, SIGTRAP, CODE_BASE + 4)
    assert m.x[5] == 1 and m.x[6] == 0


@pytest.mark.parametrize("target", [UNMAPPED, 2**38, 2**40], ids=hex)
def test_jump_outside_the_code_is_sigsegv(target: int) -> None:
    """The jump retires (its link register is written); the fetch at the target faults."""
    m, _ = snippet([encode("jalr", rd=1, rs1=6, imm12=0)], {6: target})
    expect_signal(m, SIGSEGV, target, target)
    assert m.x[1] == CODE_BASE + 4


@pytest.mark.parametrize("target", [2**63, 2**64 - 8], ids=hex)
def test_jump_to_a_far_address_reports_it_unsigned(target: int) -> None:
    m, _ = snippet([encode("jalr", rd=1, rs1=6, imm12=0)], {6: target})
    expect_signal(m, SIGSEGV, target, target)
    status = m.exit_status
    assert status is not None and status.pc == target and status.addr == target


@pytest.mark.parametrize("block", [1, 2, 64])
def test_counter_csrs_count_retired_instructions(block: int) -> None:
    """cycle and instret read the instructions retired before the reading one (also across
    block boundaries); time is a clock that does not go backwards. Unicorn runs in machine mode
    with its own counters, so this is dbt only."""
    count = [encode("addi", rd=5, rs1=5, imm12=1)] * 3
    reads = [
        encode("csrrs", rd=6, csr=0xC02, rs1=0),  # rdinstret
        encode("csrrs", rd=7, csr=0xC00, rs1=0),  # rdcycle
        encode("csrrsi", rd=8, csr=0xC02, zimm=0),
        encode("csrrs", rd=9, csr=0xC01, rs1=0),  # rdtime
        encode("csrrs", rd=10, csr=0xC01, rs1=0),
    ]
    m, size = snippet(count + reads, max_block_insns=block)
    status = m.run()
    assert status.code == 0 and status.pc == CODE_BASE + size
    assert list(m.x[5:9]) == [3, 3, 4, 5]
    assert 0 < m.x[9] <= m.x[10]
    assert m.instructions == len(count + reads)


def test_execute_from_non_executable_data_is_sigsegv() -> None:
    m, _ = snippet([encode("jalr", rd=0, rs1=6, imm12=0)], {6: DATA_BASE})
    m.write_memory(DATA_BASE, encode("addi", rd=5, rs1=0, imm12=1).encoding())
    status = m.run()
    assert status.signal == SIGSEGV and status.pc == DATA_BASE
    assert m.x[5] == 0


def host_address_space() -> int:
    """Bytes of address space mapped in this process (adjacent mappings may merge, sizes add up)."""
    total = 0
    for line in Path("/proc/self/maps").read_text().splitlines():
        start, end = (int(part, 16) for part in line.split()[0].split("-"))
        total += end - start
    return total


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs /proc/self/maps")
def test_dropped_machines_release_their_host_memory() -> None:
    """Each machine reserves TASK_SIZE of host address space: it must go with the machine, or a
    golden-model user running many snippets runs out of address space after a few hundred."""
    before = host_address_space()
    for _ in range(3):
        m = Machine.from_code(encode("addi", rd=5, rs1=0, imm12=1).encoding(), CODE_BASE)
        assert m.run().code == 0
        del m
    gc.collect()
    assert host_address_space() - before < TASK_SIZE


def test_vector_programs_store_every_result() -> None:
    """Sanity check of the vector harness itself: two additions, their results and their flags."""
    one, two, tiny = fp_register(1.0, "s"), fp_register(2.0, "s"), fp_register(2.0**-30, "s")
    program, state = vector_program("fadd.s", [((one, two), 0, 0), ((one, tiny), 7, 3)])
    got, status = run_on_dbt(program, state)
    out = [int.from_bytes(got.state.mem[0x1000 + 8 * i :][:8], "little") for i in range(4)]
    assert status.code == 0
    assert out == [fp_register(3.0, "s"), 0, BOX | 0x3F80_0001, 1]  # round up (frm = 3), NX
