"""dbt's on-disk cache directory and atomic writes into it.

DBT_CACHE_DIR, else $XDG_CACHE_HOME/dbt, else the platform's user cache directory. Entries are
written to a temporary file and renamed into place, so concurrent dbt processes never see a
half-written entry.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

_override: Path | None = None


def set_cache_dir(path: str | os.PathLike[str] | None) -> None:
    """Use `path` instead of the default (the --cache-dir option)."""
    global _override
    _override = Path(path) if path else None


def cache_dir() -> Path:
    if _override is not None:
        return _override
    explicit = os.environ.get("DBT_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return Path(xdg) / "dbt"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "dbt"
    return Path.home() / ".cache" / "dbt"


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
