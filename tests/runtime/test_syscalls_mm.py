"""Memory-management system calls (runtime/syscalls/mm.py): mmap placement and file mappings,
mremap, madvise, msync, mlock and mincore, checked against Linux's documented behaviour and the
file contents the host sees."""

from __future__ import annotations

import errno
import os
import struct

import pytest
from syscall_harness import PAGE, Guest, in_child

from dbt.errors import GuestFault
from dbt.runtime.memory import MMAP_TOP

MMAP, MUNMAP, MREMAP, MPROTECT, MADVISE, MSYNC = 222, 215, 216, 226, 233, 227
MLOCK, MUNLOCK, MLOCKALL, MUNLOCKALL, MINCORE, CLOCK_GETTIME, OPENAT, READ = (
    228,
    229,
    230,
    231,
    232,
    113,
    56,
    63,
)
PROT_READ, PROT_WRITE, PROT_RW = 1, 2, 3
MAP_SHARED, MAP_PRIVATE, MAP_FIXED, MAP_ANON, MAP_FIXED_NOREPLACE = 1, 2, 0x10, 0x20, 0x100000
MREMAP_MAYMOVE, MREMAP_FIXED, MREMAP_DONTUNMAP = 1, 2, 4
MADV_NORMAL, MADV_DONTNEED, MADV_FREE = 0, 4, 8
MS_ASYNC, MS_SYNC = 1, 4
NO_FD = (1 << 64) - 1


def anon(guest, length, addr=0, flags=MAP_PRIVATE | MAP_ANON, prot=PROT_RW) -> int:
    return guest.call(MMAP, addr, length, prot, flags, NO_FD, 0)


def mapped(guest, addr) -> bool:
    try:
        guest.m.read_memory(addr, 1)
        return True
    except GuestFault:
        return False


# ---- mmap ----
def test_mmap_honours_a_free_hint_and_avoids_a_taken_one(guest):
    hint = 0x2000_0000
    assert anon(guest, 2 * PAGE, hint) == hint
    # unaligned hints are rounded up to a page
    assert anon(guest, PAGE, 0x3000_0123) == 0x3000_1000
    # a taken hint is only a hint: the mapping goes elsewhere and leaves the old one alone
    guest.m.write_memory(hint, b"keep")
    other = anon(guest, PAGE, hint)
    assert other > 0 and other != hint and not hint <= other < hint + 2 * PAGE
    assert guest.m.read_memory(hint, 4) == b"keep"
    # below mmap_min_addr the hint is ignored
    low = anon(guest, PAGE, 0x1000)
    assert low >= 0x10000 and low % PAGE == 0 and low < MMAP_TOP


def test_map_fixed_replaces_an_existing_mapping(guest):
    addr = anon(guest, 3 * PAGE)
    guest.m.write_memory(addr, b"x" * (3 * PAGE))
    assert anon(guest, PAGE, addr + PAGE, MAP_PRIVATE | MAP_ANON | MAP_FIXED, PROT_READ) == addr + PAGE
    assert guest.m.read_memory(addr + PAGE, 4) == bytes(4)  # fresh zero page
    assert guest.m.read_memory(addr, 1) == b"x" and guest.m.read_memory(addr + 2 * PAGE, 1) == b"x"
    with pytest.raises(GuestFault):
        guest.m.write_memory(addr + PAGE, b"y")  # read-only now
    free = 0x2800_0000
    assert anon(guest, PAGE, free, MAP_PRIVATE | MAP_ANON | MAP_FIXED_NOREPLACE) == free
    assert anon(guest, PAGE, free, MAP_PRIVATE | MAP_ANON | MAP_FIXED_NOREPLACE) == -errno.EEXIST


def test_mmap_argument_errors(guest):
    assert guest.call(MMAP, 0, PAGE, 8, MAP_PRIVATE | MAP_ANON, NO_FD, 0) == -errno.EINVAL  # bad prot
    assert anon(guest, 1 << 40) == -errno.ENOMEM  # larger than the address space
    assert anon(guest, 2 * PAGE, (1 << 38) - PAGE, MAP_PRIVATE | MAP_ANON | MAP_FIXED) == -errno.ENOMEM
    assert guest.call(MMAP, 0, PAGE, PROT_READ, MAP_PRIVATE, 9999, 0) == -errno.EBADF


def test_mmap_of_a_directory_is_enodev(guest, fds, tmp_path):
    d = fds.add(os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY))
    assert guest.call(MMAP, 0, PAGE, PROT_READ, MAP_PRIVATE, d, 0) == -errno.ENODEV


def test_shared_file_mapping_writes_reach_the_file(guest, fds, tmp_path):
    path = tmp_path / "shared"
    path.write_bytes(b"." * (3 * PAGE))
    fd = fds.add(os.open(path, os.O_RDWR))
    addr = guest.call(MMAP, 0, 2 * PAGE, PROT_RW, MAP_SHARED, fd, PAGE)
    assert addr > 0
    guest.m.write_memory(addr + 10, b"through the mapping")
    assert os.pread(fd, 19, PAGE + 10) == b"through the mapping"
    os.pwrite(fd, b"from the host", 2 * PAGE)
    assert guest.m.read_memory(addr + PAGE, 13) == b"from the host"
    # a system call writing into the mapping writes the file too
    assert guest.call(CLOCK_GETTIME, 0, addr + 100) == 0
    assert os.pread(fd, 16, PAGE + 100) == guest.m.read_memory(addr + 100, 16)
    assert guest.call(MSYNC, addr, 2 * PAGE, MS_SYNC) == 0
    maps = open_and_read(guest, "/proc/self/maps").decode()
    assert f"{addr:08x}-{addr + 2 * PAGE:08x} rw-s {PAGE:08x} 00:00 0 {path}" in maps.splitlines()
    assert guest.call(MUNMAP, addr, 2 * PAGE) == 0
    assert not mapped(guest, addr)
    assert path.read_bytes()[PAGE + 10 : PAGE + 29] == b"through the mapping"


def open_and_read(guest, path: str) -> bytes:
    fd = guest.call(OPENAT, -100, guest.cstr(0, path), 0, 0)
    try:
        n = guest.call(READ, fd, guest.addr(4096), 16 * PAGE)
        return guest.get(4096, n)
    finally:
        os.close(fd)


def test_private_file_mapping_keeps_writes_to_itself(guest, fds, tmp_path):
    path = tmp_path / "private"
    path.write_bytes(b"original" + bytes(PAGE))
    fd = fds.add(os.open(path, os.O_RDWR))
    addr = guest.call(MMAP, 0, PAGE, PROT_RW, MAP_PRIVATE, fd, 0)
    guest.m.write_memory(addr, b"changed!")
    assert path.read_bytes()[:8] == b"original"
    assert guest.m.read_memory(addr, 8) == b"changed!"


def test_mprotect_makes_a_shared_file_mapping_writable(fds, tmp_path):
    path = tmp_path / "data"
    path.write_bytes(b"A" * (2 * PAGE))
    fd = fds.add(os.open(path, os.O_RDWR))

    def body() -> bytes:
        g = Guest()
        addr = g.call(MMAP, 0, 2 * PAGE, PROT_READ, MAP_SHARED, fd, 0)
        result = g.call(MPROTECT, addr, 2 * PAGE, PROT_RW)
        written = g.call(CLOCK_GETTIME, 0, addr)  # the kernel (here: dbt) writes into the page
        return struct.pack("<qqq", addr, result, written)

    _, result, written = struct.unpack("<qqq", in_child(body))
    assert (result, written) == (0, 0)
    assert path.read_bytes()[:16] != b"A" * 16


# ---- mremap ----
def test_mremap_shrinks_and_grows_in_place(guest):
    addr = anon(guest, 4 * PAGE, 0x2000_0000)
    guest.m.write_memory(addr, b"data")
    assert guest.call(MREMAP, addr, 4 * PAGE, 2 * PAGE, 0, 0) == addr
    assert mapped(guest, addr + PAGE) and not mapped(guest, addr + 2 * PAGE)
    assert guest.call(MREMAP, addr, 2 * PAGE, 6 * PAGE, 0, 0) == addr  # the pages above are free
    assert mapped(guest, addr + 5 * PAGE) and guest.m.read_memory(addr, 4) == b"data"
    assert guest.call(MREMAP, addr, 6 * PAGE, 6 * PAGE, 0, 0) == addr


def test_mremap_cannot_grow_into_a_neighbour_without_maymove(guest):
    addr = anon(guest, PAGE, 0x2000_0000)
    anon(guest, PAGE, 0x2000_0000 + PAGE)
    guest.m.write_memory(addr, b"moved")
    assert guest.call(MREMAP, addr, PAGE, 2 * PAGE, 0, 0) == -errno.ENOMEM
    new = guest.call(MREMAP, addr, PAGE, 2 * PAGE, MREMAP_MAYMOVE, 0)
    assert new > 0 and new != addr
    assert guest.m.read_memory(new, 5) == b"moved" and not mapped(guest, addr)


def test_mremap_fixed_moves_to_the_given_address(guest):
    addr = anon(guest, 2 * PAGE, 0x2000_0000)
    guest.m.write_memory(addr + PAGE, b"second page")
    target = 0x2100_0000
    anon(guest, 4 * PAGE, target)  # whatever was at the target is replaced
    assert guest.call(MREMAP, addr, 2 * PAGE, 3 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, target) == target
    assert guest.m.read_memory(target + PAGE, 11) == b"second page"
    assert guest.m.read_memory(target + 2 * PAGE, 4) == bytes(4)
    assert not mapped(guest, addr)
    assert mapped(guest, target + 3 * PAGE)  # beyond the new size, the old mapping stays


def test_mremap_argument_errors(guest):
    addr = anon(guest, 2 * PAGE)
    assert guest.call(MREMAP, addr + 1, PAGE, PAGE, 0, 0) == -errno.EINVAL
    assert guest.call(MREMAP, addr, PAGE, 0, 0, 0) == -errno.EINVAL
    assert guest.call(MREMAP, addr, PAGE, PAGE, 8, 0) == -errno.EINVAL  # unknown flag
    assert guest.call(MREMAP, addr, PAGE, PAGE, MREMAP_FIXED, 0x2100_0000) == -errno.EINVAL  # needs MAYMOVE
    assert guest.call(MREMAP, addr, PAGE, PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, 0x2100_0001) == -errno.EINVAL
    assert guest.call(MREMAP, 0x2200_0000, PAGE, 2 * PAGE, MREMAP_MAYMOVE, 0) == -errno.EFAULT  # unmapped
    assert guest.call(MREMAP, addr, 4 * PAGE, 8 * PAGE, MREMAP_MAYMOVE, 0) == -errno.EFAULT  # runs past it


def test_mremap_dontunmap_moves_and_keeps_the_old_range(guest):
    addr = anon(guest, PAGE)
    guest.m.write_memory(addr, b"data")
    assert guest.call(MREMAP, addr, PAGE, PAGE, MREMAP_DONTUNMAP, 0) == -errno.EINVAL  # needs MAYMOVE
    new = guest.call(MREMAP, addr, PAGE, PAGE, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, 0)
    assert new > 0 and new != addr
    assert guest.m.read_memory(new, 4) == b"data"
    assert guest.m.read_memory(addr, 4) == bytes(4)  # still mapped, its pages gone


def test_mremap_of_a_shared_file_mapping_stays_file_backed(guest, fds, tmp_path):
    path = tmp_path / "shared"
    path.write_bytes(bytes(2 * PAGE))
    fd = fds.add(os.open(path, os.O_RDWR))
    addr = guest.call(MMAP, 0, PAGE, PROT_RW, MAP_SHARED, fd, 0)
    target = 0x2100_0000
    assert guest.call(MREMAP, addr, PAGE, PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, target) == target
    guest.m.write_memory(target, b"after the move")
    assert os.pread(fd, 14, 0) == b"after the move"


# ---- madvise, msync, mlock, mincore ----
def test_madvise_dontneed_zeroes_private_anonymous_memory(guest, fds, tmp_path):
    addr = anon(guest, 3 * PAGE)
    guest.m.write_memory(addr, b"z" * (3 * PAGE))
    assert guest.call(MADVISE, addr + PAGE, PAGE, MADV_DONTNEED) == 0
    assert guest.m.read_memory(addr + PAGE, PAGE) == bytes(PAGE)
    assert guest.m.read_memory(addr, 1) == b"z" and guest.m.read_memory(addr + 2 * PAGE, 1) == b"z"
    assert guest.call(MADVISE, addr, PAGE, MADV_FREE) == 0
    assert guest.m.read_memory(addr, PAGE) == bytes(PAGE)
    assert guest.call(MADVISE, addr + 2 * PAGE, PAGE, MADV_NORMAL) == 0
    assert guest.m.read_memory(addr + 2 * PAGE, 1) == b"z"
    assert guest.call(MADVISE, addr + 1, PAGE, MADV_DONTNEED) == -errno.EINVAL
    # a shared file mapping keeps the file's contents
    path = tmp_path / "f"
    path.write_bytes(b"file" * PAGE)
    fd = fds.add(os.open(path, os.O_RDWR))
    shared = guest.call(MMAP, 0, PAGE, PROT_RW, MAP_SHARED, fd, 0)
    assert guest.call(MADVISE, shared, PAGE, MADV_DONTNEED) == 0
    assert guest.m.read_memory(shared, 4) == b"file"


def test_madvise_dontneed_on_a_private_file_mapping_drops_private_changes(guest, fds, tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"file" * PAGE)
    fd = fds.add(os.open(path, os.O_RDONLY))
    addr = guest.call(MMAP, 0, PAGE, PROT_RW, MAP_PRIVATE, fd, 0)
    guest.m.write_memory(addr, b"mine")
    assert guest.call(MADVISE, addr, PAGE, MADV_DONTNEED) == 0
    assert guest.m.read_memory(addr, 4) == b"file"


def test_msync_and_memory_locking(guest):
    addr = anon(guest, 2 * PAGE)
    assert guest.call(MSYNC, addr, 2 * PAGE, MS_ASYNC) == 0
    assert guest.call(MSYNC, addr + 1, PAGE, MS_SYNC) == -errno.EINVAL
    assert guest.call(MLOCK, addr, 2 * PAGE) == 0
    assert guest.call(MUNLOCK, addr, 2 * PAGE) == 0
    assert guest.call(MLOCKALL, 1) == 0  # MCL_CURRENT
    assert guest.call(MUNLOCKALL) == 0


def test_msync_and_mlock_check_their_range(guest):
    unmapped = 0x2300_0000
    assert guest.call(MSYNC, unmapped, PAGE, MS_SYNC) == -errno.ENOMEM
    assert guest.call(MLOCK, unmapped, PAGE) == -errno.ENOMEM
    addr = anon(guest, PAGE)
    assert guest.call(MSYNC, addr, PAGE, MS_ASYNC | MS_SYNC) == -errno.EINVAL


def test_mincore(guest):
    addr = anon(guest, 3 * PAGE)
    guest.put(0, b"\xee" * 8)
    assert guest.call(MINCORE, addr, 3 * PAGE - 100, guest.addr(0)) == 0
    assert guest.get(0, 4) == b"\x01\x01\x01\xee"  # one byte per page, bit 0 set: resident
    assert guest.call(MINCORE, addr + 1, PAGE, guest.addr(0)) == -errno.EINVAL
    assert guest.call(MINCORE, 0x2300_0000, PAGE, guest.addr(0)) == -errno.ENOMEM
    assert guest.call(MINCORE, addr, 2 * PAGE, 0x10) == -errno.EFAULT
