"""runtime.elfheaders against pyelftools (the reference): the file header, every program header
and the symbols the system loader looks up, on the project's guests, Debian's U-Boot and host
programs; and what it does with files that end too soon."""

from __future__ import annotations

import os
import sys

import pytest
from elftools.elf.elffile import ELFFile
from guestbuild import available_bare_toolchains, available_toolchains, build_bare, build_guest

from dbt.runtime.elfheaders import ElfFormatError, file_header, is_elf64_le, program_header, symbol_values

UBOOT = "/usr/lib/u-boot/qemu-riscv64_smode/uboot.elf"


def _files() -> list[str]:
    files = [str(build_guest("hello", available_toolchains()[0]))]
    files.append(str(build_bare("htif", available_bare_toolchains()[0], ("start.S", "htif.c"))))
    files.append(os.path.realpath(sys.executable))
    if os.path.exists(UBOOT):
        files.append(UBOOT)
    return files


@pytest.mark.parametrize("index", range(4))
def test_headers_and_symbols_match_pyelftools(index):
    files = _files()
    if index >= len(files):
        pytest.skip("Debian's u-boot-qemu is not installed")
    path = files[index]
    with open(path, "rb") as f:
        data = f.read()
    header = file_header(data)
    assert is_elf64_le(header)
    with open(path, "rb") as f:
        reference = ELFFile(f)
        ref = reference.header
        assert (header.entry, header.phoff, header.phnum, header.phentsize, header.flags) == (
            ref["e_entry"], ref["e_phoff"], ref["e_phnum"], ref["e_phentsize"], ref["e_flags"],
        )  # fmt: skip
        for number in range(header.phnum):
            ours, theirs = program_header(data, header, number), reference.get_segment(number).header
            assert (ours.offset, ours.vaddr, ours.paddr, ours.filesz, ours.memsz, ours.flags) == (
                theirs["p_offset"], theirs["p_vaddr"], theirs["p_paddr"], theirs["p_filesz"],
                theirs["p_memsz"], theirs["p_flags"],
            )  # fmt: skip
        names = ("tohost", "fromhost", "main", "_start")
        expected = {}
        table = reference.get_section_by_name(".symtab")
        for name in names:
            found = table.get_symbol_by_name(name) if table is not None else None
            if found:
                expected[name] = found[0]["st_value"]
    assert symbol_values(data, header, names) == expected
    if "htif" in path:
        assert {"tohost", "fromhost"} <= expected.keys()


def test_truncated_files():
    data = build_guest("hello", available_toolchains()[0]).read_bytes()
    with pytest.raises(ElfFormatError, match="truncated ELF header"):
        file_header(data[:63])
    header = file_header(data)
    cut = data[: header.phoff + header.phentsize + 10]  # the second program header is cut
    program_header(cut, header, 0)
    with pytest.raises(ElfFormatError, match="truncated program headers"):
        program_header(cut, header, 1)
    assert symbol_values(cut, header, ("main",)) == {}  # no section table in the file: no symbols
