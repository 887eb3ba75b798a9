"""Compiling the interpreter kernel to object code (the one slow step, done once per install).

A Numba cfunc wraps the generated kernel (`_kernel.run`) with a C ABI of raw pointers and sizes,
so the object code can be loaded and called later without Numba. Only this module imports Numba.
"""

from __future__ import annotations

from numba import carray, cfunc, types

from dbt.backends.interp import _kernel
from dbt.ir.state import BLK_WORDS, NUM_SLOTS, OP_WORDS, STATE_WORDS_SYSTEM

_i64p = types.CPointer(types.int64)
_u8p = types.CPointer(types.uint8)
#: kernel(regs, state, mem, mem_size, perm, perm_size, code, code_rows, blocks, block_rows,
#:        keys, values, table_size) -> exit reason
ENTRY_SIGNATURE = types.int64(
    _i64p, _i64p, _u8p, types.int64, _u8p, types.int64, _i64p, types.int64, _i64p, types.int64, _i64p, _i64p,
    types.int64,
)  # fmt: skip


def entry(regs_p, state_p, mem_p, mem_size, perm_p, perm_size, code_p, code_rows, blocks_p, block_rows,
          keys_p, values_p, table_size):  # fmt: skip
    regs = carray(regs_p, (NUM_SLOTS,))
    # User mode's state array is only NUM_STATE long: the kernel reads the TLB beyond it only when
    # the MMU words say so, which they never do there.
    state = carray(state_p, (STATE_WORDS_SYSTEM,))
    mem = carray(mem_p, (mem_size,))
    perm = carray(perm_p, (perm_size,))
    code = carray(code_p, (code_rows, OP_WORDS))
    blocks = carray(blocks_p, (block_rows, BLK_WORDS))
    keys = carray(keys_p, (table_size,))
    values = carray(values_p, (table_size,))
    return _kernel.run(regs, state, mem, perm, code, blocks, keys, values)


def compile_object() -> tuple[bytes, str]:
    """(object code, symbol of the C entry point)."""
    compiled = cfunc(ENTRY_SIGNATURE, nopython=True, error_model="numpy")(entry)
    _, _, (object_code, _) = compiled._library.serialize_using_object_code()
    return object_code, compiled.native_name
