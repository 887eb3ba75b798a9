"""CPU models: --cpu parsing, which table rows each model decodes, AT_HWCAP and hwprobe bits.

The profile contents are the RVA22U64 and RVA23U64 mandatory extension lists of the RISC-V
profiles specification (RVA23U64 without V and its Zv* companions); what QEMU 10 answers for
the same models is compared in tests/backends/interp/test_isa_extensions.py.
"""

from __future__ import annotations

import pytest

from dbt.errors import ConfigError
from dbt.frontends.riscv64.cpu import EXTENSIONS, MODELS, parse_cpu, system_rows
from dbt.frontends.riscv64.table import load_tables

ROWS = {row.name: row for row in load_tables().rows}
#: RVA22U64's mandatory extensions that have instructions or that dbt names (profiles spec).
RVA22U64 = {"i", "m", "a", "f", "d", "c", "zicsr", "zicntr", "zihintpause", "zba", "zbb", "zbs", "zicbom",
            "zicbop", "zicboz", "zfhmin", "zkt"}  # fmt: skip
RVA23U64_NOVECTOR = RVA22U64 | {"zihintntl", "zicond", "zimop", "zcmop", "zcb", "zfa", "zawrs"}


def test_models_hold_the_profiles() -> None:
    assert parse_cpu("rva22u64").extensions >= RVA22U64
    assert parse_cpu("rva23u64-novector").extensions >= RVA23U64_NOVECTOR
    assert not {"zba", "zbb", "zfh", "zfa", "zcb"} & parse_cpu("rv64gc").extensions
    assert parse_cpu("max").extensions == set(EXTENSIONS)
    assert set(MODELS) >= {"rv64gc", "rva22u64", "rva23u64-novector", "max"}


def test_overrides() -> None:
    model = parse_cpu("rv64gc,zba=on,zbb=true,zbs")
    assert {"zba", "zbb", "zbs"} <= model.extensions
    assert "zbb" not in parse_cpu("rva22u64,zbb=off").extensions
    assert "zfhmin" in parse_cpu("rv64gc,zfh=on").extensions  # Zfh includes Zfhmin
    assert parse_cpu(" MAX , ZBC=OFF ").extensions == set(EXTENSIONS) - {"zbc"}


@pytest.mark.parametrize(
    "spec,message",
    [
        ("rv32gc", "unknown CPU model"),
        ("rv64gc,zzz=on", "unknown extension 'zzz'"),
        ("rv64gc,zba=maybe", "must be on or off"),
        ("rv64gc,v=on", "vector extension V is not implemented"),
        ("rv64gc,i=off", "cannot be turned off"),
        ("max,zfhmin=off", "zfhmin cannot be off while zfh is on"),
        ("rv64gc,c=off,zcb=on", "zcb needs the compressed extension c"),
    ],
)
def test_bad_specs_are_one_line_config_errors(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_cpu(spec)


def test_row_gating() -> None:
    gc, max_ = parse_cpu("rv64gc"), parse_cpu("max")
    assert gc.allows(ROWS["add"]) and gc.allows(ROWS["c.addi"]) and not gc.allows(ROWS["sh1add"])
    # rol is in Zbb and in Zbkb: either enables it; clz only in Zbb.
    zbkb = parse_cpu("rv64gc,zbkb=on")
    assert zbkb.allows(ROWS["rol"]) and zbkb.allows(ROWS["rev8"]) and not zbkb.allows(ROWS["clz"])
    # A compressed row needs its base instruction: c.sext.b is Zcb but expands to Zbb's sext.b.
    zcb = parse_cpu("rv64gc,zcb=on")
    assert zcb.allows(ROWS["c.lbu"]) and zcb.allows(ROWS["c.mul"]) and not zcb.allows(ROWS["c.sext.b"])
    assert parse_cpu("rv64gc,zcb=on,zbb=on").allows(ROWS["c.sext.b"])
    assert not parse_cpu("rv64gc,m=off").allows(ROWS["c.mul"]) and not parse_cpu("rv64gc,m=off").allows(
        ROWS["mul"]
    )
    # Every row but the supervisor ones (opcodes/rv_s), which only system mode decodes.
    every = {row.name for row in load_tables().rows}
    assert max_.rows == every - {"sfence.vma"} and system_rows(max_) == every
    assert system_rows(gc) == gc.rows | {"sfence.vma"}
    assert not parse_cpu("rv64gc,c=off").allows(ROWS["c.addi"])


def test_hwcap_and_hwprobe_bits() -> None:
    letters = {1 << (ord(ch) - ord("a")) for ch in "imafdc"}
    assert parse_cpu("rv64gc").hwcap == sum(letters)
    assert parse_cpu("rv64gc,f=off,d=off").hwcap == sum(letters) - (1 << 5) - (1 << 3)
    rva22 = parse_cpu("rva22u64").hwprobe_ima_ext_0
    # Linux uapi asm/hwprobe.h: FD 0, C 1, Zba 3, Zbb 4, Zbs 5, Zicboz 6, Zkt 16, Zfhmin 28, Zcd 45.
    for bit in (0, 1, 3, 4, 5, 6, 16, 28, 45):
        assert rva22 >> bit & 1, bit
    assert not rva22 >> 2 & 1  # never V
    assert not parse_cpu("rv64gc,d=off").hwprobe_ima_ext_0 & 1  # FD needs both
    assert parse_cpu("rv64gc").isa_string().startswith("rv64imafdc_")
