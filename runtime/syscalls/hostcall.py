"""Direct libc calls for system calls whose arguments are structures with the same binary layout
on riscv64 and on the Linux hosts dbt runs on (sockets, poll, statx, extended attributes).

Guest pointers are translated to host addresses inside guest RAM after a permission check, so
the host kernel reads and writes guest memory directly. Failures come back as OSError with the
host errno, which the dispatcher turns into -errno.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

LINUX = sys.platform.startswith("linux")
_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)


#: libc functions that return ssize_t; the others return int.
SSIZE_FUNCTIONS = frozenset(
    [
        "read",
        "write",
        "readv",
        "writev",
        "preadv",
        "pwritev",
        "pread",
        "pwrite",
        "sendto",
        "recvfrom",
        "sendmsg",
        "recvmsg",
    ]
)


def libc_function(name: str, restype=None):
    """A libc function with errno checking, or None if this libc lacks it."""
    fn = getattr(_libc, name, None)
    if fn is None:
        return None
    if restype is None:
        restype = ctypes.c_ssize_t if name in SSIZE_FUNCTIONS else ctypes.c_int
    fn.restype = restype

    def call(*args: int) -> int:
        result = fn(*(ctypes.c_long(a) if isinstance(a, int) else a for a in args))
        if result == -1:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))
        return result

    return call


_cache: dict[str, object] = {}


def libc(name: str):
    """libc_function(name), looked up once."""
    fn = _cache.get(name)
    if fn is None:
        fn = libc_function(name)
        if fn is None:
            raise OSError(38, f"{name} is not available on this host")
        _cache[name] = fn
    return fn


def raw_syscall(number: int):
    """libc's syscall(2) for a host system call number."""
    fn = _libc.syscall
    fn.restype = ctypes.c_long

    def call(*args: int) -> int:
        result = fn(ctypes.c_long(number), *(ctypes.c_long(a) for a in args))
        if result == -1:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))
        return result

    return call
