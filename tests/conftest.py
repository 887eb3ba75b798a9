"""Shared test fixtures: the tests directory on sys.path, and the interpreter kernel warmed once."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))

# Guest programs must never leave core files behind, whatever the shell's ulimit says.
try:
    import resource

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
except (ImportError, ValueError, OSError):
    pass

os.environ.setdefault("DBT_LOG", "warning")


def pytest_sessionstart(session):
    """Compile (or load) the interpreter kernel once, so guest runs in subprocesses hit Numba's cache
    and no test sees the one-time 'compiling' status line."""
    from dbt.backends.interp import load_kernel

    load_kernel()


# ---- the QEMU 10 reference for the RVA22/RVA23 extensions (tests/isaref.py) ----


@pytest.fixture(scope="session")
def qemu_ref() -> str:
    """Path of the QEMU 10 qemu-riscv64 ($DBT_QEMU_REF, else the fetch script's cache dir, else
    /tmp/apt13/x/usr/bin/qemu-riscv64). Absent: skip, or fail when DBT_REQUIRE_QEMU_REF=1 (CI)."""
    from isaref import FETCH_SCRIPT, find_qemu_ref

    path = find_qemu_ref()
    if path is None:
        reason = (
            f"QEMU 10 qemu-riscv64 not found: run {FETCH_SCRIPT} (or set DBT_QEMU_REF to a qemu-riscv64 10.x)"
        )
        if os.environ.get("DBT_REQUIRE_QEMU_REF") == "1":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return path
