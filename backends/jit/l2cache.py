"""L2: the persistent on-disk cache of compiled regions, shared by every dbt run on the machine.

Entries are object files keyed by everything the code depends on (the region's encoded IR and
guest pcs, the IR semantics, the code generator, the host CPU and LLVM), written atomically so
concurrent dbt processes are safe. Each entry carries a checksum: a truncated or corrupt entry
is logged, deleted and rebuilt, never executed. A size cap evicts the least recently used.
An alias (a small file holding a key) gives an entry a second name: see JitManager._alias.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from dbt.backends.diskcache import cache_dir, write_atomic

log = logging.getLogger("dbt.jit")

#: Default size cap of the region cache.
DEFAULT_CAP = 512 << 20


@dataclass(frozen=True, slots=True)
class CacheInfo:
    path: Path
    entries: int
    size: int
    cap: int


class RegionCache:
    def __init__(self, directory: Path | None = None, cap: int = DEFAULT_CAP, enabled: bool = True) -> None:
        self.directory = directory or cache_dir() / "regions"
        self.cap = cap
        self.enabled = enabled
        self.hits = 0
        self.misses = 0
        self._written = 0

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.o"

    def get(self, key: str) -> tuple[bytes, str] | None:
        """(object code, entry symbol), or None on a miss or a damaged entry."""
        if not self.enabled:
            return None
        path = self._path(key)
        try:
            data = path.read_bytes()
        except OSError:
            self.misses += 1
            return None
        header, _, object_code = data.partition(b"\n")
        fields = header.decode(errors="replace").split()
        if len(fields) != 2 or hashlib.sha256(object_code).hexdigest() != fields[1]:
            log.warning("damaged region cache entry %s: deleted, compiling again", path)
            path.unlink(missing_ok=True)
            self.misses += 1
            return None
        try:
            os.utime(path)  # recency for LRU eviction
        except OSError:
            pass
        self.hits += 1
        return object_code, fields[0]

    def get_alias(self, alias: str) -> str | None:
        """The key an alias names (a region's second name: see JitManager._alias), or None."""
        if not self.enabled:
            return None
        path = self._path(alias).with_suffix(".alias")
        try:
            key = path.read_text()
            os.utime(path)  # recency for LRU eviction, as an entry's
        except (OSError, UnicodeDecodeError):
            return None
        return key if len(key) == 64 and all(c in "0123456789abcdef" for c in key) else None

    def put_alias(self, alias: str, key: str) -> None:
        if not self.enabled:
            return
        try:
            write_atomic(self._path(alias).with_suffix(".alias"), key.encode())
        except OSError as exc:
            log.warning("cannot write the region cache (%s): continuing without it", exc)

    def put(self, key: str, object_code: bytes, symbol: str) -> None:
        if not self.enabled:
            return
        digest = hashlib.sha256(object_code).hexdigest()
        try:
            write_atomic(self._path(key), f"{symbol} {digest}\n".encode() + object_code)
        except OSError as exc:
            log.warning("cannot write the region cache (%s): continuing without it", exc)
            return
        self._written += len(object_code)
        if self._written > self.cap // 16:
            self._written = 0
            self.evict()

    def _entries(self) -> list[tuple[float, int, Path]]:
        entries = []
        if not self.directory.is_dir():
            return entries
        for sub in self.directory.iterdir():
            if not sub.is_dir():
                continue
            for path in sub.iterdir():
                if path.suffix not in (".o", ".alias"):
                    continue
                try:
                    st = path.stat()
                except OSError:
                    continue
                entries.append((st.st_mtime, st.st_size, path))
        return entries

    def evict(self) -> None:
        """Delete least recently used entries until the cache fits its cap."""
        entries = sorted(self._entries())
        total = sum(size for _, size, _ in entries)
        for _, size, path in entries:
            if total <= self.cap:
                break
            path.unlink(missing_ok=True)
            total -= size

    def info(self) -> CacheInfo:
        entries = self._entries()
        regions = sum(path.suffix == ".o" for _, _, path in entries)
        return CacheInfo(self.directory, regions, sum(size for _, size, _ in entries), self.cap)

    def clear(self) -> int:
        """Delete every entry; the number of regions deleted."""
        entries = self._entries()
        for _, _, path in entries:
            path.unlink(missing_ok=True)
        return sum(path.suffix == ".o" for _, _, path in entries)
