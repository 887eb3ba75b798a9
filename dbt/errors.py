"""The one exception hierarchy of dbt.

Guest events (a system call, a fault, an illegal instruction) are data that flows through the
dispatcher as exit codes; exceptions are for dbt's own failures and for bad input. Each stage
of the pipeline has its own subclass so callers can tell where something went wrong.
"""

from __future__ import annotations


class DbtError(Exception):
    """Root of every error dbt raises on purpose."""

    #: Process exit status the CLI uses when this error ends a run.
    exit_status: int = 1


class ConfigError(DbtError):
    """An option or environment variable has a value dbt cannot use."""

    exit_status = 2


class GuestFileNotFound(DbtError):
    """The guest program (or its interpreter) does not exist: exit 127, as a shell does."""

    exit_status = 127


class ElfLoadError(DbtError):
    """The guest file is not a loadable RISC-V 64 ELF (not ELF, wrong machine, truncated, hostile)."""

    exit_status = 126


class DecodeError(DbtError):
    """The decoder tables or the generated decoder are inconsistent (a dbt bug, not a guest error)."""


class GuestFault(DbtError):
    """A guest memory access outside its mappings, raised by the Python-side memory API."""

    def __init__(self, addr: int, message: str = "") -> None:
        self.addr = addr
        super().__init__(message or f"guest memory fault at {addr:#x}")


class SyscallError(DbtError):
    """A system call cannot be emulated (e.g. guest threads, which come with a later release)."""


class JitCompileError(DbtError):
    """A kernel could not be compiled."""


# System mode: VmError and its device errors.


class VmError(DbtError):
    """The system-mode machine cannot be built or run (a bad option, firmware or kernel image)."""

    exit_status = 1


class BlockError(VmError):
    """A disk image cannot be used (missing, locked, smaller than a sector)."""


class NetError(VmError):
    """A network backend cannot be set up (an unknown netdev, a tap that cannot be opened)."""


class IoBackendError(VmError):
    """A device's host side (a file, a socket, a terminal) failed."""


class Iso9660Error(VmError):
    """An ISO 9660 image is malformed or lacks the file asked for."""
