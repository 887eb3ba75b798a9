"""The compile pool: worker processes turn region IR into object code while the guest runs.

Numba and llvmlite serialise compilation inside one process (ARCHITECTURE.md), so parallel
compilation needs processes. A worker is a plain process (`python -m dbt.backends.jit.worker`)
fed over its stdin and answering on its stdout; one thread per worker in dbt waits for its
answers (the guest keeps running meanwhile: the kernels release the GIL). Workers are detached
from dbt (not its children, in their own session), so the guest's wait4(-1) and kill(0, ...)
never meet them; the one trace left is the SIGCHLD of the short-lived process that starts one.

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
from typing import Any

from dbt import hostfd
from dbt.backends.jit.codegen import RegionBlock
from dbt.errors import DbtError
from dbt.hostthreads import start_quiet

log = logging.getLogger("dbt.jit")

_LENGTH = struct.Struct("<Q")


def default_workers() -> int:
    """cores - 1, at least 1."""
    return max(1, (os.cpu_count() or 2) - 1)


def compile_job(
    region: list[RegionBlock], system: bool, entry: str, cache_directory: str | None, key: str
) -> tuple[bytes, float]:
    """Generate a region's IR, compile it and store it in the L2 cache (the worker does all of
    it, so the main process only maps the result: generating the IR in Python took a few
    milliseconds a region, which a Linux boot, making thousands, felt). The seconds returned
    count the compile alone."""
    from dbt.backends.jit.codegen import generate
    from dbt.backends.jit.compiler import compile_ir
    from dbt.backends.jit.helpers import build_helpers

    build_helpers()
    ir_text, symbols = generate(entry, region, system)
    object_code, seconds = compile_ir(ir_text, entry, symbols)
    if cache_directory is not None:
        from pathlib import Path

        from dbt.backends.jit.l2cache import RegionCache

        RegionCache(Path(cache_directory)).put(key, object_code, entry)
    return object_code, seconds


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _read_exactly(fd: int, size: int) -> bytes | None:
    chunks, remaining = [], size
    while remaining:
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def write_frame(fd: int, value: Any) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    _write_all(fd, _LENGTH.pack(len(data)) + data)


def read_frame(fd: int) -> Any:
    """The next value, or None at end of file."""
    header = _read_exactly(fd, _LENGTH.size)
    if header is None:
        return None
    data = _read_exactly(fd, _LENGTH.unpack(header)[0])
    return None if data is None else pickle.loads(data)


#: Run by `python -S -c`: fork, start the worker in a new session in the child, and exit.
_DETACH = (
    "import os, sys\n"
    "if os.fork() == 0:\n"
    "    os.setsid()\n"
    "    os.execv(sys.argv[1], [sys.argv[1], '-m', 'dbt.backends.jit.worker'])\n"
)


class WorkerDied(DbtError):
    """A compile worker ended without answering."""


class _Worker:
    """One worker process and the thread that feeds it jobs from the pool's queue.

    The pipes are raw descriptors read and written with os.read/os.write: a guest fork copies
    this process while the thread may be inside a read, and the child must be able to close
    its copies without a lock (a buffered file's) that nobody in the child will ever release.
    """

    def __init__(self, jobs: queue.Queue, index: int) -> None:
        job_r, job_w = os.pipe()
        answer_r, answer_w = os.pipe()
        self.job_w, self.answer_r = hostfd.claim(job_w), hostfd.claim(answer_r)
        try:
            # The worker must not be dbt's child: the guest's wait4(-1) would wait for it (or
            # reap it). A short-lived intermediate forks it off in a session of its own (out of
            # reach of the terminal's and the guest's process-group signals) and exits.
            starter = subprocess.Popen(
                [sys.executable, "-S", "-c", _DETACH, sys.executable],
                stdin=job_r,
                stdout=answer_w,
                stderr=subprocess.DEVNULL,
                close_fds=True,
            )
            starter.wait()
        except BaseException:
            self.close()
            raise
        finally:
            os.close(job_r)
            os.close(answer_w)
        self.jobs = jobs
        # Signals are the guest's: a process-directed one (SIGALRM of a guest timer, say) must
        # go to the thread that runs the guest, never kill dbt from this one because the guest
        # blocks it there and leaves it at its default action. It starts with all blocked.
        self.thread = threading.Thread(target=self._serve, name=f"dbt-jit-{index}", daemon=True)
        start_quiet(self.thread)

    def _serve(self) -> None:
        while True:
            item = self.jobs.get()
            if item is None:
                break
            future, args = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                write_frame(self.job_w, args)
                answer = read_frame(self.answer_r)
            except OSError:
                answer = None
            if answer is None:
                future.set_exception(WorkerDied("a JIT compile worker died"))
                break
            ok, value = answer
            if ok:
                future.set_result(value)
            else:
                future.set_exception(DbtError(value))
        self.close()

    def close(self) -> None:
        """Close this process's ends of the pipes: the worker sees end of file and leaves."""
        for name in ("job_w", "answer_r"):
            fd = getattr(self, name, -1)
            setattr(self, name, -1)
            if fd >= 0:
                hostfd.release(fd)


class CompilePool:
    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._jobs: queue.Queue = queue.Queue()
        self._running: list[_Worker] = []
        self._owner = os.getpid()

    def submit(
        self, region: list[RegionBlock], system: bool, entry: str, cache_directory: str | None, key: str
    ) -> Future:
        args = (region, system, entry, cache_directory, key)
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
            self.after_fork()
        self._running = [w for w in self._running if w.thread.is_alive()]
        while len(self._running) < self.workers:
            self._running.append(_Worker(self._jobs, len(self._running)))
            log.debug("started JIT compile worker %d", len(self._running))

    def after_fork(self) -> None:
        """In a forked child: the parent's workers and threads are not this process's. Drop the
        copies of their pipes (touching no lock the parent's threads may hold) and start afresh."""
        for worker in self._running:
            worker.close()
        self._running = []
        self._jobs = queue.Queue()
        self._owner = os.getpid()

    def shutdown(self) -> None:
        """Stop the workers (pending jobs are dropped; a running compile finishes)."""
        if self._owner != os.getpid():
            return
        for _ in self._running:
            self._jobs.put(None)
        self._running = []
