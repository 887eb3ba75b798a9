"""Programs built by others: Debian trixie's riscv64 builds of shfmt (Go: a static binary whose
runtime starts threads at once, parks them on futexes and preempts goroutines with SIGURG),
ripgrep (Rust, dynamically linked against trixie's glibc and PCRE2, searching directories on
several threads; PCRE2 compiles patterns to riscv64 machine code at run time) and busybox's shell
(fork, pipes, wait, traps for signals it sends itself, many applets). Each runs under dbt and
under QEMU 10's qemu-riscv64 on the same inputs, both tiers, as a new user would run it.
(Applets that busybox runs by exec'ing itself are left out: qemu-riscv64 cannot exec a riscv64
program on a host without binfmt_misc, so its answer there is not Linux's.)

The binaries come from tests/tools/fetch-debian-riscv64 (cached in $DBT_REF_DIR, by default
~/.cache/dbt-ref); .ci/run fetches them. Without network access the tests skip, or fail when
DBT_REQUIRE_QEMU_REF=1 (CI).
"""

from __future__ import annotations

import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from dbtrun import dbt_command
from debianfetch import FETCH, fetch

REPO = Path(__file__).resolve().parents[2]
TIERS = {"default": (), "interp": ("--no-jit",)}

MESSY_SCRIPT = b"""#!/bin/sh
if [ -n "$x" ];then
echo   "a"  ;  fi
for i in 1 2 3
do
  case $i in
  1) echo one;;
  *)   echo other ;;
  esac
done
f() { local a=$1; echo $((a+1)) ; }
x=$(  ls | wc -l ) ;  y=`date`
cat <<EOF
  here $x
EOF
"""


@dataclass(frozen=True)
class Run:
    status: int
    stdout: bytes
    stderr: bytes


@pytest.fixture(scope="module")
def shfmt() -> str:
    return fetch("shfmt", "./usr/bin/shfmt")


@pytest.fixture(scope="module")
def busybox() -> str:
    return fetch("busybox-static", "./usr/bin/busybox")


@pytest.fixture(scope="module")
def ripgrep_root() -> str:
    return fetch("--root", "ripgrep", "ripgrep", "libc6", "libgcc-s1", "libpcre2-8-0")


def _both(qemu_ref: str, tier: str, program: str, args: list[str], *, sysroot: str | None = None,
          stdin: bytes = b"", cwd: Path | None = None, setup=None,
          dispositions: dict | None = None) -> tuple[Run, Run]:  # fmt: skip
    """(QEMU's run, dbt's run) of the program; `setup(directory)` prepares a fresh working
    directory for each when given (programs that change files); `dispositions` (host signal:
    SIG_IGN or SIG_DFL) are what both start with, whatever the test runner inherited."""

    def preexec() -> None:
        for signo, disposition in (dispositions or {}).items():
            signal.signal(signo, disposition)

    runs = []
    for runner in ("qemu", "dbt"):
        if runner == "qemu":
            cmd = [qemu_ref, *(["-L", sysroot] if sysroot else []), program, *args]
        else:
            cmd = dbt_command(
                "run", *(["--sysroot", sysroot] if sysroot else []), *TIERS[tier], program, *args
            )
        workdir = cwd
        if setup is not None:
            workdir = cwd / runner
            setup(workdir)
        p = subprocess.run(cmd, input=stdin, capture_output=True, timeout=300, cwd=workdir,
                           preexec_fn=preexec if dispositions else None)  # fmt: skip
        runs.append(Run(p.returncode, p.stdout, p.stderr))
    return runs[0], runs[1]


def _same(reference: Run, result: Run) -> None:
    assert result.status == reference.status, result.stderr.decode(errors="replace")[-2000:]
    assert result.stdout == reference.stdout
    assert result.stderr == reference.stderr


# ---- shfmt ----


@pytest.mark.parametrize("tier", sorted(TIERS))
def test_shfmt_formats(qemu_ref, shfmt, tier):
    _same(*_both(qemu_ref, tier, shfmt, ["-i", "2", "-ci"], stdin=MESSY_SCRIPT))
    _same(*_both(qemu_ref, tier, shfmt, ["--tojson"], stdin=MESSY_SCRIPT))


@pytest.mark.parametrize("tier", sorted(TIERS))
def test_shfmt_diffs_real_scripts(qemu_ref, shfmt, tier):
    """-d over the repository's own shell scripts: the diffs (exit status 1 if any)."""
    scripts = [".ci/run", "tests/tools/fetch-qemu-ref", "tests/tools/fetch-debian-riscv64"]
    _same(*_both(qemu_ref, tier, shfmt, ["-d", "-i", "4", *scripts], cwd=REPO))


@pytest.mark.parametrize("tier", sorted(TIERS))
def test_shfmt_rewrites_a_tree(qemu_ref, shfmt, tier, tmp_path):
    """-l -w on a directory: walks it, rewrites the files that change and lists them."""

    def setup(directory: Path) -> None:
        (directory / "sub").mkdir(parents=True)
        (directory / "a.sh").write_bytes(MESSY_SCRIPT)
        (directory / "sub" / "b.sh").write_bytes(b"echo   ok\n")
        (directory / "sub" / "c.bash").write_bytes(b"#!/bin/bash\nx=( 1   2 )\n[[ $a == b ]]&&echo y\n")
        (directory / "tidy.sh").write_bytes(b"echo tidy\n")

    reference, result = _both(qemu_ref, tier, shfmt, ["-l", "-w", "."], cwd=tmp_path, setup=setup)
    assert sorted(result.stdout.splitlines()) == sorted(reference.stdout.splitlines())
    assert (result.status, result.stderr) == (reference.status, reference.stderr)
    for name in ("a.sh", "sub/b.sh", "sub/c.bash", "tidy.sh"):
        assert (tmp_path / "dbt" / name).read_bytes() == (tmp_path / "qemu" / name).read_bytes(), name


@pytest.mark.parametrize("tier", sorted(TIERS))
def test_shfmt_syntax_error(qemu_ref, shfmt, tier):
    reference, result = _both(qemu_ref, tier, shfmt, [], stdin=b"if then fi (\n")
    assert reference.status == 1 and reference.stderr
    _same(reference, result)


# ---- ripgrep ----


@pytest.mark.parametrize("tier", sorted(TIERS))
def test_ripgrep_parallel_search(qemu_ref, ripgrep_root, tier):
    """A search of the repository's tests on several threads: the same lines (the order of files
    depends on the threads' timing, under any emulator)."""
    rg = f"{ripgrep_root}/usr/bin/rg"
    args = ["-n", "-j", "4", "pthread_create|fork", "tests/guests"]
    reference, result = _both(qemu_ref, tier, rg, args, sysroot=ripgrep_root, cwd=REPO)
    assert result.status == reference.status == 0, result.stderr.decode(errors="replace")[-2000:]
    assert sorted(result.stdout.splitlines()) == sorted(reference.stdout.splitlines())
    assert result.stderr == reference.stderr


@pytest.mark.parametrize("tier", sorted(TIERS))
@pytest.mark.parametrize(
    "args",
    [
        ["--sort", "path", "-c", "pthread_create", "tests/guests"],  # counts per file, in order
        ["--sort", "path", "-P", "-o", r"(?<=fork)\w+", "tests/guests"],  # PCRE2, JIT-compiled
        ["--sort", "path", "-i", "-w", "--context", "1", "SIGURG|sigaltstack", "README.md"],
        ["no such string anywhere", "tests/guests"],  # no match: status 1
        ["-e", "[", "tests/guests"],  # a bad pattern: status 2 and a message
        ["--pcre2-version"],
    ],
    ids=["count", "pcre2-jit", "context", "no-match", "bad-pattern", "version"],
)
def test_ripgrep(qemu_ref, ripgrep_root, tier, args):
    rg = f"{ripgrep_root}/usr/bin/rg"
    _same(*_both(qemu_ref, tier, rg, args, sysroot=ripgrep_root, cwd=REPO))


# ---- busybox sh ----

SHELL_SCRIPTS = {
    "signals": 'trap "echo got USR1" USR1; trap "echo got INT" INT; kill -USR1 $$; kill -INT $$; '
    "sleep 5 & p=$!; kill -TERM $p; wait $p; echo killed $?; sleep 0.1 & echo bg; wait; echo waited $?",
    "pipes": "echo hi | tr a-z A-Z; for i in 1 2 3; do echo $i; done | sort -r | head -2; (exit 3); "
    "echo sub $?; x=$(echo nested $(echo deep)); echo $x; ls /nonexistent 2>&1 | wc -l; exit 7",
    "applets": 'seq 1 2000 | awk "{s+=\\$1} END {print s}"; echo abc | sed s/b/X/; '
    'printf "%s\\n" c a b | sort | tr "\\n" " "; echo; find tests/guests -name "*.c" | wc -l; '
    "md5sum tests/guests/hello.c; wc -c README.md | cut -d' ' -f1 | grep -c .; echo done",
}


@pytest.mark.parametrize("tier", sorted(TIERS))
@pytest.mark.parametrize("script", sorted(SHELL_SCRIPTS))
def test_busybox_shell(qemu_ref, busybox, tier, script):
    # SIGINT at its default: a shell started in the background inherits it ignored (below)
    default = {signal.SIGINT: signal.SIG_DFL}
    _same(
        *_both(qemu_ref, tier, busybox, ["sh", "-c", SHELL_SCRIPTS[script]], cwd=REPO, dispositions=default)
    )


@pytest.mark.parametrize("tier", sorted(TIERS))
def test_busybox_shell_started_with_sigint_ignored(qemu_ref, busybox, tier):
    """A signal ignored when the program starts stays ignored (execve keeps SIG_IGN), and a
    non-interactive shell cannot trap it (POSIX): no "got INT" under QEMU or dbt."""
    ignored = {signal.SIGINT: signal.SIG_IGN}
    reference, result = _both(qemu_ref, tier, busybox, ["sh", "-c", SHELL_SCRIPTS["signals"]], cwd=REPO,
                              dispositions=ignored)  # fmt: skip
    assert b"got USR1" in reference.stdout and b"got INT" not in reference.stdout
    _same(reference, result)


def test_fetch_script_usage():
    result = subprocess.run([str(FETCH)], capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr.startswith("usage:")
