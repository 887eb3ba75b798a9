"""The compile pool: worker processes turn region IR into object code while the guest runs.

Numba and llvmlite serialise compilation inside one process (ARCHITECTURE.md), so parallel
compilation needs processes. Workers are started with the `spawn` method (a forked copy of a
process holding LLVM and guest state is neither safe nor small) and import only llvmlite and
dbt's JIT compiler. With 0 workers, compiles run in the calling thread (for debugging).
"""

from __future__ import annotations

import concurrent.futures
import logging
import multiprocessing
import os
from concurrent.futures import Future

from dbt.backends.jit.compiler import compile_ir
from dbt.backends.jit.oplib import SemSymbol

log = logging.getLogger("dbt.jit")


def default_workers() -> int:
    """cores - 1, at least 1."""
    return max(1, (os.cpu_count() or 2) - 1)


def _compile_job(
    ir_text: str, entry: str, symbols: list[SemSymbol], cache_directory: str | None, key: str
) -> tuple[bytes, float]:
    """Compile a region and store it in the L2 cache (the worker does, so a compile that finishes
    after the guest exited still speeds up the next run)."""
    object_code, seconds = compile_ir(ir_text, entry, symbols)
    if cache_directory is not None:
        from pathlib import Path

        from dbt.backends.jit.l2cache import RegionCache

        RegionCache(Path(cache_directory)).put(key, object_code, entry)
    return object_code, seconds


class CompilePool:
    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._executor: concurrent.futures.Executor | None = None
        self._owner = os.getpid()

    def submit(
        self, ir_text: str, entry: str, symbols: list[SemSymbol], cache_directory: str | None, key: str
    ) -> Future:
        args = (ir_text, entry, symbols, cache_directory, key)
        if self.workers == 0:
            future: Future = Future()
            try:
                future.set_result(_compile_job(*args))
            except Exception as exc:  # reported when the result is collected
                future.set_exception(exc)
            return future
        return self._pool().submit(_compile_job, *args)

    def _pool(self) -> concurrent.futures.Executor:
        if self._executor is None or self._owner != os.getpid():
            # A guest fork leaves the child with a copy of the parent's pool object whose
            # processes are not its own: start a fresh pool there.
            self._owner = os.getpid()
            context = multiprocessing.get_context("spawn")
            self._executor = concurrent.futures.ProcessPoolExecutor(self.workers, mp_context=context)
            log.debug("started %d JIT compile workers", self.workers)
        return self._executor

    def shutdown(self) -> None:
        if self._executor is not None and self._owner == os.getpid():
            self._executor.shutdown(wait=False, cancel_futures=True)
        self._executor = None
