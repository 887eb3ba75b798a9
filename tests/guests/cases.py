"""Test cases for the guest programs in this directory, with their expected results.

Each :class:`GuestCase` names a guest program (``<guest>.c``), its arguments and stdin, and the
expected exit status, stdout and stderr.  The expected files live in ``expected/``; see README.md for
how they were recorded.  The expected results hold for every toolchain in ``tests/guestbuild.py``
(zig-musl-static, gcc-glibc-static, gcc-glibc-dynamic): all three builds were checked to give
byte-identical output under qemu-riscv64.

Conventions:

* ``args``: the literal argument ``"{tmpdir}"`` (:data:`TMPDIR`) must be replaced by the path of a
  fresh, empty temporary directory.
* ``stdin``: bytes to feed to the program; ``None`` means no input (use ``/dev/null``).
* ``exit_status``: as Python's :mod:`subprocess` reports it, so a death by signal N is ``-N``.
* ``stdout``/``stderr``: a file name in ``expected/``, or ``None`` when that stream is not compared.
  :data:`EMPTY` is the shared file for "nothing is written".
* For the signal deaths (exitcode abort/segv/...), the expected stderr is only the program's own
  output.  Some qemu-riscv64 builds add their own line ("qemu: uncaught target signal 6 (Aborted) -
  core dumped"); the qemu 7.2 used for recording printed none.  A harness running under qemu should
  drop lines starting with "qemu: " before comparing.
* ``qemu_can_run``: False for the minishell cases that exec a RISC-V program.  qemu-riscv64 without
  binfmt_misc cannot execve a RISC-V binary (the exec fails with ENOEXEC), so their expected output
  was recorded from a native x86-64 build of minishell.c instead (the program only ever execs
  itself, so the output is the same).
* ``slow``: the benchmark guests at their default size (about 1.5 s each under qemu-riscv64).
"""

from __future__ import annotations

import dataclasses
import pathlib

__all__ = ["CASES", "EMPTY", "EXPECTED_DIR", "TMPDIR", "GuestCase", "case_by_name"]

#: Directory holding the expected stdout/stderr files.
EXPECTED_DIR = pathlib.Path(__file__).resolve().parent / "expected"
#: Placeholder argument replaced by a fresh temporary directory.
TMPDIR = "{tmpdir}"
#: Expected-output file for a stream that must stay empty.
EMPTY = "empty"


@dataclasses.dataclass(frozen=True)
class GuestCase:
    """One run of a guest program and its expected results."""

    name: str
    guest: str
    args: tuple[str, ...] = ()
    stdin: bytes | None = None
    exit_status: int = 0
    stdout: str | None = None
    stderr: str | None = EMPTY
    qemu_can_run: bool = True
    slow: bool = False

    def substituted_args(self, tmpdir: str | pathlib.Path) -> list[str]:
        """Return ``args`` with :data:`TMPDIR` replaced by ``tmpdir``."""
        return [str(tmpdir) if a == TMPDIR else a for a in self.args]

    def expected_stdout(self) -> bytes | None:
        """Return the expected stdout, or None if it is not compared."""
        return None if self.stdout is None else (EXPECTED_DIR / self.stdout).read_bytes()

    def expected_stderr(self) -> bytes | None:
        """Return the expected stderr, or None if it is not compared."""
        return None if self.stderr is None else (EXPECTED_DIR / self.stderr).read_bytes()


# Input for the filter cases.  The binary one has every byte value, NULs, CR/LF and bytes >= 0x80 and
# is longer than the filter's 4093-byte read buffer, so that chunk boundaries are crossed.
_FILTER_TEXT = (
    b"the quick brown fox\njumps over the lazy dog.\n\n  Mixed CASE words, tabs\tand\r\nCRLF lines\n"
)
_FILTER_BINARY = bytes(range(256)) * 3 + bytes((i * 7919 + 13) % 256 for i in range(9000)) + b"\0tail\xff"

_MINISHELL_SCRIPT = b"""# commands read from stdin; blank lines and comments are skipped

@self --child 2
  vfork @selfname --echo from stdin
@self --echo one two three | @self --wc
@self --env MINISHELL_DEPTH
"""


def _c(
    name: str,
    guest: str,
    *args: str,
    stdin: bytes | None = None,
    exit_status: int = 0,
    stderr: str | None = EMPTY,
    qemu_can_run: bool = True,
    slow: bool = False,
) -> GuestCase:
    """Build a case whose stdout is recorded in ``expected/<name>.stdout``."""
    return GuestCase(name, guest, args, stdin, exit_status, f"{name}.stdout", stderr, qemu_can_run, slow)


CASES: tuple[GuestCase, ...] = (
    _c("hello", "hello", "one", "two words", ""),
    _c("hello-noargs", "hello"),
    _c("arith", "arith"),
    _c("float", "float"),
    _c("atomics", "atomics"),
    _c("heap", "heap"),
    _c("control", "control"),
    # signals: handlers, masks, faults caught with siglongjmp, timers, SIGCHLD; ends by its own SIGUSR1.
    _c("signals", "signals", exit_status=-10),
    # threads: pthreads, mutex/condvar, barrier, TLS, 8 threads on every AMO and LR/SC, pthread_kill.
    _c("threads", "threads"),
    # futex: raw answers (EAGAIN, timeouts on both clocks, wake counts, bitsets, requeue, wake_op).
    _c("futex", "futex"),
    # sigmore: SIGALRM stopping a compute loop, SA_RESTART vs EINTR on a pipe read, registers
    # changed through ucontext, stack overflow on the alternate stack, a signal to a spinning thread.
    _c("sigmore", "sigmore"),
    # events: eventfd and epoll (user data, level/edge, MOD/DEL, errors, a wake from a thread).
    _c("events", "events"),
    # forkthreads: fork from the main thread and from another one (exit codes, signal deaths,
    # threads in the child), MAP_SHARED anonymous memory shared with the child.
    _c("forkthreads", "forkthreads"),
    # robust: robust mutexes whose owner thread or process dies (EOWNERDEAD, consistent,
    # ENOTRECOVERABLE). qemu-riscv64 has no robust lists: recorded from native builds of the
    # program (tests/e2e/test_threads.py checks that record against one).
    _c("robust", "robust", qemu_can_run=False),
    _c("fileio", "fileio", TMPDIR),
    _c("fileio-usage", "fileio", exit_status=2, stderr="fileio-usage.stderr"),
    # filter: stderr holds the line/word/byte counts.
    _c("filter-text", "filter", stdin=_FILTER_TEXT, stderr="filter-text.stderr"),
    _c("filter-binary", "filter", stdin=_FILTER_BINARY, stderr="filter-binary.stderr"),
    _c("filter-empty", "filter", stdin=b"", stderr="filter-empty.stderr"),
    # exitcode: every mode writes one line to stdout and one to stderr before it ends.
    _c("exit-0", "exitcode", "0", stderr="exit-0.stderr"),
    _c("exit-1", "exitcode", "1", exit_status=1, stderr="exit-1.stderr"),
    _c("exit-42", "exitcode", "42", exit_status=42, stderr="exit-42.stderr"),
    _c("exit-255", "exitcode", "255", exit_status=255, stderr="exit-255.stderr"),
    _c("exit-256", "exitcode", "256", exit_status=0, stderr="exit-256.stderr"),  # status is taken mod 256
    _c("exit-usage", "exitcode", exit_status=2, stderr="exit-usage.stderr"),
    _c("exit-abort", "exitcode", "abort", exit_status=-6, stderr="exit-abort.stderr"),
    _c("exit-segv", "exitcode", "segv", exit_status=-11, stderr="exit-segv.stderr"),
    _c("exit-segv-wild", "exitcode", "segv-wild", exit_status=-11, stderr="exit-segv-wild.stderr"),
    _c("exit-ill", "exitcode", "ill", exit_status=-4, stderr="exit-ill.stderr"),
    _c("exit-fpe", "exitcode", "fpe", exit_status=-8, stderr="exit-fpe.stderr"),
    _c("exit-bus", "exitcode", "bus", exit_status=-7, stderr="exit-bus.stderr"),
    _c("exit-kill", "exitcode", "kill", exit_status=-15, stderr="exit-kill.stderr"),
    _c("exit-in-atexit", "exitcode", "exit-in-atexit", exit_status=5, stderr="exit-in-atexit.stderr"),
    # minishell: the cases that exec were recorded from a native build (see the module docstring).
    _c("minishell-child-3", "minishell", "@self --child 3", exit_status=3, qemu_can_run=False),
    _c(
        "minishell-pipeline",
        "minishell",
        "@self --echo hello pipe world | @self --upper | @self --wc",
        "vfork @self --echo vfork and pipe | @selfname --upper",
        qemu_can_run=False,
    ),
    _c("minishell-vfork", "minishell", "vfork @self --child 7", exit_status=7, qemu_can_run=False),
    _c(
        "minishell-execvp",
        "minishell",
        "@selfname --child 4 extra args",
        "@self --env MINISHELL_DEPTH",
        qemu_can_run=False,
    ),
    _c("minishell-signal", "minishell", "@self --signal 15", exit_status=128 + 15, qemu_can_run=False),
    _c(
        "minishell-exec-fails",
        "minishell",
        "no-such-command-xyz",
        "/nonexistent/prog arg",
        "vfork /nonexistent/prog",
        exit_status=127,
        stderr="minishell-exec-fails.stderr",
        qemu_can_run=False,
    ),
    _c("minishell-stdin", "minishell", stdin=_MINISHELL_SCRIPT, qemu_can_run=False),
    # minishell cases without an exec, which qemu-riscv64 can run.
    _c("minishell-syntax", "minishell", " | x", "", exit_status=2),
    _c("minishell-direct", "minishell", "--echo", "direct", "mode"),
    _c("minishell-direct-upper", "minishell", "--upper", stdin=b"make me LOUD\n"),
    _c("compute-small", "compute", "5"),
    _c("fpcompute-small", "fpcompute", "2"),
    _c("compute", "compute", slow=True),
    # The benchmark kernels (asv_bench), at a small size.
    _c("kernels-arith", "kernels", "arith", "10"),
    _c("kernels-memory", "kernels", "memory", "10"),
    _c("kernels-branch", "kernels", "branch", "10"),
    _c("kernels-fp", "kernels", "fp", "10"),
    _c("kernels-usage", "kernels", exit_status=2, stderr="kernels-usage.stderr"),
    _c("fpcompute", "fpcompute", slow=True),
)


def case_by_name(name: str) -> GuestCase:
    """Return the case called ``name``."""
    for case in CASES:
        if case.name == name:
            return case
    raise KeyError(name)


assert len({c.name for c in CASES}) == len(CASES), "case names must be unique"
