"""Socket system calls, passed to the host's libc with guest buffers translated in place.

struct sockaddr_*, socklen_t, struct msghdr and the SOL_SOCKET option numbers have the same
layout and values on riscv64 and on x86-64/arm64 Linux, so the calls need no conversion beyond
pointer translation. On other hosts they return ENOSYS.
"""

from __future__ import annotations

import ctypes
import struct

from dbt.runtime.syscalls import errnos, syscall
from dbt.runtime.syscalls.hostcall import LINUX, libc_function

MSGHDR = struct.Struct("<QIxxxxQQQQixxxx")
IOVEC = struct.Struct("<QQ")

_socket = libc_function("socket")
_socketpair = libc_function("socketpair")
_bind = libc_function("bind")
_listen = libc_function("listen")
_accept4 = libc_function("accept4")
_connect = libc_function("connect")
_getsockname = libc_function("getsockname")
_getpeername = libc_function("getpeername")
_sendto = libc_function("sendto")
_recvfrom = libc_function("recvfrom")
_setsockopt = libc_function("setsockopt")
_getsockopt = libc_function("getsockopt")
_shutdown = libc_function("shutdown")
_sendmsg = libc_function("sendmsg")
_recvmsg = libc_function("recvmsg")


def _ptr(proc, addr: int, size: int, writable: bool = False) -> int:
    return proc.memory.host_address(addr, size, writable) if addr else 0


def _len_ptr(proc, addr: int) -> tuple[int, int]:
    """(host pointer to a guest socklen_t, its current value)."""
    if not addr:
        return 0, 0
    return proc.memory.host_address(addr, 4, True), proc.memory.read_u32(addr)


def _supported() -> bool:
    return LINUX and _socket is not None


@syscall(198, "iii")
def sys_socket(proc, domain: int, kind: int, protocol: int) -> int:
    if not _supported():
        return -errnos.ENOSYS
    return _socket(domain, kind, protocol)


@syscall(199, "iiip")
def sys_socketpair(proc, domain: int, kind: int, protocol: int, sv: int) -> int:
    if not _supported():
        return -errnos.ENOSYS
    return _socketpair(domain, kind, protocol, _ptr(proc, sv, 8, True))


@syscall(200, "ipi")
def sys_bind(proc, fd: int, addr: int, addrlen: int) -> int:
    if not _supported():
        return -errnos.ENOSYS
    return _bind(fd, _ptr(proc, addr, addrlen), addrlen)


@syscall(201, "ii")
def sys_listen(proc, fd: int, backlog: int) -> int:
    if not _supported():
        return -errnos.ENOSYS
    return _listen(fd, backlog)


def _accept(proc, fd: int, addr: int, addrlen: int, flags: int) -> int:
    if not _supported():
        return -errnos.ENOSYS
    len_host, length = _len_ptr(proc, addrlen)
    return _accept4(fd, _ptr(proc, addr, length, True), len_host, flags)


@syscall(202, "ipp")
def sys_accept(proc, fd: int, addr: int, addrlen: int) -> int:
    return _accept(proc, fd, addr, addrlen, 0)


@syscall(242, "ippx")
def sys_accept4(proc, fd: int, addr: int, addrlen: int, flags: int) -> int:
    return _accept(proc, fd, addr, addrlen, flags)


@syscall(203, "ipi")
def sys_connect(proc, fd: int, addr: int, addrlen: int) -> int:
    if not _supported():
        return -errnos.ENOSYS
    return _connect(fd, _ptr(proc, addr, addrlen), addrlen)


def _name(fn, proc, fd: int, addr: int, addrlen: int) -> int:
    if not _supported():
        return -errnos.ENOSYS
    len_host, length = _len_ptr(proc, addrlen)
    return fn(fd, _ptr(proc, addr, length, True), len_host)


@syscall(204, "ipp")
def sys_getsockname(proc, fd: int, addr: int, addrlen: int) -> int:
    return _name(_getsockname, proc, fd, addr, addrlen)


@syscall(205, "ipp")
def sys_getpeername(proc, fd: int, addr: int, addrlen: int) -> int:
    return _name(_getpeername, proc, fd, addr, addrlen)


@syscall(206, "ipuxpi")
def sys_sendto(proc, fd: int, buf: int, length: int, flags: int, addr: int, addrlen: int) -> int:
    if not _supported():
        return -errnos.ENOSYS
    return _sendto(fd, _ptr(proc, buf, length), length, flags, _ptr(proc, addr, addrlen), addrlen)


@syscall(207, "ipuxpp")
def sys_recvfrom(proc, fd: int, buf: int, length: int, flags: int, addr: int, addrlen: int) -> int:
    if not _supported():
        return -errnos.ENOSYS
    len_host, name_length = _len_ptr(proc, addrlen)
    return _recvfrom(
        fd, _ptr(proc, buf, length, True), length, flags, _ptr(proc, addr, name_length, True), len_host
    )


@syscall(208, "iiipi")
def sys_setsockopt(proc, fd: int, level: int, name: int, value: int, length: int) -> int:
    if not _supported():
        return -errnos.ENOSYS
    return _setsockopt(fd, level, name, _ptr(proc, value, length), length)


@syscall(209, "iiipp")
def sys_getsockopt(proc, fd: int, level: int, name: int, value: int, length_addr: int) -> int:
    if not _supported():
        return -errnos.ENOSYS
    len_host, length = _len_ptr(proc, length_addr)
    return _getsockopt(fd, level, name, _ptr(proc, value, length, True), len_host)


@syscall(210, "ii")
def sys_shutdown(proc, fd: int, how: int) -> int:
    if not _supported():
        return -errnos.ENOSYS
    return _shutdown(fd, how)


def _host_msghdr(proc, msg: int, writable: bool) -> tuple[ctypes.Array, object]:
    """A host copy of a guest msghdr whose pointers point into guest RAM (plus what keeps it alive)."""
    name, namelen, iov, iovlen, control, controllen, flags = MSGHDR.unpack(
        proc.memory.read_slice(msg, MSGHDR.size)
    )
    if iovlen > 1024:
        raise OSError(errnos.EINVAL, "iovlen")
    raw_iov = proc.memory.read_slice(iov, iovlen * IOVEC.size) if iovlen else b""
    host_iov = (ctypes.c_uint64 * (2 * iovlen or 1))()
    for i in range(iovlen):
        base, length = IOVEC.unpack_from(raw_iov, i * IOVEC.size)
        host_iov[2 * i] = _ptr(proc, base, length, writable)
        host_iov[2 * i + 1] = length
    header = ctypes.create_string_buffer(
        MSGHDR.pack(
            _ptr(proc, name, namelen, writable),
            namelen,
            ctypes.addressof(host_iov),
            iovlen,
            _ptr(proc, control, controllen, writable),
            controllen,
            flags,
        ),
        MSGHDR.size,
    )
    return header, host_iov


@syscall(211, "ipx")
def sys_sendmsg(proc, fd: int, msg: int, flags: int) -> int:
    if not _supported():
        return -errnos.ENOSYS
    header, _keep = _host_msghdr(proc, msg, False)
    return _sendmsg(fd, ctypes.addressof(header), flags)


@syscall(212, "ipx")
def sys_recvmsg(proc, fd: int, msg: int, flags: int) -> int:
    if not _supported():
        return -errnos.ENOSYS
    header, _keep = _host_msghdr(proc, msg, True)
    result = _recvmsg(fd, ctypes.addressof(header), flags)
    _, namelen, _, _, _, controllen, msg_flags = MSGHDR.unpack(header.raw)
    guest = bytearray(proc.memory.read_slice(msg, MSGHDR.size))
    struct.pack_into("<I", guest, 8, namelen)
    struct.pack_into("<Q", guest, 40, controllen)
    struct.pack_into("<i", guest, 48, msg_flags)
    proc.memory.write_slice(msg, bytes(guest))
    return result
