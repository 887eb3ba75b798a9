"""ELF symbol lookup for tools and the API (pyelftools, loaded only when asked)."""

from __future__ import annotations

import io


def lookup_symbol(data: bytes, name: str) -> int | None:
    from elftools.elf.elffile import ELFFile

    try:
        elf = ELFFile(io.BytesIO(data))
        for section_name in (".symtab", ".dynsym"):
            section = elf.get_section_by_name(section_name)
            if section is None:
                continue
            for symbol in section.get_symbol_by_name(name) or ():
                return int(symbol["st_value"])
    except Exception:  # a damaged symbol table only means the symbol is not found
        return None
    return None
