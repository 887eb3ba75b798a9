"""Differential runs (`dbt run --differential`) of the guest programs: the interpreter runs each
guest for real while a JIT shadow with every block compiled (--jit-threshold 0) must agree with it
on registers, pc, fcsr, instret and all mapped memory at every system call, fault and exit.

Every case runs with the musl build; a few cases that cover the most ground (floating point,
atomics, signals, fork/exec, the benchmarks' kernels) also run with the glibc builds, as slow tests.
"""

from __future__ import annotations

import re

import pytest
from dbtrun import env_without, run_dbt, strip_dbt_lines
from guestbuild import available_toolchains, build_guest
from guests.cases import CASES

TOOLCHAINS = available_toolchains()
GLIBC_CASES = {"hello", "float", "atomics", "signals", "heap", "minishell-pipeline", "fpcompute-small"}
#: Guests that create threads: the lockstep runs one thread (they fail with a one-line error,
#: tested below); tests/e2e/test_threads.py compares both tiers with QEMU on them instead.
THREADED = {"threads", "futex", "sigmore", "events", "forkthreads", "robust"}


def _params():
    for case in CASES:
        if case.slow or case.name in THREADED:
            continue
        for toolchain in TOOLCHAINS:
            if toolchain == "zig-musl-static":
                yield pytest.param(case, toolchain, id=f"{case.name}-{toolchain}")
            elif case.name in GLIBC_CASES:
                yield pytest.param(case, toolchain, id=f"{case.name}-{toolchain}", marks=[pytest.mark.slow])


@pytest.mark.parametrize(("case", "toolchain"), list(_params()))
def test_interpreter_and_jit_agree(case, toolchain, tmp_path):
    binary = str(build_guest(case.guest, toolchain))
    result = run_dbt(
        binary,
        case.substituted_args(tmp_path),
        stdin=case.stdin,
        options=("--differential", "--stats"),
        dynamic=toolchain.endswith("dynamic"),
        env=env_without("MINISHELL_DEPTH"),
    )
    stderr = result.stderr.decode(errors="replace")
    assert "interpreter and JIT differ" not in stderr, stderr[-3000:]
    expected = case.exit_status if case.exit_status >= 0 else 128 - case.exit_status
    assert result.status == expected, stderr[-3000:]
    if case.expected_stdout() is not None:
        assert result.stdout == case.expected_stdout()
    if case.expected_stderr() is not None:
        assert strip_dbt_lines(result.stderr) == case.expected_stderr()
    # The shadow really ran: events were compared and regions compiled.
    compared = re.search(r"dbt: differential: ([\d,]+) events compared", stderr)
    assert compared and int(compared.group(1).replace(",", "")) > 0, stderr[-3000:]
    installed = re.search(r"JIT shadow: ([\d,]+) regions installed", stderr)
    assert installed and int(installed.group(1).replace(",", "")) > 0, stderr[-3000:]


def test_threads_refused_in_lockstep():
    """A guest that creates a thread under --differential ends with one line, not a traceback."""
    binary = str(build_guest("threads", "zig-musl-static"))
    result = run_dbt(binary, [], options=("--differential",))
    stderr = result.stderr.decode(errors="replace")
    assert result.status == 1, stderr[-3000:]
    assert "dbt: error: --differential runs the two tiers in lockstep on one thread" in stderr
    assert "Traceback" not in stderr
