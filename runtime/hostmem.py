"""Host memory primitives: a lazily committed reservation, page discarding, shared file maps.

Guest RAM is one anonymous private mapping of the whole guest address space, reserved with
MAP_NORESERVE so only touched pages cost host memory. These thin ctypes wrappers are the only
place dbt calls mmap/madvise directly.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import mmap
import sys

_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
_libc.mmap.restype = ctypes.c_void_p
_libc.mmap.argtypes = [
    ctypes.c_void_p,
    ctypes.c_size_t,
    ctypes.c_int,
    ctypes.c_int,
    ctypes.c_int,
    ctypes.c_long,
]
_libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
_libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]

MAP_NORESERVE = getattr(mmap, "MAP_NORESERVE", 0x4000 if sys.platform.startswith("linux") else 0x40)
MAP_FIXED = 0x10
MADV_DONTNEED = getattr(mmap, "MADV_DONTNEED", 4)
HOST_PAGE = mmap.PAGESIZE


def reserve(size: int) -> mmap.mmap:
    """Reserve `size` bytes of zeroed, lazily committed read/write memory.

    An mmap object, so the mapping is released when the last numpy view of it goes away.
    """
    flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | MAP_NORESERVE
    try:
        return mmap.mmap(-1, size, flags=flags, prot=mmap.PROT_READ | mmap.PROT_WRITE)
    except OSError as exc:
        raise MemoryError(f"cannot reserve {size >> 30} GiB for guest memory: {exc.strerror}") from None


def discard(addr: int, size: int) -> bool:
    """Drop the pages of a host-page-aligned range so they read as zero again (and free RAM)."""
    if addr % HOST_PAGE or size % HOST_PAGE:
        return False
    return _libc.madvise(addr, size, MADV_DONTNEED) == 0


def map_file_shared(addr: int, size: int, fd: int, offset: int, writable: bool) -> bool:
    """Map a file MAP_SHARED over part of the reservation (writes reach the file); False if not possible."""
    if addr % HOST_PAGE or offset % HOST_PAGE:
        return False
    prot = mmap.PROT_READ | (mmap.PROT_WRITE if writable else 0)
    result = _libc.mmap(addr, size, prot, mmap.MAP_SHARED | MAP_FIXED, fd, offset)
    return result == addr


def map_anonymous_shared(addr: int, size: int) -> bool:
    """Put fresh MAP_SHARED zero pages over part of the reservation: a guest's shared anonymous
    mapping, which a forked child shares with its parent."""
    if addr % HOST_PAGE or size % HOST_PAGE:
        return False
    flags = mmap.MAP_SHARED | mmap.MAP_ANONYMOUS | MAP_FIXED
    result = _libc.mmap(addr, size, mmap.PROT_READ | mmap.PROT_WRITE, flags, -1, 0)
    return result == addr


def map_anonymous_fixed(addr: int, size: int) -> bool:
    """Put fresh private zero pages over part of the reservation (undoes map_file_shared)."""
    if addr % HOST_PAGE or size % HOST_PAGE:
        return False
    flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED
    result = _libc.mmap(addr, size, mmap.PROT_READ | mmap.PROT_WRITE, flags, -1, 0)
    return result == addr
