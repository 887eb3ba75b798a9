"""Network backends of virtio-net: the host side that Ethernet frames go to and come from.

`socket` speaks QEMU's `-netdev socket` protocol, so a dbt machine can talk to a QEMU machine, to
another dbt, or to a test's own peer: over TCP (`connect=HOST:PORT` or `listen=HOST:PORT`, which
waits for one peer) each frame is preceded by its length as a 4-byte big-endian number; over
UDP (`udp=HOST:PORT,localaddr=HOST:PORT`) each datagram is a frame.
Stage: devices.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import struct

from dbt.errors import NetError

log = logging.getLogger("dbt.devices")

#: The largest frame either side accepts (an Ethernet frame with a VLAN tag, and room to spare).
MAX_FRAME = 65536


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


def parse_netdev(text: str) -> tuple[str, dict[str, str]]:
    """--netdev KIND[,key=value...] as QEMU spells it: (kind, options); id= is accepted and
    ignored (the one netdev goes to the one virtio-net device)."""
    kind, _, rest = text.partition(",")
    options = dict(part.split("=", 1) if "=" in part else (part, "") for part in rest.split(",") if part)
    options.pop("id", None)
    if kind != "socket":
        raise NetError(f"--netdev: unknown or unsupported backend {kind!r} (supported: socket)")
    unknown = set(options) - {"connect", "listen", "udp", "localaddr"}
    if unknown:
        raise NetError(f"--netdev socket: unknown option {sorted(unknown)[0]!r}")
    return kind, options


def open_backend(text: str) -> SocketBackend:
    _, options = parse_netdev(text)
    return SocketBackend(options)
