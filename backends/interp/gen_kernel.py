"""Generates the interpreter kernel `_kernel.py` from the IR op table:
`python -m dbt.backends.interp.gen_kernel` (a test regenerates it and fails on any difference).

Each op becomes one case of the dispatch in a nopython loop; the case is the op's shape
template (operand reads, memory checks, exits) around a call of its semantics function from
`dbt.ir.semantics`, so the arithmetic is written once. The generated source embeds a hash of
the IR modules it depends on, so a change there also changes the kernel file and with it
Numba's on-disk cache key.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

from dbt.ir import ops as ir_ops
from dbt.ir.ops import OPS, OpDef, Shape

OUTPUT = Path(__file__).with_name("_kernel.py")
HASH_OUTPUT = Path(__file__).with_name("_hash.py")
IR_DIR = Path(ir_ops.__file__).parent
#: IR modules whose code ends up inside the kernel.
DEPENDENCIES = (
    "ops.py",
    "semantics.py",
    "pagewalk.py",
    "csrfile.py",
    "softfloat.py",
    "hostfloat.py",
    "hostops.py",
    "state.py",
    "builder.py",
)

# Exit sequence for an op that leaves the kernel at its own pc (the instruction did not retire).
_EXIT_AT_OP = """state[PC] = (code[i, 2] << PC_SIGN_SHIFT) >> PC_SIGN_SHIFT
state[INSTRET] = instret + (code[i, 2] >> PC_BITS)
state[EXIT_OP] = i
return {reason}"""


# Exit sequence after a CSR instruction (4 bytes) that retired: Python goes on at the next one.
_EXIT_AFTER_CSR = """state[PC] = ((code[i, 2] << PC_SIGN_SHIFT) >> PC_SIGN_SHIFT) + 4
state[INSTRET] = instret + (code[i, 2] >> PC_BITS) + 1
return EXIT_SLICE"""


def _exit(reason: str, kind: str | None = None) -> str:
    text = _EXIT_AT_OP.format(reason=reason)
    if kind:
        text = f"state[FAULT_KIND] = {kind}\n" + text
    return text


def _fault(kind: str) -> str:
    return "state[FAULT_ADDR] = addr\n" + _exit("EXIT_FAULT", kind)


def _checked(need: str, size: int, kind: str, aligned: bool = False) -> str:
    """Check the access of `size` bytes at `addr` (virtual in system mode under translation:
    translated first, through the TLB set of loads or stores) and fault when it is not allowed."""
    lines = []
    if aligned:
        lines.append(f"if addr & {size - 1}:")
        lines.append(_indent(_fault("FAULT_MISALIGNED"), 1))
    tlb = "MMU_LOAD" if need == "PERM_R" else "MMU_STORE"
    miss = "FAULT_TLB_LOAD" if need == "PERM_R" else "FAULT_TLB_STORE"
    lines.append(f"tlb = state[{tlb}]")
    lines.append("if tlb != 0:")
    lines.append(f"    paddr = sem.tlb_translate(state, mem, perm, tlb, addr, {size})")
    lines.append("    if paddr < 0:")
    lines.append(_indent(_fault(miss), 2))
    lines.append("    addr = paddr")
    lines.append(f"if not sem.mem_ok(perm, addr, {size}, {need}):")
    lines.append(_indent(_fault(kind), 1))
    return "\n".join(lines)


def _rm() -> str:
    return "rm = (w >> 48) & 0xFFFF\nif rm == RM_DYN:\n    rm = state[FRM]\nif rm > 4:\n" + _indent(
        _exit("EXIT_TRAP", "TRAP_ILLEGAL"), 1
    )


def _fp_result(call: str) -> str:
    return f"r, fl = {call}\nregs[rd] = r\nif fl:\n    state[FFLAGS] |= fl"


def case_body(op: OpDef) -> str:
    """The Python statements of one op's case (no indentation)."""
    s = f"sem.{op.sem}"
    shape = op.shape
    if shape is Shape.ALU_RR:
        return f"regs[rd] = {s}(regs[rs1], regs[rs2])"
    if shape is Shape.ALU_RI:
        return f"regs[rd] = {s}(regs[rs1], code[i, 1])"
    if shape is Shape.ALU_R:
        return f"regs[rd] = {s}(regs[rs1])"
    if shape is Shape.LI:
        return "regs[rd] = code[i, 1]"
    if shape is Shape.LOAD:
        return (
            "addr = regs[rs1] + code[i, 1]\n"
            + _checked("PERM_R", op.size, "FAULT_LOAD")
            + (f"\nregs[rd] = {s}(mem, addr)")
        )
    if shape is Shape.STORE:
        return (
            "addr = regs[rs1] + code[i, 1]\n"
            + _checked("PERM_W", op.size, "FAULT_STORE")
            + (f"\n{s}(mem, addr, regs[rs2])")
        )
    if shape is Shape.BRANCH:
        return f"pc = code[i, 1] if {s}(regs[rs1], regs[rs2]) else code[i, 3]\nbreak"
    if shape is Shape.JAL:
        return "regs[rd] = code[i, 3]\npc = code[i, 1]\nbreak"
    if shape is Shape.JALR:
        return "pc = (regs[rs1] + code[i, 1]) & -2\nregs[rd] = code[i, 3]\nbreak"
    if shape is Shape.SYSCALL:
        return _exit("EXIT_SYSCALL")
    if shape is Shape.TRAP:
        return _exit("EXIT_TRAP", "(w >> 48) & 0xFFFF")
    if shape is Shape.FENCE_I:
        return _exit("EXIT_FENCE_I")
    if shape is Shape.SFENCE:
        # The block ends: the next pc's fetch is translated afresh.
        return (
            f"if not {s}(state, regs[rs1], regs[rs2], rs1 != 0, rs2 != 0):\n"
            + _indent(_exit("EXIT_TRAP", "TRAP_ILLEGAL"), 1)
            + "\npc = code[i, 3]\nbreak"
        )
    if shape is Shape.CSR_EXIT:
        return (
            f"done, value = {s}(state, (w >> 48) & 0xFFFF)\n"
            + "if not done:\n"
            + _indent(_exit("EXIT_CSR"), 1)
            + "\nregs[rd] = value\npc = code[i, 3]\nbreak"
        )
    if shape is Shape.CSR_R:
        return f"regs[rd] = {s}(state, (w >> 48) & 0xFFFF, regs[rs1], code[i, 1], FFLAGS, FRM)"
    if shape is Shape.CSR_I:
        return f"regs[rd] = {s}(state, (w >> 48) & 0xFFFF, code[i, 3], code[i, 1], FFLAGS, FRM)"
    if shape in (Shape.CSR_SYS_R, Shape.CSR_SYS_I):
        src = "regs[rs1]" if shape is Shape.CSR_SYS_R else "code[i, 3]"
        return (
            f"outcome, old = {s}(state, (w >> 48) & 0xFFFF, code[i, 1], {src})\n"
            + "if outcome == CSR_PYTHON:\n"
            + _indent(_exit("EXIT_TRAP", "TRAP_ILLEGAL"), 1)
            + "\nregs[rd] = old\nif outcome == CSR_DONE_EXIT:\n"
            + _indent(_EXIT_AFTER_CSR, 1)
        )
    if shape is Shape.AMO:
        return (
            "addr = regs[rs1]\n"
            + _checked("PERM_RW", op.size, "FAULT_STORE", aligned=True)
            + f"\nold = sem.load_sized(mem, addr, {op.size})"
            # Atomic across guest threads: retry until no other thread wrote in between.
            + "\nwhile True:"
            + f"\n    seen = sem.cas_sized(mem, addr, old, {s}(old, regs[rs2], {op.size}), {op.size})"
            + "\n    if seen == old:\n        break\n    old = seen"
            + "\nregs[rd] = old"
        )
    if shape is Shape.AMO_CAS:
        return (
            "addr = regs[rs1]\n"
            + _checked("PERM_RW", op.size, "FAULT_STORE", aligned=True)
            + f"\nregs[rd] = sem.cas_sized(mem, addr, regs[(w >> 40) & 0xFF], regs[rs2], {op.size})"
        )
    if shape is Shape.AMO_CAS_Q:
        # Pairs: (rd, dest_hi), (rs2, src_hi), (rs3, cmp_hi); x0 pairs are (SINK, SINK) or (0, 0).
        return (
            "addr = regs[rs1]\n"
            + _checked("PERM_RW", 16, "FAULT_STORE", aligned=True)
            + "\npairs = code[i, 1]"
            + "\nlo, hi = hostops.cas_128(mem, addr, regs[(w >> 40) & 0xFF], regs[(pairs >> 8) & 0xFF],"
            + " regs[rs2], regs[(pairs >> 16) & 0xFF])"
            + "\nregs[rd] = lo\nregs[pairs & 0xFF] = hi"
        )
    if shape is Shape.LR:
        # The reservation is of the (virtual) address, as QEMU's.
        return (
            "addr = regs[rs1]\nreserved = addr\n"
            + _checked("PERM_R", op.size, "FAULT_LOAD", aligned=True)
            + f"\nold = sem.load_sized(mem, addr, {op.size})"
            + "\nstate[RESERVATION] = reserved\nstate[RESERVED_VALUE] = old\nregs[rd] = old"
        )
    if shape is Shape.SC:
        # Without a reservation of addr the SC fails without touching memory, so it cannot
        # fault (as QEMU); with one, a compare-and-swap on the value LR read: atomic across threads.
        return (
            "addr = regs[rs1]\nif state[RESERVATION] != addr:\n    regs[rd] = 1\nelse:\n"
            + _indent(_checked("PERM_W", op.size, "FAULT_STORE", aligned=True), 1)
            + "\n    if sem.cas_sized(mem, addr, state[RESERVED_VALUE],"
            + f" regs[rs2], {op.size}) == state[RESERVED_VALUE]:"
            + "\n        regs[rd] = 0\n    else:\n        regs[rd] = 1\nstate[RESERVATION] = -1"
        )
    if shape is Shape.FP_RR_RM:
        return _rm() + "\n" + _fp_result(f"{s}(regs[rs1], regs[rs2], rm)")
    if shape is Shape.FP_R_RM:
        return _rm() + "\n" + _fp_result(f"{s}(regs[rs1], rm)")
    if shape is Shape.FP_RRR_RM:
        return _rm() + "\n" + _fp_result(f"{s}(regs[rs1], regs[rs2], regs[(w >> 40) & 0xFF], rm)")
    if shape is Shape.FP_RR:
        return _fp_result(f"{s}(regs[rs1], regs[rs2])")
    if shape is Shape.FP_R:
        return _fp_result(f"{s}(regs[rs1])")
    if shape is Shape.FENCE:
        return "sem.fence((w >> 48) & 1)"
    raise AssertionError(f"no template for {shape}")


def _indent(text: str, levels: int) -> str:
    pad = "    " * levels
    return "\n".join(pad + line if line else line for line in text.splitlines())


def dependency_hash() -> str:
    digest = hashlib.sha256()
    for name in DEPENDENCIES:
        digest.update((IR_DIR / name).read_bytes())
    digest.update(Path(__file__).read_bytes())
    return digest.hexdigest()[:16]


HEADER = '''"""The interpreter kernel. GENERATED by dbt.backends.interp.gen_kernel from the IR op table
(dbt.ir.ops) and the op semantics (dbt.ir.semantics): do not edit, regenerate.
"""

# ruff: noqa: E501
from numba import njit

from dbt.ir import hostops
from dbt.ir import semantics as sem
from dbt.ir.csrfile import CSR_DONE_EXIT, CSR_PYTHON
from dbt.ir.state import (
    BLK_HEAT,
    BLK_INSNS,
    BLK_JIT,
    BLK_PHYS,
    BLK_START,
    EXIT_CSR,
    EXIT_FAULT,
    EXIT_FENCE_I,
    EXIT_HOT,
    EXIT_INTERPRET,
    EXIT_MISS,
    EXIT_OP,
    EXIT_SLICE,
    EXIT_SYSCALL,
    EXIT_TRAP,
    FAULT_ADDR,
    FAULT_KIND,
    FAULT_LOAD,
    FAULT_MISALIGNED,
    FAULT_STORE,
    FAULT_TLB_LOAD,
    FAULT_TLB_STORE,
    FFLAGS,
    FRM,
    IC_SITE,
    INSTRET,
    JIT_EPOCH,
    JIT_INSNS,
    JIT_THRESHOLD,
    MMU_FETCH,
    MMU_LOAD,
    MMU_STORE,
    PC,
    PC_BITS,
    PC_SIGN_SHIFT,
    PERM_R,
    PERM_W,
    REGION_CALLS,
    RESERVATION,
    RESERVED_VALUE,
    RM_DYN,
    SLICE_END,
    TIME_CYCLES,
    TRAP_ILLEGAL,
)

PERM_RW = PERM_R | PERM_W


@njit(nogil=True, error_model="numpy")
def run(regs, state, mem, perm, code, blocks, ht_keys, ht_vals):
    """Run decoded blocks from state[PC] until an exit; returns the EXIT_* reason."""
    pc = state[PC]
    instret = state[INSTRET]
    hmask = ht_keys.shape[0] - 1
    interpret_at = -1
    # System mode under translation (fixed for the call: a mode or satp change exits): blocks
    # are found by virtual and physical pc, so a region (all of whose blocks lie in its entry's
    # page in system mode) is entered only where its code is mapped.
    fetch_tlb = state[MMU_FETCH]
    # The cycle count that goes with the clock Python read as it called (sem.csr_counter).
    state[TIME_CYCLES] = hostops.cycle_counter()
    while True:
        # Read afresh: another thread lowers it to bring this one back to Python (a signal).
        if instret >= hostops.load_shared_i64(state, SLICE_END):
            state[PC] = pc
            state[INSTRET] = instret
            return EXIT_SLICE
        ppc = pc
        if fetch_tlb != 0:
            ppc = sem.tlb_translate(state, mem, perm, fetch_tlb, pc, 1)
            if ppc < 0:
                state[PC] = pc
                state[INSTRET] = instret
                return EXIT_MISS
        slot = sem.block_slot(pc, hmask)
        while True:
            key = ht_keys[slot]
            if key == pc and blocks[ht_vals[slot], BLK_PHYS] == ppc:
                break
            if key == -1:
                state[PC] = pc
                state[INSTRET] = instret
                return EXIT_MISS
            slot = (slot + 1) & hmask
        b = ht_vals[slot]
        region = blocks[b, BLK_JIT]
        if pc == interpret_at:
            # A region left here for the interpreter (EXIT_INTERPRET): interpret this block once.
            interpret_at = -1
            region = 0
        site = state[IC_SITE]
        if site != 0:
            # The region that just left asks for the code at pc: if compiled, cache it at that
            # exit, so the exit calls it directly next time (while the epoch holds).
            state[IC_SITE] = 0
            if region != 0:
                hostops.poke_i64(site, 0, pc)
                hostops.poke_i64(site, 1, region)
                hostops.poke_i64(site, 2, state[JIT_EPOCH])
        if region != 0:
            # Compiled code: it runs until it leaves its region, then the lookup goes on here.
            state[PC] = pc  # the region checks it is the one for pc (see codegen)
            state[INSTRET] = instret
            state[REGION_CALLS] += 1
            reason = hostops.call_region(region, regs, state, mem, perm)
            state[JIT_INSNS] += state[INSTRET] - instret
            if reason == EXIT_INTERPRET:
                interpret_at = state[PC]
            elif reason != 0:
                return reason
            pc = state[PC]
            instret = state[INSTRET]
            continue
        heat = blocks[b, BLK_HEAT] + 1
        blocks[b, BLK_HEAT] = heat
        if heat == state[JIT_THRESHOLD]:
            state[PC] = pc
            state[INSTRET] = instret
            state[EXIT_OP] = b
            return EXIT_HOT
        i = blocks[b, BLK_START]
        while True:
            w = code[i, 0]
            op = w & 0xFFFF
            rd = (w >> 16) & 0xFF
            rs1 = (w >> 24) & 0xFF
            rs2 = (w >> 32) & 0xFF
'''

FOOTER = """            i += 1
        instret += blocks[b, BLK_INSNS]
"""


HASH_FILE = '''"""Hash of the IR sources the interpreter kernel was generated from. GENERATED by
dbt.backends.interp.gen_kernel: do not edit. Kept apart from _kernel.py so reading it needs no Numba.
"""

SOURCE_HASH = "{hash}"
'''


def generate_hash() -> str:
    return HASH_FILE.replace("{hash}", dependency_hash())


def generate() -> str:
    out = [HEADER]
    for number, op in enumerate(OPS):
        keyword = "if" if number == 0 else "elif"
        out.append(f"            {keyword} op == {number}:  # {op.name}\n")
        out.append(_indent(case_body(op), 4) + "\n")
    out.append(FOOTER)
    return "".join(out)


def main() -> int:
    outputs = {OUTPUT: generate(), HASH_OUTPUT: generate_hash()}
    if "--check" in sys.argv:
        return 0 if all(path.exists() and path.read_text() == text for path, text in outputs.items()) else 1
    for path, text in outputs.items():
        path.write_text(text)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
