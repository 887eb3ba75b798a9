"""Guest threads and signals under both tiers: the threads, futex, sigmore and events guests of
tests/guests (every toolchain) run with the interpreter only and with every block compiled on
its first execution, each compared with qemu-riscv64 on the same binary; a stress run repeats
the threaded guest to catch races.

(tests/e2e/test_guests.py runs the same cases with dbt's defaults.)
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from dbtrun import QEMU, Result, run_dbt, run_qemu
from guestbuild import available_toolchains, build_guest, build_native
from guests.cases import EXPECTED_DIR

TOOLCHAINS = available_toolchains()
#: dbt options of each tier: the interpreter alone, and the JIT compiling a region from every
#: block on its first execution (so the threads run compiled code as soon as it is installed).
TIERS = {"interp": ("--no-jit",), "jit": ("--jit-threshold", "1")}


#: Guests whose reference is a native build (qemu-riscv64 answers set_robust_list with ENOSYS).
NATIVE_REFERENCE = {"robust"}


def _reference(binary: str, dynamic: bool, guest: str) -> Result:
    """qemu-riscv64 on the same binary, or (without it, or for NATIVE_REFERENCE) the output
    recorded under it or natively."""
    if QEMU and guest not in NATIVE_REFERENCE:
        return run_qemu(binary, [], dynamic=dynamic)
    return Result(0, (EXPECTED_DIR / f"{guest}.stdout").read_bytes(), b"")


@pytest.mark.parametrize("libc", ["glibc", "musl"])
def test_robust_record_is_what_linux_does(libc):
    """The robust guest's expected output is what the same program does natively on this Linux,
    with each C library (robust mutexes behave the same on every architecture)."""
    native = build_native("robust", libc)
    result = subprocess.run([str(native)], capture_output=True, timeout=60)
    assert result.returncode == 0
    assert result.stdout == (EXPECTED_DIR / "robust.stdout").read_bytes()


@pytest.mark.parametrize("tier", sorted(TIERS))
@pytest.mark.parametrize("toolchain", TOOLCHAINS)
@pytest.mark.parametrize("guest", ["threads", "futex", "sigmore", "events", "forkthreads", "robust"])
def test_threaded_guest(guest, toolchain, tier):
    binary = str(build_guest(guest, toolchain))
    dynamic = toolchain.endswith("dynamic")
    result = run_dbt(binary, [], options=TIERS[tier], dynamic=dynamic, timeout=300)
    reference = _reference(binary, dynamic, guest)
    assert result.status == reference.status, result.stderr.decode(errors="replace")[-3000:]
    assert result.stdout == reference.stdout
    assert result.stderr == reference.stderr


#: dbt's command line with a tracing function in every thread, as coverage.py or a debugger sets.
_TRACED_DBT = """
import runpy, sys, threading
def trace(frame, event, arg):
    return None
sys.settrace(trace)
threading.settrace(trace)
sys.argv[0] = "dbt"
runpy.run_module("dbt", run_name="__main__")
"""


def test_threads_under_a_tracing_function():
    """Python tracing (coverage, debuggers) must not hang threads: with CPython 3.11, a KICK
    handled by a Python-level handler left a tracing thread looping on the pending-signal check
    while it held the group's lock, and the main thread waited for that lock forever."""
    binary = str(build_guest("threads", "zig-musl-static"))
    cmd = [sys.executable, "-c", _TRACED_DBT, "run", "--no-jit", binary, "300"]
    result = subprocess.run(cmd, capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr.decode(errors="replace")[-3000:]
    reference = run_qemu(binary, ["300"]) if QEMU else None
    if reference is not None:
        assert result.stdout == reference.stdout


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
