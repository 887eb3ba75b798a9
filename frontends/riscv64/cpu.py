"""CPU models: which ISA extensions a guest hart has (`--cpu NAME[,ext=on|off]...`).

The model decides which encoding-table rows decode (an instruction of an extension the model
lacks is an illegal instruction), what riscv_hwprobe answers and the AT_HWCAP letters. Models
follow the RVA profiles (RVA22U64, RVA23U64 without its vector extensions) and QEMU's `-cpu`
names, so `dbt run --cpu rva22u64` and `qemu-riscv64 -cpu rva22u64` run the same programs.
Stage: frontend.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from dbt.errors import ConfigError
from dbt.frontends.riscv64.table import Row, load_tables


@dataclass(frozen=True, slots=True)
class Extension:
    name: str
    summary: str
    #: Bit of riscv_hwprobe's RISCV_HWPROBE_KEY_IMA_EXT_0 (Linux uapi asm/hwprobe.h), or None.
    hwprobe_bit: int | None = None
    #: Extensions that enabling this one enables too (Zfh includes Zfhmin).
    implies: tuple[str, ...] = ()


def _extensions() -> dict[str, Extension]:
    rows = [
        # name, summary, hwprobe bit, implies
        ("i", "base integer instructions", None, ()),
        ("m", "integer multiplication and division", None, ()),
        ("a", "atomics (LR/SC and AMOs)", None, ("zaamo", "zalrsc")),
        ("f", "single-precision floating point", None, ("zicsr",)),
        ("d", "double-precision floating point", None, ("f",)),
        ("c", "compressed instructions", 43, ()),
        ("zicsr", "control and status registers", None, ()),
        ("zifencei", "instruction-fetch fence", None, ()),
        ("zicntr", "cycle, time and instret counters", 50, ()),
        ("zihintpause", "pause hint", 36, ()),
        ("zihintntl", "non-temporal locality hints", 29, ()),
        ("zba", "address generation", 3, ()),
        ("zbb", "basic bit manipulation", 4, ()),
        ("zbc", "carry-less multiplication", 7, ()),
        ("zbs", "single-bit instructions", 5, ()),
        ("zbkb", "bit manipulation for cryptography", 8, ()),
        ("zbkc", "carry-less multiplication for cryptography", 9, ()),
        ("zbkx", "crossbar permutations", 10, ()),
        ("zkt", "data-independent execution latency (no instructions)", 16, ()),
        ("zicond", "integer conditional zeroing", 35, ()),
        ("zfhmin", "minimal half precision (loads, stores, moves, conversions)", 28, ("f",)),
        ("zfh", "half-precision floating point", 27, ("zfhmin",)),
        ("zfa", "additional floating-point instructions", 32, ("f",)),
        ("zca", "compressed instructions without FP loads and stores", None, ()),
        ("zcd", "compressed double-precision loads and stores", 45, ()),
        ("zcb", "more compressed instructions", 44, ("zca",)),
        ("zcmop", "compressed may-be-operations", 47, ("zca",)),
        ("zimop", "may-be-operations", 42, ()),
        ("zicbom", "cache-block management", 55, ()),
        ("zicbop", "cache-block prefetch hints", None, ()),
        ("zicboz", "cache-block zero", 6, ()),
        ("zawrs", "wait on reservation set", 48, ()),
        ("zaamo", "atomic memory operations", 56, ()),
        ("zalrsc", "load-reserved / store-conditional", 57, ()),
        ("zacas", "atomic compare-and-swap", 34, ("zaamo",)),
        ("zabha", "byte and halfword atomics", 58, ("zaamo",)),
    ]
    return {name: Extension(name, summary, bit, implies) for name, summary, bit, implies in rows}


#: Every extension dbt implements, by lower-case name.
EXTENSIONS: dict[str, Extension] = _extensions()
#: Extensions of the hardware profile names that dbt does not implement: a clear error, not a typo.
NOT_IMPLEMENTED = {
    "v": "the vector extension V is not implemented yet",
    "h": "the hypervisor extension is not implemented (user mode has no use for it)",
    "q": "quad-precision floating point (Q) is not implemented",
}

_RV64GC = ("i", "m", "a", "f", "d", "c", "zicsr", "zifencei", "zicntr", "zca", "zcd")
_RVA22U64 = (*_RV64GC, "zihintpause", "zba", "zbb", "zbs", "zicbom", "zicbop", "zicboz", "zfhmin", "zkt")
_RVA23U64 = (*_RVA22U64, "zihintntl", "zicond", "zimop", "zcmop", "zcb", "zfa", "zawrs")
#: Named models. `max` is every extension dbt has.
MODELS: dict[str, tuple[str, ...]] = {
    "rv64gc": _RV64GC,
    "rva22u64": _RVA22U64,
    "rva23u64-novector": _RVA23U64,
    "max": tuple(EXTENSIONS),
}
DEFAULT_MODEL = "rv64gc"


@dataclass(frozen=True, slots=True)
class CpuModel:
    """A hart's extensions and what follows from them."""

    #: The --cpu text it was made from.
    spec: str
    extensions: frozenset[str]

    def has(self, extension: str) -> bool:
        return extension in self.extensions

    def allows(self, row: Row) -> bool:
        """True when the model decodes the table row (see opcodes/README.md: +ext, &ext, bases)."""
        return _row_enabled(row, self.extensions)

    @property
    def rows(self) -> frozenset[str]:
        """Names of the table rows this model decodes."""
        return _enabled_rows(self.extensions)

    @property
    def hwcap(self) -> int:
        """AT_HWCAP: bit n for single-letter extension 'a' + n."""
        return sum(1 << (ord(e) - ord("a")) for e in self.extensions if len(e) == 1)

    @property
    def hwprobe_ima_ext_0(self) -> int:
        """riscv_hwprobe's RISCV_HWPROBE_KEY_IMA_EXT_0 value."""
        value = 0
        if self.has("f") and self.has("d"):
            value |= 1 << 0  # RISCV_HWPROBE_IMA_FD
        if self.has("c"):
            value |= 1 << 1  # RISCV_HWPROBE_IMA_C
        for ext in self.extensions:
            bit = EXTENSIONS[ext].hwprobe_bit
            if bit is not None and (ext != "zcd" or self.has("d")):
                value |= 1 << bit
        return value

    @property
    def base_ima(self) -> bool:
        return {"i", "m", "a"} <= self.extensions

    def isa_string(self) -> str:
        """The ISA string, e.g. rv64imafdc_zicsr_zba (letters in canonical order, then Z names)."""
        letters = "".join(e for e in "imafdqcv" if e in self.extensions)
        multi = sorted(e for e in self.extensions if len(e) > 1)
        return "rv64" + letters + "".join("_" + e for e in multi)


def _row_enabled(row: Row, extensions: frozenset[str]) -> bool:
    if not any(ext in extensions for ext in row.extensions):
        return False
    if not all(ext in extensions for ext in row.requires):
        return False
    if row.base:
        return _row_enabled(load_tables().row(row.base), extensions)
    return True


@cache
def system_rows(model: CpuModel) -> frozenset[str]:
    """The rows system mode decodes: the model's and the supervisor rows (opcodes/rv_s), which
    no model names, so that they change no ISA string."""
    return model.rows | frozenset(row.name for row in load_tables().rows if row.extension == "s")


def _enabled_rows(extensions: frozenset[str]) -> frozenset[str]:
    return frozenset(row.name for row in load_tables().rows if _row_enabled(row, extensions))


def _closure(enabled: set[str]) -> set[str]:
    todo = list(enabled)
    while todo:
        for implied in EXTENSIONS[todo.pop()].implies:
            if implied not in enabled:
                enabled.add(implied)
                todo.append(implied)
    return enabled


@cache
def parse_cpu(spec: str) -> CpuModel:
    """The model of `--cpu NAME[,ext=on|off]...`; ConfigError with a one-line reason if invalid."""
    name, *overrides = [part.strip() for part in spec.strip().lower().split(",")]
    if name not in MODELS:
        raise ConfigError(f"unknown CPU model {name!r} (choose from {', '.join(MODELS)})")
    enabled = set(MODELS[name])
    disabled: set[str] = set()
    for item in overrides:
        ext, sep, value = item.partition("=")
        ext = ext.strip()
        value = value.strip() if sep else "on"
        if value in ("on", "true", "1", "yes"):
            on = True
        elif value in ("off", "false", "0", "no"):
            on = False
        else:
            raise ConfigError(f"--cpu {spec}: {ext}={value!r} must be on or off")
        if ext in NOT_IMPLEMENTED:
            if on:
                raise ConfigError(f"--cpu {spec}: {NOT_IMPLEMENTED[ext]}")
            continue
        if ext not in EXTENSIONS:
            raise ConfigError(f"--cpu {spec}: unknown extension {ext!r}")
        if ext == "i" and not on:
            raise ConfigError(f"--cpu {spec}: the base integer ISA cannot be turned off")
        if on:
            enabled.add(ext)
            disabled.discard(ext)
        else:
            enabled.discard(ext)
            disabled.add(ext)
    _closure(enabled)
    for ext in sorted(enabled & disabled):
        needs = sorted(e for e in enabled if ext in EXTENSIONS[e].implies)
        raise ConfigError(f"--cpu {spec}: {ext} cannot be off while {', '.join(needs)} is on")
    # C's parts follow C: RV64 C is Zca plus Zcd (with D).
    if "c" not in enabled:
        for ext in sorted(enabled & {"zcb", "zcmop"}):
            raise ConfigError(f"--cpu {spec}: {ext} needs the compressed extension c")
        enabled -= {"zca", "zcd"}
    elif "d" not in enabled:
        enabled.discard("zcd")
    return CpuModel(spec, frozenset(enabled))


def default_model() -> CpuModel:
    return parse_cpu(DEFAULT_MODEL)
