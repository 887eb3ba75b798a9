"""The hart's privileged state against the privileged specification: trap entry and delegation,
mret and sret, interrupt priority and enables, CSR access rules and WARL fields."""

from __future__ import annotations

import pytest

from dbt.runtime.system import hart as h
from dbt.runtime.system.hart import Hart, Trap


def _hart(mtime: int = 0) -> Hart:
    return Hart(instret=lambda: 42, mtime=lambda: mtime)


def test_exception_to_m_mode_saves_state():
    hart = _hart()
    hart.mtvec = 0x8000_0100
    hart.mstatus |= h.MIE
    assert hart.take_trap(0x8000_0004, h.CAUSE_ILLEGAL, 0x1234) == 0x8000_0100
    assert (hart.mcause, hart.mepc, hart.mtval) == (2, 0x8000_0004, 0x1234)
    assert hart.priv == h.PRV_M
    assert not hart.mstatus & h.MIE and hart.mstatus & h.MPIE
    assert (hart.mstatus & h.MPP) >> h.MPP_SHIFT == h.PRV_M


def test_delegated_exception_from_u_goes_to_s():
    hart = _hart()
    hart.priv = h.PRV_U
    hart.medeleg = 1 << h.CAUSE_ECALL_U
    hart.stvec = 0x8020_0000
    assert hart.take_trap(0x1000, h.CAUSE_ECALL_U, 0) == 0x8020_0000
    assert hart.priv == h.PRV_S and hart.scause == 8 and hart.sepc == 0x1000
    assert not hart.mstatus & h.SPP  # came from U
    # delegation never takes a trap from M mode down to S
    hart.priv = h.PRV_M
    hart.medeleg = 1 << h.CAUSE_ILLEGAL
    hart.mtvec = 0x100
    assert hart.take_trap(0x2000, h.CAUSE_ILLEGAL, 0) == 0x100 and hart.priv == h.PRV_M


def test_vectored_interrupts_and_direct_exceptions():
    hart = _hart()
    hart.mtvec = 0x8000_0000 | 1
    assert hart.take_trap(0, h.IRQ_MTI, 0, interrupt=True) == 0x8000_0000 + 4 * 7
    assert hart.mcause == (1 << 63) | 7
    assert hart.take_trap(0, h.CAUSE_BREAKPOINT, 0) == 0x8000_0000  # exceptions: the base


def test_mret_and_sret():
    hart = _hart()
    hart.mstatus = (hart.mstatus & ~h.MPP) | (h.PRV_S << h.MPP_SHIFT) | h.MPIE | h.MPRV
    hart.mepc = 0x8020_0000
    assert hart.mret(0x30200073) == 0x8020_0000
    assert hart.priv == h.PRV_S and hart.mstatus & h.MIE and hart.mstatus & h.MPIE
    assert not hart.mstatus & h.MPRV and not hart.mstatus & h.MPP  # MPP: U
    with pytest.raises(Trap):
        hart.mret(0x30200073)  # not from S mode
    hart.mstatus |= h.SPP | h.SPIE
    hart.sepc = 0x1234
    assert hart.sret(0x10200073) == 0x1234 and hart.priv == h.PRV_S and hart.mstatus & h.SIE
    hart.mstatus |= h.TSR
    with pytest.raises(Trap):
        hart.sret(0x10200073)


def test_interrupt_priority_and_enables():
    hart = _hart()
    hart.mip_hw = (1 << h.IRQ_MTI) | (1 << h.IRQ_MEI)
    hart.mie = (1 << h.IRQ_MTI) | (1 << h.IRQ_MEI)
    assert hart.pending_interrupt() is None  # M mode with MIE clear
    assert hart.wakes()  # but wfi ends
    hart.mstatus |= h.MIE
    assert hart.pending_interrupt() == h.IRQ_MEI  # external before timer
    hart.priv = h.PRV_U
    hart.mstatus &= ~h.MIE
    assert hart.pending_interrupt() == h.IRQ_MEI  # lower modes: M interrupts are always on


def test_delegated_interrupts_respect_sie():
    hart = _hart()
    hart.mideleg = 1 << h.IRQ_SSI
    hart.mie = 1 << h.IRQ_SSI
    hart.csr_write(h.MIP, 1 << h.IRQ_SSI, 0)
    hart.priv = h.PRV_S
    assert hart.pending_interrupt() is None
    hart.mstatus |= h.SIE
    assert hart.pending_interrupt() == h.IRQ_SSI
    hart.priv = h.PRV_M  # never taken in M mode
    assert hart.pending_interrupt() is None


def test_sstc_timer():
    hart = _hart(mtime=1000)
    hart.csr_write(h.MENVCFG, h.MENVCFG_STCE, 0)
    hart.csr_write(h.STIMECMP, 999, 0)
    assert hart.mip & (1 << h.IRQ_STI)
    hart.csr_write(h.STIMECMP, 1001, 0)
    assert not hart.mip & (1 << h.IRQ_STI)
    hart.priv = h.PRV_S
    with pytest.raises(Trap):  # S mode needs mcounteren.TM too
        hart.csr_read(h.STIMECMP, 0)
    hart.mcounteren = 2
    assert hart.csr_read(h.STIMECMP, 0) == 1001


def test_csr_privilege_and_read_only_rules():
    hart = _hart()
    hart.priv = h.PRV_S
    with pytest.raises(Trap) as trap:
        hart.csr_read(h.MSTATUS, 0x300027F3)
    assert (trap.value.cause, trap.value.tval) == (h.CAUSE_ILLEGAL, 0x300027F3)
    hart.priv = h.PRV_M
    with pytest.raises(Trap):
        hart.csr_write(h.MHARTID, 1, 0)  # read-only
    with pytest.raises(Trap):
        hart.csr_read(0x7FF, 0)  # no such CSR
    assert hart.csr_read(h.MINSTRET, 0) == 42


def test_counter_enables():
    hart = _hart(mtime=77)
    hart.priv = h.PRV_U
    with pytest.raises(Trap):
        hart.csr_read(h.TIME, 0)
    hart.mcounteren = hart.scounteren = 2
    assert hart.csr_read(h.TIME, 0) == 77
    with pytest.raises(Trap):
        hart.csr_read(h.CYCLE, 0)


def test_warl_fields():
    hart = _hart()
    hart.csr_write(h.MISA_CSR, 0, 0)
    assert hart.csr_read(h.MISA_CSR, 0) == h.MISA & h.MASK64  # (h.MISA is signed, as ir.csrfile keeps it)
    hart.csr_write(h.MEDELEG, (1 << 64) - 1, 0)
    assert not hart.medeleg & (1 << h.CAUSE_ECALL_M)
    hart.csr_write(h.MIDELEG, (1 << 64) - 1, 0)
    assert hart.mideleg == h.S_INTERRUPTS
    hart.csr_write(h.MEPC, 0x8000_0003, 0)
    assert hart.mepc == 0x8000_0002
    hart.csr_write(h.MSTATUS, 2 << h.MPP_SHIFT, 0)  # MPP=2 is reserved: unchanged
    assert (hart.mstatus & h.MPP) >> h.MPP_SHIFT == 0
    flushes = []
    hart.on_translation_change = lambda: flushes.append(hart.satp)
    hart.csr_write(h.SATP, (8 << 60) | (0xFFFF << 44) | 0x80123, 0)  # Sv39, 16-bit ASID
    assert hart.satp == (8 << 60) | (0xFFFF << 44) | 0x80123 and len(flushes) == 1
    hart.csr_write(h.SATP, 7 << 60, 0)  # a reserved mode: WARL, satp unchanged
    hart.csr_write(h.SATP, hart.satp, 0)  # the same value: nothing to flush
    assert hart.satp >> 60 == 8 and len(flushes) == 1
    hart.csr_write(h.PMPCFG0, 0x1F | (0x80 << 8), 0)
    hart.csr_write(h.PMPADDR0 + 1, 0x1234, 0)  # locked entry 1: unchanged
    assert hart.pmpaddr[1] == 0
    with pytest.raises(Trap):
        hart.csr_read(h.PMPCFG0 + 1, 0)  # odd pmpcfg registers do not exist on RV64


def test_sstatus_is_a_view_of_mstatus():
    hart = _hart()
    hart.csr_write(h.SSTATUS, h.SIE | h.MIE | h.SUM, 0)
    assert hart.mstatus & h.SIE and hart.mstatus & h.SUM and not hart.mstatus & h.MIE
    hart.csr_write(h.MSTATUS, hart.mstatus | (1 << 13), 0)  # FS on: reads Dirty, with SD
    assert hart.csr_read(h.SSTATUS, 0) >> 63 == 1


def test_wfi_and_sfence_rules():
    hart = _hart()
    hart.wfi(0)
    assert hart.waiting
    hart.priv = h.PRV_U
    with pytest.raises(Trap):
        hart.wfi(0)
    with pytest.raises(Trap):
        hart.sfence_vma(0)
    hart.priv = h.PRV_S
    hart.mstatus |= h.TW
    with pytest.raises(Trap):
        hart.wfi(0)
