"""A guest whose code is one `ecall`, for testing system calls one at a time (shared by test_syscalls_*).

Numbers, errno values and structure layouts are riscv64 Linux's (asm-generic); the tests compare
the answers with what the host kernel says about the same files, descriptors and processes.
"""

from __future__ import annotations

import contextlib
import faulthandler
import os
import signal
import struct

from dbt.api import Machine
from dbt.config import Config
from dbt.runtime.memory import PROT_EXEC, PROT_READ

ECALL = (0x00000073).to_bytes(4, "little")
EBREAK = (0x00100073).to_bytes(4, "little")
CODE = 0x10000
SCRATCH = 0x400000
PAGE = 4096
SCRATCH_PAGES = 32
AT_FDCWD = -100
#: Offset in the scratch pages where the test handler records the signals it runs for.
RECORD = 16 * PAGE
#: sd a0, 0(gp); li a7, 139 (rt_sigreturn); ecall
HANDLER_CODE = b"".join(
    w.to_bytes(4, "little")
    for w in ((10 << 20) | (3 << 15) | (3 << 12) | 0x23, (139 << 20) | (17 << 7) | 0x13, 0x73)
)
MINUS_ONE = (1 << 64) - 1


class Guest:
    """A machine whose code is one ecall: each call() sets a7/a0..a5 and runs it."""

    def __init__(self, machine: Machine | None = None, **config) -> None:
        if machine is None:
            self.m = Machine.from_code(ECALL, base=CODE, config=Config(**config))
            self.code = CODE
            self.scratch = SCRATCH
        else:
            # A loaded program: one page for the ecall (and the ebreak that ends run()) and the
            # scratch pages, where the program left room.
            memory = machine.process.memory
            self.m = machine
            self.code = memory.find_free(PAGE)
            memory.map(self.code, PAGE, PROT_READ | PROT_EXEC, name="[test]")
            memory.poke(self.code, ECALL + EBREAK)
            machine.process.halt_pcs.add(self.code + 4)
            self.scratch = memory.find_free(SCRATCH_PAGES * PAGE)
        self.m.map(self.scratch, SCRATCH_PAGES * PAGE)
        self.process = self.m.process
        self.handler = 0

    def call(self, number: int, *args: int) -> int:
        self.m.pc = self.code
        self.m.x[17] = number
        for i, value in enumerate(args):
            value &= MINUS_ONE
            self.m.x[10 + i] = value - (1 << 64) if value >= 1 << 63 else value
        status = self.m.run()
        assert status.code == 0, status
        return int(self.m.x[10])

    # ---- scratch memory ----
    def put(self, offset: int, data: bytes) -> int:
        """Write data at scratch + offset; returns its guest address."""
        self.m.write_memory(self.scratch + offset, data)
        return self.scratch + offset

    def cstr(self, offset: int, text: str | bytes | os.PathLike) -> int:
        """A NUL-terminated string at self.scratch + offset."""
        data = text if isinstance(text, bytes) else os.fsencode(text)
        return self.put(offset, data + b"\0")

    def get(self, offset: int, size: int) -> bytes:
        return self.m.read_memory(self.scratch + offset, size)

    def unpack(self, fmt: str, offset: int) -> tuple:
        return struct.unpack(fmt, self.get(offset, struct.calcsize(fmt)))

    def addr(self, offset: int) -> int:
        return self.scratch + offset

    # ---- guest signal handlers ----
    def install_handler(self, signo: int, flags: int = 0, mask: int = 0) -> int:
        """Give `signo` a guest handler that records its a0 (the signal number) at record_addr and
        returns with rt_sigreturn, so the interrupted call then finishes as on Linux. The guest's
        stack is the top of the scratch pages. Returns what rt_sigaction returned."""
        if not self.handler:
            memory = self.process.memory
            self.handler = memory.find_free(PAGE)
            memory.map(self.handler, PAGE, PROT_READ | PROT_EXEC, name="[handler]")
            memory.poke(self.handler, HANDLER_CODE)
            self.m.x[2] = self.scratch + SCRATCH_PAGES * PAGE  # sp
            self.m.x[3] = self.record_addr  # gp: where the handler writes
        act = self.put(RECORD - 64, struct.pack("<QQQ", self.handler, flags, mask))
        return self.call(134, signo, act, 0, 8)

    @property
    def record_addr(self) -> int:
        return self.scratch + RECORD

    def handled(self) -> int:
        """The signal the handler last recorded (0: none), and forget it."""
        value = struct.unpack("<q", self.get(RECORD, 8))[0]
        self.put(RECORD, bytes(8))
        return value


@contextlib.contextmanager
def preserved_signal_state(*signums: int):
    """Restore the host's blocked mask and the dispositions of `signums` (the guest mirrors its own
    dispositions and mask onto the dbt process)."""
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    handlers = {s: signal.getsignal(s) for s in signums}
    try:
        yield
    finally:
        for s, handler in handlers.items():
            signal.signal(s, handler if handler is not None else signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


class FdTracker:
    """Host file descriptors a test opened (directly or through the guest), closed at teardown."""

    def __init__(self) -> None:
        self.fds: list[int] = []

    def add(self, *fds: int) -> int:
        for fd in fds:
            assert fd >= 0, fd
            self.fds.append(fd)
        return fds[0] if fds else -1

    def close_all(self) -> None:
        for fd in reversed(self.fds):
            with contextlib.suppress(OSError):
                os.close(fd)
        self.fds.clear()


def in_child(body) -> bytes:
    """Run body() -> bytes in a forked host child (for calls that change process-wide state for
    good); returns what it produced. The child leaves with os._exit at once."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        code = 0
        try:
            faulthandler.disable()  # a crash of the child is the test's answer, not a report
            os.close(r)
            os.write(w, body())
        except BaseException:
            code = 1
        os._exit(code)
    os.close(w)
    chunks = []
    while chunk := os.read(r, 65536):
        chunks.append(chunk)
    os.close(r)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
    return b"".join(chunks)


def hello_binary() -> str:
    """The project's hello guest (static musl), or skip the test if it cannot be built here."""
    import pytest
    from guestbuild import ToolchainUnavailable, build_guest

    try:
        return str(build_guest("hello", "zig-musl-static"))
    except ToolchainUnavailable as exc:
        pytest.skip(str(exc))
