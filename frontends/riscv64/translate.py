"""The translator loop: decode guest instructions from a pc and lift them into one IR block.

A block ends after a control-transfer or trapping instruction, before an instruction that
cannot be fetched, or at the size cap. An undecodable instruction becomes an illegal-instruction
trap op at its position, so it faults only if execution reaches it. Stage: frontend; guest
memory is reached only through the `fetch` callback the runtime passes in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Set

from dbt.frontends.riscv64.decoder import Insn, decode, insn_size
from dbt.frontends.riscv64.lift import LIFTERS
from dbt.ir.builder import Block, BlockBuilder
from dbt.ir.state import SINK, TRAP_ILLEGAL

log = logging.getLogger("dbt.decode")

#: fetch(pc, size) -> up to `size` bytes of executable memory starting at pc (fewer, or none, where
#: executable memory ends).
Fetch = Callable[[int, int], bytes]


class FetchFault(Exception):
    """The first instruction of a block cannot be fetched (the runtime raises SIGSEGV)."""

    def __init__(self, pc: int) -> None:
        super().__init__(f"instruction fetch fault at {pc:#x}")
        self.pc = pc


def translate_block(fetch: Fetch, pc: int, max_insns: int, rows: Set[str] | None = None) -> Block:
    """Decode and lift the block starting at pc.

    `rows` names the table rows the CPU model decodes (cpu.CpuModel.rows); any other instruction
    is illegal. None decodes every row.
    """
    b = BlockBuilder(pc)
    cur = pc
    code = fetch(pc, 4 * max_insns)
    end = len(code)
    offset = 0
    while b.insn_index + 1 < max_insns:
        if offset + 2 > end:
            break
        low = code[offset] | code[offset + 1] << 8
        size = insn_size(low)
        if size == 4:
            if offset + 4 > end:
                break
            word = low | code[offset + 2] << 16 | code[offset + 3] << 24
        else:
            word = low
        insn = decode(word) if size else None
        b.begin_insn(cur, size or 2)
        if insn is None or (rows is not None and insn.row not in rows) or not LIFTERS[insn.name](b, insn):
            log.debug("illegal instruction %#x at %#x", word, cur)
            b.emit("trap", aux=TRAP_ILLEGAL)
            break
        cur += insn.size
        offset += insn.size
        if b.ended:
            break
    if b.insn_index < 0:
        raise FetchFault(pc)
    if not b.ended:
        # Cut at the size cap or before an unfetchable instruction: continue at the next pc.
        b.emit("jal", rd=SINK, imm=cur)
    return b.finish(cur)


def decode_at(fetch: Fetch, pc: int) -> Insn | None:
    """Decode the single instruction at pc (for tools and tests)."""
    code = fetch(pc, 4)
    if len(code) < 2:
        return None
    size = insn_size(code[0] | code[1] << 8)
    if size == 0 or len(code) < size:
        return None
    return decode(int.from_bytes(code[:size], "little"))
