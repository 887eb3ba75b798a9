"""Tier 0: the interpreter, a Numba nopython kernel over encoded IR (generated into _kernel.py).

`load_kernel()` returns the compiled dispatcher. Numba caches it on disk, so only the first run
after an install compiles it (about a minute); that run shows a status line on stderr.
Stage: backend (knows nothing of frontends or the runtime).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger("dbt.interp")

_kernel_fn: Callable | None = None


def load_kernel(announce: Callable[[str], object] | None = None) -> Callable:
    """The compiled interpreter kernel, loading it from Numba's cache or compiling it.

    `announce(message)`, if given, is called (from a timer thread) when loading takes long
    enough that the kernel is evidently being compiled, so the user knows why dbt is waiting;
    it may return a context-manager-like object with a `stop()` method.
    """
    global _kernel_fn
    if _kernel_fn is not None:
        return _kernel_fn
    from dbt.backends.interp import _kernel

    _check_fresh(_kernel.SOURCE_HASH)
    notice: list[object] = []

    def slow() -> None:
        if announce is not None:
            notice.append(
                announce("compiling the interpreter kernel (first run after install, about a minute)")
            )

    timer = threading.Timer(1.5, slow)
    timer.daemon = True
    started = time.perf_counter()
    timer.start()
    try:
        _kernel.run.compile(_kernel.SIGNATURE)
    finally:
        timer.cancel()
        for item in notice:
            stop = getattr(item, "stop", None)
            if stop:
                stop()
    elapsed = time.perf_counter() - started
    if notice:
        log.info("interpreter kernel compiled in %.1f s and cached for later runs", elapsed)
    else:
        log.debug("interpreter kernel loaded in %.3f s", elapsed)
    _kernel_fn = _kernel.run
    return _kernel_fn


def _check_fresh(embedded: str) -> None:
    """Warn when the IR sources changed after _kernel.py was generated (a development slip)."""
    try:
        from dbt.backends.interp.gen_kernel import dependency_hash

        current = dependency_hash()
    except OSError:  # installed without sources we can hash: nothing to compare
        return
    if current != embedded:
        log.warning(
            "the interpreter kernel is stale (IR sources changed): "
            "run python -m dbt.backends.interp.gen_kernel"
        )
