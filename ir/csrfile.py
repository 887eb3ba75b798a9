"""The privileged CSRs the kernels access without leaving native code, and the rules they share
with the hart's Python side (dbt.runtime.system.hart): mstatus/sstatus legalisation, the MMU
index of an access, which TLB set it uses. Plain Python that Numba compiles into the kernels, as
ir.pagewalk is: int64 arithmetic only (constants with bit 63 are negative), no calls but to
each other.

A Linux kernel touches sstatus around every interrupt-disabled section and every access to
user memory, and its trap entry and exit read and write sscratch, sepc, scause, stval; OpenSBI
does the same with the M-mode ones. Each of those used to be a trip to Python. The kernels now
do them (csr_sys) unless the access needs Python: a privilege or read-only violation (Python
raises the trap), satp or misa writes, an mstatus.MXR change (it flushes the TLB), or a CSR
not in this file. After a write that enables interrupts while some are pending, or changes
whether accesses are translated, the kernel returns to Python right after the instruction.
"""

from __future__ import annotations

from dbt.ir.ops import CSR_MODE_READ, CSR_MODE_SET, CSR_MODE_WRITE
from dbt.ir.pagewalk import (
    ACCESS_FETCH,
    ACCESS_LOAD,
    ACCESS_STORE,
    MMU_S,
    MMU_S_SUM,
    MMU_U,
    tlb_flush,
    tlb_set,
)
from dbt.ir.state import (
    CSR_MHARTID,
    CSR_MSCRATCH,
    CSR_MSTATUS,
    CSR_SSCRATCH,
    IRQ_PENDING,
    MMU_FETCH,
    MMU_LOAD,
    MMU_SATP,
    MMU_STORE,
    PRIV,
    SFENCE_PYTHON,
    STRADDLE_LEAVES,
    TLB_FLUSHES,
)

PRV_U, PRV_S, PRV_M = 0, 1, 3

# mstatus fields.
SIE, MIE, SPIE, MPIE, SPP = 1 << 1, 1 << 3, 1 << 5, 1 << 7, 1 << 8
MPP_SHIFT, MPP = 11, 3 << 11
FS = 3 << 13
MPRV, SUM, MXR, TVM, TW, TSR = 1 << 17, 1 << 18, 1 << 19, 1 << 20, 1 << 21, 1 << 22
UXL_SXL = (2 << 32) | (2 << 34)  # 64-bit U and S modes
SD = -(1 << 63)  # bit 63
SSTATUS_MASK = SIE | SPIE | SPP | FS | SUM | MXR | (3 << 32) | SD
MSTATUS_WRITABLE = SIE | MIE | SPIE | MPIE | SPP | MPP | FS | MPRV | SUM | MXR | TVM | TW | TSR
#: misa: RV64 (MXL 2 in bits 63..62) with I, M, A, F, D, C, S, U.
MISA = -(1 << 63) | (1 << 8) | (1 << 12) | (1 << 0) | (1 << 5) | (1 << 3) | (1 << 2) | (1 << 18) | (1 << 20)

# CSR numbers.
SSTATUS, SSCRATCH, SEPC, SCAUSE, STVAL, SATP = 0x100, 0x140, 0x141, 0x142, 0x143, 0x180
MSTATUS, MISA_CSR, MSCRATCH, MEPC, MCAUSE, MTVAL = 0x300, 0x301, 0x340, 0x341, 0x342, 0x343
MHARTID = 0xF14
#: The CSRs the lifter gives csr_sys ops (any other privileged CSR is Python's at once).
KERNEL_CSRS = (SSTATUS, SSCRATCH, SEPC, SCAUSE, STVAL, SATP, MSTATUS, MISA_CSR, MSCRATCH, MEPC, MCAUSE, MTVAL,
               MHARTID)  # fmt: skip

# csr_sys outcomes.
CSR_DONE = 0
CSR_DONE_EXIT = 1  # done; return to Python after the instruction
CSR_PYTHON = 2  # nothing done: Python performs the instruction

#: No translation (M mode, or satp Bare).
MMU_NONE = -1


def mmu_index(priv, mstatus, satp, access):
    """The MMU index an access uses (MMU_NONE when it is not translated). Loads and stores of M
    mode with mstatus.MPRV use the mode in MPP."""
    if access != ACCESS_FETCH and priv == PRV_M and (mstatus & MPRV) != 0:
        priv = (mstatus & MPP) >> MPP_SHIFT
    if priv == PRV_M or ((satp >> 60) & 0xF) == 0:
        return MMU_NONE
    if priv == PRV_U:
        return MMU_U
    return MMU_S_SUM if (mstatus & SUM) != 0 else MMU_S


def mmu_word(priv, mstatus, satp, access):
    """What MMU_FETCH/LOAD/STORE hold for `access`: its TLB set's state index, or 0."""
    mmu = mmu_index(priv, mstatus, satp, access)
    return 0 if mmu == MMU_NONE else tlb_set(access, mmu)


def status_with_sd(status):
    """mstatus as read: the kernels do not track FP register writes, so FP state that is on
    reads as Dirty (the spec allows setting Dirty conservatively) and a kernel always saves it."""
    return status | FS | SD if (status & FS) != 0 else status


def status_written(old, csr, value):
    """mstatus after a write of `value` to mstatus or sstatus (csr); a reserved MPP (2) keeps
    the old mode."""
    if csr == MSTATUS:
        if ((value & MPP) >> MPP_SHIFT) == 2:
            value = (value & ~MPP) | (old & MPP)
        writable = MSTATUS_WRITABLE
    else:
        writable = SSTATUS_MASK & MSTATUS_WRITABLE
    return (old & ~writable) | (value & writable)


def _word_of(csr):
    """The state index of a CSR kept whole in one word, or -1 (ir.state keeps sscratch..stval
    and mscratch..mtval in CSR number order)."""
    if SSCRATCH <= csr <= STVAL:
        return CSR_SSCRATCH + (csr - SSCRATCH)
    if MSCRATCH <= csr <= MTVAL:
        return CSR_MSCRATCH + (csr - MSCRATCH)
    return -1


def _write_status(state, csr, value):
    old = state[CSR_MSTATUS]
    new = status_written(old, csr, value)
    changed = old ^ new
    if changed & MXR:
        return CSR_PYTHON  # what loads may read changes: Python flushes the TLB
    state[CSR_MSTATUS] = new
    outcome = CSR_DONE
    if changed & (SUM | MPRV | MPP):
        priv, satp = state[PRIV], state[MMU_SATP]
        for word, access in ((MMU_FETCH, ACCESS_FETCH), (MMU_LOAD, ACCESS_LOAD), (MMU_STORE, ACCESS_STORE)):
            set_base = mmu_word(priv, new, satp, access)
            if (set_base == 0) != (state[word] == 0):
                outcome = CSR_DONE_EXIT  # translation turns on or off: the dispatcher starts afresh
            state[word] = set_base
    if (new & ~old & (SIE | MIE)) != 0 and state[IRQ_PENDING] != 0:
        outcome = CSR_DONE_EXIT  # Python takes the interrupt now enabled, if it is
    return outcome


def csr_sys(state, csr, mode, src):
    """A csrrw/csrrs/csrrc (mode: ir.ops CSR_MODE_*) of `csr` with operand `src`, done here if
    it can be: returns (outcome, old value) with outcome CSR_DONE, CSR_DONE_EXIT or CSR_PYTHON."""
    priv = state[PRIV]
    writes = mode != CSR_MODE_READ
    if priv < ((csr >> 8) & 3) or (writes and (csr >> 10) == 3):
        return CSR_PYTHON, 0
    index = _word_of(csr)
    if csr == SSTATUS:
        old = status_with_sd(state[CSR_MSTATUS]) & SSTATUS_MASK
    elif csr == MSTATUS:
        old = status_with_sd(state[CSR_MSTATUS])
    elif csr in (SATP, MISA_CSR):
        if writes or (csr == SATP and priv == PRV_S and (state[CSR_MSTATUS] & TVM) != 0):
            return CSR_PYTHON, 0
        return CSR_DONE, state[MMU_SATP] if csr == SATP else MISA
    elif csr == MHARTID:
        return CSR_DONE, state[CSR_MHARTID]
    elif index >= 0:
        old = state[index]
    else:
        return CSR_PYTHON, 0
    if not writes:
        return CSR_DONE, old
    new = src if mode == CSR_MODE_WRITE else (old | src if mode == CSR_MODE_SET else old & ~src)
    if index < 0:
        return _write_status(state, csr, new), old
    if csr in (SEPC, MEPC):
        new &= ~1
    state[index] = new
    return CSR_DONE, old


def sfence_vma(state, vaddr, asid, by_vaddr, by_asid):
    """sfence.vma (rs1 the address if by_vaddr, rs2 the ASID if by_asid), done here if it can
    be: True; False when Python must do it (U mode, or S mode under mstatus.TVM: the illegal
    instruction; or it may drop blocks straddling two pages, which Python does: SFENCE_PYTHON)."""
    priv = state[PRIV]
    if priv == PRV_U or (priv == PRV_S and (state[CSR_MSTATUS] & TVM) != 0):
        return False
    leaves = state[SFENCE_PYTHON]
    if leaves != 0:
        if leaves < 0 or not by_vaddr:
            return False
        for slot in range(leaves):
            word = STRADDLE_LEAVES + 2 * slot
            if (vaddr & state[word]) == state[word + 1]:
                return False
    tlb_flush(state, vaddr, asid & 0xFFFF, by_vaddr, by_asid)
    state[TLB_FLUSHES] += 1
    return True
