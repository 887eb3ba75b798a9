"""Helpers to run guests under dbt (as a subprocess, exactly as a user would) and qemu-riscv64."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass

from guestbuild import SYSROOT

QEMU = shutil.which("qemu-riscv64")


@dataclass(frozen=True)
class Result:
    status: int
    stdout: bytes
    stderr: bytes


def dbt_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "dbt", *args]


def run_dbt(
    guest: str,
    args: list[str],
    *,
    stdin: bytes | None = None,
    options: tuple[str, ...] = (),
    dynamic: bool = False,
    timeout: float = 600,
    env: dict[str, str] | None = None,
) -> Result:
    """Run `dbt run` on a guest; status is dbt's exit status (128 + n for a fatal signal n)."""
    extra = ("--sysroot", SYSROOT) if dynamic else ()
    cmd = dbt_command("run", *extra, *options, guest, *args)
    p = subprocess.run(cmd, input=stdin if stdin is not None else b"", capture_output=True, timeout=timeout,
                       env=env)  # fmt: skip
    return Result(p.returncode, p.stdout, p.stderr)


def run_qemu(guest: str, args: list[str], *, stdin: bytes | None = None, dynamic: bool = False,
             timeout: float = 600) -> Result:  # fmt: skip
    assert QEMU
    cmd = [QEMU, *(["-L", SYSROOT] if dynamic else []), guest, *args]
    p = subprocess.run(cmd, input=stdin if stdin is not None else b"", capture_output=True, timeout=timeout)
    status = p.returncode if p.returncode >= 0 else 128 - p.returncode
    stderr = b"".join(line for line in p.stderr.splitlines(keepends=True) if not line.startswith(b"qemu: "))
    return Result(status, p.stdout, stderr)


def strip_dbt_lines(stderr: bytes) -> bytes:
    """The guest's own stderr: without dbt's one-line fatal-signal message."""
    return b"".join(line for line in stderr.splitlines(keepends=True) if not line.startswith(b"dbt: "))


def env_without(*names: str) -> dict[str, str]:
    env = dict(os.environ)
    for name in names:
        env.pop(name, None)
    return env
