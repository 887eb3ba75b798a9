"""Extended attributes, passed to the host (Linux); elsewhere they are not supported."""

from __future__ import annotations

import os

from dbt.runtime.syscalls import errnos, syscall
from dbt.runtime.syscalls.fs import guest_path, host_path, read_string

_SUPPORTED = hasattr(os, "getxattr")
XATTR_CREATE, XATTR_REPLACE = 1, 2
XATTR_NAME_MAX = 255


def _name(proc, addr: int) -> bytes:
    """An attribute name: ERANGE if empty or longer than XATTR_NAME_MAX, as Linux answers."""
    name = read_string(proc, addr, XATTR_NAME_MAX + 1)
    if not name:
        raise OSError(errnos.ERANGE, "attribute name")
    return name


def _target(proc, path_addr: int, by_fd: bool, read: bool) -> object:
    if by_fd:
        return path_addr
    path = guest_path(proc, path_addr)
    return host_path(proc, path) if read else path


def _get(proc, target: object, name_addr: int, value: int, size: int, follow: bool) -> int:
    if not _SUPPORTED:
        return -errnos.EOPNOTSUPP
    name = _name(proc, name_addr)
    data = os.getxattr(target, name, follow_symlinks=follow)  # type: ignore[arg-type]
    if size == 0:
        return len(data)
    if len(data) > size:
        return -errnos.ERANGE
    proc.memory.write_slice(value, data)
    return len(data)


def _list(proc, target: object, buf: int, size: int, follow: bool) -> int:
    if not _SUPPORTED:
        return -errnos.EOPNOTSUPP
    names = os.listxattr(target, follow_symlinks=follow)  # type: ignore[arg-type]
    data = b"".join(os.fsencode(n) + b"\0" for n in names)
    if size == 0:
        return len(data)
    if len(data) > size:
        return -errnos.ERANGE
    proc.memory.write_slice(buf, data)
    return len(data)


def _set(proc, target: object, name_addr: int, value: int, size: int, flags: int, follow: bool) -> int:
    if not _SUPPORTED:
        return -errnos.EOPNOTSUPP
    name = _name(proc, name_addr)
    os.setxattr(target, name, proc.memory.read_slice(value, size), flags, follow_symlinks=follow)  # type: ignore[arg-type]
    return 0


def _remove(proc, target: object, name_addr: int, follow: bool) -> int:
    if not _SUPPORTED:
        return -errnos.EOPNOTSUPP
    os.removexattr(target, _name(proc, name_addr), follow_symlinks=follow)  # type: ignore[arg-type]
    return 0


@syscall(5, "sspux")
def sys_setxattr(proc, path: int, name: int, value: int, size: int, flags: int) -> int:
    return _set(proc, _target(proc, path, False, False), name, value, size, flags, True)


@syscall(6, "sspux")
def sys_lsetxattr(proc, path: int, name: int, value: int, size: int, flags: int) -> int:
    return _set(proc, _target(proc, path, False, False), name, value, size, flags, False)


@syscall(7, "ispux")
def sys_fsetxattr(proc, fd: int, name: int, value: int, size: int, flags: int) -> int:
    return _set(proc, fd, name, value, size, flags, True)


@syscall(8, "sspu")
def sys_getxattr(proc, path: int, name: int, value: int, size: int) -> int:
    return _get(proc, _target(proc, path, False, True), name, value, size, True)


@syscall(9, "sspu")
def sys_lgetxattr(proc, path: int, name: int, value: int, size: int) -> int:
    return _get(proc, _target(proc, path, False, True), name, value, size, False)


@syscall(10, "ispu")
def sys_fgetxattr(proc, fd: int, name: int, value: int, size: int) -> int:
    return _get(proc, fd, name, value, size, True)


@syscall(11, "spu")
def sys_listxattr(proc, path: int, buf: int, size: int) -> int:
    return _list(proc, _target(proc, path, False, True), buf, size, True)


@syscall(12, "spu")
def sys_llistxattr(proc, path: int, buf: int, size: int) -> int:
    return _list(proc, _target(proc, path, False, True), buf, size, False)


@syscall(13, "ipu")
def sys_flistxattr(proc, fd: int, buf: int, size: int) -> int:
    return _list(proc, fd, buf, size, True)


@syscall(14, "ss")
def sys_removexattr(proc, path: int, name: int) -> int:
    return _remove(proc, _target(proc, path, False, False), name, True)


@syscall(15, "ss")
def sys_lremovexattr(proc, path: int, name: int) -> int:
    return _remove(proc, _target(proc, path, False, False), name, False)


@syscall(16, "is")
def sys_fremovexattr(proc, fd: int, name: int) -> int:
    return _remove(proc, fd, name, True)
