"""The compile pool: worker processes turn region IR into object code while the guest runs.

Numba and llvmlite serialise compilation inside one process (ARCHITECTURE.md), so parallel
compilation needs processes. A worker is a plain child process (`python -m
dbt.backends.jit.worker`) fed over its stdin and answering on its stdout; one thread per worker
in dbt waits for its answers (the guest keeps running meanwhile: the kernels release the GIL).

Why not multiprocessing: its workers and its resource tracker inherit the guest's stdout and
stderr, so whoever reads the guest's output waits for them after the guest has exited, and
they outlive dbt when exit_group ends it with os._exit. A worker here holds only its own two
pipes (stderr goes to /dev/null) and leaves when its stdin reaches end of file, which the
kernel arranges however dbt ends. With 0 workers, compiles run in the calling thread.
"""

from __future__ import annotations

import logging
import os
import pickle
import queue
import struct
import subprocess
import sys
import threading
from concurrent.futures import Future
from typing import IO, Any

from dbt.backends.jit.oplib import SemSymbol
from dbt.errors import DbtError

log = logging.getLogger("dbt.jit")

_LENGTH = struct.Struct("<Q")


def default_workers() -> int:
    """cores - 1, at least 1."""
    return max(1, (os.cpu_count() or 2) - 1)


def compile_job(
    ir_text: str, entry: str, symbols: list[SemSymbol], cache_directory: str | None, key: str
) -> tuple[bytes, float]:
    """Compile a region and store it in the L2 cache (the worker does, so the main process only
    maps the result)."""
    from dbt.backends.jit.compiler import compile_ir

    object_code, seconds = compile_ir(ir_text, entry, symbols)
    if cache_directory is not None:
        from pathlib import Path

        from dbt.backends.jit.l2cache import RegionCache

        RegionCache(Path(cache_directory)).put(key, object_code, entry)
    return object_code, seconds


def write_frame(stream: IO[bytes], value: Any) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_LENGTH.pack(len(data)) + data)
    stream.flush()


def read_frame(stream: IO[bytes]) -> Any:
    """The next value, or None at end of file."""
    header = stream.read(_LENGTH.size)
    if len(header) < _LENGTH.size:
        return None
    (size,) = _LENGTH.unpack(header)
    data = stream.read(size)
    if len(data) < size:
        return None
    return pickle.loads(data)


class WorkerDied(DbtError):
    """A compile worker ended without answering."""


class _Worker:
    """One worker process and the thread that feeds it jobs from the pool's queue."""

    def __init__(self, jobs: queue.Queue, index: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "dbt.backends.jit.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            close_fds=True,
        )
        self.jobs = jobs
        self.thread = threading.Thread(target=self._serve, name=f"dbt-jit-{index}", daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        assert self.process.stdin is not None and self.process.stdout is not None
        while True:
            item = self.jobs.get()
            if item is None:
                break
            future, args = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                write_frame(self.process.stdin, args)
                answer = read_frame(self.process.stdout)
            except OSError:
                answer = None
            if answer is None:
                future.set_exception(WorkerDied(f"JIT compile worker {self.process.pid} died"))
                break
            ok, value = answer
            if ok:
                future.set_result(value)
            else:
                future.set_exception(DbtError(value))
        self.close()

    def close(self) -> None:
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass


class CompilePool:
    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._jobs: queue.Queue = queue.Queue()
        self._running: list[_Worker] = []
        self._owner = os.getpid()

    def submit(
        self, ir_text: str, entry: str, symbols: list[SemSymbol], cache_directory: str | None, key: str
    ) -> Future:
        args = (ir_text, entry, symbols, cache_directory, key)
        future: Future = Future()
        if self.workers == 0:
            try:
                future.set_result(compile_job(*args))
            except Exception as exc:  # reported when the result is collected
                future.set_exception(exc)
            return future
        self._ensure_workers()
        self._jobs.put((future, args))
        return future

    def _ensure_workers(self) -> None:
        if self._owner != os.getpid():
            # A guest fork leaves the child with the parent's pool object, whose workers and
            # threads are not its own: drop the copies of their pipes and start afresh.
            for worker in self._running:
                worker.close()
            self._running = []
            self._jobs = queue.Queue()
            self._owner = os.getpid()
        self._running = [w for w in self._running if w.thread.is_alive()]
        while len(self._running) < self.workers:
            self._running.append(_Worker(self._jobs, len(self._running)))
            log.debug("started JIT compile worker %d", self._running[-1].process.pid)

    def shutdown(self) -> None:
        """Stop the workers (pending jobs are dropped; a running compile finishes)."""
        if self._owner != os.getpid():
            return
        for _ in self._running:
            self._jobs.put(None)
        self._running = []
