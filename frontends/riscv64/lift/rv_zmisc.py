"""May-be-operations (Zimop), cache-block operations (Zicbom, Zicboz) and Zawrs, in user mode.

Prefetches (Zicbop), pause (Zihintpause) and the non-temporal hints (Zihintntl) are encodings
of ori, fence and add with rd = x0: they run as those and need nothing here. c.mop.n expands
to a no-op in the table.
"""

from __future__ import annotations

from dbt.frontends.riscv64.decoder import Insn
from dbt.frontends.riscv64.lift.common import xd
from dbt.ir.builder import BlockBuilder
from dbt.ir.state import CACHE_BLOCK_SIZE, SINK, TMP


def lift_mop_r_n(b: BlockBuilder, i: Insn) -> bool:
    # Not redefined by another extension (dbt has none of Zicfiss): rd <- 0.
    b.emit("li", rd=xd(i.rd), imm=0)
    return True


lift_mop_rr_n = lift_mop_r_n


def _block_address(b: BlockBuilder, i: Insn) -> None:
    """TMP <- rs1 rounded down to its cache block (faults report this address, as QEMU does)."""
    b.emit("and_i", rd=TMP, rs1=i.rs1, imm=-CACHE_BLOCK_SIZE)


def lift_cbo_zero(b: BlockBuilder, i: Insn) -> bool:
    _block_address(b, i)
    b.emit("cbo_zero", rs1=TMP, imm=0)
    return True


def lift_cbo_clean(b: BlockBuilder, i: Insn) -> bool:
    # Nothing to write back in user mode, but a block the guest may not access faults (SIGSEGV).
    _block_address(b, i)
    b.emit("cbo_probe", rd=SINK, rs1=TMP, imm=0)
    return True


lift_cbo_flush = lift_cbo_clean


def lift_cbo_inval(b: BlockBuilder, i: Insn) -> bool:
    # Linux enables cbo.clean/flush (senvcfg.CBCFE) and cbo.zero (CBZE) for user mode but not
    # cbo.inval (CBIE = 0): it is an illegal instruction there.
    return False


def lift_wrs_nto(b: BlockBuilder, i: Insn) -> bool:
    # One hart: no other writer can end the wait, and the spec lets it return at any time.
    return True


lift_wrs_sto = lift_wrs_nto
