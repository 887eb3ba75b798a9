"""Differential runs of machine-code cases on dbt and on QEMU 10 (the outside reference for the
RVA22/RVA23 extensions), through the guest `tests/guests/isarunner.c`.

A `Case` is a list of `Instr` (encoded from dbt's tables by isa_harness) plus an initial state:
every x and f register, fcsr and a 4 KiB data buffer at the fixed address DATA_BASE. Python wraps
the instructions in a prologue that saves the C ABI registers (ra, sp, gp, tp, s0-s11, fs0-fs11,
fcsr) and loads every register and fcsr from a state block whose address stays in sp (x2) for the
whole case, and an epilogue that stores them all back and returns. The runner maps the code at
CODE_BASE (a fresh mapping per case), calls it, and writes the final registers, fcsr and data
buffer; a SIGILL, SIGSEGV or SIGBUS is caught (signal number, si_code, si_addr and the registers
of the signal frame are reported) and the runner goes on with the next case.

The same case stream runs under `qemu-riscv64 -cpu <name>` and under `dbt run --cpu <model>`
(interpreter only, or with every block compiled on first execution), and the result streams are
compared exactly, with a listing of the case for any difference.

The QEMU 10 binary comes from tests/tools/fetch-qemu-ref (see `find_qemu_ref`).
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dbtrun import dbt_command
from guestbuild import build_guest

TESTS_DIR = Path(__file__).resolve().parent
if str(TESTS_DIR / "backends" / "interp") not in sys.path:
    sys.path.append(str(TESTS_DIR / "backends" / "interp"))

from isa_harness import MASK64, ROWS, X_NAMES, Instr, encode, operand_kinds  # noqa: E402

FETCH_SCRIPT = TESTS_DIR / "tools" / "fetch-qemu-ref"
#: Where the maintainer's hand-fetched copy lives (the fetch script's commands, run in /tmp/apt13).
LEGACY_QEMU_REF = Path("/tmp/apt13/x/usr/bin/qemu-riscv64")

# ---- the runner's fixed layout (mirrors tests/guests/isarunner.c) ----------------------------------
DATA_BASE = 0x2000_0000
DATA_SIZE = 0x1000
RO_BASE = DATA_BASE + DATA_SIZE  # one read-only page, byte i = 0xa5 ^ (i & 0xff)
HOLE_BASE = RO_BASE + 0x1000  # unmapped
STATE_ADDR = 0x2100_8000
CODE_BASE = 0x2200_0000
OFF_F, OFF_FCSR, SAVE_X, SAVE_F, SAVE_FCSR = 256, 512, 520, 648, 744
MAGIC_CASE, MAGIC_RESULT = 0x53414349, 0x53455243
_RESULT = struct.Struct("<4I2Q32Q32QQ")

SIGILL, SIGBUS, SIGSEGV = 4, 7, 11
SIGNAL_NAMES = {SIGILL: "SIGILL", SIGBUS: "SIGBUS", SIGSEGV: "SIGSEGV"}
#: Extensions of RV64GC: rows of any other extension are the new ones.
RV64GC_EXTENSIONS = frozenset({"i", "m", "a", "f", "d", "c", "zicsr", "zifencei"})

# ----------------------------------------------------------------------------------------------------
# Finding QEMU 10
# ----------------------------------------------------------------------------------------------------


def ref_dir() -> Path:
    """The fetch script's cache directory: $DBT_REF_DIR, else ~/.cache/dbt-ref."""
    env = os.environ.get("DBT_REF_DIR")
    return Path(env) if env else Path.home() / ".cache" / "dbt-ref"


def find_qemu_ref() -> str | None:
    """$DBT_QEMU_REF, else <ref_dir>/qemu-riscv64, else the hand-fetched copy; None if none exists."""
    env = os.environ.get("DBT_QEMU_REF")
    if env:
        return env if os.access(env, os.X_OK) else None
    for candidate in (ref_dir() / "qemu-riscv64", LEGACY_QEMU_REF):
        if os.access(candidate, os.X_OK):
            return str(candidate)
    return None


# ----------------------------------------------------------------------------------------------------
# Prologue and epilogue
# ----------------------------------------------------------------------------------------------------

_SAVED_X = [1, 2, 3, 4, 8, 9, *range(18, 28)]  # ra, sp, gp, tp, s0-s11 (save_x order)
_SAVED_F = [8, 9, *range(18, 28)]  # fs0-fs11
_CSR_FCSR = 0x003
T0 = 5


def _prologue() -> list[Instr]:
    out = [encode("sd", rs1=10, rs2=2, simm12=SAVE_X + 8), encode("addi", rd=2, rs1=10, imm12=0)]
    out += [encode("sd", rs1=2, rs2=r, simm12=SAVE_X + 8 * i) for i, r in enumerate(_SAVED_X) if r != 2]
    out += [encode("fsd", rs1=2, rs2=r, simm12=SAVE_F + 8 * i) for i, r in enumerate(_SAVED_F)]
    out += [encode("csrrs", rd=T0, rs1=0, csr=_CSR_FCSR), encode("sd", rs1=2, rs2=T0, simm12=SAVE_FCSR)]
    out += [encode("ld", rd=T0, rs1=2, imm12=OFF_FCSR), encode("csrrw", rd=0, rs1=T0, csr=_CSR_FCSR)]
    out += [encode("fld", rd=r, rs1=2, imm12=OFF_F + 8 * r) for r in range(32)]
    out += [encode("ld", rd=r, rs1=2, imm12=8 * r) for r in range(1, 32) if r != 2]
    return out


def _epilogue() -> list[Instr]:
    out = [encode("sd", rs1=2, rs2=r, simm12=8 * r) for r in range(1, 32) if r != 2]
    out += [encode("fsd", rs1=2, rs2=r, simm12=OFF_F + 8 * r) for r in range(32)]
    out += [encode("csrrs", rd=T0, rs1=0, csr=_CSR_FCSR), encode("sd", rs1=2, rs2=T0, simm12=OFF_FCSR)]
    out += [encode("ld", rd=T0, rs1=2, imm12=SAVE_FCSR), encode("csrrw", rd=0, rs1=T0, csr=_CSR_FCSR)]
    out += [encode("fld", rd=r, rs1=2, imm12=SAVE_F + 8 * i) for i, r in enumerate(_SAVED_F)]
    out += [encode("ld", rd=r, rs1=2, imm12=SAVE_X + 8 * i) for i, r in enumerate(_SAVED_X) if r != 2]
    out += [encode("ld", rd=2, rs1=2, imm12=SAVE_X + 8), encode("jalr", rd=0, rs1=1, imm12=0)]
    return out


PROLOGUE = b"".join(i.encoding() for i in _prologue())
EPILOGUE = b"".join(i.encoding() for i in _epilogue())
#: Address of the first instruction under test.
BODY_BASE = CODE_BASE + len(PROLOGUE)

# ----------------------------------------------------------------------------------------------------
# Cases and results
# ----------------------------------------------------------------------------------------------------


@dataclass
class Case:
    """Instructions under test and the initial state (unsigned 64-bit register values)."""

    body: list[Instr]
    x: list[int] = field(default_factory=lambda: [0] * 32)
    f: list[int] = field(default_factory=lambda: [0] * 32)
    fcsr: int = 0
    data: bytes = bytes(DATA_SIZE)
    label: str = ""

    def code(self) -> bytes:
        return PROLOGUE + b"".join(i.encoding() for i in self.body) + EPILOGUE

    def encode(self) -> bytes:
        code = self.code()
        assert len(self.data) == DATA_SIZE
        state = struct.pack(
            "<65Q", *[v & MASK64 for v in self.x], *[v & MASK64 for v in self.f], self.fcsr & 0xFF
        )
        return struct.pack("<2I", MAGIC_CASE, len(code)) + code + state + self.data

    def listing(self) -> str:
        lines, pc = [], BODY_BASE
        for instr in self.body:
            ops = " ".join(f"{name}={value}" for name, value in instr.fields)
            lines.append(f"  {pc:#x}: {instr.row} {ops}    # {instr}")
            pc += instr.size
        return "\n".join(lines)

    def describe(self) -> str:
        """The case: its instructions and the initial value of every register they name."""
        regs: dict[str, int] = {}
        for instr in self.body:
            for name, kind in operand_kinds_ext(instr.base).items():
                reg = instr.operand(name)
                if reg is None or kind == "imm":
                    continue
                if kind == "x":
                    regs[f"x{reg} ({X_NAMES[reg]})"] = self.x[reg] if reg else 0
                else:
                    regs[f"f{reg}"] = self.f[reg]
        init = ", ".join(f"{name}={value:#x}" for name, value in regs.items())
        frm, fflags = self.fcsr >> 5 & 7, self.fcsr & 0x1F
        title = f"case {self.label}\n" if self.label else ""
        return f"{title}{self.listing()}\n  initial: {init}\n  initial frm={frm} fflags={fflags:#x}"


@dataclass(frozen=True)
class Result:
    signo: int
    code: int
    addr: int
    pc: int
    x: tuple[int, ...]
    f: tuple[int, ...]
    fcsr: int
    data: bytes

    def stop(self) -> str:
        if not self.signo:
            return "returned"
        name = SIGNAL_NAMES.get(self.signo, f"signal {self.signo}")
        return f"{name} si_code={self.code} si_addr={self.addr:#x} pc={self.pc:#x}"


class RunnerError(RuntimeError):
    pass


def runner_path() -> Path:
    return build_guest("isarunner", "zig-musl-static", ("-Wall", "-Wextra", "-Werror"))


def run_stream(
    cmd: Sequence[str], cases: Sequence[Case], env: dict[str, str] | None = None, timeout: float = 900
) -> list[Result]:
    """Run `cases` through one runner process started by `cmd` and parse its results."""
    stdin = b"".join(case.encode() for case in cases) + struct.pack("<2I", MAGIC_CASE, 0)
    proc = subprocess.run(list(cmd), input=stdin, capture_output=True, timeout=timeout, env=env)
    out = proc.stdout
    size = _RESULT.size + DATA_SIZE
    results = []
    for i in range(len(out) // size):
        fields = _RESULT.unpack_from(out, i * size)
        if fields[0] != MAGIC_RESULT:
            raise RunnerError(f"bad result magic at case {i} of {' '.join(cmd)}")
        data = out[i * size + _RESULT.size : (i + 1) * size]
        results.append(
            Result(fields[1], fields[2], fields[4], fields[5], fields[6:38], fields[38:70], fields[70], data)
        )
    if proc.returncode != 0 or len(results) != len(cases):
        where = cases[len(results)].describe() if len(results) < len(cases) else ""
        raise RunnerError(
            f"{' '.join(cmd)} exited with {proc.returncode} after {len(results)} of {len(cases)} cases\n"
            f"stderr: {proc.stderr.decode(errors='replace')[-3000:]}\n"
            f"the case it stopped at:\n{where}"
        )
    return results


def qemu_command(qemu: str, cpu: str) -> list[str]:
    return [qemu, "-cpu", cpu, str(runner_path())]


#: dbt tiers: the interpreter alone, and every block compiled at its first execution.
TIERS = ("interp", "jit")


def dbt_run(model: str, tier: str, cases: Sequence[Case], timeout: float = 900) -> list[Result]:
    env = dict(os.environ)
    env.pop("DBT_JIT_THRESHOLD", None)
    env.pop("DBT_NO_JIT", None)
    if tier == "interp":
        options = ["--no-jit"]
    elif tier == "jit":
        options = []
        env["DBT_JIT_THRESHOLD"] = "0"
    else:
        raise ValueError(tier)
    cmd = dbt_command("run", "--cpu", model, *options, str(runner_path()))
    return run_stream(cmd, cases, env=env, timeout=timeout)


def qemu_run(qemu: str, cpu: str, cases: Sequence[Case], timeout: float = 900) -> list[Result]:
    return run_stream(qemu_command(qemu, cpu), cases, timeout=timeout)


def result_differences(
    got: Result, want: Result, got_name: str = "dbt", want_name: str = "qemu"
) -> list[str]:
    out = []
    if (got.signo, got.code, got.addr, got.pc) != (want.signo, want.code, want.addr, want.pc):
        out.append(f"stop: {got_name} {got.stop()} != {want_name} {want.stop()}")
    for i in range(32):
        if got.x[i] != want.x[i]:
            out.append(f"x{i} ({X_NAMES[i]}): {got_name} {got.x[i]:#018x} != {want_name} {want.x[i]:#018x}")
    for i in range(32):
        if got.f[i] != want.f[i]:
            out.append(f"f{i}: {got_name} {got.f[i]:#018x} != {want_name} {want.f[i]:#018x}")
    if got.fcsr != want.fcsr:
        out.append(
            f"fcsr: {got_name} {got.fcsr:#04x} (frm {got.fcsr >> 5}, fflags {got.fcsr & 31:#x}) != "
            f"{want_name} {want.fcsr:#04x} (frm {want.fcsr >> 5}, fflags {want.fcsr & 31:#x})"
        )
    if got.data != want.data:
        diffs = [i for i in range(DATA_SIZE) if got.data[i] != want.data[i]]
        first = diffs[0] & ~7
        a, b = got.data[first : first + 16].hex(), want.data[first : first + 16].hex()
        out.append(
            f"data differs at {len(diffs)} bytes, first at {DATA_BASE + diffs[0]:#x}: "
            f"{got_name} {a} != {want_name} {b} (16 bytes from {DATA_BASE + first:#x})"
        )
    return out


def compare_streams(
    cases: Sequence[Case],
    got: Sequence[Result],
    want: Sequence[Result],
    got_name: str,
    want_name: str,
    limit: int = 8,
) -> list[str]:
    """One report per differing case (at most `limit`, and a count of the rest)."""
    reports = []
    bad = 0
    for case, g, w in zip(cases, got, want, strict=True):
        diff = result_differences(g, w, got_name, want_name)
        if diff:
            bad += 1
            if len(reports) < limit:
                reports.append(case.describe() + "\n  " + "\n  ".join(diff))
    if bad > len(reports):
        reports.append(f"... and {bad - len(reports)} more differing cases")
    return reports


# ----------------------------------------------------------------------------------------------------
# Operand kinds of the new instructions
# ----------------------------------------------------------------------------------------------------

FP_EXTENSIONS = ("f", "d", "zfh", "zfhmin", "zfa", "q", "zfbfmin")
_FMT = {"s": "s", "d": "d", "h": "h"}


def operand_kinds_ext(base: str) -> dict[str, str]:
    """Like isa_harness.operand_kinds, for every row: "x" integer register, "s"/"d"/"h" a
    binary32/64/16 value (NaN-boxed below 64 bits), "raw" an f register moved bit for bit,
    "imm" a register-number field that is an immediate (fli's rs1)."""
    row = ROWS[base]
    regs = [name for name in ("rd", "rs1", "rs2", "rs3") if name in row.fields]
    if row.extension in ("f", "d"):
        return operand_kinds(base)
    if row.extension not in FP_EXTENSIONS:
        return dict.fromkeys(regs, "x")
    if base in ("flh", "flw", "fld"):
        return {"rd": base[-1], "rs1": "x"}
    if base in ("fsh", "fsw", "fsd"):
        return {"rs1": "x", "rs2": "raw"}
    if base.startswith("fli."):
        return {"rd": base[-1], "rs1": "imm"}
    if base.startswith("fmv.x.") or base == "fmvh.x.d":
        return {"rd": "x", "rs1": "raw"}
    if base.startswith("fmv.") and base.endswith(".x"):
        return {"rd": base.split(".")[1], "rs1": "x"}
    if base == "fmvp.d.x":
        return {"rd": "d", "rs1": "x", "rs2": "x"}
    if base == "fcvtmod.w.d":
        return {"rd": "x", "rs1": "d"}
    if base.startswith("fcvt."):
        _, dst, src = base.split(".")[:3]
        return {"rd": _FMT.get(dst, "x"), "rs1": _FMT.get(src, "x")}
    fmt = base.rsplit(".", 1)[1]
    kinds = dict.fromkeys(regs, _FMT.get(fmt, "raw"))
    if base.startswith(("feq", "flt", "fle", "fclass")):
        kinds["rd"] = "x"
    return kinds


def is_new(row_name: str) -> bool:
    row = ROWS[row_name]
    return not set(row.extensions) <= RV64GC_EXTENSIONS or bool(set(row.requires) - RV64GC_EXTENSIONS)


def new_rows() -> list[str]:
    return [name for name in ROWS if is_new(name)]


def iter_listing(cases: Iterable[Case]) -> str:
    return "\n\n".join(case.describe() for case in cases)


# ----------------------------------------------------------------------------------------------------
# Values
# ----------------------------------------------------------------------------------------------------

INT64_MIN, INT64_MAX = 1 << 63, (1 << 63) - 1  # unsigned views
#: Integer edge values (unsigned 64-bit views).
INT_POOL = [
    0,
    1,
    2,
    MASK64,
    MASK64 - 1,
    INT64_MIN,
    INT64_MAX,
    INT64_MIN + 1,
    0x7FFF_FFFF,
    0x8000_0000,
    0xFFFF_FFFF,
    0x1_0000_0000,
    0xFFFF_FFFF_8000_0000,
    0xFFFF_FFFF_7FFF_FFFF,
    0xFFFF_FFFF_0000_0000,
    0x0000_0001_8000_0000,
    31,
    32,
    33,
    63,
    64,
    65,
    127,
    128,
    0x3F,
    0x1F,
    0x80,
    0xFF,
    0x7F,
    0x8000,
    0xFFFF,
    0x7FFF,
    0xFFFF_FFFF_FFFF_FF80,
    0xFFFF_FFFF_FFFF_8000,
    0x8080_8080_8080_8080,
    0x7F7F_7F7F_7F7F_7F7F,
    0x00FF_00FF_00FF_00FF,
    0xFF00_FF00_FF00_FF00,
    0x0101_0101_0101_0101,
    0x0080_0000_00FF_0001,
    0x8000_0000_0000_00FF,
    0x1234_5678_9ABC_DEF0,
    0xFEDC_BA98_7654_3210,
    0x5555_5555_5555_5555,
    0xAAAA_AAAA_AAAA_AAAA,
    0x0000_0000_8000_0001,
]
SHAMT6_POOL = [0, 1, 31, 32, 33, 63]
SHAMT5_POOL = [0, 1, 15, 31]

#: (exponent bits, fraction bits, box) of each FP format.
FP_FORMATS = {"h": (5, 10, 0xFFFF_FFFF_FFFF_0000), "s": (8, 23, 0xFFFF_FFFF_0000_0000), "d": (11, 52, 0)}


def fp_bits(fmt: str, sign: int, exp: int, frac: int) -> int:
    ebits, mbits, _ = FP_FORMATS[fmt]
    return sign << (ebits + mbits) | exp << mbits | frac


def fp_value(fmt: str, value: float) -> int:
    """Bits of `value` (exactly representable) in `fmt`."""
    if fmt == "d":
        return struct.unpack("<Q", struct.pack("<d", value))[0]
    if fmt == "s":
        return struct.unpack("<I", struct.pack("<f", value))[0]
    return struct.unpack("<H", struct.pack("<e", value))[0]


def fp_pool(fmt: str) -> list[int]:
    """Edge values of `fmt` (unboxed bits): zeros, infinities, NaNs, subnormals, extreme normals,
    small integers and halves (rounding ties), values near the integer conversion limits."""
    ebits, mbits, _ = FP_FORMATS[fmt]
    emax = (1 << ebits) - 1
    bias = emax >> 1
    one_ulp = 1
    values = [
        fp_bits(fmt, 0, 0, 0),
        fp_bits(fmt, 1, 0, 0),  # +-0
        fp_bits(fmt, 0, emax, 0),
        fp_bits(fmt, 1, emax, 0),  # +-inf
        fp_bits(fmt, 0, emax, 1 << (mbits - 1)),
        fp_bits(fmt, 1, emax, 1 << (mbits - 1) | 5),  # qNaN
        fp_bits(fmt, 0, emax, 1),
        fp_bits(fmt, 1, emax, (1 << (mbits - 1)) - 1),  # sNaN
        fp_bits(fmt, 0, 0, 1),
        fp_bits(fmt, 1, 0, 1),
        fp_bits(fmt, 0, 0, (1 << mbits) - 1),  # subnormals
        fp_bits(fmt, 0, 1, 0),
        fp_bits(fmt, 1, 1, 0),  # min normals
        fp_bits(fmt, 0, emax - 1, (1 << mbits) - 1),
        fp_bits(fmt, 1, emax - 1, (1 << mbits) - 1),  # max
        fp_bits(fmt, 0, bias, one_ulp),
        fp_bits(fmt, 0, bias - 1, (1 << mbits) - 1),  # 1+ulp, 1-ulp/2
        fp_bits(fmt, 0, bias + mbits, 0),
        fp_bits(fmt, 1, bias + mbits - 1, 1),  # 2^p, big .5
        fp_bits(fmt, 0, bias + 15, 0),
        fp_bits(fmt, 1, bias + 15, 0),  # +-2^15
    ]
    for v in (1.0, -1.0, 0.5, -0.5, 1.5, 2.5, -2.5, 3.0, 0.75, -1.25, 1 / 3 if fmt == "d" else 0.3330078125):
        values.append(fp_value(fmt, v))
    if fmt != "h":
        for v in (
            2.0**31,
            -(2.0**31),
            2.0**31 - 1 if fmt == "d" else 2.0**30,
            2.0**32,
            2.0**63,
            -(2.0**63),
            2.0**64,
            2147483647.5 if fmt == "d" else 2.0**24 + 2,
            -2147483648.5 if fmt == "d" else -1.5,
        ):
            values.append(fp_value(fmt, v))
    else:
        values += [fp_value("h", 65504.0), fp_value("h", -32768.0), fp_value("h", 2047.5)]
    return values


def box(fmt: str, bits: int) -> int:
    return FP_FORMATS[fmt][2] | bits


@dataclass
class Values:
    """Random operand values: edge pools and random bits, from a seeded random.Random."""

    rng: object  # random.Random

    def x(self) -> int:
        r = self.rng.random()
        if r < 0.65:
            return self.rng.choice(INT_POOL)
        if r < 0.8:
            return self.rng.getrandbits(32) | (MASK64 ^ 0xFFFF_FFFF) * self.rng.getrandbits(1)
        return self.rng.getrandbits(64)

    def fp(self, kind: str) -> int:
        """A register value for an operand of kind "s", "d", "h" or "raw"."""
        rng = self.rng
        if kind in ("x", "imm"):
            return self.x()
        if kind == "raw":
            kind = rng.choice("sdh")
        ebits, mbits, box_bits = FP_FORMATS[kind]
        r = rng.random()
        if r < 0.6:
            bits = rng.choice(fp_pool(kind))
        elif r < 0.85:  # an ordinary number not far from 1
            bias = (1 << ebits - 1) - 1
            span = min(bias - 1, 40)
            bits = fp_bits(kind, rng.getrandbits(1), bias + rng.randint(-span, span), rng.getrandbits(mbits))
        else:
            bits = rng.getrandbits(1 + ebits + mbits)
        if box_bits and rng.random() < 0.08:  # improperly NaN-boxed
            return rng.getrandbits(64 - mbits - ebits - 1) << (1 + ebits + mbits) | bits
        return box_bits | bits


# ----------------------------------------------------------------------------------------------------
# Generating instructions of a row
# ----------------------------------------------------------------------------------------------------

#: Bytes each memory-accessing base instruction touches (cbo: the 64-byte block).
ACCESS_SIZE = {
    "lb": 1,
    "lbu": 1,
    "sb": 1,
    "lh": 2,
    "lhu": 2,
    "sh": 2,
    "flh": 2,
    "fsh": 2,
    "lw": 4,
    "lwu": 4,
    "sw": 4,
    "flw": 4,
    "fsw": 4,
    "ld": 8,
    "sd": 8,
    "fld": 8,
    "fsd": 8,
}
_AMO_WIDTH = {"b": 1, "h": 2, "w": 4, "d": 8, "q": 16}
#: Registers the generated code never writes: sp is the state pointer, s0/s1 point into the data.
POINTERS = (8, 9)


def access_size(base: str) -> int | None:
    if base in ACCESS_SIZE:
        return ACCESS_SIZE[base]
    if base.startswith("cbo."):
        return 64
    if base.startswith(("amo", "lr.", "sc.")):
        return _AMO_WIDTH[base.split(".")[1]]
    return None


def _field_targets(row_name: str) -> dict[str, list[str]]:
    """For each operand field of a row, the base-instruction fields it sets."""
    row = ROWS[row_name]
    if not row.base:
        return {name: [name] for name in row.fields}
    targets: dict[str, list[str]] = {name: [] for name in row.fields}
    for target, source in row.assign:
        if isinstance(source, str):
            targets[source].append(target)
    return targets


def random_instr(
    row_name: str,
    rng,
    *,
    xregs: Sequence[int],
    fregs: Sequence[int],
    rm: int | None = None,
    offsets: bool = True,
) -> Instr:
    """An instruction of `row_name` with random operands: integer registers from `xregs` (the base
    of a memory access from POINTERS, with a small aligned offset), f registers from `fregs`."""
    from isa_harness import TABLES, encode_fields, shadowed

    row = ROWS[row_name]
    base = row.base or row_name
    kinds = operand_kinds_ext(base)
    size = access_size(base)
    targets = _field_targets(row_name)
    for _ in range(200):
        fields: dict[str, int] = {}
        for name in row.fields:
            spec = TABLES.fields[name]
            tgt = targets[name][0] if targets[name] else name
            kind = kinds.get(tgt)
            if spec.kind in ("reg", "creg"):
                if size is not None and tgt == "rs1":
                    pool = [r for r in POINTERS if spec.kind == "reg" or 8 <= r <= 15]
                elif kind in ("s", "d", "h", "raw"):
                    pool = list(fregs)
                elif kind == "imm":
                    pool = list(range(32))
                else:
                    pool = list(xregs)
                if spec.kind == "creg":
                    pool = [r for r in pool if 8 <= r <= 15] or list(range(10, 16))
                fields[name] = rng.choice(pool)
            elif name == "rm":
                fields[name] = rm if rm is not None else rng.choice([0, 1, 2, 3, 4, 7])
            elif name == "shamt6":
                fields[name] = rng.choice(SHAMT6_POOL) if rng.random() < 0.6 else rng.randrange(64)
            elif name == "shamt5":
                fields[name] = rng.choice(SHAMT5_POOL) if rng.random() < 0.6 else rng.randrange(32)
            elif size is not None and offsets and tgt in ("imm12", "simm12") and spec.value_bits >= 12:
                fields[name] = rng.randrange(-0x100, 0x100) & ~(min(size, 8) - 1)
            else:  # an immediate: random bits where the field has them (lui's low 12 are zero)
                bits, low = spec.value_bits, min(dst for _, _, dst in spec.pieces)
                value = rng.getrandbits(bits - low) << low
                if spec.kind == "simm" and value >> (bits - 1):
                    value -= 1 << bits
                fields[name] = value
        if base == "amocas.q" and not _pairs_ok(fields, xregs):
            continue
        try:
            word, values = encode_fields(row, fields)
        except ValueError:
            continue
        if shadowed(row, word):
            continue
        return Instr(row_name, values, word)
    raise AssertionError(f"cannot encode a random {row_name}")


def _pairs_ok(fields: dict[str, int], xregs: Sequence[int]) -> bool:
    """amocas.q reads rd/rd+1 and rs2/rs2+1 and writes rd/rd+1: even numbers, and a written pair
    entirely in `xregs` (or x0, which is neither read nor written)."""
    rd, rs2 = fields["rd"], fields["rs2"]
    return rd % 2 == 0 and rs2 % 2 == 0 and (rd == 0 or {rd, rd + 1} <= set(xregs))


def pointer_value(rng, size: int) -> int:
    """A pointer into the data buffer, `size`-aligned (cbo: any byte), with room around it."""
    offset = rng.randrange(0x180, DATA_SIZE - 0x180)
    if size == 64:
        return DATA_BASE + offset
    return DATA_BASE + (offset & ~(min(size, 16) - 1))


def random_state(rng, case: Case, values: Values) -> None:
    """Random registers (integer edge values, FP edge values of each format) and data."""
    case.x = [0] + [values.x() for _ in range(31)]
    case.f = [values.fp(rng.choice("sdhs")) for _ in range(32)]
    case.fcsr = rng.randrange(5) << 5 | (rng.randrange(32) if rng.random() < 0.4 else 0)
    case.data = rng.randbytes(DATA_SIZE)
    for reg in POINTERS:
        case.x[reg] = pointer_value(rng, 16)


def fill_operands(rng, case: Case, instr: Instr, values: Values) -> None:
    """Give the registers `instr` reads values of the right kind (a pointer for an access base)."""
    base = instr.base
    size = access_size(base)
    for name, kind in operand_kinds_ext(base).items():
        reg = instr.operand(name)
        if name == "rd" or reg is None or kind == "imm":
            continue
        if kind == "x":
            if size is not None and name == "rs1":
                case.x[reg] = pointer_value(rng, size)
            elif reg not in POINTERS and reg:
                case.x[reg] = values.x()
        else:
            case.f[reg] = values.fp(kind)


def row_cases(row_name: str, count: int = 16, seed: int | None = None) -> list[Case]:
    """`count` cases of one instruction of `row_name` with random operands and edge values; rows
    with a rounding-mode field get every static mode, the dynamic one with each frm, and the
    reserved modes (5, 6; dynamic with frm 5-7), which are illegal instructions."""
    import random
    import zlib

    rng = random.Random(zlib.crc32(row_name.encode()) if seed is None else seed)
    values = Values(rng)
    row = ROWS[row_name]
    xregs = [r for r in range(32) if r not in (2, *POINTERS)]
    if "rm" in row.fields:
        configs = [(rm, None) for rm in range(5)] * 2 + [(7, frm) for frm in range(5)] * 2
        configs += [(5, 0), (6, 0), (7, 5), (7, 6), (7, 7)]
        configs = configs * max(1, count // 20)
    else:
        configs = [(None, None)] * count
    cases = []
    for n, (rm, frm) in enumerate(configs):
        instr = random_instr(row_name, rng, xregs=xregs, fregs=range(32), rm=rm)
        case = Case([instr], label=f"{row_name} #{n}")
        random_state(rng, case, values)
        fill_operands(rng, case, instr, values)
        if frm is not None:
            case.fcsr = frm << 5 | (case.fcsr & 0x1F)
        cases.append(case)
    return cases
