"""ELF64 little-endian headers, read with `struct`: the file header, the program headers and the
values of named symbols.

The loaders (runtime/elf.py for Linux programs, runtime/system/images.py for firmware and
kernels) validate every field they use; this module only makes sure that what it reads lies in
the file, raising ElfFormatError otherwise. (pyelftools did this before: importing it took 30 ms
of every dbt start, a tenth of U-Boot's time to its prompt.)
Stage: runtime.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

ELFCLASS64, ELFDATA2LSB = 2, 1
SHT_SYMTAB = 2

_FILE = struct.Struct("<16sHHIQQQIHHHHHH")
_PROGRAM = struct.Struct("<IIQQQQQQ")
_SECTION = struct.Struct("<IIQQQQIIQQ")
_SYMBOL = struct.Struct("<IBBHQQ")


class ElfFormatError(ValueError):
    """A header or table of the file lies (partly) outside it."""


@dataclass(frozen=True, slots=True)
class FileHeader:
    ident: bytes
    type: int
    machine: int
    entry: int
    phoff: int
    shoff: int
    flags: int
    phentsize: int
    phnum: int
    shentsize: int
    shnum: int


@dataclass(frozen=True, slots=True)
class ProgramHeader:
    type: int
    flags: int
    offset: int
    vaddr: int
    paddr: int
    filesz: int
    memsz: int


def file_header(data: bytes) -> FileHeader:
    if len(data) < _FILE.size:
        raise ElfFormatError("truncated ELF header")
    ident, etype, machine, _, entry, phoff, shoff, flags, _, phentsize, phnum, shentsize, shnum, _ = (
        _FILE.unpack_from(data)
    )
    return FileHeader(ident, etype, machine, entry, phoff, shoff, flags, phentsize, phnum, shentsize, shnum)


def is_elf64_le(header: FileHeader) -> bool:
    return header.ident[:4] == b"\x7fELF" and header.ident[4] == ELFCLASS64 and header.ident[5] == ELFDATA2LSB


def program_header(data: bytes, header: FileHeader, index: int) -> ProgramHeader:
    """Program header `index` (0 <= index < header.phnum)."""
    if header.phentsize < _PROGRAM.size:
        raise ElfFormatError(f"bad program header size ({header.phentsize})")
    at = header.phoff + index * header.phentsize
    if at + _PROGRAM.size > len(data):
        raise ElfFormatError("truncated program headers")
    ptype, flags, offset, vaddr, paddr, filesz, memsz, _ = _PROGRAM.unpack_from(data, at)
    return ProgramHeader(ptype, flags, offset, vaddr, paddr, filesz, memsz)


def symbol_values(data: bytes, header: FileHeader, names: tuple[str, ...]) -> dict[str, int]:
    """The values of those of `names` that the symbol table (.symtab) defines. Symbols are
    optional: a file without a table, or with one that lies outside it, has none."""
    sections = [_section(data, header, index) for index in range(header.shnum)]
    found: dict[str, int] = {}
    for kind, _, offset, size, link, entsize in filter(None, sections):
        if kind != SHT_SYMTAB or entsize != _SYMBOL.size or link >= len(sections) or sections[link] is None:
            continue
        strings_at, strings_size = sections[link][2], sections[link][3]
        strings = data[strings_at : strings_at + strings_size]
        # (a name may be the tail of a longer one: linkers merge string tails)
        wanted = {name.encode(): name for name in names if name.encode() + b"\0" in strings}
        if not wanted or offset + size > len(data):
            continue
        for name_at, _, _, _, value, _ in _SYMBOL.iter_unpack(data[offset : offset + size - size % entsize]):
            end = strings.find(b"\0", name_at)
            name = wanted.get(strings[name_at:end]) if end > 0 else None
            if name is not None and name not in found:
                found[name] = value
    return found


def _section(data: bytes, header: FileHeader, index: int) -> tuple[int, int, int, int, int, int] | None:
    """(type, flags, offset, size, link, entsize) of section `index`, or None if it lies outside
    the file."""
    if header.shentsize < _SECTION.size:
        return None
    at = header.shoff + index * header.shentsize
    if at + _SECTION.size > len(data):
        return None
    _, kind, flags, _, offset, size, link, _, _, entsize = _SECTION.unpack_from(data, at)
    if offset + size > len(data):
        return None
    return kind, flags, offset, size, link, entsize
