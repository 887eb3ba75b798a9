"""Zicsr in user mode: the floating-point CSRs and the read-only counters.

fflags (0x001), frm (0x002) and fcsr (0x003) are read and written inside the kernel; cycle,
time and instret (0xC00-0xC02) exit to Python, which reads the clock (except system mode's
time, once calibrated: see semantics.csr_counter). Any other CSR, or a
write to a read-only counter, is an illegal instruction (as in Linux user mode). System mode's
hot privileged CSRs (ir.csrfile) become csr_sys ops, which the kernels do or hand to Python.
"""

from __future__ import annotations

from dbt.frontends.riscv64.decoder import Insn
from dbt.frontends.riscv64.lift.common import xd
from dbt.frontends.riscv64.lift.rv_i import pc_of
from dbt.ir.builder import BlockBuilder
from dbt.ir.csrfile import KERNEL_CSRS
from dbt.ir.ops import CSR_MODE_CLEAR, CSR_MODE_READ, CSR_MODE_SET, CSR_MODE_WRITE

FP_CSRS = (0x001, 0x002, 0x003)
COUNTER_CSRS = (0xC00, 0xC01, 0xC02)


def _csr(b: BlockBuilder, i: Insn, mode: int, immediate: bool) -> bool:
    # csrrs/csrrc with x0 (or uimm 0) only read: no write side effects, legal on read-only CSRs.
    source = i.imm if immediate else i.rs1
    if mode != CSR_MODE_WRITE and source == 0:
        mode = CSR_MODE_READ
    if i.csr in COUNTER_CSRS:
        if mode != CSR_MODE_READ:
            return False
        b.emit("csr_counter", rd=xd(i.rd), aux=i.csr, extra=pc_of(b, i) + i.size)
        return True
    if i.csr in KERNEL_CSRS:  # system mode's (in user mode, as illegal as any other)
        if immediate:
            b.emit("csr_sys_i", rd=xd(i.rd), aux=i.csr, imm=mode, extra=i.imm)
        else:
            b.emit("csr_sys_r", rd=xd(i.rd), rs1=i.rs1, aux=i.csr, imm=mode)
        return True
    if i.csr not in FP_CSRS:
        return False
    if immediate:
        b.emit("csr_i", rd=xd(i.rd), aux=i.csr, imm=mode, extra=i.imm)
    else:
        b.emit("csr_r", rd=xd(i.rd), rs1=i.rs1, aux=i.csr, imm=mode)
    return True


def lift_csrrw(b: BlockBuilder, i: Insn) -> bool:
    return _csr(b, i, CSR_MODE_WRITE, False)


def lift_csrrs(b: BlockBuilder, i: Insn) -> bool:
    return _csr(b, i, CSR_MODE_SET, False)


def lift_csrrc(b: BlockBuilder, i: Insn) -> bool:
    return _csr(b, i, CSR_MODE_CLEAR, False)


def lift_csrrwi(b: BlockBuilder, i: Insn) -> bool:
    return _csr(b, i, CSR_MODE_WRITE, True)


def lift_csrrsi(b: BlockBuilder, i: Insn) -> bool:
    return _csr(b, i, CSR_MODE_SET, True)


def lift_csrrci(b: BlockBuilder, i: Insn) -> bool:
    return _csr(b, i, CSR_MODE_CLEAR, True)
