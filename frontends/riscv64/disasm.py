"""Disassembly text for --trace in_asm, tools and tests.

Capstone (imported on first use only, so runs without tracing do not pay for it) disassembles
RV64GC. Capstone 5 knows none of the later extensions (bit manipulation, Zfh, Zfa, Zcb, ...):
those, and anything capstone refuses that dbt decodes, get dbt's own text, made from the
encoding table (the row's name and its operand fields).
"""

from __future__ import annotations

from functools import cache

from dbt.frontends.riscv64.cpu import default_model
from dbt.frontends.riscv64.decoder import Insn, decode, insn_size
from dbt.frontends.riscv64.table import load_tables
from dbt.ir.builder import Block

X_NAMES = [
    "zero",
    "ra",
    "sp",
    "gp",
    "tp",
    "t0",
    "t1",
    "t2",
    "s0",
    "s1",
    "a0",
    "a1",
    "a2",
    "a3",
    "a4",
    "a5",
    "a6",
    "a7",
    "s2",
    "s3",
    "s4",
    "s5",
    "s6",
    "s7",
    "s8",
    "s9",
    "s10",
    "s11",
    "t3",
    "t4",
    "t5",
    "t6",
]
F_NAMES = [
    "ft0",
    "ft1",
    "ft2",
    "ft3",
    "ft4",
    "ft5",
    "ft6",
    "ft7",
    "fs0",
    "fs1",
    "fa0",
    "fa1",
    "fa2",
    "fa3",
    "fa4",
    "fa5",
    "fa6",
    "fa7",
    "fs2",
    "fs3",
    "fs4",
    "fs5",
    "fs6",
    "fs7",
    "fs8",
    "fs9",
    "fs10",
    "fs11",
    "ft8",
    "ft9",
    "ft10",
    "ft11",
]
RM_NAMES = ("rne", "rtz", "rdn", "rup", "rmm", "rm5", "rm6", "dyn")
_FP_EXTENSIONS = ("f", "d", "zfh", "zfhmin", "zfa")
#: Conversions that are always exact (their rm field does not matter unless it is reserved).
_EXACT_CONVERSIONS = ("fcvt.s.h", "fcvt.d.h", "fcvt.d.s", "fcvt.d.w", "fcvt.d.wu")
#: Fields printed as offset(base) with rs1.
_OFFSET_FIELDS = ("imm12", "simm12", "c_uimm2", "c_uimm1h")


@cache
def _capstone():
    import capstone

    md = capstone.Cs(capstone.CS_ARCH_RISCV, capstone.CS_MODE_RISCV64 | capstone.CS_MODE_RISCVC)
    return md


def disassemble(code: bytes, address: int) -> list[tuple[int, int, str, str]]:
    """(address, size, mnemonic, operands) for each instruction capstone decodes in `code`."""
    return [(i.address, i.size, i.mnemonic, i.op_str) for i in _capstone().disasm(code, address)]


def _fp_operand(name: str, field: str) -> bool:
    """True if operand `field` of FP-extension instruction `name` is an f register."""
    if field in ("rs2", "rs3"):
        return True
    int_result = ("fmv.x.", "fcvt.w", "fcvt.l", "feq.", "flt.", "fle.", "fclass.", "fcvtmod.")
    if field == "rd":
        return not name.startswith(int_result) and not name.startswith(("fsw", "fsd", "fsh"))
    int_source = name.endswith((".x", ".w", ".wu", ".l", ".lu"))
    address = name.startswith(("fl", "fs")) and name[2] in "whd"  # flw/fsd/flh... base register
    return not (int_source or address or name.startswith("fli."))


def table_text(insn: Insn) -> str:
    """dbt's own text for a decoded instruction: the table row's name and operand fields."""
    tables = load_tables()
    row = tables.row(insn.row)
    fp = row.extension in _FP_EXTENSIONS
    memory_form = row.name.startswith("cbo.") or any(name in _OFFSET_FIELDS for name in row.fields)
    words: list[str] = []
    base = offset = ""
    for name in row.fields:
        field = tables.fields[name]
        value = field.extract(insn.raw)
        if name in _OFFSET_FIELDS:
            offset = str(value)
        elif name == "rs1" and fp and row.name.startswith("fli."):
            words.append(str(value))
        elif field.kind in ("reg", "creg"):
            reg_field = {"c_rdp": "rd", "c_rs2p": "rs2", "c_rs2": "rs2"}.get(name, name)
            text = F_NAMES[value] if fp and _fp_operand(row.name, reg_field) else X_NAMES[value]
            if memory_form and name in ("rs1", "c_rs1p"):
                base = text
            else:
                words.append(text)
        elif name == "rm":
            # dyn is the default; the exact widening conversions print no rne either (as binutils).
            if value != 7 and not (value == 0 and row.name in _EXACT_CONVERSIONS):
                words.append(RM_NAMES[value])
        elif name not in ("aq", "rl"):
            words.append(str(value))
    if memory_form:
        words.append(f"{offset}({base})")
    mnemonic = row.name
    if row.name.startswith(("mop.", "c.mop.")):
        n = int(words.pop())
        mnemonic = mnemonic[:-1] + str(n + 1 if row.size == 2 else n)
    return f"{mnemonic} {', '.join(words)}".strip()


def format_insn(code: bytes, address: int) -> str:
    insn = None
    if len(code) >= 2:
        size = insn_size(code[0] | code[1] << 8)
        if size and len(code) >= size:
            insn = decode(int.from_bytes(code[:size], "little"))
    if insn is not None and insn.row not in default_model().rows:
        return table_text(insn)
    found = disassemble(code, address)
    if not found:
        return table_text(insn) if insn is not None else ".insn " + code[::-1].hex()
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
