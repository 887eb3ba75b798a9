"""Signal system calls (runtime/syscalls/signal.py): masks, pending signals, the alternate stack,
sigsuspend and sending signals, checked against Linux's rules and the host's view of the mask."""

from __future__ import annotations

import errno
import os
import signal
import struct
import threading
import time

import pytest
from syscall_harness import SCRATCH_PAGES, Guest, preserved_signal_state

RT_SIGACTION, RT_SIGPROCMASK, RT_SIGPENDING, SIGALTSTACK, RT_SIGSUSPEND = 134, 135, 136, 132, 133
KILL, TKILL, TGKILL, WAIT4 = 129, 130, 131, 260
SIG_BLOCK, SIG_UNBLOCK, SIG_SETMASK = 0, 1, 2
SIGUSR1, SIGUSR2, SIGKILL, SIGTERM, SIGSTOP = 10, 12, 9, 15, 19
SS_ONSTACK, SS_DISABLE, SS_AUTODISARM = 1, 2, 1 << 31
STACK_T = struct.Struct("<QiiQ")  # ss_sp, ss_flags, padding, ss_size


def stack_t(sp: int, flags: int, size: int) -> bytes:
    return STACK_T.pack(sp, flags - (1 << 32) if flags >= 1 << 31 else flags, 0, size)


def read_stack_t(guest, offset: int) -> tuple[int, int, int]:
    sp, flags, _, size = STACK_T.unpack(guest.get(offset, STACK_T.size))
    return sp, flags, size


def bit(signo: int) -> int:
    return 1 << (signo - 1)


@pytest.fixture
def guest():
    with preserved_signal_state(signal.SIGUSR1, signal.SIGUSR2, signal.SIGTERM):
        yield Guest()


def mask_of(guest) -> int:
    assert guest.call(RT_SIGPROCMASK, SIG_BLOCK, 0, guest.addr(8), 8) == 0
    return guest.unpack("<Q", 8)[0]


def test_rt_sigprocmask_block_unblock_setmask_and_the_host_mask(guest):
    assert guest.call(RT_SIGPROCMASK, SIG_BLOCK, guest.put(0, struct.pack("<Q", bit(SIGUSR1))), 0, 8) == 0
    assert mask_of(guest) == bit(SIGUSR1)
    assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == {signal.SIGUSR1}
    both = guest.put(0, struct.pack("<Q", bit(SIGUSR1) | bit(SIGUSR2)))
    assert guest.call(RT_SIGPROCMASK, SIG_BLOCK, both, guest.addr(16), 8) == 0
    assert guest.unpack("<Q", 16) == (bit(SIGUSR1),)  # the old mask
    assert guest.call(RT_SIGPROCMASK, SIG_UNBLOCK, guest.put(0, struct.pack("<Q", bit(SIGUSR1))), 0, 8) == 0
    assert mask_of(guest) == bit(SIGUSR2)
    assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == {signal.SIGUSR2}
    # SIGKILL and SIGSTOP cannot be blocked
    everything = guest.put(0, struct.pack("<Q", (1 << 64) - 1))
    assert guest.call(RT_SIGPROCMASK, SIG_SETMASK, everything, 0, 8) == 0
    assert mask_of(guest) == ((1 << 64) - 1) & ~bit(SIGKILL) & ~bit(SIGSTOP)
    assert guest.call(RT_SIGPROCMASK, SIG_SETMASK, guest.put(0, bytes(8)), 0, 8) == 0
    assert mask_of(guest) == 0
    assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == set()


def test_rt_sigprocmask_errors(guest):
    new = guest.put(0, struct.pack("<Q", bit(SIGUSR1)))
    assert guest.call(RT_SIGPROCMASK, 3, new, 0, 8) == -errno.EINVAL  # bad how
    assert guest.call(RT_SIGPROCMASK, 3, 0, guest.addr(8), 8) == 0  # how is ignored without a set
    assert guest.call(RT_SIGPROCMASK, SIG_BLOCK, new, 0, 16) == -errno.EINVAL
    assert guest.call(RT_SIGPROCMASK, SIG_BLOCK, 0x10, 0, 8) == -errno.EFAULT
    assert guest.call(RT_SIGPROCMASK, SIG_BLOCK, 0, 0x10, 8) == -errno.EFAULT
    assert mask_of(guest) == 0


def test_rt_sigpending_shows_blocked_pending_signals(guest):
    assert guest.call(RT_SIGPROCMASK, SIG_BLOCK, guest.put(0, struct.pack("<Q", bit(SIGUSR1))), 0, 8) == 0
    assert guest.call(RT_SIGPENDING, guest.addr(16), 8) == 0
    assert guest.unpack("<Q", 16) == (0,)
    assert guest.call(KILL, os.getpid(), SIGUSR1) == 0  # blocked: stays pending
    assert guest.call(RT_SIGPENDING, guest.addr(16), 8) == 0
    assert guest.unpack("<Q", 16) == (bit(SIGUSR1),)
    # setting a pending signal to SIG_IGN discards it
    assert guest.call(RT_SIGACTION, SIGUSR1, guest.put(64, struct.pack("<QQQ", 1, 0, 0)), 0, 8) == 0
    assert guest.call(RT_SIGPENDING, guest.addr(16), 8) == 0
    assert guest.unpack("<Q", 16) == (0,)
    assert guest.call(RT_SIGPENDING, guest.addr(16), 16) == -errno.EINVAL
    assert guest.call(RT_SIGPENDING, 0x10, 8) == -errno.EFAULT


def test_sigaltstack_set_query_disable(guest):
    assert guest.call(SIGALTSTACK, 0, guest.addr(0)) == 0
    assert read_stack_t(guest, 0) == (0, SS_DISABLE, 0)
    alt = guest.addr(20 * 4096)
    assert guest.call(SIGALTSTACK, guest.put(64, stack_t(alt, 0, 8192)), guest.addr(0)) == 0
    assert guest.call(SIGALTSTACK, 0, guest.addr(0)) == 0
    assert read_stack_t(guest, 0) == (alt, 0, 8192)
    assert guest.call(SIGALTSTACK, guest.put(64, stack_t(alt, 0, 1000)), 0) == -errno.ENOMEM
    assert guest.call(SIGALTSTACK, guest.put(64, stack_t(alt, 4, 8192)), 0) == -errno.EINVAL
    assert guest.call(SIGALTSTACK, guest.put(64, stack_t(0, SS_DISABLE, 0)), guest.addr(0)) == 0
    assert read_stack_t(guest, 0) == (alt, 0, 8192)  # the old one
    assert guest.call(SIGALTSTACK, 0, guest.addr(0)) == 0
    assert read_stack_t(guest, 0) == (0, SS_DISABLE, 0)
    assert guest.call(SIGALTSTACK, 0x10, 0) == -errno.EFAULT
    assert guest.call(SIGALTSTACK, 0, 0x10) == -errno.EFAULT


def test_sigaltstack_cannot_change_while_running_on_it(guest):
    alt = guest.addr(20 * 4096)
    assert guest.call(SIGALTSTACK, guest.put(64, stack_t(alt, 0, 8192)), 0) == 0
    guest.m.x[2] = alt + 4096  # the stack pointer inside the alternate stack
    assert guest.call(SIGALTSTACK, 0, guest.addr(0)) == 0
    assert read_stack_t(guest, 0) == (alt, SS_ONSTACK, 8192)
    assert guest.call(SIGALTSTACK, guest.put(64, stack_t(0, SS_DISABLE, 0)), 0) == -errno.EPERM
    guest.m.x[2] = guest.addr(SCRATCH_PAGES * 4096)
    assert guest.call(SIGALTSTACK, guest.put(64, stack_t(0, SS_DISABLE, 0)), 0) == 0


def test_sigaltstack_accepts_ss_onstack_as_flags(guest):
    alt = guest.addr(20 * 4096)
    assert guest.call(SIGALTSTACK, guest.put(64, stack_t(alt, SS_ONSTACK, 8192)), 0) == 0
    assert guest.call(SIGALTSTACK, 0, guest.addr(0)) == 0
    assert read_stack_t(guest, 0) == (alt, 0, 8192)


def test_sigaltstack_accepts_ss_autodisarm(guest):
    alt = guest.addr(20 * 4096)
    assert guest.call(SIGALTSTACK, guest.put(64, stack_t(alt, SS_AUTODISARM, 8192)), 0) == 0
    assert guest.call(SIGALTSTACK, 0, guest.addr(0)) == 0
    sp, flags, size = read_stack_t(guest, 0)
    assert (sp, flags & 0xFFFFFFFF, size) == (alt, SS_AUTODISARM, 8192)


def test_rt_sigsuspend_returns_eintr_after_a_pending_signal_is_handled(guest):
    assert guest.install_handler(SIGUSR1) == 0
    assert guest.call(RT_SIGPROCMASK, SIG_BLOCK, guest.put(0, struct.pack("<Q", bit(SIGUSR1))), 0, 8) == 0
    assert guest.call(KILL, os.getpid(), SIGUSR1) == 0
    assert guest.handled() == 0  # blocked: not delivered
    assert guest.call(RT_SIGSUSPEND, guest.put(0, bytes(8)), 8) == -errno.EINTR
    assert guest.handled() == SIGUSR1
    assert mask_of(guest) == bit(SIGUSR1)  # the mask from before the call is back
    assert guest.call(RT_SIGPENDING, guest.addr(16), 8) == 0
    assert guest.unpack("<Q", 16) == (0,)
    assert guest.call(RT_SIGSUSPEND, guest.put(0, bytes(8)), 16) == -errno.EINVAL
    assert guest.call(RT_SIGSUSPEND, 0x10, 8) == -errno.EFAULT


def test_rt_sigsuspend_waits_for_a_signal_from_outside(guest):
    assert guest.install_handler(SIGUSR2) == 0
    main = threading.get_ident()
    done = threading.Event()

    def send():  # to the main thread, where dbt waits; again until it has been seen
        deadline = time.monotonic() + 5
        while not done.wait(0.05) and time.monotonic() < deadline:
            signal.pthread_kill(main, signal.SIGUSR2)

    sender = threading.Thread(target=send)
    start = time.monotonic()
    sender.start()
    try:
        result = guest.call(RT_SIGSUSPEND, guest.put(0, struct.pack("<Q", bit(SIGUSR1))), 8)
    finally:
        done.set()
        sender.join()
    assert result == -errno.EINTR
    assert guest.handled() == SIGUSR2
    assert time.monotonic() - start < 4
    assert mask_of(guest) == 0


# ---- sending ----
def test_kill_tkill_tgkill_argument_checks(guest):
    pid = os.getpid()
    assert guest.call(TGKILL, pid, pid, 0) == 0
    assert guest.call(TGKILL, 0, pid, 0) == -errno.EINVAL
    assert guest.call(TGKILL, pid, 0, 0) == -errno.EINVAL
    assert guest.call(TGKILL, -1, pid, 0) == -errno.EINVAL
    assert guest.call(TGKILL, pid, pid + 1, 0) == -errno.ESRCH  # no such thread in this process
    assert guest.call(TGKILL, pid, pid, 65) == -errno.EINVAL
    assert guest.call(TKILL, pid, 0) == 0
    assert guest.call(TKILL, pid, 65) == -errno.EINVAL
    assert guest.call(TKILL, 0x3FFFFFF0, 0) == -errno.ESRCH
    assert guest.call(KILL, pid, -1) == -errno.EINVAL
    assert guest.call(KILL, 0x3FFFFFF0, 0) == -errno.ESRCH


def test_tkill_to_self_reaches_the_handler(guest):
    assert guest.install_handler(SIGUSR1) == 0
    assert guest.call(TKILL, os.getpid(), SIGUSR1) == 0
    assert guest.handled() == SIGUSR1
    assert guest.call(TGKILL, os.getpid(), os.getpid(), SIGUSR1) == 0
    assert guest.handled() == SIGUSR1


def test_tkill_with_a_non_positive_tid_is_einval(guest):
    assert guest.call(TKILL, 0, 0) == -errno.EINVAL  # signal 0: nothing is sent either way
    assert guest.call(TKILL, -1, 0) == -errno.EINVAL


def test_tgkill_of_a_thread_outside_the_group_is_esrch(guest):
    child = os.fork()
    if child == 0:
        time.sleep(5)
        os._exit(0)
    try:
        assert guest.call(TGKILL, 1, child, 0) == -errno.ESRCH  # the child is not a thread of init
        assert guest.call(TGKILL, child, os.getpid(), 0) == -errno.ESRCH
    finally:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)


def test_kill_another_process_with_sigterm(guest):
    r, w = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            os.close(w)
            os.read(r, 1)  # sleeps until killed
        finally:
            os._exit(0)
    os.close(r)
    try:
        assert guest.call(KILL, child, 0) == 0
        assert guest.call(KILL, child, SIGTERM) == 0
        assert guest.call(WAIT4, child, guest.addr(0), 0, 0) == child
        status = guest.unpack("<i", 0)[0]
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == SIGTERM
    finally:
        os.close(w)
    assert guest.call(KILL, child, 0) == -errno.ESRCH
