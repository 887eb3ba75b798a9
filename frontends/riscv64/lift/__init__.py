"""Lifters: one `lift_<name>(b, i) -> bool` per base instruction, grouped by extension.

A lifter emits the IR ops of one instruction into a `BlockBuilder`; it returns False when the
instruction cannot run here (a reserved rounding mode, an unknown CSR), which becomes an
illegal-instruction trap. `LIFTERS` maps each base instruction name to its lifter.
"""

from __future__ import annotations

from collections.abc import Callable

from dbt.frontends.riscv64.decoder import Insn
from dbt.frontends.riscv64.lift import rv_a, rv_f, rv_i, rv_m, rv_s, rv_zb, rv_zfa, rv_zfh, rv_zicsr, rv_zmisc
from dbt.ir.builder import BlockBuilder

Lifter = Callable[[BlockBuilder, Insn], bool]


def _collect() -> dict[str, Lifter]:
    table: dict[str, Lifter] = {}
    for module in (rv_i, rv_m, rv_a, rv_f, rv_zicsr, rv_zmisc, rv_zfh, rv_zfa, rv_s):
        for attr, fn in vars(module).items():
            if attr.startswith("lift_"):
                table[attr[5:].replace("_", ".")] = fn
    table.update(rv_zb.lifters())  # type: ignore[arg-type]
    return table


#: Base instruction name ("fadd.s") -> lifter.
LIFTERS: dict[str, Lifter] = _collect()
