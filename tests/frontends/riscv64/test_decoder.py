"""The RV64 decoder: generated from the tables, checked against them and against capstone.

Capstone (LLVM's RISC-V disassembler, through dbt.frontends.riscv64.disasm) is the outside
golden reference for RV64GC: capstone 5 knows no later extension, so the comparisons decode as
the rv64gc CPU model does (`decode_gc`: a row of another extension is illegal there); the newer
extensions are checked against QEMU 10 in tests/backends/interp/test_isa_extensions.py.
Capstone's mnemonics are normalised with a small alias table (`ALIASES`: mv, li, ret,
nop, fmv.d, fneg, csrr, ...) and its operands parsed and compared for every format. Where
capstone and dbt disagree on whether a word is an instruction, the disagreement must be one of
the known, documented ones (`accepted_disagreement`), each of which the spec settles for dbt:

* fence / fence.i with non-zero reserved fields (fm, rs1, rd, imm): capstone refuses them; the
  spec says base implementations ignore these fields.
* rounding mode 5 or 6: capstone refuses them; dbt decodes them and the lifter turns them into an
  illegal instruction (checked here).
* fcvt.d.s, fcvt.d.w, fcvt.d.wu with rm != 0: capstone (LLVM before 17) only knows rm = 000 for
  these exact conversions; the spec gives them an rm field like every other conversion.
* compressed HINTs with rd = x0 (c.addi, c.li, c.lui, c.slli, c.mv, c.add): capstone refuses them,
  the spec makes them HINTs that execute as no-ops (dbt runs the base instruction with rd = x0).
* c.lui with nzimm = 0 and 0x0000: capstone prints "c.lui rd, 0" and "c.unimp"; both are
  reserved/illegal in the spec.

Capstone quirks accepted when both decode a word: the HINTs c.addi x0, nzimm with imm[5] = 0 are
printed as a bare "c.nop" (the immediate is lost; both are no-ops); privileged CSRs are printed by
name and only the user-level names (fflags, frm, fcsr, cycle, time, instret, hpmcounterN) are
checked; the operands of fence/fence.tso/pause are not compared.
"""

from __future__ import annotations

import random
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest

from dbt.errors import DecodeError
from dbt.frontends.riscv64.cpu import default_model
from dbt.frontends.riscv64.decoder import Insn, decode, insn_size
from dbt.frontends.riscv64.disasm import disassemble
from dbt.frontends.riscv64.lift import LIFTERS
from dbt.frontends.riscv64.table import OPCODES_DIR, Row, Tables, load_tables
from dbt.ir.builder import BlockBuilder

TABLES = load_tables()
ROWS = {row.name: row for row in TABLES.rows}
BASE_NAMES = {row.name for row in TABLES.rows if row.size == 4}
ENCODINGS_PER_ROW = 300
GC_ROWS = default_model().rows
#: The RV64GC rows (what capstone knows).
TABLES_GC = [row for row in TABLES.rows if row.name in GC_ROWS]


def decode_gc(word: int) -> Insn | None:
    """decode() under the rv64gc model: instructions of later extensions are illegal."""
    insn = decode(word)
    return insn if insn is not None and insn.row in GC_ROWS else None


X_NAMES = [
    "zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1", "a0", "a1", "a2", "a3", "a4", "a5",
    "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4", "t5", "t6",
]  # fmt: skip
F_NAMES = [
    "ft0", "ft1", "ft2", "ft3", "ft4", "ft5", "ft6", "ft7", "fs0", "fs1", "fa0", "fa1", "fa2", "fa3",
    "fa4", "fa5", "fa6", "fa7", "fs2", "fs3", "fs4", "fs5", "fs6", "fs7", "fs8", "fs9", "fs10", "fs11",
    "ft8", "ft9", "ft10", "ft11",
]  # fmt: skip
RM_NAMES = {"rne": 0, "rtz": 1, "rdn": 2, "rup": 3, "rmm": 4, "dyn": 7}
#: User-level CSR names capstone prints (other names are privileged CSRs and are not checked).
CSR_NAMES = {"fflags": 0x001, "frm": 0x002, "fcsr": 0x003, "cycle": 0xC00, "time": 0xC01, "instret": 0xC02}
CSR_NAMES |= {f"hpmcounter{n}": 0xC00 + n for n in range(3, 32)}
#: Exact conversions for which capstone only decodes rm = 000 (and prints no rounding mode).
RM_ZERO_ONLY = {"fcvt.d.s", "fcvt.d.w", "fcvt.d.wu"}
BRANCHES = {"beq", "bne", "blt", "bge", "bltu", "bgeu"}
LOADS = {"lb", "lh", "lw", "ld", "lbu", "lhu", "lwu", "flw", "fld"}
STORES = {"sb", "sh", "sw", "sd", "fsw", "fsd"}

Token = int | tuple[str, int | str]


# ----------------------------------------------------------------------------------------------------
# Encodings of a row
# ----------------------------------------------------------------------------------------------------


#: Bits of the fence instructions reserved for future finer-grain fences (fm, rs1, rd; imm, rs1, rd).
FENCE_RESERVED = {"fence": 0xF00F_8F80, "fence.i": 0xFFFF_8F80}


def random_encodings(row: Row, rng: random.Random, count: int) -> list[int]:
    """Words that match the row's mask/match, with random operand bits (for the fences, half of
    them with the reserved fields zero, as standard software writes them)."""
    out = [(rng.getrandbits(8 * row.size) & ~row.mask) | row.match for _ in range(count)]
    if row.name in FENCE_RESERVED:
        out = [w & ~FENCE_RESERVED[row.name] if i % 2 else w for i, w in enumerate(out)]
    return out


def winning_row(row: Row, word: int) -> Row:
    """The row that decodes `word`: the first matching row of its %overlap group, if any."""
    for group in TABLES.overlaps:
        if row.name in group:
            return next(ROWS[name] for name in group if ROWS[name].matches(word))
    return row


def is_reserved(row: Row, word: int) -> bool:
    return any(TABLES.fields[name].extract(word) == value for name, value in row.reserved)


#: Operand of the decoder's Insn filled by each base field.
SLOT = {
    "rd": "rd", "rs1": "rs1", "rs2": "rs2", "rs3": "rs3", "rm": "rm", "csr": "csr",
    "imm12": "imm", "simm12": "imm", "bimm12": "imm", "imm20": "imm", "jimm20": "imm",
    "shamt6": "imm", "shamt5": "imm", "zimm": "imm",
}  # fmt: skip


def expected_operands(row: Row, word: int) -> dict[str, int]:
    """The base instruction's operands of `word`, from the table (the decoder's specification)."""
    out = dict.fromkeys(("rd", "rs1", "rs2", "rs3", "imm", "rm", "csr"), 0)
    if row.base:
        for target, source in row.assign:
            if target in SLOT:
                out[SLOT[target]] = source if isinstance(source, int) else TABLES.fields[source].extract(word)
    else:
        for name in row.fields:
            if name in SLOT:
                out[SLOT[name]] = TABLES.fields[name].extract(word)
    return out


def test_generated_decoder_is_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dbt.frontends.riscv64.gen_decoder", "--check"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, "_decoder.py is stale: run python -m dbt.frontends.riscv64.gen_decoder"


@pytest.mark.parametrize("row", TABLES.rows, ids=lambda row: row.name)
def test_row_decodes_to_itself(row: Row) -> None:
    """Random encodings of every row decode to that row (or the row that wins its declared overlap),
    with the operands the table defines; reserved encodings decode to None."""
    rng = random.Random(row.name)
    for word in random_encodings(row, rng, ENCODINGS_PER_ROW):
        winner = winning_row(row, word)
        insn = decode(word)
        if is_reserved(winner, word):
            assert insn is None, f"{word:#x}: reserved {winner.name} encoding decoded"
            continue
        assert insn is not None, f"{word:#x} ({row.name}) does not decode"
        assert (insn.row, insn.name, insn.size, insn.extension) == (
            winner.name,
            winner.base or winner.name,
            winner.size,
            winner.extension,
        )
        assert insn.raw == word
        operands = {name: getattr(insn, name) for name in ("rd", "rs1", "rs2", "rs3", "imm", "rm", "csr")}
        assert operands == expected_operands(winner, word), f"{word:#x} ({winner.name})"


def test_upper_half_of_a_compressed_word_is_ignored() -> None:
    for low in (0x0001, 0x4501, 0x8082, 0x9002):
        assert decode(low) == decode(0xABCD_0000 | low)
        assert insn_size(low) == 2


# ----------------------------------------------------------------------------------------------------
# Capstone as the golden reference
# ----------------------------------------------------------------------------------------------------


def capstone_insn(word: int, size: int) -> tuple[str, str] | None:
    found = disassemble(word.to_bytes(size, "little"), 0)
    if not found or found[0][1] != size:
        return None
    return found[0][2], found[0][3]


def parse_operands(text: str) -> list[Token]:
    """Capstone's operand string as tokens: ints, ("x", n), ("f", n), ("rm", n), ("name", s);
    a memory operand imm(reg) gives two tokens, imm and reg."""
    tokens: list[Token] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        memory = re.fullmatch(r"(-?(?:0x[0-9a-f]+|\d+))?\((\w+)\)", part)
        if memory:
            if memory[1] is not None:
                tokens.append(int(memory[1], 0))
            part = memory[2]
        if part in X_NAMES or part == "fp":
            tokens.append(("x", 8 if part == "fp" else X_NAMES.index(part)))
        elif part in F_NAMES:
            tokens.append(("f", F_NAMES.index(part)))
        elif part in RM_NAMES:
            tokens.append(("rm", RM_NAMES[part]))
        elif re.fullmatch(r"-?(?:0x[0-9a-f]+|\d+)", part):
            tokens.append(int(part, 0))
        else:
            tokens.append(("name", part))
    return tokens


def register_class(base: str, field: str) -> str:
    """'x' or 'f': the register file an operand of a base instruction names."""
    if base in ("flw", "fld"):
        return "f" if field == "rd" else "x"
    if base in ("fsw", "fsd"):
        return "f" if field == "rs2" else "x"
    if not base.startswith("f") or base.startswith("fence"):
        return "x"
    if field == "rd" and base.startswith(("fcvt.w", "fcvt.l", "fmv.x", "feq", "flt", "fle", "fclass")):
        return "x"
    if field == "rs1" and base.startswith(
        ("fcvt.s.w", "fcvt.s.l", "fcvt.d.w", "fcvt.d.l", "fmv.w.x", "fmv.d.x")
    ):
        return "x"
    return "f"


def default_layout(base: str) -> list[str] | None:
    """Capstone's operand order for the canonical form of a base instruction (None: not checked)."""
    fields = ROWS[base].fields
    if base in ("lui", "auipc"):
        return ["rd", "uimm20"]
    if base == "jal":
        return ["rd", "imm"]
    if base == "jalr":
        return ["rd", "rs1", "imm"]
    if base in BRANCHES:
        return ["rs1", "rs2", "imm"]
    if base in LOADS:
        return ["rd", "mem"]
    if base in STORES:
        return ["rs2", "mem"]
    if base.startswith("lr."):
        return ["rd", "addr"]
    if base.startswith(("sc.", "amo")):
        return ["rd", "rs2", "addr"]
    if base in ("csrrw", "csrrs", "csrrc"):
        return ["rd", "csr", "rs1"]
    if base in ("csrrwi", "csrrsi", "csrrci"):
        return ["rd", "csr", "zimm"]
    if base in ("fence", "fence.i", "ecall", "ebreak"):
        return None
    layout = [name for name in ("rd", "rs1", "rs2", "rs3") if name in fields]
    if {"imm12", "shamt6", "shamt5"} & set(fields):
        layout.append("imm")
    if "rm" in fields:
        layout.append("rm")
    return layout


# Capstone alias -> candidates (base instruction, fixed operand values, operand layout); the
# candidate whose layout has as many tokens as capstone printed is used. "same" means rs1 == rs2.
Alias = tuple[str, dict[str, int | str], list[str]]
ALIASES: dict[str, list[Alias]] = {
    "nop": [("addi", {"rd": 0, "rs1": 0, "imm": 0}, [])],
    "mv": [("addi", {"imm": 0}, ["rd", "rs1"])],
    "li": [("addi", {"rs1": 0}, ["rd", "imm"])],
    "not": [("xori", {"imm": -1}, ["rd", "rs1"])],
    "neg": [("sub", {"rs1": 0}, ["rd", "rs2"])],
    "negw": [("subw", {"rs1": 0}, ["rd", "rs2"])],
    "sext.w": [("addiw", {"imm": 0}, ["rd", "rs1"])],
    "seqz": [("sltiu", {"imm": 1}, ["rd", "rs1"])],
    "snez": [("sltu", {"rs1": 0}, ["rd", "rs2"])],
    "sltz": [("slt", {"rs2": 0}, ["rd", "rs1"])],
    "sgtz": [("slt", {"rs1": 0}, ["rd", "rs2"])],
    "beqz": [("beq", {"rs2": 0}, ["rs1", "imm"])],
    "bnez": [("bne", {"rs2": 0}, ["rs1", "imm"])],
    "blez": [("bge", {"rs1": 0}, ["rs2", "imm"])],
    "bgez": [("bge", {"rs2": 0}, ["rs1", "imm"])],
    "bltz": [("blt", {"rs2": 0}, ["rs1", "imm"])],
    "bgtz": [("blt", {"rs1": 0}, ["rs2", "imm"])],
    "j": [("jal", {"rd": 0}, ["imm"])],
    "jal": [("jal", {"rd": 1}, ["imm"]), ("jal", {}, ["rd", "imm"])],
    "jr": [("jalr", {"rd": 0, "imm": 0}, ["rs1"])],
    "ret": [("jalr", {"rd": 0, "rs1": 1, "imm": 0}, [])],
    "jalr": [("jalr", {"rd": 1, "imm": 0}, ["rs1"]), ("jalr", {}, ["rd", "rs1", "imm"])],
    "csrr": [("csrrs", {"rs1": 0}, ["rd", "csr"])],
    "csrw": [("csrrw", {"rd": 0}, ["csr", "rs1"])],
    "csrs": [("csrrs", {"rd": 0}, ["csr", "rs1"])],
    "csrc": [("csrrc", {"rd": 0}, ["csr", "rs1"])],
    "csrwi": [("csrrwi", {"rd": 0}, ["csr", "zimm"])],
    "csrsi": [("csrrsi", {"rd": 0}, ["csr", "zimm"])],
    "csrci": [("csrrci", {"rd": 0}, ["csr", "zimm"])],
    "unimp": [("csrrw", {"rd": 0, "csr": 0xC00, "rs1": 0}, [])],
    "fence.tso": [("fence", {}, [])],
    "pause": [("fence", {}, [])],
}
for _name, _csr in (("flags", 0x001), ("rm", 0x002), ("csr", 0x003)):
    ALIASES[f"fr{_name}"] = [("csrrs", {"csr": _csr, "rs1": 0}, ["rd"])]
    ALIASES[f"fs{_name}"] = [
        ("csrrw", {"csr": _csr, "rd": 0}, ["rs1"]),
        ("csrrw", {"csr": _csr}, ["rd", "rs1"]),
    ]
    ALIASES[f"fs{_name}i"] = [
        ("csrrwi", {"csr": _csr, "rd": 0}, ["zimm"]),
        ("csrrwi", {"csr": _csr}, ["rd", "zimm"]),
    ]
for _name, _csr in (("cycle", 0xC00), ("time", 0xC01), ("instret", 0xC02)):
    ALIASES[f"rd{_name}"] = [("csrrs", {"csr": _csr, "rs1": 0}, ["rd"])]
for _p in ("s", "d"):
    ALIASES[f"fmv.{_p}"] = [(f"fsgnj.{_p}", {"rs2": "same"}, ["rd", "rs1"])]
    ALIASES[f"fneg.{_p}"] = [(f"fsgnjn.{_p}", {"rs2": "same"}, ["rd", "rs1"])]
    ALIASES[f"fabs.{_p}"] = [(f"fsgnjx.{_p}", {"rs2": "same"}, ["rd", "rs1"])]

#: Operand layouts of capstone's compressed mnemonics (operand values are the expanded ones).
C_LAYOUTS: dict[str, list[str]] = {
    "c.addi4spn": ["rd", "rs1", "imm"],
    "c.nop": [],
    "c.ebreak": [],
    "c.addi16sp": ["rd", "imm"],
    "c.lui": ["rd", "uimm20"],
    "c.j": ["imm"],
    "c.beqz": ["rs1", "imm"],
    "c.bnez": ["rs1", "imm"],
    "c.jr": ["rs1"],
    "c.jalr": ["rs1"],
}
for _names, _layout in (
    (("c.fld", "c.lw", "c.ld", "c.fldsp", "c.lwsp", "c.ldsp"), ["rd", "mem"]),
    (("c.fsd", "c.sw", "c.sd", "c.fsdsp", "c.swsp", "c.sdsp"), ["rs2", "mem"]),
    (("c.addi", "c.addiw", "c.li", "c.andi", "c.srli", "c.srai", "c.slli"), ["rd", "imm"]),
    (("c.sub", "c.xor", "c.or", "c.and", "c.subw", "c.addw", "c.mv", "c.add"), ["rd", "rs2"]),
):
    C_LAYOUTS |= {name: _layout for name in _names}


def expected_tokens(insn: Insn, layout: list[str]) -> list[Token]:
    """What capstone should print for `insn` in `layout` (branch targets are relative to 0)."""
    tokens: list[Token] = []
    for item in layout:
        if item in ("rd", "rs1", "rs2", "rs3"):
            tokens.append((register_class(insn.name, item), getattr(insn, item)))
        elif item in ("imm", "zimm"):
            tokens.append(insn.imm)
        elif item == "uimm20":
            tokens.append((insn.imm >> 12) & 0xFFFFF)
        elif item == "mem":
            tokens += [insn.imm, ("x", insn.rs1)]
        elif item == "addr":
            tokens.append(("x", insn.rs1))
        elif item == "csr":
            tokens.append(("csr", insn.csr))
        elif item == "rm" and insn.rm != 7 and insn.name not in RM_ZERO_ONLY:
            tokens.append(("rm", insn.rm))
    return tokens


def same_token(want: Token, got: Token) -> bool:
    if isinstance(want, tuple) and want[0] == "csr":
        if isinstance(got, int):
            return got == want[1]
        # Privileged CSR names are not in CSR_NAMES: only the user-level ones are checked.
        return isinstance(got, tuple) and got[0] == "name" and CSR_NAMES.get(str(got[1]), want[1]) == want[1]
    return want == got


AMO_SUFFIX = re.compile(r"^((?:lr|sc|amo\w+)\.[wd])(\.aqrl|\.aq|\.rl)?$")


def capstone_reading(mnemonic: str, n_operands: int) -> tuple[str, dict[str, int | str], list[str] | None]:
    """(dbt row or base name capstone means, fixed operand values, operand layout) for a capstone
    mnemonic printed with `n_operands` operands."""
    if mnemonic.startswith("c."):
        if mnemonic == "c.nop":
            # Capstone also prints the HINTs c.addi x0, nzimm with imm[5] = 0 as a bare c.nop.
            return "c.addi", {"rd": 0}, []
        return mnemonic, {}, C_LAYOUTS.get(mnemonic)
    amo = AMO_SUFFIX.match(mnemonic)
    if amo:
        suffix = amo[2] or ""
        return amo[1], {"aq": int("aq" in suffix), "rl": int("rl" in suffix)}, default_layout(amo[1])
    for base, fixed, layout in ALIASES.get(mnemonic, []):
        if len(layout) == n_operands or base == "fence":
            return base, fixed, layout
    return mnemonic, {}, default_layout(mnemonic) if mnemonic in ROWS else None


def check_capstone_agrees(word: int, size: int, insn: Insn) -> None:
    """Capstone decodes `word` to the same instruction with the same operands as dbt's `insn`."""
    found = capstone_insn(word, size)
    assert found is not None
    mnemonic, text = found
    where = f"{word:#0{size * 2 + 2}x}: capstone '{mnemonic} {text}', dbt {insn}"
    tokens = parse_operands(text)
    name, fixed, layout = capstone_reading(mnemonic, len([p for p in text.split(",") if p.strip()]))
    assert name == (insn.row if size == 2 else insn.name), where
    for key, value in fixed.items():
        if key in ("aq", "rl"):
            assert (word >> (26 if key == "aq" else 25)) & 1 == value, where
        elif value == "same":
            assert insn.rs1 == insn.rs2, where
        else:
            assert getattr(insn, key) == value, where
    if layout is None or name == "fence":
        return
    want = expected_tokens(insn, layout)
    assert len(want) == len(tokens) and all(map(same_token, want, tokens)), (
        f"{where}: expected {want}, got {tokens}"
    )


HINT_ROWS = {"c.addi", "c.li", "c.lui", "c.slli", "c.mv", "c.add"}


def lifter_accepts(insn: Insn) -> bool:
    builder = BlockBuilder(0x1000)
    builder.begin_insn(0x1000, insn.size)
    return LIFTERS[insn.name](builder, insn)


def accepted_disagreement(word: int, insn: Insn | None, found: tuple[str, str] | None) -> str | None:
    """Why dbt and capstone may disagree about whether `word` is an instruction (None: they may not)."""
    if insn is not None and found is None:
        if insn.name in ("fence", "fence.i"):
            return "reserved fence fields, ignored by base implementations"
        if "rm" in ROWS[insn.name].fields and insn.rm in (5, 6):
            assert not lifter_accepts(insn), f"{word:#x}: reserved rounding mode must be illegal"
            return "reserved rounding mode: illegal when lifted"
        if insn.name in RM_ZERO_ONLY and insn.rm != 0:
            return "capstone knows only rm = 000 for exact conversions"
        if insn.row in HINT_ROWS and insn.rd == 0:
            return "compressed HINT with rd = x0"
    if insn is None and found is not None:
        if found[0] == "c.unimp" and word & 0xFFFF == 0:
            return "0x0000 is the defined illegal instruction"
        if found[0] == "c.lui" and found[1].endswith(", 0"):
            return "c.lui with nzimm = 0 is reserved"
        if found[0] == "c.addi16sp" and found[1].endswith(", 0"):
            return "c.addi16sp with nzimm = 0 is reserved"
    return None


def check_word(word: int, size: int) -> str | None:
    """Compare dbt's decoder and capstone on one word. Returns None when both decode it to the same
    instruction, else why they may differ ("illegal for both" or an accepted disagreement)."""
    insn = decode_gc(word)
    found = capstone_insn(word, size)
    if insn is None and found is None:
        return "illegal for both"
    reason = accepted_disagreement(word, insn, found)
    if reason is not None:
        return reason
    if insn is None or found is None:
        raise AssertionError(f"{word:#x}: dbt decodes {insn}, capstone {found}")
    check_capstone_agrees(word, size, insn)
    return None


@pytest.mark.parametrize("row", TABLES_GC, ids=lambda row: row.name)
def test_row_agrees_with_capstone(row: Row) -> None:
    rng = random.Random("capstone " + row.name)
    checked = 0
    for word in random_encodings(row, rng, ENCODINGS_PER_ROW):
        checked += check_word(word, row.size) is None
    assert checked >= ENCODINGS_PER_ROW // 20, f"capstone confirmed only {checked} encodings of {row.name}"


def test_capstone_quirks_are_what_the_docstring_says() -> None:
    """The known disagreements are real (so a capstone upgrade that fixes one shows up here)."""
    examples = {
        0x0100_000F | 1 << 15: "reserved fence fields, ignored by base implementations",  # fence with rs1
        0x0000_100F | 1 << 20: "reserved fence fields, ignored by base implementations",  # fence.i imm
        ROWS["fadd.s"].match | 5 << 12 | 1 << 7: "reserved rounding mode: illegal when lifted",
        ROWS["fcvt.d.w"].match | 1 << 12 | 1 << 7: "capstone knows only rm = 000 for exact conversions",
        0x1005: "compressed HINT with rd = x0",  # c.addi x0, -31
        0x6081: "c.lui with nzimm = 0 is reserved",
        0x0000: "0x0000 is the defined illegal instruction",
    }
    for word, reason in examples.items():
        assert check_word(word, 2 if word & 3 != 3 else 4) == reason, hex(word)


def test_every_compressed_word_agrees_with_capstone() -> None:
    """All 49152 16-bit words: legal in dbt exactly when capstone decodes them (up to the
    documented disagreements), and then the same instruction."""
    reasons: dict[str, int] = {}
    for word in range(0x10000):
        if word & 3 != 3:
            reason = check_word(word, 2)
            if reason is not None:
                reasons[reason] = reasons.get(reason, 0) + 1
    assert reasons == {
        # quadrant 0 funct3 = 100 (2048), c.addi4spn nzuimm = 0 other than 0x0000 (7), c.addiw,
        # c.lwsp, c.ldsp with rd = 0 (3 * 64), c.addi16sp and c.lui x0 with imm 0 (2), c.jr x0 (1),
        # the reserved c.subw/c.addw space (128)
        "illegal for both": 2048 + 7 + 3 * 64 + 2 + 1 + 128,
        # HINTs capstone refuses: c.addi x0 with imm[5] = 1 (32), c.li x0 (64), c.lui x0 (63),
        # c.slli x0 (64), c.mv x0 and c.add x0 with rs2 != 0 (31 each)
        "compressed HINT with rd = x0": 32 + 64 + 63 + 64 + 31 + 31,
        "c.lui with nzimm = 0 is reserved": 30,
        "0x0000 is the defined illegal instruction": 1,
    }


MAJOR_OPCODES = sorted({row.match & 0x7F for row in TABLES_GC if row.size == 4})


def random_words(rng: random.Random, count: int) -> Iterable[int]:
    """32-bit words: half uniformly random, half with a major opcode dbt knows (more hits)."""
    for i in range(count):
        word = rng.getrandbits(32) | 3
        if i % 2:
            word = (word & ~0x7F) | rng.choice(MAJOR_OPCODES)
        yield word


def test_random_32bit_words_agree_with_capstone() -> None:
    rng = random.Random(32)
    decoded = 0
    for word in random_words(rng, 20_000):
        if check_word(word, 4) is None and decode_gc(word) is not None:
            decoded += 1
    assert decoded > 4000


# ----------------------------------------------------------------------------------------------------
# Reserved and illegal encodings
# ----------------------------------------------------------------------------------------------------


def words(base: int, *fields: tuple[int, int]) -> list[int]:
    """Every word `base` | values of the given (hi, lo) bit ranges."""
    out = [base]
    for hi, lo in fields:
        out = [w | v << lo for w in out for v in range(1 << (hi - lo + 1))]
    return out


RESERVED = {
    "0x0000 and c.addi4spn with nzuimm = 0": words(0x0000, (4, 2)),
    "c.addiw with rd = 0": words(0x2001, (12, 12), (6, 2)),
    "c.addi16sp with nzimm = 0": [0x6101],
    "c.lui with nzimm = 0": [0x6001 | rd << 7 for rd in range(32) if rd != 2],
    "c.lwsp with rd = 0": words(0x4002, (12, 12), (6, 2)),
    "c.ldsp with rd = 0": words(0x6002, (12, 12), (6, 2)),
    "c.jr with rs1 = 0": [0x8002],
    "quadrant 0, funct3 = 100": words(0x8000, (12, 2)),
    "c.subw/c.addw space, funct2 = 10 and 11": words(0x9C41, (9, 7), (5, 5), (4, 2)),
    "48-bit instructions": words(0x0000_001F, (6, 6), (31, 28)),
    "64-bit instructions": words(0x0000_003F, (31, 28)),
    "80-bit and longer instructions": words(0x0000_007F, (31, 28)),
}


#: Encodings reserved in RV64GC that later extensions define (Zcb, Zcmop): illegal under rv64gc.
ASSIGNED_LATER = {
    "c.lui with nzimm = 0",
    "quadrant 0, funct3 = 100",
    "c.subw/c.addw space, funct2 = 10 and 11",
}


@pytest.mark.parametrize("encodings", RESERVED.values(), ids=RESERVED.keys())
def test_reserved_encodings_are_illegal(encodings: list[int]) -> None:
    for word in encodings:
        assert decode_gc(word) is None, f"{word:#x} decodes as {decode(word)}"


def test_encodings_later_extensions_define() -> None:
    """What RV64GC reserves and Zcb / Zcmop define decodes only when those are enabled."""
    for name in ASSIGNED_LATER:
        rows = {decode(word).row for word in RESERVED[name] if decode(word) is not None}
        assert rows and all(ROWS[row].extension in ("zcb", "zcmop") for row in rows), (name, rows)


def test_longer_instruction_lengths() -> None:
    assert [insn_size(w) for w in (0x0001, 0x0002, 0x0000, 0x0003, 0x0013, 0x001F, 0x003F, 0x007F)] == [
        2, 2, 2, 4, 4, 0, 0, 0,
    ]  # fmt: skip


# ----------------------------------------------------------------------------------------------------
# The table checker
# ----------------------------------------------------------------------------------------------------


@pytest.fixture
def opcodes(tmp_path: Path) -> Path:
    """A private copy of the opcodes directory to edit."""
    copy = tmp_path / "opcodes"
    shutil.copytree(OPCODES_DIR, copy)
    return copy


def load_uncached(directory: Path) -> Tables:
    return load_tables.__wrapped__(directory)


def append(directory: Path, fname: str, line: str) -> None:
    path = directory / fname
    path.write_text(path.read_text() + line + "\n")


def replace(directory: Path, fname: str, old: str, new: str) -> None:
    path = directory / fname
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_a_copy_of_the_tables_loads(opcodes: Path) -> None:
    assert load_uncached(opcodes) == TABLES


# A free compressed encoding (quadrant 0, funct3 = 100 with bit 12 set; Zcb has the rest) for rows
# that must be accepted or refused
# only for the reason under test.
C_FREE = "c.extra c_rdp c_rs1p c_uimm2 15..10=0x24 1..0=0"


def test_a_good_new_row_is_accepted(opcodes: Path) -> None:
    append(opcodes, "rv_c", C_FREE + " => lw rd=c_rdp rs1=c_rs1p imm12=c_uimm2 !c_rdp=8")
    append(opcodes, "rv_i", "custom0 rd rs1 imm12 14..12=0 6..0=0x0b")
    tables = load_uncached(opcodes)
    assert tables.row("c.extra").reserved == (("c_rdp", 8),)
    assert tables.row("custom0").mask == 0x707F


BAD_EDITS = {
    "overlapping rows without %overlap": (
        ("append", "rv_i", "addx rd rs1 imm12 14..12=0 6..0=0x13"),
        "addi and addx overlap",
    ),
    "uncovered bits": (("append", "rv_i", "hole rd rs1 14..12=0 6..0=0x0b"), "not covered"),
    "bits covered twice by a field and a fixed range": (
        ("append", "rv_i", "twice rd rs1 imm12 11..7=0 14..12=0 6..0=0x0b"),
        "covered twice",
    ),
    "bits covered twice by two fixed ranges": (
        ("append", "rv_i", "twice rd rs1 imm12 14..12=0 14=1 6..0=0x0b"),
        "covered twice",
    ),
    "a value wider than its range": (
        ("append", "rv_i", "wide rd rs1 imm12 14..12=8 6..0=0x0b"),
        "does not fit",
    ),
    "unknown field": (("append", "rv_i", "odd rd rs1 imm13 14..12=0 6..0=0x0b"), "unknown field"),
    "a declared overlap removed": (("replace", "rv_c", "%overlap c.jr c.mv", ""), "c.jr and c.mv overlap"),
    "%overlap naming an unknown row": (("append", "rv_c", "%overlap c.jr c.nothing"), "unknown instruction"),
    "duplicate names": (("append", "rv_i", "addi rd rs1 imm12 14..12=0 6..0=0x0b"), "duplicate"),
    "compressed row without expansion": (("append", "rv_c", C_FREE), "must expand"),
    "expansion to an unknown instruction": (("append", "rv_c", C_FREE + " => nothere rd=c_rdp"), "unknown"),
    "expansion to a compressed row": (("append", "rv_c", C_FREE + " => c.lw rd=c_rdp"), "unknown"),
    "expansion setting a field the base lacks": (
        ("append", "rv_c", C_FREE + " => lw rd=c_rdp rs3=c_rs1p"),
        "has no field",
    ),
    "reserved condition on a field the row lacks": (
        ("append", "rv_c", C_FREE + " => lw rd=c_rdp rs1=c_rs1p imm12=c_uimm2 !c_rd=0"),
        "unknown field",
    ),
    "unknown field kind": (("append", "fields", "bogus   weird   3..0"), "unknown field kind"),
    "field piece mapping ranges of different widths": (
        ("append", "fields", "bogus uimm 3..0:2..0"),
        "different widths",
    ),
    "bad bit range": (("append", "rv_i", "odd rd rs1 imm12 14..12=0 6..=0x0b"), "bad range"),
}


@pytest.mark.parametrize("edit,message", BAD_EDITS.values(), ids=BAD_EDITS.keys())
def test_table_checker_refuses(opcodes: Path, edit: tuple[str, ...], message: str) -> None:
    action, fname, *args = edit
    if action == "append":
        append(opcodes, fname, args[0])
    else:
        replace(opcodes, fname, args[0], args[1])
    with pytest.raises(DecodeError, match=message):
        load_uncached(opcodes)


# ----------------------------------------------------------------------------------------------------
# Lifters
# ----------------------------------------------------------------------------------------------------


def test_every_base_row_has_a_lifter_and_every_lifter_a_row() -> None:
    assert set(LIFTERS) == BASE_NAMES


def test_compressed_rows_expand_to_base_rows() -> None:
    for row in TABLES.rows:
        if row.size == 2:
            assert row.base in BASE_NAMES, row.name
            base_fields = set(ROWS[row.base].fields)
            assert {target for target, _ in row.assign} <= base_fields, row.name


@pytest.mark.parametrize("rm", [5, 6])
def test_lifters_refuse_reserved_rounding_modes(rm: int) -> None:
    for row in TABLES.rows:
        if "rm" in row.fields:
            insn = decode(row.match | rm << 12)
            assert insn is not None and insn.rm == rm
            assert not lifter_accepts(insn), row.name


def test_lifters_accept_every_valid_rounding_mode() -> None:
    for row in TABLES.rows:
        if "rm" in row.fields:
            for rm in (0, 1, 2, 3, 4, 7):
                insn = decode(row.match | rm << 12)
                assert insn is not None and lifter_accepts(insn), (row.name, rm)
