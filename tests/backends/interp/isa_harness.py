"""Differential harness: RV64GC snippets on dbt's interpreter and on Unicorn, the outside reference.

A program is a list of `Instr` (encoded from the RV64GC tables). Both sides start from the same
`State` (registers, fcsr, data memory), run the program up to an ebreak appended after it, and
the final states are compared register by register and byte by byte.

Unicorn 2.1 is QEMU 5.0's RISC-V target, which predates a few ratified rules. Unicorn is
therefore single-stepped and, where QEMU 5.0 is known to depart from the spec, the reference is
corrected after (or before) the instruction, so dbt is always compared with the spec:

* NaN boxing (F spec, "NaN Boxing of Narrower Values"): QEMU 5.0 does not box single-precision
  results (the upper 32 bits come back zero) and uses the low 32 bits of an input that is not
  boxed, where the spec reads it as the canonical NaN. The reference substitutes the canonical
  NaN for an unboxed single input and boxes single results.
* fmin/fmax (F 2.2, IEEE 754-2019 minimumNumber): with one signaling NaN operand QEMU 5.0 returns
  the canonical NaN; the spec returns the other operand (and still raises NV).
* fmadd family: for inf * 0 + quiet NaN QEMU 5.0 does not raise NV; the spec requires it.

`UNICORN_DEVIATIONS` counts the corrections applied so a test can pin them down.
"""

from __future__ import annotations

import collections
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field

from unicorn import UC_ARCH_RISCV, UC_ERR_EXCEPTION, UC_MODE_RISCV64, Uc, UcError
from unicorn import riscv_const as ucr

from dbt.api import Machine
from dbt.config import Config
from dbt.frontends.riscv64.disasm import format_insn
from dbt.frontends.riscv64.table import Row, load_tables
from dbt.runtime.process import ExitStatus

MASK64 = (1 << 64) - 1
MASK32 = (1 << 32) - 1
BOX = 0xFFFF_FFFF_0000_0000
CANONICAL_NAN_S = 0x7FC0_0000
INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1

CODE_BASE = 0x10000
CODE_SIZE = 0x1000
DATA_BASE = 0x20000
DATA_SIZE = 0x3000
EBREAK = 0x0010_0073
SIGILL = 4

CSR_FFLAGS, CSR_FRM, CSR_FCSR = 0x001, 0x002, 0x003
FLAG_NV = 0x10

TABLES = load_tables()
ROWS: dict[str, Row] = {row.name: row for row in TABLES.rows}

X_NAMES = [
    "zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1", "a0", "a1", "a2", "a3", "a4", "a5",
    "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4", "t5", "t6",
]  # fmt: skip

UC_X = [getattr(ucr, f"UC_RISCV_REG_X{i}") for i in range(32)]
UC_F = [getattr(ucr, f"UC_RISCV_REG_F{i}") for i in range(32)]

#: Which QEMU 5.0 departures from the spec the reference corrected, and how often.
UNICORN_DEVIATIONS: collections.Counter[str] = collections.Counter()


def signed64(value: int) -> int:
    value &= MASK64
    return value - (1 << 64) if value >> 63 else value


# ----------------------------------------------------------------------------------------------------
# Encoding
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Instr:
    """One encoded instruction: its table row and the values of the row's operand fields."""

    row: str
    fields: tuple[tuple[str, int], ...]
    word: int

    @property
    def size(self) -> int:
        return ROWS[self.row].size

    @property
    def base(self) -> str:
        """The 32-bit instruction a compressed row expands to (the row itself otherwise)."""
        return ROWS[self.row].base or self.row

    def field(self, name: str) -> int:
        return dict(self.fields)[name]

    def operand(self, name: str) -> int | None:
        """Value of a base-instruction operand field (rd, rs1, imm12, ...), also for compressed rows."""
        row = ROWS[self.row]
        values = dict(self.fields)
        if not row.base:
            return values.get(name)
        for target, source in row.assign:
            if target == name:
                return values[source] if isinstance(source, str) else source
        return None

    def encoding(self) -> bytes:
        return self.word.to_bytes(self.size, "little")

    def __str__(self) -> str:
        return format_insn(self.encoding(), 0) + f"  [{self.word:0{self.size * 2}x}]"


def encode_fields(row: Row, fields: dict[str, int]) -> tuple[int, tuple[tuple[str, int], ...]]:
    """The instruction word with the row's operand fields set (creg fields take x8..x15)."""
    word = row.match
    values = []
    unknown = set(fields) - set(row.fields)
    if unknown:
        raise ValueError(f"{row.name} has no fields {sorted(unknown)}")
    for name in row.fields:
        spec = TABLES.fields[name]
        value = fields.get(name, 0)
        raw = value - 8 if spec.kind == "creg" else value
        for hi, lo, dst in spec.pieces:
            word |= ((raw >> dst) & ((1 << (hi - lo + 1)) - 1)) << lo
        if spec.extract(word) != value:
            raise ValueError(f"{row.name}: {name}={value} cannot be encoded")
        values.append((name, value))
    return word, tuple(values)


def encode(row_name: str, **fields: int) -> Instr:
    """Encode an instruction of a table row from its operand fields (missing fields are 0)."""
    row = ROWS[row_name]
    word, values = encode_fields(row, fields)
    if shadowed(row, word):
        raise ValueError(f"{row_name}: {word:#x} decodes as an overlapping row")
    return Instr(row_name, values, word)


def shadowed(row: Row, word: int) -> bool:
    """True if `word` matches a row declared before `row` in one of its %overlap groups
    (e.g. c.mv with rs2 = 0 is c.jr): it is that other instruction."""
    for group in TABLES.overlaps:
        if row.name in group:
            earlier = group[: group.index(row.name)]
            if any(ROWS[name].matches(word) for name in earlier):
                return True
    return False


def assemble(program: Sequence[Instr]) -> bytes:
    return b"".join(instr.encoding() for instr in program)


def listing(program: Sequence[Instr], base: int) -> str:
    lines, pc = [], base
    for instr in program:
        lines.append(f"  {pc:#x}: {instr}")
        pc += instr.size
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------------
# Operand kinds (which register file and format each operand of a base instruction uses)
# ----------------------------------------------------------------------------------------------------


def operand_kinds(base: str) -> dict[str, str]:
    """Kind of each register operand of a base instruction: "x" integer, "s" binary32 (NaN-boxed),
    "d" binary64, "raw" an f register moved bit for bit (fsw, fsd, fmv.x.w, fmv.x.d)."""
    row = ROWS[base]
    regs = [name for name in ("rd", "rs1", "rs2", "rs3") if name in row.fields]
    if row.extension not in ("f", "d"):
        return dict.fromkeys(regs, "x")
    if base in ("flw", "fld"):
        return {"rd": "s" if base == "flw" else "d", "rs1": "x"}
    if base in ("fsw", "fsd"):
        return {"rs1": "x", "rs2": "raw"}
    if base.startswith("fmv.x."):
        return {"rd": "x", "rs1": "raw"}
    if base.startswith("fmv."):
        return {"rd": "s" if base == "fmv.w.x" else "d", "rs1": "x"}
    if base.startswith("fcvt."):
        _, dst, src = base.split(".")
        return {"rd": dst if dst in ("s", "d") else "x", "rs1": src if src in ("s", "d") else "x"}
    fmt = base.rsplit(".", 1)[1]
    kinds = dict.fromkeys(regs, fmt)
    if base.startswith(("feq", "flt", "fle", "fclass")):
        kinds["rd"] = "x"
    return kinds


# ----------------------------------------------------------------------------------------------------
# Machine state
# ----------------------------------------------------------------------------------------------------


@dataclass
class State:
    """Registers (unsigned 64-bit values), frm/fflags and the data memory."""

    x: list[int] = field(default_factory=lambda: [0] * 32)
    f: list[int] = field(default_factory=lambda: [0] * 32)
    frm: int = 0
    fflags: int = 0
    mem: bytes = bytes(DATA_SIZE)

    def copy(self) -> State:
        return State(list(self.x), list(self.f), self.frm, self.fflags, self.mem)

    @property
    def fcsr(self) -> int:
        return self.frm << 5 | self.fflags


@dataclass
class Outcome:
    """Where a run stopped: at the end of the program, or at an illegal instruction (`trap_pc`)."""

    state: State
    trap_pc: int | None = None


def setup_prefix(state: State) -> list[Instr]:
    """Instructions that set frm and fflags (run on both sides, so fcsr needs no private API)."""
    return [
        encode("csrrwi", rd=0, csr=CSR_FRM, zimm=state.frm),
        encode("csrrwi", rd=0, csr=CSR_FFLAGS, zimm=state.fflags),
    ]


PREFIX_SIZE = 8
#: Address of the first instruction of a program (after the frm/fflags prefix).
BODY_BASE = CODE_BASE + PREFIX_SIZE


def dbt_machine(code: bytes, max_block_insns: int = 64, **config: object) -> Machine:
    """`Machine.from_code(code, CODE_BASE)` with blocks of at most `max_block_insns` instructions
    (and other Config fields from `config`)."""
    return Machine.from_code(code, CODE_BASE, Config(max_block_insns=max_block_insns, **config))


def run_on_dbt(
    program: Sequence[Instr], init: State, max_block_insns: int = 64, **config: object
) -> tuple[Outcome, ExitStatus]:
    """Run on dbt (blocks of at most `max_block_insns` instructions; other Config fields from
    `config`, e.g. no_jit=True for the interpreter alone)."""
    m = dbt_machine(assemble(setup_prefix(init) + list(program)), max_block_insns, **config)
    m.map(DATA_BASE, DATA_SIZE)
    m.write_memory(DATA_BASE, init.mem)
    for i in range(1, 32):
        m.x[i] = signed64(init.x[i])
    for i in range(32):
        m.f[i] = signed64(init.f[i])
    status = m.run()
    frm, fflags = m.fcsr >> 5, m.fcsr & 0x1F
    state = State(
        [int(v) & MASK64 for v in m.x],
        [int(v) & MASK64 for v in m.f],
        frm,
        fflags,
        m.read_memory(DATA_BASE, DATA_SIZE),
    )
    trap_pc = status.pc if status.signal == SIGILL else None
    return Outcome(state, trap_pc), status


# ----------------------------------------------------------------------------------------------------
# Unicorn, corrected to the spec
# ----------------------------------------------------------------------------------------------------


def is_boxed(value: int) -> bool:
    return value >> 32 == MASK32


def _fp_parts(bits: int, fmt: str) -> tuple[int, int, int]:
    """(sign, exponent, fraction) of a binary32 ("s", low 32 bits) or binary64 value."""
    if fmt == "s":
        return bits >> 31 & 1, bits >> 23 & 0xFF, bits & 0x7FFFFF
    return bits >> 63 & 1, bits >> 52 & 0x7FF, bits & ((1 << 52) - 1)


def fp_is_nan(bits: int, fmt: str) -> bool:
    _, exp, frac = _fp_parts(bits, fmt)
    return exp == (0xFF if fmt == "s" else 0x7FF) and frac != 0


def fp_is_snan(bits: int, fmt: str) -> bool:
    quiet = 1 << (22 if fmt == "s" else 51)
    return fp_is_nan(bits, fmt) and not bits & quiet


def fp_is_inf(bits: int, fmt: str) -> bool:
    _, exp, frac = _fp_parts(bits, fmt)
    return exp == (0xFF if fmt == "s" else 0x7FF) and frac == 0


def fp_is_zero(bits: int, fmt: str) -> bool:
    _, exp, frac = _fp_parts(bits, fmt)
    return exp == 0 and frac == 0


class UnicornReference:
    """Runs a program on Unicorn one instruction at a time, applying the spec corrections."""

    def __init__(self, correct: bool = True) -> None:
        self.correct = correct

    def run(self, program: Sequence[Instr], init: State) -> Outcome:
        full = setup_prefix(init) + list(program)
        code = assemble(full)
        uc = Uc(UC_ARCH_RISCV, UC_MODE_RISCV64)
        uc.mem_map(CODE_BASE, CODE_SIZE)
        uc.mem_map(DATA_BASE, DATA_SIZE)
        uc.mem_write(CODE_BASE, code + EBREAK.to_bytes(4, "little"))
        uc.mem_write(DATA_BASE, init.mem)
        # Unicorn starts with the FPU off (mstatus.FS = 0): turn it on.
        uc.reg_write(ucr.UC_RISCV_REG_MSTATUS, uc.reg_read(ucr.UC_RISCV_REG_MSTATUS) | 0x6000)
        for i in range(1, 32):
            uc.reg_write(UC_X[i], init.x[i] & MASK64)
        for i in range(32):
            uc.reg_write(UC_F[i], init.f[i] & MASK64)
        at: dict[int, Instr] = {}
        pc = CODE_BASE
        for instr in full:
            at[pc] = instr
            pc += instr.size
        end = pc
        pc, trap_pc = CODE_BASE, None
        for _ in range(10_000):
            if pc == end:
                break
            instr = at[pc]
            step = self._before(uc, instr) if self.correct else _Step()
            try:
                uc.emu_start(pc, end, count=1)
            except UcError as error:
                if error.errno != UC_ERR_EXCEPTION:
                    raise
                trap_pc = pc
                self._restore(uc, step)
                break
            if self.correct:
                self._after(uc, instr, step)
            pc = uc.reg_read(ucr.UC_RISCV_REG_PC)
        else:
            raise AssertionError("Unicorn did not reach the end of the program")
        fcsr = uc.reg_read(ucr.UC_RISCV_REG_FCSR)
        state = State(
            [uc.reg_read(UC_X[i]) & MASK64 for i in range(32)],
            [uc.reg_read(UC_F[i]) & MASK64 for i in range(32)],
            fcsr >> 5 & 7,
            fcsr & 0x1F,
            bytes(uc.mem_read(DATA_BASE, DATA_SIZE)),
        )
        return Outcome(state, trap_pc)

    # The spec's view of the operands is taken before the step, the result is fixed after it.
    def _before(self, uc: Uc, instr: Instr) -> _Step:
        """Substitute the canonical NaN for unboxed single inputs (and remember what to restore)."""
        step = _Step()
        if ROWS[instr.row].base:
            return step
        for name, kind in operand_kinds(instr.base).items():
            if name == "rd" or kind not in ("s", "d"):
                continue
            reg = instr.operand(name)
            value = uc.reg_read(UC_F[reg])
            if kind == "s" and not is_boxed(value):
                if all(reg != r for r, _ in step.undo):
                    UNICORN_DEVIATIONS["unboxed single input read as a value"] += 1
                    step.undo.append((reg, value))
                    uc.reg_write(UC_F[reg], BOX | CANONICAL_NAN_S)
                value = BOX | CANONICAL_NAN_S
            step.inputs[name] = value
        return step

    @staticmethod
    def _restore(uc: Uc, step: _Step, written: int | None = None) -> None:
        """Put back the substituted registers, except `written`, the f register the instruction wrote."""
        for reg, value in step.undo:
            if reg != written:
                uc.reg_write(UC_F[reg], value)

    def _after(self, uc: Uc, instr: Instr, step: _Step) -> None:
        if ROWS[instr.row].base:
            return
        base = instr.base
        kinds = operand_kinds(base)
        rd = instr.operand("rd")
        self._restore(uc, step, rd if kinds.get("rd") in ("s", "d") else None)
        inputs = step.inputs
        fmt = base[-1]
        if base in ("fmin.s", "fmax.s", "fmin.d", "fmax.d"):
            a, b = inputs["rs1"], inputs["rs2"]
            nans = [fp_is_nan(v, fmt) for v in (a, b)]
            if nans.count(True) == 1 and (fp_is_snan(a, fmt) or fp_is_snan(b, fmt)):
                UNICORN_DEVIATIONS["fmin/fmax with one signaling NaN"] += 1
                uc.reg_write(UC_F[rd], b if nans[0] else a)
        if base.startswith(("fmadd", "fmsub", "fnmsub", "fnmadd")):
            a, b, c = inputs["rs1"], inputs["rs2"], inputs["rs3"]
            inf_times_zero = (fp_is_inf(a, fmt) and fp_is_zero(b, fmt)) or (
                fp_is_zero(a, fmt) and fp_is_inf(b, fmt)
            )
            if inf_times_zero and fp_is_nan(c, fmt) and not fp_is_snan(c, fmt):
                fflags = uc.reg_read(ucr.UC_RISCV_REG_FFLAGS)
                if not fflags & FLAG_NV:
                    UNICORN_DEVIATIONS["fma inf*0 + qNaN without NV"] += 1
                    uc.reg_write(ucr.UC_RISCV_REG_FFLAGS, fflags | FLAG_NV)
        if kinds.get("rd") == "s":
            value = uc.reg_read(UC_F[rd])
            if not is_boxed(value):
                UNICORN_DEVIATIONS["single result not NaN-boxed"] += 1
                uc.reg_write(UC_F[rd], value | BOX)


@dataclass
class _Step:
    """What the reference remembers across one instruction: the spec's view of its f inputs and
    the registers whose values were replaced by the canonical NaN."""

    inputs: dict[str, int] = field(default_factory=dict)
    undo: list[tuple[int, int]] = field(default_factory=list)


# ----------------------------------------------------------------------------------------------------
# Comparison
# ----------------------------------------------------------------------------------------------------


def state_differences(got: State, want: State) -> list[str]:
    """Human-readable differences between dbt's state (`got`) and the reference's (`want`)."""
    out = []
    for i in range(32):
        if got.x[i] != want.x[i]:
            out.append(f"x{i} ({X_NAMES[i]}): dbt {got.x[i]:#018x} != reference {want.x[i]:#018x}")
    for i in range(32):
        if got.f[i] != want.f[i]:
            out.append(f"f{i}: dbt {got.f[i]:#018x} != reference {want.f[i]:#018x}")
    if got.fcsr != want.fcsr:
        out.append(f"fcsr: dbt {got.fcsr:#04x} != reference {want.fcsr:#04x}")
    if got.mem != want.mem:
        diffs = [i for i in range(DATA_SIZE) if got.mem[i] != want.mem[i]]
        first = diffs[0] & ~7
        out.append(
            f"memory differs at {len(diffs)} bytes, first at {DATA_BASE + diffs[0]:#x}: "
            f"dbt {got.mem[first : first + 16].hex()} != reference {want.mem[first : first + 16].hex()}"
        )
    return out


def describe_state(state: State) -> str:
    xs = " ".join(f"x{i}={v:#x}" for i, v in enumerate(state.x) if i)
    fs = " ".join(f"f{i}={v:#x}" for i, v in enumerate(state.f))
    return f"{xs}\n{fs}\nfcsr={state.fcsr:#x}"


def compare_with_unicorn(program: Sequence[Instr], init: State, max_block_insns: int = 64) -> Outcome:
    """Run `program` on dbt and on the corrected Unicorn; assert the same final state (and stop)."""
    reference = UnicornReference().run(program, init)
    got, status = run_on_dbt(program, init, max_block_insns)
    where = f"program:\n{listing(program, BODY_BASE)}\ninitial state:\n{describe_state(init)}"
    if reference.trap_pc is None:
        end = CODE_BASE + PREFIX_SIZE + len(assemble(program))
        assert status.code == 0 and status.pc == end, (
            f"dbt stopped with {status} (expected pc {end:#x})\n{where}"
        )
    else:
        assert status.signal == SIGILL and status.pc == reference.trap_pc, (
            f"Unicorn trapped at {reference.trap_pc:#x}, dbt ended with {status}\n{where}"
        )
    differences = state_differences(got.state, reference.state)
    assert not differences, "\n".join(differences) + "\n" + where
    return got


def f32_bits(value: float) -> int:
    """binary32 bits of a Python float (rounded to nearest; too large becomes infinity)."""
    try:
        return struct.unpack("<I", struct.pack("<f", value))[0]
    except OverflowError:
        return 0xFF80_0000 if value < 0 else 0x7F80_0000


def f64_bits(value: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", value))[0]
