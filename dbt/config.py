"""Run configuration: one frozen dataclass, each field with a DBT_* environment variable.

The CLI builds a Config from its options; the Python API takes one directly. Precedence:
explicit argument > DBT_* variable > default.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace

from dbt.errors import ConfigError

TRACE_KINDS = ("in_asm",)


@dataclass(frozen=True, slots=True)
class Config:
    #: Guest root for absolute paths (the program interpreter, libraries, files), like qemu's -L.
    #: DBT_SYSROOT.
    sysroot: str | None = None
    #: Print each system call with its arguments and result to stderr. DBT_STRACE=1.
    strace: bool = False
    #: Trace kinds to print: "in_asm" lists each newly decoded block (capstone). DBT_TRACE=in_asm.
    trace: tuple[str, ...] = ()
    #: File for --trace output instead of stderr. DBT_TRACE_FILE.
    trace_file: str | None = None
    #: Print instructions retired, blocks decoded, wall time and MIPS at exit. DBT_STATS=1.
    stats: bool = False
    #: Run with the interpreter only (no compiled regions). DBT_NO_JIT=1.
    no_jit: bool = False
    #: Heat (executions, halved as guest time passes) at which a block's region is compiled;
    #: 0 compiles a region for every block on its first execution (for testing). DBT_JIT_THRESHOLD.
    jit_threshold: int = 100
    #: Compile worker processes; None: cores - 1 (at least 1); 0: compile in the main thread.
    #: DBT_JIT_THREADS.
    jit_threads: int | None = None
    #: Do not read or write the persistent caches (compiled regions, system mode's lifted blocks).
    #: DBT_NO_CACHE=1.
    no_cache: bool = False
    #: Directory of dbt's caches (compiled interpreter and regions). DBT_CACHE_DIR.
    cache_dir: str | None = None
    #: Run the guest under the interpreter with a JIT shadow compared at every guest event
    #: (runtime/differential.py). DBT_DIFFERENTIAL=1.
    differential: bool = False
    #: Largest number of guest instructions in one decoded block. DBT_MAX_BLOCK_INSNS.
    max_block_insns: int = 64
    #: Guest instructions the dispatcher runs before it returns to Python to look for events.
    #: DBT_SLICE_INSNS.
    slice_insns: int = 1 << 30
    #: CPU model and extension overrides, e.g. "rva22u64" or "rv64gc,zba=on,zbb=on"
    #: (frontends/riscv64/cpu.py). DBT_CPU.
    cpu: str = "rv64gc"
    #: Log level name (debug, info, warning, error). DBT_LOG.
    log_level: str | None = None
    #: Extra options passed to programs the guest starts with execve (they run under dbt too).
    exec_args: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        for kind in self.trace:
            if kind not in TRACE_KINDS:
                raise ConfigError(f"unknown trace kind {kind!r} (choose from {', '.join(TRACE_KINDS)})")
        if not 1 <= self.max_block_insns <= 4096:
            raise ConfigError("max_block_insns must be between 1 and 4096")
        if self.slice_insns < 1:
            raise ConfigError("slice_insns must be positive")
        if self.jit_threshold < 0:
            raise ConfigError("jit_threshold must be 0 or more")
        if self.jit_threads is not None and self.jit_threads < 0:
            raise ConfigError("jit_threads must be 0 or more")
        from dbt.frontends.riscv64.cpu import parse_cpu

        parse_cpu(self.cpu)  # ConfigError for an unknown model or extension
        if self.log_level is not None:
            from dbt.log import LEVELS

            if self.log_level.lower() not in LEVELS:
                raise ConfigError(f"unknown log level {self.log_level!r} (choose from {', '.join(LEVELS)})")

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: object) -> Config:
        """A Config from DBT_* variables, with explicit overrides (None means 'not given')."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            if f.name == "exec_args":
                continue
            raw = env.get("DBT_" + f.name.upper())
            if raw is None or raw == "":
                continue
            values[f.name] = _parse(f.name, raw, f.type)
        if env.get("DBT_LOG"):
            values["log_level"] = env["DBT_LOG"]
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]

    def with_(self, **changes: object) -> Config:
        return replace(self, **changes)  # type: ignore[arg-type]


def _parse(name: str, raw: str, annotation: object) -> object:
    text = str(annotation)
    if text.startswith("bool"):
        low = raw.strip().lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"DBT_{name.upper()}={raw!r}: expected a boolean (1/0, true/false)")
    if text.startswith("int"):
        try:
            return int(raw, 0)
        except ValueError:
            raise ConfigError(f"DBT_{name.upper()}={raw!r}: expected an integer") from None
    if text.startswith("tuple"):
        return tuple(part for part in raw.split(",") if part)
    return raw
