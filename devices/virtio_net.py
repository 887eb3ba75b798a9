"""virtio-net over a network backend (devices/netdev.py): frames the guest queues for transmission
go to the backend; frames from the backend fill the receive buffers the guest has made
available, one frame per chain, each behind the 12-byte virtio_net_hdr of VIRTIO_F_VERSION_1.
No offloads are offered (checksums and segmentation stay the guest's), so the header is zero
apart from num_buffers = 1.
Stage: devices.
"""

from __future__ import annotations

import logging
from collections import deque

from dbt.devices.virtio import Descriptors, Virtqueue, next_chain, pending_chains

log = logging.getLogger("dbt.devices")

DEVICE_ID = 1
F_MAC, F_STATUS = 1 << 5, 1 << 16
STATUS_LINK_UP = 1
HEADER = 12
RX, TX = 0, 1
#: QEMU's MAC for the first NIC of a machine.
DEFAULT_MAC = bytes.fromhex("525400123456")
#: Frames kept while the guest has no receive buffer; more are dropped, as a full NIC drops them.
RX_BACKLOG = 256


class VirtioNet:
    device_id = DEVICE_ID
    queue_count = 2
    features = F_MAC | F_STATUS

    def __init__(self, backend, mac: bytes = DEFAULT_MAC) -> None:
        self.backend = backend
        self.mac = mac
        self.backlog: deque[bytes] = deque()
        self.frames_sent = self.frames_received = self.frames_dropped = 0

    def config(self, offset: int, size: int) -> int:
        layout = self.mac + STATUS_LINK_UP.to_bytes(2, "little")
        return int.from_bytes(layout[offset : offset + size].ljust(size, b"\0"), "little")

    def arrived(self, frames: list[bytes]) -> None:
        """Frames from the backend, waiting for receive buffers."""
        for frame in frames:
            if len(self.backlog) >= RX_BACKLOG:
                self.frames_dropped += 1
                continue
            self.backlog.append(frame)

    def serve(self, memory, index: int, queue: Virtqueue) -> list[tuple[int, int]]:
        """A queue was notified (or, for RX, frames arrived): the used entries to publish."""
        if index == TX:
            done = []
            for chain in pending_chains(memory, queue):
                packet = b"".join(memory.read_slice(addr, length) for addr, length in chain.readable)
                if len(packet) > HEADER:
                    self.backend.send(packet[HEADER:])
                    self.frames_sent += 1
                done.append((chain.head, 0))
            return done
        return self._receive(memory, queue)

    def _receive(self, memory, queue: Virtqueue) -> list[tuple[int, int]]:
        done: list[tuple[int, int]] = []
        table: Descriptors = []  # read once, for every frame of this batch
        while self.backlog:
            chain = next_chain(memory, queue, table)
            if chain is None:
                break
            frame = self.backlog.popleft()
            data = bytes(HEADER - 2) + (1).to_bytes(2, "little") + frame  # num_buffers = 1
            written = 0
            for addr, length in chain.writable:
                part = data[written : written + length]
                if not part:
                    break
                memory.write_slice(addr, part)
                written += len(part)
            if written < len(data):
                log.debug("virtio-net: a %d-byte frame truncated to a %d-byte buffer", len(frame), written)
            self.frames_received += 1
            done.append((chain.head, written))
        return done
