"""The privileged state of one RISC-V hart: the privilege mode, the machine and supervisor CSRs,
trap entry and return, interrupt selection, and the privileged instructions (CSR access, mret,
sret, wfi, sfence.vma) that the kernels hand to Python as illegal instructions.

satp takes Bare, Sv39, Sv48 and Sv57 (with a 16-bit ASID); the translation itself is in
dbt.runtime.system.mmu and the kernels' TLB look-up.
Stage: runtime (system mode).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from dbt.ir.csrfile import (
    MIE,
    MISA,
    MPIE,
    MPP,
    MPP_SHIFT,
    MPRV,
    MXR,
    PRV_M,
    PRV_S,
    PRV_U,
    SIE,
    SPIE,
    SPP,
    SSTATUS_MASK,
    TSR,
    TVM,
    TW,
    UXL_SXL,
    status_with_sd,
    status_written,
)
from dbt.ir.csrfile import (
    SUM as SUM,  # (re-exported: tests use it from here)
)
from dbt.ir.state import (
    CSR_MCAUSE,
    CSR_MEPC,
    CSR_MHARTID,
    CSR_MSCRATCH,
    CSR_MSTATUS,
    CSR_MTVAL,
    CSR_SCAUSE,
    CSR_SEPC,
    CSR_SSCRATCH,
    CSR_STVAL,
    MMU_SATP,
    NUM_STATE,
    PRIV,
)
from dbt.runtime.int64 import to_int64

MASK64 = (1 << 64) - 1

# Interrupt numbers (mip/mie bits) and exception causes.
IRQ_SSI, IRQ_MSI, IRQ_STI, IRQ_MTI, IRQ_SEI, IRQ_MEI = 1, 3, 5, 7, 9, 11
INTERRUPT = 1 << 63
CAUSE_FETCH_ACCESS, CAUSE_ILLEGAL, CAUSE_BREAKPOINT = 1, 2, 3
CAUSE_LOAD_MISALIGNED, CAUSE_LOAD_ACCESS, CAUSE_STORE_MISALIGNED, CAUSE_STORE_ACCESS = 4, 5, 6, 7
CAUSE_ECALL_U, CAUSE_ECALL_S, CAUSE_ECALL_M = 8, 9, 11
#: Interrupts in the order a hart takes them when several are pending (privileged spec 3.1.9).
IRQ_PRIORITY = (IRQ_MEI, IRQ_MSI, IRQ_MTI, IRQ_SEI, IRQ_SSI, IRQ_STI)
S_INTERRUPTS = (1 << IRQ_SSI) | (1 << IRQ_STI) | (1 << IRQ_SEI)
ALL_INTERRUPTS = S_INTERRUPTS | (1 << IRQ_MSI) | (1 << IRQ_MTI) | (1 << IRQ_MEI)
#: Exceptions medeleg may delegate (not ecall from M, cause 11).
DELEGABLE = 0xB3FF & ~(1 << CAUSE_ECALL_M)

MENVCFG_STCE = 1 << 63
PMP_ENTRIES = 16
#: satp modes a write may select (Bare, Sv39, Sv48, Sv57); another mode leaves satp unchanged.
SATP_MODES = (0, 8, 9, 10)
SATP_WRITABLE = (0xF << 60) | (0xFFFF << 44) | ((1 << 44) - 1)

# CSR numbers.
SSTATUS, SIE_CSR, STVEC, SCOUNTEREN, SENVCFG = 0x100, 0x104, 0x105, 0x106, 0x10A
SSCRATCH, SEPC, SCAUSE, STVAL, SIP, STIMECMP, SATP = 0x140, 0x141, 0x142, 0x143, 0x144, 0x14D, 0x180
MSTATUS, MISA_CSR, MEDELEG, MIDELEG, MIE_CSR, MTVEC, MCOUNTEREN = (
    0x300,
    0x301,
    0x302,
    0x303,
    0x304,
    0x305,
    0x306,
)
MENVCFG, MCOUNTINHIBIT, MSCRATCH, MEPC, MCAUSE, MTVAL, MIP = 0x30A, 0x320, 0x340, 0x341, 0x342, 0x343, 0x344
PMPCFG0, PMPADDR0 = 0x3A0, 0x3B0
MCYCLE, MINSTRET, CYCLE, TIME, INSTRET = 0xB00, 0xB02, 0xC00, 0xC01, 0xC02
MVENDORID, MARCHID, MIMPID, MHARTID, MCONFIGPTR = 0xF11, 0xF12, 0xF13, 0xF14, 0xF15


class Trap(Exception):
    """A synchronous exception of the instruction being emulated: cause and tval."""

    def __init__(self, cause: int, tval: int = 0) -> None:
        super().__init__(f"trap {cause} tval {tval:#x}")
        self.cause = cause
        self.tval = tval & MASK64


def illegal(word: int) -> Trap:
    return Trap(CAUSE_ILLEGAL, word)


class _Word:
    """A hart field kept in a state word (ir.state), where the kernels read and write it too."""

    def __init__(self, index: int) -> None:
        self.index = index

    def __get__(self, hart: Hart, owner: type | None = None) -> int:
        return int(hart.words[self.index]) & MASK64

    def __set__(self, hart: Hart, value: int) -> None:
        hart.words[self.index] = to_int64(value)


@dataclass
class Hart:
    """One hart's privileged state. `instret()` and `mtime()` give the counters; `pending`
    (bits of mip the devices drive: MTIP, MSIP, MEIP, SEIP) is set by the device service.
    The privilege mode and the CSRs of ir.csrfile live in `words` (the machine's state array),
    the rest here."""

    instret: Callable[[], int]
    mtime: Callable[[], int]
    hartid: int = 0
    words: np.ndarray = field(default_factory=lambda: np.zeros(NUM_STATE, dtype=np.int64))
    medeleg: int = 0
    mideleg: int = 0
    mie: int = 0
    #: mip bits software sets (SSIP, STIP without Sstc, SEIP from M mode).
    mip_soft: int = 0
    #: mip bits the devices drive.
    mip_hw: int = 0
    mtvec: int = 0
    stvec: int = 0
    mcounteren: int = 0
    scounteren: int = 0
    menvcfg: int = 0
    senvcfg: int = 0
    mcountinhibit: int = 0
    stimecmp: int = MASK64
    pmpcfg: list[int] = field(default_factory=lambda: [0] * (PMP_ENTRIES // 8))
    pmpaddr: list[int] = field(default_factory=lambda: [0] * PMP_ENTRIES)
    #: Waiting in wfi until an interrupt is pending.
    waiting: bool = False
    #: Called when cached translations must go: satp changed, or mstatus.MXR (what loads may
    #: read). (sfence.vma is the machine's, which knows its operands.)
    on_translation_change: Callable[[], None] = lambda: None

    priv = _Word(PRIV)
    mstatus = _Word(CSR_MSTATUS)
    satp = _Word(MMU_SATP)
    sscratch = _Word(CSR_SSCRATCH)
    sepc = _Word(CSR_SEPC)
    scause = _Word(CSR_SCAUSE)
    stval = _Word(CSR_STVAL)
    mscratch = _Word(CSR_MSCRATCH)
    mepc = _Word(CSR_MEPC)
    mcause = _Word(CSR_MCAUSE)
    mtval = _Word(CSR_MTVAL)

    def __post_init__(self) -> None:
        self.priv = PRV_M
        self.mstatus = UXL_SXL
        self.words[CSR_MHARTID] = self.hartid

    def reset(self) -> None:
        """What a reset changes (privileged spec 3.4, and no more, as QEMU 7.2): M mode,
        mstatus.MIE and MPRV clear, mcause 0, not waiting in wfi."""
        self.priv = PRV_M
        self.mstatus &= ~(MIE | MPRV)
        self.mcause = 0
        self.waiting = False

    # ---- interrupts ----
    @property
    def sstc(self) -> bool:
        return bool(self.menvcfg & MENVCFG_STCE)

    @property
    def mip(self) -> int:
        stip = (1 << IRQ_STI) if self.sstc and self.mtime() >= self.stimecmp else 0
        soft = self.mip_soft & ~((1 << IRQ_STI) if self.sstc else 0)
        return self.mip_hw | soft | stip

    def pending_interrupt(self) -> int | None:
        """The interrupt the hart takes now, if any (enabled, pending, by priority)."""
        pending = self.mip & self.mie
        if not pending:
            return None
        m_enabled = self.priv < PRV_M or self.mstatus & MIE
        s_enabled = self.priv < PRV_S or (self.priv == PRV_S and self.mstatus & SIE)
        for irq in IRQ_PRIORITY:
            if not pending >> irq & 1:
                continue
            if self.mideleg >> irq & 1:
                if s_enabled and self.priv <= PRV_S:
                    return irq
            elif m_enabled:
                return irq
        return None

    def wakes(self) -> bool:
        """wfi ends when an interrupt is pending and enabled in mie, whatever mstatus says."""
        return bool(self.mip & self.mie)

    # ---- traps ----
    def take_trap(self, pc: int, cause: int, tval: int, interrupt: bool = False) -> int:
        """Enter the trap handler; returns the new pc."""
        deleg = self.mideleg if interrupt else self.medeleg
        code = cause | (INTERRUPT if interrupt else 0)
        self.waiting = False
        if self.priv <= PRV_S and deleg >> cause & 1:
            self.scause, self.sepc, self.stval = code, pc & MASK64, tval & MASK64
            status = self.mstatus & ~(SPP | SPIE | SIE)
            if self.priv == PRV_S:
                status |= SPP
            if self.mstatus & SIE:
                status |= SPIE
            self.mstatus = status
            self.priv = PRV_S
            return self._vector(self.stvec, cause, interrupt)
        self.mcause, self.mepc, self.mtval = code, pc & MASK64, tval & MASK64
        status = (self.mstatus & ~(MPP | MPIE | MIE)) | (self.priv << MPP_SHIFT)
        if self.mstatus & MIE:
            status |= MPIE
        self.mstatus = status
        self.priv = PRV_M
        return self._vector(self.mtvec, cause, interrupt)

    @staticmethod
    def _vector(tvec: int, cause: int, interrupt: bool) -> int:
        base = tvec & ~3
        return base + 4 * cause if interrupt and tvec & 1 else base

    def mret(self, word: int) -> int:
        if self.priv < PRV_M:
            raise illegal(word)
        previous = (self.mstatus & MPP) >> MPP_SHIFT
        status = self.mstatus & ~(MPP | MIE)
        if self.mstatus & MPIE:
            status |= MIE
        status |= MPIE
        if previous != PRV_M:
            status &= ~MPRV
        self.mstatus = status
        self.priv = previous
        return self.mepc

    def sret(self, word: int) -> int:
        if self.priv < PRV_S or (self.priv == PRV_S and self.mstatus & TSR):
            raise illegal(word)
        previous = PRV_S if self.mstatus & SPP else PRV_U
        status = self.mstatus & ~(SPP | SIE)
        if self.mstatus & SPIE:
            status |= SIE
        status = (status | SPIE) & ~MPRV
        self.mstatus = status
        self.priv = previous
        return self.sepc

    # ---- CSRs ----
    def csr_read(self, csr: int, word: int) -> int:
        self._check_access(csr, word, write=False)
        value = self._read(csr)
        if value is None:
            raise illegal(word)
        return value & MASK64

    def csr_write(self, csr: int, value: int, word: int) -> None:
        self._check_access(csr, word, write=True)
        if not self._write(csr, value & MASK64):
            raise illegal(word)

    def _check_access(self, csr: int, word: int, write: bool) -> None:
        if self.priv < (csr >> 8) & 3:
            raise illegal(word)
        if write and csr >> 10 == 3:
            raise illegal(word)
        if csr == SATP and self.priv == PRV_S and self.mstatus & TVM:
            raise illegal(word)
        if CYCLE <= csr <= 0xC1F:
            bit = 1 << (csr - CYCLE)
            if (self.priv < PRV_M and not self.mcounteren & bit) or (
                self.priv == PRV_U and not self.scounteren & bit
            ):
                raise illegal(word)
        if (
            csr == STIMECMP
            and self.priv < PRV_M
            and not (self.sstc and self.mcounteren & (1 << (TIME - CYCLE)))
        ):
            raise illegal(word)  # Sstc: S mode reaches stimecmp when M mode enables it

    def _read(self, csr: int) -> int | None:
        if csr == TIME:
            return self.mtime()  # (first: Linux reads it tens of thousands of times a boot)
        simple = _SIMPLE.get(csr)
        if simple is not None:
            return getattr(self, simple)
        if csr == MSTATUS:
            return status_with_sd(self.mstatus)
        if csr == SSTATUS:
            return status_with_sd(self.mstatus) & SSTATUS_MASK
        if csr == MISA_CSR:
            return MISA
        if csr == MEDELEG:
            return self.medeleg
        if csr == MIDELEG:
            return self.mideleg
        if csr == MIE_CSR:
            return self.mie
        if csr == SATP:
            return self.satp
        if csr == MIP:
            return self.mip
        if csr == SIP:
            return self.mip & self.mideleg & S_INTERRUPTS
        if csr == SIE_CSR:
            return self.mie & self.mideleg & S_INTERRUPTS
        if csr in (MCYCLE, MINSTRET, CYCLE, INSTRET):
            return self.instret()
        if 0xB03 <= csr <= 0xB1F or 0xC03 <= csr <= 0xC1F or 0x323 <= csr <= 0x33F:
            return 0  # hardware performance counters and their events: none count
        if PMPCFG0 <= csr < PMPCFG0 + 16:
            index = csr - PMPCFG0
            return None if index & 1 else (self.pmpcfg[index // 2] if index // 2 < len(self.pmpcfg) else 0)
        if PMPADDR0 <= csr < PMPADDR0 + 64:
            index = csr - PMPADDR0
            return self.pmpaddr[index] if index < PMP_ENTRIES else 0
        if csr in (MVENDORID, MARCHID, MIMPID, MCONFIGPTR):
            return 0
        if csr == MHARTID:
            return self.hartid
        return None

    def _write(self, csr: int, value: int) -> bool:
        simple = _SIMPLE.get(csr)
        if simple is not None:
            if csr in (MEPC, SEPC):
                value &= ~1
            elif csr in (MTVEC, STVEC):
                value &= ~2  # modes 0 (direct) and 1 (vectored)
            elif csr in (MCOUNTEREN, SCOUNTEREN, MCOUNTINHIBIT):
                value &= 0xFFFFFFFF
            elif csr == MENVCFG:
                value &= MENVCFG_STCE | 0xF1  # STCE, FIOM, CBIE, CBCFE, CBZE
            elif csr == SENVCFG:
                value &= 0xF1
            setattr(self, simple, value)
            return True
        if csr in (MSTATUS, SSTATUS):
            self._set_status(status_written(self.mstatus, csr, value) & MASK64)
            return True
        if csr == MISA_CSR:
            return True  # WARL: fixed
        if csr == MEDELEG:
            self.medeleg = value & DELEGABLE
            return True
        if csr == MIDELEG:
            self.mideleg = value & S_INTERRUPTS
            return True
        if csr == MIE_CSR:
            self.mie = value & ALL_INTERRUPTS
            return True
        if csr == SIE_CSR:
            mask = self.mideleg & S_INTERRUPTS
            self.mie = (self.mie & ~mask) | (value & mask)
            return True
        if csr == MIP:
            writable = (1 << IRQ_SSI) | (1 << IRQ_SEI) | (0 if self.sstc else 1 << IRQ_STI)
            self.mip_soft = (self.mip_soft & ~writable) | (value & writable)
            return True
        if csr == SIP:
            mask = self.mideleg & (1 << IRQ_SSI)
            self.mip_soft = (self.mip_soft & ~mask) | (value & mask)
            return True
        if csr == SATP:
            # WARL: a mode dbt does not have leaves satp as it was (as QEMU does).
            if value >> 60 in SATP_MODES and value & SATP_WRITABLE != self.satp:
                self.satp = value & SATP_WRITABLE
                self.on_translation_change()  # QEMU flushes its TLB on any change too
            return True
        if csr in (MCYCLE, MINSTRET) or 0xB03 <= csr <= 0xB1F or 0x323 <= csr <= 0x33F:
            return True  # counters that do not count (writes are ignored)
        if PMPCFG0 <= csr < PMPCFG0 + 16:
            index = csr - PMPCFG0
            if index & 1:
                return False
            if index // 2 < len(self.pmpcfg):
                self.pmpcfg[index // 2] = self._pmpcfg(self.pmpcfg[index // 2], value)
            return True
        if PMPADDR0 <= csr < PMPADDR0 + 64:
            index = csr - PMPADDR0
            if index < PMP_ENTRIES and not self._pmp_locked(index):
                self.pmpaddr[index] = value & ((1 << 54) - 1)
            return True
        return False

    def _set_status(self, status: int) -> None:
        changed = self.mstatus ^ status
        self.mstatus = status
        if changed & MXR:
            self.on_translation_change()

    @staticmethod
    def _pmpcfg(old: int, value: int) -> int:
        result = 0
        for i in range(8):
            old_byte, new_byte = (old >> 8 * i) & 0xFF, (value >> 8 * i) & 0xFF
            byte = old_byte if old_byte & 0x80 else new_byte & 0x9F
            if byte & 3 == 2:  # R=0, W=1 is reserved
                byte &= ~3
            result |= byte << 8 * i
        return result

    def _pmp_locked(self, index: int) -> bool:
        cfg = (self.pmpcfg[index // 8] >> 8 * (index % 8)) & 0xFF
        return bool(cfg & 0x80)

    # ---- the other privileged instructions ----
    def wfi(self, word: int) -> None:
        if self.priv == PRV_U or (self.priv == PRV_S and self.mstatus & TW):
            raise illegal(word)
        self.waiting = True

    def sfence_vma(self, word: int) -> None:
        if self.priv == PRV_U or (self.priv == PRV_S and self.mstatus & TVM):
            raise illegal(word)


#: CSRs that are one field each, read and written whole (after the write's legalisation).
_SIMPLE = {
    MTVEC: "mtvec",
    STVEC: "stvec",
    MSCRATCH: "mscratch",
    SSCRATCH: "sscratch",
    MEPC: "mepc",
    SEPC: "sepc",
    MCAUSE: "mcause",
    SCAUSE: "scause",
    MTVAL: "mtval",
    STVAL: "stval",
    MCOUNTEREN: "mcounteren",
    SCOUNTEREN: "scounteren",
    MENVCFG: "menvcfg",
    SENVCFG: "senvcfg",
    MCOUNTINHIBIT: "mcountinhibit",
    STIMECMP: "stimecmp",
}
