"""Build the project's RISC-V 64 guest programs (``tests/guests/*.c``) on demand.

The test suite and the benchmarks call :func:`build_guest` to get an executable for a guest program
built with one of the :data:`TOOLCHAINS`.  Results are cached in ``tests/.guest-build/`` (or in
``$DBT_GUEST_BUILD_DIR``), keyed by a hash of the source, toolchain, flags and compiler version, so
repeated calls are instant.  Each build is written to a temporary file and moved into place with
:func:`os.replace`, so parallel test processes may build the same guest at the same time.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

__all__ = [
    "GUEST_DIR",
    "SYSROOT",
    "TOOLCHAINS",
    "GuestBuildError",
    "ToolchainUnavailable",
    "available_bare_toolchains",
    "available_toolchains",
    "build_bare",
    "build_dir",
    "build_guest",
    "build_native",
]

#: Directory holding the guest sources (``<name>.c``).
GUEST_DIR = pathlib.Path(__file__).resolve().parent / "guests"
#: Sysroot of the Debian riscv64 cross toolchain; dynamic guests need it at run time (``-L`` in qemu).
SYSROOT = "/usr/riscv64-linux-gnu"
#: Names of the supported toolchains.
TOOLCHAINS: tuple[str, ...] = ("zig-musl-static", "gcc-glibc-static", "gcc-glibc-dynamic")

_GCC = "riscv64-linux-gnu-gcc"
_BASE_FLAGS = ("-O2", "-g0")


class ToolchainUnavailable(RuntimeError):
    """The requested toolchain is not installed on this machine."""


class GuestBuildError(RuntimeError):
    """Compiling a guest program failed."""


def _compiler_command(toolchain: str) -> list[str]:
    """Return the compiler command prefix (with target/link-mode flags) for ``toolchain``."""
    if toolchain == "zig-musl-static":
        if importlib.util.find_spec("ziglang") is None:
            raise ToolchainUnavailable("toolchain zig-musl-static needs the 'ziglang' Python package")
        return [sys.executable, "-m", "ziglang", "cc", "-target", "riscv64-linux-musl", "-static"]
    if toolchain in ("gcc-glibc-static", "gcc-glibc-dynamic"):
        if shutil.which(_GCC) is None:
            raise ToolchainUnavailable(f"toolchain {toolchain} needs {_GCC} on PATH")
        if toolchain == "gcc-glibc-static":
            return [_GCC, "-static"]
        if not os.path.isdir(SYSROOT):
            raise ToolchainUnavailable(f"toolchain {toolchain} needs the sysroot {SYSROOT}")
        return [_GCC]
    raise ValueError(f"unknown toolchain {toolchain!r}; expected one of {', '.join(TOOLCHAINS)}")


@functools.cache
def _compiler_version(toolchain: str) -> str:
    """Return the compiler's version string (part of the cache key)."""
    cmd = _compiler_command(toolchain)
    args = [*cmd[:3], "version"] if toolchain.startswith("zig") else [cmd[0], "--version"]
    proc = subprocess.run(args, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise ToolchainUnavailable(f"{' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout.strip()


def available_toolchains() -> list[str]:
    """Return the names of the toolchains from :data:`TOOLCHAINS` that work on this machine."""
    found = []
    for toolchain in TOOLCHAINS:
        try:
            _compiler_version(toolchain)
        except (ToolchainUnavailable, OSError):
            continue
        found.append(toolchain)
    return found


def build_native(name: str, libc: str) -> pathlib.Path:
    """Compile ``tests/guests/<name>.c`` for this host, with ``libc`` "glibc" (the host's cc) or
    "musl" (zig's, static), for a program whose answers do not depend on the architecture: the
    reference where qemu-riscv64 cannot be one. Cached like the guests."""
    if libc == "musl":
        cmd = [sys.executable, "-m", "ziglang", "cc", "-target", "x86_64-linux-musl", "-static"]
        version_of = [*cmd[:3], "version"]
    else:
        compiler = shutil.which("cc") or shutil.which("gcc")
        if compiler is None:
            raise ToolchainUnavailable("a native build needs cc on PATH")
        cmd, version_of = [compiler], [compiler, "--version"]
    version = subprocess.run(version_of, capture_output=True, text=True, check=False).stdout
    source = GUEST_DIR / f"{name}.c"
    key = hashlib.sha256(source.read_bytes() + "\0".join([*cmd[1:], version]).encode()).hexdigest()[:16]
    output = build_dir() / f"{name}-native-{libc}-{key}"
    if output.is_file():
        return output
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.{os.getpid()}.tmp")
    argv = [*cmd, *_BASE_FLAGS, "-o", str(tmp), str(source), "-lm", "-lpthread"]
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise GuestBuildError(f"native build of {name!r} failed:\n$ {' '.join(argv)}\n{proc.stderr}")
    os.replace(tmp, output)
    return output


#: Bare-metal programs of the system-mode tests: tests/system/guests.
BARE_DIR = pathlib.Path(__file__).resolve().parent / "system" / "guests"
#: Toolchains for bare-metal programs: Debian's cross gcc, and zig for a freestanding target.
BARE_TOOLCHAINS: tuple[str, ...] = ("gcc", "zig")
_BARE_FLAGS = ("-O2", "-mcmodel=medany", "-fno-pic", "-nostdlib", "-ffreestanding", "-static",
               "-Wl,--build-id=none")  # fmt: skip


def available_bare_toolchains() -> list[str]:
    found = ["zig"] if importlib.util.find_spec("ziglang") is not None else []
    if shutil.which(_GCC):
        found.insert(0, "gcc")
    return found


def build_bare(
    name: str, toolchain: str, sources: tuple[str, ...], linker_script: str = "link.ld"
) -> pathlib.Path:
    """Link tests/system/guests/<sources> into a bare-metal RISC-V 64 ELF with `linker_script`
    (cached like the guests)."""
    if toolchain == "gcc":
        if shutil.which(_GCC) is None:
            raise ToolchainUnavailable(f"bare-metal builds with gcc need {_GCC} on PATH")
        cmd = [_GCC, "-march=rv64gc", "-mabi=lp64d", "-no-pie", "-nostartfiles"]
        version = _compiler_version("gcc-glibc-static")
    elif toolchain == "zig":
        cmd = [sys.executable, "-m", "ziglang", "cc", "-target", "riscv64-freestanding-none",
               "-mcpu=generic_rv64+m+a+f+d+c"]  # fmt: skip
        version = _compiler_version("zig-musl-static")
    else:
        raise ValueError(f"unknown bare-metal toolchain {toolchain!r}")
    paths = [BARE_DIR / source for source in (*sources, linker_script)] + sorted(BARE_DIR.glob("*.h"))
    key = hashlib.sha256(("\0".join([*cmd[1:], *_BARE_FLAGS, *sources, linker_script, version])).encode())
    for path in paths:
        key.update(path.read_bytes())
    out_dir = build_dir()
    output = out_dir / f"bare-{name}-{toolchain}-{key.hexdigest()[:16]}"
    if output.is_file():
        return output
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.{os.getpid()}.tmp")
    argv = [*cmd, *_BARE_FLAGS, "-T", str(BARE_DIR / linker_script), "-o", str(tmp),
            *(str(BARE_DIR / source) for source in sources)]  # fmt: skip
    if toolchain == "gcc":
        argv.append("-lgcc")
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise GuestBuildError(
            f"building {name!r} with {toolchain} failed:\n$ {' '.join(argv)}\n{proc.stderr}"
        )
    os.replace(tmp, output)
    return output


def build_dir() -> pathlib.Path:
    """Return the build cache directory (``$DBT_GUEST_BUILD_DIR`` or ``tests/.guest-build``)."""
    env = os.environ.get("DBT_GUEST_BUILD_DIR")
    return pathlib.Path(env) if env else pathlib.Path(__file__).resolve().parent / ".guest-build"


def build_guest(name: str, toolchain: str, extra_flags: tuple[str, ...] = ()) -> pathlib.Path:
    """Compile ``tests/guests/<name>.c`` with ``toolchain`` and return the path of the executable.

    The executable is cached; a second call with the same source, toolchain, flags and compiler
    version returns the cached file without running the compiler.

    Raises:
        FileNotFoundError: there is no guest program called ``name``.
        ToolchainUnavailable: the toolchain is not installed.
        GuestBuildError: the compiler failed (the message includes its output).
    """
    source = GUEST_DIR / f"{name}.c"
    if not source.is_file():
        raise FileNotFoundError(f"no guest program {source}")
    cmd = _compiler_command(toolchain)
    flags = [*_BASE_FLAGS, *extra_flags]
    key = hashlib.sha256()
    for part in (source.read_bytes(), toolchain.encode(), "\0".join(flags).encode()):
        key.update(part)
        key.update(b"\0\1")
    key.update(_compiler_version(toolchain).encode())
    out_dir = build_dir()
    output = out_dir / f"{name}-{toolchain}-{key.hexdigest()[:16]}"
    if output.is_file():
        return output

    out_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{name}-", suffix=".tmp", dir=out_dir)
    os.close(fd)
    tmp = pathlib.Path(tmp_name)
    try:
        argv = [*cmd, *flags, "-o", str(tmp), str(source), "-lm"]
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise GuestBuildError(
                f"building guest {name!r} with {toolchain} failed (exit status {proc.returncode}):\n"
                f"$ {' '.join(argv)}\n{proc.stdout}{proc.stderr}"
            )
        tmp.chmod(0o755)
        os.replace(tmp, output)
    finally:
        tmp.unlink(missing_ok=True)
    return output
