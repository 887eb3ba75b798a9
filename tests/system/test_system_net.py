"""virtio-net: U-Boot's virtio-net driver pings a peer on the other end of QEMU's socket netdev
(tests/system/netpeer.py answers ARP and ICMP echo), under dbt and under qemu-system-riscv64
against the same peer: the same console and the same frames on the wire; U-Boot takes a DHCP
lease from the user netdev (libslirp) and pings its gateway, as under QEMU's. The socket
backend's framing and its errors on their own.
"""

from __future__ import annotations

import re
import socket
import struct
import subprocess
import sys

import pytest
from debianfetch import need
from netpeer import NetPeer
from test_system_boot import OPENSBI, QEMU_SYSTEM, TIERS, UBOOT, _converse

from dbt.devices.netdev import SocketBackend, open_backend
from dbt.devices.virtio_net import RX_BACKLOG, VirtioNet
from dbt.errors import NetError

#: (An address nobody answers would cost U-Boot's 20-second ARP timeout.)
PING = [b"setenv ipaddr 10.0.2.15", b"setenv netmask 255.255.255.0", b"ping 10.0.2.2", b"ping 10.0.2.2",
        b"poweroff"]  # fmt: skip


@pytest.mark.parametrize("tier", sorted(TIERS))
def test_uboot_pings_the_peer_as_under_qemu(tier):
    need(QEMU_SYSTEM, "qemu-system-riscv64")
    need(UBOOT, "Debian's u-boot-qemu package")
    need(OPENSBI, "Debian's opensbi package")
    peer = NetPeer()
    try:
        qemu = [QEMU_SYSTEM, "-M", "virt", "-nographic", "-kernel", UBOOT, "-netdev",
                f"socket,id=n0,connect=127.0.0.1:{peer.port}", "-device",
                "virtio-net-device,netdev=n0"]  # fmt: skip
        qemu_status, reference = _converse(qemu, PING, stop_autoboot=True)
        qemu_frames, peer.frames = peer.frames, []
        dbt = [sys.executable, "-m", "dbt", "system", "--kernel", UBOOT, "--netdev",
               f"socket,connect=127.0.0.1:{peer.port}", *TIERS[tier]]  # fmt: skip
        status, answers = _converse(dbt, PING, stop_autoboot=True)
    finally:
        peer.close()
    assert qemu_status == status == 0
    assert b"host 10.0.2.2 is alive" in reference[2]
    assert len(qemu_frames) == 4  # ARP request and echo request, twice (U-Boot keeps no ARP cache)
    assert answers == reference
    assert peer.frames == qemu_frames


#: U-Boot asks the user network (libslirp) for an address, then pings its gateway.
DHCP = [b"setenv autoload no", b"dhcp", b"ping 10.0.2.2", b"poweroff"]


@pytest.mark.parametrize("tier", sorted(TIERS))
def test_uboot_takes_a_dhcp_lease_from_the_user_network_as_under_qemu(tier):
    need(QEMU_SYSTEM, "qemu-system-riscv64")
    need(UBOOT, "Debian's u-boot-qemu package")
    need(OPENSBI, "Debian's opensbi package")
    qemu = [QEMU_SYSTEM, "-M", "virt", "-nographic", "-kernel", UBOOT, "-netdev", "user,id=n0",
            "-device", "virtio-net-device,netdev=n0"]  # fmt: skip
    qemu_status, reference = _converse(qemu, DHCP, stop_autoboot=True)
    dbt = [sys.executable, "-m", "dbt", "system", "--kernel", UBOOT, "--netdev", "user", *TIERS[tier]]
    status, answers = _converse(dbt, DHCP, stop_autoboot=True)
    assert qemu_status == status == 0
    assert b"DHCP client bound to address 10.0.2.15" in reference[1]
    assert b"host 10.0.2.2 is alive" in reference[2]

    def untimed(lines: list[bytes]) -> list[bytes]:  # U-Boot says how many ms the lease took
        return [re.sub(rb"\(\d+ ms\)", b"(N ms)", line) for line in lines]

    assert untimed(answers) == untimed(reference)


def _pair() -> tuple[SocketBackend, socket.socket]:
    server = socket.create_server(("127.0.0.1", 0))
    with server:
        backend = SocketBackend({"connect": f"127.0.0.1:{server.getsockname()[1]}"})
        other, _ = server.accept()
    return backend, other


def _receive_all(backend: SocketBackend, count: int) -> list[bytes]:
    frames: list[bytes] = []
    for _ in range(1000):
        got, still_open = backend.receive()
        frames += got
        assert still_open
        if len(frames) >= count:
            break
    return frames


def test_stream_framing_across_and_within_reads():
    backend, other = _pair()
    with other:
        frames = [bytes([i]) * (60 + i) for i in range(5)]
        wire = b"".join(struct.pack(">I", len(f)) + f for f in frames)
        other.sendall(wire[:3])  # a length cut in two
        assert backend.receive() == ([], True)
        other.sendall(wire[3:])
        assert _receive_all(backend, 5) == frames
        backend.send(b"\x01" * 64)
        assert other.recv(100) == struct.pack(">I", 64) + b"\x01" * 64
        other.close()
        for _ in range(1000):
            if backend.receive() == ([], False):
                break
        else:
            pytest.fail("the peer's close was not seen")
    backend.close()


def test_udp_backend_sends_and_receives_datagrams():
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind(("127.0.0.1", 0))
    backend = SocketBackend({"udp": f"127.0.0.1:{peer.getsockname()[1]}", "localaddr": "127.0.0.1:0"})
    with peer:
        backend.send(b"frame-one")
        data, address = peer.recvfrom(100)
        assert data == b"frame-one"
        peer.sendto(b"frame-two", address)
        assert _receive_all(backend, 1) == [b"frame-two"]
    backend.close()


def test_receive_backlog_is_bounded():
    class Quiet:
        def send(self, frame: bytes) -> None:
            pass

    card = VirtioNet(Quiet())
    card.arrived([b"x" * 60] * (RX_BACKLOG + 10))
    assert len(card.backlog) == RX_BACKLOG and card.frames_dropped == 10


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("vde", "--netdev: unknown or unsupported backend 'vde' (supported: socket, user, tap)"),
        ("socket,connect=127.0.0.1:1,mcast=x", "--netdev socket: unknown option 'mcast'"),
        ("socket", "--netdev socket needs connect=HOST:PORT, listen=HOST:PORT or udp=HOST:PORT"),
        ("socket,connect=nowhere", "--netdev socket: connect='nowhere' is not HOST:PORT"),
    ],
)
def test_netdev_errors(text, message):
    with pytest.raises(NetError) as info:
        open_backend(text)
    assert str(info.value) == message


def test_refused_connection_is_one_line():
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]  # closed when the block ends: nobody listens there
    result = subprocess.run([sys.executable, "-m", "dbt", "system", "--bios", "none", "--kernel", "/dev/null",
                             "--netdev", f"socket,connect=127.0.0.1:{port}"],
                            capture_output=True, timeout=120, stdin=subprocess.DEVNULL)  # fmt: skip
    assert result.returncode == 1
    assert result.stderr == b"dbt: error: --netdev socket: Connection refused\n"
