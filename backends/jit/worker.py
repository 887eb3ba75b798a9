"""A compile worker's main loop: region jobs in on stdin, object code out on stdout (see pool.py).

It leaves at end of file on stdin, which is when dbt closed the pipe or ended, however it ended.
"""

from __future__ import annotations

import os

from dbt.backends.jit.pool import compile_job, read_frame, write_frame


def main() -> None:
    requests, answers = os.dup(0), os.dup(1)
    # Nothing else may read or write on the job pipes.
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    while (job := read_frame(requests)) is not None:
        try:
            answer = (True, compile_job(*job))
        except Exception as exc:  # the guest stays interpreted in that region; dbt logs why
            answer = (False, f"{type(exc).__name__}: {exc}")
        try:
            write_frame(answers, answer)
        except BrokenPipeError:
            break


if __name__ == "__main__":
    main()
