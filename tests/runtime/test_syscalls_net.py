"""Socket system calls (runtime/syscalls/net.py) on AF_UNIX pairs and loopback TCP/UDP, compared
with what the host's socket module sees on the same descriptors."""

from __future__ import annotations

import errno
import fcntl
import os
import socket
import struct

SOCKET, SOCKETPAIR, BIND, LISTEN, ACCEPT, CONNECT = 198, 199, 200, 201, 202, 203
GETSOCKNAME, GETPEERNAME, SENDTO, RECVFROM, SETSOCKOPT, GETSOCKOPT = 204, 205, 206, 207, 208, 209
SHUTDOWN, SENDMSG, RECVMSG, ACCEPT4, IOCTL = 210, 211, 212, 242, 29
AF_UNIX, AF_INET = 1, 2
SOCK_STREAM, SOCK_DGRAM = 1, 2
SOCK_NONBLOCK, SOCK_CLOEXEC = 0o4000, 0o2000000
SOL_SOCKET, SO_REUSEADDR, SO_TYPE, SCM_RIGHTS = 1, 2, 3, 1
MSG_PEEK, MSG_CTRUNC, MSG_DONTWAIT = 2, 8, 0x40
MSGHDR = struct.Struct("<QIxxxxQQQQixxxx")


def host_socket(fd: int) -> socket.socket:
    """A host socket object on a duplicate of fd (closing it leaves fd open)."""
    return socket.socket(fileno=os.dup(fd))


def sockaddr_in(host: str, port: int) -> bytes:
    return struct.pack("<H", AF_INET) + struct.pack(">H", port) + socket.inet_aton(host) + bytes(8)


def parse_sockaddr_in(raw: bytes) -> tuple[str, int]:
    family, port = struct.unpack_from("<H", raw)[0], struct.unpack_from(">H", raw, 2)[0]
    assert family == AF_INET
    return socket.inet_ntoa(raw[4:8]), port


def socketpair(guest, fds, kind: int) -> tuple[int, int]:
    assert guest.call(SOCKETPAIR, AF_UNIX, kind, 0, guest.addr(0)) == 0
    a, b = guest.unpack("<ii", 0)
    fds.add(a, b)
    return a, b


def test_socketpair_stream_send_and_receive(guest, fds):
    a, b = socketpair(guest, fds, SOCK_STREAM)
    with host_socket(a) as s:
        assert (s.family, s.type) == (socket.AF_UNIX, socket.SOCK_STREAM)
    assert guest.call(SENDTO, a, guest.put(64, b"hello"), 5, 0, 0, 0) == 5
    assert guest.call(RECVFROM, b, guest.addr(128), 64, MSG_PEEK, 0, 0) == 5
    assert guest.call(RECVFROM, b, guest.addr(128), 3, 0, 0, 0) == 3
    assert guest.get(128, 3) == b"hel"
    with host_socket(b) as s:
        assert s.recv(16) == b"lo"
    assert guest.call(RECVFROM, b, guest.addr(128), 64, MSG_DONTWAIT, 0, 0) == -errno.EAGAIN
    assert guest.call(SHUTDOWN, a, socket.SHUT_WR) == 0
    assert guest.call(RECVFROM, b, guest.addr(128), 64, 0, 0, 0) == 0  # end of stream
    assert guest.call(SENDTO, a, guest.addr(64), 5, MSG_DONTWAIT | 0x4000, 0, 0) == -errno.EPIPE  # NOSIGNAL


def test_socketpair_datagrams_keep_their_boundaries(guest, fds):
    a, b = socketpair(guest, fds, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK)
    with host_socket(a) as s:
        assert s.type == socket.SOCK_DGRAM
    assert not os.get_inheritable(a) and not os.get_blocking(b)
    assert guest.call(SENDTO, a, guest.put(64, b"one"), 3, 0, 0, 0) == 3
    assert guest.call(SENDTO, a, guest.put(64, b"second"), 6, 0, 0, 0) == 6
    assert guest.call(RECVFROM, b, guest.addr(128), 64, 0, 0, 0) == 3
    assert guest.call(RECVFROM, b, guest.addr(128), 2, 0, 0, 0) == 2  # the rest is dropped
    assert guest.get(128, 2) == b"se"
    assert guest.call(RECVFROM, b, guest.addr(128), 64, 0, 0, 0) == -errno.EAGAIN


def test_socket_calls_report_efault_for_bad_pointers(guest, fds):
    assert guest.call(SOCKETPAIR, AF_UNIX, SOCK_STREAM, 0, 0x10) == -errno.EFAULT
    assert guest.call(SOCKETPAIR, AF_UNIX, SOCK_STREAM, 0, guest.code) == -errno.EFAULT  # read-only
    a, b = socketpair(guest, fds, SOCK_STREAM)
    assert guest.call(SENDTO, a, 0x10, 4, 0, 0, 0) == -errno.EFAULT
    assert guest.call(RECVFROM, b, 0x10, 4, MSG_DONTWAIT, 0, 0) == -errno.EFAULT
    assert guest.call(GETSOCKNAME, a, guest.addr(256), 0x10) == -errno.EFAULT
    guest.put(300, struct.pack("<I", 110))
    assert guest.call(GETSOCKNAME, a, 0x10, guest.addr(300)) == -errno.EFAULT
    assert guest.call(SENDMSG, a, 0x10, 0) == -errno.EFAULT
    assert guest.call(RECVMSG, b, 0x10, 0) == -errno.EFAULT
    assert guest.call(BIND, a, 0x10, 16) == -errno.EFAULT
    assert guest.call(SETSOCKOPT, a, SOL_SOCKET, SO_REUSEADDR, 0x10, 4) == -errno.EFAULT


def test_socket_errors_from_the_host(guest, fds):
    assert guest.call(SOCKET, 12345, SOCK_STREAM, 0) == -errno.EAFNOSUPPORT
    r, w = os.pipe()
    fds.add(r, w)
    guest.put(300, struct.pack("<I", 16))
    assert guest.call(GETSOCKNAME, r, guest.addr(256), guest.addr(300)) == -errno.ENOTSOCK
    assert guest.call(LISTEN, r, 1) == -errno.ENOTSOCK
    assert guest.call(SHUTDOWN, r, 0) == -errno.ENOTSOCK
    assert guest.call(SHUTDOWN, 9999, 0) == -errno.EBADF


def _msghdr(guest, offset, iovs: list[tuple[int, int]], control: int = 0, controllen: int = 0) -> int:
    iov = guest.put(offset + 64, b"".join(struct.pack("<QQ", base, n) for base, n in iovs))
    return guest.put(offset, MSGHDR.pack(0, 0, iov, len(iovs), control, controllen, 0))


def test_sendmsg_recvmsg_two_iovecs_and_scm_rights(guest, fds, tmp_path):
    a, b = socketpair(guest, fds, SOCK_STREAM)
    (tmp_path / "passed").write_text("passed along")
    passed = fds.add(os.open(tmp_path / "passed", os.O_RDONLY))
    cmsg = guest.put(512, struct.pack("<Qiii", 20, SOL_SOCKET, SCM_RIGHTS, passed) + bytes(4))
    msg = _msghdr(guest, 0, [(guest.put(1024, b"hello "), 6), (guest.put(1100, b"world"), 5)], cmsg, 24)
    assert guest.call(SENDMSG, a, msg, 0) == 11
    control = guest.put(2048, bytes(64))
    rmsg = _msghdr(guest, 256, [(guest.addr(3000), 4), (guest.addr(3100), 20)], control, 64)
    assert guest.call(RECVMSG, b, rmsg, 0) == 11
    assert guest.get(3000, 4) == b"hell" and guest.get(3100, 7) == b"o world"
    _, _, _, _, _, controllen, flags = MSGHDR.unpack(guest.get(256, MSGHDR.size))
    assert controllen == 24 and flags == 0  # CMSG_SPACE(sizeof(int))
    length, level, kind, received = struct.unpack("<Qiii", guest.get(2048, 20))
    assert (length, level, kind) == (20, SOL_SOCKET, SCM_RIGHTS)
    fds.add(received)
    assert received != passed
    assert os.path.samestat(os.fstat(received), os.fstat(passed))
    assert os.read(received, 64) == b"passed along"


def test_recvmsg_reports_truncated_control_data(guest, fds, tmp_path):
    a, b = socketpair(guest, fds, SOCK_DGRAM)
    (tmp_path / "f").write_text("x")
    passed = fds.add(os.open(tmp_path / "f", os.O_RDONLY))
    cmsg = guest.put(512, struct.pack("<QiiiI", 20, SOL_SOCKET, SCM_RIGHTS, passed, 0))
    assert guest.call(SENDMSG, a, _msghdr(guest, 0, [(guest.put(1024, b"datagram"), 8)], cmsg, 24), 0) == 8
    rmsg = _msghdr(guest, 256, [(guest.addr(3000), 4)], guest.addr(2048), 8)  # no room for the fd
    assert guest.call(RECVMSG, b, rmsg, 0) == 4
    _, _, _, _, _, controllen, flags = MSGHDR.unpack(guest.get(256, MSGHDR.size))
    assert controllen == 0
    assert flags & MSG_CTRUNC and flags & 0x20  # MSG_TRUNC: the datagram was longer too
    assert guest.call(RECVMSG, b, _msghdr(guest, 256, [(0, 0)] * 1025), MSG_DONTWAIT) == -errno.EINVAL


def test_inet_listen_accept4_connect_and_names(guest, fds):
    listener = guest.call(SOCKET, AF_INET, SOCK_STREAM, 0)
    fds.add(listener)
    one = guest.put(0, struct.pack("<i", 1))
    assert guest.call(SETSOCKOPT, listener, SOL_SOCKET, SO_REUSEADDR, one, 4) == 0
    guest.put(8, struct.pack("<I", 4))
    assert guest.call(GETSOCKOPT, listener, SOL_SOCKET, SO_REUSEADDR, guest.addr(16), guest.addr(8)) == 0
    assert guest.unpack("<iI", 16)[0] == 1 and guest.unpack("<I", 8) == (4,)
    with host_socket(listener) as s:
        assert s.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR) == 1
    assert guest.call(GETSOCKOPT, listener, SOL_SOCKET, SO_TYPE, guest.addr(16), guest.addr(8)) == 0
    assert guest.unpack("<i", 16) == (SOCK_STREAM,)
    assert guest.call(BIND, listener, guest.put(64, sockaddr_in("127.0.0.1", 0)), 16) == 0
    assert guest.call(LISTEN, listener, 4) == 0
    guest.put(96, struct.pack("<I", 16))
    assert guest.call(GETSOCKNAME, listener, guest.addr(128), guest.addr(96)) == 0
    address = parse_sockaddr_in(guest.get(128, 16))
    with host_socket(listener) as s:
        assert address == s.getsockname() and address[1] != 0

    with socket.create_connection(address) as client:
        guest.put(96, struct.pack("<I", 16))
        conn = guest.call(ACCEPT4, listener, guest.addr(128), guest.addr(96), SOCK_CLOEXEC | SOCK_NONBLOCK)
        fds.add(conn)
        assert parse_sockaddr_in(guest.get(128, 16)) == client.getsockname()
        assert not os.get_inheritable(conn) and not os.get_blocking(conn)
        guest.put(96, struct.pack("<I", 16))
        assert guest.call(GETPEERNAME, conn, guest.addr(128), guest.addr(96)) == 0
        assert parse_sockaddr_in(guest.get(128, 16)) == client.getsockname()
        client.sendall(b"from host")
        assert guest.call(RECVFROM, conn, guest.addr(256), 64, 0, 0, 0) == 9
        assert guest.get(256, 9) == b"from host"
        assert guest.call(SENDTO, conn, guest.put(256, b"from guest"), 10, 0, 0, 0) == 10
        assert client.recv(64) == b"from guest"
        assert guest.call(SHUTDOWN, conn, socket.SHUT_WR) == 0
        assert client.recv(64) == b""
        # accept (without flags, without an address) of a second connection
        with socket.create_connection(address):
            second = guest.call(ACCEPT, listener, 0, 0)
            fds.add(second)
            assert os.get_inheritable(second) and os.get_blocking(second)
    guest.put(96, struct.pack("<I", 16))
    assert guest.call(GETPEERNAME, listener, guest.addr(128), guest.addr(96)) == -errno.ENOTCONN


def test_inet_connect_and_datagrams_with_addresses(guest, fds):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        sock = fds.add(guest.call(SOCKET, AF_INET, SOCK_STREAM, 0))
        assert guest.call(CONNECT, sock, guest.put(0, sockaddr_in(*server.getsockname())), 16) == 0
        conn, peer = server.accept()
        with conn:
            guest.put(96, struct.pack("<I", 16))
            assert guest.call(GETSOCKNAME, sock, guest.addr(128), guest.addr(96)) == 0
            assert parse_sockaddr_in(guest.get(128, 16)) == peer
            conn.sendall(b"ok")
            assert guest.call(RECVFROM, sock, guest.addr(256), 64, 0, 0, 0) == 2
        port = server.getsockname()[1]
    # nothing listens there any more
    refused = fds.add(guest.call(SOCKET, AF_INET, SOCK_STREAM, 0))
    assert (
        guest.call(CONNECT, refused, guest.put(0, sockaddr_in("127.0.0.1", port)), 16) == -errno.ECONNREFUSED
    )

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer_socket:
        peer_socket.bind(("127.0.0.1", 0))
        udp = fds.add(guest.call(SOCKET, AF_INET, SOCK_DGRAM, 0))
        target = guest.put(0, sockaddr_in(*peer_socket.getsockname()))
        assert guest.call(SENDTO, udp, guest.put(64, b"ping"), 4, 0, target, 16) == 4
        data, source = peer_socket.recvfrom(64)
        assert data == b"ping"
        peer_socket.sendto(b"pong", source)
        guest.put(96, struct.pack("<I", 16))
        assert guest.call(RECVFROM, udp, guest.addr(256), 64, 0, guest.addr(128), guest.addr(96)) == 4
        assert guest.get(256, 4) == b"pong"
        assert parse_sockaddr_in(guest.get(128, 16)) == peer_socket.getsockname()
        assert guest.unpack("<I", 96) == (16,)


def test_unix_socket_bound_to_a_path(guest, fds, tmp_path):
    path = os.fsencode(tmp_path / "sock")
    sock = fds.add(guest.call(SOCKET, AF_UNIX, SOCK_DGRAM, 0))
    address = struct.pack("<H", AF_UNIX) + path + b"\0"
    assert guest.call(BIND, sock, guest.put(0, address), len(address)) == 0
    assert os.path.exists(tmp_path / "sock")
    guest.put(200, struct.pack("<I", 110))
    assert guest.call(GETSOCKNAME, sock, guest.addr(256), guest.addr(200)) == 0
    length = guest.unpack("<I", 200)[0]
    assert length == len(address)
    assert guest.get(256, length) == address
    with host_socket(sock) as s:
        assert s.getsockname() == os.fsdecode(path)
    # a too-small buffer is filled as far as it goes and the full length reported
    guest.put(200, struct.pack("<I", 4))
    guest.put(256, b"\xff" * 8)
    assert guest.call(GETSOCKNAME, sock, guest.addr(256), guest.addr(200)) == 0
    assert guest.unpack("<I", 200) == (len(address),)
    assert guest.get(256, 6) == address[:4] + b"\xff\xff"
    assert guest.call(BIND, sock, guest.put(0, address), len(address)) == -errno.EADDRINUSE
    other = struct.pack("<H", AF_UNIX) + os.fsencode(tmp_path / "other") + b"\0"
    assert guest.call(BIND, sock, guest.put(0, other), len(other)) == -errno.EINVAL  # bound already
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
        sender.bind(os.fsdecode(tmp_path / "sender"))
        sender.sendto(b"to guest", os.fsdecode(path))
        guest.put(200, struct.pack("<I", 110))
        assert guest.call(RECVFROM, sock, guest.addr(512), 64, 0, guest.addr(256), guest.addr(200)) == 8
        source_length = guest.unpack("<I", 200)[0]
        assert guest.get(256 + 2, source_length - 3) == os.fsencode(tmp_path / "sender")


def test_socket_interface_ioctls_match_the_host(guest, fds):
    sock = fds.add(guest.call(SOCKET, AF_INET, SOCK_DGRAM, 0))
    request = b"lo".ljust(40, b"\0")
    for name, number in (("SIOCGIFFLAGS", 0x8913), ("SIOCGIFINDEX", 0x8933), ("SIOCGIFMTU", 0x8921)):
        with host_socket(sock) as s:
            expected = fcntl.ioctl(s.fileno(), number, request)
        assert guest.call(IOCTL, sock, number, guest.put(0, request)) == 0, name
        assert guest.get(0, 40) == expected, name
    assert struct.unpack_from("<i", guest.get(0, 40), 16)[0] > 0
    guest.put(0, request)
    assert guest.call(IOCTL, sock, 0x8933, guest.addr(0)) == 0
    assert struct.unpack_from("<i", guest.get(0, 40), 16)[0] == socket.if_nametoindex("lo")
    unknown = b"no-such-if0".ljust(40, b"\0")
    assert guest.call(IOCTL, sock, 0x8913, guest.put(0, unknown)) == -errno.ENODEV
    assert guest.call(IOCTL, sock, 0x8913, 0x10) == -errno.EFAULT
