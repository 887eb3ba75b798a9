"""File-system and file-descriptor system calls.

Guest file descriptors are host file descriptors (as in qemu-user). Paths are resolved through
the sysroot; /proc/self/exe answers the guest program. Data moves between files and guest
memory through zero-copy views of guest RAM (readv/writev straight into the numpy array).
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import struct
import sys
import tempfile

from dbt.errors import GuestFault
from dbt.ir.state import PERM_W
from dbt.runtime import signals as sig
from dbt.runtime.syscalls import errnos, hostcall, syscall
from dbt.runtime.syscalls.signal import raise_in_guest
from dbt.runtime.syscalls.structs import (
    DIRENT64,
    IOVEC,
    STATFS,
    STATX_SIZE,
    dirent_type,
    pack_stat,
    pack_statx,
)

AT_FDCWD = -100
AT_SYMLINK_NOFOLLOW = 0x100
AT_REMOVEDIR = 0x200
AT_EACCESS = 0x200
AT_SYMLINK_FOLLOW = 0x400
AT_EMPTY_PATH = 0x1000
RENAME_NOREPLACE, RENAME_EXCHANGE = 1, 2
MAX_RW = 0x7FFFF000  # Linux caps one read or write at this many bytes
IOV_MAX = 1024

# Guest (asm-generic) open flag bits and the host flag of the same name.
_OPEN_FLAGS = (
    (0o100, "O_CREAT"),
    (0o200, "O_EXCL"),
    (0o400, "O_NOCTTY"),
    (0o1000, "O_TRUNC"),
    (0o2000, "O_APPEND"),
    (0o4000, "O_NONBLOCK"),
    (0o10000, "O_DSYNC"),
    (0o20000, "O_ASYNC"),
    (0o40000, "O_DIRECT"),
    (0o200000, "O_DIRECTORY"),
    (0o400000, "O_NOFOLLOW"),
    (0o1000000, "O_NOATIME"),
    (0o2000000, "O_CLOEXEC"),
    (0o4000000, "O_SYNC"),
    (0o10000000, "O_PATH"),
    (0o20000000, "O_TMPFILE"),
)
GUEST_O_CLOEXEC = 0o2000000
GUEST_O_NONBLOCK = 0o4000
GUEST_O_LARGEFILE = 0o100000


def open_flags_to_host(flags: int) -> int:
    host = flags & 3
    for bit, name in _OPEN_FLAGS:
        if flags & bit:
            host |= getattr(os, name, 0)
    return host


def open_flags_from_host(host: int) -> int:
    flags = host & 3
    for bit, name in _OPEN_FLAGS:
        value = getattr(os, name, 0)
        if value and host & value == value:
            flags |= bit
    if sys.platform.startswith("linux"):
        flags |= GUEST_O_LARGEFILE if host & 0o100000 else 0
    return flags


# ---- path helpers ----
PATH_MAX = 4096
PAGE = 4096


def read_string(proc, addr: int, limit: int) -> bytes | None:
    """A NUL-terminated guest string as the kernel's strncpy_from_user copies one: its bytes, or
    None if the first `limit` bytes hold no NUL; GuestFault if memory before the NUL is unreadable."""
    if addr == 0:
        raise GuestFault(0)
    out = bytearray()
    while len(out) < limit:
        # Up to the end of the page, so an unmapped page after the NUL is never touched.
        chunk = proc.memory.read_slice(addr, min(PAGE - addr % PAGE, limit - len(out)))
        nul = chunk.find(b"\0")
        if nul >= 0:
            return bytes(out + chunk[:nul])
        out += chunk
        addr += len(chunk)
    return None


def guest_path(proc, addr: int) -> bytes:
    """Read a path argument (ENAMETOOLONG from PATH_MAX bytes on, as Linux's getname); an empty
    path is ENOENT to the callers (unless they allow AT_EMPTY_PATH)."""
    path = read_string(proc, addr, PATH_MAX)
    if path is None:
        raise OSError(errno.ENAMETOOLONG, "path too long")
    return path


def host_path(proc, path: bytes) -> bytes:
    """The host file a path names for reading (through the sysroot and /proc/self/exe)."""
    return proc.paths.host_bytes(path)


def dir_fd(fd: int) -> int | None:
    return None if fd == AT_FDCWD else fd


def _resolve(proc, dirfd: int, path_addr: int) -> tuple[bytes, int | None]:
    """A path argument of a call that reads a file: looked up through the sysroot."""
    path = guest_path(proc, path_addr)
    if not path:
        raise OSError(errno.ENOENT, "empty path")
    return host_path(proc, path), dir_fd(dirfd)


def _raw(proc, dirfd: int, path_addr: int) -> tuple[bytes, int | None]:
    """A path argument of a call that changes the file system: used as the guest gives it."""
    path = guest_path(proc, path_addr)
    if not path:
        raise OSError(errno.ENOENT, "empty path")
    return path, dir_fd(dirfd)


# ---- data transfer ----
# On Linux hosts the transfers are libc calls on the guest's own buffers (zero-copy), which also
# return EINTR when a signal for a guest handler arrives, so the guest sees EINTR or a restart
# exactly as on Linux. Elsewhere Python's os calls move the data through numpy views.
def _writing(proc, transfer) -> int:
    try:
        return transfer()
    except BrokenPipeError:
        # The kernel sends SIGPIPE along with EPIPE: its disposition decides what happens.
        raise_in_guest(proc, sig.SIGPIPE, code=0, pid=0)
        return -errnos.EPIPE


def _iovecs(proc, iov: int, count: int, writable: bool) -> list[tuple[int, int]]:
    """The (guest address, length) pairs of an iovec array, each checked, lengths capped at MAX_RW."""
    if count < 0 or count > IOV_MAX:
        raise OSError(errno.EINVAL, "iovcnt")
    raw = proc.memory.read_slice(iov, count * IOVEC.size)
    pairs = []
    total = 0
    for i in range(count):
        base, length = IOVEC.unpack_from(raw, i * IOVEC.size)
        length = min(length, MAX_RW - total)
        total += length
        proc.memory.view(base, length, writable=writable)
        pairs.append((base, length))
    return pairs


def _transfer(proc, kind: str, fd: int, pairs: list[tuple[int, int]], offset: int | None = None) -> int:
    """readv/writev/preadv/pwritev of checked guest ranges."""
    memory = proc.memory
    if hostcall.LINUX:
        host_iov = (ctypes.c_uint64 * (2 * len(pairs) or 1))()
        for i, (base, length) in enumerate(pairs):
            host_iov[2 * i] = memory.host_address(base, length, kind.startswith("r") or kind == "pr")
            host_iov[2 * i + 1] = length
        address = ctypes.addressof(host_iov)
        if offset is None:
            return hostcall.libc(kind + "v")(fd, address, len(pairs))
        return hostcall.libc("p" + kind + "v")(fd, address, len(pairs), offset)
    views = [memory.view(base, length, writable=kind == "read") for base, length in pairs]
    if kind == "read":
        return os.readv(fd, views) if offset is None else os.preadv(fd, views, offset)
    return os.writev(fd, views) if offset is None else os.pwritev(fd, views, offset)


@syscall(63, "ipu", restart=True)
def sys_read(proc, fd: int, buf: int, count: int) -> int:
    proc.memory.view(buf, min(count, MAX_RW), writable=True)
    if proc.group.signalfds:
        from dbt.runtime.syscalls.signalfd import read_signalfd

        result = read_signalfd(proc, fd, buf, count)
        if result is not None:
            return result
    return _transfer(proc, "read", fd, [(buf, min(count, MAX_RW))])


@syscall(64, "ipu", restart=True)
def sys_write(proc, fd: int, buf: int, count: int) -> int:
    proc.memory.view(buf, min(count, MAX_RW))
    return _writing(proc, lambda: _transfer(proc, "write", fd, [(buf, min(count, MAX_RW))]))


@syscall(65, "ipi", restart=True)
def sys_readv(proc, fd: int, iov: int, iovcnt: int) -> int:
    return _transfer(proc, "read", fd, _iovecs(proc, iov, iovcnt, True))


@syscall(66, "ipi", restart=True)
def sys_writev(proc, fd: int, iov: int, iovcnt: int) -> int:
    pairs = _iovecs(proc, iov, iovcnt, False)
    return _writing(proc, lambda: _transfer(proc, "write", fd, pairs))


@syscall(67, "ipul", restart=True)
def sys_pread64(proc, fd: int, buf: int, count: int, offset: int) -> int:
    if offset < 0:
        return -errnos.EINVAL
    proc.memory.view(buf, min(count, MAX_RW), writable=True)
    return _transfer(proc, "read", fd, [(buf, min(count, MAX_RW))], offset)


@syscall(68, "ipul", restart=True)
def sys_pwrite64(proc, fd: int, buf: int, count: int, offset: int) -> int:
    if offset < 0:
        return -errnos.EINVAL
    proc.memory.view(buf, min(count, MAX_RW))
    return _writing(proc, lambda: _transfer(proc, "write", fd, [(buf, min(count, MAX_RW))], offset))


@syscall(69, "ipil", restart=True)
def sys_preadv(proc, fd: int, iov: int, iovcnt: int, offset: int) -> int:
    return _transfer(proc, "read", fd, _iovecs(proc, iov, iovcnt, True), offset)


@syscall(70, "ipil", restart=True)
def sys_pwritev(proc, fd: int, iov: int, iovcnt: int, offset: int) -> int:
    pairs = _iovecs(proc, iov, iovcnt, False)
    return _writing(proc, lambda: _transfer(proc, "write", fd, pairs, offset))


@syscall(62, "ili")
def sys_lseek(proc, fd: int, offset: int, whence: int) -> int:
    result = os.lseek(fd, offset, whence)
    stream = proc.dir_streams.get(fd)
    if stream is not None:  # a listing dbt keeps (hosts without getdents64): d_off is an index
        if result == 0:
            del proc.dir_streams[fd]  # a rewind lists the directory anew
        else:
            stream.position = result
    return result


@syscall(71, "iipu")
def sys_sendfile(proc, out_fd: int, in_fd: int, offset_ptr: int, count: int) -> int:
    if offset_ptr:
        offset = struct.unpack("<q", proc.memory.read_slice(offset_ptr, 8))[0]
        sent = os.sendfile(out_fd, in_fd, offset, count)
        proc.memory.write_slice(offset_ptr, struct.pack("<q", offset + sent))
        return sent
    return os.sendfile(out_fd, in_fd, None, count)


# ---- opening and closing ----
@syscall(56, "isxo")
def sys_openat(proc, dirfd: int, path_addr: int, flags: int, mode: int) -> int:
    path = guest_path(proc, path_addr)
    synthetic = _proc_self_file(proc, path)
    if synthetic is not None:
        fd = _synthetic_file(synthetic)
    else:
        fd = os.open(host_path(proc, path), open_flags_to_host(flags), mode & 0o7777, dir_fd=dir_fd(dirfd))
    # Python opens everything close-on-exec; the guest asked for exactly what its flags say.
    os.set_inheritable(fd, not flags & GUEST_O_CLOEXEC)
    return fd


def _synthetic_file(data: bytes) -> int:
    """An fd reading `data` (for /proc files dbt answers itself)."""
    with tempfile.TemporaryFile() as f:
        f.write(data)
        f.seek(0)
        return os.dup(f.fileno())


def _proc_self_file(proc, path: bytes) -> bytes | None:
    """Contents of the /proc/self files that describe the guest rather than dbt's host process."""
    for prefix in (b"/proc/self/", f"/proc/{os.getpid()}/".encode()):
        if path.startswith(prefix):
            name = path[len(prefix) :]
            if name == b"maps":
                return _maps_text(proc)
            if name == b"cmdline" and proc.image is not None:
                return b"".join(arg + b"\0" for arg in proc.image.argv)
            if name == b"auxv" and proc.image is not None:
                return proc.image.auxv
            if name in (b"stat", b"status") and os.path.exists("/proc/self/stat"):
                return _host_proc_with_guest_name(proc, name)
    return None


def _host_proc_with_guest_name(proc, name: bytes) -> bytes:
    """The host's /proc/self/stat or status, naming the guest program instead of Python."""
    with open(b"/proc/self/" + name, "rb") as f:
        data = f.read()
    comm = proc.comm or b"?"
    if name == b"stat":
        return data[: data.index(b"(") + 1] + comm + data[data.rindex(b")") :]
    _, _, rest = data.partition(b"\n")
    return b"Name:\t" + comm + b"\n" + rest


def _maps_text(proc) -> bytes:
    lines = []
    for vma in proc.memory.vmas:
        perms = "".join(c if vma.prot & bit else "-" for c, bit in (("r", 1), ("w", 2), ("x", 4)))
        perms += "s" if vma.shared else "p"
        lines.append(f"{vma.start:08x}-{vma.end:08x} {perms} {vma.offset:08x} 00:00 0 {vma.name}".rstrip())
    return ("\n".join(lines) + "\n").encode()


@syscall(57, "i")
def sys_close(proc, fd: int) -> int:
    if fd in proc.own_fds:  # dbt's own descriptors are not the guest's to close
        return -errnos.EBADF
    proc.dir_streams.pop(fd, None)
    os.close(fd)
    proc.group.signalfds.pop(fd, None)
    return 0


CLOSE_RANGE_UNSHARE, CLOSE_RANGE_CLOEXEC = 2, 4


@syscall(436, "iix", name="close_range")
def sys_close_range(proc, first: int, last: int, flags: int) -> int:
    first, last = first & 0xFFFFFFFF, last & 0xFFFFFFFF  # unsigned ints
    # CLOSE_RANGE_UNSHARE unshares the descriptor table first: the guest's one thread owns it.
    if flags & ~(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC) or first > last:
        return -errnos.EINVAL
    last = min(last, os.sysconf("SC_OPEN_MAX") if hasattr(os, "sysconf") else 65536)
    for fd in range(first, last + 1):
        if fd in proc.own_fds:
            continue
        if flags & CLOSE_RANGE_CLOEXEC:
            try:
                os.set_inheritable(fd, False)
            except OSError:
                pass
        else:
            proc.dir_streams.pop(fd, None)
            try:
                os.close(fd)
            except OSError:
                pass
    return 0


@syscall(23, "i")
def sys_dup(proc, fd: int) -> int:
    new = os.dup(fd)
    os.set_inheritable(new, True)
    return new


@syscall(24, "iix")
def sys_dup3(proc, old: int, new: int, flags: int) -> int:
    if old == new or flags & ~GUEST_O_CLOEXEC:
        return -errnos.EINVAL
    if new in proc.own_fds:  # dbt's own descriptors are not the guest's to replace
        return -errnos.EBADF
    os.dup2(old, new, inheritable=not flags & GUEST_O_CLOEXEC)
    proc.dir_streams.pop(new, None)
    return new


@syscall(59, "px")
def sys_pipe2(proc, fds_addr: int, flags: int) -> int:
    if flags & ~(GUEST_O_CLOEXEC | GUEST_O_NONBLOCK | 0o40000):
        return -errnos.EINVAL
    host_flags = open_flags_to_host(flags)
    proc.memory.view(fds_addr, 8, writable=True)
    if hasattr(os, "pipe2"):
        r, w = os.pipe2(host_flags & ~os.O_CLOEXEC)
    else:
        r, w = os.pipe()
        for fd in (r, w):
            os.set_blocking(fd, not flags & GUEST_O_NONBLOCK)
    for fd in (r, w):
        os.set_inheritable(fd, not flags & GUEST_O_CLOEXEC)
    proc.memory.write_slice(fds_addr, struct.pack("<ii", r, w))
    return 0


# fcntl commands (asm-generic).
F_DUPFD, F_GETFD, F_SETFD, F_GETFL, F_SETFL = 0, 1, 2, 3, 4
F_GETLK, F_SETLK, F_SETLKW = 5, 6, 7
F_SETOWN, F_GETOWN = 8, 9
F_DUPFD_CLOEXEC = 1030
F_SETPIPE_SZ, F_GETPIPE_SZ = 1031, 1032
FLOCK = struct.Struct("<hhxxxxqqixxxx")


@syscall(25, "iil")
def sys_fcntl(proc, fd: int, cmd: int, arg: int) -> int:
    if cmd in (F_DUPFD, F_DUPFD_CLOEXEC):
        new = fcntl.fcntl(fd, fcntl.F_DUPFD, arg & 0xFFFFFFFF)
        os.set_inheritable(new, cmd == F_DUPFD)
        return new
    if cmd == F_GETFD:
        return 0 if os.get_inheritable(fd) else 1
    if cmd == F_SETFD:
        os.set_inheritable(fd, not arg & 1)
        return 0
    if cmd == F_GETFL:
        return open_flags_from_host(fcntl.fcntl(fd, fcntl.F_GETFL))
    if cmd == F_SETFL:
        keep = fcntl.fcntl(fd, fcntl.F_GETFL) & ~(os.O_APPEND | os.O_NONBLOCK)
        fcntl.fcntl(fd, fcntl.F_SETFL, keep | (open_flags_to_host(arg) & (os.O_APPEND | os.O_NONBLOCK)))
        return 0
    if cmd in (F_GETLK, F_SETLK, F_SETLKW):
        return _fcntl_lock(proc, fd, cmd, arg)
    if cmd == F_GETOWN:
        return fcntl.fcntl(fd, fcntl.F_GETOWN) if hasattr(fcntl, "F_GETOWN") else 0
    if cmd == F_SETOWN:
        return fcntl.fcntl(fd, fcntl.F_SETOWN, arg) if hasattr(fcntl, "F_SETOWN") else 0
    if cmd == F_GETPIPE_SZ and hasattr(fcntl, "F_GETPIPE_SZ"):
        return fcntl.fcntl(fd, fcntl.F_GETPIPE_SZ)
    if cmd == F_SETPIPE_SZ and hasattr(fcntl, "F_SETPIPE_SZ"):
        return fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, arg)
    return -errnos.EINVAL


def _fcntl_lock(proc, fd: int, cmd: int, arg: int) -> int:
    l_type, whence, start, length, pid = FLOCK.unpack(proc.memory.read_slice(arg, FLOCK.size))
    host_type = {0: fcntl.F_RDLCK, 1: fcntl.F_WRLCK, 2: fcntl.F_UNLCK}.get(l_type)
    if host_type is None:
        return -errnos.EINVAL
    host_cmd = {F_GETLK: fcntl.F_GETLK, F_SETLK: fcntl.F_SETLK, F_SETLKW: fcntl.F_SETLKW}[cmd]
    if sys.platform.startswith("linux"):
        packed = FLOCK.pack(host_type, whence, start, length, pid)
        result = fcntl.fcntl(fd, host_cmd, packed)
        if cmd == F_GETLK:
            h_type, h_whence, h_start, h_len, h_pid = FLOCK.unpack(result)
            g_type = {fcntl.F_RDLCK: 0, fcntl.F_WRLCK: 1, fcntl.F_UNLCK: 2}[h_type]
            proc.memory.write_slice(arg, FLOCK.pack(g_type, h_whence, h_start, h_len, h_pid))
        return 0
    if cmd == F_GETLK:
        proc.memory.write_slice(arg, FLOCK.pack(2, whence, start, length, 0))
        return 0
    op = {0: fcntl.LOCK_SH, 1: fcntl.LOCK_EX, 2: fcntl.LOCK_UN}[l_type]
    fcntl.lockf(fd, op | (fcntl.LOCK_NB if cmd == F_SETLK else 0), length, start, whence)
    return 0


@syscall(32, "ii")
def sys_flock(proc, fd: int, operation: int) -> int:
    fcntl.flock(fd, operation)
    return 0


# ---- ioctl: terminal requests (layouts match between riscv64 and the Linux hosts dbt runs on) ----
TCGETS, TCSETS, TCSETSW, TCSETSF = 0x5401, 0x5402, 0x5403, 0x5404
TIOCSCTTY, TIOCGPGRP, TIOCSPGRP, TIOCGWINSZ, TIOCSWINSZ = 0x540E, 0x540F, 0x5410, 0x5413, 0x5414
FIONREAD, FIONBIO, FIOCLEX, FIONCLEX = 0x541B, 0x5421, 0x5451, 0x5450
TERMIOS_SIZE = 36
SIOC_FIRST, SIOC_LAST = 0x8900, 0x89FF
IFREQ_SIZE = 40
_IOCTL_SIZES = {TCGETS: TERMIOS_SIZE, TIOCGWINSZ: 8, TIOCGPGRP: 4, FIONREAD: 4}
_IOCTL_IN_SIZES = {
    TCSETS: TERMIOS_SIZE,
    TCSETSW: TERMIOS_SIZE,
    TCSETSF: TERMIOS_SIZE,
    TIOCSWINSZ: 8,
    TIOCSPGRP: 4,
}


@syscall(29, "ixp")
def sys_ioctl(proc, fd: int, request: int, arg: int) -> int:
    request &= 0xFFFFFFFF
    if request in (FIOCLEX, FIONCLEX):
        os.set_inheritable(fd, request == FIONCLEX)
        return 0
    if request == FIONBIO:
        os.set_blocking(fd, not struct.unpack("<i", proc.memory.read_slice(arg, 4))[0])
        return 0
    if not sys.platform.startswith("linux"):
        return _ioctl_portable(proc, fd, request, arg)
    if request in _IOCTL_SIZES:
        size = _IOCTL_SIZES[request]
        proc.memory.view(arg, size, writable=True)
        out = fcntl.ioctl(fd, request, bytes(size))
        proc.memory.write_slice(arg, out[:size])
        return 0
    if request in _IOCTL_IN_SIZES:
        fcntl.ioctl(fd, request, proc.memory.read_slice(arg, _IOCTL_IN_SIZES[request]))
        return 0
    if request == TIOCSCTTY:
        fcntl.ioctl(fd, request, arg)
        return 0
    if SIOC_FIRST <= request <= SIOC_LAST:
        # Socket ioctls (SIOCGIFFLAGS, SIOCGIFTXQLEN, ...) take a struct ifreq, laid out alike everywhere.
        return hostcall.libc("ioctl")(fd, request, proc.memory.host_address(arg, IFREQ_SIZE, writable=True))
    os.fstat(fd)  # EBADF first
    return -errnos.ENOTTY  # what Linux answers for a request the file does not know, terminals too


def _ioctl_portable(proc, fd: int, request: int, arg: int) -> int:
    import termios

    if request == TCGETS:
        iflag, oflag, cflag, lflag, _, _, _ = termios.tcgetattr(fd)
        proc.memory.write_slice(arg, struct.pack("<IIII", iflag, oflag, cflag, lflag) + bytes(20))
        return 0
    if request == TIOCGWINSZ:
        size = os.get_terminal_size(fd)
        proc.memory.write_slice(arg, struct.pack("<HHHH", size.lines, size.columns, 0, 0))
        return 0
    os.fstat(fd)
    return -errnos.ENOTTY


# ---- metadata ----
@syscall(80, "ip")
def sys_fstat(proc, fd: int, buf: int) -> int:
    proc.memory.write_slice(buf, pack_stat(os.fstat(fd)))
    return 0


def _stat_at(proc, dirfd: int, path_addr: int, flags: int) -> os.stat_result:
    path = guest_path(proc, path_addr)
    if not path:
        if flags & AT_EMPTY_PATH:
            return os.fstat(dirfd) if dirfd != AT_FDCWD else os.stat(".")
        raise OSError(errno.ENOENT, "empty path")
    return os.stat(
        host_path(proc, path), dir_fd=dir_fd(dirfd), follow_symlinks=not flags & AT_SYMLINK_NOFOLLOW
    )


@syscall(79, "ispx")
def sys_newfstatat(proc, dirfd: int, path_addr: int, buf: int, flags: int) -> int:
    proc.memory.write_slice(buf, pack_stat(_stat_at(proc, dirfd, path_addr, flags)))
    return 0


_statx = hostcall.libc_function("statx") if hostcall.LINUX else None


@syscall(291, "isxxp")
def sys_statx(proc, dirfd: int, path_addr: int, flags: int, mask: int, buf: int) -> int:
    if _statx is not None:
        # struct statx is the same on every Linux: let the host fill the guest's buffer (birth time too).
        path = guest_path(proc, path_addr)
        host = ctypes.create_string_buffer(host_path(proc, path) if path else b"")
        target = proc.memory.host_address(buf, STATX_SIZE, writable=True)
        return _statx(dirfd, ctypes.addressof(host), flags, mask, target)
    proc.memory.write_slice(buf, pack_statx(_stat_at(proc, dirfd, path_addr, flags)))
    return 0


def _access(proc, dirfd: int, path_addr: int, mode: int, flags: int) -> int:
    if mode & ~7 or flags & ~(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH):
        return -errnos.EINVAL
    raw = guest_path(proc, path_addr)
    if raw:
        path, dfd = host_path(proc, raw), dir_fd(dirfd)
    elif flags & AT_EMPTY_PATH:  # the file dirfd refers to (or the current directory)
        if dirfd != AT_FDCWD:
            os.fstat(dirfd)
        path, dfd = b"." if dirfd == AT_FDCWD else f"/proc/self/fd/{dirfd}".encode(), None
    else:
        raise OSError(errno.ENOENT, "empty path")
    follow = not flags & AT_SYMLINK_NOFOLLOW
    effective = bool(flags & AT_EACCESS)
    if effective and not os.supports_effective_ids:
        effective = False
    if not os.access(path, mode, dir_fd=dfd, effective_ids=effective, follow_symlinks=follow):
        os.stat(path, dir_fd=dfd, follow_symlinks=follow)  # raises ENOENT/ENOTDIR/... if that is why
        return -errnos.EACCES
    return 0


@syscall(48, "iso")
def sys_faccessat(proc, dirfd: int, path_addr: int, mode: int) -> int:
    return _access(proc, dirfd, path_addr, mode, 0)


@syscall(439, "isox")
def sys_faccessat2(proc, dirfd: int, path_addr: int, mode: int, flags: int) -> int:
    return _access(proc, dirfd, path_addr, mode, flags)


@syscall(78, "ispu")
def sys_readlinkat(proc, dirfd: int, path_addr: int, buf: int, size: int) -> int:
    if size <= 0 or size >= 1 << 31:
        return -errnos.EINVAL
    path = guest_path(proc, path_addr)
    if proc.paths.is_self_exe(os.fsdecode(path)):
        target = os.fsencode(proc.exe_path)
    else:
        target = os.readlink(host_path(proc, path), dir_fd=dir_fd(dirfd))
    data = target[:size]
    proc.memory.write_slice(buf, data)
    return len(data)


@syscall(17, "pu")
def sys_getcwd(proc, buf: int, size: int) -> int:
    cwd = os.getcwdb() + b"\0"
    if len(cwd) > size:
        return -errnos.ERANGE
    proc.memory.write_slice(buf, cwd)
    return len(cwd)


@syscall(49, "s")
def sys_chdir(proc, path_addr: int) -> int:
    os.chdir(guest_path(proc, path_addr))
    return 0


@syscall(50, "i")
def sys_fchdir(proc, fd: int) -> int:
    os.fchdir(fd)
    return 0


@syscall(34, "iso")
def sys_mkdirat(proc, dirfd: int, path_addr: int, mode: int) -> int:
    path, dfd = _raw(proc, dirfd, path_addr)
    os.mkdir(path, mode & 0o7777, dir_fd=dfd)
    return 0


@syscall(33, "isou")
def sys_mknodat(proc, dirfd: int, path_addr: int, mode: int, dev: int) -> int:
    path, dfd = _raw(proc, dirfd, path_addr)
    os.mknod(path, mode, dev, dir_fd=dfd)
    return 0


@syscall(35, "isx")
def sys_unlinkat(proc, dirfd: int, path_addr: int, flags: int) -> int:
    path, dfd = _raw(proc, dirfd, path_addr)
    if flags & ~AT_REMOVEDIR:
        return -errnos.EINVAL
    if flags & AT_REMOVEDIR:
        os.rmdir(path, dir_fd=dfd)
    else:
        os.unlink(path, dir_fd=dfd)
    return 0


@syscall(36, "sis")
def sys_symlinkat(proc, target_addr: int, dirfd: int, path_addr: int) -> int:
    target = guest_path(proc, target_addr)
    path, dfd = _raw(proc, dirfd, path_addr)
    os.symlink(target, path, dir_fd=dfd)
    return 0


# The *at calls below take Linux's AT_* flags and UTIME_* values as they are: Linux hosts only.
_linkat = hostcall.libc_function("linkat") if hostcall.LINUX else None


@syscall(37, "isisx")
def sys_linkat(proc, olddirfd: int, old_addr: int, newdirfd: int, new_addr: int, flags: int) -> int:
    if _linkat is not None:
        # libc's linkat with the guest's flags (the host checks them, AT_EMPTY_PATH included):
        # Python's os.link calls link(2), which never follows a symlink, when both are AT_FDCWD.
        old, new = guest_path(proc, old_addr), guest_path(proc, new_addr)
        return _linkat(olddirfd, old, newdirfd, new, flags)
    old, odfd = _raw(proc, olddirfd, old_addr)
    new, ndfd = _raw(proc, newdirfd, new_addr)
    os.link(old, new, src_dir_fd=odfd, dst_dir_fd=ndfd, follow_symlinks=bool(flags & AT_SYMLINK_FOLLOW))
    return 0


_renameat2 = hostcall.libc_function("renameat2") if hostcall.LINUX else None


def _rename(proc, olddirfd: int, old_addr: int, newdirfd: int, new_addr: int, flags: int) -> int:
    old, odfd = _raw(proc, olddirfd, old_addr)
    new, ndfd = _raw(proc, newdirfd, new_addr)
    if _renameat2 is not None:
        # The host's renameat2: RENAME_EXCHANGE and an atomic RENAME_NOREPLACE, its flag checks.
        return _renameat2(olddirfd, old, newdirfd, new, flags)
    if flags & ~RENAME_NOREPLACE:
        return -errnos.EINVAL
    if flags & RENAME_NOREPLACE:
        try:
            os.stat(new, dir_fd=ndfd, follow_symlinks=False)
            return -errnos.EEXIST
        except FileNotFoundError:
            pass
    os.rename(old, new, src_dir_fd=odfd, dst_dir_fd=ndfd)
    return 0


@syscall(38, "isis")
def sys_renameat(proc, olddirfd: int, old_addr: int, newdirfd: int, new_addr: int) -> int:
    return _rename(proc, olddirfd, old_addr, newdirfd, new_addr, 0)


@syscall(276, "isisx")
def sys_renameat2(proc, olddirfd: int, old_addr: int, newdirfd: int, new_addr: int, flags: int) -> int:
    return _rename(proc, olddirfd, old_addr, newdirfd, new_addr, flags)


@syscall(52, "io")
def sys_fchmod(proc, fd: int, mode: int) -> int:
    os.chmod(fd, mode & 0o7777)
    return 0


@syscall(53, "iso")
def sys_fchmodat(proc, dirfd: int, path_addr: int, mode: int) -> int:
    path, dfd = _raw(proc, dirfd, path_addr)
    os.chmod(path, mode & 0o7777, dir_fd=dfd)
    return 0


@syscall(55, "iii")
def sys_fchown(proc, fd: int, uid: int, gid: int) -> int:
    os.fchown(fd, uid, gid)
    return 0


@syscall(54, "isiix")
def sys_fchownat(proc, dirfd: int, path_addr: int, uid: int, gid: int, flags: int) -> int:
    path, dfd = _raw(proc, dirfd, path_addr)
    os.chown(path, uid, gid, dir_fd=dfd, follow_symlinks=not flags & AT_SYMLINK_NOFOLLOW)
    return 0


UTIME_NOW, UTIME_OMIT = (1 << 30) - 1, (1 << 30) - 2


_utimensat = hostcall.libc_function("utimensat") if hostcall.LINUX else None
_futimens = hostcall.libc_function("futimens") if hostcall.LINUX else None


@syscall(88, "ispx")
def sys_utimensat(proc, dirfd: int, path_addr: int, times_addr: int, flags: int) -> int:
    times = struct.unpack("<qqqq", proc.memory.read_slice(times_addr, 32)) if times_addr else None
    if times is not None and times[1] == times[3] == UTIME_OMIT:
        return 0  # nothing to change: Linux checks nothing else, not even the path
    if times is not None:
        for nsec in (times[1], times[3]):
            if nsec not in (UTIME_NOW, UTIME_OMIT) and not 0 <= nsec < 1_000_000_000:
                return -errnos.EINVAL
    if flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH):
        return -errnos.EINVAL
    if _utimensat is not None and _futimens is not None:
        # The host applies UTIME_NOW and UTIME_OMIT itself, with its permission rules for them.
        value = ctypes.create_string_buffer(struct.pack("<qqqq", *times), 32) if times else None
        if not path_addr:  # Linux's utimensat(fd, NULL, ...), which libc's utimensat refuses
            if dirfd == AT_FDCWD:
                raise GuestFault(0)
            if flags:
                return -errnos.EINVAL
            return _futimens(dirfd, value)
        raw = guest_path(proc, path_addr)
        # An empty path is the kernel's to judge (ENOENT, or dirfd itself with AT_EMPTY_PATH).
        return _utimensat(dirfd, host_path(proc, raw) if raw else b"", value, flags)
    return _utime_portable(proc, dirfd, path_addr, times, flags)


def _utime_portable(proc, dirfd: int, path_addr: int, times: tuple | None, flags: int) -> int:
    if path_addr:
        path, dfd = _resolve(proc, dirfd, path_addr)
        target: object = path
    else:
        target, dfd = dirfd, None
    if times is None:
        ns = None
    else:
        a_s, a_ns, m_s, m_ns = times
        current = os.stat(target, dir_fd=dfd, follow_symlinks=not flags & AT_SYMLINK_NOFOLLOW)  # type: ignore[arg-type]
        import time as _time

        now = _time.time_ns()

        def pick(sec: int, nsec: int, old: int) -> int:
            if nsec == UTIME_NOW:
                return now
            if nsec == UTIME_OMIT:
                return old
            return sec * 1_000_000_000 + nsec

        ns = (pick(a_s, a_ns, current.st_atime_ns), pick(m_s, m_ns, current.st_mtime_ns))
    kwargs = {"ns": ns} if ns is not None else {}
    if isinstance(target, int):
        os.utime(target, **kwargs)
    else:
        os.utime(target, dir_fd=dfd, follow_symlinks=not flags & AT_SYMLINK_NOFOLLOW, **kwargs)
    return 0


@syscall(45, "sl")
def sys_truncate(proc, path_addr: int, length: int) -> int:
    os.truncate(guest_path(proc, path_addr), length)
    return 0


@syscall(46, "il")
def sys_ftruncate(proc, fd: int, length: int) -> int:
    os.ftruncate(fd, length)
    return 0


@syscall(47, "iill")
def sys_fallocate(proc, fd: int, mode: int, offset: int, length: int) -> int:
    if mode != 0:
        return -errnos.EOPNOTSUPP
    if hasattr(os, "posix_fallocate"):
        os.posix_fallocate(fd, offset, length)
    return 0


@syscall(82, "i")
def sys_fsync(proc, fd: int) -> int:
    os.fsync(fd)
    return 0


@syscall(83, "i")
def sys_fdatasync(proc, fd: int) -> int:
    (os.fdatasync if hasattr(os, "fdatasync") else os.fsync)(fd)
    return 0


@syscall(81)
def sys_sync(proc) -> int:
    os.sync()
    return 0


@syscall(223, "illi")
def sys_fadvise64(proc, fd: int, offset: int, length: int, advice: int) -> int:
    if hasattr(os, "posix_fadvise"):
        # The host's checks (ESPIPE for a pipe, EINVAL for an unknown advice) and its effect; the
        # POSIX_FADV_* numbers of Linux hosts are riscv64's.
        os.posix_fadvise(fd, offset, length, advice)
        return 0
    os.fstat(fd)
    return 0


@syscall(166, "o")
def sys_umask(proc, mask: int) -> int:
    return os.umask(mask & 0o777)


def _statfs(proc, buf: int, st: os.statvfs_result) -> int:
    proc.memory.write_slice(
        buf,
        STATFS.pack(
            0xEF53,
            st.f_bsize,
            st.f_blocks,
            st.f_bfree,
            st.f_bavail,
            st.f_files,
            st.f_ffree,
            0,
            0,
            st.f_namemax,
            st.f_frsize,
            st.f_flag,
            0,
            0,
            0,
            0,
        ),
    )
    return 0


# struct statfs is the same on the 64-bit Linux hosts dbt runs on: the host fills it (f_type,
# f_fsid and the ST_* flags as the kernel has them, which statvfs does not give).
_host_statfs = hostcall.libc_function("statfs") if hostcall.LINUX else None
_host_fstatfs = hostcall.libc_function("fstatfs") if hostcall.LINUX else None


@syscall(43, "sp")
def sys_statfs(proc, path_addr: int, buf: int) -> int:
    path = host_path(proc, guest_path(proc, path_addr))
    if _host_statfs is not None:
        return _host_statfs_into(proc, buf, _host_statfs, path)
    return _statfs(proc, buf, os.statvfs(path))


@syscall(44, "ip")
def sys_fstatfs(proc, fd: int, buf: int) -> int:
    if _host_fstatfs is not None:
        return _host_statfs_into(proc, buf, _host_fstatfs, fd)
    return _statfs(proc, buf, os.fstatvfs(fd))


def _host_statfs_into(proc, buf: int, call, target) -> int:
    """The host's struct statfs (the same layout as riscv64's on Linux) copied to the guest."""
    value = ctypes.create_string_buffer(STATFS.size)
    call(target, value)
    proc.memory.write_slice(buf, value.raw)
    return 0


# ---- directories ----
_getdents64 = hostcall.libc_function("getdents64", ctypes.c_ssize_t) if hostcall.LINUX else None
#: Most directory bytes one getdents64 hands over (a program's buffer may be far larger).
DIRENTS_MAX = 1 << 16


def _writable_prefix(proc, addr: int, length: int) -> int:
    """How many bytes from addr on (up to length) the guest may write: what a kernel copy fills
    before it faults."""
    done = 0
    while done < length:
        chunk = min(PAGE - (addr + done) % PAGE, length - done)
        if not proc.memory.check(addr + done, chunk, PERM_W):
            break
        done += chunk
    return done


class _DirStream:
    """A directory listing handed out across getdents64 calls (hosts without getdents64): d_off
    is an entry's index, which lseek takes back."""

    def __init__(self, fd: int) -> None:
        entries: list[tuple[bytes, object]] = [(b".", os.fstat(fd)), (b"..", os.stat("..", dir_fd=fd))]
        with os.scandir(fd) as it:
            for entry in it:
                entries.append((os.fsencode(entry.name), entry))
        self.entries = entries
        self.position = 0


@syscall(61, "ipu")
def sys_getdents64(proc, fd: int, buf: int, count: int) -> int:
    count &= 0xFFFFFFFF  # an unsigned int
    if _getdents64 is not None:
        # struct linux_dirent64 is the same on every Linux: the host's own entries, with the d_off
        # cookies lseek takes back and the inode of '..', through a buffer of what the guest can
        # take (an entry that does not fit where the guest's buffer stops writable is EFAULT).
        size = min(count, _writable_prefix(proc, buf, min(count, DIRENTS_MAX)))
        host = ctypes.create_string_buffer(max(size, 1))
        try:
            n = _getdents64(fd, host, size)
        except OSError as exc:
            if exc.errno == errno.EINVAL and size < min(count, DIRENTS_MAX):
                raise GuestFault(buf + size) from None
            raise
        proc.memory.write_slice(buf, host.raw[:n])
        return n
    stream = proc.dir_streams.get(fd)
    if stream is None:
        st = os.fstat(fd)
        if (st.st_mode & 0o170000) != 0o040000:
            return -errnos.ENOTDIR
        stream = _DirStream(fd)
        proc.dir_streams[fd] = stream
    out = bytearray()
    while stream.position < len(stream.entries):
        name, entry = stream.entries[stream.position]
        reclen = (DIRENT64.size + len(name) + 1 + 7) & ~7
        if len(out) + reclen > count:
            if not out:
                return -errnos.EINVAL
            break
        if isinstance(entry, os.stat_result):
            ino, dtype = entry.st_ino, 4
        else:
            try:
                ino = entry.inode()  # type: ignore[attr-defined]
                dtype = dirent_type(entry.stat(follow_symlinks=False).st_mode)  # type: ignore[attr-defined]
            except OSError:
                ino, dtype = 0, 0
        stream.position += 1
        record = DIRENT64.pack(ino & (1 << 64) - 1, stream.position, reclen, dtype) + name
        out += record + bytes(reclen - len(record))
    proc.memory.write_slice(buf, bytes(out))
    return len(out)


# ---- special files ----
MFD_NAME_MAX = 249  # 255 less the "memfd:" prefix


@syscall(279, "sx")
def sys_memfd_create(proc, name_addr: int, flags: int) -> int:
    raw = read_string(proc, name_addr, MFD_NAME_MAX + 1)
    if raw is None:  # longer than MFD_NAME_MAX
        return -errnos.EINVAL
    name = raw.decode("utf-8", "surrogateescape")
    if hasattr(os, "memfd_create"):
        # The MFD_* bits are the host's (sealing, huge pages, exec): the host checks them.
        fd = os.memfd_create(name, flags | os.MFD_CLOEXEC)
    else:
        fd = _synthetic_file(b"")
    os.set_inheritable(fd, not flags & 1)
    return fd


@syscall(285, "ipipux")
def sys_copy_file_range(
    proc, fd_in: int, off_in: int, fd_out: int, off_out: int, length: int, flags: int
) -> int:
    if not hasattr(os, "copy_file_range"):
        return -errnos.ENOSYS
    # Linux's order: both descriptors, the offsets, then the flags.
    os.fstat(fd_in)
    os.fstat(fd_out)
    pos_in = struct.unpack("<q", proc.memory.read_slice(off_in, 8))[0] if off_in else None
    pos_out = struct.unpack("<q", proc.memory.read_slice(off_out, 8))[0] if off_out else None
    if flags:
        return -errnos.EINVAL
    # With an offset pointer the copy starts there and the pointer, not the file position, moves.
    copied = os.copy_file_range(fd_in, fd_out, length, pos_in, pos_out)
    if copied > 0:
        if pos_in is not None:
            proc.memory.write_slice(off_in, struct.pack("<q", pos_in + copied))
        if pos_out is not None:
            proc.memory.write_slice(off_out, struct.pack("<q", pos_out + copied))
    return copied
