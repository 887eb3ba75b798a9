"""The op semantics as LLVM bitcode, for the JIT's region code to call and inline.

Each op's semantics function (dbt.ir.semantics, the same functions the interpreter kernel is
built from) is compiled once by Numba as a C-ABI cfunc with a flat signature, and its bitcode is
kept in dbt's cache directory. Region code declares `@<symbol>` and the compiler links the
bitcode of the symbols it uses, so the JIT and the interpreter run one definition of each op.

Only `build_symbol` imports Numba; reading the library needs llvmlite alone.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from dbt.backends.diskcache import cache_dir, write_atomic
from dbt.ir.ops import OPS, OpDef, Shape

# Flat C signatures of the semantics symbols, by kind:
#   alu2   i64 (i64, i64)                 alu1   i64 (i64)
#   cond   i64 (i64, i64)  -> 0 or 1
#   load   i64 (i8* mem, i64 addr)        store  void (i8* mem, i64 addr, i64 value)
#   amo    i64 (i64 old, i64 src)          (access size baked in)
#   csr    i64 (i64* state, i64 csr, i64 src, i64 mode)
#   fp3rm  i64 (i64, i64, i64, i64 rm, i64* fflags)     fp2rm i64 (i64, i64, i64 rm, i64* fflags)
#   fp1rm  i64 (i64, i64 rm, i64* fflags)               fp2   i64 (i64, i64, i64* fflags)
#   memok  i64 (i8* perm, i64 npages, i64 addr, i64 size, i64 need)
#   lsized i64 (i8* mem, i64 addr)  (sign-extended 1, 2, 4 or 8 bytes)


@dataclass(frozen=True, slots=True)
class SemSymbol:
    name: str
    kind: str
    #: Semantics function in dbt.ir.semantics.
    sem: str
    #: Access size for amo/lsized.
    size: int = 0


def symbol_for(op: OpDef) -> SemSymbol | None:
    """The semantics symbol an op's JIT code calls (None for ops lowered inline)."""
    shape = op.shape
    if shape in (Shape.ALU_RR, Shape.ALU_RI):
        return SemSymbol(f"dbt_sem_{op.sem}", "alu2", op.sem)
    if shape is Shape.ALU_R:
        return SemSymbol(f"dbt_sem_{op.sem}", "alu1", op.sem)
    if shape is Shape.BRANCH:
        return SemSymbol(f"dbt_sem_{op.sem}", "cond", op.sem)
    if shape is Shape.LOAD:
        return SemSymbol(f"dbt_sem_{op.sem}", "load", op.sem)
    if shape is Shape.STORE:
        return SemSymbol(f"dbt_sem_{op.sem}", "store", op.sem)
    if shape is Shape.AMO:
        return SemSymbol(f"dbt_sem_{op.sem}_{op.size}", "amo", op.sem, op.size)
    if shape in (Shape.CSR_R, Shape.CSR_I):
        return SemSymbol(f"dbt_sem_{op.sem}", "csr", op.sem)
    kinds = {
        Shape.FP_RRR_RM: "fp3rm",
        Shape.FP_RR_RM: "fp2rm",
        Shape.FP_R_RM: "fp1rm",
        Shape.FP_RR: "fp2",
        Shape.FP_R: "fp1",
    }
    if shape in kinds:
        return SemSymbol(f"dbt_sem_{op.sem}", kinds[shape], op.sem)
    return None


#: Helpers every memory-touching op needs.
MEM_OK_FAST = SemSymbol("dbt_sem_mem_ok_fast", "memok", "mem_ok_fast")
MEM_OK_EXACT = SemSymbol("dbt_sem_mem_ok_exact", "memok", "mem_ok_exact")
LOAD_SIZED = {
    size: SemSymbol(f"dbt_sem_load_sized_{size}", "lsized", "load_sized", size) for size in (1, 2, 4, 8)
}


def all_symbols() -> dict[str, SemSymbol]:
    symbols = {s.name: s for s in (MEM_OK_FAST, MEM_OK_EXACT, *LOAD_SIZED.values())}
    for op in OPS:
        symbol = symbol_for(op)
        if symbol is not None:
            symbols[symbol.name] = symbol
    return symbols


@cache
def library_dir() -> Path:
    from dbt.backends.interp import source_hash
    from dbt.backends.native import host_fingerprint

    key = hashlib.sha256(f"{source_hash()}|{host_fingerprint()}|oplib-4".encode()).hexdigest()[:24]
    return cache_dir() / f"jit-ops-{key}"


def load_bitcode(symbol: SemSymbol) -> tuple[bytes, str]:
    """(bitcode, name of the C entry inside it) for a symbol, built and cached if missing."""
    path = library_dir() / f"{symbol.name}.bc"
    try:
        data = path.read_bytes()
        header, _, bitcode = data.partition(b"\n")
        native, digest = header.decode().split()
        if hashlib.sha256(bitcode).hexdigest() == digest:
            return bitcode, native
    except (OSError, ValueError):
        pass
    bitcode, native = build_symbol(symbol)
    write_atomic(path, f"{native} {hashlib.sha256(bitcode).hexdigest()}\n".encode() + bitcode)
    return bitcode, native


def build_symbol(symbol: SemSymbol) -> tuple[bytes, str]:
    """Compile one semantics symbol with Numba; returns (bitcode, cfunc entry name)."""
    from dbt.backends.jit import _opbuild
    from dbt.hostthreads import signals_held

    # Numba's first compile in a process starts a native thread that stays: with signals held,
    # it never takes a guest's (see dbt.hostthreads; dbt builds the helpers in its own process).
    with signals_held():
        compiled = _opbuild.compile_symbol(symbol.kind, symbol.sem, symbol.size)
    text = str(compiled._library._final_module)
    return finish_symbol(prepare_for_regions(text), compiled.native_name), compiled.native_name


def finish_symbol(text: str, entry: str) -> bytes:
    """Optimise an op's module down to its entry alone and mark that `alwaysinline`.

    Numba's cfunc wrapper calls the op's body through its own calling convention, with Python
    error reporting after it; once the body is inlined the status is a constant and all of that
    folds away, leaving a few instructions. Doing it once here, not in every region that uses the
    op, is most of what keeps region compiles cheap.
    """
    from dbt.backends.native import _llvm

    llvm = _llvm()
    module = llvm.parse_assembly(text)
    # Numba names a symbol's inner functions and constants after the Python functions they come
    # from, and each build process numbers closures from the same start: two symbols built in
    # different processes can define the same name. Only the entry is linked against.
    for value in [*module.functions, *module.global_variables]:
        if value.name != entry and not value.is_declaration:
            value.linkage = "internal"
    target = llvm.Target.from_default_triple().create_target_machine(opt=2)
    options = llvm.create_pipeline_tuning_options(2)
    builder = llvm.create_pass_builder(target, options)
    builder.getModulePassManager().run(module, builder)
    manager = llvm.create_new_module_pass_manager()
    manager.add_global_dead_code_eliminate_pass()
    manager.add_strip_dead_prototype_pass()
    manager.run(module, builder)
    text = str(module)
    head = re.compile(r'^(define [^\n]*@"?' + re.escape(entry) + r'"?\([^\n]*?)\{$', re.MULTILINE)
    text, count = head.subn(lambda m: m.group(1) + "alwaysinline {", text)
    if count != 1:
        raise RuntimeError(f"entry {entry} not found in its module")
    return llvm.parse_assembly(text).as_bitcode()


_NO_WRAP_FLAGS = re.compile(r"\b(add|sub|mul|shl|trunc)( nuw)?( nsw)?( nuw)?\b")


def prepare_for_regions(text: str) -> str:
    """Make Numba's IR of an op fit for inlining into region code.

    Numba marks the call of an op's body `noinline`, so every guest op would stay a call: that
    marking goes. And it tags signed integer arithmetic `nsw` (overflow is undefined), which
    LLVM may exploit across the ops of a region; guest arithmetic wraps, so the tags go too.
    """
    text = text.replace("{ noinline }", "{ alwaysinline }")
    return _NO_WRAP_FLAGS.sub(lambda m: m.group(1), text)
