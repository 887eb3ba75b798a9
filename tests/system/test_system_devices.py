"""The virt machine's devices at register level, against their specifications (ns16550a, the
SiFive CLINT and PLIC, the virt test device, HTIF), and the bus that finds them."""

from __future__ import annotations

import pytest

from dbt.devices.bus import Bus
from dbt.devices.clint import MTIME, MTIMECMP, NEVER, Clint
from dbt.devices.finisher import Finisher, PowerOff, Reset
from dbt.devices.htif import Htif
from dbt.devices.plic import CONTEXT_BASE, CONTEXT_STRIDE, ENABLE_BASE, ENABLE_STRIDE, PENDING_BASE, Plic
from dbt.devices.service import Console, QuitRequest
from dbt.devices.uart import IER_DLM, IIR_FCR, LCR, LSR, MSR, RBR_THR_DLL, SCR, Uart16550


def _uart():
    sent = []
    return Uart16550(transmit=sent.append), sent


def test_uart_transmit_and_line_status():
    uart, sent = _uart()
    assert uart.read(LSR, 1) == 0x60  # THR empty, transmitter empty, no data
    uart.write(RBR_THR_DLL, 1, ord("A"))
    assert sent == [ord("A")]
    uart.write(SCR, 1, 0x5A)
    assert uart.read(SCR, 1) == 0x5A


def test_uart_divisor_latch():
    uart, sent = _uart()
    uart.write(LCR, 1, 0x83)  # DLAB
    uart.write(RBR_THR_DLL, 1, 0x12)
    uart.write(IER_DLM, 1, 0x34)
    assert (uart.read(RBR_THR_DLL, 1), uart.read(IER_DLM, 1)) == (0x12, 0x34)
    uart.write(LCR, 1, 0x03)
    assert sent == [] and uart.ier == 0


def test_uart_receive_fifo_and_interrupts():
    uart, _ = _uart()
    assert uart.receive(b"x" * 20) == 16  # the FIFO holds 16
    assert uart.read(LSR, 1) & 1
    assert not uart.interrupt  # IER off
    uart.write(IER_DLM, 1, 0x01)
    assert uart.interrupt and uart.read(IIR_FCR, 1) & 0x0F == 0x04  # received data available
    for _ in range(16):
        assert uart.read(RBR_THR_DLL, 1) == ord("x")
    assert not uart.read(LSR, 1) & 1 and not uart.interrupt
    assert uart.read(IIR_FCR, 1) & 0x0F == 0x01  # no interrupt pending


def test_uart_transmitter_empty_interrupt():
    uart, _ = _uart()
    uart.write(IER_DLM, 1, 0x02)
    assert uart.interrupt
    assert uart.read(IIR_FCR, 1) & 0x0F == 0x02
    assert not uart.interrupt  # reading IIR that reports THRE clears it
    uart.write(RBR_THR_DLL, 1, ord("B"))
    assert uart.interrupt  # the byte went out at once: empty again


def test_uart_fifo_flag_and_modem_status():
    uart, _ = _uart()
    uart.write(IIR_FCR, 1, 0x07)
    assert uart.read(IIR_FCR, 1) == 0xC1
    assert uart.read(MSR, 1) == 0xB0
    uart.write(4, 1, 0x1F)  # loopback: MSR mirrors MCR's outputs
    assert uart.read(MSR, 1) == 0xF0


def test_clint_time_and_compare():
    ticks = [1000]
    clint = Clint(now=lambda: ticks[0])
    assert clint.read(MTIME, 8) == 1000
    assert clint.read(MTIMECMP, 8) == NEVER
    clint.write(MTIMECMP, 4, 0x1234)  # low half
    clint.write(MTIMECMP + 4, 4, 0)  # high half
    assert clint.mtimecmp == 0x1234
    clint.write(MTIME, 8, 5000)  # moving mtime keeps it counting from there
    ticks[0] += 10
    assert clint.mtime == 5010
    clint.write(0, 4, 3)
    assert clint.msip == 1


def test_plic_priority_threshold_claim_complete():
    plic = Plic()
    plic.write(10 * 4, 4, 5)  # priority of source 10
    plic.write(ENABLE_BASE + ENABLE_STRIDE, 4, 1 << 10)  # context 1 (S mode) enables it
    plic.set_level(10, True)
    assert plic.read(PENDING_BASE, 4) == 1 << 10
    assert plic.output(1) and not plic.output(0)
    plic.write(CONTEXT_BASE + CONTEXT_STRIDE, 4, 5)  # threshold 5: priority must exceed it
    assert not plic.output(1)
    plic.write(CONTEXT_BASE + CONTEXT_STRIDE, 4, 4)
    assert plic.read(CONTEXT_BASE + CONTEXT_STRIDE + 4, 4) == 10  # claim
    assert not plic.output(1)  # claimed: not pending until completed
    plic.write(CONTEXT_BASE + CONTEXT_STRIDE + 4, 4, 10)  # complete while the line is still high
    assert plic.output(1)
    plic.set_level(10, False)
    assert not plic.output(1)
    assert plic.read(CONTEXT_BASE + CONTEXT_STRIDE + 4, 4) == 0  # nothing to claim


def test_plic_highest_priority_wins_and_source_zero_is_not_a_source():
    plic = Plic()
    for source, priority in ((3, 2), (7, 6), (9, 6)):
        plic.write(source * 4, 4, priority)
        plic.set_level(source, True)
    plic.write(ENABLE_BASE, 4, 0xFFFFFFFF)
    assert plic.read(ENABLE_BASE, 4) == 0xFFFFFFFE
    assert plic.read(CONTEXT_BASE + 4, 4) == 7  # equal priorities: the lower source number
    assert plic.read(CONTEXT_BASE + 4, 4) == 9
    assert plic.read(CONTEXT_BASE + 4, 4) == 3


def test_finisher():
    finisher = Finisher()
    with pytest.raises(PowerOff) as off:
        finisher.write(0, 4, 0x5555)
    assert off.value.code == 0
    with pytest.raises(PowerOff) as off:
        finisher.write(0, 4, 0x3333 | (7 << 16))
    assert off.value.code == 7
    with pytest.raises(Reset):
        finisher.write(0, 4, 0x7777)
    finisher.write(0, 4, 0x1234)  # anything else: nothing


def test_htif_console_exit_and_pass_through():
    sent = []
    htif = Htif(sent.append, tohost_offset=0, fromhost_offset=8, page=bytearray(4096))
    htif.write(0, 8, (1 << 56) | (1 << 48) | ord("z"))
    assert sent == [ord("z")] and htif.read(8, 8) != 0
    htif.write(16, 4, 0xDEADBEEF)
    assert htif.read(16, 4) == 0xDEADBEEF
    with pytest.raises(PowerOff) as off:
        htif.write(0, 8, (5 << 1) | 1)
    assert off.value.code == 5


def test_bus_finds_devices_and_refuses_overlaps():
    bus = Bus()
    a, b = Finisher(name="a"), Finisher(name="b")
    bus.attach(0x1000, 0x100, a)
    bus.attach(0x3000, 0x100, b)
    assert bus.find(0x1010, 4) == (a, 0x10)
    assert bus.find(0x30FC, 4) == (b, 0xFC)
    assert bus.find(0x30FE, 4) is None  # runs past the end
    assert bus.find(0x2000, 1) is None
    with pytest.raises(ValueError):
        bus.attach(0x10F0, 0x20, Finisher())


def test_console_escapes(tmp_path):
    import os

    read_fd, write_fd = os.pipe()
    console = Console(out_fd=1, in_fd=read_fd, escapes=True)
    os.write(write_fd, b"ab\x01\x01c")
    assert console.read_host()
    assert bytes(console.input) == b"ab\x01c"  # Ctrl-A Ctrl-A: a literal Ctrl-A
    os.write(write_fd, b"\x01x")
    with pytest.raises(QuitRequest):
        console.read_host()
    os.close(write_fd)
    assert not console.read_host()
    os.close(read_fd)
