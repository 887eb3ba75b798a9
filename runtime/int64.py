"""Guest values in the int64 arrays the kernels share with Python (registers, state words).
(Its own module so that system mode does not load the user-mode process to get it.)
Stage: runtime.
"""

from __future__ import annotations

MASK64 = (1 << 64) - 1


def to_int64(value: int) -> int:
    """A 64-bit guest value as the int64 the register and state arrays hold."""
    value &= MASK64
    return value - (1 << 64) if value >= 1 << 63 else value
