"""ISO 9660 images (pycdlib): list directories and extract files, so a kernel and an initrd can
be taken from an installer ISO, and check an image before `--cdrom` attaches it.

Names are shown as the richest naming the image carries: Rock Ridge (POSIX names, symlinks),
then Joliet (Unicode names), then plain ISO 9660 (upper case, ";1" versions dropped, matched
without regard to case). Anything pycdlib cannot parse, or that breaks it, is an Iso9660Error:
a hostile image gets a one-line message, never a traceback.
Stage: runtime (system mode).
"""

from __future__ import annotations

import contextlib
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from dbt.errors import Iso9660Error

#: What pycdlib raises, or lets escape, on a malformed image.
_PARSE_ERRORS = (
    ValueError,
    struct.error,
    IndexError,
    KeyError,
    UnicodeError,
    RecursionError,
    AttributeError,
    TypeError,
    OverflowError,
    ZeroDivisionError,
)


@dataclass(frozen=True, slots=True)
class IsoEntry:
    """One directory entry as shown to users."""

    name: str
    is_dir: bool
    size: int
    #: A Rock Ridge symbolic link's target ("" otherwise).
    link: str = ""


@contextlib.contextmanager
def _parsing(path: str) -> Iterator[None]:
    from pycdlib.pycdlibexception import PyCdlibException

    try:
        yield
    except Iso9660Error:
        raise
    except (PyCdlibException, *_PARSE_ERRORS) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise Iso9660Error(f"{path}: not a valid ISO 9660 image ({detail})") from None


#: Where the primary volume descriptor is, and its volume size and block size fields.
PVD_OFFSET, PVD_SPACE_SIZE, PVD_BLOCK_SIZE = 16 * 2048, 80, 128


def _check_size(file: BinaryIO, path: str) -> None:
    """An image shorter than its primary volume descriptor says is truncated (pycdlib would
    read some of it, and cut files short at its end without a word)."""
    file.seek(PVD_OFFSET)
    pvd = file.read(2048)
    if len(pvd) < 2048 or pvd[:6] != b"\x01CD001":
        return  # pycdlib says what is wrong
    blocks, block_size = (
        struct.unpack_from("<I", pvd, PVD_SPACE_SIZE)[0],
        struct.unpack_from("<H", pvd, PVD_BLOCK_SIZE)[0],
    )
    size = os.fstat(file.fileno()).st_size
    if size < blocks * block_size:
        raise Iso9660Error(f"{path}: the image is truncated ({size} of {blocks * block_size} bytes)")
    file.seek(0)


class IsoImage:
    """An open ISO 9660 image. Use as a context manager, or close()."""

    def __init__(self, path: str) -> None:
        import pycdlib

        self.path = path
        try:
            self._file = open(path, "rb")  # noqa: SIM115 (closed by close())
        except OSError as exc:
            raise Iso9660Error(f"cannot open the ISO image {path}: {exc.strerror}") from None
        self._iso = pycdlib.PyCdlib()
        try:
            with _parsing(path):
                _check_size(self._file, path)
                self._iso.open_fp(self._file)
                if self._iso.has_rock_ridge():
                    self.naming = "rr_path"
                elif self._iso.has_joliet():
                    self.naming = "joliet_path"
                else:
                    self.naming = "iso_path"
        except BaseException:
            self._file.close()
            raise

    def __enter__(self) -> IsoImage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._iso.close()
        self._file.close()

    # ---- names ----
    def _display(self, record) -> str:
        if self.naming == "rr_path" and record.rock_ridge is not None:
            return record.rock_ridge.name().decode("utf-8", "replace")
        identifier = record.file_identifier()
        if self.naming == "joliet_path":
            return identifier.decode("utf-16-be", "replace")
        name = identifier.decode("ascii", "replace")
        name = name.split(";", 1)[0]
        return name[:-1] if name.endswith(".") and not record.is_dir() else name

    def _native(self, record) -> str:
        """The record's name as a component of a pycdlib path of this image's naming."""
        if self.naming == "rr_path":
            return self._display(record)
        if self.naming == "joliet_path":
            return record.file_identifier().decode("utf-16-be")
        return record.file_identifier().decode("ascii")

    def _children(self, native_dir: str) -> list[tuple[str, object]]:
        out = []
        for record in self._iso.list_children(**{self.naming: native_dir}):
            if record is None or record.is_dot() or record.is_dotdot():
                continue
            out.append((self._display(record), record))
        return out

    def _resolve(self, path: str) -> tuple[str, object | None]:
        """The pycdlib path and record of a user's path ('/' is the root, record None)."""
        native = ""
        record = None
        for part in [p for p in path.split("/") if p]:
            if record is not None and not record.is_dir():
                raise Iso9660Error(f"{self.path}: {path}: not a directory")
            children = self._children(native or "/")
            found = [r for name, r in children if name == part]
            if not found and self.naming == "iso_path":
                found = [r for name, r in children if name.upper() == part.upper()]
            if not found:
                raise Iso9660Error(f"{self.path}: {path}: no such file or directory in the image")
            record = found[0]
            native = f"{native}/{self._native(record)}"
        return native or "/", record

    # ---- what the commands do ----
    def list(self, path: str = "/") -> list[IsoEntry]:
        """The entries of directory `path` (a file's own entry for a file), sorted by name."""
        with _parsing(self.path):
            native, record = self._resolve(path)
            if record is not None and not record.is_dir():
                return [self._entry(self._display(record), record)]
            return sorted((self._entry(name, r) for name, r in self._children(native)), key=lambda e: e.name)

    def _entry(self, name: str, record) -> IsoEntry:
        link = ""
        if self.naming == "rr_path" and record.rock_ridge is not None and record.rock_ridge.is_symlink():
            link = record.rock_ridge.symlink_path().decode("utf-8", "replace")
        return IsoEntry(name, record.is_dir(), 0 if record.is_dir() else record.get_data_length(), link)

    def extract(self, path: str, out: BinaryIO) -> int:
        """Write file `path` of the image to `out`; returns its size."""
        with _parsing(self.path):
            native, record = self._resolve(path)
            if record is None or record.is_dir():
                raise Iso9660Error(f"{self.path}: {path}: is a directory")
            entry = self._entry("", record)
            if entry.link:
                raise Iso9660Error(f"{self.path}: {path}: a symbolic link to {entry.link}")
            counted = _Counting(out)
            self._iso.get_file_from_iso_fp(counted, **{self.naming: native})
            if counted.written != entry.size:
                raise Iso9660Error(
                    f"{self.path}: {path}: the image ends inside the file "
                    f"({counted.written} of {entry.size} bytes)"
                )
            return entry.size


class _Counting:
    """A writer that counts what passes through it (pycdlib copies a file cut short by the
    image's end without a word)."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.written = 0

    def write(self, data: bytes) -> int:
        self.out.write(data)
        self.written += len(data)
        return len(data)


def check_iso(path: str) -> None:
    """Raise Iso9660Error unless `path` is an ISO 9660 image pycdlib can read."""
    with IsoImage(path):
        pass
