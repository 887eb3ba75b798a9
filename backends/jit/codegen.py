"""Region code generation: a region of decoded blocks becomes one LLVM function.

The function takes the guest arrays (registers, state, RAM, page permissions) and returns 0 to
continue at state[PC] (the dispatcher chains to the next region or block) or an EXIT_* reason
with the state set exactly as the interpreter would have left it. Guest registers live in
allocas (promoted to SSA values by LLVM) and go back to the register array at every exit.
Each op is its shape's lowering here around a call of the op's semantics symbol (oplib), so the
arithmetic is the interpreter's; branches to blocks inside the region stay inside the function,
and a budget check on every internal branch target keeps long loops returning to Python.

Stage: backend (knows nothing of frontends or the runtime).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dbt.backends.jit.oplib import LOAD_SIZED, MEM_OK_EXACT, MEM_OK_FAST, SemSymbol, symbol_for
from dbt.ir.ops import OPS, Shape
from dbt.ir.state import (
    CHAINED,
    EXIT_FAULT,
    EXIT_INTERPRET,
    EXIT_TRAP,
    FAULT_ADDR,
    FAULT_KIND,
    FAULT_LOAD,
    FAULT_MISALIGNED,
    FAULT_STORE,
    FFLAGS,
    FRM,
    IC_SITE,
    INSTRET,
    JIT_EPOCH,
    MMU_FETCH,
    MMU_LOAD,
    MMU_STORE,
    PAGE_SIZE,
    PC,
    PC_BITS,
    PERM_R,
    PERM_W,
    RESERVATION,
    RESERVED_VALUE,
    RM_DYN,
    SINK,
    SLICE_END,
    TLB_SETS,
    TLB_VPN_MASK,
    TRAP_ILLEGAL,
    location_pc,
)

#: Shapes a region can hold: everything that does not need Python at the op itself.
REGION_SHAPES = frozenset(Shape) - {
    Shape.SYSCALL, Shape.TRAP, Shape.FENCE_I, Shape.CSR_EXIT, Shape.CSR_SYS_R, Shape.CSR_SYS_I, Shape.SFENCE
}  # fmt: skip
CONTINUE = 0
#: The LLVM type of a region function.
REGION_TYPE = "i64 (i64*, i64*, i8*, i8*, i64)"


@dataclass(frozen=True, slots=True)
class RegionBlock:
    pc: int
    #: Encoded ops (rows of the code array).
    code: np.ndarray
    insns: int


@dataclass
class _Emitter:
    name: str
    blocks: list[RegionBlock]
    #: System mode: loads and stores go through the SoftMMU's TLB when translation is on, and
    #: chained exits check the next pc's translation (see generate).
    system: bool = False
    lines: list[str] = field(default_factory=list)
    symbols: dict[str, SemSymbol] = field(default_factory=dict)
    counter: int = 0
    slots: set[int] = field(default_factory=set)
    written: set[int] = field(default_factory=set)
    #: The label of the block being emitted.
    current: str = "entry"
    #: (from label, instret, pc, exit code, fault address, fault kind, next region, cache site)
    #: of each exit.
    exits: list[tuple[str, str, str, int, str, str, str, str]] = field(default_factory=list)
    #: Inline caches (globals) of the exits that can chain to the next region.
    caches: list[str] = field(default_factory=list)
    #: The current block's shared memory checks (see _plan_checks).
    group_checks: dict[int, GroupCheck] = field(default_factory=dict)
    covered: set[int] = field(default_factory=set)
    #: Helpers the region calls out of line (declared, not linked: see helpers.py).
    helpers: dict[str, SemSymbol] = field(default_factory=dict)
    #: Where the region's calls return (see _return_sites).
    return_sites: list[int] = field(default_factory=list)

    def tmp(self) -> str:
        self.counter += 1
        return f"%t{self.counter}"

    def label(self, hint: str) -> str:
        self.counter += 1
        return f"{hint}{self.counter}"

    def emit(self, text: str) -> None:
        self.lines.append("  " + text)

    def place(self, label: str) -> None:
        self.lines.append(f"{label}:")
        self.current = label

    def use(self, symbol: SemSymbol) -> str:
        self.symbols[symbol.name] = symbol
        return f"@{symbol.name}"

    def call_out(self, symbol: SemSymbol) -> str:
        self.helpers[symbol.name] = symbol
        return f"@{symbol.name}"


def _i64(value: int) -> int:
    value = int(value) & (1 << 64) - 1
    return value - (1 << 64) if value >= 1 << 63 else value


def block_ops(block: RegionBlock):
    """(op, rd, rs1, rs2, rs3, aux, imm, pc, index, extra) of each op of a block."""
    for row in block.code:
        w0, imm, location, extra = (int(x) for x in row)
        w = w0 & (1 << 64) - 1
        yield (
            OPS[w & 0xFFFF], (w >> 16) & 0xFF, (w >> 24) & 0xFF, (w >> 32) & 0xFF, (w >> 40) & 0xFF,
            (w >> 48) & 0xFFFF, imm, location_pc(location), location >> PC_BITS, extra,
        )  # fmt: skip


def region_supported(block: RegionBlock) -> bool:
    return all(op.shape in REGION_SHAPES for op, *_ in block_ops(block))


def generate(name: str, blocks: list[RegionBlock], system: bool = False) -> tuple[str, list[SemSymbol]]:
    """LLVM IR text of a region function named `name` (entry: blocks[0]) and the semantics
    symbols it calls.

    `system`: a region of system mode, which may run under translation. Its blocks all lie in
    its entry's page (the caller sees to that), so the dispatcher's check that the entry's
    virtual pc maps to the physical address it was decoded from covers all of them; its loads
    and stores look the SoftMMU's TLB up (the sets of state[MMU_LOAD] and state[MMU_STORE],
    fixed while it runs: a mode or satp change exits) and leave for the interpreter on a miss
    or an access across pages, which walks or emulates; its exits chain where pc still
    translates to the physical address the inline cache was filled for (_leave_chained)."""
    e = _Emitter(name, blocks, system)
    index = {b.pc: i for i, b in enumerate(blocks)}
    e.return_sites = _return_sites(blocks, index)
    targets = _internal_targets(blocks, index, e.return_sites)
    body: list[str] = []
    e.lines = body
    for i, block in enumerate(blocks):
        _emit_block(e, i, block, index, i in targets)
    _emit_exit(e)
    head = [
        f"define i64 @{name}(i64* noalias %regs, i64* noalias %state, i8* noalias %mem, i8* noalias %perm, "
        "i64 %npages) nounwind {",
        "entry:",
        "  %ir = alloca i64",
        f"  %limitp = getelementptr i64, i64* %state, i64 {SLICE_END}",
        f"  %pcp = getelementptr i64, i64* %state, i64 {PC}",
        f"  %irp = getelementptr i64, i64* %state, i64 {INSTRET}",
        "  %ir0 = load i64, i64* %irp",
        "  store i64 %ir0, i64* %ir",
        f"  %fflags = getelementptr i64, i64* %state, i64 {FFLAGS}",
    ]
    if system:
        for name_, index_ in (("tlb.load", MMU_LOAD), ("tlb.store", MMU_STORE), ("tlb.fetch", MMU_FETCH)):
            head.append(f"  %{name_}.p = getelementptr i64, i64* %state, i64 {index_}")
            head.append(f"  %{name_} = load i64, i64* %{name_}.p")
            head.append(f"  %{name_}.bare = icmp eq i64 %{name_}, 0")
    for slot in sorted(e.slots | e.written):
        head.append(f"  %p{slot} = getelementptr i64, i64* %regs, i64 {slot}")
        head.append(f"  %r{slot} = alloca i64")
        head.append(f"  %v{slot} = load i64, i64* %p{slot}")
        head.append(f"  store i64 %v{slot}, i64* %r{slot}")
    # A chained exit read its inline cache while another thread rewrote it: the region may be
    # called for another pc. It then returns at once and the dispatcher looks the pc up.
    head.append("  %pc0 = load i64, i64* %pcp")
    head.append(f"  %here = icmp eq i64 %pc0, {_i64(blocks[0].pc)}")
    head.append("  br i1 %here, label %b0, label %elsewhere")
    head.append("elsewhere:")
    head.append(f"  ret i64 {CONTINUE}")
    declarations = [_declare(symbol) for symbol in [*e.symbols.values(), *e.helpers.values()]]
    text = "\n".join([*e.caches, *head, *body, "}", *declarations, BRANCH_WEIGHTS, CALL_ATTRIBUTES]) + "\n"
    return text, list(e.symbols.values())


_DECLARATIONS = {
    "alu2": "i64 @{}(i64, i64)",
    "alu1": "i64 @{}(i64)",
    "cond": "i64 @{}(i64, i64)",
    "load": "i64 @{}(i8*, i64)",
    # Numba's cfuncs with no result return a pointer: a call typed void would not match the
    # definition and LLVM would leave it a real call instead of inlining it.
    "store": "i8* @{}(i8*, i64, i64)",
    "lsized": "i64 @{}(i8*, i64)",
    "amo": "i64 @{}(i64, i64)",
    "csr": "i64 @{}(i64*, i64, i64, i64)",
    "memok": "i64 @{}(i8*, i64, i64, i64, i64)",
    "fp3rm": "i64 @{}(i64, i64, i64, i64, i64*)",
    "fp2rm": "i64 @{}(i64, i64, i64, i64*)",
    "fp1rm": "i64 @{}(i64, i64, i64*)",
    "fp2": "i64 @{}(i64, i64, i64*)",
    "fp1": "i64 @{}(i64, i64*)",
}


def _declare(symbol: SemSymbol) -> str:
    return "declare " + _DECLARATIONS[symbol.kind].format(symbol.name)


def _internal_targets(blocks: list[RegionBlock], index: dict[int, int], return_sites: list[int]) -> set[int]:
    targets = {index[pc] for pc in return_sites}
    for block in blocks:
        for op, _rd, _rs1, _rs2, _rs3, _aux, imm, _pc, _idx, extra in block_ops(block):
            if op.shape is Shape.BRANCH:
                targets.update(index[t] for t in (imm, extra) if t in index)
            elif op.shape is Shape.JAL and imm in index:
                targets.add(index[imm])
    return targets


#: At most this many return sites are tested at an indirect jump before it leaves the region.
MAX_RETURN_SITES = 8


def _return_sites(blocks: list[RegionBlock], index: dict[int, int]) -> list[int]:
    """The region's blocks that follow a call (jal or jalr that links) in the region: where its
    returns most likely go. An indirect jump tests its target against these before leaving, so
    a call and its return (recursion, a loop calling a leaf function) stay inside the region."""
    sites = []
    for block in blocks:
        for op, rd, _rs1, _rs2, _rs3, _aux, _imm, _pc, _idx, extra in block_ops(block):
            linked = op.shape in (Shape.JAL, Shape.JALR) and rd not in (0, SINK)
            if linked and extra in index and extra not in sites:
                sites.append(extra)
    return sites[:MAX_RETURN_SITES]


def _read(e: _Emitter, slot: int) -> str:
    if slot == 0:
        return "0"
    e.slots.add(slot)
    value = e.tmp()
    e.emit(f"{value} = load i64, i64* %r{slot}")
    return value


def _write(e: _Emitter, slot: int, value: str) -> None:
    if slot in (0, SINK):
        return
    e.written.add(slot)
    e.emit(f"store i64 {value}, i64* %r{slot}")


def _set_state(e: _Emitter, index: int, value: str) -> None:
    pointer = e.tmp()
    e.emit(f"{pointer} = getelementptr i64, i64* %state, i64 {index}")
    e.emit(f"store i64 {value}, i64* {pointer}")


def _get_state(e: _Emitter, index: int) -> str:
    pointer, value = e.tmp(), e.tmp()
    e.emit(f"{pointer} = getelementptr i64, i64* %state, i64 {index}")
    e.emit(f"{value} = load i64, i64* {pointer}")
    return value


def _leave_unless(e: _Emitter, good: str, pc: int, retired: int, code: int, fault_addr: str = "0",
                  fault_kind: int = 0, ok: str = "") -> None:  # fmt: skip
    """Continue (at `ok`, a new label if empty) if the i1 `good` holds, else exit the region at
    `pc` with `retired` more instructions of the current block done.

    Every exit branches to one shared exit block, which stores what the phis there collect (a
    store sequence per exit would make the region's code several times larger), and the branch
    goes straight there, with no block of its own: code generation time grows with the number
    of basic blocks far more than with the number of instructions (measured: ~50 us per block,
    ~1 us per instruction), and the checks at memory accesses are most of a region's branches."""
    total = _retired(e, retired)
    e.exits.append((e.current, total, str(_i64(pc)), code, fault_addr, str(fault_kind), "0", "0"))
    ok = ok or e.label("ok")
    e.emit(f"br i1 {good}, label %{ok}, label %exit, !prof !0")
    e.place(ok)


def _retired(e: _Emitter, retired: int) -> str:
    count = e.tmp()
    e.emit(f"{count} = load i64, i64* %ir")
    if not retired:
        return count
    total = e.tmp()
    e.emit(f"{total} = add i64 {count}, {retired}")
    return total


def _leave_chained(e: _Emitter, pc: str) -> None:
    """Leave for `pc` through this exit's inline cache: (pc, region, epoch) of the region that
    last followed it. On a hit (same pc, epoch current, budget left) the exit block tail-calls
    that region without returning to the dispatcher; on a miss the exit names its cache in
    state[IC_SITE] and the dispatcher fills it once it has found pc's region.

    In system mode the cache also holds the physical address pc had when it was filled, and a
    hit needs pc to translate there now, through the fetch TLB set (state[MMU_FETCH], fixed
    while the region runs: a mode or satp change or an sfence.vma leaves it), as the
    dispatcher would translate it: the region it found for (pc, physical address) is the one
    it would find now, unless that page's code changed since (JitManager.drop_pages bumps the
    epoch). A miss stores the translation now (or -1: no TLB entry) and clears the cached pc;
    the dispatcher, translating pc the same way next, fills the rest."""
    words = 4 if e.system else 3
    kind = f"[{words} x i64]"
    cache = f"@ic.{len(e.caches)}"
    initial = ", ".join(["i64 -1", "i64 0", "i64 -1", "i64 -1"][:words])  # (pc, region, epoch, phys)
    e.caches.append(f"{cache} = internal global {kind} [{initial}]")

    def word(n: int) -> str:
        return f"getelementptr ({kind}, {kind}* {cache}, i64 0, i64 {n})"

    total = _retired(e, 0)
    cached_pc, region, epoch = e.tmp(), e.tmp(), e.tmp()
    e.emit(f"{cached_pc} = load i64, i64* {word(0)}")
    e.emit(f"{region} = load i64, i64* {word(1)}")
    e.emit(f"{epoch} = load i64, i64* {word(2)}")
    epoch_now = _get_state(e, JIT_EPOCH)
    same_pc, same_epoch, budget, hit, hit2 = e.tmp(), e.tmp(), e.tmp(), e.tmp(), e.tmp()
    e.emit(f"{same_pc} = icmp eq i64 {cached_pc}, {pc}")
    e.emit(f"{same_epoch} = icmp eq i64 {epoch}, {epoch_now}")
    e.emit(f"{budget} = icmp slt i64 {total}, {_limit(e)}")
    e.emit(f"{hit} = and i1 {same_pc}, {same_epoch}")
    e.emit(f"{hit2} = and i1 {hit}, {budget}")
    if e.system:
        phys = _fetch_address(e, pc)
        cached_phys, same_phys, hit3, keep_pc, keep_phys = (e.tmp() for _ in range(5))
        e.emit(f"{cached_phys} = load i64, i64* {word(3)}")
        e.emit(f"{same_phys} = icmp eq i64 {cached_phys}, {phys}")
        e.emit(f"{hit3} = and i1 {hit2}, {same_phys}")
        e.emit(f"{keep_pc} = select i1 {hit3}, i64 {cached_pc}, i64 -1")
        e.emit(f"store i64 {keep_pc}, i64* {word(0)}")
        e.emit(f"{keep_phys} = select i1 {hit3}, i64 {cached_phys}, i64 {phys}")
        e.emit(f"store i64 {keep_phys}, i64* {word(3)}")
        hit2 = hit3
    next_region, site = e.tmp(), e.tmp()
    e.emit(f"{next_region} = select i1 {hit2}, i64 {region}, i64 0")
    e.emit(f"{site} = select i1 {hit2}, i64 0, i64 ptrtoint ({kind}* {cache} to i64)")
    e.exits.append((e.current, total, pc, CONTINUE, "0", "0", next_region, site))
    e.emit("br label %exit")


def _fetch_address(e: _Emitter, pc: str) -> str:
    """pc's physical address through the fetch TLB set, as the dispatcher translates it (pc
    itself with translation off); -1 if the set has no entry for pc's page."""
    vpn, page, index, twice, entry, tag_p, tag, hit = (e.tmp() for _ in range(8))
    e.emit(f"{vpn} = lshr i64 {pc}, 12")
    e.emit(f"{page} = and i64 {vpn}, {TLB_VPN_MASK}")
    e.emit(f"{index} = and i64 {vpn}, {TLB_SETS - 1}")
    e.emit(f"{twice} = shl i64 {index}, 1")
    e.emit(f"{entry} = add i64 %tlb.fetch, {twice}")  # (the set 0: the state's first words)
    e.emit(f"{tag_p} = getelementptr i64, i64* %state, i64 {entry}")
    e.emit(f"{tag} = load i64, i64* {tag_p}")
    e.emit(f"{hit} = icmp eq i64 {tag}, {page}")
    addend_p, addend, mapped, known, physical = (e.tmp() for _ in range(5))
    e.emit(f"{addend_p} = getelementptr i64, i64* {tag_p}, i64 1")
    e.emit(f"{addend} = load i64, i64* {addend_p}")
    e.emit(f"{mapped} = add i64 {pc}, {addend}")
    e.emit(f"{known} = select i1 {hit}, i64 {mapped}, i64 -1")
    e.emit(f"{physical} = select i1 %tlb.fetch.bare, i64 {pc}, i64 {known}")
    return physical


def _emit_exit(e: _Emitter) -> None:
    """The shared exit: instret, pc and (for faults and traps) the fault fields go to the state
    array, the written registers back to the register array; then the next region is
    tail-called (a chained exit that hit its inline cache) or the exit code returned."""
    e.place("exit")
    names = ("instret", "pc", "code", "faddr", "fkind", "next", "site")
    for position, name in enumerate(names, start=1):
        incoming = ", ".join(f"[ {exit_[position]}, %{exit_[0]} ]" for exit_ in e.exits)
        e.emit(f"%x.{name} = phi i64 {incoming}")
    _set_state(e, INSTRET, "%x.instret")
    _set_state(e, PC, "%x.pc")
    _set_state(e, IC_SITE, "%x.site")
    # Stored on every exit (only read after a fault or trap): a branch around them would be
    # one more basic block.
    _set_state(e, FAULT_ADDR, "%x.faddr")
    _set_state(e, FAULT_KIND, "%x.fkind")
    for slot in sorted(e.written):
        value = e.tmp()
        e.emit(f"{value} = load i64, i64* %r{slot}")
        e.emit(f"store i64 {value}, i64* %p{slot}")
    e.emit("%x.chain = icmp ne i64 %x.next, 0")
    e.emit("br i1 %x.chain, label %chain, label %return")
    e.place("chain")
    chained = _get_state(e, CHAINED)
    more = e.tmp()
    e.emit(f"{more} = add i64 {chained}, 1")
    _set_state(e, CHAINED, more)
    e.emit(f"%x.callee = inttoptr i64 %x.next to {REGION_TYPE}*")
    e.emit(
        "%x.result = musttail call i64 %x.callee(i64* %regs, i64* %state, i8* %mem, i8* %perm, i64 %npages)"
    )
    e.emit("ret i64 %x.result")
    e.place("return")
    e.emit("ret i64 %x.code")


def _limit(e: _Emitter) -> str:
    """state[SLICE_END], read afresh at each loop turn and exit: another thread lowers it to
    make this one return to Python at once (a signal for it, a flush)."""
    limit = e.tmp()
    e.emit(f"{limit} = load atomic i64, i64* %limitp monotonic, align 8")
    return limit


def _goto(e: _Emitter, target: int, index: dict[int, int], block_insns: int) -> None:
    """Finish the current block and continue at a constant pc: inside the region or by exiting."""
    count, total = e.tmp(), e.tmp()
    e.emit(f"{count} = load i64, i64* %ir")
    e.emit(f"{total} = add i64 {count}, {block_insns}")
    e.emit(f"store i64 {total}, i64* %ir")
    if target in index:
        e.emit(f"br label %b{index[target]}")
    else:
        _leave_chained(e, str(_i64(target)))


def _emit_block(e: _Emitter, i: int, block: RegionBlock, index: dict[int, int], is_target: bool) -> None:
    e.place(f"b{i}")
    if is_target:
        # A loop inside the region: leave once the instruction budget is spent.
        count, within = e.tmp(), e.tmp()
        e.emit(f"{count} = load i64, i64* %ir")
        e.emit(f"{within} = icmp slt i64 {count}, {_limit(e)}")
        _leave_unless(e, within, block.pc, 0, CONTINUE)
    # (System mode checks each access alone: a group's bytes may lie in two pages.)
    e.group_checks, e.covered = ({}, set()) if e.system else _plan_checks(block)
    for op, rd, rs1, rs2, rs3, aux, imm, pc, insn_index, extra in block_ops(block):
        _emit_op(e, op, rd, rs1, rs2, rs3, aux, imm, pc, insn_index, extra, block, index)


@dataclass(frozen=True, slots=True)
class GroupCheck:
    """One permission check for several loads and stores off the same base register."""

    #: The lowest offset from the base, the bytes from there to the end of the highest access
    #: (at most a page: the range then touches the first and last accesses' pages only).
    low: int
    span: int
    need: int


def _plan_checks(block: RegionBlock) -> tuple[dict[int, GroupCheck], set[int]]:
    """Which loads and stores of a block share one check: ({pc of the first access of each group:
    its check}, {pcs of the accesses it covers}).

    Accesses off one base register that the block does not change between them (a stack frame's
    saves and restores, a structure's fields, an unrolled loop's elements) are checked together
    at the first of them, for the union of their bytes and rights: one branch instead of one per
    access. The union test is exact on the pages the accesses touch but asks the union of the
    rights of each page; when it fails the region leaves for the interpreter at the first access
    (EXIT_INTERPRET), which then checks each access alone, so a fault is still reported at the
    access that makes it, with the state of that instruction.
    """
    checks: dict[int, GroupCheck] = {}
    covered: set[int] = set()
    #: base slot -> [pcs, lowest offset, end of the highest access, rights]
    open_groups: dict[int, list] = {}

    def close(base: int) -> None:
        group = open_groups.pop(base, None)
        if group and len(group[0]) > 1:
            pcs, low, high, need = group
            checks[pcs[0]] = GroupCheck(low, high - low, need)
            covered.update(pcs[1:])

    for op, rd, rs1, _rs2, _rs3, _aux, imm, pc, _idx, _extra in block_ops(block):
        if op.shape in (Shape.LOAD, Shape.STORE):
            offset, need = _i64(imm), PERM_R if op.shape is Shape.LOAD else PERM_W
            group = open_groups.get(rs1)
            if group and max(group[2], offset + op.size) - min(group[1], offset) <= PAGE_SIZE:
                group[0].append(pc)
                group[1], group[2] = min(group[1], offset), max(group[2], offset + op.size)
                group[3] |= need
            else:
                close(rs1)
                open_groups[rs1] = [[pc], offset, offset + op.size, need]
        if rd not in (0, SINK) and op.shape is not Shape.STORE:
            close(rd)
        if op.shape is Shape.AMO_CAS_Q:
            close(imm & 0xFF)  # the high half of the destination pair
    for base in list(open_groups):
        close(base)
    return checks, covered


def _check_memory(e: _Emitter, addr: str, size: int, need: int, kind: int, pc: int, insn_index: int,
                  aligned: bool = False) -> str:  # fmt: skip
    """Check the access of `size` bytes at guest `addr` (alignment first, if asked: of the
    virtual address) and return the expression of its address in `mem` (translated, in
    system mode under translation)."""
    if aligned and size > 1:
        low, is_aligned = e.tmp(), e.tmp()
        e.emit(f"{low} = and i64 {addr}, {size - 1}")
        e.emit(f"{is_aligned} = icmp eq i64 {low}, 0")
        _leave_unless(e, is_aligned, pc, insn_index, EXIT_FAULT, addr, FAULT_MISALIGNED)
    paddr = _translate(e, addr, size, need, pc, insn_index) if e.system else addr
    _checked(e, paddr, size, need, pc, insn_index, EXIT_FAULT, paddr, kind)
    return paddr


def _translate(e: _Emitter, addr: str, size: int, need: int, pc: int, insn_index: int) -> str:
    """The physical address of the `size` bytes at virtual `addr` through the TLB set of loads
    (`need` PERM_R) or stores (anything else), as the interpreter's tlb_translate finds it on a
    hit; the address itself when translation is off (the set is 0). A miss, or an access across
    pages, leaves for the interpreter at this instruction (EXIT_INTERPRET): it walks the page
    table (filling the entry this then hits) or faults, or emulates the access."""
    tlb = "%tlb.load" if need == PERM_R else "%tlb.store"
    vpn, page, index, twice, entry, tag_p, tag, hit = (e.tmp() for _ in range(8))
    e.emit(f"{vpn} = lshr i64 {addr}, 12")
    e.emit(f"{page} = and i64 {vpn}, {TLB_VPN_MASK}")
    e.emit(f"{index} = and i64 {vpn}, {TLB_SETS - 1}")
    e.emit(f"{twice} = shl i64 {index}, 1")
    # (With the set 0 this reads the state array's first words: harmless, and ignored.)
    e.emit(f"{entry} = add i64 {tlb}, {twice}")
    e.emit(f"{tag_p} = getelementptr i64, i64* %state, i64 {entry}")
    e.emit(f"{tag} = load i64, i64* {tag_p}")
    e.emit(f"{hit} = icmp eq i64 {tag}, {page}")
    offset, within, in_page, good = (e.tmp() for _ in range(4))
    e.emit(f"{offset} = and i64 {addr}, {PAGE_SIZE - 1}")
    e.emit(f"{within} = icmp ule i64 {offset}, {PAGE_SIZE - size}")
    e.emit(f"{in_page} = and i1 {hit}, {within}")
    e.emit(f"{good} = or i1 {tlb}.bare, {in_page}")
    _leave_unless(e, good, pc, insn_index, EXIT_INTERPRET)
    addend_p, addend, used, paddr = (e.tmp() for _ in range(4))
    e.emit(f"{addend_p} = getelementptr i64, i64* {tag_p}, i64 1")
    e.emit(f"{addend} = load i64, i64* {addend_p}")
    e.emit(f"{used} = select i1 {tlb}.bare, i64 0, i64 {addend}")
    e.emit(f"{paddr} = add i64 {addr}, {used}")
    return paddr


def _check_group(e: _Emitter, base: str, group: GroupCheck, pc: int, insn_index: int) -> None:
    low = e.tmp()
    e.emit(f"{low} = add i64 {base}, {group.low}")
    _checked(e, low, group.span, group.need, pc, insn_index, EXIT_INTERPRET)


def _checked(e: _Emitter, addr: str, size: int, need: int, pc: int, insn_index: int, code: int,
             fault_addr: str = "0", fault_kind: int = 0) -> None:  # fmt: skip
    """Continue if the `size` bytes at `addr` allow `need`, else exit with `code`.

    The one-byte check inline; the exact one (rarely needed: the last bytes before a page with
    other rights, or a fault) is a helper called out of line, so each check adds a few
    instructions to the region rather than both checks."""
    args = f"(i8* %perm, i64 %npages, i64 {addr}, i64 {size}, i64 {need})"
    quick, passed, result, good = e.tmp(), e.tmp(), e.tmp(), e.tmp()
    slow, ok = e.label("slow"), e.label("ok")
    e.emit(f"{quick} = call i64 {e.use(MEM_OK_FAST)}{args}")
    e.emit(f"{passed} = icmp ne i64 {quick}, 0")
    e.emit(f"br i1 {passed}, label %{ok}, label %{slow}, !prof !0")
    e.place(slow)
    e.emit(f"{result} = call i64 {e.call_out(MEM_OK_EXACT)}{args} #0")
    e.emit(f"{good} = icmp ne i64 {result}, 0")
    _leave_unless(e, good, pc, insn_index, code, fault_addr, fault_kind, ok)


def _rounding_mode(e: _Emitter, aux: int, pc: int, insn_index: int) -> str:
    if aux != RM_DYN:
        return str(aux)
    rm = _get_state(e, FRM)
    valid = e.tmp()
    e.emit(f"{valid} = icmp ule i64 {rm}, 4")
    _leave_unless(e, valid, pc, insn_index, EXIT_TRAP, fault_kind=TRAP_ILLEGAL)
    return rm


def _emit_op(e: _Emitter, op, rd, rs1, rs2, rs3, aux, imm, pc, insn_index, extra, block, index) -> None:
    shape = op.shape
    symbol = symbol_for(op)
    imm = _i64(imm)
    if shape in (Shape.ALU_RR, Shape.ALU_RI):
        a = _read(e, rs1)
        b = _read(e, rs2) if shape is Shape.ALU_RR else str(imm)
        result = e.tmp()
        e.emit(f"{result} = call i64 {e.use(symbol)}(i64 {a}, i64 {b})")
        _write(e, rd, result)
    elif shape is Shape.ALU_R:
        a = _read(e, rs1)
        result = e.tmp()
        e.emit(f"{result} = call i64 {e.use(symbol)}(i64 {a})")
        _write(e, rd, result)
    elif shape is Shape.LI:
        _write(e, rd, str(imm))
    elif shape in (Shape.LOAD, Shape.STORE):
        base, addr = _read(e, rs1), e.tmp()
        e.emit(f"{addr} = add i64 {base}, {imm}")
        if pc in e.group_checks:
            _check_group(e, base, e.group_checks[pc], pc, insn_index)
        alone = pc not in e.covered and pc not in e.group_checks
        if shape is Shape.LOAD:
            if alone:
                addr = _check_memory(e, addr, op.size, PERM_R, FAULT_LOAD, pc, insn_index)
            result = e.tmp()
            e.emit(f"{result} = call i64 {e.use(symbol)}(i8* %mem, i64 {addr})")
            _write(e, rd, result)
        else:
            value = _read(e, rs2)
            if alone:
                addr = _check_memory(e, addr, op.size, PERM_W, FAULT_STORE, pc, insn_index)
            e.emit(f"{e.tmp()} = call i8* {e.use(symbol)}(i8* %mem, i64 {addr}, i64 {value})")
    elif shape is Shape.BRANCH:
        a, b = _read(e, rs1), _read(e, rs2)
        cond, taken = e.tmp(), e.tmp()
        yes, no = e.label("taken"), e.label("fall")
        e.emit(f"{cond} = call i64 {e.use(symbol)}(i64 {a}, i64 {b})")
        e.emit(f"{taken} = icmp ne i64 {cond}, 0")
        e.emit(f"br i1 {taken}, label %{yes}, label %{no}")
        e.place(yes)
        _goto(e, imm, index, block.insns)
        e.place(no)
        _goto(e, extra, index, block.insns)
    elif shape is Shape.JAL:
        _write(e, rd, str(_i64(extra)))
        _goto(e, imm, index, block.insns)
    elif shape is Shape.JALR:
        base = _read(e, rs1)
        sum_, target = e.tmp(), e.tmp()
        e.emit(f"{sum_} = add i64 {base}, {imm}")
        e.emit(f"{target} = and i64 {sum_}, -2")
        _write(e, rd, str(_i64(extra)))
        count, total = e.tmp(), e.tmp()
        e.emit(f"{count} = load i64, i64* %ir")
        e.emit(f"{total} = add i64 {count}, {block.insns}")
        e.emit(f"store i64 {total}, i64* %ir")
        if e.return_sites:
            away = e.label("away")
            cases = " ".join(f"i64 {_i64(pc)}, label %b{index[pc]}" for pc in e.return_sites)
            e.emit(f"switch i64 {target}, label %{away} [ {cases} ]")
            e.place(away)
        _leave_chained(e, target)
    elif shape in (Shape.CSR_R, Shape.CSR_I):
        src = _read(e, rs1) if shape is Shape.CSR_R else str(_i64(extra))
        result = e.tmp()
        e.emit(f"{result} = call i64 {e.use(symbol)}(i64* %state, i64 {aux}, i64 {src}, i64 {imm})")
        _write(e, rd, result)
    elif shape is Shape.AMO:
        addr, src = _read(e, rs1), _read(e, rs2)
        addr = _check_memory(e, addr, op.size, PERM_R | PERM_W, FAULT_STORE, pc, insn_index, aligned=True)
        first = e.tmp()
        e.emit(f"{first} = call i64 {e.use(LOAD_SIZED[op.size])}(i8* %mem, i64 {addr})")
        # Atomic across guest threads: compare-and-swap the op's result until no other thread
        # wrote in between (the op itself is the interpreter's semantics function).
        before, retry, done = e.current, e.label("amo_retry"), e.label("amo_done")
        old, new, seen = e.tmp(), e.tmp(), e.tmp()
        e.emit(f"br label %{retry}")
        e.place(retry)
        e.emit(f"{old} = phi i64 [ {first}, %{before} ], [ {seen}, %{retry} ]")
        e.emit(f"{new} = call i64 {e.use(symbol)}(i64 {old}, i64 {src})")
        e.emit(f"{seen} = {_cas(e, addr, old, new, op.size)}")
        again = e.tmp()
        e.emit(f"{again} = icmp ne i64 {seen}, {old}")
        e.emit(f"br i1 {again}, label %{retry}, label %{done}")
        e.place(done)
        _write(e, rd, old)
    elif shape is Shape.AMO_CAS:
        addr, src, expected = _read(e, rs1), _read(e, rs2), _read(e, rs3)
        addr = _check_memory(e, addr, op.size, PERM_R | PERM_W, FAULT_STORE, pc, insn_index, aligned=True)
        old = e.tmp()
        e.emit(f"{old} = {_cas(e, addr, expected, src, op.size)}")
        _write(e, rd, old)
    elif shape is Shape.AMO_CAS_Q:
        dest_hi, cmp_hi, src_hi = imm & 0xFF, (imm >> 8) & 0xFF, (imm >> 16) & 0xFF
        addr = _read(e, rs1)
        src_lo, src_hi_v, cmp_lo, cmp_hi_v = _read(e, rs2), _read(e, src_hi), _read(e, rs3), _read(e, cmp_hi)
        addr = _check_memory(e, addr, 16, PERM_R | PERM_W, FAULT_STORE, pc, insn_index, aligned=True)
        want, value = _join128(e, cmp_lo, cmp_hi_v), _join128(e, src_lo, src_hi_v)
        pointer, pair, seen, lo, shifted, hi = (e.tmp() for _ in range(6))
        e.emit(f"{pointer} = {_host_pointer(e, addr, 128)}")
        e.emit(f"{pair} = cmpxchg i128* {pointer}, i128 {want}, i128 {value} seq_cst seq_cst")
        e.emit(f"{seen} = extractvalue {{ i128, i1 }} {pair}, 0")
        e.emit(f"{lo} = trunc i128 {seen} to i64")
        e.emit(f"{shifted} = lshr i128 {seen}, 64")
        e.emit(f"{hi} = trunc i128 {shifted} to i64")
        _write(e, rd, lo)
        _write(e, dest_hi, hi)
    elif shape is Shape.LR:
        addr = _read(e, rs1)
        paddr = _check_memory(e, addr, op.size, PERM_R, FAULT_LOAD, pc, insn_index, aligned=True)
        old = e.tmp()
        e.emit(f"{old} = call i64 {e.use(LOAD_SIZED[op.size])}(i8* %mem, i64 {paddr})")
        _set_state(e, RESERVATION, addr)  # (the virtual address, as the interpreter's)
        _set_state(e, RESERVED_VALUE, old)
        _write(e, rd, old)
    elif shape is Shape.SC:
        addr, src = _read(e, rs1), _read(e, rs2)
        reserved, expected = _get_state(e, RESERVATION), _get_state(e, RESERVED_VALUE)
        # Without a reservation of addr the SC fails without touching memory, so it cannot
        # fault (as QEMU); with one, a compare-and-swap on the value LR read: atomic across threads.
        same_addr, seen, same_value, success = e.tmp(), e.tmp(), e.tmp(), e.tmp()
        e.emit(f"{same_addr} = icmp eq i64 {reserved}, {addr}")
        before, do_store, done = e.current, e.label("sc_store"), e.label("sc_done")
        e.emit(f"br i1 {same_addr}, label %{do_store}, label %{done}")
        e.place(do_store)
        paddr = _check_memory(e, addr, op.size, PERM_W, FAULT_STORE, pc, insn_index, aligned=True)
        e.emit(f"{seen} = {_cas(e, paddr, expected, src, op.size)}")
        e.emit(f"{same_value} = icmp eq i64 {seen}, {expected}")
        stored = e.current
        e.emit(f"br label %{done}")
        e.place(done)
        e.emit(f"{success} = phi i1 [ false, %{before} ], [ {same_value}, %{stored} ]")
        result = e.tmp()
        e.emit(f"{result} = select i1 {success}, i64 0, i64 1")
        _set_state(e, RESERVATION, "-1")
        _write(e, rd, result)
    elif shape is Shape.FENCE:
        e.emit("fence seq_cst" if aux & 1 else "fence acq_rel")
    elif shape in (Shape.FP_RR_RM, Shape.FP_R_RM, Shape.FP_RRR_RM):
        rm = _rounding_mode(e, aux, pc, insn_index)
        operands = {Shape.FP_R_RM: (rs1,), Shape.FP_RR_RM: (rs1, rs2), Shape.FP_RRR_RM: (rs1, rs2, rs3)}[
            shape
        ]
        values = [f"i64 {_read(e, slot)}" for slot in operands]
        result = e.tmp()
        e.emit(f"{result} = call i64 {e.use(symbol)}({', '.join(values)}, i64 {rm}, i64* %fflags)")
        _write(e, rd, result)
    elif shape in (Shape.FP_RR, Shape.FP_R):
        operands = (rs1, rs2) if shape is Shape.FP_RR else (rs1,)
        values = [f"i64 {_read(e, slot)}" for slot in operands]
        result = e.tmp()
        e.emit(f"{result} = call i64 {e.use(symbol)}({', '.join(values)}, i64* %fflags)")
        _write(e, rd, result)
    else:
        raise AssertionError(f"{op.name} cannot be in a region")


def _host_pointer(e: _Emitter, addr: str, width: int) -> str:
    """An expression for the host pointer (as i<width>*) of a checked guest address; the
    instruction computing the byte address is emitted first."""
    byte = e.tmp()
    e.emit(f"{byte} = getelementptr i8, i8* %mem, i64 {addr}")
    return f"bitcast i8* {byte} to i{width}*"


def _cas(e: _Emitter, addr: str, expected: str, new: str, size: int) -> str:
    """Emits an atomic compare-and-swap of `size` aligned bytes (the interpreter's
    hostops.cas_<bits>); returns an expression for the old contents, sign-extended."""
    width = 8 * size
    pointer, pair, seen = e.tmp(), e.tmp(), e.tmp()
    e.emit(f"{pointer} = {_host_pointer(e, addr, width)}")
    if width == 64:
        want, value = expected, new
    else:
        want, value = e.tmp(), e.tmp()
        e.emit(f"{want} = trunc i64 {expected} to i{width}")
        e.emit(f"{value} = trunc i64 {new} to i{width}")
    e.emit(f"{pair} = cmpxchg i{width}* {pointer}, i{width} {want}, i{width} {value} seq_cst seq_cst")
    e.emit(f"{seen} = extractvalue {{ i{width}, i1 }} {pair}, 0")
    if width == 64:
        return f"add i64 {seen}, 0"
    return f"sext i{width} {seen} to i64"


def _join128(e: _Emitter, lo: str, hi: str) -> str:
    wide_lo, wide_hi, shifted, joined = e.tmp(), e.tmp(), e.tmp(), e.tmp()
    e.emit(f"{wide_lo} = zext i64 {lo} to i128")
    e.emit(f"{wide_hi} = zext i64 {hi} to i128")
    e.emit(f"{shifted} = shl i128 {wide_hi}, 64")
    e.emit(f"{joined} = or i128 {wide_lo}, {shifted}")
    return joined


BRANCH_WEIGHTS = '!0 = !{!"branch_weights", i32 2000, i32 1}'
#: The exact memory check's call sites: rarely taken.
CALL_ATTRIBUTES = "attributes #0 = { cold }"
