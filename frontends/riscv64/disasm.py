"""Disassembly text through capstone, for --trace in_asm and tests.

Capstone is imported on first use only, so runs without tracing do not pay for it.
"""

from __future__ import annotations

from functools import cache

from dbt.ir.builder import Block


@cache
def _capstone():
    import capstone

    md = capstone.Cs(capstone.CS_ARCH_RISCV, capstone.CS_MODE_RISCV64 | capstone.CS_MODE_RISCVC)
    return md


def disassemble(code: bytes, address: int) -> list[tuple[int, int, str, str]]:
    """(address, size, mnemonic, operands) for each instruction capstone decodes in `code`."""
    return [(i.address, i.size, i.mnemonic, i.op_str) for i in _capstone().disasm(code, address)]


def format_insn(code: bytes, address: int) -> str:
    found = disassemble(code, address)
    if not found:
        return ".insn " + code[::-1].hex()
    _, _, mnemonic, operands = found[0]
    return f"{mnemonic} {operands}".strip()


def format_block(memory, block: Block) -> str:
    """A qemu -d in_asm style listing of a newly decoded block."""
    lines = ["----------------", f"IN: {block.pc:#x}"]
    for pc, size in block.insn_spans:
        raw = memory.ram[pc : pc + size].tobytes()
        word = int.from_bytes(raw, "little")
        text = format_insn(raw, pc)
        lines.append(f"0x{pc:016x}:  {word:0{size * 2}x}  {text}")
    return "\n".join(lines) + "\n\n"
