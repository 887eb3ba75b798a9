"""File-descriptor system calls (runtime/syscalls/fs.py): opening, reading and writing, seeking,
duplicating, fcntl, flock and ioctl, checked against the host kernel's view of the same files."""

from __future__ import annotations

import errno
import fcntl
import os
import resource
import signal
import struct
import termios

import pytest
from syscall_harness import AT_FDCWD, Guest, preserved_signal_state

# riscv64 (asm-generic) system call numbers.
OPENAT, CLOSE, READ, WRITE, READV, WRITEV = 56, 57, 63, 64, 65, 66
PREAD64, PWRITE64, PREADV, PWRITEV, LSEEK, SENDFILE = 67, 68, 69, 70, 62, 71
DUP, DUP3, PIPE2, FCNTL, FLOCK, IOCTL = 23, 24, 59, 25, 32, 29
MEMFD_CREATE, COPY_FILE_RANGE, CLOSE_RANGE = 279, 285, 436

# asm-generic open flags.
O_WRONLY, O_RDWR = 1, 2
O_CREAT, O_EXCL, O_TRUNC, O_APPEND, O_NONBLOCK = 0o100, 0o200, 0o1000, 0o2000, 0o4000
O_DIRECT, O_LARGEFILE, O_DIRECTORY, O_NOFOLLOW, O_CLOEXEC = 0o40000, 0o100000, 0o200000, 0o400000, 0o2000000

F_DUPFD, F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_GETLK, F_SETLK = 0, 1, 2, 3, 4, 5, 6
F_SETOWN, F_GETOWN, F_DUPFD_CLOEXEC, F_SETPIPE_SZ, F_GETPIPE_SZ = 8, 9, 1030, 1031, 1032
F_RDLCK, F_WRLCK, F_UNLCK = 0, 1, 2
FLOCK_STRUCT = struct.Struct("<hhxxxxqqixxxx")  # struct flock: 32 bytes on riscv64
LOCK_SH, LOCK_EX, LOCK_NB, LOCK_UN = 1, 2, 4, 8

TCGETS, TCSETS, TIOCGWINSZ, TIOCSWINSZ, TIOCGPGRP = 0x5401, 0x5402, 0x5413, 0x5414, 0x540F
FIONREAD, FIONBIO, FIOCLEX, FIONCLEX = 0x541B, 0x5421, 0x5451, 0x5450


def open_guest(guest, fds, path, flags, mode=0, offset=3000):
    fd = guest.call(OPENAT, AT_FDCWD, guest.cstr(offset, path), flags, mode)
    if fd >= 0:
        fds.add(fd)
    return fd


def current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# ---- openat ----
def test_openat_creat_excl_trunc_append(guest, fds, tmp_path):
    path = tmp_path / "new"
    fd = open_guest(guest, fds, path, O_WRONLY | O_CREAT | O_EXCL, 0o640)
    assert fd >= 0
    assert os.stat(path).st_mode & 0o7777 == 0o640 & ~current_umask()
    assert open_guest(guest, fds, path, O_WRONLY | O_CREAT | O_EXCL, 0o640) == -errno.EEXIST
    assert guest.call(WRITE, fd, guest.put(0, b"0123456789"), 10) == 10
    assert path.read_bytes() == b"0123456789"

    trunc = open_guest(guest, fds, path, O_RDWR | O_TRUNC)
    assert trunc >= 0 and os.stat(path).st_size == 0

    path.write_bytes(b"head")
    app = open_guest(guest, fds, path, O_WRONLY | O_APPEND)
    os.lseek(app, 0, os.SEEK_SET)  # O_APPEND writes at the end whatever the position
    assert guest.call(WRITE, app, guest.put(0, b"+tail"), 5) == 5
    assert path.read_bytes() == b"head+tail"
    assert fcntl.fcntl(app, fcntl.F_GETFL) & os.O_APPEND


def test_openat_directory_nofollow_and_cloexec(guest, fds, tmp_path):
    (tmp_path / "file").write_text("x")
    (tmp_path / "dir").mkdir()
    os.symlink(tmp_path / "file", tmp_path / "link")
    assert open_guest(guest, fds, tmp_path / "file", O_DIRECTORY) == -errno.ENOTDIR
    d = open_guest(guest, fds, tmp_path / "dir", O_DIRECTORY)
    assert d >= 0 and os.path.samestat(os.fstat(d), os.stat(tmp_path / "dir"))
    assert open_guest(guest, fds, tmp_path / "dir", O_WRONLY) == -errno.EISDIR
    assert open_guest(guest, fds, tmp_path / "link", O_NOFOLLOW) == -errno.ELOOP
    followed = open_guest(guest, fds, tmp_path / "link", 0)
    assert os.path.samestat(os.fstat(followed), os.stat(tmp_path / "file"))
    assert os.get_inheritable(followed)
    cloexec = open_guest(guest, fds, tmp_path / "file", O_CLOEXEC)
    assert not os.get_inheritable(cloexec)
    # relative to a directory descriptor
    rel = guest.call(OPENAT, d, guest.cstr(0, "../file"), 0, 0)
    fds.add(rel)
    assert os.path.samestat(os.fstat(rel), os.stat(tmp_path / "file"))
    assert guest.call(OPENAT, 12345, guest.cstr(0, "relative"), 0, 0) == -errno.EBADF
    assert guest.call(OPENAT, AT_FDCWD, 0, 0, 0) == -errno.EFAULT


def test_openat_path_longer_than_path_max_is_enametoolong(guest, fds):
    with pytest.raises(OSError) as host:
        os.open("a" * 5000, os.O_RDONLY)
    assert host.value.errno == errno.ENAMETOOLONG
    assert open_guest(guest, fds, b"a" * 5000, 0) == -errno.ENAMETOOLONG


# ---- positioned and vectored transfers ----
def test_pread_pwrite_leave_the_file_position_alone(guest, fds, tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"abcdefghij")
    fd = fds.add(os.open(path, os.O_RDWR))
    os.lseek(fd, 2, os.SEEK_SET)
    assert guest.call(PWRITE64, fd, guest.put(0, b"XY"), 2, 6) == 2
    assert path.read_bytes() == b"abcdefXYij"
    assert guest.call(PREAD64, fd, guest.addr(64), 100, 5) == 5
    assert guest.get(64, 5) == b"fXYij"
    assert os.lseek(fd, 0, os.SEEK_CUR) == 2
    assert guest.call(PREAD64, fd, guest.addr(64), 4, 100) == 0  # past the end
    assert guest.call(PREAD64, fd, guest.addr(64), 4, -1) == -errno.EINVAL
    assert guest.call(PWRITE64, fd, guest.addr(64), 4, -1) == -errno.EINVAL
    assert guest.call(PREAD64, fd, 0x10, 4, 0) == -errno.EFAULT
    r, w = os.pipe()
    fds.add(r, w)
    assert guest.call(PREAD64, r, guest.addr(64), 4, 0) == -errno.ESPIPE


def test_preadv_pwritev_scatter_and_gather_at_an_offset(guest, fds, tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"." * 16)
    fd = fds.add(os.open(path, os.O_RDWR))
    a, b = guest.put(0, b"abc"), guest.put(16, b"defgh")
    iov = guest.put(64, struct.pack("<QQQQ", a, 3, b, 5))
    assert guest.call(PWRITEV, fd, iov, 2, 4) == 8
    assert path.read_bytes() == b"....abcdefgh...."
    x, y = guest.addr(256), guest.addr(512)
    iov = guest.put(128, struct.pack("<QQQQ", x, 2, y, 4))
    assert guest.call(PREADV, fd, iov, 2, 5) == 6
    assert guest.get(256, 2) == b"bc" and guest.get(512, 4) == b"defg"
    assert os.lseek(fd, 0, os.SEEK_CUR) == 0
    assert guest.call(PREADV, fd, iov, 2, -3) == -errno.EINVAL
    assert guest.call(PWRITEV, fd, iov, 2, -3) == -errno.EINVAL


def test_readv_writev_zero_lengths_and_bad_vectors(guest, fds):
    r, w = os.pipe()
    fds.add(r, w)
    data = guest.put(0, b"xyz")
    # a zero-length entry (even with a NULL base) is skipped; iovcnt 0 moves nothing
    iov = guest.put(64, struct.pack("<QQQQQQ", 0, 0, data, 3, data, 0))
    assert guest.call(WRITEV, w, iov, 3) == 3
    assert guest.call(WRITEV, w, iov, 0) == 0
    assert os.read(r, 16) == b"xyz"
    os.write(w, b"12345")
    dst = guest.put(128, struct.pack("<QQQQ", guest.addr(256), 0, guest.addr(300), 2))
    assert guest.call(READV, r, dst, 2) == 2
    assert guest.get(300, 2) == b"12"
    assert guest.call(WRITEV, w, 0x10, 1) == -errno.EFAULT  # the vector itself unreadable
    bad = guest.put(192, struct.pack("<QQ", 1 << 40, 4))
    assert guest.call(WRITEV, w, bad, 1) == -errno.EFAULT
    assert guest.call(READV, r, bad, 1) == -errno.EFAULT
    assert guest.call(WRITEV, w, iov, 1025) == -errno.EINVAL  # more than IOV_MAX
    assert guest.call(READV, r, iov, -1) == -errno.EINVAL
    assert os.read(r, 16) == b"345"  # nothing was consumed by the failed calls


def test_readv_into_read_only_memory_is_efault(guest, fds):
    r, w = os.pipe()
    fds.add(r, w)
    os.write(w, b"data")
    code = guest.code  # mapped read+execute
    iov = guest.put(0, struct.pack("<QQ", code, 4))
    assert guest.call(READV, r, iov, 1) == -errno.EFAULT
    assert guest.call(READ, r, code, 4) == -errno.EFAULT


def test_write_to_a_pipe_without_reader_is_epipe_and_sigpipe():
    r, w = os.pipe()
    os.close(r)
    try:
        with preserved_signal_state(signal.SIGPIPE):
            g = Guest()
            # SIGPIPE at its default action ends the guest, as on Linux
            g.m.pc = g.code
            g.m.x[17] = WRITE
            g.m.x[10], g.m.x[11], g.m.x[12] = w, g.put(0, b"x"), 1
            status = g.m.run()
            assert status.signal == 13 and status.status == 128 + 13
            # ignored: the call fails with EPIPE
            g = Guest()
            act = g.put(64, struct.pack("<QQQ", 1, 0, 0))
            assert g.call(134, 13, act, 0, 8) == 0
            assert g.call(WRITE, w, g.put(0, b"x"), 1) == -errno.EPIPE
            iov = g.put(128, struct.pack("<QQ", g.addr(0), 1))
            assert g.call(WRITEV, w, iov, 1) == -errno.EPIPE
            assert g.call(PWRITE64, w, g.addr(0), 1, 0) == -errno.ESPIPE
    finally:
        os.close(w)


# ---- lseek and sendfile ----
def test_lseek_whence_values_match_the_host(guest, fds, tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"x" * 100)
    fd = fds.add(os.open(path, os.O_RDONLY))
    assert guest.call(LSEEK, fd, 10, os.SEEK_SET) == 10
    assert guest.call(LSEEK, fd, 5, os.SEEK_CUR) == 15
    assert guest.call(LSEEK, fd, -20, os.SEEK_END) == 80
    assert os.lseek(fd, 0, os.SEEK_CUR) == 80
    assert guest.call(LSEEK, fd, 0, 3) == os.lseek(fd, 0, os.SEEK_DATA)  # SEEK_DATA
    assert guest.call(LSEEK, fd, 0, 4) == os.lseek(fd, 0, os.SEEK_HOLE)  # SEEK_HOLE
    assert guest.call(LSEEK, fd, -1, os.SEEK_SET) == -errno.EINVAL
    assert guest.call(LSEEK, fd, 0, 7) == -errno.EINVAL
    assert guest.call(LSEEK, fd, 200, 3) == -errno.ENXIO  # SEEK_DATA past the end
    r, w = os.pipe()
    fds.add(r, w)
    assert guest.call(LSEEK, r, 0, os.SEEK_SET) == -errno.ESPIPE
    assert guest.call(LSEEK, 9999, 0, os.SEEK_SET) == -errno.EBADF


def test_sendfile_with_and_without_an_offset(guest, fds, tmp_path):
    path = tmp_path / "src"
    path.write_bytes(b"0123456789")
    src = fds.add(os.open(path, os.O_RDONLY))
    r, w = os.pipe()
    fds.add(r, w)
    offset = guest.put(0, struct.pack("<q", 3))
    assert guest.call(SENDFILE, w, src, offset, 4) == 4
    assert os.read(r, 16) == b"3456"
    assert guest.unpack("<q", 0) == (7,)  # the offset moves on
    assert os.lseek(src, 0, os.SEEK_CUR) == 0  # the file position does not
    assert guest.call(SENDFILE, w, src, 0, 6) == 6
    assert os.read(r, 16) == b"012345"
    assert os.lseek(src, 0, os.SEEK_CUR) == 6
    assert guest.call(SENDFILE, w, src, 0x10, 1) == -errno.EFAULT
    assert guest.call(SENDFILE, w, 9999, 0, 1) == -errno.EBADF


# ---- descriptors ----
def test_dup_and_dup3(guest, fds, tmp_path):
    (tmp_path / "a").write_text("a")
    (tmp_path / "b").write_text("b")
    a = fds.add(os.open(tmp_path / "a", os.O_RDONLY))
    b = fds.add(os.open(tmp_path / "b", os.O_RDONLY))
    new = guest.call(DUP, a)
    fds.add(new)
    assert new not in (a, b) and os.get_inheritable(new)
    assert os.path.samestat(os.fstat(new), os.fstat(a))
    os.lseek(a, 1, os.SEEK_SET)  # a duplicate shares the file position
    assert os.lseek(new, 0, os.SEEK_CUR) == 1
    assert guest.call(DUP3, a, b, 0) == b  # replaces what b was
    assert os.path.samestat(os.fstat(b), os.fstat(a)) and os.get_inheritable(b)
    assert guest.call(DUP3, a, b, O_CLOEXEC) == b and not os.get_inheritable(b)
    assert guest.call(DUP3, a, a, 0) == -errno.EINVAL
    assert guest.call(DUP3, a, b, 1) == -errno.EINVAL
    assert guest.call(DUP, 9999) == -errno.EBADF
    assert guest.call(DUP3, 9999, b, 0) == -errno.EBADF


def test_pipe2_flags_reach_the_host(guest, fds):
    assert guest.call(PIPE2, guest.addr(0), O_CLOEXEC | O_NONBLOCK) == 0
    r, w = guest.unpack("<ii", 0)
    fds.add(r, w)
    for fd in (r, w):
        assert not os.get_inheritable(fd)
        assert not os.get_blocking(fd)
    assert guest.call(READ, r, guest.addr(64), 4) == -errno.EAGAIN
    assert guest.call(WRITE, w, guest.put(64, b"ping"), 4) == 4
    assert os.read(r, 4) == b"ping"

    assert guest.call(PIPE2, guest.addr(8), 0) == 0
    r2, w2 = guest.unpack("<ii", 8)
    fds.add(r2, w2)
    assert os.get_inheritable(r2) and os.get_blocking(w2)
    assert fcntl.fcntl(w2, fcntl.F_GETFL) & os.O_ACCMODE == os.O_WRONLY

    assert guest.call(PIPE2, guest.addr(16), O_DIRECT) == 0  # packet mode
    r3, w3 = guest.unpack("<ii", 16)
    fds.add(r3, w3)
    assert fcntl.fcntl(w3, fcntl.F_GETFL) & os.O_DIRECT
    assert guest.call(PIPE2, guest.addr(0), O_APPEND) == -errno.EINVAL
    assert guest.call(PIPE2, 0x10, 0) == -errno.EFAULT


def test_fcntl_descriptor_flags(guest, fds, tmp_path):
    (tmp_path / "f").write_text("x")
    fd = fds.add(os.open(tmp_path / "f", os.O_RDONLY))
    new = guest.call(FCNTL, fd, F_DUPFD, 100)
    fds.add(new)
    assert new >= 100 and os.get_inheritable(new)
    assert os.path.samestat(os.fstat(new), os.fstat(fd))
    ce = guest.call(FCNTL, fd, F_DUPFD_CLOEXEC, 0)
    fds.add(ce)
    assert not os.get_inheritable(ce)
    assert guest.call(FCNTL, ce, F_GETFD, 0) == 1  # FD_CLOEXEC
    assert guest.call(FCNTL, new, F_GETFD, 0) == 0
    assert guest.call(FCNTL, new, F_SETFD, 1) == 0 and not os.get_inheritable(new)
    assert guest.call(FCNTL, new, F_SETFD, 0) == 0 and os.get_inheritable(new)
    assert guest.call(FCNTL, 9999, F_GETFD, 0) == -errno.EBADF
    assert guest.call(FCNTL, fd, 9999, 0) == -errno.EINVAL


def test_fcntl_status_flags_round_trip(guest, fds, tmp_path):
    path = tmp_path / "f"
    path.write_text("x")
    fd = fds.add(os.open(path, os.O_RDWR | os.O_APPEND))
    flags = guest.call(FCNTL, fd, F_GETFL, 0)
    assert flags & 3 == O_RDWR and flags & O_APPEND and not flags & O_NONBLOCK
    assert flags & O_LARGEFILE  # a 64-bit Linux opens every file with O_LARGEFILE
    assert guest.call(FCNTL, fd, F_SETFL, O_NONBLOCK) == 0  # O_APPEND off, O_NONBLOCK on
    host = fcntl.fcntl(fd, fcntl.F_GETFL)
    assert host & os.O_NONBLOCK and not host & os.O_APPEND and host & os.O_ACCMODE == os.O_RDWR
    assert guest.call(FCNTL, fd, F_GETFL, 0) & (O_APPEND | O_NONBLOCK) == O_NONBLOCK
    # the access mode cannot change through F_SETFL
    assert guest.call(FCNTL, fd, F_SETFL, O_APPEND | O_WRONLY) == 0
    host = fcntl.fcntl(fd, fcntl.F_GETFL)
    assert host & os.O_APPEND and not host & os.O_NONBLOCK and host & os.O_ACCMODE == os.O_RDWR
    r, w = os.pipe()
    fds.add(r, w)
    assert guest.call(FCNTL, r, F_GETFL, 0) == 0  # O_RDONLY, no O_LARGEFILE on a pipe


def test_fcntl_pipe_size_and_owner(guest, fds):
    r, w = os.pipe()
    fds.add(r, w)
    assert guest.call(FCNTL, w, F_GETPIPE_SZ, 0) == fcntl.fcntl(w, fcntl.F_GETPIPE_SZ)
    assert guest.call(FCNTL, w, F_SETPIPE_SZ, 2 * 65536) == 2 * 65536
    assert fcntl.fcntl(r, fcntl.F_GETPIPE_SZ) == 2 * 65536
    assert guest.call(FCNTL, r, F_SETOWN, os.getpid()) == 0
    assert guest.call(FCNTL, r, F_GETOWN, 0) == os.getpid() == fcntl.fcntl(r, fcntl.F_GETOWN)


def test_fcntl_record_locks_against_another_process(guest, fds, tmp_path):
    path = tmp_path / "locked"
    path.write_bytes(bytes(64))
    fd = fds.add(os.open(path, os.O_RDWR))
    ready_r, ready_w = os.pipe()
    done_r, done_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child holds a write lock on bytes 0..9 until told to go
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX, 10, 0)
            os.write(ready_w, b"!")
            os.read(done_r, 1)
        finally:
            os._exit(0)
    try:
        assert os.read(ready_r, 1) == b"!"
        lock = guest.put(0, FLOCK_STRUCT.pack(F_WRLCK, os.SEEK_SET, 0, 20, 0))
        assert guest.call(FCNTL, fd, F_GETLK, lock) == 0
        l_type, whence, start, length, holder = FLOCK_STRUCT.unpack(guest.get(0, 32))
        assert (l_type, whence, start, length, holder) == (F_WRLCK, os.SEEK_SET, 0, 10, pid)
        with pytest.raises(OSError) as host:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 10, 0)
        guest.put(0, FLOCK_STRUCT.pack(F_WRLCK, os.SEEK_SET, 0, 20, 0))
        assert guest.call(FCNTL, fd, F_SETLK, lock) == -host.value.errno
        # bytes the child does not hold are free
        guest.put(0, FLOCK_STRUCT.pack(F_RDLCK, os.SEEK_SET, 10, 5, 0))
        assert guest.call(FCNTL, fd, F_SETLK, lock) == 0
    finally:
        os.write(done_w, b"!")
        os.waitpid(pid, 0)
        for x in (ready_r, ready_w, done_r, done_w):
            os.close(x)
    guest.put(0, FLOCK_STRUCT.pack(F_WRLCK, os.SEEK_SET, 0, 0, 0))
    assert guest.call(FCNTL, fd, F_SETLK, lock) == 0  # now ours
    guest.put(0, FLOCK_STRUCT.pack(F_WRLCK, os.SEEK_SET, 0, 0, 0))
    assert guest.call(FCNTL, fd, F_GETLK, lock) == 0
    assert FLOCK_STRUCT.unpack(guest.get(0, 32))[0] == F_UNLCK  # our own locks never conflict
    guest.put(0, FLOCK_STRUCT.pack(F_UNLCK, os.SEEK_SET, 0, 0, 0))
    assert guest.call(FCNTL, fd, F_SETLK, lock) == 0
    guest.put(0, FLOCK_STRUCT.pack(7, os.SEEK_SET, 0, 0, 0))
    assert guest.call(FCNTL, fd, F_SETLK, lock) == -errno.EINVAL
    assert guest.call(FCNTL, fd, F_GETLK, 0x10) == -errno.EFAULT


def test_flock_conflicts_between_open_file_descriptions(guest, fds, tmp_path):
    path = tmp_path / "f"
    path.write_text("x")
    a = fds.add(os.open(path, os.O_RDONLY))
    b = fds.add(os.open(path, os.O_RDONLY))
    assert guest.call(FLOCK, a, LOCK_EX) == 0
    with pytest.raises(BlockingIOError):
        fcntl.flock(b, fcntl.LOCK_SH | fcntl.LOCK_NB)
    assert guest.call(FLOCK, b, LOCK_SH | LOCK_NB) == -errno.EWOULDBLOCK
    assert guest.call(FLOCK, a, LOCK_UN) == 0
    assert guest.call(FLOCK, b, LOCK_SH | LOCK_NB) == 0
    assert guest.call(FLOCK, a, LOCK_SH | LOCK_NB) == 0  # shared locks coexist
    assert guest.call(FLOCK, a, 0) == -errno.EINVAL
    assert guest.call(FLOCK, 9999, LOCK_SH) == -errno.EBADF


# ---- ioctl ----
def test_ioctl_on_a_pipe(guest, fds):
    r, w = os.pipe()
    fds.add(r, w)
    assert guest.call(IOCTL, r, TCGETS, guest.addr(0)) == -errno.ENOTTY
    assert guest.call(IOCTL, r, TIOCGWINSZ, guest.addr(0)) == -errno.ENOTTY
    assert guest.call(IOCTL, r, 0x1234, guest.addr(0)) == -errno.ENOTTY
    os.write(w, b"hello")
    assert guest.call(IOCTL, r, FIONREAD, guest.addr(0)) == 0
    assert guest.unpack("<i", 0) == (5,)
    assert guest.call(IOCTL, r, FIONREAD, 0x10) == -errno.EFAULT
    assert guest.call(IOCTL, r, FIOCLEX, 0) == 0 and not os.get_inheritable(r)
    assert guest.call(IOCTL, r, FIONCLEX, 0) == 0 and os.get_inheritable(r)
    guest.put(64, struct.pack("<i", 1))
    assert guest.call(IOCTL, r, FIONBIO, guest.addr(64)) == 0 and not os.get_blocking(r)
    guest.put(64, struct.pack("<i", 0))
    assert guest.call(IOCTL, r, FIONBIO, guest.addr(64)) == 0 and os.get_blocking(r)


def test_ioctl_terminal_requests_on_a_pty(guest, fds):
    master, slave = os.openpty()
    fds.add(master, slave)
    # TCGETS: the kernel's struct termios (36 bytes), as the host reads it
    assert guest.call(IOCTL, slave, TCGETS, guest.addr(0)) == 0
    assert guest.get(0, 36) == fcntl.ioctl(slave, termios.TCGETS, bytes(36))
    iflag, oflag, cflag, lflag = guest.unpack("<IIII", 0)
    assert [iflag, oflag, cflag, lflag] == termios.tcgetattr(slave)[:4]
    # TCSETS: clear ECHO through the guest, the host sees it
    raw = bytearray(guest.get(0, 36))
    struct.pack_into("<I", raw, 12, lflag & ~termios.ECHO)
    assert guest.call(IOCTL, slave, TCSETS, guest.put(0, bytes(raw))) == 0
    assert not termios.tcgetattr(slave)[3] & termios.ECHO
    # window size both ways
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("<HHHH", 24, 80, 0, 0))
    assert guest.call(IOCTL, slave, TIOCGWINSZ, guest.addr(64)) == 0
    assert guest.unpack("<HHHH", 64) == (24, 80, 0, 0)
    assert guest.call(IOCTL, slave, TIOCSWINSZ, guest.put(64, struct.pack("<HHHH", 50, 132, 0, 0))) == 0
    rows, cols, _, _ = struct.unpack("<HHHH", fcntl.ioctl(master, termios.TIOCGWINSZ, bytes(8)))
    assert (rows, cols) == (50, 132)
    assert guest.call(IOCTL, slave, TIOCGWINSZ, 0x10) == -errno.EFAULT
    # TIOCGPGRP on a terminal that is not our controlling terminal: whatever the host says
    try:
        fcntl.ioctl(slave, termios.TIOCGPGRP, bytes(4))
        expected = 0
    except OSError as exc:
        expected = -exc.errno
    assert guest.call(IOCTL, slave, TIOCGPGRP, guest.addr(128)) == expected


def test_unknown_ioctl_on_a_terminal_is_enotty(guest, fds):
    master, slave = os.openpty()
    fds.add(master, slave)
    with pytest.raises(OSError) as host:
        fcntl.ioctl(slave, 0x54FF, bytes(8))
    assert host.value.errno == errno.ENOTTY
    assert guest.call(IOCTL, slave, 0x54FF, guest.addr(0)) == -errno.ENOTTY


# ---- memfd, copy_file_range, close_range ----
def test_memfd_create(guest, fds):
    fd = guest.call(MEMFD_CREATE, guest.cstr(0, "dbt-test"), 0)
    fds.add(fd)
    assert os.readlink(f"/proc/self/fd/{fd}") == "/memfd:dbt-test (deleted)"
    assert os.get_inheritable(fd)
    assert guest.call(WRITE, fd, guest.put(64, b"payload"), 7) == 7
    assert os.pread(fd, 16, 0) == b"payload"
    ce = guest.call(MEMFD_CREATE, guest.cstr(0, "x"), 1)  # MFD_CLOEXEC
    fds.add(ce)
    assert not os.get_inheritable(ce)
    assert guest.call(MEMFD_CREATE, 0x10, 0) == -errno.EFAULT


def test_copy_file_range_at_the_file_positions(guest, fds, tmp_path):
    (tmp_path / "src").write_bytes(b"0123456789")
    src = fds.add(os.open(tmp_path / "src", os.O_RDONLY))
    dst = fds.add(os.open(tmp_path / "dst", os.O_WRONLY | os.O_CREAT, 0o600))
    os.lseek(src, 2, os.SEEK_SET)
    assert guest.call(COPY_FILE_RANGE, src, 0, dst, 0, 5, 0) == 5
    assert (tmp_path / "dst").read_bytes() == b"23456"
    assert os.lseek(src, 0, os.SEEK_CUR) == 7 and os.lseek(dst, 0, os.SEEK_CUR) == 5
    assert guest.call(COPY_FILE_RANGE, src, 0, 9999, 0, 5, 0) == -errno.EBADF


def test_copy_file_range_with_offset_pointers(guest, fds, tmp_path):
    (tmp_path / "src").write_bytes(b"0123456789")
    src = fds.add(os.open(tmp_path / "src", os.O_RDONLY))
    dst = fds.add(os.open(tmp_path / "dst", os.O_WRONLY | os.O_CREAT, 0o600))
    off_in, off_out = guest.put(0, struct.pack("<q", 4)), guest.put(8, struct.pack("<q", 1))
    assert guest.call(COPY_FILE_RANGE, src, off_in, dst, off_out, 3, 0) == 3
    assert (tmp_path / "dst").read_bytes() == b"\x00456"  # a hole, then the copy at offset 1
    assert guest.unpack("<qq", 0) == (7, 4)  # both offsets advance, the file positions do not
    assert os.lseek(src, 0, os.SEEK_CUR) == 0


@pytest.fixture
def high_fds(fds, tmp_path):
    """Four descriptors at the top of the descriptor table (so no range touches pytest's own)."""
    (tmp_path / "f").write_text("x")
    fd = fds.add(os.open(tmp_path / "f", os.O_RDONLY))
    top = min(resource.getrlimit(resource.RLIMIT_NOFILE)[0], 1 << 16) - 1
    numbers = list(range(top - 3, top + 1))
    for n in numbers:
        with pytest.raises(OSError):
            os.fstat(n)
        os.dup2(fd, n)
        fds.add(n)
    return numbers


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
        return True
    except OSError:
        return False


def test_close_range_closes_or_marks_cloexec(guest, high_fds):
    a, b, c, d = high_fds
    assert guest.call(CLOSE_RANGE, b, c, 4) == 0  # CLOSE_RANGE_CLOEXEC
    assert [_is_open(x) for x in high_fds] == [True] * 4
    assert [os.get_inheritable(x) for x in high_fds] == [True, False, False, True]
    assert guest.call(CLOSE_RANGE, a, c, 0) == 0
    assert [_is_open(x) for x in high_fds] == [False, False, False, True]
    assert guest.call(CLOSE_RANGE, a, d, 4) == 0  # closed descriptors in the range are skipped
    assert _is_open(d) and not os.get_inheritable(d)
    if resource.getrlimit(resource.RLIMIT_NOFILE)[0] <= 1 << 16:  # else the walk takes a while
        assert guest.call(CLOSE_RANGE, d, 0xFFFFFFFF, 0) == 0  # to the end of the table
    else:
        assert guest.call(CLOSE_RANGE, d, d, 0) == 0
    assert not _is_open(d)


def test_close_leaves_dbts_own_descriptors_alone(guest, high_fds):
    a, b, c, _ = high_fds
    guest.process.own_fds.add(b)
    assert guest.call(CLOSE, b) == -errno.EBADF
    assert guest.call(CLOSE_RANGE, a, c, 0) == 0
    assert [_is_open(x) for x in (a, b, c)] == [False, True, False]
    assert guest.call(CLOSE, a) == -errno.EBADF


def test_close_range_argument_errors(guest, high_fds):
    a, b, _, _ = high_fds
    assert guest.call(CLOSE_RANGE, b, a, 0) == -errno.EINVAL  # first > last
    assert guest.call(CLOSE_RANGE, a, b, 8) == -errno.EINVAL  # unknown flag
    assert _is_open(a) and _is_open(b)


def test_dbt_descriptors_are_not_the_guests_to_close_or_replace(guest) -> None:
    from dbt import hostfd

    own = hostfd.claim(os.dup(1))
    try:
        assert own >= 10 and hostfd.is_own(own)
        assert guest.call(57, own) == -errno.EBADF  # close
        assert guest.call(24, 1, own, 0) == -errno.EBADF  # dup3 onto it
        assert guest.call(436, own, own, 0) == 0  # close_range skips it
        os.fstat(own)  # still open
    finally:
        hostfd.release(own)
    assert not hostfd.is_own(own)
