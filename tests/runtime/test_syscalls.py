"""System calls, made by a guest `ecall` through the API, checked against the host and Linux rules."""

from __future__ import annotations

import errno
import os
import struct

import pytest

from dbt.api import Machine
from dbt.config import Config
from dbt.errors import GuestFault
from dbt.runtime.memory import MMAP_TOP

ECALL = (0x00000073).to_bytes(4, "little")
SCRATCH = 0x400000
PAGE = 4096


class Guest:
    """A machine whose code is one ecall: each call() sets a7/a0..a5 and runs it."""

    def __init__(self, **config) -> None:
        self.m = Machine.from_code(ECALL, base=0x10000, config=Config(**config))
        self.m.map(SCRATCH, 16 * PAGE)
        self.process = self.m.process

    def call(self, number: int, *args: int) -> int:
        self.m.pc = 0x10000
        self.m.x[17] = number
        for i, value in enumerate(args):
            self.m.x[10 + i] = value - (1 << 64) if value >= 1 << 63 else value
        status = self.m.run()
        assert status.code == 0, status
        return int(self.m.x[10])

    def put(self, offset: int, data: bytes) -> int:
        self.m.write_memory(SCRATCH + offset, data)
        return SCRATCH + offset

    def get(self, offset: int, size: int) -> bytes:
        return self.m.read_memory(SCRATCH + offset, size)


@pytest.fixture
def guest():
    return Guest()


def test_write_and_read_move_data_through_guest_memory(guest, tmp_path):
    r, w = os.pipe()
    try:
        buf = guest.put(0, b"hello pipe")
        assert guest.call(64, w, buf, 10) == 10  # write
        assert guest.call(63, r, SCRATCH + 100, 64) == 10  # read
        assert guest.get(100, 10) == b"hello pipe"
    finally:
        os.close(r)
        os.close(w)


def test_bad_pointers_give_efault_not_a_crash(guest):
    r, w = os.pipe()
    try:
        for pointer in (0, 1 << 40, (1 << 64) - 8, 0x1000):
            assert guest.call(64, w, pointer, 8) == -errno.EFAULT
            assert guest.call(63, r, pointer, 8) == -errno.EFAULT
    finally:
        os.close(r)
        os.close(w)


def test_unknown_syscall_is_enosys_and_warns_once(guest, caplog):
    with caplog.at_level("WARNING", logger="dbt.syscall"):
        assert guest.call(4000) == -errno.ENOSYS
        assert guest.call(4000) == -errno.ENOSYS
    assert sum("4000" in r.getMessage() for r in caplog.records) == 1


def test_writev_gathers(guest):
    r, w = os.pipe()
    try:
        a = guest.put(0, b"abc")
        b = guest.put(16, b"defg")
        iov = guest.put(64, struct.pack("<QQQQ", a, 3, b, 4))
        assert guest.call(66, w, iov, 2) == 7
        assert os.read(r, 16) == b"abcdefg"
    finally:
        os.close(r)
        os.close(w)


def test_openat_fstat_lseek_close(guest, tmp_path):
    path = tmp_path / "f.txt"
    path.write_bytes(b"0123456789")
    name = guest.put(0, os.fsencode(path) + b"\0")
    fd = guest.call(56, (1 << 64) - 100, name, 0, 0)  # openat(AT_FDCWD, path, O_RDONLY)
    assert fd >= 0
    assert guest.call(80, fd, SCRATCH + 512) == 0  # fstat
    size = struct.unpack_from("<q", guest.get(512, 128), 48)[0]
    assert size == 10
    assert guest.call(62, fd, 4, 0) == 4  # lseek SEEK_SET
    assert guest.call(63, fd, SCRATCH + 1024, 100) == 6
    assert guest.get(1024, 6) == b"456789"
    assert guest.call(57, fd) == 0
    assert guest.call(57, fd) == -errno.EBADF


def test_openat_errors_map_to_linux_errnos(guest, tmp_path):
    missing = guest.put(0, os.fsencode(tmp_path / "missing") + b"\0")
    assert guest.call(56, (1 << 64) - 100, missing, 0, 0) == -errno.ENOENT
    assert guest.call(56, (1 << 64) - 100, guest.put(256, b"\0"), 0, 0) == -errno.ENOENT
    # O_CREAT | O_EXCL on an existing file
    (tmp_path / "x").write_text("x")
    existing = guest.put(512, os.fsencode(tmp_path / "x") + b"\0")
    assert guest.call(56, (1 << 64) - 100, existing, 0o100 | 0o200 | 1, 0o644) == -errno.EEXIST


def test_close_on_exec_flag_follows_the_guest(guest, tmp_path):
    (tmp_path / "x").write_text("x")
    name = guest.put(0, os.fsencode(tmp_path / "x") + b"\0")
    plain = guest.call(56, (1 << 64) - 100, name, 0, 0)
    cloexec = guest.call(56, (1 << 64) - 100, name, 0o2000000, 0)
    try:
        assert os.get_inheritable(plain)
        assert not os.get_inheritable(cloexec)
        assert guest.call(25, plain, 1, 0) == 0  # F_GETFD
        assert guest.call(25, cloexec, 1, 0) == 1
    finally:
        os.close(plain)
        os.close(cloexec)


def test_getdents64_lists_a_directory(guest, tmp_path):
    for name in ("a", "bb", "ccc"):
        (tmp_path / name).write_text(name)
    (tmp_path / "dir").mkdir()
    path = guest.put(0, os.fsencode(tmp_path) + b"\0")
    fd = guest.call(56, (1 << 64) - 100, path, 0o200000, 0)  # O_DIRECTORY
    names = {}
    while True:
        n = guest.call(61, fd, SCRATCH + PAGE, 64)  # a small buffer forces several calls
        assert n >= 0
        if n == 0:
            break
        data = guest.get(PAGE, n)
        offset = 0
        while offset < n:
            _ino, _off, reclen, dtype = struct.unpack_from("<QqHB", data, offset)
            name = data[offset + 19 : offset + reclen].split(b"\0", 1)[0]
            names[name] = dtype
            offset += reclen
    os.close(fd)
    assert names == {b".": 4, b"..": 4, b"a": 8, b"bb": 8, b"ccc": 8, b"dir": 4}


def test_getcwd_and_chdir(guest, tmp_path):
    old = os.getcwd()
    try:
        path = guest.put(0, os.fsencode(tmp_path) + b"\0")
        assert guest.call(49, path) == 0
        n = guest.call(17, SCRATCH + 512, 4096)
        assert guest.get(512, n) == os.fsencode(os.path.realpath(tmp_path)) + b"\0"
        assert guest.call(17, SCRATCH + 512, 2) == -errno.ERANGE
    finally:
        os.chdir(old)


def test_readlinkat_proc_self_exe_answers_the_guest_path(tmp_path):
    from guestbuild import build_guest

    binary = build_guest("hello", "zig-musl-static")
    m = Machine(binary)
    link = b"/proc/self/exe\0"
    m.write_memory(int(m.x[2]) - 4096, link)
    process = m.process
    from dbt.runtime.syscalls.fs import sys_readlinkat

    n = sys_readlinkat(process, -100, int(m.x[2]) - 4096, int(m.x[2]) - 2048, 512)
    assert m.read_memory(int(m.x[2]) - 2048, n) == os.fsencode(os.path.abspath(binary))


def test_brk_grows_and_shrinks(guest):
    process = guest.process
    process.brk_start = process.brk = 0x800000
    assert guest.call(214, 0) == 0x800000
    assert guest.call(214, 0x800000 + 3 * PAGE + 5) == 0x800000 + 3 * PAGE + 5
    guest.m.write_memory(0x800000 + 3 * PAGE, b"x")
    assert guest.call(214, 0x800000 + PAGE) == 0x800000 + PAGE
    with pytest.raises(GuestFault):
        guest.m.read_memory(0x800000 + 2 * PAGE, 1)
    assert guest.call(214, 0x100) == 0x800000 + PAGE  # below the start: unchanged


def test_mmap_anonymous_and_munmap(guest):
    PROT_RW, MAP_PRIVATE_ANON = 3, 0x22
    addr = guest.call(222, 0, 5 * PAGE, PROT_RW, MAP_PRIVATE_ANON, (1 << 64) - 1, 0)
    assert addr % PAGE == 0 and addr < MMAP_TOP
    guest.m.write_memory(addr + 5 * PAGE - 1, b"z")
    assert guest.call(215, addr, 5 * PAGE) == 0
    assert guest.call(215, addr + 1, PAGE) == -errno.EINVAL


def test_mmap_argument_errors(guest):
    assert guest.call(222, 0, 0, 3, 0x22, (1 << 64) - 1, 0) == -errno.EINVAL  # length 0
    assert guest.call(222, 0, PAGE, 3, 0x20, (1 << 64) - 1, 0) == -errno.EINVAL  # neither shared nor private
    assert guest.call(222, 0x123, PAGE, 3, 0x32, (1 << 64) - 1, 0) == -errno.EINVAL  # unaligned MAP_FIXED
    assert guest.call(222, 0, PAGE, 3, 0x22, (1 << 64) - 1, 12) == -errno.EINVAL  # unaligned offset


def test_mmap_fixed_noreplace_refuses_an_occupied_range(guest):
    assert guest.call(222, SCRATCH, PAGE, 3, 0x100022, (1 << 64) - 1, 0) == -errno.EEXIST


def test_mmap_of_a_file_copies_its_contents(guest, tmp_path):
    path = tmp_path / "data"
    path.write_bytes(bytes(range(256)) * 20)
    fd = os.open(path, os.O_RDONLY)
    try:
        addr = guest.call(222, 0, 2 * PAGE, 1, 2, fd, PAGE)  # PROT_READ, MAP_PRIVATE, offset 4096
        assert guest.m.read_memory(addr, 16) == bytes(range(16))
        # past the end of the file reads zeros
        assert guest.m.read_memory(addr + 5120 - PAGE, 16) == bytes(16)
    finally:
        os.close(fd)


def test_mremap_grows_in_place_or_moves(guest):
    addr = guest.call(222, 0, PAGE, 3, 0x22, (1 << 64) - 1, 0)
    guest.m.write_memory(addr, b"keep")
    # The page below was taken by the allocator's next pick, so growing may need a move.
    moved = guest.call(216, addr, PAGE, 4 * PAGE, 1, 0)  # MREMAP_MAYMOVE
    assert moved > 0
    assert guest.m.read_memory(moved, 4) == b"keep"
    assert guest.call(216, moved, 4 * PAGE, PAGE, 0, 0) == moved  # shrink in place


def test_mprotect_then_write_faults_in_the_guest(guest):
    addr = guest.call(222, 0, PAGE, 3, 0x22, (1 << 64) - 1, 0)
    assert guest.call(226, addr, PAGE, 1) == 0
    with pytest.raises(GuestFault):
        guest.m.write_memory(addr, b"x")
    assert guest.call(226, addr + PAGE * 100, PAGE, 1) == -errno.ENOMEM


def test_identity_calls(guest):
    assert guest.call(172) == os.getpid()
    assert guest.call(178) == os.getpid()
    assert guest.call(173) == os.getppid()
    assert guest.call(174) == os.getuid()
    assert guest.call(177) == os.getegid()


def test_uname_reports_riscv64_linux(guest):
    assert guest.call(160, SCRATCH) == 0
    fields = [guest.get(i * 65, 65).split(b"\0", 1)[0] for i in range(6)]
    assert fields[0] == b"Linux"
    assert fields[4] == b"riscv64"


def test_clock_gettime_and_getrandom(guest):
    assert guest.call(113, 1, SCRATCH) == 0
    sec, nsec = struct.unpack("<qq", guest.get(0, 16))
    assert sec >= 0 and 0 <= nsec < 1_000_000_000
    assert guest.call(113, 99, SCRATCH) == -errno.EINVAL
    assert guest.call(278, SCRATCH + 64, 32, 0) == 32
    assert guest.get(64, 32) != bytes(32)


def test_prlimit_stack_and_nofile(guest):
    assert guest.call(261, 0, 3, 0, SCRATCH) == 0  # RLIMIT_STACK
    soft, _ = struct.unpack("<QQ", guest.get(0, 16))
    assert soft == 8 << 20
    assert guest.call(163, 7, SCRATCH) == 0  # getrlimit(RLIMIT_NOFILE)
    assert struct.unpack("<QQ", guest.get(0, 16))[0] > 0
    assert guest.call(261, 0, 99, 0, SCRATCH) == -errno.EINVAL


def test_riscv_hwprobe(guest):
    pairs = guest.put(0, struct.pack("<qQqQqQ", 3, 0, 4, 0, 12345, 7))
    assert guest.call(258, pairs, 3, 0, 0, 0) == 0
    data = struct.unpack("<qQqQqQ", guest.get(0, 48))
    # IMA base behaviour; the default rv64gc model: FD, C and (Linux 6.11+ reports C's parts and
    # the counters and A's parts too) Zca (bit 43), Zcd (45), Zicntr (50), Zaamo (56), Zalrsc (57).
    assert data[:4] == (3, 1, 4, 3 | 1 << 43 | 1 << 45 | 1 << 50 | 1 << 56 | 1 << 57)
    assert data[4:] == (-1, 0)  # unknown keys are answered with key -1
    assert guest.call(258, pairs, 1, 0, 0, 1) == -errno.EINVAL


def test_rt_sigaction_and_sigprocmask(guest):
    act = guest.put(0, struct.pack("<QQQ", 1, 0, 0))  # SIG_IGN for SIGUSR1
    assert guest.call(134, 10, act, SCRATCH + 64, 8) == 0
    assert guest.call(134, 10, 0, SCRATCH + 64, 8) == 0
    assert struct.unpack("<QQQ", guest.get(64, 24))[0] == 1
    assert guest.call(134, 9, act, 0, 8) == -errno.EINVAL  # SIGKILL cannot be changed
    assert guest.call(134, 10, act, 0, 16) == -errno.EINVAL  # wrong sigset size
    mask = guest.put(128, struct.pack("<Q", 1 << 9))
    assert guest.call(135, 0, mask, SCRATCH + 192, 8) == 0  # SIG_BLOCK SIGUSR1... (bit 9 = signal 10)
    assert guest.call(135, 0, 0, SCRATCH + 192, 8) == 0
    assert struct.unpack("<Q", guest.get(192, 8))[0] == 1 << 9
    import signal

    signal.signal(signal.SIGUSR1, signal.SIG_DFL)


def test_kill_self_with_an_ignored_signal_is_harmless(guest):
    import signal

    act = guest.put(0, struct.pack("<QQQ", 1, 0, 0))
    assert guest.call(134, 10, act, 0, 8) == 0  # SIGUSR1 ignored
    assert guest.call(129, os.getpid(), 10) == 0
    assert guest.call(129, os.getpid(), 0) == 0
    signal.signal(signal.SIGUSR1, signal.SIG_DFL)


def test_kill_self_with_sigterm_ends_the_guest():
    g = Guest()
    g.m.pc = 0x10000
    g.m.x[17] = 129
    g.m.x[10] = os.getpid()
    g.m.x[11] = 15
    status = g.m.run()
    assert status.signal == 15 and status.status == 143


def test_futex_single_thread(guest):
    word = guest.put(0, struct.pack("<I", 5))
    assert guest.call(98, word, 0, 4, 0, 0, 0) == -errno.EAGAIN  # value differs
    timeout = guest.put(64, struct.pack("<qq", 0, 1000))
    assert guest.call(98, word, 128, 5, timeout, 0, 0) == -errno.ETIMEDOUT
    assert guest.call(98, word, 1, 1, 0, 0, 0) == 0  # wake: nobody waits


def test_clone_argument_errors(guest):
    """Linux's checks of clone and clone3 arguments (a thread that would start is tested by the
    thread guests in tests/e2e/test_threads.py)."""
    clone_thread, clone_vm, clone_sighand = 0x10000, 0x100, 0x800
    # CLONE_THREAD needs CLONE_SIGHAND and CLONE_VM.
    assert guest.call(220, clone_thread | clone_vm, 0, 0, 0, 0) == -errno.EINVAL
    assert guest.call(220, clone_thread | clone_sighand, 0, 0, 0, 0) == -errno.EINVAL
    # clone3: a size below CLONE_ARGS_SIZE_VER0 (64), a stack without a size (man clone3).
    args_at = guest.put(0, bytes(88))
    assert guest.call(435, args_at, 32) == -errno.EINVAL
    guest.put(
        0, struct.pack("<11Q", clone_thread | clone_vm | clone_sighand, 0, 0, 0, 0, 0x1000, 0, 0, 0, 0, 0)
    )
    assert guest.call(435, args_at, 88) == -errno.EINVAL
    # Bytes beyond the fields this kernel knows must be zero.
    guest.put(0, bytes(88) + b"\1" + bytes(7))
    assert guest.call(435, args_at, 96) == -errno.E2BIG


def test_fork_and_wait4(guest):
    pid = guest.call(220, 17, 0, 0, 0, 0)  # clone(SIGCHLD): fork
    if pid == 0:  # the child: leave at once without running the test's cleanup
        os._exit(7)
    assert pid > 0
    assert guest.call(260, pid, SCRATCH, 0, 0) == pid
    status = struct.unpack("<i", guest.get(0, 4))[0]
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 7
    assert guest.call(260, (1 << 64) - 1, SCRATCH, 0, 0) == -errno.ECHILD


def test_strace_prints_calls_and_results(capsys):
    g = Guest(strace=True)
    g.call(172)
    g.call(4001)
    err = capsys.readouterr().err
    assert f"getpid() = {os.getpid()}" in err
    assert "syscall_4001(...) = -1 errno=38 (ENOSYS)" in err
