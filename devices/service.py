"""The device service: what the virt machine's devices do, over their data objects. It performs
MMIO accesses through the bus, moves console bytes between the UART and the host, drives the
interrupt lines (UART -> PLIC -> MEIP/SEIP; CLINT -> MTIP/MSIP) and turns timer comparators into
events of the machine's event loop.
Stage: devices.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from dbt.devices.bus import Bus
from dbt.devices.clint import NEVER, TIMEBASE_HZ, Clint
from dbt.devices.plic import Plic
from dbt.devices.uart import Uart16550
from dbt.devices.virtio import (
    STATUS_DRIVER_OK,
    STATUS_NEEDS_RESET,
    VirtioError,
    VirtioMmio,
    pending_chains,
    publish,
)
from dbt.errors import GuestFault

log = logging.getLogger("dbt.devices")

UART_IRQ = 10
MSIP_BIT, MTIP_BIT, SEIP_BIT, MEIP_BIT = 1 << 3, 1 << 7, 1 << 9, 1 << 11
CTRL_A = 0x01
NS_PER_TICK = 1_000_000_000 // TIMEBASE_HZ
#: How long console output may wait to be written with what follows it (see Console.flush_due).
FLUSH_DELAY_NS = 2_000_000


class QuitRequest(Exception):
    """The user typed Ctrl-A x on the console."""


@dataclass
class Console:
    """The host side of the UART: bytes out to a descriptor, bytes in from one (optional).
    `escapes` enables QEMU's Ctrl-A commands (x: quit; Ctrl-A again: a literal Ctrl-A)."""

    out_fd: int
    in_fd: int | None = None
    escapes: bool = False
    output: bytearray = field(default_factory=bytearray)
    input: bytearray = field(default_factory=bytearray)
    _escape: bool = False

    #: When the oldest byte still in `output` was transmitted (monotonic ns).
    since_ns: int = 0

    def transmit(self, byte: int) -> None:
        if not self.output:
            self.since_ns = time.monotonic_ns()
        self.output.append(byte)

    def flush_due(self, now_ns: int) -> None:
        """Write the output out if its oldest byte has waited FLUSH_DELAY_NS. Firmware prints a
        byte per UART store: one write(2) each (which also wakes the reader each time) cost
        U-Boot's start 0.1 s; batching them delays a byte by at most a few ms. The machine
        flushes at once before it waits and when it stops."""
        if self.output and now_ns - self.since_ns >= FLUSH_DELAY_NS:
            self.flush()

    def flush(self) -> None:
        if not self.output:
            return
        data, self.output = bytes(self.output), bytearray()
        while data:
            written = os.write(self.out_fd, data)
            data = data[written:]

    def read_host(self) -> bool:
        """Take what the input descriptor has; False at its end."""
        assert self.in_fd is not None
        data = os.read(self.in_fd, 256)
        if not data:
            return False
        for byte in data:
            if self._escape:
                self._escape = False
                if byte in (ord("x"), ord("X")):
                    raise QuitRequest
                if byte == CTRL_A:
                    self.input.append(byte)
                continue
            if self.escapes and byte == CTRL_A:
                self._escape = True
                continue
            self.input.append(byte)
        return True


class DeviceService:
    """Behaviour of the machine's devices. `set_device_mip(bits)` gives the hart the mip bits
    the devices drive; `schedule(deadline_ns, callback)` is the event loop's call_at."""

    def __init__(self, bus: Bus, clint: Clint, plic: Plic, uart: Uart16550, console: Console,
                 set_device_mip: Callable[[int], None], schedule: Callable, t0_ns: int,
                 memory: object = None) -> None:  # fmt: skip
        self.bus = bus
        self.memory = memory
        #: VirtIO transports and their PLIC sources.
        self.virtio: list[tuple[VirtioMmio, int]] = []
        self.virtio_batches = 0
        self.clint = clint
        self.plic = plic
        self.uart = uart
        self.console = console
        self.set_device_mip = set_device_mip
        self.schedule = schedule
        self.t0_ns = t0_ns
        self._timer_events: dict[str, object] = {}
        self._timer_deadlines: dict[str, int] = {}
        self.mmio_reads = 0
        self.mmio_writes = 0

    # ---- MMIO ----
    def read(self, addr: int, size: int) -> int | None:
        """The value of an MMIO load, or None if no device answers there (an access fault)."""
        found = self.bus.find(addr, size)
        if found is None:
            return None
        device, offset = found
        self.mmio_reads += 1
        value = device.read(offset, size)
        self._after_access(device)
        return value

    def write(self, addr: int, size: int, value: int) -> bool:
        """Perform an MMIO store; False if no device answers there (an access fault)."""
        found = self.bus.find(addr, size)
        if found is None:
            return False
        device, offset = found
        self.mmio_writes += 1
        device.write(offset, size, value)
        self._after_access(device)
        return True

    def _after_access(self, device: object) -> None:
        if device is self.uart:
            self.feed_uart()
            if self.plic.settled(UART_IRQ, self.uart.interrupt):
                return  # its line is as it was, and a UART access changes no other (most accesses)
        if isinstance(device, VirtioMmio) and device.notified:
            # A queue notification is an event: it runs at the loop's next turn, right after
            # this exit of the vCPU.
            self.schedule(0, lambda: self.run_queues(device))
        if device is self.clint:
            self.rearm("mtimecmp", self.clint.mtimecmp)
        self.update_interrupts()

    # ---- interrupts and time ----
    def mtime(self) -> int:
        return self.clint.mtime

    def ticks_to_ns(self, ticks: int) -> int:
        return self.t0_ns + (ticks - self.clint.offset) * NS_PER_TICK

    def rearm(self, name: str, compare: int) -> None:
        """A timer comparator (CLINT's mtimecmp, the hart's stimecmp) changed: one event at its
        deadline replaces the old one."""
        deadline = None if compare >= NEVER else self.ticks_to_ns(compare)
        if self._timer_deadlines.get(name) == deadline:
            return
        old = self._timer_events.pop(name, None)
        if old is not None:
            old.cancel()  # type: ignore[attr-defined]
        self._timer_deadlines.pop(name, None)
        if deadline is not None:
            self._timer_events[name] = self.schedule(deadline, self.update_interrupts)
            self._timer_deadlines[name] = deadline

    # ---- VirtIO ----
    def run_queues(self, transport: VirtioMmio) -> None:
        """Serve every request on the notified queues: one used-index update and at most one
        interrupt per queue and batch."""
        notified, transport.notified = transport.notified, []
        if not transport.status & STATUS_DRIVER_OK or transport.model is None:
            return
        for index in notified:
            queue = transport.queues[index]
            if not queue.ready or not queue.num:
                continue
            try:
                if hasattr(transport.model, "serve"):  # a device that takes buffers as it needs them
                    done = transport.model.serve(self.memory, index, queue)
                else:
                    done = [(chain.head, transport.model.handle(self.memory, chain))
                            for chain in pending_chains(self.memory, queue)]  # fmt: skip
                wanted = publish(self.memory, queue, done, transport.event_idx)
            except (VirtioError, GuestFault) as exc:
                log.debug("virtio %s: %s: the device needs a reset", transport.name, exc)
                transport.status |= STATUS_NEEDS_RESET
                transport.interrupt_status |= 2  # configuration change
                continue
            self.virtio_batches += 1
            if wanted:
                transport.interrupt_status |= 1
        self.update_interrupts()

    def net_readable(self, transport: VirtioMmio, rx_queue: int) -> bool:
        """A network backend has frames: into the guest's receive buffers (the rest wait for
        more buffers). False once the backend is closed."""
        model = transport.model
        frames, still_open = model.backend.receive()
        model.arrived(frames)
        if model.backlog:
            transport.notified.append(rx_queue)
            self.run_queues(transport)
        if not still_open:
            log.info("virtio-net: the network backend closed")
        return still_open

    def update_interrupts(self) -> None:
        self.plic.set_level(UART_IRQ, self.uart.interrupt)
        for transport, irq in self.virtio:
            self.plic.set_level(irq, transport.interrupt)
        bits = 0
        if self.clint.msip:
            bits |= MSIP_BIT
        if self.clint.mtime >= self.clint.mtimecmp:
            bits |= MTIP_BIT
        if self.plic.output(0):
            bits |= MEIP_BIT
        if self.plic.output(1):
            bits |= SEIP_BIT
        self.set_device_mip(bits)

    # ---- the console ----
    def console_readable(self) -> bool:
        """The console's input descriptor is readable; False at its end."""
        more = self.console.read_host()
        self.feed_uart()
        self.update_interrupts()
        return more

    def feed_uart(self) -> None:
        if self.console.input and self.uart.rx_room:
            taken = self.uart.receive(bytes(self.console.input))
            del self.console.input[:taken]
