"""System information, resource limits, randomness, futex, scheduling and the riscv64 calls
(runtime/syscalls/misc.py), and the libc bridge (hostcall.py), compared with the host."""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import resource
import signal
import struct
import time

import pytest
from syscall_harness import Guest

from dbt.runtime.syscalls import hostcall

UNAME, SYSINFO, PRLIMIT64, GETRLIMIT, SETRLIMIT, GETRANDOM = 160, 179, 261, 163, 164, 278
FUTEX, SET_ROBUST_LIST, GET_ROBUST_LIST, RSEQ, MEMBARRIER = 98, 99, 100, 293, 283
SCHED_SETAFFINITY, SCHED_GETAFFINITY, GETCPU = 122, 123, 168
SCHED_SETSCHEDULER, SCHED_GETSCHEDULER, SCHED_GETPARAM = 119, 120, 121
SCHED_GET_PRIORITY_MAX, SCHED_GET_PRIORITY_MIN, GETPRIORITY, SETPRIORITY = 125, 126, 141, 140
PERSONALITY, RISCV_FLUSH_ICACHE = 92, 259
RLIM_INFINITY = (1 << 64) - 1
FUTEX_WAIT, FUTEX_WAKE, FUTEX_REQUEUE, FUTEX_CMP_REQUEUE, FUTEX_WAKE_OP = 0, 1, 3, 4, 5
FUTEX_WAIT_BITSET, FUTEX_WAKE_BITSET, FUTEX_PRIVATE, FUTEX_CLOCK_REALTIME = 9, 10, 128, 256


# ---- uname, sysinfo ----
def test_uname_fields(guest):
    assert guest.call(UNAME, guest.addr(0)) == 0
    fields = [guest.get(i * 65, 65).split(b"\0", 1)[0].decode() for i in range(6)]
    host = os.uname()
    assert fields[:5] == ["Linux", host.nodename, host.release, host.version, "riscv64"]
    try:
        with open("/proc/sys/kernel/domainname") as f:
            assert fields[5] == f.read().strip()
    except FileNotFoundError:
        pass
    assert all(guest.get(i * 65 + len(f), 1) == b"\0" for i, f in enumerate(fields))
    assert guest.call(UNAME, 0x10) == -errno.EFAULT


def test_sysinfo_matches_the_host(guest):
    assert guest.call(SYSINFO, guest.addr(0)) == 0
    raw = guest.get(0, 112)
    uptime, l1, l5, l15, totalram, freeram = struct.unpack_from("<q5Q", raw)
    (procs,) = struct.unpack_from("<H", raw, 80)
    (mem_unit,) = struct.unpack_from("<I", raw, 104)
    with open("/proc/uptime") as f:
        host_uptime = float(f.read().split()[0])
    assert abs(uptime - host_uptime) <= 2
    assert mem_unit == 1
    assert totalram == os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    assert 0 < freeram <= totalram
    assert procs >= 1
    for mine, host in zip((l1, l5, l15), os.getloadavg()):
        assert abs(mine / 65536 - host) < 1.0
    assert guest.call(SYSINFO, 0x10) == -errno.EFAULT


# ---- resource limits ----
def host_limit(number: int) -> tuple[int, int]:
    def conv(v):
        return RLIM_INFINITY if v == resource.RLIM_INFINITY else v

    soft, hard = resource.getrlimit(number)
    return conv(soft), conv(hard)


@pytest.mark.parametrize("number", [n for n in range(16) if n != resource.RLIMIT_STACK])
def test_getrlimit_and_prlimit64_read_the_host_limits(guest, number):
    assert guest.call(GETRLIMIT, number, guest.addr(0)) == 0
    assert guest.unpack("<QQ", 0) == host_limit(number)
    assert guest.call(PRLIMIT64, 0, number, 0, guest.addr(16)) == 0
    assert guest.unpack("<QQ", 16) == host_limit(number)


def test_rlimit_stack_is_the_guest_stack(guest):
    assert guest.call(GETRLIMIT, resource.RLIMIT_STACK, guest.addr(0)) == 0
    assert guest.unpack("<QQ", 0) == (8 << 20, RLIM_INFINITY)


def test_setting_rlimit_nofile_to_its_value_reaches_the_host(guest):
    before = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert guest.call(PRLIMIT64, os.getpid(), resource.RLIMIT_NOFILE, 0, guest.addr(0)) == 0
    new = guest.put(16, guest.get(0, 16))
    assert guest.call(PRLIMIT64, 0, resource.RLIMIT_NOFILE, new, guest.addr(32)) == 0
    assert guest.get(32, 16) == guest.get(0, 16)  # the old value comes back
    assert guest.call(SETRLIMIT, resource.RLIMIT_NOFILE, new) == 0
    assert resource.getrlimit(resource.RLIMIT_NOFILE) == before
    # lowering the soft limit below the open descriptors' numbers is the host's business
    soft, hard = before
    try:
        assert (
            guest.call(SETRLIMIT, resource.RLIMIT_NOFILE, guest.put(48, struct.pack("<QQ", soft - 1, hard)))
            == 0
        )
        assert resource.getrlimit(resource.RLIMIT_NOFILE) == (soft - 1, hard)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, before)


def test_rlimit_as_is_recorded_for_the_guest_not_applied_to_dbt(guest):
    before = resource.getrlimit(resource.RLIMIT_AS)
    new = guest.put(0, struct.pack("<QQ", 1 << 30, RLIM_INFINITY))
    assert guest.call(SETRLIMIT, resource.RLIMIT_AS, new) == 0
    assert resource.getrlimit(resource.RLIMIT_AS) == before
    assert guest.call(GETRLIMIT, resource.RLIMIT_AS, guest.addr(16)) == 0
    assert guest.unpack("<QQ", 16) == (1 << 30, RLIM_INFINITY)
    new = guest.put(0, struct.pack("<QQ", 1 << 29, 1 << 31))
    assert guest.call(PRLIMIT64, 0, resource.RLIMIT_AS, new, guest.addr(32)) == 0
    assert guest.unpack("<QQ", 32) == (1 << 30, RLIM_INFINITY)
    assert guest.call(PRLIMIT64, 0, resource.RLIMIT_AS, 0, guest.addr(32)) == 0
    assert guest.unpack("<QQ", 32) == (1 << 29, 1 << 31)
    # soft above hard
    assert guest.call(SETRLIMIT, resource.RLIMIT_AS, guest.put(0, struct.pack("<QQ", 2, 1))) == -errno.EINVAL
    assert (
        guest.call(SETRLIMIT, resource.RLIMIT_STACK, guest.put(0, struct.pack("<QQ", 1 << 20, 1 << 24))) == 0
    )
    assert guest.call(GETRLIMIT, resource.RLIMIT_STACK, guest.addr(32)) == 0
    assert guest.unpack("<QQ", 32) == (1 << 20, 1 << 24)


def test_rlimit_argument_errors(guest):
    for call in (GETRLIMIT, SETRLIMIT):
        assert guest.call(call, 16, guest.addr(0)) == -errno.EINVAL
        assert guest.call(call, -1, guest.addr(0)) == -errno.EINVAL
    assert guest.call(PRLIMIT64, 0, 16, 0, guest.addr(0)) == -errno.EINVAL
    assert guest.call(GETRLIMIT, resource.RLIMIT_NOFILE, 0x10) == -errno.EFAULT
    assert guest.call(SETRLIMIT, resource.RLIMIT_NOFILE, 0x10) == -errno.EFAULT
    assert guest.call(PRLIMIT64, 0, resource.RLIMIT_NOFILE, 0x10, 0) == -errno.EFAULT


def test_prlimit64_of_a_missing_process_is_esrch(guest):
    assert guest.call(PRLIMIT64, 0x3FFFFFF0, resource.RLIMIT_NOFILE, 0, guest.addr(0)) == -errno.ESRCH


# ---- getrandom ----
def test_getrandom(guest):
    assert guest.call(GETRANDOM, guest.addr(0), 64, 0) == 64
    first = guest.get(0, 64)
    assert guest.call(GETRANDOM, guest.addr(0), 64, 1 | 2) == 64  # GRND_NONBLOCK | GRND_RANDOM
    assert guest.get(0, 64) != first and len(set(first)) > 8
    assert guest.call(GETRANDOM, guest.addr(0), 16, 4) == 16  # GRND_INSECURE
    assert guest.call(GETRANDOM, guest.addr(0), 0, 0) == 0
    assert guest.call(GETRANDOM, guest.addr(0), 8, 8) == -errno.EINVAL
    assert guest.call(GETRANDOM, 0x10, 8, 0) == -errno.EFAULT


def test_getrandom_random_with_insecure_is_einval(guest):
    with pytest.raises(OSError) as host:
        os.getrandom(1, 2 | 4)
    assert host.value.errno == errno.EINVAL
    assert guest.call(GETRANDOM, guest.addr(0), 8, 2 | 4) == -errno.EINVAL


# ---- futex (one guest thread) ----
def test_futex_single_thread_semantics(guest):
    word = guest.put(0, struct.pack("<I", 7))
    ts = guest.put(64, struct.pack("<qq", 0, 0))  # an absolute time long past
    assert guest.call(FUTEX, word, FUTEX_WAKE_BITSET, 1, 0, 0, 0xFFFFFFFF) == 0
    assert guest.call(FUTEX, word, FUTEX_WAKE | FUTEX_PRIVATE, 5, 0, 0, 0) == 0
    assert guest.call(FUTEX, word, FUTEX_WAKE_OP, 1, 0, guest.addr(8), 0) == 0
    assert guest.call(FUTEX, word, FUTEX_REQUEUE, 1, 1, guest.addr(8), 0) == 0
    assert guest.call(FUTEX, word, FUTEX_CMP_REQUEUE, 1, 1, guest.addr(8), 8) == -errno.EAGAIN
    assert guest.call(FUTEX, word, FUTEX_CMP_REQUEUE, 1, 1, guest.addr(8), 7) == 0
    assert guest.call(FUTEX, word + 1, FUTEX_WAKE, 1, 0, 0, 0) == -errno.EINVAL  # unaligned
    assert guest.call(FUTEX, word, 99, 1, 0, 0, 0) == -errno.ENOSYS
    assert guest.call(FUTEX, word, FUTEX_WAIT, 8, ts, 0, 0) == -errno.EAGAIN  # the value differs
    start = time.monotonic()
    assert guest.call(FUTEX, word, FUTEX_WAIT_BITSET, 7, ts, 0, 0xFFFFFFFF) == -errno.ETIMEDOUT
    realtime = guest.put(64, struct.pack("<qq", int(time.time()) - 1, 0))
    op = FUTEX_WAIT_BITSET | FUTEX_CLOCK_REALTIME | FUTEX_PRIVATE
    assert guest.call(FUTEX, word, op, 7, realtime, 0, 0xFFFFFFFF) == -errno.ETIMEDOUT
    assert time.monotonic() - start < 0.5
    relative = guest.put(64, struct.pack("<qq", 0, 10_000_000))
    start = time.monotonic()
    assert guest.call(FUTEX, word, FUTEX_WAIT, 7, relative, 0, 0) == -errno.ETIMEDOUT
    assert time.monotonic() - start >= 0.009
    bad = guest.put(64, struct.pack("<qq", 0, 10**9))
    assert guest.call(FUTEX, word, FUTEX_WAIT, 7, bad, 0, 0) == -errno.EINVAL
    # `ts` holds the bad timeout now: Linux checks the timeout before the word (so does the host)
    assert guest.call(FUTEX, 0x10, FUTEX_WAIT, 7, ts, 0, 0) == -errno.EINVAL
    ts = guest.put(64, struct.pack("<qq", 0, 0))
    assert guest.call(FUTEX, 0x10, FUTEX_WAIT, 7, ts, 0, 0) == -errno.EFAULT


def test_futex_bitset_ops_with_an_empty_bitset_are_einval(guest):
    word = guest.put(0, struct.pack("<I", 7))
    ts = guest.put(64, struct.pack("<qq", 0, 0))
    assert guest.call(FUTEX, word, FUTEX_WAKE_BITSET, 1, 0, 0, 0) == -errno.EINVAL
    assert guest.call(FUTEX, word, FUTEX_WAIT_BITSET, 7, ts, 0, 0) == -errno.EINVAL


def test_robust_list_rseq_membarrier(guest):
    assert guest.call(SET_ROBUST_LIST, guest.addr(512), 24) == 0
    assert guest.call(GET_ROBUST_LIST, 0, guest.addr(0), guest.addr(8)) == 0
    assert guest.unpack("<QQ", 0) == (guest.addr(512), 24)
    assert guest.call(SET_ROBUST_LIST, guest.addr(512), 16) == -errno.EINVAL
    assert guest.call(GET_ROBUST_LIST, 0, 0x10, guest.addr(8)) == -errno.EFAULT
    assert guest.call(RSEQ, guest.addr(1024), 32, 0, 0x53053053) == -errno.ENOSYS
    query = guest.call(MEMBARRIER, 0, 0, 0)
    assert query >= 0
    if query & 1:  # MEMBARRIER_CMD_GLOBAL offered: it must work
        assert guest.call(MEMBARRIER, 1, 0, 0) == 0


def test_membarrier_argument_errors(guest):
    assert guest.call(MEMBARRIER, 1 << 30, 0, 0) == -errno.EINVAL
    assert guest.call(MEMBARRIER, 0, 1, 0) == -errno.EINVAL


# ---- scheduling ----
def test_sched_getaffinity_reports_the_host_cpus(guest):
    n = guest.call(SCHED_GETAFFINITY, 0, 128, guest.addr(0))
    assert n == 8 * max(1, (max(os.sched_getaffinity(0)) // 64) + 1)
    bits = int.from_bytes(guest.get(0, n), "little")
    assert {i for i in range(n * 8) if bits >> i & 1} == os.sched_getaffinity(0)
    assert guest.call(SCHED_GETAFFINITY, os.getpid(), 8, guest.addr(0)) == 8
    assert guest.call(SCHED_GETAFFINITY, 0, 4, guest.addr(0)) == -errno.EINVAL
    assert guest.call(SCHED_GETAFFINITY, 0, 12, guest.addr(0)) == -errno.EINVAL
    assert guest.call(SCHED_GETAFFINITY, 0, 8, 0x10) == -errno.EFAULT
    assert guest.call(SCHED_SETAFFINITY, 0, 8, guest.addr(0)) == 0
    assert guest.call(SCHED_SETAFFINITY, 0, 8, 0x10) == -errno.EFAULT


def test_getcpu(guest):
    guest.put(0, b"\xff" * 8)
    assert guest.call(GETCPU, guest.addr(0), guest.addr(4), 0) == 0
    cpu, node = guest.unpack("<II", 0)
    assert cpu in os.sched_getaffinity(0) and node == 0
    assert guest.call(GETCPU, 0, 0, 0) == 0
    assert guest.call(GETCPU, 0x10, 0, 0) == -errno.EFAULT


def test_scheduler_policy_and_priorities(guest):
    assert guest.call(SCHED_GETSCHEDULER, 0) == os.sched_getscheduler(0)
    guest.put(0, b"\xff" * 4)
    assert guest.call(SCHED_GETPARAM, 0, guest.addr(0)) == 0
    assert guest.unpack("<i", 0) == (os.sched_getparam(0).sched_priority,)
    zero = guest.put(16, struct.pack("<i", 0))
    assert guest.call(SCHED_SETSCHEDULER, 0, os.SCHED_OTHER, zero) == 0
    assert os.sched_getscheduler(0) == os.SCHED_OTHER
    for policy in (os.SCHED_OTHER, os.SCHED_FIFO, os.SCHED_RR, os.SCHED_BATCH, os.SCHED_IDLE):
        assert guest.call(SCHED_GET_PRIORITY_MAX, policy) == os.sched_get_priority_max(policy)
        assert guest.call(SCHED_GET_PRIORITY_MIN, policy) == os.sched_get_priority_min(policy)
    assert guest.call(SCHED_GETPARAM, 0, 0x10) == -errno.EFAULT


def test_scheduler_argument_errors(guest):
    with pytest.raises(OSError) as host:
        os.sched_get_priority_max(99)
    assert host.value.errno == errno.EINVAL
    assert guest.call(SCHED_GET_PRIORITY_MAX, 99) == -errno.EINVAL
    assert guest.call(SCHED_GET_PRIORITY_MIN, 99) == -errno.EINVAL
    five = guest.put(16, struct.pack("<i", 5))
    assert guest.call(SCHED_SETSCHEDULER, 0, 99, five) == -errno.EINVAL
    assert guest.call(SCHED_SETSCHEDULER, 0, os.SCHED_OTHER, five) == -errno.EINVAL


def test_getpriority_setpriority(guest):
    nice = os.getpriority(os.PRIO_PROCESS, 0)
    assert guest.call(GETPRIORITY, os.PRIO_PROCESS, 0) == 20 - nice  # the raw syscall's 1..40 scale
    assert guest.call(GETPRIORITY, os.PRIO_PROCESS, os.getpid()) == 20 - nice
    assert guest.call(SETPRIORITY, os.PRIO_PROCESS, 0, nice) == 0
    assert os.getpriority(os.PRIO_PROCESS, 0) == nice
    assert guest.call(GETPRIORITY, 99, 0) == -errno.EINVAL
    assert guest.call(GETPRIORITY, os.PRIO_PROCESS, 0x3FFFFFF0) == -errno.ESRCH
    assert guest.call(SETPRIORITY, os.PRIO_PROCESS, 0x3FFFFFF0, 0) == -errno.ESRCH


def test_personality_and_flush_icache(guest):
    assert guest.call(PERSONALITY, 0xFFFFFFFF) == 0  # query: PER_LINUX
    assert guest.call(PERSONALITY, 0) == 0
    flushes = guest.process.cache.flushes
    assert guest.call(RISCV_FLUSH_ICACHE, 0, 1 << 20, 0) == 0
    assert guest.call(RISCV_FLUSH_ICACHE, 0, 1 << 20, 1) == 0  # SYS_RISCV_FLUSH_ICACHE_LOCAL
    assert guest.process.cache.flushes == flushes + 2
    assert guest.call(RISCV_FLUSH_ICACHE, 0, 1 << 20, 2) == -errno.EINVAL


# ---- the libc bridge ----
HOST_NUMBERS = {"x86_64": {"getpid": 39, "close": 3}, "aarch64": {"getpid": 172, "close": 57}}


def test_libc_functions_check_errno_whatever_they_return():
    assert hostcall.libc_function("no_such_function_in_libc") is None
    with pytest.raises(OSError) as exc:
        hostcall.libc("no_such_function_in_libc")
    assert exc.value.errno == errno.ENOSYS
    assert hostcall.libc("getpid")() == os.getpid()
    assert hostcall.libc("getpid") is hostcall.libc("getpid")  # looked up once
    # an int function's -1 is an error (not 0xffffffff), as is an ssize_t function's
    with pytest.raises(OSError) as exc:
        hostcall.libc_function("close")(-1)
    assert exc.value.errno == errno.EBADF
    buf = ctypes.create_string_buffer(4)
    with pytest.raises(OSError) as exc:
        hostcall.libc("read")(-1, ctypes.addressof(buf), 4)
    assert exc.value.errno == errno.EBADF
    r, w = os.pipe()
    try:
        assert hostcall.libc("write")(w, ctypes.addressof(ctypes.create_string_buffer(b"abc")), 3) == 3
        assert os.read(r, 3) == b"abc"
    finally:
        os.close(r)
        os.close(w)


@pytest.mark.skipif(platform.machine() not in HOST_NUMBERS, reason="host syscall numbers unknown")
def test_raw_syscall():
    numbers = HOST_NUMBERS[platform.machine()]
    assert hostcall.raw_syscall(numbers["getpid"])() == os.getpid()
    with pytest.raises(OSError) as exc:
        hostcall.raw_syscall(numbers["close"])(-1)
    assert exc.value.errno == errno.EBADF


def test_futex_wait_is_interrupted_by_a_handled_signal():
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # in a child: dbt would wait there for good
        try:
            os.close(r)
            g = Guest()
            g.install_handler(14)  # SIGALRM, without SA_RESTART
            word = g.put(0, struct.pack("<I", 0))
            g.call(103, 0, g.put(64, struct.pack("<qqqq", 0, 0, 0, 20_000)), 0)  # setitimer 20 ms
            result = g.call(FUTEX, word, FUTEX_WAIT, 0, 0, 0, 0)
            os.write(w, struct.pack("<qq", result, g.handled()))
        finally:
            os._exit(0)
    os.close(w)
    try:
        deadline = time.monotonic() + 2
        while os.waitpid(pid, os.WNOHANG) == (0, 0):
            if time.monotonic() > deadline:  # still waiting: Linux would have returned long ago
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                break
            time.sleep(0.02)
        report = os.read(r, 16)
    finally:
        os.close(r)
    assert report and struct.unpack("<qq", report) == (-errno.EINTR, 14)
