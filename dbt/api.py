"""The public Python API: build a Machine from a guest program, run it, inspect it.

    from dbt import Config, Machine

    m = Machine("hello.elf", ["hello.elf", "world"], config=Config(sysroot="/usr/riscv64-linux-gnu"))
    status = m.run()                 # ExitStatus: .code, .signal, .status
    m.x[10], m.pc, m.read_memory(addr, 16), m.instructions

Users drive dbt from Python as a golden model: keep this surface small and stable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np

from dbt.config import Config
from dbt.ir.state import F_BASE, FFLAGS, FRM, PC
from dbt.runtime.int64 import to_int64
from dbt.runtime.memory import PROT_EXEC, PROT_READ, PROT_WRITE
from dbt.runtime.process import ExitStatus, GuestProcess


def guest_environment(
    env: Mapping[str, str] | None, set_vars: Sequence[str] = (), unset: Sequence[str] = ()
) -> list[bytes]:
    """The guest's environment: `env` (default: the host's), then VAR=VALUE additions, then removals."""
    base = {os.fsencode(k): os.fsencode(v) for k, v in (os.environ if env is None else env).items()}
    for item in set_vars:
        key, _, value = os.fsencode(item).partition(b"=")
        base[key] = value
    for key in unset:
        base.pop(os.fsencode(key), None)
    return [k + b"=" + v for k, v in base.items()]


def _reference_config(config: Config) -> Config:
    """A differential run's guest runs under the interpreter (the JIT is the shadow)."""
    return config.with_(no_jit=True) if config.differential else config


class Machine:
    """One guest program, loaded and ready to run."""

    def __init__(
        self,
        program: str | os.PathLike[str],
        argv: Sequence[str | bytes] | None = None,
        env: Mapping[str, str] | Sequence[str | bytes] | None = None,
        config: Config | None = None,
    ) -> None:
        """Load `program` (a riscv64 ELF). `argv` defaults to [program]; `env` is a mapping or a
        list of "VAR=VALUE" strings and defaults to the host's environment."""
        self.config = config or Config()
        path = os.fspath(program)
        self.lockstep = None
        args = [os.fsencode(a) for a in (argv if argv is not None else [path])]
        if env is None or isinstance(env, Mapping):
            envp = guest_environment(env)
        else:
            envp = [os.fsencode(item) for item in env]
        self._process = GuestProcess(_reference_config(self.config))
        self._process.load(path, args, envp)
        self.exit_status: ExitStatus | None = None

    @classmethod
    def from_code(cls, code: bytes, base: int = 0x10000, config: Config | None = None) -> Machine:
        """A machine running raw RV64GC code at `base` (no ELF, no stack): a golden model for
        instruction sequences. run() stops at an ebreak appended after the code, with exit code 0
        and pc == base + len(code). Map data memory with map(); set registers through x and f."""
        machine = cls.__new__(cls)
        machine.config = config or Config()
        machine._process = GuestProcess(_reference_config(machine.config))
        machine.exit_status = None
        machine.lockstep = None
        end = base + len(code)
        ebreak = (0x00100073).to_bytes(4, "little")
        memory = machine._process.memory
        memory.map(base, len(code) + 4, PROT_READ | PROT_EXEC, name="[code]")
        memory.poke(base, code + ebreak)
        machine._process.halt_pcs.add(end)
        machine._process.state[PC] = base
        return machine

    def map(self, addr: int, size: int, prot: int = PROT_READ | PROT_WRITE) -> None:
        """Map zeroed guest memory (page-granular; prot is PROT_READ|PROT_WRITE|PROT_EXEC bits)."""
        self._process.memory.map(addr, size, prot, name="[api]")

    def run(self) -> ExitStatus:
        """Run until the guest exits or dies of a signal.

        With `Config(differential=True)` the guest runs under the interpreter with a JIT shadow
        compared at every guest event; a disagreement raises DifferentialMismatch."""
        if self.config.differential:
            if self.lockstep is None:
                from dbt.runtime.differential import Lockstep

                self.lockstep = Lockstep(self._process)
            self.lockstep.resync()
        self.exit_status = self._process.run()
        return self.exit_status

    # ---- inspection ----
    @property
    def x(self) -> np.ndarray:
        """The integer registers x0..x31 (a live int64 view; write to change them)."""
        return self._process.regs[:32]

    @property
    def f(self) -> np.ndarray:
        """The floating-point registers f0..f31 as raw 64-bit patterns (a live int64 view)."""
        return self._process.regs[F_BASE : F_BASE + 32]

    @property
    def pc(self) -> int:
        """The guest pc (unsigned)."""
        return int(self._process.state[PC]) & (1 << 64) - 1

    @pc.setter
    def pc(self, value: int) -> None:
        self._process.state[PC] = to_int64(value)

    @property
    def fcsr(self) -> int:
        state = self._process.state
        return int(state[FRM]) << 5 | int(state[FFLAGS])

    @property
    def instructions(self) -> int:
        """Guest instructions retired so far (by every thread)."""
        return self._process.instructions

    @property
    def blocks_decoded(self) -> int:
        return self._process.cache.total_decoded

    def read_memory(self, addr: int, size: int) -> bytes:
        """Guest memory; raises dbt.errors.GuestFault if the range is not readable."""
        return self._process.memory.read_slice(addr, size)

    def write_memory(self, addr: int, data: bytes) -> None:
        """Write guest memory; raises dbt.errors.GuestFault if the range is not writable."""
        self._process.memory.write_slice(addr, data)

    def symbol(self, name: str) -> int | None:
        """Address of a symbol of the main program (from its ELF symbol table), if it has one."""
        image = self._process.image
        if image is None:
            return None
        from dbt.runtime.symbols import lookup_symbol

        value = lookup_symbol(image.main.image.data, name)
        return None if value is None else value + image.main.bias

    @property
    def process(self) -> GuestProcess:
        """The runtime object behind the machine (not part of the stable API)."""
        return self._process
