"""The RVA22/RVA23 extensions (every table row outside RV64GC) on dbt against QEMU 10.

QEMU 10's qemu-riscv64 (fetched by tests/tools/fetch-qemu-ref; the `qemu_ref` fixture) is the
outside reference: the same stream of machine-code cases runs through the guest
tests/guests/isarunner.c under `qemu-riscv64 -cpu ...` and under `dbt run --cpu ...` (interpreter
only, and with every block compiled at its first execution), and the final registers, fcsr, data
buffer and any fault (signal, si_code, si_addr, pc and the signal frame's registers) must be equal.
See tests/isaref.py for the runner protocol and the case generators.

* table-driven: every new row with random operands and edge values, every rounding mode;
* the spec's named edge cases, also against values written here;
* model gating: each new instruction is an illegal instruction exactly where QEMU's matching
  `-cpu` says so, for rv64gc, rva22u64 and rva23u64-novector;
* hypothesis: random straight-line sequences, interpreter vs JIT vs QEMU;
* riscv_hwprobe and AT_HWCAP (tests/guests/hwprobe.c) against QEMU and Linux's documented keys.

Known, intended differences, each encoded where it applies:

* cbo.clean and cbo.flush: QEMU's user mode raises SIGILL (it models a hart whose supervisor left
  them disabled); Linux enables them for user mode (envcfg CBCFE), so dbt runs them as the no-ops
  they are to user code, faulting only on an inaccessible block. cbo.inval stays illegal in both.
* riscv_hwprobe keys QEMU 10 does not answer (7, 9, 12) and IMA_EXT_0 bits above 35: checked
  against Linux's documentation instead.
"""

from __future__ import annotations

import importlib.util
import random
import struct
import subprocess

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from isa_harness import ROWS, Instr, encode
from isaref import (
    CODE_BASE,
    DATA_BASE,
    DATA_SIZE,
    HOLE_BASE,
    POINTERS,
    RO_BASE,
    SIGILL,
    SIGSEGV,
    Case,
    Result,
    Values,
    compare_streams,
    dbt_run,
    fill_operands,
    new_rows,
    qemu_run,
    random_instr,
    random_state,
    result_differences,
    row_cases,
)

from dbt.frontends.riscv64.cpu import parse_cpu

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("ziglang") is None, reason="the runner guest is built with ziglang"
)

NEW_ROWS = new_rows()
#: Rows whose user-mode behaviour deliberately differs from QEMU's (see the module docstring).
CBO_LINUX_ROWS = ("cbo.clean", "cbo.flush")
SEGV_MAPERR, SEGV_ACCERR, ILL_ILLOPC = 1, 2, 1
#: The JIT leaks its MCJIT engines' mappings (see test_jit_many_invalidated_regions): at most this
#: many cases per JIT runner process keep the other tests clear of that bug.
JIT_CHUNK = 150

#: QEMU -cpu for each dbt model. QEMU's plain rv64 turns on Zba/Zbb/Zbc/Zbs, Zicbom/Zicboz/Zicbop,
#: Zihintntl, Zfa, Zawrs... by default: everything beyond RV64GC is switched off by name.
QEMU_RV64GC = "rv64," + ",".join(
    f"{ext}=false"
    for ext in (
        "zba",
        "zbb",
        "zbc",
        "zbs",
        "zbkb",
        "zbkc",
        "zbkx",
        "zicond",
        "zicbom",
        "zicboz",
        "zicbop",
        "zihintntl",
        "zihintpause",
        "zfa",
        "zfh",
        "zfhmin",
        "zawrs",
        "zimop",
        "zcmop",
        "zcb",
        "zacas",
        "zabha",
        "zkt",
        "v",
    )
)
QEMU_CPU = {"rv64gc": QEMU_RV64GC, "rva22u64": "rva22u64", "rva23u64-novector": "rva23u64", "max": "max"}


def chunks(items, size):
    return [items[i : i + size] for i in range(0, len(items), size)]


def run_dbt(model: str, tier: str, cases: list[Case]) -> list[Result]:
    size = JIT_CHUNK if tier == "jit" else len(cases) or 1
    return [r for part in chunks(cases, size) for r in dbt_run(model, tier, part)]


def qemu_equivalent(case: Case) -> Case:
    """The case QEMU runs for `case`: each cbo.clean/cbo.flush (whose address is always in the
    read-write data buffer here) becomes the no-op it is under Linux (addi x0, x0, 0, same size)."""
    if not any(i.row in CBO_LINUX_ROWS for i in case.body):
        return case
    body = [encode("addi", rd=0, rs1=0, imm12=0) if i.row in CBO_LINUX_ROWS else i for i in case.body]
    return Case(body, case.x, case.f, case.fcsr, case.data, case.label)


def assert_same(cases, got, want, got_name, want_name="qemu"):
    reports = compare_streams(cases, got, want, got_name, want_name)
    assert not reports, f"{len(reports)} differing case(s):\n\n" + "\n\n".join(reports)


# ----------------------------------------------------------------------------------------------------
# Table-driven
# ----------------------------------------------------------------------------------------------------


def table_cases() -> list[Case]:
    return [case for row in NEW_ROWS for case in row_cases(row, 16)]


@pytest.fixture(scope="module")
def table(qemu_ref):
    cases = table_cases()
    want = qemu_run(qemu_ref, QEMU_CPU["max"], [qemu_equivalent(c) for c in cases])
    return cases, want


def test_every_new_row_is_covered():
    """Every row outside RV64GC gets table cases (16, or 20 per rounding-mode config group)."""
    counts = {}
    for case in table_cases():
        counts[case.body[0].row] = counts.get(case.body[0].row, 0) + 1
    assert set(counts) == set(NEW_ROWS)
    assert min(counts.values()) >= 16
    # the FP rows with a rounding mode: every static mode, dynamic with each frm, and the reserved ones
    for row in NEW_ROWS:
        if "rm" in ROWS[row].fields:
            configs = {(c.body[0].field("rm"), c.fcsr >> 5) for c in row_cases(row, 16)}
            assert {rm for rm, _ in configs} == {0, 1, 2, 3, 4, 5, 6, 7}, row
            assert {frm for rm, frm in configs if rm == 7} == {0, 1, 2, 3, 4, 5, 6, 7}, row


def test_table_interpreter(table):
    cases, want = table
    got = run_dbt("max", "interp", cases)
    assert_same(cases, got, want, "dbt --no-jit")


def test_table_jit_sample(table):
    """Every 8th table case with every block compiled (the full set is test_table_jit_full)."""
    cases, want = table
    got = run_dbt("max", "jit", cases[::8])
    assert_same(cases[::8], got, want[::8], "dbt jit")


@pytest.mark.slow
def test_table_jit_full(table):
    cases, want = table
    got = run_dbt("max", "jit", cases)
    assert_same(cases, got, want, "dbt jit")


@pytest.mark.slow
def test_jit_many_invalidated_regions(qemu_ref):
    """One runner process through 700 cases with every block compiled: each case's code is mapped,
    run and unmapped, so its regions are dropped. dbt must keep going (it used to abort with
    "LLVM ERROR: Unable to allocate section memory!" near 400 cases, the process at
    vm.max_map_count, because the MCJIT engines of dropped regions are never freed)."""
    cases = table_cases()[:700]
    want = qemu_run(qemu_ref, "max", [qemu_equivalent(c) for c in cases])
    got = dbt_run("max", "jit", cases)
    assert_same(cases, got, want, "dbt jit")


# ----------------------------------------------------------------------------------------------------
# The spec's named edge cases
# ----------------------------------------------------------------------------------------------------

M64 = (1 << 64) - 1
A0, A1, A2, A3 = 10, 11, 12, 13


def edge(body: list[Instr], regs: dict[int, int], label: str, data: bytes | None = None) -> Case:
    x = [0] * 32
    x[8], x[9] = DATA_BASE + 0x400, DATA_BASE + 0x800
    for reg, value in regs.items():
        x[reg] = value & M64
    pattern = data if data is not None else bytes((i * 7 + 3) & 0xFF for i in range(DATA_SIZE))
    return Case(body, x, [0] * 32, 0, pattern, label)


def r(row: str, rd: int = A0, rs1: int = A1, rs2: int | None = None, **fields: int) -> Instr:
    if rs2 is not None:
        fields["rs2"] = rs2
    return encode(row, rd=rd, rs1=rs1, **fields)


#: (case, expected a0, or None when only qemu is the reference). Values from the ratified specs.
EDGE_CASES: list[tuple[Case, int | None]] = [
    (edge([r("clz")], {A1: 0}, "clz 0"), 64),
    (edge([r("ctz")], {A1: 0}, "ctz 0"), 64),
    (edge([r("cpop")], {A1: 0}, "cpop 0"), 0),
    (edge([r("clzw")], {A1: 0xFFFF_FFFF_0000_0000}, "clzw of a zero low word"), 32),
    (edge([r("ctzw")], {A1: 0xFFFF_FFFF_0000_0000}, "ctzw of a zero low word"), 32),
    (edge([r("cpopw")], {A1: 0xFFFF_FFFF_0000_0000}, "cpopw ignores the high word"), 0),
    (edge([r("clz")], {A1: -1}, "clz -1"), 0),
    (edge([r("cpop")], {A1: -1}, "cpop -1"), 64),
    (edge([r("rori", shamt6=0)], {A1: 0x8000_0000_0000_0001}, "rori 0"), 0x8000_0000_0000_0001),
    (edge([r("rori", shamt6=63)], {A1: 0x8000_0000_0000_0001}, "rori 63"), 0x0000_0000_0000_0003),
    (edge([r("roriw", shamt5=0)], {A1: 0x1_8000_0001}, "roriw 0 sign-extends"), 0xFFFF_FFFF_8000_0001),
    (edge([r("roriw", shamt5=31)], {A1: 0x8000_0001}, "roriw 31"), 0x3),
    (
        edge([r("ror", rs2=A2)], {A1: 0x8000_0000_0000_0001, A2: 64}, "ror by 64 is by 0"),
        0x8000_0000_0000_0001,
    ),
    (edge([r("rol", rs2=A2)], {A1: 0x8000_0000_0000_0001, A2: 63}, "rol 63"), 0xC000_0000_0000_0000),
    (edge([r("rolw", rs2=A2)], {A1: 0x4000_0001, A2: 32}, "rolw by 32 is by 0"), 0x4000_0001),
    (edge([r("rolw", rs2=A2)], {A1: 0x4000_0001, A2: 31}, "rolw 31"), 0xFFFF_FFFF_A000_0000),
    (edge([r("rorw", rs2=A2)], {A1: 0x1, A2: 31}, "rorw 31"), 0x2),
    (edge([r("min", rs2=A2)], {A1: -1, A2: 1}, "min -1 1"), M64),
    (edge([r("max", rs2=A2)], {A1: -1, A2: 1}, "max -1 1"), 1),
    (edge([r("minu", rs2=A2)], {A1: -1, A2: 1}, "minu -1 1"), 1),
    (edge([r("maxu", rs2=A2)], {A1: -1, A2: 1}, "maxu -1 1"), M64),
    (edge([r("min", rs2=A2)], {A1: 1 << 63, A2: (1 << 63) - 1}, "min INT64_MIN INT64_MAX"), 1 << 63),
    (edge([r("czero.eqz", rs2=0)], {A1: 0x1234}, "czero.eqz rs2=x0"), 0),
    (edge([r("czero.nez", rs2=0)], {A1: 0x1234}, "czero.nez rs2=x0"), 0x1234),
    (edge([r("czero.eqz", rs2=A2)], {A1: 0x1234, A2: 0}, "czero.eqz rs2=0"), 0),
    (edge([r("czero.nez", rs2=A2)], {A1: 0x1234, A2: 0}, "czero.nez rs2=0"), 0x1234),
    (edge([r("czero.eqz", rs2=A2)], {A1: 0x1234, A2: 1 << 63}, "czero.eqz rs2=INT64_MIN"), 0x1234),
    (edge([r("czero.nez", rs2=A2)], {A1: 0x1234, A2: 1 << 63}, "czero.nez rs2=INT64_MIN"), 0),
    (edge([r("orc.b")], {A1: 0x0001_0080_0000_FF00}, "orc.b"), 0x00FF_00FF_0000_FF00),
    (edge([r("rev8")], {A1: 0x0102_0304_0506_0708}, "rev8"), 0x0807_0605_0403_0201),
    (edge([r("sext.b")], {A1: 0x80}, "sext.b"), 0xFFFF_FFFF_FFFF_FF80),
    (edge([r("zext.h")], {A1: -1}, "zext.h"), 0xFFFF),
    (edge([r("add.uw", rs2=0)], {A1: -1}, "add.uw rs2=x0 (zext.w)"), 0xFFFF_FFFF),
    (edge([r("slli.uw", shamt6=63)], {A1: 0x1_0000_0001}, "slli.uw 63"), 1 << 63),
    (edge([r("bexti", shamt6=63)], {A1: 1 << 63}, "bexti 63"), 1),
    (edge([r("bset", rs2=A2)], {A1: 0, A2: 64 + 5}, "bset index mod 64"), 1 << 5),
    (edge([r("clmul", rs2=A2)], {A1: -1, A2: -1}, "clmul -1 -1"), 0x5555_5555_5555_5555),
    (edge([r("clmulh", rs2=A2)], {A1: -1, A2: -1}, "clmulh -1 -1"), 0x5555_5555_5555_5555),
    (edge([r("clmulr", rs2=A2)], {A1: -1, A2: -1}, "clmulr -1 -1"), 0xAAAA_AAAA_AAAA_AAAA),
    (edge([r("brev8")], {A1: 0x0102_0304_0506_0780}, "brev8"), 0x8040_C020_A060_E001),
    (edge([r("packw", rs2=A2)], {A1: 0x8000, A2: 0x8000_1234}, "packw sign-extends"), 0x1234_8000),
    (edge([r("mop.r.n", mop_r_n=31)], {A1: 7}, "mop.r.31 writes 0"), 0),
    (edge([r("mop.rr.n", rs2=A2, mop_rr_n=7)], {A1: 7, A2: 9}, "mop.rr.7 writes 0"), 0),
    # Zcb: compressed forms (s0 = DATA_BASE + 0x400; the data bytes are (7i + 3) & 0xff)
    (edge([encode("c.lbu", c_rdp=10, c_rs1p=8, c_uimm2=3)], {}, "c.lbu"), (0x403 * 7 + 3) & 0xFF),
    (
        edge([encode("c.lhu", c_rdp=10, c_rs1p=8, c_uimm1h=2)], {}, "c.lhu"),
        ((0x403 * 7 + 3) & 0xFF) << 8 | ((0x402 * 7 + 3) & 0xFF),
    ),
    (
        edge([encode("c.lh", c_rdp=10, c_rs1p=8, c_uimm1h=0)], {}, "c.lh", bytes([0x34, 0x92]) * 2048),
        0xFFFF_FFFF_FFFF_9234,
    ),
    (
        edge(
            [encode("c.sb", c_rs2p=10, c_rs1p=8, c_uimm2=1), encode("c.lbu", c_rdp=10, c_rs1p=8, c_uimm2=1)],
            {A0: 0x1FF},
            "c.sb then c.lbu",
        ),
        0xFF,
    ),
    (
        edge(
            [encode("c.sh", c_rs2p=10, c_rs1p=8, c_uimm1h=2), encode("c.lh", c_rdp=10, c_rs1p=8, c_uimm1h=2)],
            {A0: 0x1_8001},
            "c.sh then c.lh",
        ),
        0xFFFF_FFFF_FFFF_8001,
    ),
    (edge([encode("c.zext.b", c_rs1p=10)], {A0: -1}, "c.zext.b"), 0xFF),
    (edge([encode("c.sext.b", c_rs1p=10)], {A0: 0x7F80}, "c.sext.b"), 0xFFFF_FFFF_FFFF_FF80),
    (edge([encode("c.zext.h", c_rs1p=10)], {A0: -1}, "c.zext.h"), 0xFFFF),
    (edge([encode("c.sext.h", c_rs1p=10)], {A0: 0x8000}, "c.sext.h"), 0xFFFF_FFFF_FFFF_8000),
    (edge([encode("c.zext.w", c_rs1p=10)], {A0: -1}, "c.zext.w"), 0xFFFF_FFFF),
    (edge([encode("c.not", c_rs1p=10)], {A0: 0x0F}, "c.not"), M64 ^ 0x0F),
    (edge([encode("c.mul", c_rs1p=10, c_rs2p=11)], {A0: -3, A1: 7}, "c.mul"), (-21) & M64),
    (edge([encode("c.mop.n", c_mop_n=14)], {A0: 5}, "c.mop.15 does nothing"), 5),
]


@pytest.fixture(scope="module")
def edge_reference(qemu_ref):
    cases = [case for case, _ in EDGE_CASES]
    return cases, qemu_run(qemu_ref, "max", cases)


@pytest.mark.parametrize("tier", ["interp", "jit"])
def test_named_edge_cases(edge_reference, tier):
    cases, want = edge_reference
    problems = []
    for (case, value), ref in zip(EDGE_CASES, want, strict=True):
        if value is not None and (ref.signo or ref.x[A0] != value):
            problems.append(f"{case.label}: the spec says a0={value:#x}, qemu {ref.stop()} a0={ref.x[A0]:#x}")
    assert not problems, "the reference departs from the spec's value:\n" + "\n".join(problems)
    assert_same(cases, run_dbt("max", tier, cases), want, f"dbt {tier}")


def cbo_case(row: str, address: int, label: str) -> Case:
    return edge([encode(row, rs1=A1)], {A1: address}, label)


@pytest.mark.parametrize("tier", ["interp", "jit"])
def test_cbo_zero(qemu_ref, tier):
    """cbo.zero zeroes exactly the 64-byte block holding the address (any byte of it), and faults
    without writing anything on a read-only page (SEGV_ACCERR) and an unmapped one (SEGV_MAPERR)."""
    cases = [
        cbo_case("cbo.zero", DATA_BASE + 0x240, "aligned"),
        cbo_case("cbo.zero", DATA_BASE + 0x67F, "last byte of a block"),
        cbo_case("cbo.zero", DATA_BASE + DATA_SIZE - 1, "last block of the buffer"),
        cbo_case("cbo.zero", RO_BASE + 0x85, "read-only page"),
        cbo_case("cbo.zero", HOLE_BASE + 0x13, "unmapped page"),
    ]
    want = qemu_run(qemu_ref, "max", cases)
    got = run_dbt("max", tier, cases)
    assert_same(cases, got, want, f"dbt {tier}")
    for case, res in zip(cases, want, strict=True):
        address = case.x[A1]
        block = address & ~63
        if DATA_BASE <= address < DATA_BASE + DATA_SIZE:
            assert res.signo == 0, case.label
            offset = block - DATA_BASE
            expected = case.data[:offset] + bytes(64) + case.data[offset + 64 :]
            assert res.data == expected, f"{case.label}: not exactly the 64-byte block zeroed"
        else:
            code = SEGV_ACCERR if address < HOLE_BASE else SEGV_MAPERR
            assert (res.signo, res.code, res.pc) == (SIGSEGV, code, case_pc(case)), case.label
            assert block <= res.addr < block + 64, case.label
            assert res.data == case.data, f"{case.label}: a faulting cbo.zero wrote memory"


def case_pc(case: Case, index: int = 0) -> int:
    from isaref import BODY_BASE

    return BODY_BASE + sum(i.size for i in case.body[:index])


@pytest.mark.parametrize("tier", ["interp", "jit"])
def test_cbo_management_follows_linux(qemu_ref, tier):
    """The intended difference from QEMU (see the module docstring): QEMU's user mode raises
    SIGILL for cbo.clean and cbo.flush; Linux lets user code run them (the kernel sets the envcfg
    CBCFE bit), so on dbt they leave every register and byte alone on an accessible block (a
    read-only page too: the CMO spec lets them access what a load may) and fault only on an
    unmapped one. cbo.inval is illegal in user mode on both (Linux leaves CBIE off)."""
    cases, kinds = [], []
    for row in CBO_LINUX_ROWS:
        for address, kind in ((DATA_BASE + 0x123, "rw"), (RO_BASE + 0x40, "ro"), (HOLE_BASE + 0x8, "hole")):
            cases.append(cbo_case(row, address, f"{row} on a {kind} block"))
            kinds.append(kind)
    inval = [cbo_case("cbo.inval", DATA_BASE + 0x40, "cbo.inval")]
    want = qemu_run(qemu_ref, "max", cases + inval)
    for case, res in zip(cases, want[: len(cases)], strict=True):
        # If this fails, QEMU has started to allow them: compare with it directly instead.
        assert (res.signo, res.code, res.pc) == (SIGILL, ILL_ILLOPC, case_pc(case)), case.label
    got = run_dbt("max", tier, cases + inval)
    assert_same(inval, got[-1:], want[-1:], f"dbt {tier}")
    for case, kind, res in zip(cases, kinds, got[: len(cases)], strict=True):
        if kind == "hole":
            assert (res.signo, res.code, res.pc) == (SIGSEGV, SEGV_MAPERR, case_pc(case)), case.label
            assert HOLE_BASE <= res.addr < HOLE_BASE + 64, f"{case.label}: si_addr {res.addr:#x}"
        else:
            assert res.signo == 0, f"{case.label}: {res.stop()}"
            x = list(case.x)
            x[2] = res.x[2]
            assert list(res.x) == x and res.data == case.data and res.fcsr == case.fcsr, case.label


# ----------------------------------------------------------------------------------------------------
# Model gating
# ----------------------------------------------------------------------------------------------------


def gating_cases() -> list[Case]:
    """One ordinary (legal-when-present) case per new row: static round-to-nearest, frm 0."""
    cases = []
    for row in NEW_ROWS:
        rng = random.Random(row)
        values = Values(rng)
        instr = random_instr(row, rng, xregs=[10, 11, 12, 13], fregs=range(8), rm=0)
        case = Case([instr], label=row)
        random_state(rng, case, values)
        fill_operands(rng, case, instr, values)
        case.fcsr &= 0x1F
        cases.append(case)
    return cases


@pytest.mark.parametrize("model", ["rv64gc", "rva22u64", "rva23u64-novector"])
def test_model_gating(qemu_ref, model):
    """Each new row is an illegal instruction on dbt --cpu MODEL exactly where it is on QEMU with
    the matching -cpu (cbo.clean/cbo.flush: where the model lacks Zicbom, see the docstring)."""
    cases = gating_cases()
    want = qemu_run(qemu_ref, QEMU_CPU[model], [qemu_equivalent(c) for c in cases])
    got = run_dbt(model, "interp", cases)
    cpu = parse_cpu(model)
    problems = []
    for case, g, w in zip(cases, got, want, strict=True):
        row = case.body[0].row
        dbt_ill, qemu_ill = g.signo == SIGILL, w.signo == SIGILL
        if row in CBO_LINUX_ROWS:
            # qemu_equivalent ran a nop on QEMU; the extension decides.
            qemu_ill = "zicbom" not in cpu.extensions
        if dbt_ill != qemu_ill:
            problems.append(f"{row}: dbt {'SIGILL' if dbt_ill else 'runs it'}, qemu {w.stop()}")
        elif not dbt_ill and (diff := result_differences(g, w)):
            problems.append(f"{case.describe()}\n  " + "\n  ".join(diff))
    assert not problems, f"--cpu {model} vs qemu -cpu {QEMU_CPU[model]}:\n" + "\n".join(problems)


def test_rv64gc_has_none_of_them():
    """The reference configuration really is RV64GC: checked on dbt's own side of the table."""
    cpu = parse_cpu("rv64gc")
    assert not [row for row in NEW_ROWS if cpu.allows(ROWS[row])]


# ----------------------------------------------------------------------------------------------------
# Hypothesis: random straight-line sequences, interpreter vs JIT vs QEMU
# ----------------------------------------------------------------------------------------------------

#: Base rows mixed in (values flow through them into and out of the new instructions).
BASE_MIX = [
    "add",
    "addi",
    "sub",
    "xor",
    "slli",
    "srai",
    "addw",
    "mul",
    "mulhu",
    "lui",
    "sltu",
    "ld",
    "sd",
    "lbu",
    "sb",
    "fadd.s",
    "fmul.d",
    "fcvt.d.s",
    "fsgnjn.s",
    "fmv.x.d",
    "fmv.w.x",
]
#: New rows in sequences: all but the always-illegal cbo.inval (it would end every sequence).
SEQ_ROWS = [row for row in NEW_ROWS if row != "cbo.inval"] + BASE_MIX
SEQ_XREGS = [0, 1, 3, 4, 5, 6, 7, 10, 11, 12, 13, 14, 15, 28, 31]
SEQUENCES_PER_EXAMPLE = 24


def sequence_case(rows: list[str], seed: int, label: str) -> Case:
    rng = random.Random(seed)
    values = Values(rng)
    body = [
        random_instr(row, rng, xregs=SEQ_XREGS, fregs=range(6), rm=rng.choice([0, 1, 2, 3, 4, 7]))
        for row in rows
    ]
    case = Case(body, label=label)
    random_state(rng, case, values)
    for instr in body:
        fill_operands(rng, case, instr, values)
    for reg in POINTERS:  # bases of every access (never written by the sequences)
        case.x[reg] = DATA_BASE + 0x400 + 0x400 * (reg - 8)
    return case


sequences = st.lists(
    st.tuples(st.lists(st.sampled_from(SEQ_ROWS), min_size=5, max_size=30), st.integers(0, 2**32 - 1)),
    min_size=SEQUENCES_PER_EXAMPLE,
    max_size=SEQUENCES_PER_EXAMPLE,
)


@settings(
    max_examples=5,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],  # a failure names its sequence; shrinking costs minutes
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)
@given(batch=sequences)
def test_random_sequences(qemu_ref, batch):
    cases = [sequence_case(rows, seed, f"sequence {n} (seed {seed})") for n, (rows, seed) in enumerate(batch)]
    want = qemu_run(qemu_ref, "max", [qemu_equivalent(c) for c in cases])
    interp = run_dbt("max", "interp", cases)
    jit = run_dbt("max", "jit", cases)
    assert_same(cases, jit, interp, "dbt jit", "dbt --no-jit")
    assert_same(cases, interp, want, "dbt --no-jit")


# ----------------------------------------------------------------------------------------------------
# riscv_hwprobe and AT_HWCAP
# ----------------------------------------------------------------------------------------------------

#: IMA_EXT_0 bits of extensions dbt does not implement (V and the vector crypto/FP ones, the
#: scalar crypto Zkn*/Zks*, Ztso), from Linux's Documentation/arch/riscv/hwprobe.rst.
HWPROBE_VECTOR_BITS = [2, *range(17, 27), 30, 31]  # IMA_V, Zvbb..Zvkt, Zvfh, Zvfhmin
HWPROBE_NOT_IN_DBT = [*HWPROBE_VECTOR_BITS, 11, 12, 13, 14, 15, 33]  # Zknd Zkne Zknh Zksed Zksh, Ztso
HWCAP_V = 1 << (ord("v") - ord("a"))
#: IMA_EXT_0 bits above 35 (QEMU 10 answers bits 0-35 only), as Linux's
#: Documentation/arch/riscv/hwprobe.rst (and uapi asm/hwprobe.h) number them.
LINUX_HIGH_BITS = {
    "zihintpause": 36,
    "zimop": 42,
    "zca": 43,
    "zcb": 44,
    "zcd": 45,
    "zcmop": 47,
    "zawrs": 48,
    "zicntr": 50,
    "zicbom": 55,
    "zaamo": 56,
    "zalrsc": 57,
    "zabha": 58,
}
#: What each model has of those, from the profiles (RVA22U64, RVA23U64; RV64GC = Zca + Zcd +
#: Zicntr + A = Zaamo + Zalrsc), written here rather than read from dbt.
MODEL_HIGH_EXTS = {
    "rv64gc": {"zca", "zcd", "zicntr", "zaamo", "zalrsc"},
    "rva22u64": {"zca", "zcd", "zicntr", "zaamo", "zalrsc", "zihintpause", "zicbom"},
    "rva23u64-novector": {
        "zca",
        "zcd",
        "zicntr",
        "zaamo",
        "zalrsc",
        "zihintpause",
        "zicbom",
        "zimop",
        "zcb",
        "zcmop",
        "zawrs",
    },
    "max": set(LINUX_HIGH_BITS),
}
PAGE_SIZE = 4096


def parse_hwprobe(text: str) -> tuple[dict[int, int | None], int]:
    keys: dict[int, int | None] = {}
    hwcap = -1
    for line in text.splitlines():
        parts = line.split()
        if line.startswith("key ") and parts[2] == "unknown":
            keys[int(parts[1])] = None
        elif line.startswith("key "):
            keys[int(parts[1])] = int(parts[3], 16)
        elif line.startswith("AT_HWCAP"):
            hwcap = int(parts[2], 16)
    return keys, hwcap


def hwprobe_output(cmd: list[str]) -> str:
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert p.returncode == 0, f"{' '.join(cmd)}: {p.returncode}\n{p.stderr}"
    return p.stdout


@pytest.mark.parametrize("model", ["rv64gc", "rva22u64", "rva23u64-novector", "max"])
def test_hwprobe(qemu_ref, model):
    from dbtrun import dbt_command
    from guestbuild import build_guest

    guest = str(build_guest("hwprobe", "zig-musl-static", ("-Wall", "-Wextra", "-Werror")))
    qemu_keys, qemu_hwcap = parse_hwprobe(hwprobe_output([qemu_ref, "-cpu", QEMU_CPU[model], guest]))
    dbt_keys, dbt_hwcap = parse_hwprobe(hwprobe_output(dbt_command("run", "--cpu", model, guest)))
    # QEMU's extensions that dbt does not have: V on rva23u64 and max, and more on max.
    masked = HWPROBE_VECTOR_BITS if model != "max" else HWPROBE_NOT_IN_DBT
    ext0 = qemu_keys[4]
    for bit in masked:
        ext0 &= ~(1 << bit)
    qemu_keys[4] = ext0
    qemu_hwcap &= ~HWCAP_V
    high = sum(1 << LINUX_HIGH_BITS[ext] for ext in MODEL_HIGH_EXTS[model])
    assert dbt_hwcap == qemu_hwcap
    # Keys 0-6: QEMU's answers, IMA_EXT_0's bits 0-35 included; bits 36 and up: Linux's list.
    for key in range(7):
        want = qemu_keys[key]
        if key == 4:
            want = (want & ((1 << 36) - 1)) | high
        assert dbt_keys[key] == want, f"key {key}: dbt {dbt_keys[key]} != {want}"
    # Keys QEMU 10 does not answer, as Linux documents them: 7 the highest user virtual address
    # (dbt's guest address space is Sv39's 2^38 bytes of user space), 9 misaligned scalar access
    # performance (3 = FAST), 12 the Zicbom block size (0 when Zicbom is absent, like key 6).
    assert dbt_keys[7] is not None and dbt_keys[7] + 1 >= 1 << 32 and (dbt_keys[7] + 1) % PAGE_SIZE == 0
    assert dbt_keys[9] == 3
    assert dbt_keys[12] == (64 if "zicbom" in MODEL_HIGH_EXTS[model] else 0)
    for key in (8, 10, 11, 13, 14, 15):
        assert dbt_keys[key] is None, f"key {key} should be unknown (-1)"


def test_runner_layout_matches_the_c_source():
    """isaref's layout constants are the runner's (#define lines of tests/guests/isarunner.c)."""
    import isaref
    from guestbuild import GUEST_DIR

    source = (GUEST_DIR / "isarunner.c").read_text()
    for name, value in (("DATA_BASE", DATA_BASE), ("DATA_SIZE", DATA_SIZE), ("CODE_BASE", CODE_BASE)):
        assert f"#define {name} {value:#x}ul" in source, name
    assert "#define STATE_MAP 0x21000000ul" in source and isaref.STATE_ADDR == 0x2100_8000
    assert struct.calcsize("<65Q") == isaref.SAVE_X
