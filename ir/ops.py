"""The IR op table: one row per op, the single list every tier is generated from.

Each op names a shape (how operands are read and the result written, and whether it touches
memory or ends a block) and, for most shapes, a semantics function in `dbt.ir.semantics` that
holds the arithmetic. The interpreter kernel (`dbt.backends.interp`) is generated from this
table; the JIT will be too. Stage: IR (knows no ISA and no backend).
"""

from __future__ import annotations

import enum
import keyword
from dataclasses import dataclass

from dbt.ir.state import CACHE_BLOCK_SIZE


class Shape(enum.Enum):
    """How an op's operands are read and its result is written."""

    ALU_RR = "rd <- sem(rs1, rs2)"
    ALU_RI = "rd <- sem(rs1, imm)"
    ALU_R = "rd <- sem(rs1)"
    LI = "rd <- imm"
    LOAD = "rd <- sem(mem, rs1 + imm), checked for read"
    STORE = "sem(mem, rs1 + imm, rs2), checked for write"
    BRANCH = "pc <- imm if sem(rs1, rs2) else extra"
    JAL = "rd <- extra; pc <- imm"
    JALR = "rd <- extra; pc <- (rs1 + imm) & ~1"
    SYSCALL = "exit to the system-call layer"
    TRAP = "exit with a trap kind in aux"
    FENCE_I = "exit so Python drops stale translations"
    CSR_EXIT = "rd <- a counter CSR sem(state, aux=csr), pc <- extra; or exit so Python reads it"
    CSR_R = "rd <- sem(state, aux=csr, rs1, imm=mode)"
    CSR_I = "rd <- sem(state, aux=csr, extra=uimm, imm=mode)"
    CSR_SYS_R = "rd <- privileged CSR sem(state, aux=csr, imm=mode, rs1); or exit for Python to do it"
    CSR_SYS_I = "rd <- privileged CSR sem(state, aux=csr, imm=mode, extra=uimm); or exit for Python to do it"
    AMO = "rd <- old = mem[rs1]; mem[rs1] <- sem(old, rs2), atomically; aligned, checked for read and write"
    AMO_CAS = "rd <- old = mem[rs1]; if old == rs3: mem[rs1] <- rs2 (one host compare-and-swap)"
    AMO_CAS_Q = "128-bit amocas.q on register pairs: lo slots rd, rs2, rs3; hi slots packed in imm"
    LR = "rd <- mem[rs1]; reserve rs1"
    SC = "if reserved: mem[rs1] <- rs2, rd <- 0 else rd <- 1"
    FP_RR_RM = "rd, fflags |= sem(rs1, rs2, rm)"
    FP_R_RM = "rd, fflags |= sem(rs1, rm)"
    FP_RRR_RM = "rd, fflags |= sem(rs1, rs2, rs3, rm)"
    FP_RR = "rd, fflags |= sem(rs1, rs2)"
    FP_R = "rd, fflags |= sem(rs1)"
    FENCE = "host barrier between guest threads: aux 1 full (stores before loads), 0 acquire-release"
    SFENCE = "sfence.vma: sem(state, rs1, rs2) flushes the TLB, pc <- extra; or exit for Python to do it"


# CSR access modes (the imm of csr_r / csr_i ops).
CSR_MODE_WRITE = 0  # csrrw: write src
CSR_MODE_SET = 1  # csrrs: set the bits of src
CSR_MODE_CLEAR = 2  # csrrc: clear the bits of src
CSR_MODE_READ = 3  # csrrs/csrrc with x0 or uimm 0: read only, no write side effects

#: Shapes that end a block: the op after them is never reached in the same block.
BLOCK_END_SHAPES = frozenset(
    {
        Shape.BRANCH, Shape.JAL, Shape.JALR, Shape.SYSCALL, Shape.TRAP, Shape.FENCE_I, Shape.CSR_EXIT,
        Shape.SFENCE,
    }
)  # fmt: skip
#: Shapes that may exit with a memory fault.
MAY_FAULT_SHAPES = frozenset(
    {Shape.LOAD, Shape.STORE, Shape.AMO, Shape.AMO_CAS, Shape.AMO_CAS_Q, Shape.LR, Shape.SC}
)
#: Shapes that read the rounding mode (and may raise an illegal instruction for a bad frm).
RM_SHAPES = frozenset({Shape.FP_RR_RM, Shape.FP_R_RM, Shape.FP_RRR_RM})


@dataclass(frozen=True, slots=True)
class OpDef:
    name: str
    shape: Shape
    #: Name of the semantics function in dbt.ir.semantics ("" for shapes without one).
    sem: str = ""
    #: Access size in bytes for memory shapes.
    size: int = 0

    @property
    def ends_block(self) -> bool:
        return self.shape in BLOCK_END_SHAPES


def _rows() -> list[OpDef]:
    rows: list[OpDef] = []

    def add(name: str, shape: Shape, sem: str = "", size: int = 0) -> None:
        rows.append(OpDef(name, shape, sem, size))

    # Integer ops with a register and an immediate form share one semantics function.
    for name in (
        "add",
        "slt",
        "sltu",
        "xor",
        "or",
        "and",
        "sll",
        "srl",
        "sra",
        "addw",
        "sllw",
        "srlw",
        "sraw",
    ):
        sem = name + "_" if keyword.iskeyword(name) else name
        add(name, Shape.ALU_RR, sem)
        add(name + "_i", Shape.ALU_RI, sem)
    for sem in ("sub", "subw", "mul", "mulh", "mulhsu", "mulhu", "div", "divu", "rem", "remu"):
        add(sem, Shape.ALU_RR, sem)
    for sem in ("mulw", "divw", "divuw", "remw", "remuw"):
        add(sem, Shape.ALU_RR, sem)
    # Bit manipulation (Zba, Zbb, Zbc, Zbs, Zbkb, Zbkx) and Zicond.
    for sem in (
        "sh1add", "sh2add", "sh3add", "add_uw", "sh1add_uw", "sh2add_uw", "sh3add_uw",
        "andn", "orn", "xnor", "max", "maxu", "min", "minu", "rol", "rolw",
        "clmul", "clmulh", "clmulr", "pack", "packh", "packw", "xperm4", "xperm8",
        "czero_eqz", "czero_nez",
    ):  # fmt: skip
        add(sem, Shape.ALU_RR, sem + "_" if sem in ("max", "min") else sem)
    for sem in ("ror", "rorw", "bclr", "bext", "binv", "bset"):
        add(sem, Shape.ALU_RR, sem)
        add(sem + "_i", Shape.ALU_RI, sem)
    add("slli_uw", Shape.ALU_RI, "slli_uw")
    for sem in ("clz", "ctz", "cpop", "clzw", "ctzw", "cpopw", "sext_b", "sext_h", "zext_h", "orc_b",
                "rev8", "brev8"):  # fmt: skip
        add(sem, Shape.ALU_R, sem)
    add("li", Shape.LI)
    add("sext_w", Shape.ALU_R, "sext_w")  # fmv.x.w
    add("box_s", Shape.ALU_R, "box_s")  # fmv.w.x: NaN-box the low 32 bits

    for name, size in (("lb", 1), ("lbu", 1), ("lh", 2), ("lhu", 2), ("lw", 4), ("lwu", 4), ("ld", 8)):
        add(name, Shape.LOAD, "load_" + name, size)
    add("flw", Shape.LOAD, "load_flw", 4)  # lw into a NaN-boxed f register
    for name, size in (("sb", 1), ("sh", 2), ("sw", 4), ("sd", 8)):
        add(name, Shape.STORE, "store_" + name, size)
    add("cbo_zero", Shape.STORE, "store_cbo_zero", CACHE_BLOCK_SIZE)
    add("cbo_probe", Shape.LOAD, "load_cbo_probe", CACHE_BLOCK_SIZE)

    for cond in ("eq", "ne", "lt", "ge", "ltu", "geu"):
        add("b" + cond, Shape.BRANCH, "cond_" + cond)
    add("jal", Shape.JAL)
    add("jalr", Shape.JALR)
    add("ecall", Shape.SYSCALL)
    add("trap", Shape.TRAP)
    add("fence_i", Shape.FENCE_I)
    add("sfence_vma", Shape.SFENCE, "sfence_vma")
    add("csr_counter", Shape.CSR_EXIT, "csr_counter")
    add("csr_r", Shape.CSR_R, "csr_fp")
    add("csr_i", Shape.CSR_I, "csr_fp")
    add("csr_sys_r", Shape.CSR_SYS_R, "csr_sys")
    add("csr_sys_i", Shape.CSR_SYS_I, "csr_sys")

    for width, size in (("w", 4), ("d", 8)):
        for amo in ("swap", "add", "xor", "and", "or", "min", "max", "minu", "maxu"):
            add(f"amo{amo}_{width}", Shape.AMO, f"amo_{amo}", size)
        add(f"lr_{width}", Shape.LR, "", size)
        add(f"sc_{width}", Shape.SC, "", size)
    # Zabha: byte and halfword AMOs; Zacas (and Zabha's) compare-and-swap.
    for width, size in (("b", 1), ("h", 2)):
        for amo in ("swap", "add", "xor", "and", "or", "min", "max", "minu", "maxu"):
            add(f"amo{amo}_{width}", Shape.AMO, f"amo_{amo}", size)
    for width, size in (("b", 1), ("h", 2), ("w", 4), ("d", 8)):
        add(f"amocas_{width}", Shape.AMO_CAS, "", size)
    add("amocas_q", Shape.AMO_CAS_Q, "", 16)

    for p in ("s", "d"):
        for arith in ("add", "sub", "mul", "div"):
            add(f"f{arith}_{p}", Shape.FP_RR_RM, f"f{arith}_{p}")
        add(f"fsqrt_{p}", Shape.FP_R_RM, f"fsqrt_{p}")
        for fma in ("fmadd", "fmsub", "fnmsub", "fnmadd"):
            add(f"{fma}_{p}", Shape.FP_RRR_RM, f"{fma}_{p}")
        for name in ("fmin", "fmax", "feq", "flt", "fle"):
            add(f"{name}_{p}", Shape.FP_RR, f"{name}_{p}")
        for name in ("fsgnj", "fsgnjn", "fsgnjx"):
            add(f"{name}_{p}", Shape.ALU_RR, f"{name}_{p}")
        add(f"fclass_{p}", Shape.ALU_R, f"fclass_{p}")
        for it in ("w", "wu", "l", "lu"):
            add(f"fcvt_{it}_{p}", Shape.FP_R_RM, f"fcvt_{it}_{p}")
            add(f"fcvt_{p}_{it}", Shape.FP_R_RM, f"fcvt_{p}_{it}")
    add("fcvt_s_d", Shape.FP_R_RM, "fcvt_s_d")
    add("fcvt_d_s", Shape.FP_R_RM, "fcvt_d_s")  # exact, but a reserved rm is still illegal
    # Half precision (Zfhmin, Zfh): values NaN-boxed with the upper 48 bits all ones.
    add("box_h", Shape.ALU_R, "box_h")  # fmv.h.x (fmv.x.h is sext_h)
    add("flh", Shape.LOAD, "load_flh", 2)  # lhu into a NaN-boxed f register (fsh is sh)
    for arith in ("add", "sub", "mul", "div"):
        add(f"f{arith}_h", Shape.FP_RR_RM, f"f{arith}_h")
    add("fsqrt_h", Shape.FP_R_RM, "fsqrt_h")
    for fma in ("fmadd", "fmsub", "fnmsub", "fnmadd"):
        add(f"{fma}_h", Shape.FP_RRR_RM, f"{fma}_h")
    for name in ("fmin", "fmax", "feq", "flt", "fle"):
        add(f"{name}_h", Shape.FP_RR, f"{name}_h")
    for name in ("fsgnj", "fsgnjn", "fsgnjx"):
        add(f"{name}_h", Shape.ALU_RR, f"{name}_h")
    add("fclass_h", Shape.ALU_R, "fclass_h")
    for it in ("w", "wu", "l", "lu", "s", "d"):
        add(f"fcvt_{it}_h", Shape.FP_R_RM, f"fcvt_{it}_h")
        add(f"fcvt_h_{it}", Shape.FP_R_RM, f"fcvt_h_{it}")
    # Zfa (fli is a li of the NaN-boxed constant).
    for p in ("h", "s", "d"):
        for name in ("fminm", "fmaxm", "fleq", "fltq"):
            add(f"{name}_{p}", Shape.FP_RR, f"{name}_{p}")
        add(f"fround_{p}", Shape.FP_R_RM, f"fround_{p}")
        add(f"froundnx_{p}", Shape.FP_R_RM, f"froundnx_{p}")
    add("fcvtmod_w_d", Shape.FP_R, "fcvtmod_w_d")  # rm is RTZ in the encoding
    add("fence", Shape.FENCE, "fence")
    return rows


#: The table, in opcode order: an op's number is its index here.
OPS: tuple[OpDef, ...] = tuple(_rows())
#: Op number by name.
OP: dict[str, int] = {op.name: number for number, op in enumerate(OPS)}

assert len(OP) == len(OPS), "duplicate op names"
