"""The `user` (libslirp) and `tap` network backends at the frame level: what slirp answers a
guest, a host connection forwarded in (hostfwd) waking the event loop through the backend's one
descriptor, slirp's timers as the loop's, a host tap's kernel answering ARP, and
each backend's errors. U-Boot and Linux over `user` against QEMU are in test_system_net.py and
test_system_linux.py.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import select
import shutil
import socket
import struct
import subprocess
import time

import pytest

from dbt.devices import slirp
from dbt.devices.netdev import TapBackend, open_backend
from dbt.errors import NetError

GUEST_MAC = bytes.fromhex("525400123456")
SLIRP_MAC = bytes.fromhex("52550a000202")  # QEMU's slirp answers as 52:55:<its IPv4 address>
BROADCAST = b"\xff" * 6
FORWARD = "[tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT"


def _arp(operation: int, sender_mac: bytes, sender_ip: str, target_mac: bytes, target_ip: str) -> bytes:
    destination = BROADCAST if operation == 1 else target_mac
    header = destination + sender_mac + b"\x08\x06" + struct.pack("!HHBBH", 1, 0x0800, 6, 4, operation)
    body = sender_mac + socket.inet_aton(sender_ip) + target_mac + socket.inet_aton(target_ip)
    return (header + body).ljust(60, b"\0")


def _wait_for_frames(backend, seconds: float = 5) -> list[bytes]:
    """What the backend has for the guest once its descriptor is readable (as the loop waits)."""
    deadline = time.monotonic() + seconds
    frames: list[bytes] = []
    while not frames and time.monotonic() < deadline:
        if select.select([backend.fileno()], [], [], deadline - time.monotonic())[0]:
            frames, still_open = backend.receive()
            assert still_open
    return frames


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def user_backend():
    backends = []

    def make(text: str = "user"):
        backends.append(open_backend(text))
        return backends[-1]

    yield make
    for backend in backends:
        backend.close()


def test_slirp_answers_arp_for_its_gateway(user_backend):
    backend = user_backend()
    # With no TCP socket slirp wants a round once a second (TCP sockets: every 499 ms at most).
    assert backend.next_deadline() - time.monotonic_ns() > 900_000_000
    backend.send(_arp(1, GUEST_MAC, "10.0.2.15", b"\0" * 6, "10.0.2.2"))
    [reply] = _wait_for_frames(backend)
    assert reply[:14] == GUEST_MAC + SLIRP_MAC + b"\x08\x06"
    assert reply[14:42] == struct.pack("!HHBBH", 1, 0x0800, 6, 4, 2) + SLIRP_MAC + socket.inet_aton(
        "10.0.2.2"
    ) + GUEST_MAC + socket.inet_aton("10.0.2.15")
    assert (backend.sent, backend.received) == (1, 1)


def test_net_option_moves_the_gateway(user_backend):
    backend = user_backend("user,net=192.168.76.0/24")
    backend.send(_arp(1, GUEST_MAC, "192.168.76.15", b"\0" * 6, "192.168.76.2"))
    [reply] = _wait_for_frames(backend)
    assert reply[28:32] == socket.inet_aton("192.168.76.2")


def test_hostfwd_connection_reaches_the_guest_and_its_timers_run(user_backend):
    port = _free_port()
    backend = user_backend(f"user,hostfwd=tcp:127.0.0.1:{port}-:22")
    backend.send(_arp(1, GUEST_MAC, "10.0.2.15", b"\0" * 6, "10.0.2.2"))  # slirp learns our MAC
    assert len(_wait_for_frames(backend)) == 1
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        frames = _wait_for_frames(backend)
        syn = next(f for f in frames if f[12:14] == b"\x08\x00" and f[23] == 6)
        header = (syn[14] & 0xF) * 4
        _, destination_port, _, _, offset_flags = struct.unpack("!HHIIH", syn[14 + header : 28 + header])
        assert syn[:6] == GUEST_MAC and syn[30:34] == socket.inet_aton("10.0.2.15")
        assert destination_port == 22 and offset_flags & 0x3F == 0x02  # SYN alone
        # TCP's timers (the SYN's retransmission): slirp's slow timeout, 499 ms at most.
        assert backend.next_deadline() - time.monotonic_ns() < 500_000_000


def _open_fds() -> list[str]:
    """This process's descriptors, once the garbage of earlier tests (a machine's sockets, say)
    is collected: a collection between two listings would close some."""
    gc.collect()
    return sorted(os.listdir("/proc/self/fd"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("user,hostfwd=tcp:1-2", f"--netdev user: hostfwd='tcp:1-2' is not {FORWARD}"),
        ("user,hostfwd=sctp::1-:2", f"--netdev user: hostfwd='sctp::1-:2' is not {FORWARD}"),
        ("user,hostfwd=tcp::70000-:22", f"--netdev user: hostfwd='tcp::70000-:22' is not {FORWARD}"),
        ("user,hostfwd=tcp:nowhere:22-:22", "--netdev user: hostfwd: 'nowhere' is not an IPv4 address"),
        ("user,net=10.0.2.0/31", "--netdev user: net='10.0.2.0/31' is not ADDRESS/BITS (BITS at most 30)"),
        ("user,net=10.0.2.0", "--netdev user: net='10.0.2.0' is not ADDRESS/BITS (BITS at most 30)"),
        ("user,restrict=maybe", "--netdev user: restrict='maybe' is not on or off"),
        ("user,smb=/tmp", "--netdev user: unknown option 'smb'"),
        ("tap,script=/etc/qemu-ifup",
         "--netdev tap: only script=no is supported (set the tap up beforehand)"),
        ("tap,ifname=a-name-that-is-too-long",
         "--netdev tap: ifname='a-name-that-is-too-long' is longer than 15 bytes"),
    ],
)  # fmt: skip
def test_user_and_tap_option_errors(text, message):
    before = _open_fds()
    with pytest.raises(NetError) as info:
        open_backend(text)
    assert str(info.value) == message
    assert _open_fds() == before  # nothing left open


def test_hostfwd_on_a_busy_port_is_one_line(user_backend):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(NetError) as info:
            before = _open_fds()
            user_backend(f"user,hostfwd=tcp:127.0.0.1:{port}-:22")
        assert _open_fds() == before
    assert (
        str(info.value) == f"--netdev user: could not set up host forwarding rule 'tcp:127.0.0.1:{port}-:22'"
    )


def test_missing_libslirp_names_the_package(monkeypatch):
    def no_library(*args, **kwargs):
        raise OSError("libslirp.so.0: cannot open shared object file")

    monkeypatch.setattr(slirp, "_library", None)
    monkeypatch.setattr(ctypes, "CDLL", no_library)
    with pytest.raises(NetError) as info:
        open_backend("user")
    assert str(info.value) == "--netdev user needs libslirp (Debian/Ubuntu package libslirp0)"


def test_slirp_config_layout_matches_libslirp():
    """Offsets as gcc lays libslirp 4.7's SlirpConfig out on x86-64 (measured with offsetof
    against libslirp-dev's header): slirp reads the version-1 fields at these places."""
    assert slirp.SlirpConfig.vhostname.offset == 64
    assert slirp.SlirpConfig.if_mtu.offset == 136
    assert slirp.SlirpConfig.enable_emu.offset == 153
    assert ctypes.sizeof(slirp.SlirpCb) == 9 * 8  # the callbacks before version 4's additions


IP = shutil.which("ip") or "/usr/sbin/ip"


@contextlib.contextmanager
def _host_tap(address: str):
    """A tap made by dbt's backend, its host side given `address` (needs CAP_NET_ADMIN)."""
    try:
        backend = TapBackend({"ifname": ""})
    except NetError as exc:
        pytest.skip(f"this host cannot make a tap interface: {exc}")
    try:
        for command in (
            ["addr", "add", address, "dev", backend.ifname],
            ["link", "set", backend.ifname, "up"],
        ):
            subprocess.run([IP, *command], check=True, capture_output=True)
        yield backend
    finally:
        backend.close()  # a tap that is not persistent goes with its last descriptor


def test_tap_carries_frames_to_the_host_kernel():
    with _host_tap("10.0.77.1/24") as backend:
        assert backend.ifname.startswith("tap")
        backend.send(_arp(1, GUEST_MAC, "10.0.77.2", b"\0" * 6, "10.0.77.1"))
        frames = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # the host's own IPv6 chatter may come first
            frames += _wait_for_frames(backend, deadline - time.monotonic())
            if any(f[12:14] == b"\x08\x06" for f in frames):
                break
        reply = next(f for f in frames if f[12:14] == b"\x08\x06")
        assert reply[:6] == GUEST_MAC and reply[20:22] == b"\x00\x02"  # an ARP reply, to us
        assert reply[28:32] == socket.inet_aton("10.0.77.1") and backend.sent == 1
