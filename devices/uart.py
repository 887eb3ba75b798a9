"""The ns16550a UART of QEMU's virt machine: registers only (the device service moves bytes
between it and the terminal or a file and raises its interrupt line).
Stage: devices.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

# Registers (offsets; DLAB in LCR selects the divisor latch at 0 and 1).
RBR_THR_DLL, IER_DLM, IIR_FCR, LCR, MCR, LSR, MSR, SCR = range(8)
LCR_DLAB = 0x80
IER_RDI, IER_THRI = 0x01, 0x02
LSR_DR, LSR_THRE, LSR_TEMT = 0x01, 0x20, 0x40
IIR_NO_INT, IIR_THRI, IIR_RDI = 0x01, 0x02, 0x04
IIR_FIFO = 0xC0
FCR_FIFO_ENABLE, FCR_CLEAR_RX = 0x01, 0x02
RX_FIFO = 16


@dataclass
class Uart16550:
    """One ns16550a. `transmit` is called with each byte the guest writes."""

    transmit: Callable[[int], None]
    name: str = "uart"
    rx: deque = field(default_factory=deque)
    ier: int = 0
    lcr: int = 0
    mcr: int = 0
    scr: int = 0
    fcr: int = 0
    dll: int = 0
    dlm: int = 0
    #: The transmitter-empty interrupt is pending (set when the THR empties, cleared by a read
    #: of IIR that reports it or by the next write of THR).
    thr_interrupt: bool = False

    def receive(self, data: bytes) -> int:
        """Bytes from the host side; returns how many fitted in the receive FIFO."""
        room = max(RX_FIFO - len(self.rx), 0)
        self.rx.extend(data[:room])
        return min(room, len(data))

    @property
    def rx_room(self) -> int:
        return max(RX_FIFO - len(self.rx), 0)

    @property
    def interrupt(self) -> bool:
        """The level of the UART's interrupt line."""
        return bool((self.ier & IER_RDI and self.rx) or (self.ier & IER_THRI and self.thr_interrupt))

    def _iir(self) -> int:
        fifo = IIR_FIFO if self.fcr & FCR_FIFO_ENABLE else 0
        if self.ier & IER_RDI and self.rx:
            return IIR_RDI | fifo
        if self.ier & IER_THRI and self.thr_interrupt:
            return IIR_THRI | fifo
        return IIR_NO_INT | fifo

    def read(self, offset: int, size: int) -> int:
        dlab = self.lcr & LCR_DLAB
        if offset == RBR_THR_DLL:
            if dlab:
                return self.dll
            return self.rx.popleft() if self.rx else 0
        if offset == IER_DLM:
            return self.dlm if dlab else self.ier
        if offset == IIR_FCR:
            iir = self._iir()
            if iir & 0x0F == IIR_THRI:
                self.thr_interrupt = False
            return iir
        if offset == LCR:
            return self.lcr
        if offset == MCR:
            return self.mcr
        if offset == LSR:
            return LSR_THRE | LSR_TEMT | (LSR_DR if self.rx else 0)
        if offset == MSR:
            # Loopback mode reflects MCR's outputs; otherwise carrier, DSR and CTS are up.
            return (self.mcr & 0x0F) << 4 if self.mcr & 0x10 else 0xB0
        if offset == SCR:
            return self.scr
        return 0

    def write(self, offset: int, size: int, value: int) -> None:
        value &= 0xFF
        dlab = self.lcr & LCR_DLAB
        if offset == RBR_THR_DLL:
            if dlab:
                self.dll = value
            else:
                self.transmit(value)
                self.thr_interrupt = True  # transmitted at once: the holding register is empty again
        elif offset == IER_DLM:
            if dlab:
                self.dlm = value
            else:
                if value & IER_THRI and not self.ier & IER_THRI:
                    self.thr_interrupt = True
                self.ier = value & 0x0F
        elif offset == IIR_FCR:
            self.fcr = value
            if value & FCR_CLEAR_RX:
                self.rx.clear()
        elif offset == LCR:
            self.lcr = value
        elif offset == MCR:
            self.mcr = value & 0x1F
        elif offset == SCR:
            self.scr = value
