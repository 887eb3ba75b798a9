"""virtio-blk over a raw image file (read-only if asked): read, write, flush and get-id requests,
moved between the file and guest memory with preadv/pwritev straight into and out of zero-copy
views of the guest's buffers.
Stage: devices.
"""

from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass

from dbt.devices.virtio import QUEUE_MAX, Chain, joined
from dbt.errors import BlockError

SECTOR = 512
T_IN, T_OUT, T_FLUSH, T_GET_ID = 0, 1, 4, 8
S_OK, S_IOERR, S_UNSUPP = 0, 1, 2
F_SEG_MAX, F_RO, F_BLK_SIZE, F_FLUSH = 1 << 2, 1 << 5, 1 << 6, 1 << 9
#: Data buffers a request may have: a queue's descriptors less the header's and the status's,
#: as QEMU offers. (Without F_SEG_MAX, Linux sends one buffer per request: a page, for direct
#: I/O into a user buffer; the first `dd iflag=direct` of a disk took 17 s instead of 0.9.)
SEG_MAX = QUEUE_MAX - 2
DEVICE_ID = 2


@dataclass
class RawImage:
    """The host side: an open, locked image file."""

    path: str
    fd: int
    size: int
    readonly: bool

    @classmethod
    def open(cls, path: str, readonly: bool) -> RawImage:
        try:
            fd = os.open(path, os.O_RDONLY if readonly else os.O_RDWR)
        except OSError as exc:
            raise BlockError(f"cannot open the disk image {path}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if readonly else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise BlockError(f"the disk image {path} is locked by another process") from None
        size = os.fstat(fd).st_size
        if size < SECTOR:
            os.close(fd)
            raise BlockError(f"the disk image {path} is smaller than one sector ({size} bytes)")
        return cls(path, fd, size, readonly)


class VirtioBlk:
    device_id = DEVICE_ID
    queue_count = 1

    def __init__(self, image: RawImage) -> None:
        self.image = image
        self.features = F_SEG_MAX | F_FLUSH | F_BLK_SIZE | (F_RO if image.readonly else 0)
        # A partial last sector counts, as QEMU counts it (it reads as zeros past the end).
        self.capacity = -(-image.size // SECTOR)
        self.bytes_read = self.bytes_written = 0

    def config(self, offset: int, size: int) -> int:
        # capacity (u64 at 0), size_max (u32 at 8, not offered), seg_max (u32 at 12), the
        # geometry (at 16, not offered), blk_size (u32 at 20)
        layout = (
            self.capacity.to_bytes(8, "little")
            + bytes(4)
            + SEG_MAX.to_bytes(4, "little")
            + bytes(4)
            + SECTOR.to_bytes(4, "little")
        )
        return int.from_bytes(layout[offset : offset + size].ljust(size, b"\0"), "little")

    def handle(self, memory, chain: Chain) -> int:
        """Perform one request; returns the bytes written into the guest's buffers."""
        header = b"".join(memory.read_slice(addr, length) for addr, length in chain.readable)[:16]
        if len(header) < 16 or not chain.writable:
            return 0
        kind = int.from_bytes(header[0:4], "little")
        sector = int.from_bytes(header[8:16], "little")
        status_addr = chain.writable[-1][0] + chain.writable[-1][1] - 1
        data_in = [*chain.writable[:-1]]
        if chain.writable[-1][1] > 1:
            data_in.append((chain.writable[-1][0], chain.writable[-1][1] - 1))
        written = 0
        status = S_OK
        if kind == T_IN:
            written, status = self._read(memory, data_in, sector)
        elif kind == T_OUT:
            status = self._write(memory, self._payload(chain.readable), sector)
        elif kind == T_FLUSH:
            if not self.image.readonly:
                os.fsync(self.image.fd)
        elif kind == T_GET_ID:
            ident = os.path.basename(self.image.path).encode()[:20].ljust(20, b"\0")
            written = self._copy_out(memory, data_in, ident)
        else:
            status = S_UNSUPP
        memory.write_slice(status_addr, bytes([status]))
        return written + 1

    @staticmethod
    def _payload(readable: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """The readable buffers after the 16-byte header."""
        skip, out = 16, []
        for addr, length in readable:
            if skip >= length:
                skip -= length
                continue
            out.append((addr + skip, length - skip))
            skip = 0
        return out

    def _read(self, memory, buffers: list[tuple[int, int]], sector: int) -> tuple[int, int]:
        total = sum(length for _, length in buffers)
        if sector * SECTOR + total > self.capacity * SECTOR:
            return 0, S_IOERR
        views = memory.views(joined(buffers), writable=True)
        done = os.preadv(self.image.fd, views, sector * SECTOR)
        self.bytes_read += done
        if done < total:  # past the end of the file, inside the last sector
            rest = done
            for view in views:
                if rest >= len(view):
                    rest -= len(view)
                    continue
                memoryview(view)[rest:] = bytes(len(view) - rest)  # (numpy or memoryview)
                rest = 0
        return total, S_OK

    def _write(self, memory, buffers: list[tuple[int, int]], sector: int) -> int:
        if self.image.readonly:
            return S_IOERR
        total = sum(length for _, length in buffers)
        if sector * SECTOR + total > self.capacity * SECTOR:
            return S_IOERR
        views = memory.views(joined(buffers))
        done = os.pwritev(self.image.fd, views, sector * SECTOR)
        self.bytes_written += done
        return S_OK if done == total else S_IOERR

    @staticmethod
    def _copy_out(memory, buffers: list[tuple[int, int]], data: bytes) -> int:
        written = 0
        for addr, length in buffers:
            part = data[written : written + length]
            if not part:
                break
            memory.write_slice(addr, part)
            written += len(part)
        return written


class VirtioRng:
    """virtio-rng: the host's random bytes into every buffer the guest offers."""

    device_id = 4
    queue_count = 1
    features = 0

    def config(self, offset: int, size: int) -> int:
        return 0

    def handle(self, memory, chain: Chain) -> int:
        written = 0
        for addr, length in chain.writable:
            memory.write_slice(addr, os.urandom(length))
            written += length
        return written
