"""References from outside: programs and kernels built by others, from Debian trixie's riscv64
packages, through tests/tools/fetch-debian-riscv64 (cached in $DBT_REF_DIR), and installed
tools. A test that needs one skips when it is missing, and fails instead where
DBT_REQUIRE_QEMU_REF=1 (CI, which installs and fetches them all)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

FETCH = Path(__file__).resolve().parent / "tools" / "fetch-debian-riscv64"


def missing(reason: str) -> None:
    """Skip the test, or fail it in CI."""
    if os.environ.get("DBT_REQUIRE_QEMU_REF") == "1":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def need(path: str | None, what: str) -> None:
    """`path` (of `what`) must exist."""
    if not (path and os.path.exists(path)):
        missing(f"{what} is not installed (.ci/run installs it)")


def fetch(*args: str) -> str:
    """The path fetch-debian-riscv64 prints for `args`."""
    try:
        result = subprocess.run([str(FETCH), *args], capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        result = subprocess.CompletedProcess(args, 1, "", str(exc))
    if result.returncode != 0:
        missing(f"cannot fetch {' '.join(args)}: {result.stderr.strip()[-300:]}")
    return result.stdout.strip()
