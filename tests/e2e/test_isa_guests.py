"""Programs compiled for the newer ISA extensions (-march / -mcpu with Zba, Zbb, Zbc, Zbs, Zbkb,
Zbkx, and with zig also Zicond, Zacas, Zabha; Zfh and Zfa for halffloat), run under dbt's CPU
models and compared with QEMU 10 running the same binary with the matching -cpu.

The instruction-level comparison of every new instruction is in
tests/backends/interp/test_isa_extensions.py; here the code is what compilers emit.
"""

from __future__ import annotations

import subprocess

import pytest
from dbtrun import Result, run_dbt
from guestbuild import available_toolchains, build_guest

#: Compiler flags that enable the extensions (gcc 12 takes -march; this zig takes -mcpu).
BITMANIP_FLAGS = {
    "gcc-glibc-static": ("-march=rv64gc_zba_zbb_zbc_zbs_zbkb_zbkx",),
    "zig-musl-static": ("-mcpu=generic_rv64+m+a+f+d+c+zba+zbb+zbc+zbs+zbkb+zbkx+zicond+zacas+zabha",),
}
HALF_FLAGS = {
    "gcc-glibc-static": ("-march=rv64gc_zfh",),
    "zig-musl-static": ("-mcpu=generic_rv64+m+a+f+d+c+zfh",),
}
RVA22_FLAGS = {
    "gcc-glibc-static": ("-march=rv64gc_zba_zbb_zbs",),
    "zig-musl-static": ("-mcpu=generic_rv64+m+a+f+d+c+zba+zbb+zbs",),
}
TOOLCHAINS = [t for t in available_toolchains() if t in BITMANIP_FLAGS]
TIERS = {"interp": ("--no-jit",), "jit": ("--jit-threshold", "0")}
#: halffloat's 300 FP regions take minutes to compile all at once: the JIT tier runs at the
#: normal threshold there (each instruction's compiled form is checked in test_isa_extensions).
HALF_TIERS = {"interp": ("--no-jit",), "jit": ()}
#: QEMU's rv64 with the extensions its rv64 has by default turned off: plain RV64GC.
QEMU_RV64GC = "rv64,zba=false,zbb=false,zbc=false,zbs=false,zicboz=false,zicbom=false,zfa=false"
SIGILL = 4


@pytest.fixture(scope="module")
def qemu10(qemu_ref: str) -> str:
    return qemu_ref


def run_qemu10(qemu: str, cpu: str, binary: str, args: list[str]) -> Result:
    p = subprocess.run([qemu, "-cpu", cpu, binary, *args], capture_output=True, timeout=600)
    return Result(p.returncode if p.returncode >= 0 else 128 - p.returncode, p.stdout, p.stderr)


#: (guest, its build flags per toolchain, the dbt options of each tier)
GUESTS = {
    "bitmanip": (BITMANIP_FLAGS, TIERS),
    "halffloat": (HALF_FLAGS, HALF_TIERS),
}


@pytest.mark.parametrize("tier", ["interp", "jit"])
@pytest.mark.parametrize("toolchain", TOOLCHAINS)
@pytest.mark.parametrize("guest", GUESTS)
def test_guest_matches_qemu(guest: str, toolchain: str, tier: str, qemu10: str) -> None:
    flags, tiers = GUESTS[guest]
    binary = str(build_guest(guest, toolchain, flags[toolchain]))
    reference = run_qemu10(qemu10, "max", binary, [])
    assert reference.status == 0, reference.stderr
    result = run_dbt(binary, [], options=("--cpu", "max", *tiers[tier]))
    assert result.status == 0, result.stderr.decode(errors="replace")[-2000:]
    assert result.stdout == reference.stdout


@pytest.mark.parametrize("toolchain", TOOLCHAINS)
def test_program_built_for_rva22_runs_on_rva22_only(toolchain: str, qemu10: str) -> None:
    binary = str(build_guest("compute", toolchain, RVA22_FLAGS[toolchain]))
    reference = run_qemu10(qemu10, "rva22u64", binary, ["120"])
    assert reference.status == 0
    for tier in TIERS.values():
        result = run_dbt(binary, ["120"], options=("--cpu", "rva22u64", *tier))
        assert (result.status, result.stdout) == (0, reference.stdout)
    # On plain RV64GC the first Zb* instruction is illegal, under both.
    plain = run_dbt(binary, ["120"], options=("--cpu", "rv64gc"))
    assert plain.status == 128 + SIGILL
    assert b"dbt: guest terminated by SIGILL" in plain.stderr
    assert run_qemu10(qemu10, QEMU_RV64GC, binary, ["120"]).status == 128 + SIGILL
