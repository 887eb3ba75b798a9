"""Compiling region IR to object code with llvmlite (runs in compile workers; no Numba needed
once the op library is cached).

The region module is linked with the bitcode of the semantics symbols it calls (each already
optimised down to a few instructions, see oplib.finish_symbol); they become internal and are
inlined, and the module goes through a short pass list rather than a standard -O pipeline.
Measured on the regions of tests/guests/compute.c: the list below compiles them in 60% of
the time of the O1 pipeline (whose fixed cost per module dominates small regions), and the
code runs as fast (1440 against 1350 MIPS); dead store elimination and a second round of
instruction combining and CFG simplification bought nothing measurable. Code generation is at
-O2 with the changes of CODEGEN_OPTIONS: -O0 (fast instruction selection and the fast
register allocator) emits in a seventh of the time, but the code is three times larger and
runs at half the speed; -O1 emits no faster than -O2; the basic register allocator saves 13%
of code generation but the code runs 25% slower. There is no GVN pass: NewGVN (the only one the
new pass manager of llvmlite offers) hits an internal assertion on regions whose calls return
inside the region, and without it compute.c ran as fast (3020 MIPS either way).
"""

from __future__ import annotations

import os
import time
from functools import cache
from pathlib import Path

from dbt.backends.jit.oplib import SemSymbol, load_bitcode
from dbt.backends.native import _llvm

OPT_LEVEL = 1


def _optimise(module, tm) -> None:
    """Inline the ops, put the guest registers in SSA values, and clean up."""
    llvm = _llvm()
    builder = llvm.create_pass_builder(tm, llvm.create_pipeline_tuning_options(OPT_LEVEL))
    manager = llvm.create_new_module_pass_manager()
    manager.add_always_inliner_pass()
    manager.add_global_dead_code_eliminate_pass()
    manager.add_sroa_pass()
    manager.add_instruction_combine_pass()
    manager.add_simplify_cfg_pass()
    manager.run(module, builder)


#: How regions are compiled differently from LLVM's -O2 code generation, as LLVM command-line
#: options. Measured on compute.c's regions (code generation time; warm runs, median of 3):
#: * no loop strength reduction: 351 -> 270 ms, the code as fast (the loops are guest loops
#:   whose induction variables live in guest registers: there is little for it to find);
#: * no machine instruction scheduler: a further -6%, the code as fast (out-of-order x86);
#: * no post-register-allocation scheduler: a few % more (compute.c:1800's regions, main
#:   thread: 0.51 -> 0.50 ms per guest instruction), the code as fast.
#: Not taken: fast instruction selection (-fast-isel, the greedy register allocator kept) cuts
#: code generation by 18% (0.56 -> 0.47 ms per guest instruction on compute.c) but the code runs
#: 3% slower on compute.c, 9% on fpcompute.c and 16% on the memory kernel (5,920 -> 5,080 MIPS).
CODEGEN_OPTIONS = ("-disable-lsr", "-enable-misched=false", "-disable-post-ra")


@cache
def target_machine():
    """The target machine regions are compiled with. Creating it sets CODEGEN_OPTIONS, which are
    global to the process (setting them around each compile costs 0.3 ms a region): in a compile
    worker nothing else compiles; in the main process (--jit-threads 0) Numba has compiled the
    interpreter kernel before any region, and the op library keeps only Numba's bitcode."""
    llvm = _llvm()
    for option in CODEGEN_OPTIONS:
        llvm.set_option("dbt", option)
    # The host CPU's own instruction set, as Numba compiles for (host_fingerprint, part of every
    # cache key, names it): FMA, BMI and the like instead of baseline x86-64.
    return llvm.Target.from_default_triple().create_target_machine(
        cpu=llvm.get_host_cpu_name(),
        features=llvm.get_host_cpu_features().flatten(),
        opt=2,
        reloc="default",
        codemodel="jitdefault",
    )


@cache
def _symbol_module(symbol: SemSymbol):
    """An op's module, parsed once per process and copied into each region that uses it
    (copying a parsed module is ~6x cheaper than parsing its bitcode again)."""
    bitcode, native = load_bitcode(symbol)
    library = _llvm().parse_bitcode(bitcode)
    library.get_function(native).name = symbol.name
    return library


def optimised_module(ir_text: str, entry: str, symbols: list[SemSymbol]):
    """The region's LLVM module, linked with its ops and optimised, ready for code generation."""
    llvm = _llvm()
    module = llvm.parse_assembly(ir_text)
    tm = target_machine()
    module.triple = tm.triple
    module.data_layout = str(tm.target_data)
    for symbol in symbols:
        module.link_in(_symbol_module(symbol), preserve=True)
    for function in module.functions:
        if function.name != entry and not function.is_declaration:
            function.linkage = "internal"
    _optimise(module, tm)
    return module


def compile_ir(ir_text: str, entry: str, symbols: list[SemSymbol]) -> tuple[bytes, float]:
    """(object code, seconds spent) for a region's IR text.

    With DBT_JIT_DUMP=DIR in the environment, each region's IR as generated, as optimised,
    and its assembly are written to DIR/<entry>.ll, .opt.ll and .s (for reading, not timing)."""
    started = time.perf_counter()
    module = optimised_module(ir_text, entry, symbols)
    object_code = target_machine().emit_object(module)
    seconds = time.perf_counter() - started
    dump = os.environ.get("DBT_JIT_DUMP")
    if dump:
        _dump(Path(dump), entry, ir_text, module)
    return object_code, seconds


def _dump(directory: Path, entry: str, ir_text: str, module) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{entry}.ll").write_text(ir_text)
    (directory / f"{entry}.opt.ll").write_text(str(module))
    (directory / f"{entry}.s").write_text(target_machine().emit_assembly(module))
