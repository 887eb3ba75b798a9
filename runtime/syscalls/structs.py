"""Binary layouts of the riscv64 Linux structures system calls exchange (asm-generic, LP64)."""

from __future__ import annotations

import os
import stat as statmod
import struct

# struct stat (asm-generic/stat.h): 128 bytes.
STAT = struct.Struct("<QQIIIIQQqiiqqQqQqQII")
# struct statx: 256 bytes.
STATX_HEAD = struct.Struct("<IIQIIIHHQQQQ")
STATX_TS = struct.Struct("<qIi")
STATX_SIZE = 256
STATX_BASIC_STATS = 0x7FF
STATX_BTIME = 0x800
TIMESPEC = struct.Struct("<qq")
TIMEVAL = struct.Struct("<qq")
IOVEC = struct.Struct("<QQ")
# struct linux_dirent64 header: d_ino, d_off, d_reclen, d_type.
DIRENT64 = struct.Struct("<QqHB")
RLIMIT = struct.Struct("<QQ")
RLIM_INFINITY = (1 << 64) - 1
SIGACTION = struct.Struct("<QQQ")
STACK_T = struct.Struct("<QiiQ")
# struct statfs (64-bit asm-generic): 120 bytes.
STATFS = struct.Struct("<qqQQQQQiiqqq4q")


def _dev_split(dev: int) -> tuple[int, int]:
    return os.major(dev), os.minor(dev)


def _ns(st: os.stat_result, name: str) -> tuple[int, int]:
    total = getattr(st, name + "_ns", None)
    if total is None:
        value = getattr(st, name)
        total = int(value * 1_000_000_000)
    return total // 1_000_000_000, total % 1_000_000_000


def pack_stat(st: os.stat_result) -> bytes:
    a_s, a_ns = _ns(st, "st_atime")
    m_s, m_ns = _ns(st, "st_mtime")
    c_s, c_ns = _ns(st, "st_ctime")
    mask64 = (1 << 64) - 1
    return STAT.pack(
        st.st_dev & mask64, st.st_ino & mask64, guest_mode(st.st_mode), st.st_nlink & 0xFFFFFFFF,
        st.st_uid, st.st_gid, getattr(st, "st_rdev", 0), 0, st.st_size, getattr(st, "st_blksize", 4096), 0,
        getattr(st, "st_blocks", (st.st_size + 511) // 512), a_s, a_ns, m_s, m_ns, c_s, c_ns, 0, 0,
    )  # fmt: skip


def pack_statx(st: os.stat_result) -> bytes:
    mask = STATX_BASIC_STATS
    birth = getattr(st, "st_birthtime", None)
    if birth is not None:
        mask |= STATX_BTIME
    head = STATX_HEAD.pack(
        mask, getattr(st, "st_blksize", 4096), 0, st.st_nlink & 0xFFFFFFFF, st.st_uid, st.st_gid,
        guest_mode(st.st_mode) & 0xFFFF, 0, st.st_ino & (1 << 64) - 1, st.st_size,
        getattr(st, "st_blocks", (st.st_size + 511) // 512), 0,
    )  # fmt: skip
    out = bytearray(head)
    for name in ("st_atime", None, "st_ctime", "st_mtime"):
        if name is None:
            b = birth or 0
            out += STATX_TS.pack(int(b), int((b - int(b)) * 1e9), 0)
        else:
            sec, ns = _ns(st, name)
            out += STATX_TS.pack(sec, ns, 0)
    rmaj, rmin = _dev_split(getattr(st, "st_rdev", 0))
    dmaj, dmin = _dev_split(st.st_dev)
    out += struct.pack("<IIII", rmaj, rmin, dmaj, dmin)
    out += bytes(STATX_SIZE - len(out))
    return bytes(out)


# File type bits are the same on every Unix dbt runs on except for their names: rebuild them.
_TYPES = (
    (statmod.S_ISREG, 0o100000),
    (statmod.S_ISDIR, 0o040000),
    (statmod.S_ISLNK, 0o120000),
    (statmod.S_ISCHR, 0o020000),
    (statmod.S_ISBLK, 0o060000),
    (statmod.S_ISFIFO, 0o010000),
    (statmod.S_ISSOCK, 0o140000),
)


def guest_mode(mode: int) -> int:
    for test, bits in _TYPES:
        if test(mode):
            return bits | (mode & 0o7777)
    return mode & 0o7777


def dirent_type(mode: int) -> int:
    """d_type for a mode: DT_FIFO 1, DT_CHR 2, DT_DIR 4, DT_BLK 6, DT_REG 8, DT_LNK 10, DT_SOCK 12."""
    return (guest_mode(mode) >> 12) & 0xF
