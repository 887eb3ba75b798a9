"""Every guest program in tests/guests, built with every available toolchain, run under dbt.

Each run is compared with the expected output checked in under tests/guests/expected (recorded
under qemu-riscv64 and checked across the musl and glibc builds) and, when qemu-riscv64 is
installed and can run the case, with a live qemu-riscv64 run of the same binary.
"""

from __future__ import annotations

import pytest
from dbtrun import QEMU, env_without, run_dbt, run_qemu, strip_dbt_lines
from guestbuild import available_toolchains, build_guest
from guests.cases import CASES

TOOLCHAINS = available_toolchains()


def _params():
    for case in CASES:
        for toolchain in TOOLCHAINS:
            marks = [pytest.mark.slow] if case.slow else []
            yield pytest.param(case, toolchain, id=f"{case.name}-{toolchain}", marks=marks)


def _expected_status(case) -> int:
    return case.exit_status if case.exit_status >= 0 else 128 - case.exit_status


@pytest.mark.parametrize(("case", "toolchain"), list(_params()))
def test_guest(case, toolchain, tmp_path):
    binary = str(build_guest(case.guest, toolchain))
    dynamic = toolchain.endswith("dynamic")
    args = case.substituted_args(tmp_path)
    result = run_dbt(binary, args, stdin=case.stdin, dynamic=dynamic, env=env_without("MINISHELL_DEPTH"))
    assert result.status == _expected_status(case), result.stderr.decode(errors="replace")[-2000:]
    if case.expected_stdout() is not None:
        assert result.stdout == case.expected_stdout()
    if case.expected_stderr() is not None:
        assert strip_dbt_lines(result.stderr) == case.expected_stderr()
    if case.exit_status < 0:
        # dbt's own line names the signal.
        assert b"dbt: guest terminated by SIG" in result.stderr
    if QEMU and case.qemu_can_run and not case.slow:
        qemu_dir = tmp_path / "qemu"
        qemu_dir.mkdir()
        reference = run_qemu(binary, case.substituted_args(qemu_dir), stdin=case.stdin, dynamic=dynamic)
        assert result.status == reference.status
        assert result.stdout == reference.stdout
        assert strip_dbt_lines(result.stderr) == reference.stderr
