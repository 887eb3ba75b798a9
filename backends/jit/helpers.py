"""Out-of-line helpers: semantics functions that regions call rather than inline.

A helper that every memory access may need but almost never runs (the exact memory check,
semantics.mem_ok_exact) would otherwise be linked into every region module and compiled again
each time: measured on compute.c's regions, that copy was a fifth of a small region's code
generation time. It is compiled once into its own object (kept beside the op library's
bitcode), and its address is bound to its name in this process before any region is loaded,
so regions reach it by an ordinary relocation.

Stage: backend.
"""

from __future__ import annotations

import hashlib
import threading
from functools import cache

from dbt.backends.diskcache import write_atomic
from dbt.backends.jit.compiler import target_machine
from dbt.backends.jit.oplib import MEM_OK_EXACT, SemSymbol, library_dir, load_bitcode
from dbt.backends.native import NativeLibrary, _llvm

#: Symbols regions declare and call, never link.
HELPERS: tuple[SemSymbol, ...] = (MEM_OK_EXACT,)

_bound: list[NativeLibrary] = []
_lock = threading.Lock()


def helper_object(symbol: SemSymbol) -> bytes:
    """The helper's object code (defining `symbol.name`), built and cached if missing."""
    path = library_dir() / f"{symbol.name}.o"
    try:
        header, _, object_code = path.read_bytes().partition(b"\n")
        if hashlib.sha256(object_code).hexdigest() == header.decode():
            return object_code
    except (OSError, ValueError):
        pass
    llvm = _llvm()
    bitcode, native = load_bitcode(symbol)
    module = llvm.parse_bitcode(bitcode)
    tm = target_machine()
    module.triple = tm.triple
    module.data_layout = str(tm.target_data)
    module.get_function(native).name = symbol.name
    object_code = tm.emit_object(module)
    write_atomic(path, hashlib.sha256(object_code).hexdigest().encode() + b"\n" + object_code)
    return object_code


@cache
def build_helpers() -> None:
    """Make sure every helper's object is in the cache (compile workers call this, so the
    process that loads their regions finds the helpers built)."""
    for symbol in HELPERS:
        helper_object(symbol)


def bind_helpers() -> None:
    """Load the helpers and bind their names in this process (once)."""
    with _lock:
        if _bound:
            return
        llvm = _llvm()
        for symbol in HELPERS:
            library = NativeLibrary(helper_object(symbol))
            llvm.add_symbol(symbol.name, library.address(symbol.name))
            _bound.append(library)


def load_region(object_code: bytes, into: NativeLibrary | None = None) -> NativeLibrary:
    """A compiled region's object, loaded with the helpers it calls bound: into a library of
    its own, or added to `into` (and that returned). Adding is what makes installing regions
    cheap: a library of its own is an MCJIT engine of its own, about a millisecond to set up
    (a Linux boot installs thousands of regions)."""
    bind_helpers()
    if into is None:
        return NativeLibrary(object_code)
    into.add_object(object_code)
    return into
