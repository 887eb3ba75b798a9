"""decode_access (the loads and stores Python finishes for the kernels: device accesses, accesses
across pages) against capstone's disassembly of the same encodings."""

from __future__ import annotations

import re

import capstone
from hypothesis import given, settings
from hypothesis import strategies as st

from dbt.runtime.system.mmio import decode_access

_DISASM = capstone.Cs(capstone.CS_ARCH_RISCV, capstone.CS_MODE_RISCV64 | capstone.CS_MODE_RISCVC)
_ABI = ["zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1"] + [f"a{i}" for i in range(8)]
_ABI += [f"s{i}" for i in range(2, 12)] + ["t3", "t4", "t5", "t6"]
_FABI = [f"ft{i}" for i in range(8)] + ["fs0", "fs1"] + [f"fa{i}" for i in range(8)]
_FABI += [f"fs{i}" for i in range(2, 12)] + [f"ft{i}" for i in range(8, 12)]
#: mnemonic -> (store, size, signed, fp)
_KINDS = {"lb": (False, 1, True, False), "lh": (False, 2, True, False), "lw": (False, 4, True, False),
          "ld": (False, 8, True, False), "lbu": (False, 1, False, False), "lhu": (False, 2, False, False),
          "lwu": (False, 4, False, False), "sb": (True, 1, False, False), "sh": (True, 2, False, False),
          "sw": (True, 4, False, False), "sd": (True, 8, False, False), "flw": (False, 4, False, True),
          "fld": (False, 8, False, True), "fsw": (True, 4, False, True),
          "fsd": (True, 8, False, True)}  # fmt: skip
_OPERANDS = re.compile(r"(\w+), (-?\w+)\((\w+)\)")


def _reference(word: int, length: int):
    found = list(_DISASM.disasm(word.to_bytes(length, "little"), 0))
    if not found or found[0].size != length:
        return None
    mnemonic = found[0].mnemonic.removeprefix("c.").replace("sp", "")
    match = _OPERANDS.fullmatch(found[0].op_str)
    if mnemonic not in _KINDS or not match:
        return None
    store, size, signed, fp = _KINDS[mnemonic]
    reg_name, offset, base = match.groups()
    reg = (_FABI if fp else _ABI).index(reg_name)
    return store, size, fp, reg, _ABI.index(base), int(offset, 0), signed


def _check(word: int, length: int) -> None:
    expected = _reference(word, length)
    access = decode_access(word)
    if expected is None:
        assert access is None, hex(word)
        return
    assert access is not None, hex(word)
    store, size, fp, reg, base, offset, signed = expected
    assert (access.store, access.size, access.fp, access.reg, access.base, access.offset, access.length) == (
        store, size, fp, reg, base, offset, length), hex(word)  # fmt: skip
    if not store and size < 8:
        assert access.signed == signed, hex(word)


@settings(max_examples=400, deadline=None)
@given(
    opcode=st.sampled_from([0x03, 0x23, 0x07, 0x27]),
    funct3=st.integers(0, 7),
    rest=st.integers(0, (1 << 32) - 1),
)
def test_32_bit_loads_and_stores(opcode, funct3, rest):
    word = (rest & ~0x707F) | (funct3 << 12) | opcode
    _check(word, 4)


@settings(max_examples=400, deadline=None)
@given(half=st.integers(0, 0xFFFF).filter(lambda h: h & 3 != 3))
def test_compressed_loads_and_stores(half):
    _check(half, 2)
