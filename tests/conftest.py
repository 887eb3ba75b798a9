"""Shared test fixtures: the tests directory on sys.path, and the interpreter kernel warmed once."""

from __future__ import annotations

import os
import sys
from pathlib import Path

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
