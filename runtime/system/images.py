"""Loading firmware, kernels and initrds into the virt machine's physical memory, as QEMU's
virt machine places them.
Stage: runtime (system mode).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from dbt.errors import VmError
from dbt.runtime.elfheaders import ElfFormatError, file_header, is_elf64_le, program_header, symbol_values

MIB = 1 << 20
EM_RISCV = 243
PT_LOAD = 1
#: Where Debian's opensbi package puts the generic platform's firmware.
OPENSBI_DIR = "/usr/lib/riscv64-linux-gnu/opensbi/generic"


@dataclass(frozen=True)
class Loaded:
    """An image in memory: its lowest and highest (exclusive) addresses and its entry point;
    `symbols` holds tohost/fromhost when an ELF has them (HTIF)."""

    start: int
    end: int
    entry: int
    symbols: dict


def default_bios() -> str:
    path = os.path.join(OPENSBI_DIR, "fw_dynamic.bin")
    if not os.path.isfile(path):
        raise VmError(
            f"--bios default needs OpenSBI's {path}: install the Debian/Ubuntu package 'opensbi' "
            "(or give --bios FILE, or --bios none)"
        )
    return path


def read_file(path: str, what: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise VmError(f"cannot read the {what} {path}: {exc.strerror}") from None


def load_image(memory, path: str, what: str, raw_address: int, ram: tuple[int, int]) -> Loaded:
    """Load an ELF by its physical addresses, or a raw image at `raw_address`."""
    data = read_file(path, what)
    ram_start, ram_end = ram
    if data[:4] != b"\x7fELF":
        if raw_address + len(data) > ram_end:
            raise VmError(f"the {what} {path} ({len(data)} bytes) does not fit in RAM at {raw_address:#x}")
        memory.poke(raw_address, data)
        return Loaded(raw_address, raw_address + len(data), raw_address, {})
    try:
        header = file_header(data)
        if not is_elf64_le(header) or header.machine != EM_RISCV:
            raise VmError(f"the {what} {path} is not a RISC-V 64 ELF")
        low, high = None, 0
        for index in range(header.phnum):
            segment = program_header(data, header, index)
            if segment.type != PT_LOAD or segment.memsz == 0:
                continue
            address, size = segment.paddr, segment.memsz
            if address < ram_start or address + size > ram_end:
                raise VmError(
                    f"the {what} {path} has a segment at {address:#x}-{address + size:#x}, outside RAM "
                    f"({ram_start:#x}-{ram_end:#x})"
                )
            if segment.filesz > size or segment.offset + segment.filesz > len(data):
                raise ElfFormatError("a segment's contents lie outside the file")
            memory.poke(address, data[segment.offset : segment.offset + segment.filesz])
            memory.poke(address + segment.filesz, bytes(size - segment.filesz))
            low = address if low is None else min(low, address)
            high = max(high, address + size)
        if low is None:
            raise VmError(f"the {what} {path} has nothing to load")
        return Loaded(low, high, header.entry, symbol_values(data, header, ("tohost", "fromhost")))
    except ElfFormatError as exc:
        raise VmError(f"the {what} {path} is not a loadable ELF: {exc}") from None


def kernel_start(firmware_end: int) -> int:
    """Where a raw kernel goes after the firmware (QEMU: the next 2 MiB boundary on RV64)."""
    return -(-firmware_end // (2 * MIB)) * (2 * MIB)


def initrd_start(kernel_entry: int, ram_size: int) -> int:
    """Far enough above the kernel that its decompression and early allocations miss it (QEMU's
    rule: half of RAM, at most 128 MiB, above the kernel)."""
    return kernel_entry + min(ram_size // 2, 128 * MIB)


def fdt_address(ram_base: int, ram_size: int, fdt_size: int) -> int:
    """QEMU's place for the device tree: the top of RAM below 3 GiB, aligned down to 2 MiB."""
    top = min(ram_base + ram_size, 3072 * MIB)
    return (top - fdt_size) // (2 * MIB) * (2 * MIB)
