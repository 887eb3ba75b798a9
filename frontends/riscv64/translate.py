"""The translator loop: decode guest instructions from a pc and lift them into one IR block.

A block ends after a control-transfer or trapping instruction, before an instruction that
cannot be fetched, or at the size cap. An undecodable instruction becomes an illegal-instruction
trap op at its position, so it faults only if execution reaches it. Stage: frontend; guest
memory is reached only through the `fetch` callback the runtime passes in.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Set
from typing import NamedTuple

from dbt.frontends.riscv64.decoder import Insn, decode, insn_size
from dbt.frontends.riscv64.lift import LIFTERS, rv_i
from dbt.ir.builder import Block, BlockBuilder
from dbt.ir.state import PC_BITS, PC_MASK, SINK, TRAP_ILLEGAL

log = logging.getLogger("dbt.decode")

#: fetch(pc, size) -> up to `size` bytes of executable memory starting at pc (fewer, or none, where
#: executable memory ends).
Fetch = Callable[[int, int], bytes]


class FetchFault(Exception):
    """The first instruction of a block cannot be fetched (the runtime raises SIGSEGV)."""

    def __init__(self, pc: int) -> None:
        super().__init__(f"instruction fetch fault at {pc:#x}")
        self.pc = pc


#: Instruction word -> (its table row, the ops lifted from it without their location word,
#: whether they end the block), for words whose lifter did not read the pc: lifting again
#: costs several times as much as copying these.
_lifted: dict[int, tuple[str, tuple[tuple[int, int, int], ...], bool]] = {}
MAX_LIFTED = 1 << 18  # (a Linux boot has 87,000 distinct words)
#: Held while a lifter runs, so that the count of pc reads it is judged by is its own.
_lifting = threading.Lock()


def translate_block(fetch: Fetch, pc: int, max_insns: int, rows: Set[str] | None = None) -> Block:
    """Decode and lift the block starting at pc.

    `rows` names the table rows the CPU model decodes (cpu.CpuModel.rows); any other instruction
    is illegal. None decodes every row.
    """
    return lift_block(fetch(pc, 4 * max_insns), pc, max_insns, rows).block


class Lifted(NamedTuple):
    block: Block
    #: How many bytes of the code decoding looked at (past block.end_pc when the last
    #: instruction was illegal).
    examined: int
    #: Whether decoding stopped where the code ran out (so the block depends on how much
    #: could be fetched, not only on the bytes it examined).
    fetch_limited: bool


def lift_block(code: bytes, pc: int, max_insns: int, rows: Set[str] | None = None) -> Lifted:
    """Decode and lift the block whose instruction bytes at pc are `code` (as fetched: where
    `code` ends, the next instruction could not be fetched). A pure function of its arguments,
    which depends only on the first `examined` bytes of `code`, and on its length when
    `fetch_limited`."""
    b = BlockBuilder(pc)
    ops = b.ops
    cur = pc
    end = len(code)
    offset = 0
    fetch_limited = False
    while b.insn_index + 1 < max_insns:
        if offset + 2 > end:
            fetch_limited = True
            break
        low = code[offset] | code[offset + 1] << 8
        size = insn_size(low)
        if size == 4:
            if offset + 4 > end:
                fetch_limited = True
                break
            word = low | code[offset + 2] << 16 | code[offset + 3] << 24
        else:
            word = low
        known = _lifted.get(word)
        if known is not None and (rows is None or known[0] in rows):
            b.begin_insn(cur, size)
            location = (cur & PC_MASK) | b.insn_index << PC_BITS
            for word0, imm, extra in known[1]:
                ops.append((word0, imm, location, extra))
            cur += size
            offset += size
            if known[2]:
                b.ended = True
                break
            continue
        insn = decode(word) if size else None
        b.begin_insn(cur, size or 2)
        first_op = len(ops)
        with _lifting:
            reads = rv_i.pc_reads
            if insn is None or (rows is not None and insn.row not in rows) or not LIFTERS[insn.name](b, insn):
                log.debug("illegal instruction %#x at %#x", word, cur)
                b.emit("trap", aux=TRAP_ILLEGAL)
                offset += size or 2  # (looked at, not retired)
                break
            if rv_i.pc_reads == reads:  # the ops depend on the word alone: keep them
                if len(_lifted) >= MAX_LIFTED:
                    _lifted.clear()
                _lifted[word] = (insn.row, tuple((op[0], op[1], op[3]) for op in ops[first_op:]), b.ended)
        cur += insn.size
        offset += insn.size
        if b.ended:
            break
    if b.insn_index < 0:
        raise FetchFault(pc)
    if not b.ended:
        # Cut at the size cap or before an unfetchable instruction: continue at the next pc.
        b.emit("jal", rd=SINK, imm=cur)
    return Lifted(b.finish(cur), offset, fetch_limited)


def decode_at(fetch: Fetch, pc: int) -> Insn | None:
    """Decode the single instruction at pc (for tools and tests)."""
    code = fetch(pc, 4)
    if len(code) < 2:
        return None
    size = insn_size(code[0] | code[1] << 8)
    if size == 0 or len(code) < size:
        return None
    return decode(int.from_bytes(code[:size], "little"))
