"""Logging for dbt: the standard `logging` module with a rich handler on stderr.

Loggers are named for pipeline stages (dbt.decode, dbt.interp, dbt.syscall, dbt.elf, ...).
The level comes from --log-level or the DBT_LOG environment variable.
"""

from __future__ import annotations

import io
import logging
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console
    from rich.status import Status

LEVELS = ("debug", "info", "warning", "error", "critical")


class _TolerantStream(io.TextIOBase):
    """dbt's own stderr: a private duplicate of fd 2 taken at start-up, so the guest closing or
    redirecting its fd 2 neither loses dbt's messages nor makes writing them fail."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def write(self, text: str) -> int:
        data = text.encode("utf-8", "replace")
        try:
            while data:
                data = data[os.write(self.fd, data) :]
        except OSError:
            pass
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        try:
            return os.isatty(self.fd)
        except OSError:
            return False

    def fileno(self) -> int:
        return self.fd


def private_stderr() -> _TolerantStream:
    """A close-on-exec duplicate of fd 2 at a high number, out of the way of guest descriptors."""
    from dbt import hostfd

    try:
        return _TolerantStream(hostfd.claim(os.dup(2)))
    except OSError:
        return _TolerantStream(2)


#: Where dbt writes its own messages (stderr; the CLI swaps in a private duplicate).
dbt_stderr: io.TextIOBase = sys.stderr
_console: Console | None = None


def stderr_console() -> Console:
    """The rich console dbt writes its own messages to: stderr, so the guest's stdout stays
    clean. rich loads at the first use, not at every start (it took 25 ms of each)."""
    global _console
    if _console is None:
        from rich.console import Console

        _console = Console(file=dbt_stderr, highlight=False, soft_wrap=True)
    return _console


def use_private_stderr() -> io.TextIOBase:
    """Send dbt's own output (logs, status lines, --strace, --stats) to a private stderr."""
    global dbt_stderr
    dbt_stderr = private_stderr()
    if _console is not None:
        _console.file = dbt_stderr
    return dbt_stderr


def announce(message: str) -> Status:
    """Show `message` with a spinner on dbt's stderr until the returned status is stopped (a
    long wait the user should know the reason for). The spinner's thread starts with every
    signal held, as all of dbt's threads (see dbt.hostthreads)."""
    from dbt.hostthreads import signals_held

    status = stderr_console().status(f"dbt: {message}")
    with signals_held():
        status.start()
    return status


def resolve_level(level: str | None) -> int:
    """The numeric level for a name from --log-level, else DBT_LOG, else warning."""
    name = (level or os.environ.get("DBT_LOG") or "warning").lower()
    if name not in LEVELS:
        from dbt.errors import ConfigError

        raise ConfigError(f"unknown log level {name!r} (choose from {', '.join(LEVELS)})")
    return getattr(logging, name.upper())


def setup_logging(level: str | None = None) -> int:
    """Install the rich handler on the `dbt` logger; returns the numeric level."""
    numeric = resolve_level(level)
    logger = logging.getLogger("dbt")
    logger.handlers.clear()
    handler = _RichOnFirstRecord(show_path=numeric <= logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(numeric)
    logger.propagate = False
    return numeric


class _RichOnFirstRecord(logging.Handler):
    """rich's log handler, made when the first record passes the level (most runs log nothing
    at the default level, and need not load rich)."""

    def __init__(self, show_path: bool) -> None:
        super().__init__()
        self.show_path = show_path
        self._rich: logging.Handler | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if self._rich is None:
            from rich.logging import RichHandler

            self._rich = RichHandler(console=stderr_console(), show_path=self.show_path, markup=False)
            self._rich.setFormatter(self.formatter)
        self._rich.emit(record)


def debug_enabled() -> bool:
    return logging.getLogger("dbt").isEnabledFor(logging.DEBUG)
