"""ELF loading for riscv64 Linux programs: static, static-PIE and dynamic (PT_INTERP).

runtime.elfheaders reads the headers; every field the loader uses is validated before it touches
guest memory, so a truncated or hostile file gives an ElfLoadError (exit 126), never a traceback.
Segments are copied into guest RAM with bulk slice writes.
"""

from __future__ import annotations

import itertools
import logging
import os
import stat
from dataclasses import dataclass

from dbt.errors import ElfLoadError, GuestFileNotFound
from dbt.ir.state import PAGE_SIZE
from dbt.runtime.elfheaders import ElfFormatError, ProgramHeader, file_header, program_header
from dbt.runtime.memory import (
    PIE_BASE,
    PROT_EXEC,
    PROT_READ,
    PROT_WRITE,
    TASK_SIZE,
    GuestMemory,
    page_down,
    page_up,
)

log = logging.getLogger("dbt.elf")

EM_RISCV = 243
ET_EXEC, ET_DYN = 2, 3
#: e_type's names, for messages.
ELF_TYPES = {0: "ET_NONE", 1: "ET_REL", 2: "ET_EXEC", 3: "ET_DYN", 4: "ET_CORE"}
PT_LOAD, PT_INTERP, PT_PHDR = 1, 3, 6
PF_X, PF_W, PF_R = 1, 2, 4
#: More program headers than this is not a real program.
MAX_PHNUM = 256
MAX_INTERP_PATH = 4096


@dataclass(frozen=True, slots=True)
class Segment:
    vaddr: int
    memsz: int
    offset: int
    filesz: int
    prot: int


@dataclass(frozen=True, slots=True)
class ElfImage:
    """What the loader needs from one ELF file, validated."""

    path: str
    data: bytes
    etype: int
    entry: int
    phoff: int
    phentsize: int
    phnum: int
    segments: tuple[Segment, ...]
    interp: str | None
    phdr_vaddr: int | None
    #: ELF flags (e_flags): float ABI and RVC.
    flags: int


@dataclass(frozen=True, slots=True)
class LoadedImage:
    image: ElfImage
    #: Added to every vaddr of the image (0 for ET_EXEC).
    bias: int
    entry: int
    #: Guest address of the program headers (AT_PHDR).
    phdr: int
    #: First page after the highest segment (where brk starts for the main program).
    end: int


def read_elf(path: str, display: str | None = None) -> ElfImage:
    """Read and validate an ELF file; `display` is the name used in error messages."""
    name = display or path
    try:
        st = os.stat(path)
        if stat.S_ISDIR(st.st_mode):
            raise ElfLoadError(f"{name}: Is a directory")
        if not stat.S_ISREG(st.st_mode):
            # A FIFO or device would block or never end; Linux refuses them too (EACCES).
            raise ElfLoadError(f"{name}: Permission denied (not a regular file)")
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise GuestFileNotFound(f"{name}: No such file or directory") from None
    except IsADirectoryError:
        raise ElfLoadError(f"{name}: Is a directory") from None
    except PermissionError:
        raise ElfLoadError(f"{name}: Permission denied") from None
    except OSError as exc:
        raise ElfLoadError(f"{name}: {exc.strerror}") from None
    return parse_elf(data, name)


def parse_elf(data: bytes, name: str) -> ElfImage:
    if len(data) < 4 or data[:4] != b"\x7fELF":
        raise ElfLoadError(f"{name}: not an ELF file")
    if len(data) < 64:
        raise ElfLoadError(f"{name}: truncated ELF header")
    if data[4] != 2:
        raise ElfLoadError(f"{name}: not a 64-bit ELF file (RISC-V 64 needed)")
    if data[5] != 1:
        raise ElfLoadError(f"{name}: not a little-endian ELF file")
    try:
        header = file_header(data)
        if header.machine != EM_RISCV:
            raise ElfLoadError(f"{name}: ELF for machine {header.machine}, not RISC-V (EM_RISCV)")
        etype = header.type
        if etype not in (ET_EXEC, ET_DYN):
            kind = ELF_TYPES.get(etype, f"{etype:#x}")
            raise ElfLoadError(f"{name}: ELF type {kind} is not an executable")
        phnum, phentsize, phoff = header.phnum, header.phentsize, header.phoff
        if phnum == 0 or phnum > MAX_PHNUM:
            raise ElfLoadError(f"{name}: bad number of program headers ({phnum})")
        if phentsize != 56:
            raise ElfLoadError(f"{name}: bad program header size ({phentsize})")
        if phoff + phnum * phentsize > len(data):
            raise ElfLoadError(f"{name}: truncated program headers")
        segments: list[Segment] = []
        interp = None
        phdr_vaddr = None
        for index in range(phnum):
            ph = program_header(data, header, index)
            if ph.type == PT_LOAD:
                segments.append(_segment(ph, data, name))
            elif ph.type == PT_INTERP:
                interp = _interp_path(ph, data, name)
            elif ph.type == PT_PHDR:
                phdr_vaddr = ph.vaddr
    except ElfFormatError as exc:
        raise ElfLoadError(f"{name}: malformed ELF file ({exc})") from None
    if not segments:
        raise ElfLoadError(f"{name}: no loadable segments")
    if header.entry >= TASK_SIZE:
        raise ElfLoadError(f"{name}: entry point {header.entry:#x} lies outside the guest address space")
    segments.sort(key=lambda s: s.vaddr)
    return ElfImage(
        name, data, etype, header.entry, phoff, phentsize, phnum, tuple(segments), interp, phdr_vaddr,
        header.flags,
    )  # fmt: skip


def _segment(ph: ProgramHeader, data: bytes, name: str) -> Segment:
    vaddr, memsz, offset, filesz = ph.vaddr, ph.memsz, ph.offset, ph.filesz
    if filesz > memsz:
        raise ElfLoadError(f"{name}: segment file size exceeds its memory size")
    if offset + filesz > len(data):
        raise ElfLoadError(f"{name}: truncated file (a segment extends past its end)")
    if vaddr >= TASK_SIZE or memsz > TASK_SIZE or vaddr + memsz > TASK_SIZE:
        raise ElfLoadError(f"{name}: segment at {vaddr:#x} lies outside the guest address space")
    if (vaddr - offset) % PAGE_SIZE:
        raise ElfLoadError(f"{name}: segment offset and address are not congruent modulo the page size")
    flags = ph.flags
    prot = (
        (PROT_READ if flags & PF_R else 0)
        | (PROT_WRITE if flags & PF_W else 0)
        | (PROT_EXEC if flags & PF_X else 0)
    )
    return Segment(vaddr, memsz, offset, filesz, prot)


def _interp_path(ph: ProgramHeader, data: bytes, name: str) -> str:
    offset, size = ph.offset, ph.filesz
    if size == 0 or size > MAX_INTERP_PATH or offset + size > len(data):
        raise ElfLoadError(f"{name}: bad PT_INTERP segment")
    field = data[offset : offset + size]
    if field[-1] != 0:
        raise ElfLoadError(f"{name}: PT_INTERP is not NUL-terminated")
    raw = field.split(b"\0", 1)[0]
    if not raw:
        raise ElfLoadError(f"{name}: empty interpreter path")
    return os.fsdecode(raw)


def load_image(memory: GuestMemory, image: ElfImage, bias: int | None = None) -> LoadedImage:
    """Map the image's segments into guest memory; ET_DYN images go at `bias` or a free range."""
    low = page_down(image.segments[0].vaddr)
    high = page_up(max(s.vaddr + s.memsz for s in image.segments))
    if image.etype == ET_DYN:
        if bias is None:
            base = memory.find_free(high - low)
            if base is None:
                raise ElfLoadError(f"{image.path}: no room for {high - low:#x} bytes in the address space")
            bias = base - low
        if bias + high > TASK_SIZE or bias + low < 0:
            raise ElfLoadError(f"{image.path}: does not fit in the guest address space")
    else:
        bias = 0
        if low == 0:
            raise ElfLoadError(f"{image.path}: a fixed-address segment maps page zero")
    # Pages shared by two segments get the union of their protections, then all data is copied.
    spans = [
        (page_down(seg.vaddr + bias), page_up(seg.vaddr + bias + seg.memsz), seg.prot)
        for seg in image.segments
        if seg.memsz
    ]
    for start, end, prot in _union_of_protections(spans):
        memory.map(start, end - start, prot, name=image.path, offset=_file_offset(image, bias, start))
    for seg in image.segments:
        if seg.filesz:
            memory.poke(seg.vaddr + bias, image.data[seg.offset : seg.offset + seg.filesz])
    phdr = _phdr_address(image, bias)
    log.debug("loaded %s at bias %#x (entry %#x)", image.path, bias, image.entry + bias)
    return LoadedImage(image, bias, image.entry + bias, phdr, high + bias)


def _union_of_protections(spans: list[tuple[int, int, int]]):
    """(start, end, prot) ranges covering the spans, each with the union of the protections of the
    spans over it (work proportional to the number of segments, not of pages)."""
    cuts = sorted({edge for start, end, _ in spans for edge in (start, end)})
    for lo, hi in itertools.pairwise(cuts):
        covering = [prot for start, end, prot in spans if start <= lo and hi <= end]
        if covering:
            prot = 0
            for p in covering:
                prot |= p
            yield lo, hi, prot


def _file_offset(image: ElfImage, bias: int, addr: int) -> int:
    """File offset mapped at a page of the image (for /proc/self/maps), as a kernel mapping has it."""
    for seg in image.segments:
        base = page_down(seg.vaddr + bias)
        if base <= addr < page_up(seg.vaddr + bias + seg.memsz):
            return page_down(seg.offset) + addr - base
    return 0


def _phdr_address(image: ElfImage, bias: int) -> int:
    if image.phdr_vaddr is not None:
        return image.phdr_vaddr + bias
    for seg in image.segments:
        if seg.offset <= image.phoff < seg.offset + seg.filesz:
            return seg.vaddr + (image.phoff - seg.offset) + bias
    return 0


def main_bias(image: ElfImage) -> int | None:
    """Load bias of a position-independent main program (None: fixed address)."""
    if image.etype != ET_DYN:
        return None
    return PIE_BASE - page_down(image.segments[0].vaddr)
