"""dbt's own disassembly text (for the extensions capstone 5 does not know) against GNU objdump.

binutils 2.40 (Debian 12's riscv64 cross binutils) knows Zba, Zbb, Zbc, Zbs, Zbkb, Zbkc, Zbkx,
Zfh, Zfhmin, Zicbom, Zicboz and Zawrs: random encodings of every row of those extensions are
assembled with `.insn`, disassembled by objdump and compared with `format_insn`, after two
normalisations of objdump's style (hex immediates; `ror`, `bset`... for the immediate forms
rori, bseti...; fmv.h, fneg.h, fabs.h for fsgnj*.h with equal sources). Skipped: encodings with
a reserved rounding mode (objdump prints "unknown", dbt "rm5"/"rm6"; they are illegal either
way), and fcvt.s.h / fcvt.d.h with rm != 0, which binutils 2.40 does not decode.
"""

from __future__ import annotations

import random
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from dbt.frontends.riscv64.cpu import default_model
from dbt.frontends.riscv64.disasm import format_insn
from dbt.frontends.riscv64.table import load_tables

AS = shutil.which("riscv64-linux-gnu-as")
OBJDUMP = shutil.which("riscv64-linux-gnu-objdump")
KNOWN_TO_BINUTILS_2_40 = {
    "zba", "zbb", "zbc", "zbs", "zbkb", "zbkc", "zbkx", "zfh", "zfhmin", "zicbom", "zicboz", "zawrs",
}  # fmt: skip
#: binutils 2.40 knows these widening conversions only with rm = 0 (as capstone does fcvt.d.s);
#: the spec gives them an rm field like every conversion, and QEMU accepts any valid rm.
EXACT_CONVERSIONS = {"fcvt.s.h", "fcvt.d.h"}
SIGN_ALIASES = {"fmv.h": "fsgnj.h", "fneg.h": "fsgnjn.h", "fabs.h": "fsgnjx.h"}
ARCH = "rv64i2p1_m2p0_a2p1_f2p2_d2p2_c2p0_zicsr2p0_zifencei2p0_" + "_".join(
    f"{ext}1p0" for ext in sorted(KNOWN_TO_BINUTILS_2_40)
)


def _objdump_texts(words: list[tuple[int, int]], tmp_path: Path) -> dict[int, str]:
    source = tmp_path / "t.s"
    lines = [f'.attribute arch, "{ARCH}"', ".text"]
    lines += [f".insn {size}, {word:#x}" for size, word in words]
    source.write_text("\n".join(lines) + "\n")
    subprocess.run([AS, str(source), "-o", str(tmp_path / "t.o")], check=True, capture_output=True)
    dump = subprocess.run([OBJDUMP, "-d", str(tmp_path / "t.o")], check=True, capture_output=True, text=True)
    texts = {}
    for line in dump.stdout.splitlines():
        m = re.match(r"\s+[0-9a-f]+:\s+([0-9a-f]+)\s+(.*)$", line)
        if m:
            texts[int(m.group(1), 16)] = m.group(2)
    return texts


def _normalised(objdump: str, ours: str) -> str:
    text = re.sub(r"\s+", " ", objdump.split("#")[0]).strip()
    text = re.sub(r"0x[0-9a-f]+", lambda m: str(int(m.group(0), 16)), text).replace(", ", ",")
    mnemonic, _, operands = text.partition(" ")
    ours_mnemonic = ours.partition(" ")[0]
    if mnemonic in SIGN_ALIASES:  # fmv.h fd, fs is fsgnj.h fd, fs, fs
        mnemonic = SIGN_ALIASES[mnemonic]
        operands += "," + operands.split(",")[-1]
    # objdump names rori/roriw/bseti/... by their register forms.
    if ours_mnemonic in (mnemonic + "i", mnemonic[:-1] + "iw"):
        mnemonic = ours_mnemonic
    return f"{mnemonic} {operands}".strip()


@pytest.mark.skipif(
    AS is None or OBJDUMP is None, reason="needs riscv64-linux-gnu binutils (gcc-riscv64-linux-gnu)"
)
def test_table_text_matches_objdump(tmp_path: Path) -> None:
    gc = default_model().rows
    rng = random.Random(2026)
    words = []
    for row in load_tables().rows:
        if row.name in gc or row.extension not in KNOWN_TO_BINUTILS_2_40:
            continue
        for _ in range(8):
            word = (rng.getrandbits(8 * row.size) & ~row.mask) | row.match
            if "rm" in row.fields and (word >> 12) & 7 in (5, 6):
                continue
            if row.name in EXACT_CONVERSIONS and (word >> 12) & 7:
                continue
            words.append((row.size, word))
    texts = _objdump_texts(words, tmp_path)
    checked = 0
    for size, word in words:
        ours = format_insn(word.to_bytes(size, "little"), 0).replace(", ", ",")
        assert word in texts and not texts[word].startswith("."), f"objdump does not know {word:#x}"
        assert _normalised(texts[word], ours) == ours, f"{word:#x}"
        checked += 1
    assert checked > 300
