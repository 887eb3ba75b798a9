"""Parser of the RV64 encoding tables in `opcodes/` (see opcodes/README.md for the format).

It turns the text into `Row` and `Field` records and checks them: every instruction bit is
covered exactly once, expansions name known rows and fields, and only declared rows overlap.
The decoder generator is the only consumer at build time; tests use it to check the decoder.
Stage: frontend (knows nothing of backends or the runtime).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from dbt.errors import DecodeError

OPCODES_DIR = Path(__file__).with_name("opcodes")
#: Table files in decoding order; the extension of a row is its file name without the rv/rv64 prefix.
TABLE_FILES = (
    "rv_i",
    "rv64_i",
    "rv_m",
    "rv64_m",
    "rv_a",
    "rv64_a",
    "rv_f",
    "rv64_f",
    "rv_d",
    "rv64_d",
    "rv_zicsr",
    "rv_zifencei",
    "rv_s",
    "rv_c",
    "rv_zba",
    "rv64_zba",
    "rv_zbb",
    "rv64_zbb",
    "rv_zbc",
    "rv_zbs",
    "rv64_zbs",
    "rv_zbkb",
    "rv64_zbkb",
    "rv_zbkx",
    "rv_zicond",
    "rv_zimop",
    "rv_zicbom",
    "rv_zicboz",
    "rv_zawrs",
    "rv_zcb",
    "rv_zcmop",
    "rv_zacas",
    "rv64_zacas",
    "rv_zabha",
    "rv_zfhmin",
    "rv_zfh",
    "rv64_zfh",
    "rv_zfa",
)
#: Table files of 16-bit instructions.
COMPRESSED_FILES = ("rv_c", "rv_zcb", "rv_zcmop")
FIELD_KINDS = ("reg", "creg", "uimm", "simm")


@dataclass(frozen=True, slots=True)
class Field:
    """A variable operand field: which instruction bits land in which value bits."""

    name: str
    kind: str
    #: (instruction hi bit, instruction lo bit, value lo bit) for each piece.
    pieces: tuple[tuple[int, int, int], ...]

    @property
    def mask(self) -> int:
        m = 0
        for hi, lo, _ in self.pieces:
            m |= ((1 << (hi - lo + 1)) - 1) << lo
        return m

    @property
    def value_bits(self) -> int:
        return max(dst + hi - lo + 1 for hi, lo, dst in self.pieces)

    def extract(self, word: int) -> int:
        value = 0
        for hi, lo, dst in self.pieces:
            value |= ((word >> lo) & ((1 << (hi - lo + 1)) - 1)) << dst
        if self.kind == "simm":
            top = 1 << (self.value_bits - 1)
            value = (value ^ top) - top
        elif self.kind == "creg":
            value += 8
        return value


@dataclass(frozen=True, slots=True)
class Row:
    """One instruction encoding."""

    name: str
    extension: str
    #: 2 for compressed rows, 4 otherwise.
    size: int
    mask: int
    match: int
    fields: tuple[str, ...]
    #: Compressed rows: the 32-bit instruction they expand to and its operand assignments
    #: (field name of the base row -> a field of this row, or an int constant).
    base: str = ""
    assign: tuple[tuple[str, str | int], ...] = ()
    #: (field, value) pairs that make an encoding reserved.
    reserved: tuple[tuple[str, int], ...] = ()
    #: Further extensions that also define this instruction (`+ext`): rol is in Zbb and in Zbkb.
    also: tuple[str, ...] = ()
    #: Extensions the instruction needs besides one of its own (`&ext`): fli.h needs Zfh.
    requires: tuple[str, ...] = ()

    @property
    def extensions(self) -> tuple[str, ...]:
        """Every extension that defines this instruction (any one of them enables it)."""
        return (self.extension, *self.also)

    def matches(self, word: int) -> bool:
        return (word & self.mask) == self.match


@dataclass(frozen=True, slots=True)
class Tables:
    fields: dict[str, Field]
    rows: tuple[Row, ...]
    #: Ordered groups of rows that overlap on purpose; the first match wins.
    overlaps: tuple[tuple[str, ...], ...]

    def row(self, name: str) -> Row:
        for row in self.rows:
            if row.name == name:
                return row
        raise KeyError(name)


_RANGE = re.compile(r"^(\d+)(?:\.\.(\d+))?=(0x[0-9a-fA-F]+|\d+)$")
_PIECE = re.compile(r"^(\d+)(?:\.\.(\d+))?(?::(\d+)(?:\.\.(\d+))?)?$")


def _lines(path: Path):
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if line:
            yield number, line


def parse_fields(path: Path) -> dict[str, Field]:
    fields: dict[str, Field] = {}
    for number, line in _lines(path):
        name, kind, *specs = line.split()
        if kind not in FIELD_KINDS:
            raise DecodeError(f"{path.name}:{number}: unknown field kind {kind!r}")
        pieces = []
        for spec in specs:
            m = _PIECE.match(spec)
            if not m:
                raise DecodeError(f"{path.name}:{number}: bad bit spec {spec!r}")
            hi = int(m.group(1))
            lo = int(m.group(2)) if m.group(2) else hi
            if m.group(3) is None:
                dst = 0
            else:
                dst_hi = int(m.group(3))
                dst = int(m.group(4)) if m.group(4) else dst_hi
                if dst_hi - dst != hi - lo:
                    raise DecodeError(f"{path.name}:{number}: {spec!r} maps ranges of different widths")
            pieces.append((hi, lo, dst))
        fields[name] = Field(name, kind, tuple(pieces))
    return fields


def _parse_row(fname: str, number: int, line: str, fields: dict[str, Field]) -> Row:
    where = f"{fname}:{number}"
    head, _, tail = line.partition("=>")
    # `+ext` and `&ext` may also stand before any `=>` (rows that expand to nothing).
    tokens = []
    for token in head.split():
        if token[0] in "+&":
            tail = token + " " + tail
        else:
            tokens.append(token)
    name, specs = tokens[0], tokens[1:]
    size = 2 if fname in COMPRESSED_FILES else 4
    mask = match = 0
    row_fields: list[str] = []
    covered = 0
    for spec in specs:
        m = _RANGE.match(spec)
        if m:
            hi = int(m.group(1))
            lo = int(m.group(2)) if m.group(2) else hi
            value = int(m.group(3), 0)
            bits = ((1 << (hi - lo + 1)) - 1) << lo
            if value >> (hi - lo + 1):
                raise DecodeError(f"{where}: {name}: value {value:#x} does not fit {spec}")
            part = bits
            match |= value << lo
            mask |= bits
        elif spec in fields:
            part = fields[spec].mask
            row_fields.append(spec)
        else:
            raise DecodeError(f"{where}: {name}: unknown field or bad range {spec!r}")
        if covered & part:
            raise DecodeError(f"{where}: {name}: bits {covered & part:#x} are covered twice")
        covered |= part
    full = (1 << (8 * size)) - 1
    if covered != full:
        raise DecodeError(f"{where}: {name}: bits {full & ~covered:#x} are not covered")
    base = ""
    assign: list[tuple[str, str | int]] = []
    reserved: list[tuple[str, int]] = []
    also: list[str] = []
    requires: list[str] = []
    for token in tail.split():
        if token.startswith("+"):
            also.append(token[1:])
        elif token.startswith("&"):
            requires.append(token[1:])
        elif token.startswith("!"):
            field, _, value = token[1:].partition("=")
            if field not in row_fields:
                raise DecodeError(f"{where}: {name}: reserved condition on unknown field {field!r}")
            reserved.append((field, int(value, 0)))
        elif "=" in token:
            target, _, source = token.partition("=")
            assign.append((target, source if source in row_fields else int(source, 0)))
        elif not base:
            base = token
        else:
            raise DecodeError(f"{where}: {name}: unexpected {token!r}")
    if size == 2 and not base:
        raise DecodeError(f"{where}: {name}: a compressed row must expand to a base instruction")
    extension = fname.split("_", 1)[1]
    return Row(
        name,
        extension,
        size,
        mask,
        match,
        tuple(row_fields),
        base,
        tuple(assign),
        tuple(reserved),
        tuple(also),
        tuple(requires),
    )


def overlapping(a: Row, b: Row) -> bool:
    """True when some instruction word matches both rows."""
    return a.size == b.size and ((a.match ^ b.match) & a.mask & b.mask) == 0


def _buckets(rows: list[Row]) -> list[list[Row]]:
    """The rows grouped so that only rows of one group can overlap: by size and by the bits that
    every row of that size fixes (the major opcode, at least), in table order. Comparing every
    pair of the table instead cost each dbt start 10 ms."""
    common: dict[int, int] = {}
    for row in rows:
        common[row.size] = common.get(row.size, row.mask) & row.mask
    groups: dict[tuple[int, int], list[Row]] = {}
    for row in rows:
        groups.setdefault((row.size, row.match & common[row.size]), []).append(row)
    return list(groups.values())


@cache
def load_tables(directory: Path = OPCODES_DIR) -> Tables:
    """Parse and check every table file."""
    fields = parse_fields(directory / "fields")
    rows: list[Row] = []
    overlaps: list[tuple[str, ...]] = []
    for fname in TABLE_FILES:
        for number, line in _lines(directory / fname):
            if line.startswith("%overlap"):
                overlaps.append(tuple(line.split()[1:]))
            else:
                rows.append(_parse_row(fname, number, line, fields))
    names = [row.name for row in rows]
    if len(set(names)) != len(names):
        raise DecodeError("duplicate instruction names in the tables")
    by_name = {row.name: row for row in rows}
    for row in rows:
        if row.base:
            base = by_name.get(row.base)
            if base is None or base.size != 4:
                raise DecodeError(f"{row.name}: expands to unknown instruction {row.base!r}")
            for target, _ in row.assign:
                if target not in base.fields:
                    raise DecodeError(f"{row.name}: {row.base} has no field {target!r}")
    declared = set()
    for group in overlaps:
        for name in group:
            if name not in by_name:
                raise DecodeError(f"%overlap names unknown instruction {name!r}")
        for i, a in enumerate(group):
            for b in group[i + 1 :]:
                declared.add(frozenset((a, b)))
    for bucket in _buckets(rows):
        for i, a in enumerate(bucket):
            for b in bucket[i + 1 :]:
                if overlapping(a, b) and frozenset((a.name, b.name)) not in declared:
                    raise DecodeError(f"{a.name} and {b.name} overlap but no %overlap line declares it")
    return Tables(fields, tuple(rows), tuple(overlaps))
