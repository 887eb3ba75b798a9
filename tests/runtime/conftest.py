"""Fixtures shared by the system-call tests (tests/runtime/test_syscalls_*.py)."""

from __future__ import annotations

import pytest
from syscall_harness import FdTracker, Guest


@pytest.fixture
def guest():
    """A machine whose code is one ecall (a module may override this fixture)."""
    return Guest()


@pytest.fixture
def fds():
    """Host descriptors the test opens, closed at teardown."""
    tracker = FdTracker()
    yield tracker
    tracker.close_all()
