"""Memory-management system calls: brk, mmap, munmap, mprotect, mremap, madvise and friends."""

from __future__ import annotations

import ctypes
import fcntl
import mmap as host_mmap
import os

from dbt.ir.state import PAGE_SIZE
from dbt.runtime import hostmem
from dbt.runtime.memory import PROT_EXEC, PROT_READ, PROT_WRITE, page_up
from dbt.runtime.syscalls import errnos, hostcall, syscall

MAP_SHARED, MAP_PRIVATE, MAP_SHARED_VALIDATE = 0x01, 0x02, 0x03
MAP_FIXED, MAP_ANONYMOUS = 0x10, 0x20
MAP_FIXED_NOREPLACE = 0x100000
MREMAP_MAYMOVE, MREMAP_FIXED, MREMAP_DONTUNMAP = 1, 2, 4
MADV_DONTNEED, MADV_FREE = 4, 8
PROT_MASK = PROT_READ | PROT_WRITE | PROT_EXEC
#: Largest brk heap dbt grows (the guest sees ENOMEM-like failure past it, as with a rlimit).
BRK_MAX = 1 << 36

# Host calls on the pages behind guest mappings (Linux hosts: mremap and the flags are Linux's).
_LINUX = hostcall.LINUX
_mmap = hostcall.libc_function("mmap", ctypes.c_ssize_t) if _LINUX else None
_mremap = hostcall.libc_function("mremap", ctypes.c_ssize_t) if _LINUX else None
_mprotect = hostcall.libc_function("mprotect")
_msync = hostcall.libc_function("msync") if _LINUX else None


@syscall(214, "p")
def sys_brk(proc, addr: int) -> int:
    memory = proc.memory
    old_top = page_up(proc.brk)
    if addr < proc.brk_start or addr > proc.brk_start + BRK_MAX:
        return proc.brk
    new_top = page_up(addr)
    if new_top > old_top:
        if not memory.is_free(old_top, new_top - old_top):
            return proc.brk
        memory.map(old_top, new_top - old_top, PROT_READ | PROT_WRITE, name="[heap]")
    elif new_top < old_top:
        memory.unmap(new_top, old_top - new_top)
    proc.brk = addr
    return addr


def _host_map_private(memory, start: int, size: int, fd: int, offset: int) -> bool:
    """Map the file's pages MAP_PRIVATE over [start, start+size) of the reservation, read-write
    (guest permissions are dbt's to enforce): copy-on-write pages that MADV_DONTNEED and
    mremap treat as Linux does. Only whole pages within the file: pages past its end stay
    anonymous zeros, which a host mapping would fault on."""
    if _mmap is None:
        return False
    length = min(size, page_up(max(os.fstat(fd).st_size - offset, 0)))
    if length == 0:
        return False
    flags = host_mmap.MAP_PRIVATE | hostmem.MAP_FIXED
    prot = host_mmap.PROT_READ | host_mmap.PROT_WRITE
    addr = memory.host_pointer(start)
    try:
        return _mmap(addr, length, prot, flags, fd, offset) == addr
    except OSError:  # a host page size the mapping does not fit, a file the host cannot map
        return False


def _copy_in(memory, start: int, size: int, fd: int, offset: int) -> None:
    """Copy a file into private guest pages; bytes past the end of the file read as zero."""
    view = memory.ram[start : start + min(size, max(os.fstat(fd).st_size - offset, 0))]
    done = 0
    while done < len(view):
        n = os.preadv(fd, [view[done:]], offset + done)
        if n <= 0:
            break
        done += n


@syscall(222, "puxxil")
def sys_mmap(proc, addr: int, length: int, prot: int, flags: int, fd: int, offset: int) -> int:
    memory = proc.memory
    kind = flags & 0x0F
    if length == 0 or kind not in (MAP_SHARED, MAP_PRIVATE, MAP_SHARED_VALIDATE):
        return -errnos.EINVAL
    if offset % PAGE_SIZE or prot & ~PROT_MASK:
        return -errnos.EINVAL
    size = page_up(length)
    if size == 0 or size > memory.size:
        return -errnos.ENOMEM
    anonymous = bool(flags & MAP_ANONYMOUS)
    shared = kind != MAP_PRIVATE
    if not anonymous:
        st = os.fstat(fd)
        if (st.st_mode & 0o170000) == 0o040000:
            return -errnos.ENODEV
        # Linux's checks of the descriptor's access mode: readable, and writable for a shared
        # writable mapping (before anything is mapped, so a failure leaves the old mapping).
        access = fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE
        if access == os.O_WRONLY or (shared and prot & PROT_WRITE and access != os.O_RDWR):
            return -errnos.EACCES
    fixed = bool(flags & (MAP_FIXED | MAP_FIXED_NOREPLACE))
    if fixed:
        if addr % PAGE_SIZE:
            return -errnos.EINVAL
        if addr + size > memory.size:
            return -errnos.ENOMEM
        if flags & MAP_FIXED_NOREPLACE and not flags & MAP_FIXED and not memory.is_free(addr, size):
            return -errnos.EEXIST
        start = addr
    else:
        hint = page_up(addr) if addr else 0
        if hint and hint + size <= memory.size and hint >= 0x10000 and memory.is_free(hint, size):
            start = hint
        else:
            found = memory.find_free(size)
            if found is None:
                return -errnos.ENOMEM
            start = found
    if anonymous and shared:
        # Shared with the children it forks: host shared pages (zero pages in this process alone
        # where the host cannot, as before fork there is no difference).
        memory.unmap(start, size)
        backed = memory.map_anonymous_shared(start, size)
        memory.map(start, size, prot, shared=True, backed=backed)
        return start
    if anonymous:
        memory.map(start, size, prot)
        return start
    name = os.readlink(f"/proc/self/fd/{fd}") if os.path.exists(f"/proc/self/fd/{fd}") else f"fd:{fd}"
    memory.unmap(start, size)  # first, so the host mapping put there next stays
    if shared:
        backed = memory.map_file_shared(start, size, fd, offset, bool(prot & PROT_WRITE))
    else:
        backed = _host_map_private(memory, start, size, fd, offset)
    memory.map(start, size, prot, name=name, offset=offset, shared=shared, backed=backed)
    if not backed:
        _copy_in(memory, start, size, fd, offset)
    return start


@syscall(215, "pu")
def sys_munmap(proc, addr: int, length: int) -> int:
    if addr % PAGE_SIZE or length == 0 or addr + length > proc.memory.size:
        return -errnos.EINVAL
    proc.memory.unmap(addr, length)
    return 0


def _vmas_in(memory, start: int, end: int) -> list[tuple[object, int, int]]:
    """The mappings overlapping [start, end), each with the part of the range it covers."""
    return [(v, max(v.start, start), min(v.end, end)) for v in memory.vmas if v.start < end and v.end > start]


def _mapped(memory, start: int, end: int) -> bool:
    """Whether every page of [start, end) is mapped."""
    covered = sum(hi - lo for _, lo, hi in _vmas_in(memory, start, end))
    return covered == end - start


@syscall(226, "pux")
def sys_mprotect(proc, addr: int, length: int, prot: int) -> int:
    if addr % PAGE_SIZE or prot & ~(PROT_MASK | 0x01000000 | 0x02000000):
        return -errnos.EINVAL
    if length == 0:
        return 0
    memory = proc.memory
    end = page_up(addr + length)
    if end > memory.size or not _mapped(memory, addr, end):
        return -errnos.ENOMEM
    if prot & PROT_WRITE and _mprotect is not None:
        # A shared file mapping made read-only on the host must become writable there too (dbt
        # itself writes through it); the host refuses (EACCES) for a descriptor not open for
        # writing, as Linux does.
        for vma, lo, hi in _vmas_in(memory, addr, end):
            if vma.shared and vma.backed and not vma.prot & PROT_WRITE:
                rw = host_mmap.PROT_READ | host_mmap.PROT_WRITE
                _mprotect(memory.host_pointer(lo), hi - lo, rw)
    if not memory.protect(addr, length, prot & PROT_MASK):
        return -errnos.ENOMEM
    return 0


@syscall(216, "puuxp")
def sys_mremap(proc, old: int, old_size: int, new_size: int, flags: int, new_addr: int) -> int:
    memory = proc.memory
    if flags & ~(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP):
        return -errnos.EINVAL
    if flags & MREMAP_FIXED and not flags & MREMAP_MAYMOVE:
        return -errnos.EINVAL
    # MREMAP_DONTUNMAP is always a move, without a change of size.
    if flags & MREMAP_DONTUNMAP and (not flags & MREMAP_MAYMOVE or old_size != new_size):
        return -errnos.EINVAL
    if old % PAGE_SIZE:
        return -errnos.EINVAL
    old_size, new_size = page_up(old_size), page_up(new_size)
    if new_size == 0:
        return -errnos.EINVAL
    if flags & (MREMAP_FIXED | MREMAP_DONTUNMAP):
        if flags & MREMAP_FIXED:
            if new_addr % PAGE_SIZE or new_addr + new_size > memory.size:
                return -errnos.EINVAL
            if old < new_addr + new_size and new_addr < old + old_size:  # overlapping ranges
                return -errnos.EINVAL
        vma = memory.vma_at(old)
        if vma is None or old + old_size > vma.end:
            return -errnos.EFAULT
        if flags & MREMAP_FIXED:
            target = new_addr
        else:
            found = memory.find_free(new_size)
            if found is None:
                return -errnos.ENOMEM
            target = found
        return _move(memory, vma, old, old_size, new_size, target, bool(flags & MREMAP_DONTUNMAP))
    vma = memory.vma_at(old)
    if vma is None or old + old_size > vma.end:
        return -errnos.EFAULT
    if new_size <= old_size:
        if new_size < old_size:
            memory.unmap(old + new_size, old_size - new_size)
        return old
    if memory.is_free(old + old_size, new_size - old_size):
        grown, added = old + old_size, new_size - old_size
        backed = vma.shared and not vma.name and memory.map_anonymous_shared(grown, added)
        memory.map(grown, added, vma.prot, name=vma.name, shared=vma.shared, backed=backed)
        return old
    if not flags & MREMAP_MAYMOVE:
        return -errnos.ENOMEM
    target = memory.find_free(new_size)
    if target is None:
        return -errnos.ENOMEM
    return _move(memory, vma, old, old_size, new_size, target, False)


def _move(memory, vma, old: int, old_size: int, new_size: int, target: int, keep_old: bool) -> int:
    """Move [old, old+old_size) to target, resized; with keep_old (MREMAP_DONTUNMAP) the old
    range stays mapped without its pages."""
    offset = vma.offset + (old - vma.start)
    if vma.backed and _mremap is not None:
        # A host file mapping moves on the host, so it stays the file's (writes to a shared one
        # reach it; a private one's dropped pages read it again).
        memory.unmap(target, new_size)
        host_flags = MREMAP_MAYMOVE | MREMAP_FIXED | (MREMAP_DONTUNMAP if keep_old else 0)
        try:
            moved = _mremap(
                memory.host_pointer(old), old_size, new_size, host_flags, memory.host_pointer(target)
            )
        except OSError:  # the range spans several host mappings (file pages and zeros past the end)
            moved = -1
        if moved == memory.host_pointer(target):
            if not keep_old:
                memory.unmap(old, old_size)  # refills the hole the move left with anonymous pages
            memory.map(target, new_size, vma.prot, vma.name, offset, vma.shared, backed=True)
            return target
    keep = min(old_size, new_size)
    data = memory.ram[old : old + keep].copy()
    if keep_old:
        # The old range keeps its mapping; a private one loses its pages (a shared one still
        # shows the file, as the copy does).
        if not vma.shared:
            memory.zero(old, old_size)
    else:
        memory.unmap(old, old_size)
    memory.map(target, new_size, vma.prot, name=vma.name, offset=offset)
    memory.ram[target : target + keep] = data
    return target


@syscall(233, "pui")
def sys_madvise(proc, addr: int, length: int, advice: int) -> int:
    if addr % PAGE_SIZE:
        return -errnos.EINVAL
    memory = proc.memory
    end = page_up(addr + length)
    if end == addr:
        return 0
    if advice in (MADV_DONTNEED, MADV_FREE):
        for vma, lo, hi in _vmas_in(memory, addr, end):
            # Private pages go: anonymous ones read back as zeros, those of a host file mapping
            # as the file has them. Shared mappings keep their contents (the file's or the
            # object's); so do private copies of a file dbt cannot read again.
            if not vma.shared and (vma.backed or not vma.name or vma.name.startswith("[")):
                memory.zero(lo, hi - lo)
    # Linux applies the advice to what is mapped, then reports the holes.
    return 0 if end <= memory.size and _mapped(memory, addr, end) else -errnos.ENOMEM


MS_ASYNC, MS_INVALIDATE, MS_SYNC = 1, 2, 4


@syscall(227, "pux")
def sys_msync(proc, addr: int, length: int, flags: int) -> int:
    if flags & ~(MS_ASYNC | MS_INVALIDATE | MS_SYNC) or addr % PAGE_SIZE:
        return -errnos.EINVAL
    if flags & MS_ASYNC and flags & MS_SYNC:
        return -errnos.EINVAL
    memory = proc.memory
    end = page_up(addr + length)
    if end == addr:
        return 0
    if end > memory.size:
        return -errnos.ENOMEM
    if flags & MS_SYNC and _msync is not None:
        # Write shared file pages back, as MS_SYNC asks.
        for vma, lo, hi in _vmas_in(memory, addr, end):
            if vma.shared and vma.backed:
                _msync(memory.host_pointer(lo), hi - lo, MS_SYNC)
    # Linux syncs what is mapped, then reports the unmapped parts.
    return 0 if _mapped(memory, addr, end) else -errnos.ENOMEM


def _lock_range(proc, addr: int, length: int) -> int:
    """mlock/munlock: ENOMEM for unmapped pages. Nothing is locked on the host: guest munmap
    discards pages of the reservation, which locked pages would refuse, and keep counting
    against dbt's RLIMIT_MEMLOCK."""
    memory = proc.memory
    start, end = addr - addr % PAGE_SIZE, page_up(addr + length)
    if end == start:
        return 0
    if end > memory.size or not _mapped(memory, start, end):
        return -errnos.ENOMEM
    return 0


@syscall(228, "pu")
def sys_mlock(proc, addr: int, length: int) -> int:
    return _lock_range(proc, addr, length)


@syscall(229, "pu")
def sys_munlock(proc, addr: int, length: int) -> int:
    return _lock_range(proc, addr, length)


MCL_CURRENT, MCL_FUTURE, MCL_ONFAULT = 1, 2, 4


@syscall(230, "x")
def sys_mlockall(proc, flags: int) -> int:
    if not flags or flags & ~(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) or flags == MCL_ONFAULT:
        return -errnos.EINVAL
    # Not passed on: the host would lock all of dbt, the whole guest address space reservation too.
    return 0


@syscall(231)
def sys_munlockall(proc) -> int:
    return 0


@syscall(232, "pup")
def sys_mincore(proc, addr: int, length: int, vec: int) -> int:
    if addr % PAGE_SIZE:
        return -errnos.EINVAL
    pages = page_up(length) // PAGE_SIZE
    if not proc.memory.check(addr, pages * PAGE_SIZE, 8):
        return -errnos.ENOMEM
    proc.memory.write_slice(vec, bytes([1]) * pages)
    return 0
