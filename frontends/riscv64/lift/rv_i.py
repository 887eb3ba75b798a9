"""RV64I (with Zifencei): integer base instructions."""

from __future__ import annotations

from dbt.frontends.riscv64.decoder import Insn
from dbt.frontends.riscv64.lift.common import ri, rr, xd
from dbt.ir.builder import BlockBuilder
from dbt.ir.state import TRAP_BREAKPOINT

#: How many times a lifter asked for its instruction's pc. Lifters read the pc only through
#: pc_of: the translator reuses the ops of an instruction word that did not (translate.py).
pc_reads = 0


def pc_of(b: BlockBuilder, i: Insn) -> int:
    global pc_reads
    pc_reads += 1
    return b.spans[-1][0]


def lift_lui(b: BlockBuilder, i: Insn) -> bool:
    b.emit("li", rd=xd(i.rd), imm=i.imm)
    return True


def lift_auipc(b: BlockBuilder, i: Insn) -> bool:
    b.emit("li", rd=xd(i.rd), imm=pc_of(b, i) + i.imm)
    return True


def lift_jal(b: BlockBuilder, i: Insn) -> bool:
    pc = pc_of(b, i)
    b.emit("jal", rd=xd(i.rd), imm=pc + i.imm, extra=pc + i.size)
    return True


def lift_jalr(b: BlockBuilder, i: Insn) -> bool:
    b.emit("jalr", rd=xd(i.rd), rs1=i.rs1, imm=i.imm, extra=pc_of(b, i) + i.size)
    return True


def _branch(b: BlockBuilder, op: str, i: Insn) -> bool:
    pc = pc_of(b, i)
    b.emit(op, rs1=i.rs1, rs2=i.rs2, imm=pc + i.imm, extra=pc + i.size)
    return True


def lift_beq(b: BlockBuilder, i: Insn) -> bool:
    return _branch(b, "beq", i)


def lift_bne(b: BlockBuilder, i: Insn) -> bool:
    return _branch(b, "bne", i)


def lift_blt(b: BlockBuilder, i: Insn) -> bool:
    return _branch(b, "blt", i)


def lift_bge(b: BlockBuilder, i: Insn) -> bool:
    return _branch(b, "bge", i)


def lift_bltu(b: BlockBuilder, i: Insn) -> bool:
    return _branch(b, "bltu", i)


def lift_bgeu(b: BlockBuilder, i: Insn) -> bool:
    return _branch(b, "bgeu", i)


def _load(b: BlockBuilder, op: str, i: Insn) -> bool:
    b.emit(op, rd=xd(i.rd), rs1=i.rs1, imm=i.imm)
    return True


def lift_lb(b: BlockBuilder, i: Insn) -> bool:
    return _load(b, "lb", i)


def lift_lh(b: BlockBuilder, i: Insn) -> bool:
    return _load(b, "lh", i)


def lift_lw(b: BlockBuilder, i: Insn) -> bool:
    return _load(b, "lw", i)


def lift_ld(b: BlockBuilder, i: Insn) -> bool:
    return _load(b, "ld", i)


def lift_lbu(b: BlockBuilder, i: Insn) -> bool:
    return _load(b, "lbu", i)


def lift_lhu(b: BlockBuilder, i: Insn) -> bool:
    return _load(b, "lhu", i)


def lift_lwu(b: BlockBuilder, i: Insn) -> bool:
    return _load(b, "lwu", i)


def _store(b: BlockBuilder, op: str, i: Insn) -> bool:
    b.emit(op, rs1=i.rs1, rs2=i.rs2, imm=i.imm)
    return True


def lift_sb(b: BlockBuilder, i: Insn) -> bool:
    return _store(b, "sb", i)


def lift_sh(b: BlockBuilder, i: Insn) -> bool:
    return _store(b, "sh", i)


def lift_sw(b: BlockBuilder, i: Insn) -> bool:
    return _store(b, "sw", i)


def lift_sd(b: BlockBuilder, i: Insn) -> bool:
    return _store(b, "sd", i)


def lift_addi(b: BlockBuilder, i: Insn) -> bool:
    return ri(b, "add_i", i)


def lift_slti(b: BlockBuilder, i: Insn) -> bool:
    return ri(b, "slt_i", i)


def lift_sltiu(b: BlockBuilder, i: Insn) -> bool:
    return ri(b, "sltu_i", i)


def lift_xori(b: BlockBuilder, i: Insn) -> bool:
    return ri(b, "xor_i", i)


def lift_ori(b: BlockBuilder, i: Insn) -> bool:
    return ri(b, "or_i", i)


def lift_andi(b: BlockBuilder, i: Insn) -> bool:
    return ri(b, "and_i", i)


def lift_slli(b: BlockBuilder, i: Insn) -> bool:
    return ri(b, "sll_i", i)


def lift_srli(b: BlockBuilder, i: Insn) -> bool:
    return ri(b, "srl_i", i)


def lift_srai(b: BlockBuilder, i: Insn) -> bool:
    return ri(b, "sra_i", i)


def lift_addiw(b: BlockBuilder, i: Insn) -> bool:
    return ri(b, "addw_i", i)


def lift_slliw(b: BlockBuilder, i: Insn) -> bool:
    return ri(b, "sllw_i", i)


def lift_srliw(b: BlockBuilder, i: Insn) -> bool:
    return ri(b, "srlw_i", i)


def lift_sraiw(b: BlockBuilder, i: Insn) -> bool:
    return ri(b, "sraw_i", i)


def lift_add(b: BlockBuilder, i: Insn) -> bool:
    return rr(b, "add", i)


def lift_sub(b: BlockBuilder, i: Insn) -> bool:
    return rr(b, "sub", i)


def lift_sll(b: BlockBuilder, i: Insn) -> bool:
    return rr(b, "sll", i)


def lift_slt(b: BlockBuilder, i: Insn) -> bool:
    return rr(b, "slt", i)


def lift_sltu(b: BlockBuilder, i: Insn) -> bool:
    return rr(b, "sltu", i)


def lift_xor(b: BlockBuilder, i: Insn) -> bool:
    return rr(b, "xor", i)


def lift_srl(b: BlockBuilder, i: Insn) -> bool:
    return rr(b, "srl", i)


def lift_sra(b: BlockBuilder, i: Insn) -> bool:
    return rr(b, "sra", i)


def lift_or(b: BlockBuilder, i: Insn) -> bool:
    return rr(b, "or", i)


def lift_and(b: BlockBuilder, i: Insn) -> bool:
    return rr(b, "and", i)


def lift_addw(b: BlockBuilder, i: Insn) -> bool:
    return rr(b, "addw", i)


def lift_subw(b: BlockBuilder, i: Insn) -> bool:
    return rr(b, "subw", i)


def lift_sllw(b: BlockBuilder, i: Insn) -> bool:
    return rr(b, "sllw", i)


def lift_srlw(b: BlockBuilder, i: Insn) -> bool:
    return rr(b, "srlw", i)


def lift_sraw(b: BlockBuilder, i: Insn) -> bool:
    return rr(b, "sraw", i)


#: fence's predecessor and successor sets: bits I O R W.
_FENCE_R, _FENCE_W = 2, 1


def lift_fence(b: BlockBuilder, i: Insn) -> bool:
    """A barrier between guest threads on host threads; the device bits (I, O) mean nothing in
    user mode. An empty set (the pause hint: fence w,0) orders nothing and costs nothing."""
    pred, succ = (i.raw >> 24) & 0xF, (i.raw >> 20) & 0xF
    if not pred & 3 or not succ & 3:
        return True
    tso = (i.raw >> 28) & 0xF == 0b1000  # fence.tso never orders a store before a later load
    store_then_load = bool(pred & _FENCE_W and succ & _FENCE_R) and not tso
    b.emit("fence", aux=int(store_then_load))
    return True


def lift_fence_i(b: BlockBuilder, i: Insn) -> bool:
    b.emit("fence_i", extra=pc_of(b, i) + i.size)
    return True


def lift_ecall(b: BlockBuilder, i: Insn) -> bool:
    b.emit("ecall")
    return True


def lift_ebreak(b: BlockBuilder, i: Insn) -> bool:
    b.emit("trap", aux=TRAP_BREAKPOINT)
    return True
