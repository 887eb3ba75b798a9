"""`dbt cache info` and `dbt cache clear`: look at and empty dbt's on-disk caches."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated

import typer

cache_app = typer.Typer(
    no_args_is_help=True,
    help="The on-disk caches: the compiled interpreter, the JIT's op library and compiled regions.",
)

CacheDirOption = Annotated[
    str | None, typer.Option("--cache-dir", help="Cache directory (default ~/.cache/dbt; DBT_CACHE_DIR).")
]


def _directory(cache_dir: str | None) -> Path:
    from dbt.backends.diskcache import cache_dir as default_dir
    from dbt.backends.diskcache import set_cache_dir
    from dbt.config import Config

    chosen = cache_dir or Config.from_env().cache_dir
    if chosen:
        set_cache_dir(chosen)
    return default_dir()


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _human(size: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError


@cache_app.command()
def info(cache_dir: CacheDirOption = None) -> None:
    """Where the caches are and how big they are."""
    from dbt.backends.jit.l2cache import RegionCache

    base = _directory(cache_dir)
    regions = RegionCache(base / "regions").info()
    kernels = sorted(base.glob("interp-*.o")) if base.is_dir() else []
    op_libraries = sorted(base.glob("jit-ops-*")) if base.is_dir() else []
    typer.echo(f"cache directory: {base}")
    typer.echo(
        f"compiled regions: {regions.entries:,} ({_human(regions.size)} of a {_human(regions.cap)} cap, "
        "least recently used evicted first)"
    )
    typer.echo(f"compiled interpreters: {len(kernels)} ({_human(sum(_size(p) for p in kernels))})")
    ops = sum(len(list(p.glob("*.bc"))) for p in op_libraries)
    size = _human(sum(_size(p) for p in op_libraries))
    typer.echo(f"JIT op libraries: {len(op_libraries)} with {ops:,} ops ({size})")


@cache_app.command()
def clear(
    cache_dir: CacheDirOption = None,
    all_: Annotated[
        bool,
        typer.Option(
            "--all", help="Also the compiled interpreter and op library (the next run rebuilds them)."
        ),
    ] = False,
) -> None:
    """Delete the compiled regions (and with --all everything dbt compiled)."""
    from dbt.backends.jit.l2cache import RegionCache

    base = _directory(cache_dir)
    removed = RegionCache(base / "regions").clear()
    typer.echo(f"removed {removed:,} compiled regions")
    if all_ and base.is_dir():
        kernels = list(base.glob("interp-*.o"))
        for path in kernels:
            path.unlink(missing_ok=True)
        libraries = list(base.glob("jit-ops-*"))
        for path in libraries:
            shutil.rmtree(path, ignore_errors=True)
        typer.echo(f"removed {len(kernels)} compiled interpreters and {len(libraries)} op libraries")
