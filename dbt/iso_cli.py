"""`dbt iso ls` and `dbt iso extract`: look into an ISO 9660 image (an installer ISO, say) and
take files out of it, such as a kernel and an initrd for `dbt system`."""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Annotated

import typer

from dbt.errors import DbtError

iso_app = typer.Typer(no_args_is_help=True, help="ISO 9660 images: list directories and extract files.")

IsoArgument = Annotated[str, typer.Argument(help="The ISO image.")]


def _fail(exc: DbtError) -> None:
    sys.stderr.write(f"dbt: error: {exc}\n")
    raise typer.Exit(exc.exit_status)


@iso_app.command("ls")
def list_directory(
    iso: IsoArgument,
    path: Annotated[str, typer.Argument(help="A directory (or file) in the image.")] = "/",
    long: Annotated[
        bool, typer.Option("-l", "--long", help="Sizes, and the targets of symbolic links.")
    ] = False,
) -> None:
    """List a directory of the image (directories end in '/')."""
    from dbt.runtime.system.iso9660 import IsoImage

    try:
        with IsoImage(iso) as image:
            entries = image.list(path)
    except DbtError as exc:
        _fail(exc)
    for entry in entries:
        name = entry.name + ("/" if entry.is_dir else "")
        if long:
            target = f" -> {entry.link}" if entry.link else ""
            typer.echo(f"{entry.size:>12}  {name}{target}")
        else:
            typer.echo(name)


@iso_app.command()
def extract(
    iso: IsoArgument,
    path: Annotated[str, typer.Argument(help="The file in the image.")],
    output: Annotated[
        str | None,
        typer.Option(
            "-o", "--output", help="Where to write it ('-': standard output; default: its name here)."
        ),
    ] = None,
) -> None:
    """Copy a file out of the image."""
    from dbt.runtime.system.iso9660 import IsoImage

    target = output or os.path.basename(path.rstrip("/"))
    try:
        with IsoImage(iso) as image:
            if target == "-":
                sys.stdout.flush()
                image.extract(path, sys.stdout.buffer)
                sys.stdout.buffer.flush()
                return
            partial = f"{target}.part"
            try:
                with open(partial, "wb") as out:
                    image.extract(path, out)
                os.replace(partial, target)
            except OSError as exc:
                with contextlib.suppress(OSError):
                    os.unlink(partial)
                sys.stderr.write(f"dbt: error: cannot write {target}: {exc.strerror}\n")
                raise typer.Exit(1) from None
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(partial)
                raise
    except DbtError as exc:
        _fail(exc)
