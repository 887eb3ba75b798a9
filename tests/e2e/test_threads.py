"""Guest threads and signals under both tiers: the threads, futex, sigmore and events guests of
tests/guests (every toolchain) run with the interpreter only and with every block compiled on
its first execution, each compared with qemu-riscv64 on the same binary; a stress run repeats
the threaded guest to catch races.

(tests/e2e/test_guests.py runs the same cases with dbt's defaults.)
"""

from __future__ import annotations

import time

import pytest
from dbtrun import QEMU, Result, run_dbt, run_qemu
from guestbuild import available_toolchains, build_guest
from guests.cases import EXPECTED_DIR

TOOLCHAINS = available_toolchains()
#: dbt options of each tier: the interpreter alone, and the JIT compiling a region from every
#: block on its first execution (so the threads run compiled code as soon as it is installed).
TIERS = {"interp": ("--no-jit",), "jit": ("--jit-threshold", "1")}


def _reference(binary: str, dynamic: bool, guest: str) -> Result:
    """qemu-riscv64 on the same binary, or (without it) the output recorded under it."""
    if QEMU:
        return run_qemu(binary, [], dynamic=dynamic)
    return Result(0, (EXPECTED_DIR / f"{guest}.stdout").read_bytes(), b"")


@pytest.mark.parametrize("tier", sorted(TIERS))
@pytest.mark.parametrize("toolchain", TOOLCHAINS)
@pytest.mark.parametrize("guest", ["threads", "futex", "sigmore", "events"])
def test_threaded_guest(guest, toolchain, tier):
    binary = str(build_guest(guest, toolchain))
    dynamic = toolchain.endswith("dynamic")
    result = run_dbt(binary, [], options=TIERS[tier], dynamic=dynamic, timeout=300)
    reference = _reference(binary, dynamic, guest)
    assert result.status == reference.status, result.stderr.decode(errors="replace")[-3000:]
    assert result.stdout == reference.stdout
    assert result.stderr == reference.stderr


@pytest.mark.slow
@pytest.mark.parametrize("tier", sorted(TIERS))
def test_threads_stress(tier):
    """The threaded guest again and again with fewer rounds (so threads start, contend and end
    at many different moments), for about a minute per tier: any race that corrupts a counter,
    loses a wake (a hang: the timeout) or crashes shows as a difference."""
    binary = str(build_guest("threads", "zig-musl-static"))
    reference = run_qemu(binary, ["300"]) if QEMU else None
    deadline = time.monotonic() + 60
    runs = 0
    while time.monotonic() < deadline or runs < 3:
        result = run_dbt(binary, ["300"], options=TIERS[tier], timeout=120)
        assert result.status == 0, result.stderr.decode(errors="replace")[-3000:]
        assert b"WRONG" not in result.stdout and b" NO" not in result.stdout, result.stdout.decode()
        if reference is not None:
            assert result.stdout == reference.stdout
        runs += 1
