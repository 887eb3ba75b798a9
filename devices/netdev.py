"""Network backends of virtio-net: the host side that Ethernet frames go to and come from.

`socket` speaks QEMU's `-netdev socket` protocol, so a dbt machine can talk to a QEMU machine, to
another dbt, or to a test's own peer: over TCP (`connect=HOST:PORT` or `listen=HOST:PORT`, which
waits for one peer) each frame is preceded by its length as a 4-byte big-endian number; over
UDP (`udp=HOST:PORT,localaddr=HOST:PORT`) each datagram is a frame.
Stage: devices.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import socket
import struct
import time
from collections.abc import Callable
from typing import Protocol

from dbt.errors import NetError

log = logging.getLogger("dbt.devices")

#: The largest frame either side accepts (an Ethernet frame with a VLAN tag, and room to spare).
MAX_FRAME = 65536


class Backend(Protocol):
    """What virtio-net and the event loop need of a backend."""

    sent: int
    received: int

    def fileno(self) -> int: ...
    def send(self, frame: bytes) -> None: ...
    def receive(self) -> tuple[list[bytes], bool]: ...
    def close(self) -> None: ...


def _address(text: str, option: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise NetError(f"--netdev socket: {option}={text!r} is not HOST:PORT")
    return host or "0.0.0.0", int(port)


class SocketBackend:
    """QEMU's socket netdev. `fileno()` is what the event loop watches; `receive()` returns the
    frames that have arrived, `send()` sends one."""

    def __init__(self, options: dict[str, str]) -> None:
        self.stream = True
        self._buffer = bytearray()
        self.peer: tuple[str, int] | None = None
        self.sent = self.received = 0
        try:
            if "connect" in options:
                self.sock = socket.create_connection(_address(options["connect"], "connect"), timeout=10)
            elif "listen" in options:
                server = socket.create_server(_address(options["listen"], "listen"))
                log.info("netdev socket: waiting for a peer on %s", options["listen"])
                with server:
                    self.sock, _ = server.accept()
            elif "udp" in options:
                self.stream = False
                self.peer = _address(options["udp"], "udp")
                self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                self.sock.bind(_address(options.get("localaddr", ":0"), "localaddr"))
            else:
                raise NetError("--netdev socket needs connect=HOST:PORT, listen=HOST:PORT or udp=HOST:PORT")
        except OSError as exc:
            raise NetError(f"--netdev socket: {exc.strerror or exc}") from None
        self.sock.setblocking(False)

    def fileno(self) -> int:
        return self.sock.fileno()

    def send(self, frame: bytes) -> None:
        try:
            if self.stream:
                self.sock.setblocking(True)
                try:
                    self.sock.sendall(struct.pack(">I", len(frame)) + frame)
                finally:
                    self.sock.setblocking(False)
            else:
                self.sock.sendto(frame, self.peer)
            self.sent += 1
        except OSError as exc:  # the peer went away: the frame is lost, as on a cut cable
            log.debug("netdev socket: send: %s", exc)

    def receive(self) -> tuple[list[bytes], bool]:
        """(frames, open): what arrived, and False once the peer has closed the connection."""
        frames = []
        try:
            if not self.stream:
                with contextlib.suppress(BlockingIOError):
                    while True:
                        frames.append(self.sock.recv(MAX_FRAME))
                self.received += len(frames)
                return frames, True
            data = self.sock.recv(1 << 20)
        except BlockingIOError:
            return frames, True
        except OSError as exc:
            log.debug("netdev socket: receive: %s", exc)
            return frames, False
        if not data:
            return frames, False
        self._buffer += data
        while len(self._buffer) >= 4:
            length = struct.unpack_from(">I", self._buffer)[0]
            if length > MAX_FRAME:
                log.debug("netdev socket: a %d-byte frame: the stream is out of step", length)
                return frames, False
            if len(self._buffer) < 4 + length:
                break
            frames.append(bytes(self._buffer[4 : 4 + length]))
            del self._buffer[: 4 + length]
        self.received += len(frames)
        return frames, True

    def close(self) -> None:
        self.sock.close()


TUNSETIFF = 0x400454CA
IFF_TAP, IFF_NO_PI = 0x0002, 0x1000


class TapBackend:
    """A host tap interface (`tap,ifname=NAME`; Linux's /dev/net/tun): each read or write of the
    descriptor is one Ethernet frame. An existing persistent tap (`ip tuntap add ... user U`)
    needs no privilege; creating one needs CAP_NET_ADMIN. dbt runs no ifup script: configure the
    host side yourself (script=no and downscript=no are accepted for QEMU's command lines)."""

    def __init__(self, options: dict[str, str]) -> None:
        for option in ("script", "downscript"):
            if options.get(option, "no") != "no":
                raise NetError(f"--netdev tap: only {option}=no is supported (set the tap up beforehand)")
        name = options.get("ifname", "")
        if len(name.encode()) > 15:
            raise NetError(f"--netdev tap: ifname={name!r} is longer than 15 bytes")
        self.sent = self.received = 0
        try:
            self.fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as exc:
            raise NetError(f"--netdev tap: /dev/net/tun: {exc.strerror}") from None
        try:
            answer = fcntl.ioctl(self.fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI))
        except OSError as exc:
            os.close(self.fd)
            raise NetError(f"--netdev tap: cannot attach to {name or 'a new tap'}: {exc.strerror}") from None
        self.ifname = answer[:16].rstrip(b"\0").decode()
        log.info("netdev tap: attached to %s", self.ifname)

    def fileno(self) -> int:
        return self.fd

    def send(self, frame: bytes) -> None:
        try:
            os.write(self.fd, frame)
            self.sent += 1
        except OSError as exc:  # the interface is down or its queue full: the frame is lost
            log.debug("netdev tap: send: %s", exc)

    def receive(self) -> tuple[list[bytes], bool]:
        frames = []
        while True:
            try:
                frame = os.read(self.fd, MAX_FRAME)
            except BlockingIOError:
                break
            except OSError as exc:
                log.debug("netdev tap: receive: %s", exc)
                break
            frames.append(frame)
        self.received += len(frames)
        return frames, True

    def close(self) -> None:
        os.close(self.fd)


#: The options each backend takes (hostfwd may repeat).
OPTIONS = {
    "socket": {"connect", "listen", "udp", "localaddr"},
    "user": {"net", "host", "dhcpstart", "dns", "hostname", "restrict", "ipv6", "hostfwd"},
    "tap": {"ifname", "script", "downscript"},
}


def parse_netdev(text: str) -> tuple[str, list[tuple[str, str]]]:
    """--netdev KIND[,key=value...] as QEMU spells it: (kind, options in order); id= is accepted
    and ignored (each netdev goes to its own virtio-net device)."""
    kind, _, rest = text.partition(",")
    options = [tuple(part.split("=", 1)) if "=" in part else (part, "") for part in rest.split(",") if part]
    options = [(name, value) for name, value in options if name != "id"]
    if kind not in OPTIONS:
        raise NetError(f"--netdev: unknown or unsupported backend {kind!r} (supported: {', '.join(OPTIONS)})")
    for name, _ in options:
        if name not in OPTIONS[kind]:
            raise NetError(f"--netdev {kind}: unknown option {name!r}")
    return kind, options  # type: ignore[return-value]


def open_backend(text: str, clock: Callable[[], int] = time.monotonic_ns) -> Backend:
    kind, options = parse_netdev(text)
    if kind == "user":
        from dbt.devices.slirp import SlirpBackend

        return SlirpBackend(
            {name: value for name, value in options if name != "hostfwd"},
            [value for name, value in options if name == "hostfwd"],
            clock,
        )
    if kind == "tap":
        return TapBackend(dict(options))
    return SocketBackend(dict(options))
