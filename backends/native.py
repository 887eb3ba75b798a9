"""Loading native object code (compiled once, cached on disk) into this process with llvmlite.

Kernels are compiled by Numba, but their object code is what dbt keeps: loading an object file
into an MCJIT engine takes milliseconds and needs neither Numba's import nor its compiler, so
a warm `dbt run` starts in a fraction of a second. The few Numba runtime symbols the object
code mentions on error paths that cannot happen (no allocation, no exceptions) are bound to a
stub that reports and aborts, instead of being left dangling.
Stage: backend.
"""

from __future__ import annotations

import ctypes
import os
import sys
from functools import cache

#: Undefined symbols Numba-compiled code may name; only reached on a Numba-level error.
_NUMBA_RUNTIME_SYMBOLS = (
    "NRT_MemInfo_call_dtor",
    "NRT_Free",
    "NRT_decref",
    "numba_gil_ensure",
    "numba_gil_release",
    "numba_do_raise",
    "numba_runtime_build_excinfo_struct",
    "numba_unpickle",
)

_STUB_TYPE = ctypes.CFUNCTYPE(None)


def _runtime_stub() -> None:  # pragma: no cover - only reached if a kernel is broken
    sys.stderr.write("dbt: internal error: a native kernel reached a Numba runtime call\n")
    os.abort()


_stub = _STUB_TYPE(_runtime_stub)


@cache
def _llvm():
    import llvmlite.binding as llvm

    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    stub_address = ctypes.cast(_stub, ctypes.c_void_p).value
    for name in _NUMBA_RUNTIME_SYMBOLS:
        if llvm.address_of_symbol(name) is None:
            llvm.add_symbol(name, stub_address)
    return llvm


def host_fingerprint() -> str:
    """What native code compiled here depends on: the CPU and the LLVM that compiled it."""
    llvm = _llvm()
    import llvmlite

    python = f"{sys.version_info[0]}.{sys.version_info[1]}"
    parts = (llvm.get_host_cpu_name(), llvm.get_host_cpu_features().flatten(), llvmlite.__version__, python)
    return "|".join(parts)


class NativeLibrary:
    """Object code loaded into its own MCJIT engine; functions are looked up by symbol name."""

    def __init__(self, object_code: bytes) -> None:
        llvm = _llvm()
        target = llvm.Target.from_default_triple()
        self._target_machine = target.create_target_machine(jit=True)
        self._engine = llvm.create_mcjit_compiler(llvm.parse_assembly(""), self._target_machine)
        self._engine.add_object_file(llvm.ObjectFileRef.from_data(object_code))
        self._engine.finalize_object()

    def add_object(self, object_code: bytes) -> None:
        """Load more object code into this engine (its functions join the ones already here)."""
        llvm = _llvm()
        self._engine.add_object_file(llvm.ObjectFileRef.from_data(object_code))
        self._engine.finalize_object()

    @classmethod
    def from_ir(cls, llvm_ir: str) -> NativeLibrary:
        """Compile a small module of LLVM IR text now (milliseconds for a few functions)."""
        llvm = _llvm()
        library = cls.__new__(cls)
        target = llvm.Target.from_default_triple()
        library._target_machine = target.create_target_machine(jit=True)
        module = llvm.parse_assembly(llvm_ir)
        module.verify()
        library._engine = llvm.create_mcjit_compiler(module, library._target_machine)
        library._engine.finalize_object()
        return library

    def address(self, symbol: str) -> int:
        address = self._engine.get_function_address(symbol)
        if not address:
            raise KeyError(symbol)
        return address
