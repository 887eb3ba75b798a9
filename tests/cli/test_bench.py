"""`dbt bench`: the head-to-head table and its JSON, on a guest small enough for the test suite.

Timings are never asserted (the machines are shared and noisy); what is checked is that every
configuration ran, that the medians and ratios are computed from the recorded times, and that a
failure is one line with a non-zero status.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess

import pytest
from dbtrun import dbt_command


def bench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(dbt_command("bench", *args), capture_output=True, text=True, timeout=600)


def test_bench_times_every_configuration_and_writes_json(tmp_path) -> None:
    out = tmp_path / "bench.json"
    result = bench("--runs", "2", "--json", str(out), "kernels:arith:2")
    assert result.returncode == 0, result.stderr
    assert "dbt warm" in result.stdout and "× qemu" in result.stdout
    report = json.loads(out.read_text())
    assert report["runs"] == 2 and report["machine"]["cores"] >= 1
    (guest,) = report["guests"]
    assert guest["spec"] == "kernels:arith:2"
    expected = {"dbt cold", "dbt warm", "dbt interp"}
    if shutil.which("qemu-riscv64"):
        expected.add("qemu")
    if any(shutil.which(cc) for cc in ("cc", "gcc", "clang")):
        expected.add("native")
    assert set(guest["times"]) == expected
    for label, times in guest["times"].items():
        assert len(times) == 2 and all(t > 0 for t in times)
        assert guest["median"][label] == pytest.approx(statistics.median(times))
    if "qemu" in expected:
        qemu = guest["median"]["qemu"]
        assert guest["vs_qemu"]["dbt warm"] == pytest.approx(guest["median"]["dbt warm"] / qemu)
    assert guest["mips"]["dbt interp"] > 0


def test_bench_without_interp_skips_it(tmp_path) -> None:
    out = tmp_path / "bench.json"
    result = bench("--runs", "1", "--no-interp", "--json", str(out), "hello")
    assert result.returncode == 0, result.stderr
    (guest,) = json.loads(out.read_text())["guests"]
    assert "dbt interp" not in guest["times"] and "dbt warm" in guest["times"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [("no_such_guest", "cannot build guest no_such_guest"), ("bad/name", "bad guest 'bad/name'")],
)
def test_bench_errors_are_one_line(spec: str, message: str) -> None:
    result = bench("--runs", "1", spec)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr
