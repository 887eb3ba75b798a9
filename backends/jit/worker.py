"""A compile worker's main loop: region jobs in on stdin, object code out on stdout (see pool.py).

It leaves at end of file on stdin, which is when dbt closed the pipe or ended, however it ended.
"""

from __future__ import annotations

import sys

from dbt.backends.jit.pool import compile_job, read_frame, write_frame


def main() -> None:
    requests, answers = sys.stdin.buffer, sys.stdout.buffer
    # Nothing else may write on the answer pipe.
    sys.stdout = sys.stderr
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
