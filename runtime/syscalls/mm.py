"""Memory-management system calls: brk, mmap, munmap, mprotect, mremap, madvise and friends."""

from __future__ import annotations

import os

from dbt.ir.state import PAGE_SIZE
from dbt.runtime.memory import PROT_EXEC, PROT_READ, PROT_WRITE, page_up
from dbt.runtime.syscalls import errnos, syscall

MAP_SHARED, MAP_PRIVATE, MAP_SHARED_VALIDATE = 0x01, 0x02, 0x03
MAP_FIXED, MAP_ANONYMOUS = 0x10, 0x20
MAP_FIXED_NOREPLACE = 0x100000
MREMAP_MAYMOVE, MREMAP_FIXED, MREMAP_DONTUNMAP = 1, 2, 4
MADV_DONTNEED, MADV_FREE = 4, 8
PROT_MASK = PROT_READ | PROT_WRITE | PROT_EXEC
#: Largest brk heap dbt grows (the guest sees ENOMEM-like failure past it, as with a rlimit).
BRK_MAX = 1 << 36


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
    anonymous = bool(flags & MAP_ANONYMOUS)
    shared = kind != MAP_PRIVATE
    name = ""
    if not anonymous:
        st = os.fstat(fd)
        if (st.st_mode & 0o170000) == 0o040000:
            return -errnos.ENODEV
        name = os.readlink(f"/proc/self/fd/{fd}") if os.path.exists(f"/proc/self/fd/{fd}") else f"fd:{fd}"
    memory.map(start, size, prot, name=name, offset=offset, shared=shared and not anonymous)
    if not anonymous:
        writable = bool(prot & PROT_WRITE)
        if not (shared and memory.map_file_shared(start, size, fd, offset, writable)):
            # Private file maps are copied in; bytes past the end of the file read as zero.
            view = memory.ram[start : start + min(size, max(os.fstat(fd).st_size - offset, 0))]
            done = 0
            while done < len(view):
                n = os.preadv(fd, [view[done:]], offset + done)
                if n <= 0:
                    break
                done += n
    return start


@syscall(215, "pu")
def sys_munmap(proc, addr: int, length: int) -> int:
    if addr % PAGE_SIZE or length == 0 or addr + length > proc.memory.size:
        return -errnos.EINVAL
    proc.memory.unmap(addr, length)
    return 0


@syscall(226, "pux")
def sys_mprotect(proc, addr: int, length: int, prot: int) -> int:
    if addr % PAGE_SIZE or prot & ~(PROT_MASK | 0x01000000 | 0x02000000):
        return -errnos.EINVAL
    if length == 0:
        return 0
    if not proc.memory.protect(addr, length, prot & PROT_MASK):
        return -errnos.ENOMEM
    return 0


@syscall(216, "puuxp")
def sys_mremap(proc, old: int, old_size: int, new_size: int, flags: int, new_addr: int) -> int:
    memory = proc.memory
    if old % PAGE_SIZE or new_size == 0 or flags & ~(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP):
        return -errnos.EINVAL
    if flags & MREMAP_FIXED and not flags & MREMAP_MAYMOVE:
        return -errnos.EINVAL
    old_size, new_size = page_up(old_size), page_up(new_size)
    vma = memory.vma_at(old)
    if vma is None or old + old_size > vma.end:
        return -errnos.EFAULT
    if flags & MREMAP_FIXED:
        if new_addr % PAGE_SIZE:
            return -errnos.EINVAL
        return _move(memory, vma, old, old_size, new_size, new_addr)
    if new_size <= old_size:
        if new_size < old_size:
            memory.unmap(old + new_size, old_size - new_size)
        return old
    if memory.is_free(old + old_size, new_size - old_size):
        memory.map(old + old_size, new_size - old_size, vma.prot, name=vma.name, shared=vma.shared)
        return old
    if not flags & MREMAP_MAYMOVE:
        return -errnos.ENOMEM
    target = memory.find_free(new_size)
    if target is None:
        return -errnos.ENOMEM
    return _move(memory, vma, old, old_size, new_size, target)


def _move(memory, vma, old: int, old_size: int, new_size: int, target: int) -> int:
    keep = min(old_size, new_size)
    data = memory.ram[old : old + keep].copy()
    memory.unmap(old, old_size)
    memory.map(target, new_size, vma.prot, name=vma.name)
    memory.ram[target : target + keep] = data
    return target


@syscall(233, "pui")
def sys_madvise(proc, addr: int, length: int, advice: int) -> int:
    if addr % PAGE_SIZE:
        return -errnos.EINVAL
    if advice in (MADV_DONTNEED, MADV_FREE) and length:
        memory = proc.memory
        end = page_up(addr + length)
        for vma in memory.vmas:
            lo, hi = max(vma.start, addr), min(vma.end, end)
            if lo < hi and not vma.shared and not vma.name.startswith(("/", "fd:")):
                # Private anonymous memory reads back as zeros after MADV_DONTNEED.
                memory.zero(lo, hi - lo)
    return 0


@syscall(227, "pux")
def sys_msync(proc, addr: int, length: int, flags: int) -> int:
    return 0 if addr % PAGE_SIZE == 0 else -errnos.EINVAL


@syscall(228, "pu")
def sys_mlock(proc, addr: int, length: int) -> int:
    return 0


@syscall(229, "pu")
def sys_munlock(proc, addr: int, length: int) -> int:
    return 0


@syscall(230, "x")
def sys_mlockall(proc, flags: int) -> int:
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
