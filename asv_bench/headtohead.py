"""Head-to-head wall times: the same C program natively, under qemu-riscv64 and under dbt.

    python asv_bench/headtohead.py [--runs 3] [--interp] [GUEST[:SIZE] ...]

Default guests: compute and fpcompute from tests/guests at sizes that take about 3 s under
qemu-riscv64. The riscv64 builds are gcc -O2 static glibc (tests/guestbuild.py); the native build
is the host's gcc -O2. dbt runs cold (--no-cache: every region compiled during the run) and warm
(regions loaded from the disk cache, filled by a run before the measured ones); --interp adds
--no-jit runs. Every configuration runs --runs times, interleaved, and the table gives medians
and ratios to qemu-riscv64 measured in the same session, plus dbt's steady MIPS and compile cost
from --stats of the warm and cold runs.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from guestbuild import GUEST_DIR, build_guest  # noqa: E402

DEFAULT = ["compute:1800", "fpcompute:1400"]


def timed(cmd: list[str]) -> tuple[float, str]:
    started = time.perf_counter()
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({result.returncode}): {result.stderr[-500:]}")
    return elapsed, result.stderr


def native_build(name: str, directory: Path) -> Path:
    out = directory / f"{name}-native"
    subprocess.run(["gcc", "-O2", "-o", str(out), str(GUEST_DIR / f"{name}.c"), "-lm"], check=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("guests", nargs="*", default=DEFAULT)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--interp", action="store_true", help="also time dbt --no-jit")
    options = parser.parse_args()
    dbt = [sys.executable, "-m", "dbt", "run"]
    qemu = shutil.which("qemu-riscv64")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for spec in options.guests:
            name, _, size = spec.partition(":")
            args = [size] if size else []
            guest = str(build_guest(name, "gcc-glibc-static"))
            configs = {"native": [str(native_build(name, Path(tmp))), *args]}
            if qemu:
                configs["qemu"] = [qemu, guest, *args]
            configs["dbt cold"] = [*dbt, "--no-cache", "--stats", guest, *args]
            configs["dbt warm"] = [*dbt, "--stats", guest, *args]
            if options.interp:
                configs["dbt interp"] = [*dbt, "--no-jit", "--stats", guest, *args]
            timed(configs["dbt warm"])  # fills the region cache (and loads the kernel once)
            times: dict[str, list[float]] = {k: [] for k in configs}
            stats: dict[str, str] = {}
            for _ in range(options.runs):
                for label, cmd in configs.items():
                    seconds, stderr = timed(cmd)
                    times[label].append(seconds)
                    stats[label] = stderr
            medians = {k: statistics.median(v) for k, v in times.items()}
            rows.append((spec, medians, stats))
    for spec, medians, stats in rows:
        base = medians.get("qemu")
        print(f"\n{spec}: median of {options.runs} runs (wall seconds; ratio to qemu-riscv64)")
        for label, seconds in medians.items():
            ratio = f"{seconds / base:.2f}x" if base else "-"
            print(f"  {label:12s} {seconds:7.2f} s  {ratio}")
        for label in ("dbt warm", "dbt cold"):
            mips = re.search(r"([\d.]+) MIPS", stats[label])
            jit = re.search(
                r"compile time ([\d.]+) s, median ([\d.]+) ms per region, ([\d.]+) ms per guest", stats[label]
            )
            if mips and jit:
                per_insn = jit.group(3)
                print(
                    f"  {label}: {mips.group(1)} MIPS, compile {jit.group(1)} s, "
                    f"{per_insn} ms per guest instruction"
                )


if __name__ == "__main__":
    main()
