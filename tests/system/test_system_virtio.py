"""VirtIO-MMIO and split virtqueues against the virtio 1.x spec, with a driver written here:
the transport's registers, descriptor chains (chained and indirect), used entries published in
one batch, interrupt suppression (NO_INTERRUPT, EVENT_IDX) and virtio-blk requests."""

from __future__ import annotations

import struct

import pytest

from dbt.devices import virtio as v
from dbt.devices.virtio_blk import RawImage, VirtioBlk, VirtioRng
from dbt.runtime.memory import PROT_READ, PROT_WRITE, GuestMemory

DESC, AVAIL, USED, DATA = 0x10000, 0x11000, 0x12000, 0x20000
NUM = 8


@pytest.fixture
def memory():
    mem = GuestMemory(1 << 24)
    mem.map(0, 1 << 24, PROT_READ | PROT_WRITE)
    return mem


def _desc(memory, index, addr, length, flags=0, following=0, table=DESC):
    memory.write_slice(table + 16 * index, struct.pack("<QIHH", addr, length, flags, following))


def _offer(memory, heads):
    idx = struct.unpack("<H", memory.read_slice(AVAIL + 2, 2))[0]
    for head in heads:
        memory.write_slice(AVAIL + 4 + 2 * (idx % NUM), struct.pack("<H", head))
        idx = (idx + 1) & 0xFFFF
    memory.write_slice(AVAIL + 2, struct.pack("<H", idx))


def _used(memory):
    idx = struct.unpack("<H", memory.read_slice(USED + 2, 2))[0]
    return idx, [struct.unpack("<II", memory.read_slice(USED + 4 + 8 * i, 8)) for i in range(idx)]


def _queue():
    return v.Virtqueue(num=NUM, ready=True, desc=DESC, driver=AVAIL, device=USED)


def test_transport_registers_and_feature_negotiation():
    transport = v.VirtioMmio(VirtioRng())
    assert transport.read(v.R_MAGIC, 4) == 0x74726976 and transport.read(v.R_VERSION, 4) == 2
    assert transport.read(v.R_DEVICE_ID, 4) == 4
    transport.write(v.R_DEVICE_FEATURES_SEL, 4, 1)
    assert transport.read(v.R_DEVICE_FEATURES, 4) & 1  # VIRTIO_F_VERSION_1 is bit 32
    transport.write(v.R_STATUS, 4, 1 | 2 | v.STATUS_FEATURES_OK)  # without VERSION_1: refused
    assert not transport.read(v.R_STATUS, 4) & v.STATUS_FEATURES_OK
    transport.write(v.R_DRIVER_FEATURES_SEL, 4, 1)
    transport.write(v.R_DRIVER_FEATURES, 4, 1)
    transport.write(v.R_STATUS, 4, 1 | 2 | v.STATUS_FEATURES_OK)
    assert transport.read(v.R_STATUS, 4) & v.STATUS_FEATURES_OK
    transport.write(v.R_QUEUE_SEL, 4, 0)
    assert transport.read(v.R_QUEUE_NUM_MAX, 4) == v.QUEUE_MAX
    transport.write(v.R_QUEUE_DESC, 4, 0x1234_5000)
    transport.write(v.R_QUEUE_DESC + 4, 4, 0x1)
    assert transport.queues[0].desc == 0x1_1234_5000
    transport.write(v.R_QUEUE_NOTIFY, 4, 0)
    assert transport.notified == [0]
    transport.write(v.R_STATUS, 4, 0)  # reset
    assert transport.queues[0].desc == 0 and transport.status == 0 and transport.notified == []
    empty = v.VirtioMmio(None)
    assert empty.read(v.R_DEVICE_ID, 4) == 0  # an empty slot


def test_chains_and_one_batch(memory):
    queue = _queue()
    _desc(memory, 0, DATA, 4, v.DESC_F_NEXT, 1)
    _desc(memory, 1, DATA + 0x100, 8, v.DESC_F_WRITE)
    _desc(memory, 2, DATA + 0x200, 16, v.DESC_F_WRITE)
    _offer(memory, [0, 2])
    chains = v.pending_chains(memory, queue)
    assert [(c.head, c.readable, c.writable) for c in chains] == [
        (0, [(DATA, 4)], [(DATA + 0x100, 8)]),
        (2, [], [(DATA + 0x200, 16)]),
    ]
    assert v.pending_chains(memory, queue) == []  # nothing new
    assert v.publish(memory, queue, [(0, 8), (2, 16)], event_idx=False)
    assert _used(memory) == (2, [(0, 8), (2, 16)])


def test_indirect_descriptors(memory):
    queue = _queue()
    table = 0x13000
    _desc(memory, 0, table, 32, v.DESC_F_INDIRECT)
    _desc(memory, 0, DATA, 16, v.DESC_F_NEXT, 1, table=table)
    _desc(memory, 1, DATA + 0x40, 1, v.DESC_F_WRITE, table=table)
    _offer(memory, [0])
    (chain,) = v.pending_chains(memory, queue)
    assert chain.readable == [(DATA, 16)] and chain.writable == [(DATA + 0x40, 1)]


def test_bad_indirect_tables_are_protocol_errors(memory):
    queue = _queue()
    table = 0x13000
    _desc(memory, 0, table, 16, v.DESC_F_INDIRECT)
    _desc(memory, 0, 0x14000, 16, v.DESC_F_INDIRECT, table=table)  # an indirect one inside
    _offer(memory, [0])
    with pytest.raises(v.VirtioError, match="indirect descriptor in an indirect table"):
        v.pending_chains(memory, queue)
    _desc(memory, 1, table, 16 * (v.MAX_CHAIN + 1), v.DESC_F_INDIRECT)
    _offer(memory, [1])
    queue.last_avail = 1  # (past the bad chain, as after a reset)
    with pytest.raises(v.VirtioError, match="indirect table of"):
        v.pending_chains(memory, queue)


def test_a_long_chain_and_joined_buffers(memory):
    """A direct read of 1 MiB comes as a chain of a header, 256 pages and a status byte, many
    of them consecutive in guest memory (joined for the host's preadv)."""
    count = 40
    queue = v.Virtqueue(num=64, ready=True, desc=DESC, driver=AVAIL, device=USED)
    pages = [DATA + 0x1000 * n for n in (*range(20), *range(30, 50))]
    _desc(memory, 0, DATA - 16, 16, v.DESC_F_NEXT, 1)
    for n, page in enumerate(pages, start=1):
        _desc(memory, n, page, 0x1000, v.DESC_F_WRITE | v.DESC_F_NEXT, n + 1)
    _desc(memory, count + 1, DATA - 32, 1, v.DESC_F_WRITE)
    memory.write_slice(AVAIL + 4, struct.pack("<H", 0))
    memory.write_slice(AVAIL + 2, struct.pack("<H", 1))
    (chain,) = v.pending_chains(memory, queue)
    assert chain.readable == [(DATA - 16, 16)]
    assert chain.writable == [(page, 0x1000) for page in pages] + [(DATA - 32, 1)]
    assert v.joined(chain.writable[:-1]) == [(DATA, 20 * 0x1000), (DATA + 30 * 0x1000, 20 * 0x1000)]
    assert v.joined([]) == [] and v.joined([(5, 1), (7, 1)]) == [(5, 1), (7, 1)]


def test_interrupt_suppression(memory):
    queue = _queue()
    _desc(memory, 0, DATA, 8, v.DESC_F_WRITE)
    memory.write_slice(AVAIL, struct.pack("<H", v.AVAIL_F_NO_INTERRUPT))
    _offer(memory, [0])
    v.pending_chains(memory, queue)
    assert not v.publish(memory, queue, [(0, 8)], event_idx=False)
    # EVENT_IDX: interrupt only when the used index passes used_event
    memory.write_slice(AVAIL + 4 + 2 * NUM, struct.pack("<H", 2))  # used_event = 2
    for expected in (False, True):  # used index 2 (not past 2), then 3
        _offer(memory, [0])
        v.pending_chains(memory, queue)
        assert v.publish(memory, queue, [(0, 8)], event_idx=True) is expected
    assert struct.unpack("<H", memory.read_slice(USED + 4 + 8 * NUM, 2))[0] == queue.last_avail  # avail_event


def test_bad_chains_are_protocol_errors(memory):
    queue = _queue()
    _desc(memory, 0, DATA, 8, v.DESC_F_NEXT, 0)  # a loop
    _offer(memory, [0])
    with pytest.raises(v.VirtioError):
        v.pending_chains(memory, queue)
    _offer(memory, [NUM + 3])  # head out of range
    with pytest.raises(v.VirtioError):
        v.pending_chains(memory, queue)


def test_virtio_blk_requests(memory, tmp_path):
    path = tmp_path / "disk.img"
    path.write_bytes(bytes(range(256)) * 8)  # 4 sectors
    blk = VirtioBlk(RawImage.open(str(path), readonly=False))
    assert blk.config(0, 8) == 4 and blk.config(20, 4) == 512
    assert blk.features & (1 << 2) and blk.config(12, 4) == v.QUEUE_MAX - 2  # seg_max, as QEMU

    def request(kind, sector, data_len, payload=b""):
        memory.write_slice(DATA, struct.pack("<IIQ", kind, 0, sector) + payload)
        readable = [(DATA, 16 + len(payload))]
        writable = ([(DATA + 0x1000, data_len)] if data_len else []) + [(DATA + 0x2000, 1)]
        written = blk.handle(memory, v.Chain(0, readable, writable))
        return written, memory.read_slice(DATA + 0x2000, 1)[0]

    assert request(0, 1, 512) == (513, 0)  # read sector 1
    assert memory.read_slice(DATA + 0x1000, 512) == (bytes(range(256)) * 2)
    assert request(1, 2, 0, b"\xaa" * 512)[1] == 0  # write sector 2
    assert path.read_bytes()[1024:1536] == b"\xaa" * 512
    # a read into three scattered buffers (as with seg_max, one per page of a user buffer)
    memory.write_slice(DATA, struct.pack("<IIQ", 0, 0, 1))
    parts = [(DATA + 0x3000, 100), (DATA + 0x5000, 400), (DATA + 0x4000, 524), (DATA + 0x2000, 1)]
    assert blk.handle(memory, v.Chain(0, [(DATA, 16)], parts)) == 1025
    got = b"".join(memory.read_slice(addr, length) for addr, length in parts[:3])
    assert got == path.read_bytes()[512:1536] and memory.read_slice(DATA + 0x2000, 1) == b"\0"
    assert request(0, 4, 512)[1] == 1  # past the end: IOERR
    assert request(4, 0, 0)[1] == 0  # flush
    assert request(99, 0, 0)[1] == 2  # unsupported
    # an image with a partial last sector: its missing bytes read as zeros, into a buffer
    # that crosses a page (a numpy view) and one within a page (a memoryview)
    short = tmp_path / "short.img"
    short.write_bytes(b"\x55" * 700)  # sector 1 holds 188 bytes
    partial = VirtioBlk(RawImage.open(str(short), readonly=True))
    memory.write_slice(DATA + 0x3F00, b"\xff" * 300)
    memory.write_slice(DATA + 0x6000, b"\xff" * 212)
    memory.write_slice(DATA, struct.pack("<IIQ", 0, 0, 1))
    buffers = [(DATA + 0x3F00, 300), (DATA + 0x6000, 212), (DATA + 0x2000, 1)]
    assert partial.handle(memory, v.Chain(0, [(DATA, 16)], buffers)) == 513
    assert memory.read_slice(DATA + 0x3F00, 300) == b"\x55" * 188 + bytes(112)
    assert memory.read_slice(DATA + 0x6000, 212) == bytes(212)
    other = tmp_path / "ro.img"
    other.write_bytes(bytes(1024))
    readonly = VirtioBlk(RawImage.open(str(other), readonly=True))
    assert readonly.features & (1 << 5)
    with pytest.raises(Exception, match="locked"):
        RawImage.open(str(path), readonly=False)  # the first open holds the lock
