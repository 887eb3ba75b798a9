"""Booting Linux: Debian trixie's riscv64 kernel (a package, fetched, not committed) on Debian's
OpenSBI, with an initramfs made here from a script and Debian's static busybox, to its init and
a power-off, under dbt as under qemu-system-riscv64. Slow: a few minutes under dbt."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys

import pytest
from dbtrun import env_without
from debianfetch import fetch, need
from initramfs import busybox_initramfs

QEMU_SYSTEM = shutil.which("qemu-system-riscv64")
OPENSBI = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin"
INIT = """#!/bin/sh
export PATH=/bin
/bin/busybox mount -t proc proc /proc
echo "dbt-init: hello from init"
/bin/busybox uname -r
/bin/busybox grep '^mmu' /proc/cpuinfo
echo "dbt-init: 6 * 7 = $((6 * 7))"
/bin/busybox poweroff -f
"""
APPEND = "console=ttyS0 panic=-1 quiet"
TIERS = {"interp": ("--no-jit",), "jit": ()}


@pytest.fixture(scope="module")
def linux(tmp_path_factory) -> tuple[str, str]:
    """(kernel image, initramfs)."""
    need(QEMU_SYSTEM, "qemu-system-riscv64")
    need(OPENSBI, "Debian's opensbi package")
    root = fetch("--root", "linux-kernel", "linux-image-riscv64@depends")
    kernels = sorted(glob.glob(os.path.join(root, "boot", "vmlinux-*")))
    assert kernels, f"no kernel image in {root}/boot"
    with open(fetch("busybox-static", "./usr/bin/busybox"), "rb") as f:
        initrd = tmp_path_factory.mktemp("linux") / "initramfs.cpio.gz"
        initrd.write_bytes(busybox_initramfs(f.read(), INIT))
    return kernels[-1], str(initrd)


def _init_lines(console: bytes) -> list[bytes]:
    """What the init script printed (the kernel's own lines start with '[')."""
    lines = console.replace(b"\r\n", b"\n").split(b"\n")
    start = next(i for i, line in enumerate(lines) if b"dbt-init: hello" in line)
    return [line for line in lines[start:] if line and not line.startswith(b"[")]


@pytest.mark.slow
@pytest.mark.parametrize("tier", sorted(TIERS))
def test_linux_boots_to_init_and_powers_off(linux, tier):
    kernel, initrd = linux
    boot = {"m": "256M", "kernel": kernel, "initrd": initrd, "append": APPEND}
    qemu_args = [arg for name, value in boot.items() for arg in (f"-{name}", value)]
    dbt_args = [
        arg for name, value in boot.items() for arg in (f"-{name}" if name == "m" else f"--{name}", value)
    ]
    reference = subprocess.run([QEMU_SYSTEM, "-M", "virt", "-nographic", "-bios", OPENSBI, *qemu_args],
                               capture_output=True, stdin=subprocess.DEVNULL, timeout=120)  # fmt: skip
    # Without coverage's tracer, which makes the boot's Python side (TLB misses, traps) ~10x
    # slower; the bare-metal paging test covers that code.
    quiet = env_without(*(name for name in os.environ if name.startswith(("COV_CORE", "COVERAGE_"))))
    result = subprocess.run([sys.executable, "-m", "dbt", "system", *dbt_args, *TIERS[tier]], env=quiet,
                            capture_output=True, stdin=subprocess.DEVNULL, timeout=1200)  # fmt: skip
    assert reference.returncode == 0 and b"dbt-init: hello from init" in reference.stdout
    assert result.returncode == 0, (result.stdout[-3000:] + result.stderr[-2000:]).decode(errors="replace")
    assert _init_lines(result.stdout) == _init_lines(reference.stdout)
    assert result.stderr == b""
