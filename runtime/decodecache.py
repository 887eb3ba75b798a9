"""Decoded blocks kept by their instruction bytes, within a run and (saved) across runs.

Decoding and lifting a block costs tens of microseconds in Python, and a Linux boot decodes
about 70,000 of them, most run only a few times: under the JIT it was the largest cost left
in Python. A lifted block is a pure function of its pc and the bytes it was lifted from (and
of the decoder's rows and block cap, fixed per cache), so a block is reused whenever the same
bytes are found at the same pc again: after a fence.i dropped it, in another process mapping
the same program, or in the next run, from the file `save` writes. Reuse is checked byte for
byte against the code fetched now, so a stale or foreign entry can only miss, never run.

Stage: runtime (the disk file is an optimisation: a damaged or missing one is ignored).
"""

from __future__ import annotations

import hashlib
import io
import logging
import zipfile
from collections.abc import Iterable, Iterator, Set
from pathlib import Path

import numpy as np

from dbt.backends.diskcache import cache_dir, write_atomic
from dbt.frontends.riscv64.translate import Fetch, lift_block
from dbt.ir.builder import Block
from dbt.ir.state import OP_WORDS

log = logging.getLogger("dbt.decode")

#: Bumped when the file's layout changes.
FORMAT = 1
#: Blocks kept in memory at most; past it the cache starts afresh (a guest generating code
#: without end must not grow it without end).
MAX_BLOCKS = 1 << 17
#: A run adds its blocks to the file when it lifted more than this many (or 1% of the file).
SAVE_AT_LEAST = 256
#: Columns of the file's index: pc, first op, op count, instructions, end pc, first byte of
#: the matched bytes, their length, whether they must match exactly (a fetch-limited block).
_PC, _START, _OPS, _INSNS, _END, _BYTES, _LENGTH, _EXACT = range(8)


class DecodeCache:
    """Lifted blocks by (pc, instruction bytes). `translate` replaces
    frontends.riscv64.translate.translate_block for a runtime that keeps one."""

    def __init__(self, max_insns: int, rows: Set[str] | None, path: Path | None = None) -> None:
        self.max_insns = max_insns
        self.rows = rows
        self.path = path
        #: pc -> [(bytes that must start the fetched code, whether they must be all of it,
        #: the block)]: blocks lifted by this run, and those of the file it has used.
        self._blocks: dict[int, list[tuple[bytes, bool, Block]]] = {}
        self._count = 0
        #: Blocks lifted by this run (the file gains them).
        self._new: list[tuple[bytes, bool, Block]] = []
        #: The file as read: its index rows, ops and matched bytes; pc -> its last row, and
        #: each row -> the row before it of the same pc (-1: none).
        self._index = np.zeros((0, 8), dtype=np.int64)
        self._code = np.zeros((0, OP_WORDS), dtype=np.int64)
        self._blob = b""
        self._rows: list[list[int]] = []
        self._row_of: dict[int, int] = {}
        self._previous: list[int] = []
        self._sorted_pcs = np.zeros(0, dtype=np.int64)
        #: Blocks lifted by this run (not found), and reused (found).
        self.lifted = 0
        self.reused = 0
        if path is not None:
            self._load(path)

    @property
    def loaded(self) -> int:
        """Blocks the file held when it was read."""
        return len(self._index)

    def translate(self, fetch: Fetch, pc: int) -> Block:
        """The block at pc, as translate_block would lift it from what `fetch` gives now
        (raises FetchFault as it does)."""
        code = fetch(pc, 4 * self.max_insns)
        for match, exact, block in self._blocks.get(pc, ()):
            if _matches(code, match, exact):
                self.reused += 1
                return block
        block = self._from_file(code, pc)
        if block is not None:
            self.reused += 1
            return block
        block, examined, exact = lift_block(code, pc, self.max_insns, self.rows)
        self.lifted += 1
        entry = (code if exact else code[:examined], exact, block)
        self._remember(pc, entry)
        if len(self._new) < MAX_BLOCKS:
            self._new.append(entry)
        return block

    def in_page(self, base: int, page: bytes) -> list[tuple[int, np.ndarray, int, int]]:
        """The file's blocks lying wholly in the page at (virtual) `base` whose bytes `page`,
        the page's bytes now, still holds: (pc, ops, instructions, end pc) each, as translate
        would find them there one miss at a time (system mode enters them at the page's first
        miss). Blocks that must match exactly (cut short where their fetch stopped) and blocks
        running into the next page are left to translate."""
        a, b = np.searchsorted(self._sorted_pcs, (base, base + len(page)))
        found = []
        blob = self._blob
        for pc in self._sorted_pcs[a:b].tolist():
            offset = pc - base
            for _, start, ops, insns, end_pc, first, length, exact in self._file_rows(pc):
                if (
                    not exact
                    and offset + length <= len(page)
                    and page.startswith(blob[first : first + length], offset)
                ):
                    found.append((pc, self._code[start : start + ops], insns, end_pc))
                    break
        self.reused += len(found)
        return found

    def _remember(self, pc: int, entry: tuple[bytes, bool, Block]) -> None:
        if self._count >= MAX_BLOCKS:
            self._blocks.clear()
            self._count = 0
        self._blocks.setdefault(pc, []).append(entry)
        self._count += 1

    def _from_file(self, code: bytes, pc: int) -> Block | None:
        for _, start, ops, insns, end_pc, first, length, exact in self._file_rows(pc):
            match = self._blob[first : first + length]
            if _matches(code, match, exact):
                code_ops = self._code[start : start + ops]
                block = Block(pc, code_ops, insns, end_pc, [])
                self._remember(pc, (match, bool(exact), block))
                return block
        return None

    def _file_rows(self, pc: int) -> Iterator[list[int]]:
        """The file's index rows for pc, the last saved first."""
        row = self._row_of.get(pc, -1)
        while row >= 0:
            yield self._rows[row]
            row = self._previous[row]

    # ---- the file ----
    def save(self) -> None:
        """Add the blocks this run lifted to the file, if there are enough to be worth writing
        (a few always differ from run to run: where timer interrupts landed, say)."""
        if self.path is None or len(self._new) <= max(SAVE_AT_LEAST, len(self._index) // 100):
            return
        # The file's blocks stay, unless there would be too many: then this run's replace them.
        keep = len(self._index) + len(self._new) <= MAX_BLOCKS
        old = self._index if keep else self._index[:0]
        index = np.concatenate([old, np.zeros((len(self._new), 8), dtype=np.int64)])
        codes = [self._code if keep else self._code[:0]]
        blobs = [self._blob if keep else b""]
        op, byte = len(codes[0]), len(blobs[0])
        for row, (match, exact, block) in zip(index[len(old) :], self._new, strict=True):
            row[:] = (block.pc, op, len(block.code), block.insns, block.end_pc, byte, len(match), exact)
            codes.append(block.code)
            blobs.append(match)
            op += len(block.code)
            byte += len(match)
        buffer = io.BytesIO()
        blob = np.frombuffer(b"".join(blobs), dtype=np.uint8)
        np.savez(buffer, index=index, code=np.concatenate(codes), blob=blob)
        try:
            write_atomic(self.path, buffer.getvalue())
        except OSError as error:
            log.warning("could not save decoded blocks to %s: %s", self.path, error)
            return
        log.debug("saved %d decoded blocks to %s", len(index), self.path)

    def _load(self, path: Path) -> None:
        try:
            with np.load(path) as data:
                index, code, blob = data["index"], data["code"], data["blob"].tobytes()
        except FileNotFoundError:
            return
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
            log.warning("ignoring the damaged decoded-block cache %s: %s", path, error)
            return
        if not _consistent(index, code, blob):
            log.warning("ignoring the damaged decoded-block cache %s: inconsistent index", path)
            return
        pcs = index[:, _PC]
        order = np.argsort(pcs, kind="stable")
        same = pcs[order[1:]] == pcs[order[:-1]]
        previous = np.full(len(index), -1, dtype=np.int64)
        previous[order[1:][same]] = order[:-1][same]
        self._index, self._code, self._blob = index, code, blob
        self._sorted_pcs = np.unique(pcs)
        self._rows = index.tolist()
        self._row_of = dict(zip(pcs.tolist(), range(len(index)), strict=True))
        self._previous = previous.tolist()


def _matches(code: bytes, match: bytes, exact: bool) -> bool:
    """Whether a block lifted from `match` is the block `code` (fetched now) lifts to."""
    return code == match if exact else code.startswith(match)


def _consistent(index: np.ndarray, code: np.ndarray, blob: bytes) -> bool:
    """Whether the file's arrays fit together (rows in order, each within the arrays)."""
    if index.dtype != np.int64 or index.ndim != 2 or index.shape[1] != 8:
        return False
    if code.dtype != np.int64 or code.ndim != 2 or code.shape[1] != OP_WORDS or not len(index):
        return False
    starts, ops, firsts, lengths = index[:, _START], index[:, _OPS], index[:, _BYTES], index[:, _LENGTH]
    return bool(
        starts[0] == 0
        and firsts[0] == 0
        and (ops > 0).all()
        and (lengths > 0).all()
        and (starts[1:] == starts[:-1] + ops[:-1]).all()
        and (firsts[1:] == firsts[:-1] + lengths[:-1]).all()
        and starts[-1] + ops[-1] == len(code)
        and firsts[-1] + lengths[-1] == len(blob)
        and (index[:, _INSNS] > 0).all()
    )


def cache_path(max_insns: int, rows: Set[str] | None, images: Iterable[str | None]) -> Path:
    """The file for blocks decoded by this decoder from the guest these image files make up
    (identified by path, size and modification time: entries are checked byte for byte, so
    the name only keeps one guest's blocks from crowding out another's)."""
    digest = hashlib.sha256(f"{FORMAT}|{decoder_identity(max_insns, rows)}".encode())
    for name in images:
        if name is None:
            continue
        path = Path(name)
        try:
            stat = path.stat()
        except OSError:
            continue
        digest.update(f"|{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    return cache_dir() / f"decoded-{digest.hexdigest()[:24]}.npz"


def decoder_identity(max_insns: int, rows: Set[str] | None) -> str:
    """What a lifted block depends on besides its pc and bytes: the decoder and its settings."""
    return f"{_decoder_hash()}|{max_insns}|{sorted(rows or ())}"


_hash: str | None = None


def _decoder_hash() -> str:
    """A hash of the frontend's and the IR's sources: a change to the decoder, a lifter or the
    op encoding makes earlier files unreachable."""
    global _hash
    if _hash is None:
        import dbt.frontends.riscv64 as frontend
        import dbt.ir as ir

        digest = hashlib.sha256()
        for package in (frontend, ir):
            root = Path(package.__file__).parent
            for source in sorted(root.rglob("*.py")):
                digest.update(source.relative_to(root).as_posix().encode())
                digest.update(source.read_bytes())
        _hash = digest.hexdigest()[:16]
    return _hash
