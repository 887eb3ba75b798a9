"""The JIT's control plane: hot blocks become regions, regions become native code.

The dispatcher kernel counts executions per block (an EWMA: the counts are halved as guest time
passes) and exits with EXIT_HOT when a block reaches the threshold. Here the block grows into a
region along the successors that have run, the region's key is looked up in the L2 disk cache, and on a
miss its IR is generated and sent to the compile pool while the guest keeps running in the
interpreter. Finished regions are loaded and installed in the L1 table (the block table's
BLK_JIT column, and `installed` by (pc, physical address) so re-decoded blocks find their code
again).

In system mode a region holds only blocks of its entry's page (virtual and physical): the
dispatcher enters it where the entry's virtual pc translates to the physical address it was
decoded from, which then holds for every block in it, and a fence.i that finds a page of code
changed drops that page's regions alone (drop_pages).
"""

from __future__ import annotations

import collections
import hashlib
import logging
import os
import statistics
import time
import weakref
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np

from dbt._version import __version__
from dbt.backends.jit import codegen
from dbt.backends.jit.helpers import load_region
from dbt.backends.jit.l2cache import RegionCache
from dbt.backends.jit.pool import CompilePool, default_workers
from dbt.backends.native import NativeLibrary, host_fingerprint
from dbt.config import Config
from dbt.ir.ops import OPS, Shape
from dbt.ir.state import (
    BLK_HEAT,
    BLK_INSNS,
    BLK_JIT,
    BLK_OPS,
    BLK_PC,
    BLK_PHYS,
    BLK_START,
    CHAINED,
    IC_SITE,
    INSTRET,
    JIT_EPOCH,
    JIT_INSNS,
    PAGE_SHIFT,
    PAGE_SIZE,
    REGION_CALLS,
    SINK,
    location_pc,
)
from dbt.runtime.blockcache import BlockCache

MASK64 = (1 << 64) - 1

log = logging.getLogger("dbt.jit")

#: Region size caps.
MAX_REGION_BLOCKS = 48
MAX_REGION_INSNS = 600
#: System mode: compiles queued per worker at most; a block turning hot while the queue is full
#: waits for its next turn. A Linux boot turns thousands of blocks hot faster than one worker
#: compiles them (about 20 ms each): queued first come, first served, most were compiled after
#: the code had gone cold (0.7% of a cold boot's instructions ran compiled, and it took 3x the
#: interpreter's time).
PENDING_PER_WORKER = 2
#: Runs a block turned away by a full queue waits before it turns hot again (on top of the
#: threshold; the heat's halving leaves negative heat alone).
BACKOFF = 1000
#: System mode's default heat threshold (user mode's is Config's, 100). Measured on a Linux
#: boot without the disk cache (this machine, 2 cores): 15.2 s at 100 (the queue full of code
#: warm for a moment), 11.2 s at 1000; the interpreter alone 15.1 s.
SYSTEM_JIT_THRESHOLD = 1000
#: Heat a never-compilable block is parked at so it does not reach the threshold again.
PARKED = -(1 << 62)
#: Guest instructions between halvings of the heat counters.
DECAY_INTERVAL = 1 << 24


@dataclass
class JitStats:
    regions_installed: int = 0
    compiled: int = 0
    l2_hits: int = 0
    failures: int = 0
    compile_seconds: list[float] = field(default_factory=list)
    ms_per_insn: list[float] = field(default_factory=list)

    def summary(self, state: np.ndarray | None = None, returns: int | None = None) -> str:
        """One line for --stats (with the state array: the tiers' shares and transfers)."""
        median = statistics.median(self.ms_per_insn) if self.ms_per_insn else 0.0
        per_region = 1000 * statistics.median(self.compile_seconds) if self.compile_seconds else 0.0
        lookups = self.compiled + self.l2_hits
        installed, compiled_regions, hits = self.regions_installed, self.compiled, self.l2_hits
        seconds = sum(self.compile_seconds)
        text = (
            f"{installed:,} regions installed ({compiled_regions:,} compiled, {hits:,} from the disk "
            f"cache: L2 hits {hits:,}, misses {compiled_regions:,} of {lookups:,}), compile time "
            f"{seconds:.2f} s, median {per_region:.1f} ms per region, {median:.3f} ms per guest instruction"
        )
        if state is not None:
            total = int(state[INSTRET])
            compiled = int(state[JIT_INSNS])
            share = 100 * compiled / total if total else 0.0
            text += (
                f"; {compiled:,} instructions in compiled code ({share:.1f}%), "
                f"{total - compiled:,} interpreted; {int(state[REGION_CALLS]):,} region calls from the "
                f"dispatcher (L1 hits), {int(state[CHAINED]):,} chained region-to-region transfers"
            )
        if returns is not None:
            text += f", {returns:,} returns to Python"
        return text


#: A region's identity: the (virtual) pc of its entry and the physical address of that code
#: (the pc itself outside system mode).
RegionKey = tuple[int, int]


@dataclass
class _Pending:
    future: Future
    entry: RegionKey
    epoch: int
    key: str
    symbol: str
    insns: int
    #: The region's second name (JitManager._alias), or None.
    alias: str | None = None


class JitManager:
    def __init__(self, config: Config, cache: BlockCache, state: np.ndarray, system: bool = False) -> None:
        self.config = config
        #: System mode: page-local regions (see the module's doc) that translate their accesses.
        self.system = system
        self.cache = cache
        #: The main thread's state array, and every guest thread's (their JIT_EPOCH words
        #: invalidate the regions' inline caches).
        self.state = state
        self.states: list[np.ndarray] = [state]
        #: may_free(version): whether no thread can still run code from before the block cache
        #: reached `version` (the process answers: no thread is in its kernel on older arrays).
        self.may_free: Callable[[int], bool] = lambda version: True
        #: Libraries of flushed regions, with the cache version of the flush, until freeable.
        self._retired: list[tuple[int, list[NativeLibrary]]] = []
        workers = default_workers() if config.jit_threads is None else config.jit_threads
        self.pool = CompilePool(workers)
        self.l2 = RegionCache(
            directory=None if config.cache_dir is None else _region_dir(config.cache_dir),
            enabled=not config.no_cache,
        )
        #: Installed regions: entry -> native address (L1; BLK_JIT mirrors it per block).
        self.installed: dict[RegionKey, int] = {}
        #: The libraries regions are loaded into since the last flush (the last: the one new
        #: regions are added to, and the symbols it has), and the address of each function
        #: loaded by what it serves (_loaded_as).
        self._libraries: list[NativeLibrary] = []
        self._symbols: set[str] = set()
        self._by_key: dict[str | tuple[str, int], int] = {}
        self._pending: dict[RegionKey, _Pending] = {}
        #: Compiles that have finished, in order (appended by the pool's threads): poll looks at
        #: these alone. (Asking every pending future was most of the time of a Linux boot, with
        #: thousands of compiles pending and the vCPU loop polling at each of its exits.)
        self._finished: collections.deque[_Pending] = collections.deque()
        #: Bumped when decoded code is flushed: results compiled for older code are dropped.
        self.epoch = 0
        #: The epoch inline caches must hold to hit (state[JIT_EPOCH]): bumped at each flush
        #: and each drop_pages.
        self.ic_epoch = 0
        self.stats = JitStats()
        #: System mode: the identity of the code decoded from a physical page (a digest of its
        #: bytes as decoded, and the decoder's settings), or None if it holds no decoded code.
        self.page_identity: Callable[[int], bytes | None] | None = None
        #: Aliases (see _alias) known to name a key this run, and those known to name none.
        self._aliases: dict[str, str] = {}
        self._unnamed: set[str] = set()
        self._key_base = (
            f"{__version__}|{_kernel_hash()}|{_jit_hash()}|{host_fingerprint()}|{int(system)}|".encode()
        )
        self._next_decay = DECAY_INTERVAL
        after_fork = weakref.WeakMethod(self._after_fork)
        os.register_at_fork(after_in_child=lambda: (method := after_fork()) and method())

    @property
    def threshold(self) -> int:
        """The heat at which the kernel reports a block (1: on its first execution)."""
        return max(1, self.config.jit_threshold)

    # ---- events from the run loop ----
    def hot(self, block: int) -> None:
        """A block reached the threshold: compile (or load) a region starting there."""
        blocks = self.cache.blocks
        entry_pc = int(blocks[block, BLK_PC])
        entry = (entry_pc, int(blocks[block, BLK_PHYS]))
        if entry in self._pending or entry in self.installed:
            return
        alias = self._alias(entry)
        if alias is not None and self._install_alias(entry, alias):
            return
        if self.system and len(self._pending) >= PENDING_PER_WORKER * max(self.pool.workers, 1):
            # Still hot later, it asks again: after BACKOFF more runs at least, not at its next
            # one (at --jit-threshold 1 every block run while the queue was full came back here).
            blocks[block, BLK_HEAT] = -BACKOFF
            return
        members = self._form_region(block)
        if not members:
            blocks[block, BLK_HEAT] = PARKED
            return
        region = [self._region_block(b) for b in members]
        key = self._key(region)
        symbol = f"dbt_region_{key[:24]}"
        if self._install_key(entry, key):
            self._name(alias, key)
            return
        directory = str(self.l2.directory) if self.l2.enabled else None
        future = self.pool.submit(region, self.system, symbol, directory, key)
        insns = sum(r.insns for r in region)
        job = _Pending(future, entry, self.epoch, key, symbol, insns, alias)
        self._pending[entry] = job
        future.add_done_callback(lambda _future: self._finished.append(job))
        if self.pool.workers == 0:
            self.poll()

    def poll(self) -> None:
        """Install every region whose compile has finished (and free flushed ones)."""
        if self._retired:
            self._free_retired()
        while self._finished:
            job = self._finished.popleft()
            entry = job.entry
            if self._pending.get(entry) is not job:
                continue  # dropped meanwhile (after_fork, drop_pages)
            del self._pending[entry]
            try:
                object_code, seconds = job.future.result()
            except Exception as exc:  # a compile failure costs speed, never correctness
                self.stats.failures += 1
                log.warning(
                    "JIT compile of the region at %#x failed (%s): it stays interpreted", entry[0], exc
                )
                self._park(entry)
                continue
            self.stats.compiled += 1
            self.stats.compile_seconds.append(seconds)
            self.stats.ms_per_insn.append(1000 * seconds / max(job.insns, 1))
            if job.epoch == self.epoch:
                self._install(entry, self._load(job.key, object_code, job.symbol, entry))
                self._name(job.alias, job.key)

    def tick(self, instret: int) -> None:
        """Time passes: halve the heat counters every DECAY_INTERVAL guest instructions."""
        if instret < self._next_decay:
            return
        self._next_decay = instret + DECAY_INTERVAL
        heat = self.cache.blocks[: self.cache.n_blocks, BLK_HEAT]
        np.right_shift(heat, 1, out=heat, where=heat > 0)

    def flush(self) -> None:
        """Decoded code was dropped (guest code changed): forget and free every installed region.

        Freeing is safe once no thread runs old code: this one has returned to Python, and another
        thread inside its kernel still holds the arrays of before the flush (the libraries wait in
        `_retired` until it has come back); every block's BLK_JIT went with the decoded blocks;
        inline caches pointing at a freed region live only in other freed regions; and the exit
        whose cache a dispatcher may still fill (IC_SITE) is forgotten when a thread takes up the
        new arrays. Without the freeing, a guest that maps, runs and unmaps code in a
        loop kept every old region's code mapping until the process ran out of them.
        """
        self.installed.clear()
        self._retired.append((self.cache.version, self._libraries))
        self._libraries = []
        self._symbols = set()
        self._by_key = {}
        self.epoch += 1
        self._forget_inline_caches()
        self._free_retired()

    def _forget_inline_caches(self) -> None:
        """Every region's inline caches stop hitting (they hold the epoch they were filled in),
        and the one a dispatcher may be about to fill is forgotten."""
        self.ic_epoch += 1
        for state in self.states:
            state[JIT_EPOCH] = self.ic_epoch
        self.state[IC_SITE] = 0

    def _free_retired(self) -> None:
        """Free flushed regions no thread can be running any more (another thread may still be
        inside one until it returns to Python: it holds the arrays of before the flush)."""
        self._retired = [(version, libs) for version, libs in self._retired if not self.may_free(version)]

    def drop_pages(self, pages: list[int]) -> None:
        """The code of these physical pages changed (system mode, whose regions are page-local):
        forget their regions and pending compiles. Their blocks were dropped from the lookup, so
        the dispatcher can no longer enter them; inline caches naming them (filled for their
        physical addresses, which the new code now has) all stop hitting."""
        gone = set(pages)
        for table in (self.installed, self._pending):
            for entry in [entry for entry in table if entry[1] >> PAGE_SHIFT in gone]:
                del table[entry]
        self._forget_inline_caches()

    def address_for(self, pc: int, phys: int) -> int:
        return self.installed.get((pc, phys), 0)

    def shutdown(self) -> None:
        self.pool.shutdown()

    def _after_fork(self) -> None:
        """A guest fork: the parent's compiles finish in the parent, never here (and their
        futures' locks may be held by threads the child does not have)."""
        self._pending = {}
        self._finished = collections.deque()
        self.pool.after_fork()

    # ---- regions ----
    def _alias(self, entry: RegionKey) -> str | None:
        """A region's second name in system mode: its entry pc and the identity of the page its
        blocks were decoded from (page_identity).

        Which blocks join a region depends on which had run when its entry turned hot, which
        differs from run to run (interrupts, the compile queue), and the region's key hashes
        its blocks: a Linux boot's key set changed by about a hundred regions a boot, compiled
        again each time while their code ran in the interpreter. Every region made for one
        entry pc from the same bytes is correct code for it (regions are page-local, and a
        block depends only on its pc, its bytes and the decoder), so the alias names the last
        such region and the next run loads it without forming one."""
        if self.page_identity is None:
            return None
        identity = self.page_identity(entry[1])
        if identity is None:
            return None
        digest = hashlib.sha256(self._key_base)
        digest.update(b"page|%d|" % entry[0])
        digest.update(identity)
        return digest.hexdigest()

    def _install_alias(self, entry: RegionKey, alias: str) -> bool:
        """Install the region the alias names, if it is loaded or in the disk cache."""
        if alias in self._unnamed:
            return False
        key = self._aliases.get(alias) or self.l2.get_alias(alias)
        if key is None:
            self._unnamed.add(alias)
            return False
        if not self._install_key(entry, key):
            return False
        self._aliases[alias] = key
        return True

    def _install_key(self, entry: RegionKey, key: str) -> bool:
        """Install region `key` at entry if it is loaded (the same code, compiled for another
        pc or for this one) or in the disk cache."""
        address = self._by_key.get(self._loaded_as(key, entry))
        if address is None:
            cached = self.l2.get(key)
            if cached is None:
                return False
            self.stats.l2_hits += 1
            address = self._load(key, *cached, entry)
        self._install(entry, address)
        return True

    def _name(self, alias: str | None, key: str) -> None:
        """Record that `alias` names the region `key` (in the disk cache too)."""
        if alias is None or self._aliases.get(alias) == key:
            return
        self._aliases[alias] = key
        self._unnamed.discard(alias)
        self.l2.put_alias(alias, key)

    def _loaded_as(self, key: str, entry: RegionKey) -> str | tuple[str, int]:
        """What a loaded function serves: in system mode, a region's code on one physical page
        only. Its inline caches hold the translations they were filled under
        (codegen._leave_chained): the same code on another page (a copy) gets a function of
        its own, rather than both pages' runs missing each other's caches."""
        return (key, entry[1] >> PAGE_SHIFT) if self.system else key

    def _load(self, key: str, object_code: bytes, symbol: str, entry: RegionKey) -> int:
        """Load a region's object code (into the current library); its function's address."""
        loaded = self._loaded_as(key, entry)
        if loaded in self._by_key:  # (compiled twice: it turned hot at two addresses at once)
            return self._by_key[loaded]
        if self._libraries and symbol not in self._symbols:
            library = load_region(object_code, into=self._libraries[-1])
        else:  # the first, or a second copy of a function (another page's): a new library
            library = load_region(object_code)
            self._libraries.append(library)
            self._symbols = set()
        self._symbols.add(symbol)
        address = library.address(symbol)
        self._by_key[loaded] = address
        return address

    def _install(self, entry: RegionKey, address: int) -> None:
        self.installed[entry] = address
        block = self.cache.lookup(*entry)
        if block >= 0:
            self.cache.blocks[block, BLK_JIT] = address
        self.stats.regions_installed += 1
        log.debug("installed region at %#x", entry[0])

    def _park(self, entry: RegionKey) -> None:
        block = self.cache.lookup(*entry)
        if block >= 0:
            self.cache.blocks[block, BLK_HEAT] = PARKED

    def _region_block(self, block: int) -> codegen.RegionBlock:
        row = self.cache.blocks[block]
        start, n = int(row[BLK_START]), int(row[BLK_OPS])
        return codegen.RegionBlock(
            int(row[BLK_PC]), self.cache.code[start : start + n].copy(), int(row[BLK_INSNS])
        )

    def _supported(self, block: int) -> bool:
        row = self.cache.blocks[block]
        start, n = int(row[BLK_START]), int(row[BLK_OPS])
        ops = self.cache.code[start : start + n, 0] & 0xFFFF
        return all(OPS[int(op)].shape in codegen.REGION_SHAPES for op in ops)

    def _in_its_page(self, block: int) -> bool:
        """Whether the block's instructions all lie in the page of its first (always true
        outside system mode, where it does not matter). Its last instruction's pc is its ops'
        highest; that instruction may be 4 bytes long."""
        if not self.system:
            return True
        row = self.cache.blocks[block]
        pc = int(row[BLK_PC])
        start = int(row[BLK_START])
        locations = self.cache.code[start : start + int(row[BLK_OPS]), 2]
        last = max((location_pc(int(location)) - pc) & MASK64 for location in locations)
        return (pc & (PAGE_SIZE - 1)) + last + 4 <= PAGE_SIZE

    def _successors(self, block: int) -> list[int]:
        row = self.cache.blocks[block]
        last = self.cache.code[int(row[BLK_START]) + int(row[BLK_OPS]) - 1]
        shape = OPS[int(last[0]) & 0xFFFF].shape
        if shape is Shape.BRANCH:
            return [int(last[1]), int(last[3])]
        if shape is Shape.JAL:
            # A call's return site too: its return then stays in the region (codegen tests
            # an indirect jump's target against the region's return sites).
            linked = (int(last[0]) >> 16) & 0xFF not in (0, SINK)
            return [int(last[1]), int(last[3])] if linked else [int(last[1])]
        return []

    def _form_region(self, entry: int) -> list[int]:
        """The entry block and its successors that have run (breadth first), within the size caps.

        Any block that has run at all joins, not only hot ones: when a loop's first block turns
        hot the rest of the function is barely warm, and a region of the hot part alone leaves
        at every turn of the outer code. Measured on tests/guests/compute.c (quicksort part),
        requiring a quarter of the threshold made regions that chained 34 million times per
        run; any block that has run, about 4 thousand, and the whole guest ran 12% faster.
        """
        if not self._supported(entry) or not self._in_its_page(entry):
            return []
        blocks = self.cache.blocks
        entry_pc, entry_phys = int(blocks[entry, BLK_PC]), int(blocks[entry, BLK_PHYS])
        members = [entry]
        seen = {entry_pc}
        insns = int(blocks[entry, BLK_INSNS])
        queue = self._successors(entry)
        while queue and len(members) < MAX_REGION_BLOCKS:
            pc = queue.pop(0)
            if pc in seen:
                continue
            seen.add(pc)
            if not self.system:
                block = self.cache.lookup(pc)
            elif pc >> PAGE_SHIFT == entry_pc >> PAGE_SHIFT:
                block = self.cache.lookup(pc, entry_phys + pc - entry_pc)  # (in the entry's frame)
            else:
                continue
            if block < 0 or blocks[block, BLK_HEAT] < 1 or not self._supported(block):
                continue
            if not self._in_its_page(block):
                continue
            size = int(blocks[block, BLK_INSNS])
            if insns + size > MAX_REGION_INSNS:
                continue
            members.append(block)
            insns += size
            queue.extend(self._successors(block))
        return members

    def _key(self, region: list[codegen.RegionBlock]) -> str:
        digest = hashlib.sha256(self._key_base)
        for block in region:
            digest.update(block.pc.to_bytes(8, "little", signed=True))
            digest.update(block.insns.to_bytes(4, "little"))
            digest.update(block.code.tobytes())
        return digest.hexdigest()


def _kernel_hash() -> str:
    from dbt.backends.interp import source_hash

    return source_hash()


def _jit_hash() -> str:
    """Hash of the JIT's own sources: a changed code generator never reuses old regions."""
    from pathlib import Path

    import dbt.backends.jit as package

    digest = hashlib.sha256()
    for name in ("codegen.py", "compiler.py", "helpers.py", "oplib.py", "_opbuild.py"):
        digest.update((Path(package.__file__).parent / name).read_bytes())
    return digest.hexdigest()[:16]


def _region_dir(base: str):
    from pathlib import Path

    return Path(base) / "regions"


def now() -> float:
    return time.perf_counter()
