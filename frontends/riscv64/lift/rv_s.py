"""Supervisor instructions (system mode only: see opcodes/rv_s)."""

from __future__ import annotations

from dbt.frontends.riscv64.decoder import Insn
from dbt.frontends.riscv64.lift.rv_i import pc_of
from dbt.ir.builder import BlockBuilder


def lift_sfence_vma(b: BlockBuilder, i: Insn) -> bool:
    # The kernels flush the TLB (or hand it to Python: U mode, TVM, straddling blocks); the block
    # ends, so the next fetch is translated afresh.
    b.emit("sfence_vma", rs1=i.rs1, rs2=i.rs2, extra=pc_of(b, i) + i.size)
    return True
