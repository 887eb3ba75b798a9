"""dbt's performance over its history (airspeed velocity).

    asv run --python=same --quick     # every benchmark once in this environment (what CI runs)
    asv run                           # a virtualenv per commit, full repeats

`track_` benchmarks report rates (MIPS, instructions or bytes per second, milliseconds per guest
instruction); `time_` benchmarks are timed by asv. Guests are the repository's own C programs
(tests/guests), built with ziglang for riscv64-linux-musl by tests/guestbuild.py, as the tests
build them. Everything runs in-process through the Python API except the end-to-end runs,
which start `python -m dbt run` as a user would.

The compiled interpreter and the JIT's op library come from dbt's cache directory (compiled on
first use; the test suite has done it before CI gets here).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import ClassVar

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "tests") not in sys.path:
    sys.path.insert(0, str(ROOT / "tests"))

TOOLCHAIN = "zig-musl-static"
KERNELS = ["arith", "memory", "branch", "fp"]
#: Sizes for about 100 million instructions under the interpreter (fp: 12 million; soft float).
INTERP_SIZES = {"arith": 70, "memory": 80, "branch": 130, "fp": 100}
#: The JIT runs ten times the interpreter's work.
JIT_FACTOR = 10


def _guest(name: str) -> str:
    from guestbuild import build_guest

    return str(build_guest(name, TOOLCHAIN))


def _quietly(function):
    """Call `function` with fd 1 on /dev/null (the guest's output is not the benchmark's)."""
    import os

    saved, null = os.dup(1), os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    try:
        return function()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(null)


def _run(program: str, args: list[str], **config) -> tuple[float, object]:
    """(seconds, machine) of one in-process run."""
    from dbt import Config, Machine

    machine = Machine(program, [program, *args], config=Config(**config))
    started = time.perf_counter()
    status = _quietly(machine.run)
    elapsed = time.perf_counter() - started
    if status.code != 0:
        raise RuntimeError(f"{program} {' '.join(args)} ended with {status}")
    return elapsed, machine


class Decoder:
    """The generated RV64GC decoder over the .text of a real program (its per-word cache
    cleared, so every word is really decoded)."""

    timeout = 300

    def setup(self) -> None:
        from elftools.elf.elffile import ELFFile

        with open(_guest("compute"), "rb") as file:
            text = ELFFile(file).get_section_by_name(".text").data()
        self.words = []
        offset = 0
        while offset + 4 <= len(text):
            word = int.from_bytes(text[offset : offset + 4], "little")
            self.words.append(word)
            offset += 2 if word & 3 != 3 else 4

    def _decode_all(self) -> float:
        from dbt.frontends.riscv64 import decoder

        decoder._cache.clear()
        started = time.perf_counter()
        for word in self.words:
            decoder.decode(word)
        return time.perf_counter() - started

    def time_decode_text(self) -> None:
        self._decode_all()

    def track_decode_rate(self) -> float:
        return len(self.words) / self._decode_all()

    track_decode_rate.unit = "instructions/s"


class Interpreter:
    """The interpreter alone (--no-jit) on each kernel: guest MIPS."""

    params: ClassVar[list[str]] = KERNELS
    param_names: ClassVar[list[str]] = ["kernel"]
    timeout = 600

    def setup(self, kernel: str) -> None:
        self.program = _guest("kernels")

    def track_mips(self, kernel: str) -> float:
        seconds, machine = _run(self.program, [kernel, str(INTERP_SIZES[kernel])], no_jit=True)
        return machine.instructions / seconds / 1e6

    track_mips.unit = "MIPS"


class Jit:
    """Steady state of the JIT on each kernel: a run whose regions all come from the disk
    cache (filled by a run in setup), so no compile time is in the figure."""

    params: ClassVar[list[str]] = KERNELS
    param_names: ClassVar[list[str]] = ["kernel"]
    timeout = 900

    def setup(self, kernel: str) -> None:
        self.program = _guest("kernels")
        self.args = [kernel, str(INTERP_SIZES[kernel] * JIT_FACTOR)]
        _run(self.program, self.args)

    def track_mips(self, kernel: str) -> float:
        seconds, machine = _run(self.program, self.args)
        return machine.instructions / seconds / 1e6

    track_mips.unit = "MIPS"


class Compile:
    """Region compile latency: every region of a small compute run compiled in this thread
    (--jit-threads 0, --no-cache), median milliseconds per guest instruction."""

    timeout = 900

    def setup(self) -> None:
        self.program = _guest("compute")

    def track_compile_ms_per_guest_insn(self) -> float:
        _, machine = _run(self.program, ["3"], jit_threads=0, no_cache=True, jit_threshold=20)
        stats = machine.process.jit.stats
        if not stats.ms_per_insn:
            raise RuntimeError("no region was compiled")
        return statistics.median(stats.ms_per_insn)

    track_compile_ms_per_guest_insn.unit = "ms per guest instruction"


class RegionCacheLoad:
    """L2: loading a compiled region from the disk cache and linking it (checksum, MCJIT load,
    symbol lookup), per region."""

    timeout = 600

    def setup(self) -> None:
        from dbt.backends.jit.l2cache import RegionCache

        self.directory = Path(tempfile.mkdtemp(prefix="dbt-asv-l2-"))
        self.cache = RegionCache(self.directory)
        self.keys = []
        for index, (object_code, symbol) in enumerate(self._compiled_regions()):
            key = f"{index:064x}"
            self.cache.put(key, object_code, symbol)
            self.keys.append(key)

    @staticmethod
    def _compiled_regions(limit: int = 40):
        """(object code, symbol) of the regions a small compute run compiles."""
        from dbt import Config, Machine

        program = _guest("compute")
        machine = Machine(program, [program, "1"], config=Config(jit_threads=0, no_cache=True))
        pool = machine.process.jit.pool
        compiled = []
        submit = pool.submit

        def capture(region, system, symbol, directory, key):
            future = submit(region, system, symbol, directory, key)
            compiled.append((future, symbol))
            return future

        pool.submit = capture
        _quietly(machine.run)
        return [(future.result()[0], symbol) for future, symbol in compiled[:limit]]

    def teardown(self) -> None:
        import shutil

        shutil.rmtree(self.directory, ignore_errors=True)

    def track_load_ms_per_region(self) -> float:
        from dbt.backends.jit.helpers import load_region

        started = time.perf_counter()
        library = None  # as the JIT installs them: all added to one library (one MCJIT engine)
        for key in self.keys:
            object_code, symbol = self.cache.get(key)
            library = load_region(object_code, into=library)
            library.address(symbol)
        return 1000 * (time.perf_counter() - started) / len(self.keys)

    track_load_ms_per_region.unit = "ms per region"


class BulkMemory:
    """read_slice / write_slice: how system calls move guest data (16 MiB at a time)."""

    SIZE = 16 << 20

    def setup(self) -> None:
        import numpy as np

        from dbt.runtime.memory import PROT_READ, PROT_WRITE, GuestMemory

        self.memory = GuestMemory()
        self.base = 0x1000_0000
        self.memory.map(self.base, self.SIZE, PROT_READ | PROT_WRITE)
        self.data = np.random.default_rng(1).integers(0, 256, self.SIZE, dtype=np.uint8).tobytes()
        self.memory.write_slice(self.base, self.data)

    def teardown(self) -> None:
        self.memory.unmap(self.base, self.SIZE)

    def time_write_slice(self) -> None:
        self.memory.write_slice(self.base, self.data)

    def time_read_slice(self) -> None:
        self.memory.read_slice(self.base, self.SIZE)

    def track_write_bandwidth(self) -> float:
        started = time.perf_counter()
        self.memory.write_slice(self.base, self.data)
        return self.SIZE / (time.perf_counter() - started) / 1e9

    track_write_bandwidth.unit = "GB/s"

    def track_read_bandwidth(self) -> float:
        started = time.perf_counter()
        self.memory.read_slice(self.base, self.SIZE)
        return self.SIZE / (time.perf_counter() - started) / 1e9

    track_read_bandwidth.unit = "GB/s"


class EndToEnd:
    """Whole `python -m dbt run` processes: start-up (hello) and a compute guest (warm cache)."""

    timeout = 900

    def setup(self) -> None:
        self.hello = _guest("hello")
        self.compute = _guest("compute")
        self.run(self.hello)
        self.run(self.compute, "20")

    @staticmethod
    def run(program: str, *args: str) -> None:
        subprocess.run(
            [sys.executable, "-m", "dbt", "run", program, *args], check=True, stdout=subprocess.DEVNULL
        )

    def time_hello(self) -> None:
        self.run(self.hello)

    def time_compute(self) -> None:
        self.run(self.compute, "20")


class Threads:
    """The same integer work (tests/guests/parcompute.c) in 1 and in 4 guest threads, through
    `python -m dbt run` with a warm region cache: `track_speedup` is the 1-thread time over the
    4-thread time (on a 2-core machine at most 2)."""

    timeout = 900
    WORK = "2000"

    def setup(self) -> None:
        self.program = _guest("parcompute")
        for threads in ("1", "4"):  # warm the region cache
            self.run(threads)

    def run(self, threads: str) -> float:
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "dbt", "run", self.program, threads, self.WORK],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        return time.perf_counter() - started

    def time_one_thread(self) -> None:
        self.run("1")

    def time_four_threads(self) -> None:
        self.run("4")

    def track_speedup(self) -> float:
        return statistics.median(self.run("1") / self.run("4") for _ in range(3))

    track_speedup.unit = "x"
