"""Host descriptors dbt keeps for itself (its private stderr, JIT worker pipes), out of the guest's way.

A guest expects the descriptor numbers Linux would give it (the lowest free), and an execve
closes its close-on-exec descriptors: dbt's own pipes must neither take low numbers nor be
closed with the guest's. They are moved to high numbers and registered here.
"""

from __future__ import annotations

import fcntl
import os

_OWN: set[int] = set()


def claim(fd: int) -> int:
    """Move fd to a high close-on-exec number, register it as dbt's, and return the new number."""
    for lowest in (1000, 100, 10):
        try:
            high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, lowest)
        except OSError:
            continue
        os.close(fd)
        fd = high
        break
    _OWN.add(fd)
    return fd


def release(fd: int) -> None:
    """Close one of dbt's descriptors."""
    _OWN.discard(fd)
    try:
        os.close(fd)
    except OSError:
        pass


def is_own(fd: int) -> bool:
    return fd in _OWN


def owned() -> set[int]:
    """The live set of dbt's descriptors (what the guest may not close or replace)."""
    return _OWN
