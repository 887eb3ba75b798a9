"""Region code generation: every op a region can hold must inline down to plain instructions.

An op whose call stays a call (a declaration that does not match the op library's definition,
an op the optimiser cannot inline) still computes the right result, so the differential tests
cannot see it; it only makes every region that uses it several times slower. This test can.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from dbt.backends.jit.codegen import REGION_SHAPES, RegionBlock, _plan_checks, generate
from dbt.backends.jit.compiler import compile_ir, optimised_module, target_machine
from dbt.ir.ops import MAY_FAULT_SHAPES, OPS, Shape
from dbt.ir.state import F_BASE, PC_BITS, RM_DYN

BASE = 0x10000
CONTROL = {Shape.BRANCH, Shape.JAL, Shape.JALR}


def _row(op_index: int, pc: int, index: int, rd=5, rs1=6, rs2=7, rs3=8, aux=0, imm=0, extra=0) -> list[int]:
    w0 = op_index | rd << 16 | rs1 << 24 | rs2 << 32 | rs3 << 40 | aux << 48
    return [w0, imm, pc | index << PC_BITS, extra]


def _region_of_every_op() -> list[RegionBlock]:
    """One straight block with every non-control op, then one block per control op."""
    rows, pc = [], BASE
    for number, op in enumerate(OPS):
        if op.shape not in REGION_SHAPES or op.shape in CONTROL:
            continue
        fp = op.shape.name.startswith("FP_")
        regs = dict(rd=F_BASE + 1, rs1=F_BASE + 2, rs2=F_BASE + 3, rs3=F_BASE + 4) if fp else {}
        aux = RM_DYN if op.shape in (Shape.FP_RR_RM, Shape.FP_R_RM, Shape.FP_RRR_RM) else 0
        rows.append(_row(number, pc, len(rows), aux=aux, imm=8, **regs))
        pc += 4
    jal = next(number for number, op in enumerate(OPS) if op.shape is Shape.JAL)
    rows.append(_row(jal, pc, len(rows), rd=0, imm=pc + 4, extra=pc + 4))
    pc += 4
    blocks = [RegionBlock(BASE, np.array(rows, dtype=np.int64), len(rows))]
    for number, op in enumerate(OPS):
        if op.shape in CONTROL:
            start = pc
            row = _row(number, pc, 0, imm=BASE, extra=pc + 4)
            blocks.append(RegionBlock(start, np.array([row], dtype=np.int64), 1))
            pc += 4
    return blocks


@pytest.fixture(scope="module", params=["user", "system"])
def every_op_region(request):
    """The region of every op, as user mode and as system mode (which translates each access
    through the TLB and checks each alone) generate it."""
    blocks = _region_of_every_op()
    system = request.param == "system"
    text, symbols = generate("dbt_region_test", blocks, system=system)
    return text, symbols, blocks, system


#: The soft-float cores (add, multiply, round-and-pack...) stay out of line on purpose: they are
#: large, and one copy per region is plenty. LLVM intrinsics are instructions; the host-FPU
#: square roots are libm calls in the IR that code generation turns into the host's sqrtsd /
#: sqrtss (test_host_square_roots_are_instructions).
OUT_OF_LINE = re.compile(r"@_ZN3dbt2ir9softfloat|@llvm\.|@sqrtf?\(")


def test_every_op_is_inlined_into_the_region(every_op_region):
    text, symbols, blocks, system = every_op_region
    module = optimised_module(text, "dbt_region_test", symbols)
    # The exact memory check is out of line by design (codegen._check_memory), and not even
    # compiled with the region: it is a helper bound at load time (helpers.py).
    assert module.get_function("dbt_sem_mem_ok_exact").is_declaration
    ops_left = [
        f.name for f in module.functions if f.name.startswith("dbt_sem_") and f.name != "dbt_sem_mem_ok_exact"
    ]
    assert not ops_left, f"ops left out of line: {ops_left}"
    region = str(module.get_function("dbt_region_test"))
    calls = [line.strip() for line in region.splitlines() if re.search(r"\bcall\b", line)]
    other = [c for c in calls if "musttail call" not in c and not OUT_OF_LINE.search(c)]
    exact_checks = [c for c in other if "@dbt_sem_mem_ok_exact" in c]
    assert len(exact_checks) == expected_check_sites(blocks, grouped=not system), exact_checks
    assert not [c for c in other if c not in exact_checks], other


def expected_check_sites(blocks: list[RegionBlock], grouped: bool) -> int:
    """One exact check per memory-touching op of the region, but (outside system mode) one per
    group of loads and stores that share a check (codegen._plan_checks)."""
    memory_shapes = MAY_FAULT_SHAPES
    accesses = sum(OPS[int(row[0]) & 0xFFFF].shape in memory_shapes for b in blocks for row in b.code)
    if not grouped:
        return accesses
    covered = sum(len(_plan_checks(b)[1]) for b in blocks)
    assert covered > 0, "the region should hold accesses that share a check"
    return accesses - covered


def test_the_region_covers_every_region_shape(every_op_region):
    _, _, blocks, _ = every_op_region
    shapes = set()
    for block in blocks:
        shapes.update(OPS[int(row[0]) & 0xFFFF].shape for row in block.code)
    assert shapes == {op.shape for op in OPS} & REGION_SHAPES


def test_jit_dump_writes_the_ir_and_the_assembly(every_op_region, tmp_path, monkeypatch):
    text, symbols, _, _ = every_op_region
    monkeypatch.setenv("DBT_JIT_DUMP", str(tmp_path))
    object_code, _ = compile_ir(text, "dbt_region_test", symbols)
    assert object_code.startswith(b"\x7fELF")
    assert (tmp_path / "dbt_region_test.ll").read_text() == text
    assert "define i64 @dbt_region_test" in (tmp_path / "dbt_region_test.opt.ll").read_text()
    assert "dbt_region_test:" in (tmp_path / "dbt_region_test.s").read_text()


def test_host_square_roots_are_instructions(every_op_region):
    text, symbols, _, _ = every_op_region
    module = optimised_module(text, "dbt_region_test", symbols)
    assembly = target_machine().emit_assembly(module)
    assert re.search(r"\bv?sqrtsd\b", assembly) and re.search(r"\bv?sqrtss\b", assembly)
    assert not re.search(r"\$sqrtf?\b|call\w*\s+sqrtf?\b", assembly)
