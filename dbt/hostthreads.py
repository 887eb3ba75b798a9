"""Host threads that never take the guest's signals.

Linux gives a process-directed signal (the SIGALRM of a guest's itimer, a kill from outside) to
any thread that does not block it. dbt runs the guest's handlers from the main thread (and a
guest thread's from its own host thread), so every other host thread must block every signal
from its first instruction: a thread that took the signal would either run Python's C-level
handler where nobody waits for it (the main thread's blocking read is never interrupted: a hang)
or, with the guest's disposition at SIG_DFL, kill dbt.

A thread blocks signals from birth only if its creator has them blocked when it starts it: a
new thread inherits the creator's mask, and the thread's own first Python line can come
milliseconds later (it needs the GIL). Libraries that start threads when they load (numpy's
OpenBLAS starts one per extra core) are loaded the same way.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Block every signal in this thread for the block's duration (threads started inside it
    inherit the full mask); signals that arrive meanwhile stay pending and come after."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def start_quiet(thread: threading.Thread) -> None:
    """Start `thread` with every signal blocked; it may unblock the ones it wants itself."""
    with signals_held():
        thread.start()


def load_numpy_quietly() -> None:
    """Import numpy (and with it OpenBLAS, whose worker threads start as it loads) with every
    signal blocked, so those threads never take one."""
    if "numpy" in sys.modules:
        return
    with signals_held():
        import numpy  # noqa: F401


def threads_taking_signals(signals: set[int]) -> list[int]:
    """The host threads of this process, other than the main and the calling one, that leave one
    of `signals` unblocked (a library's thread started before dbt could block signals)."""
    own = {threading.main_thread().native_id, threading.get_native_id()}
    found = []
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return []
    wanted = 0
    for signo in signals:
        wanted |= 1 << (signo - 1)
    for task in tasks:
        if int(task) in own:
            continue
        try:
            with open(f"/proc/self/task/{task}/status") as status:
                for line in status:
                    if line.startswith("SigBlk:"):
                        if ~int(line.split()[1], 16) & wanted:
                            found.append(int(task))
                        break
        except OSError:
            continue
    return found
