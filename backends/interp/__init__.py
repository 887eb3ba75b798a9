"""Tier 0: the interpreter, a Numba nopython kernel over encoded IR (generated into _kernel.py).

`load_kernel()` returns the interpreter as a callable. Its native code is compiled once (by
Numba, about a minute, announced on stderr) and kept in dbt's cache directory keyed by the IR
sources, the host CPU and llvmlite's version; later runs load the object code in milliseconds
without importing Numba (see dbt.backends.native).
Stage: backend (knows nothing of frontends or the runtime).
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from dbt.backends.diskcache import cache_dir, write_atomic
from dbt.backends.native import NativeLibrary, host_fingerprint
from dbt.hostthreads import signals_held

log = logging.getLogger("dbt.interp")

_ARGS = (ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p, ctypes.c_int64,
         ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p,
         ctypes.c_int64)  # fmt: skip
_PROTOTYPE = ctypes.CFUNCTYPE(ctypes.c_int64, *_ARGS)


def _pointer(array: np.ndarray) -> int:
    return array.__array_interface__["data"][0]


class Kernel:
    """The loaded interpreter: call it with the guest arrays; returns an EXIT_* reason."""

    def __init__(self, library: NativeLibrary, symbol: str) -> None:
        self._library = library  # keeps the code alive
        self.raw = _PROTOTYPE(library.address(symbol))

    @staticmethod
    def arguments(regs, state, mem, perm, code, blocks, keys, values) -> tuple:
        """The raw argument tuple for `raw` (recompute when any array is replaced)."""
        return (
            *(_pointer(regs), _pointer(state)),
            *(_pointer(mem), mem.shape[0], _pointer(perm), perm.shape[0]),
            *(_pointer(code), code.shape[0], _pointer(blocks), blocks.shape[0]),
            *(_pointer(keys), _pointer(values), keys.shape[0]),
        )

    def __call__(self, regs, state, mem, perm, code, blocks, keys, values) -> int:
        return self.raw(*self.arguments(regs, state, mem, perm, code, blocks, keys, values))


_loaded: Kernel | None = None
_lock = threading.Lock()


def source_hash() -> str:
    from dbt.backends.interp._hash import SOURCE_HASH

    return SOURCE_HASH


def kernel_path() -> Path:
    key = hashlib.sha256(f"{source_hash()}|{host_fingerprint()}".encode()).hexdigest()[:24]
    return cache_dir() / f"interp-{key}.o"


def load_kernel(announce: Callable[[str], object] | None = None) -> Kernel:
    """The interpreter kernel, from the disk cache or compiled now.

    `announce(message)` is called if a compile is needed (it takes about a minute), so the user
    knows why dbt is waiting; it may return an object with a `stop()` method.
    """
    global _loaded
    with _lock:
        if _loaded is not None:
            return _loaded
        _check_fresh()
        path = kernel_path()
        entry = _read_entry(path)
        if entry is not None:
            _loaded = Kernel(NativeLibrary(entry[0]), entry[1])
            return _loaded
        notice = (
            announce("compiling the interpreter kernel (once after install, about a minute)")
            if announce
            else None
        )
        started = time.perf_counter()
        try:
            from dbt.backends.interp.build import compile_object

            # Numba's compile starts a native thread that stays: it must not take the guest's
            # signals (see dbt.hostthreads).
            with signals_held():
                object_code, symbol = compile_object()
        finally:
            stop = getattr(notice, "stop", None)
            if stop:
                stop()
        log.info(
            "interpreter kernel compiled in %.1f s and cached in %s", time.perf_counter() - started, path
        )
        digest = hashlib.sha256(object_code).hexdigest()
        write_atomic(path, f"{symbol} {digest}\n".encode() + object_code)
        _loaded = Kernel(NativeLibrary(object_code), symbol)
        return _loaded


def _read_entry(path: Path) -> tuple[bytes, str] | None:
    """(object code, symbol) of a cache entry, or None if it is missing or damaged."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    header, _, object_code = data.partition(b"\n")
    fields = header.decode(errors="replace").split()
    if len(fields) != 2 or hashlib.sha256(object_code).hexdigest() != fields[1]:
        log.warning("interpreter cache entry %s is damaged: compiling it again", path)
        return None
    return object_code, fields[0]


def _check_fresh() -> None:
    """Warn when the IR sources changed after _kernel.py was generated (a development slip)."""
    try:
        from dbt.backends.interp.gen_kernel import dependency_hash

        current = dependency_hash()
    except OSError:  # installed without sources to hash: nothing to compare
        return
    if current != source_hash():
        log.warning(
            "the interpreter kernel is stale (IR sources changed): "
            "run python -m dbt.backends.interp.gen_kernel"
        )
