"""A tiny host on the other end of QEMU's socket netdev (TCP, 4-byte big-endian length before
each frame), for the network tests: it answers ARP requests for its address and ICMP echo
requests, and records every frame it is sent. QEMU and dbt both connect to it, so what the
guest sees can be compared.
"""

from __future__ import annotations

import socket
import struct
import threading

PEER_MAC = bytes.fromhex("5255 0a00 0202".replace(" ", ""))
PEER_IP = bytes([10, 0, 2, 2])


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def reply_to(frame: bytes) -> bytes | None:
    """The peer's answer to one Ethernet frame, if it has one."""
    if len(frame) < 14:
        return None
    destination, source, ethertype = frame[0:6], frame[6:12], struct.unpack("!H", frame[12:14])[0]
    body = frame[14:]
    if ethertype == 0x0806 and len(body) >= 28:  # ARP
        op = struct.unpack("!H", body[6:8])[0]
        sender_mac, sender_ip, target_ip = body[8:14], body[14:18], body[24:28]
        if op == 1 and target_ip == PEER_IP:
            arp = body[0:6] + struct.pack("!H", 2) + PEER_MAC + PEER_IP + sender_mac + sender_ip
            return source + PEER_MAC + frame[12:14] + arp
    if ethertype == 0x0800 and len(body) >= 28 and destination == PEER_MAC:  # IPv4
        header_length = (body[0] & 15) * 4
        total = struct.unpack("!H", body[2:4])[0]
        if body[9] == 1 and body[16:20] == PEER_IP and body[header_length] == 8:  # ICMP echo request
            icmp = bytearray(body[header_length:total])
            icmp[0] = 0  # echo reply
            icmp[2:4] = b"\0\0"
            icmp[2:4] = struct.pack("!H", _checksum(bytes(icmp)))
            ip = bytearray(body[:header_length])
            ip[12:16], ip[16:20] = body[16:20], body[12:16]
            ip[8] = 64
            ip[10:12] = b"\0\0"
            ip[10:12] = struct.pack("!H", _checksum(bytes(ip)))
            return source + PEER_MAC + frame[12:14] + bytes(ip) + bytes(icmp)
    return None


class NetPeer:
    """Listens on 127.0.0.1 (a free port: `port`) for one machine at a time."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.frames: list[bytes] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with conn:
                buffer = b""
                while True:
                    try:
                        data = conn.recv(65536)
                    except OSError:
                        break
                    if not data:
                        break
                    buffer += data
                    while len(buffer) >= 4 and len(buffer) >= 4 + struct.unpack("!I", buffer[:4])[0]:
                        length = struct.unpack("!I", buffer[:4])[0]
                        frame, buffer = buffer[4 : 4 + length], buffer[4 + length :]
                        self.frames.append(frame)
                        answer = reply_to(frame)
                        if answer is not None:
                            conn.sendall(struct.pack("!I", len(answer)) + answer)

    def close(self) -> None:
        self.server.close()
