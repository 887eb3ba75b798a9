"""Guest memory for user mode: numpy-backed RAM, a page permission table and the mappings.

The guest address space is [0, 2**38) (the user half of Sv39, as a riscv64 Linux kernel gives
it). RAM is one lazily committed host reservation of that size, so a guest address is an index
into `ram`; `perm` holds one byte of PERM_* bits per 4 KiB page and is what every access of
every tier checks. `Vma` records keep what the permission table cannot: mapping boundaries,
names and flags, for munmap, mprotect, mremap and /proc/self/maps.

System calls move data with `read_slice`/`write_slice`/`view` (bulk numpy slices, never per-byte Python).
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from dbt.errors import GuestFault
from dbt.ir.state import PAGE_SHIFT, PAGE_SIZE, PERM_MAPPED, PERM_PAIR_SHIFT, PERM_R, PERM_W, PERM_X
from dbt.runtime import hostmem

log = logging.getLogger("dbt.memory")

#: Size of the guest address space: the user half of Sv39.
TASK_SIZE = 1 << 38
#: Top of the initial stack (the top page stays unmapped).
STACK_TOP = TASK_SIZE - PAGE_SIZE
#: Default RLIMIT_STACK.
STACK_SIZE = 8 << 20
#: mmap allocations grow down from here (below the stack and its growth gap).
MMAP_TOP = STACK_TOP - (256 << 20)
#: Where a position-independent main program is loaded (Linux's ELF_ET_DYN_BASE: 2/3 of TASK_SIZE).
PIE_BASE = 0x2AAAAAB000
#: Lowest address mmap hands out without MAP_FIXED (vm.mmap_min_addr).
MMAP_MIN = 0x10000

PROT_READ, PROT_WRITE, PROT_EXEC = 1, 2, 4
#: The pair bits of the permission table.
PAIR_BITS = (PERM_R | PERM_W) << PERM_PAIR_SHIFT


def prot_to_perm(prot: int) -> int:
    """PERM_* bits for a PROT_* value (write implies read, as on RISC-V page tables)."""
    perm = PERM_MAPPED
    if prot & PROT_READ:
        perm |= PERM_R
    if prot & PROT_WRITE:
        perm |= PERM_W | PERM_R
    if prot & PROT_EXEC:
        perm |= PERM_X
    return perm


def page_down(addr: int) -> int:
    return addr & ~(PAGE_SIZE - 1)


def page_up(addr: int) -> int:
    return (addr + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)


def _is_file(vma: Vma) -> bool:
    return bool(vma.name) and not vma.name.startswith("[")


@dataclass(slots=True)
class Vma:
    """One guest mapping [start, end) with its protection and what it maps."""

    start: int
    end: int
    prot: int
    #: "[stack]", "[heap]", a file path, or "" for anonymous memory.
    name: str = ""
    #: File offset of `start` for file mappings.
    offset: int = 0
    shared: bool = False
    #: The host maps the file at these pages itself (MAP_SHARED, or MAP_PRIVATE whose dropped
    #: pages read the file again), not a copy of it in the reservation's anonymous memory.
    backed: bool = False


class GuestMemory:
    """The guest's address space: RAM, the permission table and the list of mappings."""

    def __init__(self, size: int = TASK_SIZE) -> None:
        self.size = size
        #: Guest RAM: guest address == index. The reservation lives as long as this array does.
        self.ram = np.frombuffer(hostmem.reserve(size), dtype=np.uint8)
        self._host_base = self.ram.__array_interface__["data"][0]
        #: One byte of PERM_* bits per guest page.
        self.perm = np.zeros(size >> PAGE_SHIFT, dtype=np.uint8)
        #: The same bytes, indexed as Python ints (a numpy scalar per look-up is slower).
        self._perm_bytes = memoryview(self.perm)
        self._ram_bytes = memoryview(self.ram)
        self._vmas: list[Vma] = []
        #: Called with (start, end) when executable pages are unmapped or lose PROT_EXEC, so
        #: decoded blocks from them are dropped.
        self.on_code_change: list = []
        #: System mode: called with (addr, length) when a write from Python (a device's DMA, an
        #: emulated store) finds a page without PERM_W; returns True when it lifted its own
        #: write protection of a page of decoded code, so the write may go on.
        self.on_protected_write: Callable[[int, int], bool] | None = None

    # ---- mappings ----
    @property
    def vmas(self) -> list[Vma]:
        return list(self._vmas)

    def is_free(self, start: int, length: int) -> bool:
        end = start + length
        if start < 0 or end > self.size:
            return False
        i = bisect.bisect_right([v.start for v in self._vmas], start) - 1
        for vma in self._vmas[max(i, 0) :]:
            if vma.start >= end:
                break
            if vma.end > start:
                return False
        return True

    def find_free(self, length: int, top: int = MMAP_TOP) -> int | None:
        """Highest page-aligned gap of `length` bytes below `top`, as Linux's top-down allocator."""
        length = page_up(length)
        ceiling = top
        for vma in reversed(self._vmas):
            if vma.start >= ceiling:
                continue
            if vma.end <= ceiling - length:
                return ceiling - length
            ceiling = min(ceiling, vma.start)
        if ceiling - length >= MMAP_MIN:
            return ceiling - length
        return None

    def map(
        self,
        start: int,
        length: int,
        prot: int,
        name: str = "",
        offset: int = 0,
        shared: bool = False,
        backed: bool = False,
    ) -> None:
        """Map [start, start+length) zero-filled (replacing whatever was there, as MAP_FIXED).
        With `backed`, the caller has already put a host file mapping there (after unmap)."""
        start, end = page_down(start), page_up(start + length)
        if start < 0 or end > self.size:
            raise GuestFault(start, f"mapping {start:#x}-{end:#x} is outside the guest address space")
        self.unmap(start, end - start)
        vma = Vma(start, end, prot, name, offset, shared, backed)
        bisect.insort(self._vmas, vma, key=lambda v: v.start)
        self._set_perm(start, end, prot_to_perm(prot))
        self._merge()

    def unmap(self, start: int, length: int) -> None:
        """Remove every mapping in the range; its pages read as zero if mapped again."""
        start, end = page_down(start), page_up(start + length)
        touched = self._split(start, end)
        if not touched:
            return
        had_code = False
        kept = []
        for vma in self._vmas:
            if start <= vma.start and vma.end <= end:
                had_code |= bool(vma.prot & PROT_EXEC)
                self._drop_pages(vma)
            else:
                kept.append(vma)
        self._vmas = kept
        self._set_perm(start, end, 0)
        if had_code:
            self._code_changed(start, end)

    def protect(self, start: int, length: int, prot: int) -> bool:
        """mprotect: False (ENOMEM) if part of the range is not mapped."""
        start, end = page_down(start), page_up(start + length)
        if not self._fully_mapped(start, end):
            return False
        self._split(start, end)
        lost_exec = False
        for vma in self._vmas:
            if start <= vma.start and vma.end <= end:
                lost_exec |= bool(vma.prot & PROT_EXEC) and not prot & PROT_EXEC
                vma.prot = prot
        self._set_perm(start, end, prot_to_perm(prot))
        self._merge()
        if lost_exec:
            self._code_changed(start, end)
        return True

    def _set_perm(self, start: int, end: int, perm: int) -> None:
        """Set the permission bytes of the pages of [start, end) and the pair bits (PERM_*_PAIR)
        of those pages and of the page before, whose pair bits describe its next page too."""
        first, stop = start >> PAGE_SHIFT, end >> PAGE_SHIFT
        table = self.perm
        table[first:stop] = perm
        lo, hi = max(first - 1, 0), min(stop, len(table) - 1)
        if lo < hi:
            base = table[lo:hi] & np.uint8(~PAIR_BITS & 0xFF)
            both = table[lo:hi] & table[lo + 1 : hi + 1] & (PERM_R | PERM_W)
            table[lo:hi] = base | (both << PERM_PAIR_SHIFT)

    def vma_at(self, addr: int) -> Vma | None:
        i = bisect.bisect_right([v.start for v in self._vmas], addr) - 1
        if i >= 0 and self._vmas[i].start <= addr < self._vmas[i].end:
            return self._vmas[i]
        return None

    def _fully_mapped(self, start: int, end: int) -> bool:
        if start < 0 or end > self.size or start >= end:
            return start == end
        return bool(np.all(self.perm[start >> PAGE_SHIFT : end >> PAGE_SHIFT] & PERM_MAPPED))

    def _split(self, start: int, end: int) -> bool:
        """Split mappings at start and end so the range is made of whole Vmas; True if any overlap."""
        touched = False
        result: list[Vma] = []
        for vma in self._vmas:
            if vma.end <= start or vma.start >= end:
                result.append(vma)
                continue
            touched = True
            for lo, hi in ((vma.start, start), (max(vma.start, start), min(vma.end, end)), (end, vma.end)):
                if lo < hi and vma.start <= lo and hi <= vma.end:
                    offset = vma.offset + (lo - vma.start) if _is_file(vma) else 0
                    result.append(Vma(lo, hi, vma.prot, vma.name, offset, vma.shared, vma.backed))
        self._vmas = result
        return touched

    def _merge(self) -> None:
        """Join adjacent mappings of the same kind, as Linux does (mremap then sees one mapping)."""
        merged: list[Vma] = []
        for vma in self._vmas:
            last = merged[-1] if merged else None
            if (
                last is not None
                and last.end == vma.start
                and (last.prot, last.name, last.shared, last.backed)
                == (vma.prot, vma.name, vma.shared, vma.backed)
                and (not _is_file(last) or last.offset + (last.end - last.start) == vma.offset)
            ):
                last.end = vma.end
            else:
                merged.append(vma)
        self._vmas = merged

    def _drop_pages(self, vma: Vma) -> None:
        # Host file mappings give way to fresh anonymous pages: discarding the pages of a private
        # one would read the file again, not zeros.
        if (vma.shared or vma.backed) and hostmem.map_anonymous_fixed(
            self._host_base + vma.start, vma.end - vma.start
        ):
            return
        self.zero(vma.start, vma.end - vma.start)

    def zero(self, start: int, length: int) -> None:
        """Make a range read as zeros, giving its host pages back where they are whole (in a
        private host file mapping, a `backed` one, the pages read the file again instead, as
        Linux's MADV_DONTNEED has them)."""
        end = start + length
        host_lo = -(-start // hostmem.HOST_PAGE) * hostmem.HOST_PAGE
        host_hi = end // hostmem.HOST_PAGE * hostmem.HOST_PAGE
        if host_lo < host_hi and hostmem.discard(self._host_base + host_lo, host_hi - host_lo):
            self.ram[start:host_lo] = 0
            self.ram[host_hi:end] = 0
        else:
            self.ram[start:end] = 0

    def _code_changed(self, start: int, end: int) -> None:
        for callback in self.on_code_change:
            callback(start, end)

    def host_pointer(self, addr: int) -> int:
        """The host address of guest address `addr`, unchecked: for host calls on whole mappings
        (mprotect, mremap and msync of the pages behind guest mappings)."""
        return self._host_base + addr

    def map_file_shared(self, start: int, length: int, fd: int, offset: int, writable: bool) -> bool:
        """Back [start, start+length) with a MAP_SHARED host mapping of the file, if the host allows."""
        return hostmem.map_file_shared(self._host_base + start, page_up(length), fd, offset, writable)

    def map_anonymous_shared(self, start: int, length: int) -> bool:
        """Back [start, start+length) with shared zero pages on the host, if the host allows."""
        return hostmem.map_anonymous_shared(self._host_base + start, page_up(length))

    # ---- checked bulk access (the only way the Python side touches guest data) ----
    def check(self, addr: int, length: int, need: int) -> bool:
        if length <= 0:
            return length == 0
        if addr < 0 or addr + length > self.size:
            return False
        first, last = addr >> PAGE_SHIFT, (addr + length - 1) >> PAGE_SHIFT
        if first == last:  # most device accesses: a descriptor, a page (np.all costs 3 us)
            return self._perm_bytes[first] & need == need
        return bool(np.all((self.perm[first : last + 1] & need) == need))

    def view(self, addr: int, length: int, writable: bool = False) -> np.ndarray:
        """A zero-copy numpy view of guest memory; raises GuestFault if not accessible."""
        if not self._accessible(addr, length, writable):
            raise GuestFault(addr)
        return self.ram[addr : addr + length]

    def views(self, ranges: list[tuple[int, int]], writable: bool = False) -> list[memoryview | np.ndarray]:
        """Zero-copy views of several guest ranges (a device's buffers, for preadv/pwritev),
        as view() checks them: each within one page is looked up here at once (a request of a
        1 MiB direct read has 256 of them: view() costs 0.8 us each)."""
        need = PERM_W if writable else PERM_R
        perm, ram, size = self._perm_bytes, self._ram_bytes, self.size
        out: list[memoryview | np.ndarray] = []
        for addr, length in ranges:
            first = addr >> PAGE_SHIFT
            if (
                addr >= 0
                and length > 0
                and addr + length <= size
                and (addr + length - 1) >> PAGE_SHIFT == first
                and perm[first] & need == need
            ):
                out.append(ram[addr : addr + length])
            else:
                out.append(self.view(addr, length, writable))
        return out

    def host_address(self, addr: int, length: int, writable: bool = False) -> int:
        """The host address of a checked guest range, for host calls that take a buffer pointer
        (zero-copy; the structures they read or write have the same layout on riscv64 and the host)."""
        if not self._accessible(addr, length, writable) and length:
            raise GuestFault(addr)
        return self._host_base + addr

    def _accessible(self, addr: int, length: int, writable: bool) -> bool:
        if self.check(addr, length, PERM_W if writable else PERM_R):
            return True
        # System mode write-protects pages it decoded code from (see on_protected_write).
        lift = self.on_protected_write
        return writable and lift is not None and lift(addr, length) and self.check(addr, length, PERM_W)

    def read_slice(self, addr: int, length: int) -> bytes:
        """A copy of guest memory; raises GuestFault if not readable."""
        return self.view(addr, length).tobytes()

    def write_slice(self, addr: int, data: bytes | bytearray | memoryview | np.ndarray) -> None:
        """Copy data into guest memory; raises GuestFault if not writable."""
        buf = np.frombuffer(data, dtype=np.uint8) if not isinstance(data, np.ndarray) else data
        self.view(addr, len(buf), writable=True)[:] = buf

    def poke(self, addr: int, data: bytes | np.ndarray) -> None:
        """Write without a permission check (the loader filling read-only segments)."""
        buf = np.frombuffer(data, dtype=np.uint8) if not isinstance(data, np.ndarray) else data
        if addr < 0 or addr + len(buf) > self.size:
            raise GuestFault(addr)
        self.ram[addr : addr + len(buf)] = buf

    def read_u64(self, addr: int) -> int:
        return int.from_bytes(self.read_slice(addr, 8), "little")

    def write_u64(self, addr: int, value: int) -> None:
        self.write_slice(addr, (value & (1 << 64) - 1).to_bytes(8, "little"))

    def read_u32(self, addr: int) -> int:
        return int.from_bytes(self.read_slice(addr, 4), "little")

    def write_u32(self, addr: int, value: int) -> None:
        self.write_slice(addr, (value & 0xFFFFFFFF).to_bytes(4, "little"))

    def read_cstr(self, addr: int, limit: int = 4096) -> bytes:
        """A NUL-terminated string; raises GuestFault if it runs into unreadable memory."""
        out = bytearray()
        while len(out) < limit:
            # Read up to the end of the page so an unmapped next page is not touched needlessly.
            chunk = min(PAGE_SIZE - (addr & (PAGE_SIZE - 1)), limit - len(out))
            data = self.view(addr, chunk)
            nul = np.flatnonzero(data == 0)
            if nul.size:
                out += data[: nul[0]].tobytes()
                return bytes(out)
            out += data.tobytes()
            addr += chunk
        raise GuestFault(addr, "string too long")

    def fetch(self, addr: int, size: int) -> bytes:
        """Up to `size` bytes of executable memory from addr, stopping where execute permission ends
        (the frontend's fetch callback)."""
        end = addr
        limit = min(addr + size, self.size)
        perm = self.perm
        while end < limit and addr >= 0 and perm[end >> PAGE_SHIFT] & PERM_X:
            end = min((end | (PAGE_SIZE - 1)) + 1, limit)
        return self.ram[addr:end].tobytes() if end > addr else b""
