"""No host thread but the guest's own takes a guest's signal.

Linux gives a process-directed signal (a guest itimer's SIGALRM) to any thread that does not
block it. numpy's OpenBLAS starts a worker thread per extra core when it loads, with the loader's
signal mask: before dbt loaded numpy with every signal blocked, such a thread took SIGALRM while
the main thread was between its waits, so a guest's blocking read was never interrupted (a hang)
or, at SIG_DFL, dbt was killed by it.
"""

from __future__ import annotations

import subprocess
import sys

from guestbuild import available_toolchains, build_guest

#: The host signals that stand for guest signals, as a Python expression run in a fresh process.
_HOST_TWINS = "{h for s in sig.MIRRORED if (h := sig.to_host(s)) is not None}"


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_no_library_thread_takes_signals_after_importing_dbt():
    result = _python(
        "import dbt.runtime.process, numba\n"
        "from dbt.runtime import signals as sig\n"
        "from dbt.hostthreads import threads_taking_signals\n"
        f"print(threads_taking_signals({_HOST_TWINS}))\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_a_quiet_thread_blocks_signals_from_its_first_line():
    """Its creator's mask lets everything through; the thread looks at its mask first thing."""
    result = _python(
        "import signal, threading\n"
        "from dbt.hostthreads import start_quiet\n"
        "signal.pthread_sigmask(signal.SIG_SETMASK, [])\n"
        "seen = []\n"
        "def body():\n"
        "    seen.append(signal.pthread_sigmask(signal.SIG_BLOCK, []))\n"
        "t = threading.Thread(target=body)\n"
        "start_quiet(t)\n"
        "t.join()\n"
        "print(signal.SIGALRM in seen[0], signal.SIGUSR1 in seen[0], signal.SIGCHLD in seen[0])\n"
        "print(signal.pthread_sigmask(signal.SIG_BLOCK, []) == set())\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True", "True", "True"]


def test_a_thread_started_before_dbt_is_reported():
    """A program that loaded numpy before dbt has OpenBLAS threads dbt cannot block: running a
    guest says so (when the host has more than one core, so OpenBLAS started any)."""
    toolchain = available_toolchains()[0]
    guest = build_guest("hello", toolchain)
    result = _python(
        "import os, numpy\n"
        "from dbt.api import Machine\n"
        "from dbt.hostthreads import threads_taking_signals\n"
        "from dbt.runtime import signals as sig\n"
        f"print('foreign', len(threads_taking_signals({_HOST_TWINS})), flush=True)\n"
        f"Machine({str(guest)!r}).run()\n"
    )
    assert result.returncode == 0, result.stderr
    foreign = int(result.stdout.split("foreign ", 1)[1].split()[0])
    assert ("do not block signals" in result.stderr) == (foreign > 0), result.stderr


def test_compiling_the_interpreter_kernel_leaves_no_thread_taking_signals(tmp_path):
    """Numba's first compile in a process starts a native thread that stays (the first run
    after an install compiles the interpreter kernel in dbt's own process): load_kernel compiles
    with every signal held. The stand-in compile here is one small cfunc, as the real one takes
    minutes; load_kernel is what is under test."""
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import dbt, signal\n"
            "from numba import cfunc, types\n"
            "import dbt.backends.interp as interp\n"
            "import dbt.backends.interp.build as build\n"
            "from dbt.hostthreads import threads_taking_signals\n"
            "def stand_in():\n"
            "    cfunc(types.int64(types.int64))(lambda x: x + 1)\n"
            "    raise RuntimeError('stand-in compiled')\n"
            "build.compile_object = stand_in\n"
            "interp.kernel_path = lambda: __import__('pathlib').Path('/nonexistent/kernel')\n"
            "try:\n"
            "    interp.load_kernel()\n"
            "except RuntimeError as e:\n"
            "    print(e)\n"
            "print(threads_taking_signals({signal.SIGALRM, signal.SIGUSR1}))\n",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**__import__("os").environ, "DBT_CACHE_DIR": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == ["stand-in compiled", "[]"], result.stdout


def test_building_a_jit_op_in_process_leaves_no_thread_taking_signals():
    """dbt builds the JIT's helpers in its own process when they are not cached: a Numba
    compile, whose thread took guest signals (a warning on stderr in the differential tests)."""
    result = _python(
        "import dbt, signal\n"
        "from dbt.backends.jit.oplib import build_symbol\n"
        "from dbt.backends.jit.helpers import HELPERS\n"
        "from dbt.hostthreads import threads_taking_signals\n"
        "build_symbol(HELPERS[0])\n"
        "print(threads_taking_signals({signal.SIGALRM, signal.SIGUSR1}))\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
