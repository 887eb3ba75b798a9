"""dbt: a dynamic binary translator that runs RISC-V 64 Linux programs, written in Python on Numba.

The public API: `Machine`, `Config`, `ExitStatus` and the `DbtError` hierarchy in `dbt.errors`.
The pipeline stages live in `dbt.frontends`, `dbt.ir`, `dbt.backends`, `dbt.runtime` and
`dbt.devices`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dbt._version import __version__
from dbt.hostthreads import load_numpy_quietly

# Before any stage imports numpy: the threads its OpenBLAS starts must never take a guest's signal.
load_numpy_quietly()

if TYPE_CHECKING:
    from dbt.api import Machine
    from dbt.config import Config
    from dbt.runtime.process import ExitStatus

__all__ = ["Config", "ExitStatus", "Machine", "__version__"]


def __getattr__(name: str):  # lazy, so `dbt --version` does not import Numba
    if name == "Machine":
        from dbt.api import Machine

        return Machine
    if name == "Config":
        from dbt.config import Config

        return Config
    if name == "ExitStatus":
        from dbt.runtime.process import ExitStatus

        return ExitStatus
    raise AttributeError(name)
