"""The `user` network backend: libslirp, the user-mode TCP/IP stack QEMU's `-netdev user` uses
(Debian's libslirp0), bound with ctypes. The guest sees QEMU's network: the gateway and host at
10.0.2.2, DNS at 10.0.2.3 (forwarded to the host's resolver), DHCP handing out 10.0.2.15 onwards;
its outbound TCP and UDP leave through host sockets, and `hostfwd` forwards host ports in.

How it meets the event loop: every descriptor slirp wants watched goes into one private epoll
set, whose own descriptor is what the loop waits on (`fileno()`), so the loop needs no
knowledge of slirp's sockets; so does a pipe that slirp's frames for the guest are announced on.
When that descriptor is readable, `receive()` runs one slirp round (fill, poll without waiting,
dispatch) and returns the frames slirp produced. slirp's timers become one loop timer at the
deadline slirp asks for (a second when idle, as under QEMU's main loop; sooner while TCP
connections need their timers).
Stage: devices.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import logging
import os
import select
import socket
import struct
from collections.abc import Callable

from dbt.errors import NetError

log = logging.getLogger("dbt.devices")

POLL_IN, POLL_OUT, POLL_PRI, POLL_ERR, POLL_HUP = 1, 2, 4, 8, 16
#: slirp's poll bits to epoll's and back.
_TO_EPOLL = {POLL_IN: select.EPOLLIN, POLL_OUT: select.EPOLLOUT, POLL_PRI: select.EPOLLPRI}
_FROM_EPOLL = {
    select.EPOLLIN: POLL_IN,
    select.EPOLLOUT: POLL_OUT,
    select.EPOLLPRI: POLL_PRI,
    select.EPOLLERR: POLL_ERR,
    select.EPOLLHUP: POLL_HUP,
}
NO_TIMEOUT = 0xFFFFFFFF

# QEMU's defaults for -netdev user: in the network, the host is .2, DNS .3, DHCP starts at .15.
NETWORK, DHCP_START = "10.0.2.0/24", "10.0.2.15"
PREFIX6, HOST6, NAMESERVER6 = "fec0::", "fec0::2", "fec0::3"


class InAddr(ctypes.Structure):
    _fields_ = [("s_addr", ctypes.c_uint32)]


class In6Addr(ctypes.Structure):
    _fields_ = [("s6_addr", ctypes.c_uint8 * 16)]


class SlirpConfig(ctypes.Structure):
    """libslirp's SlirpConfig, version 1 (libslirp >= 4.1)."""

    _fields_ = [
        ("version", ctypes.c_uint32),
        ("restricted", ctypes.c_int),
        ("in_enabled", ctypes.c_bool),
        ("vnetwork", InAddr),
        ("vnetmask", InAddr),
        ("vhost", InAddr),
        ("in6_enabled", ctypes.c_bool),
        ("vprefix_addr6", In6Addr),
        ("vprefix_len", ctypes.c_uint8),
        ("vhost6", In6Addr),
        ("vhostname", ctypes.c_char_p),
        ("tftp_server_name", ctypes.c_char_p),
        ("tftp_path", ctypes.c_char_p),
        ("bootfile", ctypes.c_char_p),
        ("vdhcp_start", InAddr),
        ("vnameserver", InAddr),
        ("vnameserver6", In6Addr),
        ("vdnssearch", ctypes.c_void_p),
        ("vdomainname", ctypes.c_char_p),
        ("if_mtu", ctypes.c_size_t),
        ("if_mru", ctypes.c_size_t),
        ("disable_host_loopback", ctypes.c_bool),
        ("enable_emu", ctypes.c_bool),
    ]


WriteCb = ctypes.CFUNCTYPE(ctypes.c_ssize_t, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p)
TimerCb = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
AddPollCb = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_void_p)
GetREventsCb = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_void_p)


class SlirpCb(ctypes.Structure):
    _fields_ = [
        ("send_packet", WriteCb),
        ("guest_error", ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_void_p)),
        ("clock_get_ns", ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_void_p)),
        ("timer_new", ctypes.CFUNCTYPE(ctypes.c_void_p, TimerCb, ctypes.c_void_p, ctypes.c_void_p)),
        ("timer_free", ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)),
        ("timer_mod", ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p)),
        ("register_poll_fd", ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_void_p)),
        ("unregister_poll_fd", ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_void_p)),
        ("notify", ctypes.CFUNCTYPE(None, ctypes.c_void_p)),
    ]


_library: ctypes.CDLL | None = None


def library() -> ctypes.CDLL:
    """libslirp, loaded once; NetError naming the package when it is not installed."""
    global _library
    if _library is None:
        try:
            lib = ctypes.CDLL(ctypes.util.find_library("slirp") or "libslirp.so.0")
        except OSError:
            raise NetError("--netdev user needs libslirp (Debian/Ubuntu package libslirp0)") from None
        lib.slirp_new.restype = ctypes.c_void_p
        lib.slirp_new.argtypes = [ctypes.POINTER(SlirpConfig), ctypes.POINTER(SlirpCb), ctypes.c_void_p]
        lib.slirp_cleanup.argtypes = [ctypes.c_void_p]
        lib.slirp_input.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
        lib.slirp_pollfds_fill.argtypes = [
            ctypes.c_void_p,
            ctypes.POINTER(ctypes.c_uint32),
            AddPollCb,
            ctypes.c_void_p,
        ]
        lib.slirp_pollfds_poll.argtypes = [ctypes.c_void_p, ctypes.c_int, GetREventsCb, ctypes.c_void_p]
        lib.slirp_add_hostfwd.argtypes = [
            ctypes.c_void_p,
            ctypes.c_int,
            InAddr,
            ctypes.c_int,
            InAddr,
            ctypes.c_int,
        ]
        lib.slirp_version_string.restype = ctypes.c_char_p
        _library = lib
    return _library


def _ipv4(text: str, option: str) -> bytes:
    try:
        return socket.inet_aton(text)
    except OSError:
        raise NetError(f"--netdev user: {option}: {text!r} is not an IPv4 address") from None


def _in_addr(text: str, option: str) -> InAddr:
    return InAddr(struct.unpack("=I", _ipv4(text, option))[0])


def _in6_addr(text: str) -> In6Addr:
    return In6Addr((ctypes.c_uint8 * 16)(*socket.inet_pton(socket.AF_INET6, text)))


def parse_hostfwd(text: str) -> tuple[bool, str, int, str, int]:
    """QEMU's hostfwd=[tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT as (udp, host address,
    host port, guest address, guest port); empty addresses are 0.0.0.0 and the first DHCP
    address, as in QEMU."""
    bad = NetError(
        f"--netdev user: hostfwd={text!r} is not [tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT"
    )
    protocol, sep, rest = text.partition(":")
    host, dash, guest = rest.partition("-")
    if not sep or not dash or protocol not in ("", "tcp", "udp") or ":" not in host or ":" not in guest:
        raise bad
    (host_addr, _, host_port), (guest_addr, _, guest_port) = host.rpartition(":"), guest.rpartition(":")
    if (
        not (host_port.isdigit() and guest_port.isdigit())
        or int(host_port) > 65535
        or int(guest_port) > 65535
    ):
        raise bad
    return (
        protocol == "udp",
        host_addr or "0.0.0.0",
        int(host_port),
        guest_addr or DHCP_START,
        int(guest_port),
    )


class SlirpBackend:
    """QEMU's user netdev. The loop watches `fileno()`; `receive()` returns the frames for the
    guest, `send()` takes one from it."""

    def __init__(self, options: dict[str, str], hostfwd: list[str], clock: Callable[[], int]) -> None:
        lib = library()
        self._lib = lib
        self._clock = clock
        self._frames: list[bytes] = []
        self.sent = self.received = 0
        self._watched: dict[int, int] = {}  # fd -> epoll mask
        self._woken = False
        self._timers: dict[int, tuple[TimerCb, int]] = {}  # id -> (callback, its opaque)
        self._timer_ids = iter(range(1, 1 << 62))
        self._due: list[tuple[int, int]] = []  # (deadline ns, timer id) for slirp's own timers
        self._round_deadline: int | None = None  # when slirp's TCP timers want a round
        self._polled: list[tuple[int, int]] = []  # the round's (fd, slirp events)
        self._revents: list[int] = []
        self.timers_changed: Callable[[], None] = lambda: None
        self._callbacks = self._make_callbacks()
        self._add_poll = AddPollCb(self._on_add_poll)
        self._get_revents = GetREventsCb(lambda index, _: self._revents[index])

        network = options.get("net", NETWORK)
        address, _, bits = network.partition("/")
        bits_value = int(bits) if bits.isdigit() and int(bits) <= 30 else -1
        if bits_value < 0:
            raise NetError(f"--netdev user: net={network!r} is not ADDRESS/BITS (BITS at most 30)")
        mask = (0xFFFFFFFF << (32 - bits_value)) & 0xFFFFFFFF
        base = struct.unpack("!I", _ipv4(address, "net"))[0] & mask

        def at(offset: int) -> str:
            return socket.inet_ntoa(struct.pack("!I", base | offset))

        self.config = SlirpConfig(
            version=1,
            restricted=_flag(options, "restrict", False),
            in_enabled=True,
            vnetwork=_in_addr(at(0), "net"),
            vnetmask=_in_addr(socket.inet_ntoa(struct.pack("!I", mask)), "net"),
            vhost=_in_addr(options.get("host", at(2)), "host"),
            in6_enabled=_flag(options, "ipv6", True),
            vprefix_addr6=_in6_addr(PREFIX6),
            vprefix_len=64,
            vhost6=_in6_addr(HOST6),
            vdhcp_start=_in_addr(options.get("dhcpstart", at(15)), "dhcpstart"),
            vnameserver=_in_addr(options.get("dns", at(3)), "dns"),
            vnameserver6=_in6_addr(NAMESERVER6),
            vhostname=options["hostname"].encode() if "hostname" in options else None,
        )
        rules = []
        for rule in hostfwd:
            udp, host_addr, host_port, guest_addr, guest_port = parse_hostfwd(rule)
            host_in, guest_in = _in_addr(host_addr, "hostfwd"), _in_addr(guest_addr, "hostfwd")
            rules.append((rule, udp, host_in, host_port, guest_in, guest_port))
        # Descriptors last: an option error above leaves nothing open.
        self._epoll = select.epoll()
        self._wake_read, self._wake_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._epoll.register(self._wake_read, select.EPOLLIN)
        self.slirp = lib.slirp_new(ctypes.byref(self.config), ctypes.byref(self._callbacks), None)
        if not self.slirp:
            self.close()
            raise NetError("--netdev user: libslirp refused the configuration")
        for rule, udp, host_in, host_port, guest_in, guest_port in rules:
            if lib.slirp_add_hostfwd(self.slirp, int(udp), host_in, host_port, guest_in, guest_port) < 0:
                self.close()
                raise NetError(f"--netdev user: could not set up host forwarding rule {rule!r}")
        log.debug("netdev user: libslirp %s", lib.slirp_version_string().decode())
        self._round()

    def _make_callbacks(self) -> SlirpCb:
        fields = dict(SlirpCb._fields_)

        def send_packet(buffer: int, length: int, _: int) -> int:
            self._frames.append(ctypes.string_at(buffer, length))
            self.received += 1
            if not self._woken:
                self._woken = True
                os.write(self._wake_write, b"\1")
            return length

        def timer_new(callback: TimerCb, opaque: int, _: int) -> int:
            timer = next(self._timer_ids)
            self._timers[timer] = (callback, opaque)
            return timer

        def timer_free(timer: int, _: int) -> None:
            self._timers.pop(timer, None)
            self._due = [(when, t) for when, t in self._due if t != timer]

        def timer_mod(timer: int, expire_ms: int, _: int) -> None:
            self._due = [(when, t) for when, t in self._due if t != timer]
            self._due.append((expire_ms * 1_000_000, timer))
            self.timers_changed()

        def unregister(fd: int, _: int) -> None:
            # Before slirp closes the socket: a later socket may reuse the number.
            if self._watched.pop(fd, None) is not None:
                self._epoll.unregister(fd)

        return SlirpCb(
            send_packet=WriteCb(send_packet),
            guest_error=fields["guest_error"](
                lambda message, _: log.debug("netdev user: %s", message.decode())
            ),
            clock_get_ns=fields["clock_get_ns"](lambda _: self._clock()),
            timer_new=fields["timer_new"](timer_new),
            timer_free=fields["timer_free"](timer_free),
            timer_mod=fields["timer_mod"](timer_mod),
            register_poll_fd=fields["register_poll_fd"](lambda fd, _: None),
            unregister_poll_fd=fields["unregister_poll_fd"](unregister),
            notify=fields["notify"](lambda _: None),
        )

    # ---- the loop's side ----
    def fileno(self) -> int:
        return self._epoll.fileno()

    def next_deadline(self) -> int | None:
        """When slirp next needs a round without any descriptor becoming ready (ns on the clock)."""
        deadlines = [when for when, _ in self._due]
        if self._round_deadline is not None:
            deadlines.append(self._round_deadline)
        return min(deadlines, default=None)

    def receive(self) -> tuple[list[bytes], bool]:
        """(frames, open): a round of slirp, and the frames it has for the guest."""
        try:
            while os.read(self._wake_read, 4096):
                pass
        except BlockingIOError:
            pass
        self._woken = False
        now = self._clock()
        for when, timer in sorted(self._due):
            if when <= now and timer in self._timers:
                self._due.remove((when, timer))
                callback, opaque = self._timers[timer]
                callback(opaque)
        self._round()
        frames, self._frames = self._frames, []
        return frames, True

    def send(self, frame: bytes) -> None:
        self._lib.slirp_input(self.slirp, frame, len(frame))
        self.sent += 1
        self._round()

    def _on_add_poll(self, fd: int, events: int, _: int) -> int:
        self._polled.append((fd, events))
        return len(self._polled) - 1

    def _fill(self) -> int:
        self._polled = []
        timeout = ctypes.c_uint32(NO_TIMEOUT)
        self._lib.slirp_pollfds_fill(self.slirp, ctypes.byref(timeout), self._add_poll, None)
        return timeout.value

    def _round(self) -> None:
        """Fill, poll without waiting, dispatch; then fill again to learn what to watch."""
        self._fill()
        if self._polled:
            poller = select.poll()
            for fd, events in self._polled:
                poller.register(fd, _mask(events, _TO_EPOLL))
            ready = dict(poller.poll(0))
            self._revents = [_slirp_events(ready.get(fd, 0)) for fd, _ in self._polled]
        else:
            self._revents = []
        self._lib.slirp_pollfds_poll(self.slirp, 0, self._get_revents, None)
        timeout = self._fill()
        self._watch({fd: _mask(events, _TO_EPOLL) for fd, events in self._polled})
        # slirp asks for a round at least every second, every 2 ms while TCP acks are delayed.
        self._round_deadline = None if timeout == NO_TIMEOUT else self._clock() + timeout * 1_000_000
        self.timers_changed()

    def _watch(self, wanted: dict[int, int]) -> None:
        for fd in [fd for fd in self._watched if fd not in wanted]:
            del self._watched[fd]
            try:
                self._epoll.unregister(fd)
            except OSError:
                pass
        for fd, mask in wanted.items():
            if self._watched.get(fd) == mask:
                continue
            try:
                if fd in self._watched:
                    self._epoll.modify(fd, mask)
                else:
                    self._epoll.register(fd, mask)
            except FileExistsError:
                self._epoll.modify(fd, mask)
            except OSError as exc:
                if exc.errno != errno.ENOENT:
                    raise
                self._epoll.register(fd, mask)
            self._watched[fd] = mask

    def close(self) -> None:
        if self.slirp:
            self._lib.slirp_cleanup(self.slirp)
            self.slirp = None
        self._epoll.close()
        for fd in (self._wake_read, self._wake_write):
            os.close(fd)


def _mask(events: int, table: dict[int, int]) -> int:
    return sum(bit for flag, bit in table.items() if events & flag)


def _slirp_events(revents: int) -> int:
    return sum(flag for bit, flag in _FROM_EPOLL.items() if revents & bit)


def _flag(options: dict[str, str], name: str, default: bool) -> bool:
    value = options.get(name)
    if value is None:
        return default
    if value in ("on", "yes", "true", ""):
        return True
    if value in ("off", "no", "false"):
        return False
    raise NetError(f"--netdev user: {name}={value!r} is not on or off")
