"""Logging for dbt: the standard `logging` module with a rich handler on stderr.

Loggers are named for pipeline stages (dbt.decode, dbt.interp, dbt.syscall, dbt.elf, ...).
The level comes from --log-level or the DBT_LOG environment variable.
"""

from __future__ import annotations

import logging
import os

from rich.console import Console
from rich.logging import RichHandler

LEVELS = ("debug", "info", "warning", "error", "critical")

#: The console dbt writes its own messages to; stderr, so the guest's stdout stays clean.
stderr_console = Console(stderr=True, highlight=False, soft_wrap=True)


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
    handler = RichHandler(console=stderr_console, show_path=numeric <= logging.DEBUG, markup=False)
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(numeric)
    logger.propagate = False
    return numeric


def debug_enabled() -> bool:
    return logging.getLogger("dbt").isEnabledFor(logging.DEBUG)
