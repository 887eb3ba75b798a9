"""The `dbt` command, run as a user runs it: `python -m dbt ...` in a subprocess.

Guests are the shared test programs built with zig-musl-static (so no cross gcc is needed), plus
tests/cli/guests/printenv.c, which prints argv (argv[0] included) and the whole environment.
"""

from __future__ import annotations

import os
import random
import re
import struct
import subprocess
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest
from dbtrun import dbt_command
from guestbuild import SYSROOT, ToolchainUnavailable, build_guest

from backends import diskcache
from dbt._version import __version__

TOOLCHAIN = "zig-musl-static"
PRINTENV_SOURCE = Path(__file__).resolve().parent / "guests" / "printenv.c"
HELLO_STDOUT = b"Hello from RISC-V!\nargc = 1\nargv[0] = (program)\n"


@dataclass(frozen=True)
class Result:
    status: int
    stdout: bytes
    stderr: bytes

    @property
    def stderr_lines(self) -> list[str]:
        return self.stderr.decode(errors="replace").splitlines()

    @property
    def dbt_lines(self) -> list[str]:
        return [line for line in self.stderr_lines if line.startswith("dbt: ")]


def dbt(*args: str | Path, stdin: bytes = b"", env: dict[str, str] | None = None, cwd=None) -> Result:
    p = subprocess.run(
        dbt_command(*map(str, args)), input=stdin, capture_output=True, env=env, cwd=cwd, timeout=300
    )
    assert b"Traceback" not in p.stderr, p.stderr.decode(errors="replace")
    return Result(p.returncode, p.stdout, p.stderr)


def one_error_line(result: Result) -> str:
    lines = result.stderr_lines
    assert len(lines) == 1 and lines[0].startswith("dbt: error: "), lines
    return lines[0]


def guest(name: str) -> Path:
    try:
        return build_guest(name, TOOLCHAIN)
    except ToolchainUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def hello() -> Path:
    return guest("hello")


@pytest.fixture(scope="module")
def exitcode() -> Path:
    return guest("exitcode")


@pytest.fixture(scope="module")
def filter_guest() -> Path:
    return guest("filter")


@pytest.fixture(scope="module")
def printenv(tmp_path_factory) -> Path:
    guest("hello")  # skips when zig is missing
    out = tmp_path_factory.mktemp("printenv") / "printenv"
    cmd = [sys.executable, "-m", "ziglang", "cc", "-target", "riscv64-linux-musl", "-static", "-O2"]
    subprocess.run([*cmd, "-o", str(out), str(PRINTENV_SOURCE)], check=True, capture_output=True)
    return out


def printenv_output(result: Result) -> tuple[list[str], dict[str, str]]:
    argv, env = [], {}
    for line in result.stdout.decode().splitlines():
        if line.startswith("env="):
            name, _, value = line[4:].partition("=")
            env[name] = value
        else:
            argv.append(line.split("=", 1)[1])
    return argv, env


def text_segment(path: Path) -> range:
    """The address range of the executable PT_LOAD of a fixed-address ELF."""
    data = path.read_bytes()
    phoff = struct.unpack_from("<Q", data, 32)[0]
    for i in range(struct.unpack_from("<H", data, 56)[0]):
        p_type, flags, _off, vaddr, _pa, _filesz, memsz = struct.unpack_from("<IIQQQQQ", data, phoff + 56 * i)
        if p_type == 1 and flags & 1:
            return range(vaddr, vaddr + memsz)
    raise AssertionError("no executable segment")


# ---- options and usage -------------------------------------------------------------------------------------


def test_version():
    result = dbt("--version")
    assert (result.status, result.stdout, result.stderr) == (0, f"dbt {__version__}\n".encode(), b"")


def test_help():
    result = dbt("run", "--help")
    assert result.status == 0
    assert b"GUEST" in result.stdout.upper() and b"--sysroot" in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        pytest.param((), id="no-arguments"),
        pytest.param(("run",), id="run-without-guest"),
        pytest.param(("--bogus",), id="unknown-option"),
        pytest.param(("bogus-command",), id="unknown-command"),
    ],
)
def test_usage_errors_exit_2(args):
    result = dbt(*args)
    assert result.status == 2
    assert result.stdout + result.stderr  # some usage text


def test_unknown_run_option_before_guest_is_a_usage_error(hello):
    result = dbt("run", "--bogus", hello)
    assert result.status == 2
    assert result.stdout == b""


def test_unsupported_arch(hello):
    result = dbt("run", "--arch", "x86_64", hello)
    assert result.status == 2
    assert "x86_64" in one_error_line(result)
    assert result.stdout == b""


def test_arch_riscv64_is_accepted(hello):
    result = dbt("run", "--arch", "riscv64", hello)
    assert (result.status, result.stdout) == (0, HELLO_STDOUT)


@pytest.mark.parametrize(
    "args",
    [("--log-level", "bogus"), ("--trace", "bogus"), ("--cpu", "bogus"), ("--cpu", "rv64gc,bogus=on")],
)
def test_bad_option_values_exit_2(args, hello):
    result = dbt("run", *args, hello)
    assert result.status == 2
    assert "bogus" in one_error_line(result)


def test_cpu_models_run_rv64gc_programs(hello):
    for model in ("rv64gc", "rva22u64", "rva23u64-novector", "max", "rv64gc,zba=on,zbb=off"):
        result = dbt("run", "--cpu", model, hello)
        assert (result.status, result.stdout) == (0, HELLO_STDOUT), model
    result = dbt("run", "--cpu", "rv64gc,v=on", hello)
    assert result.status == 2 and "vector" in one_error_line(result)


def test_bad_dbt_log_variable_exits_2(hello):
    result = dbt("run", hello, env={**os.environ, "DBT_LOG": "bogus"})
    assert result.status == 2
    assert "bogus" in one_error_line(result)


def test_missing_guest(tmp_path):
    missing = tmp_path / "no-such-guest"
    result = dbt("run", missing)
    assert result.status == 127
    assert result.stderr == f"dbt: error: {missing}: No such file or directory\n".encode()
    assert result.stdout == b""


# ---- arguments and exit status -----------------------------------------------------------------------------


def test_everything_after_guest_goes_to_the_guest(hello):
    result = dbt("run", hello, "-x", "--strace", "a", "--", "--help")
    assert result.status == 0
    assert result.stdout == (
        b"Hello from RISC-V!\nargc = 6\nargv[0] = (program)\nargv[1] = -x\nargv[2] = --strace\n"
        b"argv[3] = a\nargv[4] = --\nargv[5] = --help\n"
    )
    assert result.stderr == b""  # --strace went to the guest, not to dbt


def test_double_dash_before_guest(hello):
    result = dbt("run", "--", hello, "y")
    assert (result.status, result.stdout.splitlines()[-1]) == (0, b"argv[1] = y")


@pytest.mark.parametrize("code", [0, 1, 42, 255])
def test_exit_status_passthrough(code, exitcode):
    result = dbt("run", exitcode, str(code))
    assert result.status == code
    assert result.stdout == f"exitcode: exiting with {code}\n".encode()
    assert result.stderr == f"exitcode: status {code}\n".encode()


def test_exit_status_is_taken_modulo_256(exitcode):
    result = dbt("run", exitcode, "300")
    assert result.status == 300 % 256


SIGNALS = [
    ("abort", 134, "SIGABRT"),
    ("segv", 139, "SIGSEGV"),
    ("ill", 132, "SIGILL"),
    ("bus", 135, "SIGBUS"),
    ("fpe", 136, "SIGFPE"),
    ("kill", 143, "SIGTERM"),
]


@pytest.mark.parametrize(("mode", "status", "name"), SIGNALS, ids=[s[0] for s in SIGNALS])
def test_fatal_signal(mode, status, name, exitcode):
    result = dbt("run", exitcode, mode)
    assert result.status == status
    assert result.stdout == f"exitcode: mode {mode}\n".encode()
    assert result.stderr_lines[0] == f"exitcode: about to {mode}"  # the guest's own line comes first
    assert len(result.dbt_lines) == 1 and len(result.stderr_lines) == 2, result.stderr_lines
    assert name in result.dbt_lines[0]


def test_segv_names_pc_and_fault_address(exitcode):
    result = dbt("run", exitcode, "segv")
    match = re.fullmatch(
        r"dbt: guest terminated by SIGSEGV \(.*\) at pc (0x[0-9a-f]+), address 0x0", result.dbt_lines[0]
    )
    assert match, result.dbt_lines
    assert int(match.group(1), 16) in text_segment(exitcode)


def test_segv_wild_address(exitcode):
    result = dbt("run", exitcode, "segv-wild")
    assert result.status == 139
    assert result.dbt_lines[0].endswith("address 0x4000000000000")


# ---- environment and argv[0] -------------------------------------------------------------------------------


def guest_env() -> dict[str, str]:
    """The host's environment with a changed HOME; the cache stays where it is, since without
    DBT_CACHE_DIR a changed HOME would move it and dbt would recompile its interpreter (minutes)."""
    home_free = {"DBT_CACHE_DIR": str(diskcache.cache_dir())}
    return {**os.environ, **home_free, "HOME": "/home/someone", "DBT_TEST_VAR": "host value"}


def test_environment_is_the_hosts(printenv):
    env = guest_env()
    result = dbt("run", printenv, env=env)
    assert result.status == 0
    assert printenv_output(result)[1] == env


def test_env_and_unset_env(printenv):
    env = guest_env()
    args = ("--env", "FOO=bar", "-E", "EQ=a=b", "-E", "DBT_TEST_VAR=changed", "--unset-env", "HOME")
    result = dbt("run", *args, "-U", "NOT_SET_ANYWAY", printenv, env=env)
    assert result.status == 0
    expected = {k: v for k, v in env.items() if k != "HOME"}
    expected.update(FOO="bar", EQ="a=b", DBT_TEST_VAR="changed")
    assert printenv_output(result)[1] == expected


def test_argv0(printenv):
    result = dbt("run", "--argv0", "NAME", printenv, "x")
    assert printenv_output(result)[0] == ["NAME", "x"]
    result = dbt("run", "-0", "", printenv)
    assert printenv_output(result)[0] == [""]


def test_argv0_defaults_to_guest_as_given(printenv):
    result = dbt("run", f"./{printenv.name}", "y", cwd=printenv.parent)
    assert printenv_output(result)[0] == [f"./{printenv.name}", "y"]


# ---- standard streams --------------------------------------------------------------------------------------


def filter_expectation(data: bytes) -> tuple[bytes, bytes]:
    """What tests/guests/filter.c prints for `data`: stdout and the counts line on stderr."""
    upper = bytes(c - 32 if 97 <= c <= 122 else c for c in data)
    words, in_word = 0, False
    for c in data:
        space = c in b" \n\t\r\v\f"
        words += not space and not in_word
        in_word = not space
    counts = (
        f"lines {data.count(10)} words {words} bytes {len(data)} nul {data.count(0)} "
        f"high {sum(c >= 0x80 for c in data)} crc32 {zlib.crc32(data):08x}\n"
    )
    return upper, counts.encode()


def test_binary_stdin_stdout_stderr(filter_guest):
    rng = random.Random(7)
    data = bytes(range(256)) * 64 + rng.randbytes(150_000) + b"\r\n\0tail without newline"
    result = dbt("run", filter_guest, stdin=data)
    stdout, stderr = filter_expectation(data)
    assert result.status == 0
    assert result.stdout == stdout
    assert result.stderr == stderr


def test_empty_stdin(filter_guest):
    result = dbt("run", filter_guest)
    assert (result.status, result.stdout, result.stderr) == (0, b"", filter_expectation(b"")[1])


# ---- strace, trace, stats, logging -------------------------------------------------------------------------


def test_strace(filter_guest):
    result = dbt("run", "--strace", filter_guest, stdin=b"abc\n")
    assert result.status == 0
    assert result.stdout == b"ABC\n"  # the trace goes to stderr only
    lines = result.stderr_lines
    calls = [line for line in lines if re.match(r"\d+ \w+\(", line)]
    assert any(re.fullmatch(r"\d+ read\(0, 0x[0-9a-f]+, 4093\) = 4", line) for line in calls), calls
    assert any(re.fullmatch(r"\d+ write\(1, 0x[0-9a-f]+, 4\) = 4", line) for line in calls), calls
    assert re.fullmatch(r"\d+ exit_group\(0\)", calls[-1]), calls
    assert len({line.split()[0] for line in calls}) == 1  # one pid throughout
    assert filter_expectation(b"abc\n")[1].decode().rstrip("\n") in lines  # the guest's own stderr


def test_strace_off_by_default(filter_guest):
    result = dbt("run", filter_guest, stdin=b"abc\n")
    assert not any("exit_group" in line for line in result.stderr_lines)


IN_HEADER = re.compile(r"IN: (0x[0-9a-f]+)")
INSN_LINE = re.compile(r"0x([0-9a-f]{16}):\s+([0-9a-f]{4}|[0-9a-f]{8})\s+\S+.*")


def check_in_asm(text: str, entry: int) -> None:
    lines = [line for line in text.splitlines() if line.strip() and not set(line) <= {"-"}]
    headers = [IN_HEADER.fullmatch(line) for line in lines]
    blocks = [int(h.group(1), 16) for h in headers if h]
    assert blocks[0] == entry
    assert len(blocks) > 50
    insns = [line for line, h in zip(lines, headers) if not h]
    assert insns and all(INSN_LINE.fullmatch(line) for line in insns), insns[:5]
    # Each block lists its instructions starting at its own address.
    first_insn = lines[lines.index(f"IN: {blocks[0]:#x}") + 1]
    assert int(INSN_LINE.fullmatch(first_insn).group(1), 16) == entry
    assert any(" ecall" in line for line in insns)


def elf_entry(path: Path) -> int:
    return struct.unpack_from("<Q", path.read_bytes(), 24)[0]


def test_trace_in_asm_to_stderr(hello):
    result = dbt("run", "--trace", "in_asm", hello)
    assert (result.status, result.stdout) == (0, HELLO_STDOUT)
    check_in_asm(result.stderr.decode(), elf_entry(hello))


def test_trace_in_asm_to_file(hello, tmp_path):
    trace = tmp_path / "trace.txt"
    result = dbt("run", "-d", "in_asm", "--trace-file", trace, hello)
    assert (result.status, result.stdout, result.stderr) == (0, HELLO_STDOUT, b"")
    check_in_asm(trace.read_text(), elf_entry(hello))


def test_stats(hello):
    result = dbt("run", "--stats", hello)
    assert (result.status, result.stdout) == (0, HELLO_STDOUT)
    line, jit_line = result.stderr_lines
    for words in ("instructions retired", "blocks decoded", "MIPS"):
        assert words in line
    retired = re.search(r"([\d,]+) instructions retired", line)
    assert retired and int(retired.group(1).replace(",", "")) > 1000
    assert jit_line.startswith("dbt: JIT: ") and "regions installed" in jit_line


def test_diff_runs_the_jit_shadow(hello):
    result = dbt("run", "--diff", "--stats", hello)
    assert (result.status, result.stdout) == (0, HELLO_STDOUT)
    compared = re.search(r"differential: ([\d,]+) events compared", result.stderr.decode())
    assert compared and int(compared.group(1).replace(",", "")) > 0


def test_stats_without_the_jit(hello):
    result = dbt("run", "--stats", "--no-jit", hello)
    assert (result.status, result.stdout) == (0, HELLO_STDOUT)
    (line,) = result.stderr_lines
    assert "instructions retired" in line


@pytest.mark.parametrize("how", ["env", "option"])
def test_debug_logging(how, hello):
    if how == "env":
        result = dbt("run", hello, env={**os.environ, "DBT_LOG": "debug"})
    else:
        result = dbt("run", "--log-level", "debug", hello)
    assert (result.status, result.stdout) == (0, HELLO_STDOUT)
    assert "DEBUG" in result.stderr.decode()


def test_default_log_level_is_quiet(hello):
    env = {k: v for k, v in os.environ.items() if k != "DBT_LOG"}
    result = dbt("run", "--log-level", "error", hello, env=env)
    assert (result.status, result.stdout, result.stderr) == (0, HELLO_STDOUT, b"")


# ---- a dynamically linked guest ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dynamic_hello() -> Path:
    try:
        return build_guest("hello", "gcc-glibc-dynamic")
    except ToolchainUnavailable as exc:
        pytest.skip(str(exc))


@pytest.mark.parametrize("option", ["--sysroot", "-L"])
def test_sysroot_runs_dynamic_guest(option, dynamic_hello):
    result = dbt("run", option, SYSROOT, dynamic_hello, "z")
    assert result.status == 0
    assert result.stdout == b"Hello from RISC-V!\nargc = 2\nargv[0] = (program)\nargv[1] = z\n"


def test_dynamic_guest_without_sysroot(dynamic_hello):
    result = dbt("run", dynamic_hello, env={k: v for k, v in os.environ.items() if k != "DBT_SYSROOT"})
    assert result.status == 127
    line = one_error_line(result)
    assert "ld-linux-riscv64" in line and "--sysroot" in line


def test_sysroot_from_environment(dynamic_hello):
    result = dbt("run", dynamic_hello, env={**os.environ, "DBT_SYSROOT": SYSROOT})
    assert (result.status, result.stdout.splitlines()[0]) == (0, b"Hello from RISC-V!")
