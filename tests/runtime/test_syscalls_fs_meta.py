"""File-system metadata system calls (runtime/syscalls/fs.py and structs.py): stat and statx,
access checks, links, renames, permissions, times, sizes, statfs, directories and the /proc files
dbt answers itself, compared with what the host kernel reports."""

from __future__ import annotations

import ctypes
import errno
import os
import stat
import struct
import time

import pytest
from syscall_harness import AT_FDCWD, Guest, hello_binary

from dbt.api import Machine
from dbt.runtime.syscalls import structs

OPENAT, READ, LSEEK, GETDENTS64 = 56, 63, 62, 61
FSTAT, NEWFSTATAT, STATX = 80, 79, 291
FACCESSAT, FACCESSAT2, READLINKAT = 48, 439, 78
GETCWD, CHDIR, FCHDIR = 17, 49, 50
MKDIRAT, MKNODAT, UNLINKAT, SYMLINKAT, LINKAT, RENAMEAT, RENAMEAT2 = 34, 33, 35, 36, 37, 38, 276
FCHMOD, FCHMODAT, FCHOWN, FCHOWNAT, UTIMENSAT = 52, 53, 55, 54, 88
TRUNCATE, FTRUNCATE, FALLOCATE, FSYNC, FDATASYNC, SYNC, FADVISE64 = 45, 46, 47, 82, 83, 81, 223
UMASK, STATFS, FSTATFS = 166, 43, 44

AT_SYMLINK_NOFOLLOW, AT_REMOVEDIR, AT_EACCESS = 0x100, 0x200, 0x200
AT_SYMLINK_FOLLOW, AT_EMPTY_PATH = 0x400, 0x1000
O_DIRECTORY = 0o200000
UTIME_NOW, UTIME_OMIT = (1 << 30) - 1, (1 << 30) - 2
STAT_FIELDS = [
    "dev", "ino", "mode", "nlink", "uid", "gid", "rdev", "pad1", "size", "blksize", "pad2", "blocks",
    "atime", "atime_nsec", "mtime", "mtime_nsec", "ctime", "ctime_nsec", "unused4", "unused5",
]  # fmt: skip


def guest_stat(guest, offset: int = 1024) -> dict:
    return dict(zip(STAT_FIELDS, structs.STAT.unpack(guest.get(offset, structs.STAT.size))))


def host_stat_fields(st: os.stat_result) -> dict:
    return {
        "dev": st.st_dev,
        "ino": st.st_ino,
        "mode": st.st_mode,
        "nlink": st.st_nlink,
        "uid": st.st_uid,
        "gid": st.st_gid,
        "rdev": st.st_rdev,
        "pad1": 0,
        "size": st.st_size,
        "blksize": st.st_blksize,
        "pad2": 0,
        "blocks": st.st_blocks,
        "atime": st.st_atime_ns // 10**9,
        "atime_nsec": st.st_atime_ns % 10**9,
        "mtime": st.st_mtime_ns // 10**9,
        "mtime_nsec": st.st_mtime_ns % 10**9,
        "ctime": st.st_ctime_ns // 10**9,
        "ctime_nsec": st.st_ctime_ns % 10**9,
        "unused4": 0,
        "unused5": 0,
    }


@pytest.fixture
def tree(tmp_path):
    (tmp_path / "file").write_bytes(b"x" * 5000)
    (tmp_path / "dir").mkdir()
    os.symlink("file", tmp_path / "link")
    os.mkfifo(tmp_path / "fifo")
    return tmp_path


# ---- stat family ----
@pytest.mark.parametrize("name", ["file", "dir", "link", "fifo", "/dev/null"])
@pytest.mark.parametrize("nofollow", [False, True])
def test_newfstatat_matches_os_stat_field_by_field(guest, tree, name, nofollow):
    path = tree / name
    flags = AT_SYMLINK_NOFOLLOW if nofollow else 0
    assert guest.call(NEWFSTATAT, AT_FDCWD, guest.cstr(0, path), guest.addr(1024), flags) == 0
    assert guest_stat(guest) == host_stat_fields(os.stat(path, follow_symlinks=not nofollow))


def test_fstat_and_at_empty_path(guest, fds, tree):
    fd = fds.add(os.open(tree / "file", os.O_RDONLY))
    expected = host_stat_fields(os.fstat(fd))
    assert guest.call(FSTAT, fd, guest.addr(1024)) == 0
    assert guest_stat(guest) == expected
    empty = guest.cstr(0, b"")
    assert guest.call(NEWFSTATAT, fd, empty, guest.addr(1024), AT_EMPTY_PATH) == 0
    assert guest_stat(guest) == expected
    assert guest.call(NEWFSTATAT, fd, empty, guest.addr(1024), 0) == -errno.ENOENT
    old = os.getcwd()
    os.chdir(tree / "dir")
    try:
        assert guest.call(NEWFSTATAT, AT_FDCWD, empty, guest.addr(1024), AT_EMPTY_PATH) == 0
    finally:
        os.chdir(old)
    assert guest_stat(guest)["ino"] == os.stat(tree / "dir").st_ino
    # relative to a directory descriptor
    d = fds.add(os.open(tree, os.O_RDONLY | os.O_DIRECTORY))
    assert guest.call(NEWFSTATAT, d, guest.cstr(0, "file"), guest.addr(1024), 0) == 0
    assert guest_stat(guest) == expected
    assert (
        guest.call(NEWFSTATAT, AT_FDCWD, guest.cstr(0, tree / "nope"), guest.addr(1024), 0) == -errno.ENOENT
    )
    assert (
        guest.call(NEWFSTATAT, AT_FDCWD, guest.cstr(0, tree / "file/x"), guest.addr(1024), 0)
        == -errno.ENOTDIR
    )
    assert guest.call(FSTAT, 9999, guest.addr(1024)) == -errno.EBADF
    assert guest.call(FSTAT, fd, 0x10) == -errno.EFAULT


STATX_HEAD = struct.Struct("<IIQIIIHxxQQQQ")


def parse_statx(raw: bytes) -> dict:
    mask, blksize, _attributes, nlink, uid, gid, mode, ino, size, blocks, _ = STATX_HEAD.unpack_from(raw)
    times = {}
    for i, name in enumerate(("atime", "btime", "ctime", "mtime")):
        sec, nsec, _ = structs.STATX_TS.unpack_from(raw, 0x40 + 16 * i)
        times[name] = sec * 10**9 + nsec
    rdev_major, rdev_minor, dev_major, dev_minor = struct.unpack_from("<IIII", raw, 0x80)
    return dict(
        mask=mask, blksize=blksize, nlink=nlink, uid=uid, gid=gid, mode=mode, ino=ino, size=size,
        blocks=blocks, rdev=(rdev_major, rdev_minor), dev=(dev_major, dev_minor), **times,
    )  # fmt: skip


def expected_statx(st: os.stat_result) -> dict:
    return dict(
        blksize=st.st_blksize, nlink=st.st_nlink, uid=st.st_uid, gid=st.st_gid, mode=st.st_mode,
        ino=st.st_ino, size=st.st_size, blocks=st.st_blocks,
        rdev=(os.major(st.st_rdev), os.minor(st.st_rdev)), dev=(os.major(st.st_dev), os.minor(st.st_dev)),
        atime=st.st_atime_ns, ctime=st.st_ctime_ns, mtime=st.st_mtime_ns,
    )  # fmt: skip


@pytest.mark.parametrize("name", ["file", "dir", "link", "/dev/null"])
def test_statx_matches_os_stat(guest, tree, name):
    path = tree / name
    assert guest.call(STATX, AT_FDCWD, guest.cstr(0, path), AT_SYMLINK_NOFOLLOW, 0xFFF, guest.addr(1024)) == 0
    got = parse_statx(guest.get(1024, structs.STATX_SIZE))
    assert got["mask"] & structs.STATX_BASIC_STATS == structs.STATX_BASIC_STATS
    expected = expected_statx(os.lstat(path))
    assert {k: got[k] for k in expected} == expected


def test_statx_empty_path_errors_and_the_portable_packer(guest, fds, tree):
    fd = fds.add(os.open(tree / "file", os.O_RDONLY))
    empty = guest.cstr(0, b"")
    assert guest.call(STATX, fd, empty, AT_EMPTY_PATH, structs.STATX_BASIC_STATS, guest.addr(1024)) == 0
    raw = guest.get(1024, structs.STATX_SIZE)
    got = parse_statx(raw)
    st = os.fstat(fd)
    assert {k: got[k] for k in expected_statx(st)} == expected_statx(st)
    assert (
        guest.call(STATX, AT_FDCWD, guest.cstr(0, tree / "nope"), 0, 0xFFF, guest.addr(1024)) == -errno.ENOENT
    )
    assert guest.call(STATX, AT_FDCWD, guest.cstr(0, tree / "file"), 0, 0xFFF, 0x10) == -errno.EFAULT
    # The fallback for hosts without statx packs os.stat into the same layout the kernel fills.
    packed = parse_statx(structs.pack_statx(st))
    assert {k: packed[k] for k in expected_statx(st)} == expected_statx(st)
    assert packed["mask"] & structs.STATX_BASIC_STATS == structs.STATX_BASIC_STATS
    assert len(structs.pack_statx(st)) == structs.STATX_SIZE


def test_struct_helpers_for_other_hosts():
    # a stat result with float times only (hosts without the *_ns fields) is split the same way
    extra = {"st_atime": 1000.5, "st_mtime": 2000.25, "st_ctime": 3000.0, "st_blksize": 512, "st_blocks": 1}
    st = os.stat_result((0o100644, 7, 1, 1, 0, 0, 10, 1000, 2000, 3000), {**extra, "st_rdev": 0})
    assert st.st_atime_ns is None
    fields = dict(zip(STAT_FIELDS, structs.STAT.unpack(structs.pack_stat(st))))
    assert (fields["atime"], fields["atime_nsec"]) == (1000, 500_000_000)
    assert (fields["mtime"], fields["mtime_nsec"], fields["ctime"]) == (2000, 250_000_000, 3000)
    assert (fields["blocks"], fields["blksize"], fields["mode"], fields["size"]) == (1, 512, 0o100644, 10)
    assert structs.guest_mode(0o4755) == 0o4755  # no file type bits: permissions only
    kinds = {stat.S_IFIFO: 1, stat.S_IFCHR: 2, stat.S_IFDIR: 4, stat.S_IFBLK: 6, stat.S_IFREG: 8}
    kinds.update({stat.S_IFLNK: 10, stat.S_IFSOCK: 12})
    for kind, dtype in kinds.items():
        assert structs.dirent_type(kind | 0o644) == dtype
        assert structs.guest_mode(kind | 0o644) == kind | 0o644


# ---- access ----
def test_faccessat_matches_os_access(guest, tree):
    os.chmod(tree / "file", 0o644)
    (tree / "exe").write_text("#!/bin/sh\n")
    os.chmod(tree / "exe", 0o755)
    for name in ("file", "exe", "dir"):
        path = guest.cstr(0, tree / name)
        for mode in (os.F_OK, os.R_OK, os.W_OK, os.X_OK, os.R_OK | os.X_OK):
            expected = 0 if os.access(tree / name, mode) else -errno.EACCES
            assert guest.call(FACCESSAT, AT_FDCWD, path, mode) == expected, (name, mode)
            assert guest.call(FACCESSAT2, AT_FDCWD, path, mode, AT_EACCESS) == expected, (name, mode)
    path = guest.cstr(0, tree / "file")
    assert guest.call(FACCESSAT, AT_FDCWD, path, 8) == -errno.EINVAL
    assert guest.call(FACCESSAT, AT_FDCWD, guest.cstr(0, tree / "nope"), os.F_OK) == -errno.ENOENT
    assert guest.call(FACCESSAT, AT_FDCWD, guest.cstr(0, tree / "file/x"), os.F_OK) == -errno.ENOTDIR
    assert guest.call(FACCESSAT, AT_FDCWD, guest.cstr(0, b""), os.F_OK) == -errno.ENOENT
    # a dangling symlink exists only when not followed
    os.symlink("nowhere", tree / "dangling")
    dangling = guest.cstr(0, tree / "dangling")
    assert guest.call(FACCESSAT2, AT_FDCWD, dangling, os.F_OK, 0) == -errno.ENOENT
    assert guest.call(FACCESSAT2, AT_FDCWD, dangling, os.F_OK, AT_SYMLINK_NOFOLLOW) == 0


def test_faccessat2_flags_checks(guest, fds, tree):
    path = guest.cstr(0, tree / "file")
    assert guest.call(FACCESSAT2, AT_FDCWD, path, os.F_OK, 1) == -errno.EINVAL
    fd = fds.add(os.open(tree / "file", os.O_RDONLY))
    assert guest.call(FACCESSAT2, fd, guest.cstr(0, b""), os.R_OK, AT_EMPTY_PATH) == 0


def test_readlinkat_truncates_and_checks_its_arguments(guest, fds, tmp_path):
    os.symlink("abcdefgh", tmp_path / "link")
    path = guest.cstr(0, tmp_path / "link")
    assert guest.call(READLINKAT, AT_FDCWD, path, guest.addr(512), 64) == 8
    assert guest.get(512, 8) == os.fsencode(os.readlink(tmp_path / "link"))
    guest.put(512, b"\xff" * 8)
    assert guest.call(READLINKAT, AT_FDCWD, path, guest.addr(512), 3) == 3
    assert guest.get(512, 8) == b"abc" + b"\xff" * 5  # no NUL added
    assert guest.call(READLINKAT, AT_FDCWD, path, guest.addr(512), 0) == -errno.EINVAL
    assert guest.call(READLINKAT, AT_FDCWD, path, guest.addr(512), 1 << 31) == -errno.EINVAL
    (tmp_path / "plain").write_text("x")
    plain, missing = guest.cstr(1024, tmp_path / "plain"), guest.cstr(2048, tmp_path / "no")
    assert guest.call(READLINKAT, AT_FDCWD, plain, guest.addr(512), 64) == -errno.EINVAL
    assert guest.call(READLINKAT, AT_FDCWD, missing, guest.addr(512), 64) == -errno.ENOENT
    d = fds.add(os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY))
    assert guest.call(READLINKAT, d, guest.cstr(3072, "link"), guest.addr(512), 64) == 8
    assert guest.call(READLINKAT, AT_FDCWD, path, 0x10, 64) == -errno.EFAULT


def test_getcwd_chdir_fchdir(guest, fds, tmp_path):
    old = os.getcwd()
    try:
        (tmp_path / "sub").mkdir()
        d = fds.add(os.open(tmp_path / "sub", os.O_RDONLY | os.O_DIRECTORY))
        assert guest.call(FCHDIR, d) == 0
        assert os.getcwd() == os.path.realpath(tmp_path / "sub")
        n = guest.call(GETCWD, guest.addr(0), 4096)
        assert guest.get(0, n) == os.fsencode(os.getcwd()) + b"\0"
        assert guest.call(CHDIR, guest.cstr(0, "..")) == 0
        assert os.getcwd() == os.path.realpath(tmp_path)
        assert guest.call(CHDIR, guest.cstr(0, tmp_path / "missing")) == -errno.ENOENT
        assert guest.call(FCHDIR, 9999) == -errno.EBADF
        assert guest.call(CHDIR, 0) == -errno.EFAULT
    finally:
        os.chdir(old)


# ---- creating, linking, renaming, removing ----
def test_mkdirat_unlinkat(guest, fds, tmp_path):
    path = guest.cstr(0, tmp_path / "d")
    assert guest.call(MKDIRAT, AT_FDCWD, path, 0o750) == 0
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_ISDIR(os.stat(tmp_path / "d").st_mode)
    assert os.stat(tmp_path / "d").st_mode & 0o777 == 0o750 & ~mask
    assert guest.call(MKDIRAT, AT_FDCWD, path, 0o750) == -errno.EEXIST
    (tmp_path / "d" / "inner").write_text("x")
    assert guest.call(UNLINKAT, AT_FDCWD, path, 0) == -errno.EISDIR
    assert guest.call(UNLINKAT, AT_FDCWD, path, AT_REMOVEDIR) == -errno.ENOTEMPTY
    assert guest.call(UNLINKAT, AT_FDCWD, path, 0x1) == -errno.EINVAL
    d = fds.add(os.open(tmp_path / "d", os.O_RDONLY | os.O_DIRECTORY))
    assert guest.call(UNLINKAT, d, guest.cstr(512, "inner"), AT_REMOVEDIR) == -errno.ENOTDIR
    assert guest.call(UNLINKAT, d, guest.cstr(512, "inner"), 0) == 0
    assert not (tmp_path / "d" / "inner").exists()
    assert guest.call(UNLINKAT, AT_FDCWD, path, AT_REMOVEDIR) == 0
    assert not (tmp_path / "d").exists()
    assert guest.call(UNLINKAT, AT_FDCWD, path, 0) == -errno.ENOENT
    assert guest.call(MKDIRAT, AT_FDCWD, guest.cstr(0, b""), 0o700) == -errno.ENOENT


def test_mknodat_fifo(guest, tmp_path):
    path = guest.cstr(0, tmp_path / "fifo")
    assert guest.call(MKNODAT, AT_FDCWD, path, stat.S_IFIFO | 0o600, 0) == 0
    st = os.stat(tmp_path / "fifo")
    assert stat.S_ISFIFO(st.st_mode)
    assert guest.call(MKNODAT, AT_FDCWD, path, stat.S_IFIFO | 0o600, 0) == -errno.EEXIST


def test_symlinkat_and_linkat(guest, fds, tmp_path):
    (tmp_path / "target").write_text("t")
    assert guest.call(SYMLINKAT, guest.cstr(0, "target"), AT_FDCWD, guest.cstr(512, tmp_path / "sym")) == 0
    assert os.readlink(tmp_path / "sym") == "target"
    assert (
        guest.call(SYMLINKAT, guest.cstr(0, "x"), AT_FDCWD, guest.cstr(512, tmp_path / "sym"))
        == -errno.EEXIST
    )
    old, new = guest.cstr(0, tmp_path / "target"), guest.cstr(512, tmp_path / "hard")
    assert guest.call(LINKAT, AT_FDCWD, old, AT_FDCWD, new, 0) == 0
    assert os.stat(tmp_path / "hard").st_ino == os.stat(tmp_path / "target").st_ino
    assert os.stat(tmp_path / "target").st_nlink == 2
    assert guest.call(LINKAT, AT_FDCWD, old, AT_FDCWD, new, 0) == -errno.EEXIST
    sym = guest.cstr(0, tmp_path / "sym")
    # without AT_SYMLINK_FOLLOW the new name is another link to the symlink itself
    assert guest.call(LINKAT, AT_FDCWD, sym, AT_FDCWD, guest.cstr(512, tmp_path / "l1"), 0) == 0
    assert os.lstat(tmp_path / "l1").st_ino == os.lstat(tmp_path / "sym").st_ino
    # with it (here relative to a directory descriptor), a link to the symlink's target
    d = fds.add(os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY))
    assert guest.call(LINKAT, d, guest.cstr(0, "sym"), d, guest.cstr(512, "l2"), AT_SYMLINK_FOLLOW) == 0
    assert os.lstat(tmp_path / "l2").st_ino == os.stat(tmp_path / "target").st_ino
    missing = guest.cstr(0, tmp_path / "missing")
    assert (
        guest.call(LINKAT, AT_FDCWD, missing, AT_FDCWD, guest.cstr(512, tmp_path / "l3"), 0) == -errno.ENOENT
    )


def test_linkat_follows_a_symlink_from_the_current_directory(guest, tmp_path):
    (tmp_path / "target").write_text("t")
    os.symlink("target", tmp_path / "sym")
    old, new = guest.cstr(0, tmp_path / "sym"), guest.cstr(512, tmp_path / "hard")
    assert guest.call(LINKAT, AT_FDCWD, old, AT_FDCWD, new, AT_SYMLINK_FOLLOW) == 0
    assert os.lstat(tmp_path / "hard").st_ino == os.stat(tmp_path / "target").st_ino


def test_renameat_and_renameat2(guest, tmp_path):
    (tmp_path / "a").write_text("A")
    (tmp_path / "b").write_text("B")
    a, b, c = (guest.cstr(i * 512, tmp_path / n) for i, n in enumerate("abc"))
    assert guest.call(RENAMEAT2, AT_FDCWD, a, AT_FDCWD, b, 1) == -errno.EEXIST  # RENAME_NOREPLACE
    assert (tmp_path / "a").read_text() == "A" and (tmp_path / "b").read_text() == "B"
    assert guest.call(RENAMEAT2, AT_FDCWD, a, AT_FDCWD, c, 1) == 0
    assert (tmp_path / "c").read_text() == "A" and not (tmp_path / "a").exists()
    assert guest.call(RENAMEAT, AT_FDCWD, c, AT_FDCWD, b) == 0  # plain rename replaces
    assert (tmp_path / "b").read_text() == "A" and not (tmp_path / "c").exists()
    assert guest.call(RENAMEAT2, AT_FDCWD, b, AT_FDCWD, a, 0) == 0
    assert guest.call(RENAMEAT2, AT_FDCWD, a, AT_FDCWD, b, 3) == -errno.EINVAL  # NOREPLACE|EXCHANGE
    assert guest.call(RENAMEAT2, AT_FDCWD, a, AT_FDCWD, b, 0x10) == -errno.EINVAL
    assert guest.call(RENAMEAT, AT_FDCWD, c, AT_FDCWD, b) == -errno.ENOENT


def test_renameat2_exchange_swaps_two_names(guest, tmp_path):
    (tmp_path / "a").write_text("A")
    (tmp_path / "b").write_text("B")
    a, b = guest.cstr(0, tmp_path / "a"), guest.cstr(512, tmp_path / "b")
    assert guest.call(RENAMEAT2, AT_FDCWD, a, AT_FDCWD, b, 2) == 0
    assert (tmp_path / "a").read_text() == "B" and (tmp_path / "b").read_text() == "A"


def test_fchmod_fchmodat(guest, fds, tmp_path):
    path = tmp_path / "f"
    path.write_text("x")
    fd = fds.add(os.open(path, os.O_RDONLY))
    assert guest.call(FCHMOD, fd, 0o600) == 0
    assert os.stat(path).st_mode & 0o7777 == 0o600
    assert guest.call(FCHMODAT, AT_FDCWD, guest.cstr(0, path), 0o4751) == 0
    assert os.stat(path).st_mode & 0o7777 == 0o4751
    assert guest.call(FCHMODAT, AT_FDCWD, guest.cstr(0, tmp_path / "no"), 0o600) == -errno.ENOENT
    assert guest.call(FCHMOD, 9999, 0o600) == -errno.EBADF


def test_fchown_fchownat_to_the_current_owner(guest, fds, tmp_path):
    path = tmp_path / "f"
    path.write_text("x")
    os.symlink("f", tmp_path / "link")
    st = os.stat(path)
    fd = fds.add(os.open(path, os.O_RDONLY))
    assert guest.call(FCHOWN, fd, os.getuid(), os.getgid()) == 0
    assert guest.call(FCHOWN, fd, -1, -1) == 0  # -1 keeps each id
    assert guest.call(FCHOWNAT, AT_FDCWD, guest.cstr(0, path), os.getuid(), -1, 0) == 0
    link = guest.cstr(0, tmp_path / "link")
    assert guest.call(FCHOWNAT, AT_FDCWD, link, -1, os.getgid(), AT_SYMLINK_NOFOLLOW) == 0
    after = os.stat(path)
    assert (after.st_uid, after.st_gid) == (st.st_uid, st.st_gid) == (os.getuid(), os.getgid())
    assert guest.call(FCHOWN, 9999, 0, 0) == -errno.EBADF
    assert guest.call(FCHOWNAT, AT_FDCWD, guest.cstr(0, tmp_path / "no"), -1, -1, 0) == -errno.ENOENT


# ---- times and sizes ----
def _times(guest, atime_ns: tuple[int, int], mtime_ns: tuple[int, int]) -> int:
    return guest.put(256, struct.pack("<qqqq", *atime_ns, *mtime_ns))


def test_utimensat_on_a_path(guest, tmp_path):
    path = tmp_path / "f"
    path.write_text("x")
    os.symlink("f", tmp_path / "link")
    name = guest.cstr(0, path)
    assert guest.call(UTIMENSAT, AT_FDCWD, name, _times(guest, (1000, 5), (2000, 999_999_999)), 0) == 0
    st = os.stat(path)
    assert (st.st_atime_ns, st.st_mtime_ns) == (1000 * 10**9 + 5, 2000 * 10**9 + 999_999_999)
    # UTIME_OMIT keeps a time, UTIME_NOW sets the current one
    before = time.time_ns()
    assert guest.call(UTIMENSAT, AT_FDCWD, name, _times(guest, (0, UTIME_OMIT), (0, UTIME_NOW)), 0) == 0
    st = os.stat(path)
    assert st.st_atime_ns == 1000 * 10**9 + 5
    assert before - 10**9 <= st.st_mtime_ns <= time.time_ns() + 10**9
    # NULL times: both now
    os.utime(path, ns=(0, 0))
    assert guest.call(UTIMENSAT, AT_FDCWD, name, 0, 0) == 0
    st = os.stat(path)
    assert (
        abs(st.st_atime_ns - time.time_ns()) < 5 * 10**9 and abs(st.st_mtime_ns - time.time_ns()) < 5 * 10**9
    )
    # AT_SYMLINK_NOFOLLOW changes the link, not its target
    link = guest.cstr(512, tmp_path / "link")
    assert guest.call(UTIMENSAT, AT_FDCWD, link, _times(guest, (7, 0), (8, 0)), AT_SYMLINK_NOFOLLOW) == 0
    assert os.lstat(tmp_path / "link").st_mtime_ns == 8 * 10**9
    assert os.stat(path).st_mtime_ns != 8 * 10**9
    assert guest.call(UTIMENSAT, AT_FDCWD, guest.cstr(0, tmp_path / "no"), 0, 0) == -errno.ENOENT
    assert guest.call(UTIMENSAT, AT_FDCWD, name, 0x10, 0) == -errno.EFAULT


def test_utimensat_on_a_descriptor(guest, fds, tmp_path):
    path = tmp_path / "f"
    path.write_text("x")
    fd = fds.add(os.open(path, os.O_RDONLY))
    assert guest.call(UTIMENSAT, fd, 0, _times(guest, (3, 4), (5, 6)), 0) == 0
    st = os.fstat(fd)
    assert (st.st_atime_ns, st.st_mtime_ns) == (3 * 10**9 + 4, 5 * 10**9 + 6)
    os.utime(path, ns=(0, 0))
    assert guest.call(UTIMENSAT, fd, 0, 0, 0) == 0
    assert abs(os.fstat(fd).st_mtime_ns - time.time_ns()) < 5 * 10**9
    assert guest.call(UTIMENSAT, 9999, 0, 0, 0) == -errno.EBADF


def test_utimensat_rejects_out_of_range_nanoseconds(guest, tmp_path):
    path = tmp_path / "f"
    path.write_text("x")
    os.utime(path, ns=(0, 0))
    assert (
        guest.call(UTIMENSAT, AT_FDCWD, guest.cstr(0, path), _times(guest, (1, 10**9), (1, 0)), 0)
        == -errno.EINVAL
    )
    assert os.stat(path).st_mtime_ns == 0


def test_truncate_ftruncate_fallocate(guest, fds, tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"0123456789")
    assert guest.call(TRUNCATE, guest.cstr(0, path), 4) == 0
    assert path.read_bytes() == b"0123"
    assert guest.call(TRUNCATE, guest.cstr(0, path), -1) == -errno.EINVAL
    assert guest.call(TRUNCATE, guest.cstr(0, tmp_path / "no"), 0) == -errno.ENOENT
    fd = fds.add(os.open(path, os.O_RDWR))
    assert guest.call(FTRUNCATE, fd, 8192) == 0
    assert os.stat(path).st_size == 8192
    ro = fds.add(os.open(path, os.O_RDONLY))
    with pytest.raises(OSError) as host:
        os.ftruncate(ro, 0)
    assert guest.call(FTRUNCATE, ro, 0) == -host.value.errno
    assert guest.call(FALLOCATE, fd, 0, 0, 20000) == 0
    assert os.stat(path).st_size == 20000
    assert os.stat(path).st_blocks * 512 >= 20000
    # other modes (FALLOC_FL_KEEP_SIZE, PUNCH_HOLE) are refused without touching the file
    assert guest.call(FALLOCATE, fd, 1, 0, 40000) == -errno.EOPNOTSUPP
    assert guest.call(FALLOCATE, fd, 3, 0, 4096) == -errno.EOPNOTSUPP
    assert os.stat(path).st_size == 20000
    assert guest.call(FALLOCATE, fd, 0, -1, 10) == -errno.EINVAL
    assert guest.call(FALLOCATE, fd, 0, 0, 0) == -errno.EINVAL
    assert guest.call(FALLOCATE, ro, 0, 0, 10) == -errno.EBADF


def test_fsync_fdatasync_sync_fadvise(guest, fds, tmp_path):
    path = tmp_path / "f"
    path.write_text("x")
    fd = fds.add(os.open(path, os.O_RDWR))
    assert guest.call(FSYNC, fd) == 0
    assert guest.call(FDATASYNC, fd) == 0
    assert guest.call(SYNC) == 0
    assert guest.call(FADVISE64, fd, 0, 0, os.POSIX_FADV_SEQUENTIAL) == 0
    assert guest.call(FADVISE64, fd, 0, 100, os.POSIX_FADV_DONTNEED) == 0
    r, w = os.pipe()
    fds.add(r, w)
    with pytest.raises(OSError) as host:
        os.fsync(r)
    assert guest.call(FSYNC, r) == -host.value.errno == -errno.EINVAL
    for call in (FSYNC, FDATASYNC):
        assert guest.call(call, 9999) == -errno.EBADF
    assert guest.call(FADVISE64, 9999, 0, 0, 0) == -errno.EBADF


def test_fadvise64_argument_errors(guest, fds, tmp_path):
    (tmp_path / "f").write_text("x")
    fd = fds.add(os.open(tmp_path / "f", os.O_RDONLY))
    r, w = os.pipe()
    fds.add(r, w)
    assert guest.call(FADVISE64, fd, 0, 0, 99) == -errno.EINVAL
    assert guest.call(FADVISE64, r, 0, 0, os.POSIX_FADV_NORMAL) == -errno.ESPIPE


def test_umask_round_trip(guest):
    old = os.umask(0o022)
    try:
        assert guest.call(UMASK, 0o077) == 0o022
        assert os.umask(0o077) == 0o077
        assert guest.call(UMASK, 0o1777) == 0o077  # only the permission bits count
        assert guest.call(UMASK, 0o022) == 0o777
    finally:
        os.umask(old)


def _statfs_fields(raw: bytes) -> dict:
    names = ["type", "bsize", "blocks", "bfree", "bavail", "files", "ffree", "fsid0", "fsid1", "namelen"]
    names += ["frsize", "flags"]
    return dict(zip(names, structs.STATFS.unpack(raw)[:12]))


def test_statfs_and_fstatfs_match_statvfs(guest, fds, tmp_path):
    fd = fds.add(os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY))
    assert guest.call(STATFS, guest.cstr(0, tmp_path), guest.addr(1024)) == 0
    by_path = _statfs_fields(guest.get(1024, structs.STATFS.size))
    assert guest.call(FSTATFS, fd, guest.addr(2048)) == 0
    by_fd = _statfs_fields(guest.get(2048, structs.STATFS.size))
    host = os.statvfs(tmp_path)
    for got in (by_path, by_fd):
        assert got["bsize"] == host.f_bsize and got["frsize"] == host.f_frsize
        assert got["blocks"] == host.f_blocks and got["files"] == host.f_files
        assert got["namelen"] == host.f_namemax
        assert abs(got["bfree"] - host.f_bfree) < 4096 and abs(got["bavail"] - host.f_bavail) < 4096
        assert abs(got["ffree"] - host.f_ffree) < 4096
    assert guest.call(STATFS, guest.cstr(0, tmp_path / "no"), guest.addr(1024)) == -errno.ENOENT
    assert guest.call(FSTATFS, 9999, guest.addr(1024)) == -errno.EBADF
    assert guest.call(FSTATFS, fd, 0x10) == -errno.EFAULT


def _host_statfs(path: str) -> dict:
    libc = ctypes.CDLL(None, use_errno=True)
    buf = ctypes.create_string_buffer(structs.STATFS.size)
    assert libc.statfs(os.fsencode(path), buf) == 0
    return _statfs_fields(buf.raw)


def test_statfs_reports_the_file_system_type(guest):
    host = _host_statfs("/proc")
    assert host["type"] == 0x9FA0  # PROC_SUPER_MAGIC
    assert guest.call(STATFS, guest.cstr(0, "/proc"), guest.addr(1024)) == 0
    got = _statfs_fields(guest.get(1024, structs.STATFS.size))
    keys = ("type", "fsid0", "fsid1", "flags", "bsize", "namelen")
    assert {k: got[k] for k in keys} == {k: host[k] for k in keys}


# ---- directories ----
def _listing(guest, fd: int, bufsize: int = 200) -> list[tuple[bytes, int, int, int]]:
    entries = []
    while True:
        n = guest.call(GETDENTS64, fd, guest.addr(4096), bufsize)
        assert n >= 0, n
        if n == 0:
            return entries
        data = guest.get(4096, n)
        offset = 0
        while offset < n:
            ino, off, reclen, dtype = structs.DIRENT64.unpack_from(data, offset)
            assert reclen % 8 == 0
            name = data[offset + 19 : offset + reclen].split(b"\0", 1)[0]
            entries.append((name, ino, dtype, off))
            offset += reclen


def test_getdents64_inodes_types_and_rewind(guest, fds, tree):
    fd = fds.add(os.open(tree, os.O_RDONLY | os.O_DIRECTORY))
    first = _listing(guest, fd)
    names = {name for name, *_ in first}
    assert names == {b".", b"..", *(os.fsencode(n) for n in os.listdir(tree))}
    for name, ino, dtype, _ in first:
        if name not in (b".", b".."):
            st = os.lstat(tree / os.fsdecode(name))
            assert ino == st.st_ino
            assert dtype == structs.dirent_type(st.st_mode)
    by_name = {name: (ino, dtype) for name, ino, dtype, _ in first}
    assert by_name[b"."] == (os.stat(tree).st_ino, 4)
    assert by_name[b"link"][1] == 10 and by_name[b"fifo"][1] == 1 and by_name[b"dir"][1] == 4
    # d_off values increase, and seeking back to 0 starts the listing again
    assert len({off for *_, off in first}) == len(first)  # each entry has its own d_off cookie
    assert _listing(guest, fd) == []
    assert guest.call(LSEEK, fd, 0, os.SEEK_SET) == 0
    assert _listing(guest, fd) == first


def test_getdents64_errors(guest, fds, tree):
    fd = fds.add(os.open(tree, os.O_RDONLY | os.O_DIRECTORY))
    assert guest.call(GETDENTS64, fd, guest.addr(4096), 16) == -errno.EINVAL  # no room for one entry
    f = fds.add(os.open(tree / "file", os.O_RDONLY))
    assert guest.call(GETDENTS64, f, guest.addr(4096), 4096) == -errno.ENOTDIR
    assert guest.call(GETDENTS64, 9999, guest.addr(4096), 4096) == -errno.EBADF
    assert guest.call(GETDENTS64, fd, 0x10, 4096) == -errno.EFAULT


def test_getdents64_through_openat_and_close(guest, tree):
    fd = guest.call(OPENAT, AT_FDCWD, guest.cstr(0, tree), O_DIRECTORY, 0)
    try:
        assert {name for name, *_ in _listing(guest, fd, 4096)} >= {b"file", b"dir"}
    finally:
        assert guest.call(57, fd) == 0
    assert fd not in guest.process.dir_streams


def test_getdents64_resumes_after_the_entry_whose_d_off_was_sought(guest, fds, tree):
    fd = fds.add(os.open(tree, os.O_RDONLY | os.O_DIRECTORY))
    listing = _listing(guest, fd)
    cookie = listing[2][3]
    assert guest.call(LSEEK, fd, cookie, os.SEEK_SET) == cookie
    assert _listing(guest, fd) == listing[3:]


def test_getdents64_dotdot_has_the_parent_inode(guest, fds, tree):
    fd = fds.add(os.open(tree / "dir", os.O_RDONLY | os.O_DIRECTORY))
    by_name = {name: ino for name, ino, *_ in _listing(guest, fd)}
    assert by_name[b".."] == os.stat(tree).st_ino


# ---- the /proc files dbt answers for the guest ----
def _read_guest_file(guest, path: str) -> bytes:
    fd = guest.call(OPENAT, AT_FDCWD, guest.cstr(0, path), 0, 0)
    assert fd >= 0, fd
    data = b""
    try:
        while n := guest.call(READ, fd, guest.addr(4096), 8192):
            assert n > 0
            data += guest.get(4096, n)
    finally:
        os.close(fd)
    return data


def test_proc_self_maps_lists_the_guest_mappings(guest):
    text = _read_guest_file(guest, "/proc/self/maps").decode()
    assert text == _read_guest_file(guest, f"/proc/{os.getpid()}/maps").decode()
    lines = text.splitlines()
    assert len(lines) == len(guest.process.memory.vmas)
    assert f"{guest.code:08x}-{guest.code + 4096:08x} r-xp 00000000 00:00 0 [code]" in lines
    start = guest.addr(0)
    assert f"{start:08x}-{start + 32 * 4096:08x} rw-p 00000000 00:00 0 [api]" in lines


def test_proc_self_cmdline_and_auxv_of_a_loaded_program():
    binary = hello_binary()
    argv = ["hello", "first arg", "", "3"]
    m = Machine(binary, argv)
    g = Guest(machine=m)
    cmdline = _read_guest_file(g, "/proc/self/cmdline")
    assert cmdline == b"".join(os.fsencode(a) + b"\0" for a in argv)
    assert _read_guest_file(g, f"/proc/{os.getpid()}/cmdline") == cmdline
    auxv = _read_guest_file(g, "/proc/self/auxv")
    assert len(auxv) % 16 == 0
    pairs = [struct.unpack_from("<QQ", auxv, i) for i in range(0, len(auxv), 16)]
    assert pairs[-1] == (0, 0)  # AT_NULL ends it
    entries = dict(pairs)
    assert entries[6] == 4096  # AT_PAGESZ
    assert entries[9] == m.process.image.main.entry  # AT_ENTRY: the program's own entry point
    assert entries[11] == os.getuid() and entries[13] == os.getgid()  # AT_UID, AT_GID
    maps = _read_guest_file(g, "/proc/self/maps").decode()
    assert "[stack]" in maps and os.path.basename(binary) in maps
    # /proc/self/exe names the guest program, not the Python running dbt
    n = g.call(READLINKAT, AT_FDCWD, g.cstr(0, "/proc/self/exe"), g.addr(1024), 4096)
    assert g.get(1024, n) == os.fsencode(os.path.abspath(binary))
