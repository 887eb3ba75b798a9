"""VirtIO over MMIO, version 2 (the virtio 1.x spec, section 4.2.2), with split virtqueues.

The transport is a data object (registers, feature bits, queue addresses); `Virtqueue` reads
the available ring and writes the used ring through zero-copy numpy views of guest memory. A
device model (virtio_blk, virtio_rng) turns one descriptor chain into bytes written and the
device service runs queues when the guest notifies them. Used entries are published in batches:
one used-index update and at most one interrupt per batch, suppressed as the driver asks
(VIRTQ_AVAIL_F_NO_INTERRUPT, or VIRTIO_F_EVENT_IDX's used_event).
Stage: devices.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

MAGIC, VERSION, VENDOR = 0x74726976, 2, 0x554D4551  # "virt", 2, "QEMU"
VIRTIO_MMIO_SIZE = 0x1000
F_EVENT_IDX = 1 << 29
F_VERSION_1 = 1 << 32
DESC_F_NEXT, DESC_F_WRITE, DESC_F_INDIRECT = 1, 2, 4
AVAIL_F_NO_INTERRUPT = 1
STATUS_DRIVER_OK, STATUS_FEATURES_OK, STATUS_NEEDS_RESET = 4, 8, 64
QUEUE_MAX = 256
MAX_CHAIN = 1024

# Register offsets.
R_MAGIC, R_VERSION, R_DEVICE_ID, R_VENDOR = 0x000, 0x004, 0x008, 0x00C
R_DEVICE_FEATURES, R_DEVICE_FEATURES_SEL, R_DRIVER_FEATURES, R_DRIVER_FEATURES_SEL = (
    0x010,
    0x014,
    0x020,
    0x024,
)
R_QUEUE_SEL, R_QUEUE_NUM_MAX, R_QUEUE_NUM, R_QUEUE_READY, R_QUEUE_NOTIFY = 0x030, 0x034, 0x038, 0x044, 0x050
R_INTERRUPT_STATUS, R_INTERRUPT_ACK, R_STATUS = 0x060, 0x064, 0x070
R_QUEUE_DESC, R_QUEUE_DRIVER, R_QUEUE_DEVICE = 0x080, 0x090, 0x0A0
R_CONFIG_GENERATION, R_CONFIG = 0x0FC, 0x100
_QUEUE_ADDRESSES = (R_QUEUE_DESC, R_QUEUE_DRIVER, R_QUEUE_DEVICE)


class VirtioError(Exception):
    """The driver broke the protocol (a bad descriptor): the device needs a reset."""


@dataclass
class Virtqueue:
    """One split virtqueue's addresses and the device's position in it."""

    num: int = 0
    ready: bool = False
    desc: int = 0
    driver: int = 0
    device: int = 0
    last_avail: int = 0
    used_idx: int = 0

    def reset(self) -> None:
        self.num, self.ready, self.desc, self.driver, self.device = 0, False, 0, 0, 0
        self.last_avail = self.used_idx = 0


@dataclass
class Chain:
    """One request: the buffers the device reads, then those it writes (guest ranges)."""

    head: int
    readable: list[tuple[int, int]]
    writable: list[tuple[int, int]]


#: A split virtqueue's descriptor: buffer address, length, flags, next index.
DESCRIPTOR = np.dtype([("addr", "<u8"), ("len", "<u4"), ("flags", "<u2"), ("next", "<u2")])
#: A descriptor table as read: [(addr, len, flags, next)].
Descriptors = list[tuple[int, int, int, int]]


def _u16(memory, addr: int) -> int:
    return int(memory.view(addr, 2).view(np.uint16)[0])


def _table(memory, addr: int, count: int) -> Descriptors:
    """A descriptor table, read with one bounds check: [(addr, len, flags, next)]. (A request of
    a 1 MiB direct read has 258 descriptors; reading them one at a time cost 1 ms.)"""
    return memory.view(addr, 16 * count).view(DESCRIPTOR).tolist()


def pending_chains(memory, queue: Virtqueue) -> list[Chain]:
    """The descriptor chains the driver made available since the last call (advances last_avail)."""
    chains: list[Chain] = []
    table: Descriptors = []
    while (chain := next_chain(memory, queue, table)) is not None:
        chains.append(chain)
    return chains


def next_chain(memory, queue: Virtqueue, table: Descriptors | None = None) -> Chain | None:
    """The next chain the driver made available, or None (for devices that take buffers only
    as they need them: a network card's receive queue). `table`, when given, holds the queue's
    descriptor table once read (or is empty until then), for callers taking several chains:
    the driver changes no descriptor of an available chain before the device uses it."""
    if queue.last_avail == _u16(memory, queue.driver + 2):
        return None
    head = _u16(memory, queue.driver + 4 + 2 * (queue.last_avail % queue.num))
    if table is None:
        table = []
    if not table:
        table.extend(_table(memory, queue.desc, queue.num))
    chain = _walk(memory, table, head)
    queue.last_avail = (queue.last_avail + 1) & 0xFFFF
    return chain


def _walk(memory, table: Descriptors, head: int) -> Chain:
    if head >= len(table):
        raise VirtioError(f"descriptor {head} out of range")
    index, indirect = head, False
    readable: list[tuple[int, int]] = []
    writable: list[tuple[int, int]] = []
    for _ in range(MAX_CHAIN):
        addr, length, flags, following = table[index]
        if flags & DESC_F_INDIRECT:
            count = length // 16
            if indirect:
                raise VirtioError("an indirect descriptor in an indirect table")
            if not 0 < count <= MAX_CHAIN:
                raise VirtioError(f"an indirect table of {count} descriptors")
            table, index, indirect = _table(memory, addr, count), 0, True
            continue
        (writable if flags & DESC_F_WRITE else readable).append((addr, length))
        if not flags & DESC_F_NEXT:
            return Chain(head, readable, writable)
        if following >= len(table):
            raise VirtioError(f"descriptor {following} out of range")
        index = following
    raise VirtioError("descriptor chain too long (a loop?)")


def joined(buffers: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Guest ranges with each one that starts where the one before ends joined to it: fewer
    views to check and fewer iovecs (the pages of a user buffer are often consecutive)."""
    out: list[tuple[int, int]] = []
    for addr, length in buffers:
        if out and out[-1][0] + out[-1][1] == addr:
            out[-1] = (out[-1][0], out[-1][1] + length)
        else:
            out.append((addr, length))
    return out


def publish(memory, queue: Virtqueue, done: list[tuple[int, int]], event_idx: bool) -> bool:
    """Write used entries (head, bytes written) and then the used index once; returns whether
    the driver wants an interrupt for this batch."""
    if not done:
        return False
    old = queue.used_idx
    for head, written in done:
        slot = queue.used_idx % queue.num
        entry = memory.view(queue.device + 4 + 8 * slot, 8, writable=True)
        entry[:] = np.array([head, written], dtype=np.uint32).view(np.uint8)
        queue.used_idx = (queue.used_idx + 1) & 0xFFFF
    memory.view(queue.device + 2, 2, writable=True)[:] = np.array([queue.used_idx], dtype=np.uint16).view(
        np.uint8
    )
    if event_idx:
        # avail_event: notify us again as soon as anything new is made available
        avail_event = queue.device + 4 + 8 * queue.num
        memory.view(avail_event, 2, writable=True)[:] = np.array([queue.last_avail], dtype=np.uint16).view(
            np.uint8
        )
        used_event = _u16(memory, queue.driver + 4 + 2 * queue.num)
        return (queue.used_idx - used_event - 1) & 0xFFFF < (queue.used_idx - old) & 0xFFFF
    return not _u16(memory, queue.driver) & AVAIL_F_NO_INTERRUPT


@dataclass
class VirtioMmio:
    """The MMIO transport of one device. `model` provides device_id, features, queues,
    config(offset, size) and the request handling the device service calls."""

    model: object
    name: str = "virtio"
    status: int = 0
    device_features_sel: int = 0
    driver_features_sel: int = 0
    driver_features: int = 0
    queue_sel: int = 0
    interrupt_status: int = 0
    queues: list[Virtqueue] = field(default_factory=list)
    #: Queues the guest notified, for the device service.
    notified: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.model is not None and not self.queues:
            self.queues = [Virtqueue() for _ in range(self.model.queue_count)]

    @property
    def features(self) -> int:
        return (self.model.features | F_VERSION_1 | F_EVENT_IDX) if self.model is not None else 0

    @property
    def event_idx(self) -> bool:
        return bool(self.driver_features & F_EVENT_IDX)

    @property
    def interrupt(self) -> bool:
        return bool(self.interrupt_status)

    def _queue(self) -> Virtqueue | None:
        return self.queues[self.queue_sel] if self.queue_sel < len(self.queues) else None

    def reset(self) -> None:
        self.status = self.driver_features = self.interrupt_status = 0
        for queue in self.queues:
            queue.reset()
        self.notified.clear()

    def read(self, offset: int, size: int) -> int:
        model = self.model
        if offset >= R_CONFIG:
            return model.config(offset - R_CONFIG, size) if model is not None else 0
        queue = self._queue()
        if offset == R_MAGIC:
            return MAGIC
        if offset == R_VERSION:
            return VERSION
        if offset == R_DEVICE_ID:
            return model.device_id if model is not None else 0
        if offset == R_VENDOR:
            return VENDOR
        if offset == R_DEVICE_FEATURES:
            return (
                (self.features >> (32 * self.device_features_sel)) & 0xFFFFFFFF
                if self.device_features_sel < 2
                else 0
            )
        if offset == R_QUEUE_NUM_MAX:
            return QUEUE_MAX if queue is not None else 0
        if offset == R_QUEUE_READY:
            return int(queue.ready) if queue is not None else 0
        if offset == R_INTERRUPT_STATUS:
            return self.interrupt_status
        if offset == R_STATUS:
            return self.status
        if offset == R_CONFIG_GENERATION:
            return 0
        if queue is not None and offset & ~7 in _QUEUE_ADDRESSES:
            base = offset & ~7
            value = {R_QUEUE_DESC: queue.desc, R_QUEUE_DRIVER: queue.driver, R_QUEUE_DEVICE: queue.device}[
                base
            ]
            return (value >> (32 if offset & 4 else 0)) & 0xFFFFFFFF
        return 0

    def write(self, offset: int, size: int, value: int) -> None:
        value &= 0xFFFFFFFF
        queue = self._queue()
        if offset >= R_CONFIG:
            return  # the devices' configuration is read-only here
        if offset == R_DEVICE_FEATURES_SEL:
            self.device_features_sel = value
        elif offset == R_DRIVER_FEATURES_SEL:
            self.driver_features_sel = value
        elif offset == R_DRIVER_FEATURES and self.driver_features_sel < 2:
            shift = 32 * self.driver_features_sel
            self.driver_features = (self.driver_features & ~(0xFFFFFFFF << shift)) | (value << shift)
            self.driver_features &= self.features
        elif offset == R_QUEUE_SEL:
            self.queue_sel = value
        elif offset == R_QUEUE_NUM and queue is not None:
            queue.num = min(value, QUEUE_MAX) if value & (value - 1) == 0 else queue.num
        elif offset == R_QUEUE_READY and queue is not None:
            queue.ready = bool(value & 1)
        elif offset == R_QUEUE_NOTIFY:
            if value < len(self.queues) and value not in self.notified:
                self.notified.append(value)
        elif offset == R_INTERRUPT_ACK:
            self.interrupt_status &= ~value
        elif offset == R_STATUS:
            if value == 0:
                self.reset()
            else:
                if value & STATUS_FEATURES_OK and not self.driver_features & F_VERSION_1:
                    value &= ~STATUS_FEATURES_OK  # a legacy driver: refused
                self.status = value
        elif queue is not None and offset & ~7 in _QUEUE_ADDRESSES:
            name = {R_QUEUE_DESC: "desc", R_QUEUE_DRIVER: "driver", R_QUEUE_DEVICE: "device"}[offset & ~7]
            old = getattr(queue, name)
            shift = 32 if offset & 4 else 0
            setattr(queue, name, (old & ~(0xFFFFFFFF << shift)) | (value << shift))
