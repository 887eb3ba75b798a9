"""`dbt bench`: the head-to-head benchmark. The same C programs run natively, under
qemu-riscv64 and under dbt (cold and warm region cache, and interpreter only), in one session,
interleaved, and the table gives medians and ratios.

The guests are the repository's own C sources (tests/guests), built by tests/guestbuild.py, so
this needs a source checkout (the editable install the README sets up). dbt runs as a separate
process each time (`python -m dbt run`), as a user would run it: start-up, the interpreter
kernel load and L2 cache loads are part of its time, as qemu's start-up is part of qemu's.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from dbt.errors import DbtError

#: The default suite: the two ~3 s compute guests and the four kernels.
DEFAULT_GUESTS = (
    "compute:1800",
    "fpcompute:1400",
    "kernels:arith:1800",
    "kernels:memory:3600",
    "kernels:branch:2000",
    "kernels:fp:2000",
)
#: Small sizes for a smoke run (--quick): every configuration once, in seconds.
QUICK_GUESTS = ("compute:5", "kernels:fp:10")


class BenchError(DbtError):
    """The benchmark cannot run (no source checkout, a build or a run failed)."""


@dataclass
class GuestResult:
    spec: str
    command: list[str]
    toolchain: str
    times: dict[str, list[float]] = field(default_factory=dict)
    median: dict[str, float] = field(default_factory=dict)
    vs_qemu: dict[str, float] = field(default_factory=dict)
    vs_native: dict[str, float] = field(default_factory=dict)
    #: dbt's own --stats figures per dbt configuration: MIPS, compile ms per guest instruction.
    mips: dict[str, float] = field(default_factory=dict)
    compile_ms_per_insn: dict[str, float] = field(default_factory=dict)


def source_root() -> Path:
    root = Path(__file__).resolve().parent.parent
    if not (root / "tests" / "guestbuild.py").is_file():
        raise BenchError(f"dbt bench needs a source checkout of dbt (no tests/guestbuild.py under {root})")
    return root


def _guestbuild():
    tests = str(source_root() / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
    import guestbuild

    return guestbuild


def _toolchain() -> str:
    return "gcc-glibc-static" if shutil.which("riscv64-linux-gnu-gcc") else "zig-musl-static"


def _native_compiler() -> str | None:
    return next((c for c in ("cc", "gcc", "clang") if shutil.which(c)), None)


def parse_spec(spec: str) -> tuple[str, list[str]]:
    """'compute:1800' -> ('compute', ['1800']); 'kernels:fp:10' -> ('kernels', ['fp', '10'])."""
    name, *args = spec.split(":")
    if not re.fullmatch(r"[A-Za-z0-9_]+", name):
        raise BenchError(f"bad guest {spec!r}: expected NAME[:ARG...]")
    return name, args


def _timed(cmd: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    result = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        tail = result.stderr.strip().splitlines()[-1:] or ["no output"]
        raise BenchError(f"{' '.join(cmd)} failed with status {result.returncode}: {tail[0]}")
    return elapsed, result.stderr


def _stats(stderr: str) -> tuple[float | None, float | None]:
    mips = re.search(r"([\d.]+) MIPS", stderr)
    per_insn = re.search(r"([\d.]+) ms per guest instruction", stderr)
    return (
        float(mips.group(1)) if mips else None,
        float(per_insn.group(1)) if per_insn else None,
    )


def run_bench(
    specs: list[str], runs: int = 3, interp: bool = True, cache_dir: str | None = None, log=print
) -> list[GuestResult]:
    """Time every configuration of every guest `runs` times, interleaved; medians and ratios."""
    if runs < 1:
        raise BenchError("--runs must be 1 or more")
    guestbuild = _guestbuild()
    toolchain = _toolchain()
    qemu = shutil.which("qemu-riscv64")
    native_cc = _native_compiler()
    dbt = [sys.executable, "-m", "dbt", "run"]
    results = []
    with tempfile.TemporaryDirectory(prefix="dbt-bench-") as tmp:
        env = dict(os.environ)
        # The warm runs use the cache directory (the user's unless `cache_dir`), filled by a
        # run before they are timed; the cold runs use --no-cache (the compiled interpreter
        # still comes from the cache: compiling it is a one-time install cost, not a run's).
        if cache_dir:
            env["DBT_CACHE_DIR"] = cache_dir
        for spec in specs:
            name, args = parse_spec(spec)
            try:
                guest = str(guestbuild.build_guest(name, toolchain))
            except (FileNotFoundError, guestbuild.GuestBuildError, guestbuild.ToolchainUnavailable) as exc:
                raise BenchError(f"cannot build guest {name}: {exc}") from exc
            configs: dict[str, list[str]] = {}
            if native_cc:
                native = Path(tmp) / f"{name}-native"
                source = guestbuild.GUEST_DIR / f"{name}.c"
                build = subprocess.run(
                    [native_cc, "-O2", "-o", str(native), str(source), "-lm"], capture_output=True, text=True
                )
                if build.returncode == 0:
                    configs["native"] = [str(native), *args]
            if qemu:
                configs["qemu"] = [qemu, guest, *args]
            configs["dbt cold"] = [*dbt, "--no-cache", "--stats", guest, *args]
            configs["dbt warm"] = [*dbt, "--stats", guest, *args]
            if interp:
                configs["dbt interp"] = [*dbt, "--no-jit", "--stats", guest, *args]
            log(f"{spec}: filling the region cache")
            _timed(configs["dbt warm"], env)
            result = GuestResult(spec, [guest, *args], toolchain, {label: [] for label in configs})
            for run in range(runs):
                log(f"{spec}: run {run + 1} of {runs}")
                for label, cmd in configs.items():
                    seconds, stderr = _timed(cmd, env)
                    result.times[label].append(seconds)
                    if label.startswith("dbt"):
                        mips, per_insn = _stats(stderr)
                        if mips is not None:
                            result.mips[label] = mips
                        if per_insn and label == "dbt cold":
                            result.compile_ms_per_insn[label] = per_insn
            result.median = {k: statistics.median(v) for k, v in result.times.items()}
            for label, seconds in result.median.items():
                if "qemu" in result.median:
                    result.vs_qemu[label] = seconds / result.median["qemu"]
                if "native" in result.median:
                    result.vs_native[label] = seconds / result.median["native"]
            results.append(result)
    return results


def machine_description() -> dict[str, object]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    qemu = shutil.which("qemu-riscv64")
    qemu_version = ""
    if qemu:
        out = subprocess.run([qemu, "--version"], capture_output=True, text=True).stdout
        qemu_version = out.splitlines()[0] if out else ""
    return {
        "cpu": model or platform.processor(),
        "cores": os.cpu_count(),
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "qemu": qemu_version,
    }


def to_json(results: list[GuestResult], runs: int) -> str:
    return json.dumps(
        {"machine": machine_description(), "runs": runs, "guests": [asdict(r) for r in results]}, indent=2
    )


def render(results: list[GuestResult], runs: int) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"wall time, median of {runs} run{'s' if runs > 1 else ''}")
    for column in ("guest", "configuration", "seconds", "× qemu", "× native", "MIPS"):
        table.add_column(column, justify="left" if column in ("guest", "configuration") else "right")
    for result in results:
        for i, (label, seconds) in enumerate(result.median.items()):
            vs_qemu = result.vs_qemu.get(label)
            vs_native = result.vs_native.get(label)
            mips = result.mips.get(label)
            table.add_row(
                result.spec if i == 0 else "",
                label,
                f"{seconds:.2f}",
                f"{vs_qemu:.2f}" if vs_qemu is not None else "-",
                f"{vs_native:.2f}" if vs_native is not None else "-",
                f"{mips:,.0f}" if mips is not None else "",
            )
        table.add_section()
    console = Console()
    console.print(table)
    machine = machine_description()
    console.print(f"{machine['cpu']}, {machine['cores']} cores, {machine['system']}; {machine['qemu']}")
