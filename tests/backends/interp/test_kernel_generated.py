"""The interpreter kernel is generated from the IR op table: the checked-in file is up to date and
has one dispatch case per op, in op-number order."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from dbt.backends.interp import gen_kernel
from dbt.ir.ops import OPS, Shape

CASE = re.compile(r"^ {12}(?:if|elif) op == (\d+):  # (\S+)$", re.MULTILINE)


def dispatch_cases(source: str) -> list[tuple[int, str]]:
    """(op number, op name) of each case of the kernel's dispatch, in source order."""
    return [(int(number), name) for number, name in CASE.findall(source)]


def test_generated_kernel_is_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dbt.backends.interp.gen_kernel", "--check"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, (
        "backends/interp/_kernel.py (or _hash.py) is stale: run python -m dbt.backends.interp.gen_kernel\n"
        + result.stdout
        + result.stderr
    )


@pytest.mark.parametrize("source", ["generated", "checked in"])
def test_every_op_has_exactly_one_case(source: str) -> None:
    text = gen_kernel.generate() if source == "generated" else gen_kernel.OUTPUT.read_text()
    assert dispatch_cases(text) == [(number, op.name) for number, op in enumerate(OPS)]


def test_every_shape_has_a_template() -> None:
    """case_body knows every shape in use; an op with a semantics function calls it."""
    for op in OPS:
        body = gen_kernel.case_body(op)
        if op.sem:
            assert f"sem.{op.sem}(" in body, op.name
    assert {op.shape for op in OPS} <= set(Shape)


def test_semantics_functions_exist() -> None:
    from dbt.ir import semantics

    missing = [op.name for op in OPS if op.sem and not hasattr(semantics, op.sem)]
    assert not missing
