"""Lifters: one `lift_<name>(b, i) -> bool` per base instruction, grouped by extension.

A lifter emits the IR ops of one instruction into a `BlockBuilder`; it returns False when the
instruction cannot run here (a reserved rounding mode, an unknown CSR), which becomes an
illegal-instruction trap. `LIFTERS` maps each base instruction name to its lifter.
"""

from __future__ import annotations

from collections.abc import Callable

from dbt.frontends.riscv64.decoder import Insn
from dbt.frontends.riscv64.lift import rv_a, rv_f, rv_i, rv_m, rv_zicsr
from dbt.ir.builder import BlockBuilder

Lifter = Callable[[BlockBuilder, Insn], bool]


def _collect() -> dict[str, Lifter]:
    table: dict[str, Lifter] = {}
    for module in (rv_i, rv_m, rv_a, rv_f, rv_zicsr):
        for attr, fn in vars(module).items():
            if attr.startswith("lift_"):
                table[attr[5:].replace("_", ".")] = fn
    return table


#: Base instruction name ("fadd.s") -> lifter.
LIFTERS: dict[str, Lifter] = _collect()
