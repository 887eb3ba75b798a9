"""System information, limits, randomness, futex and the riscv64-specific calls."""

from __future__ import annotations

import logging
import os
import platform
import resource
import struct
import time as host_time

from dbt.ir.state import CACHE_BLOCK_SIZE
from dbt.runtime.memory import TASK_SIZE
from dbt.runtime.syscalls import RESTART, errnos, syscall
from dbt.runtime.syscalls.structs import RLIM_INFINITY, RLIMIT
from dbt.runtime.syscalls.time import read_timespec
from dbt.runtime.threads import kick

log = logging.getLogger("dbt.syscall")

UTS_LEN = 65


@syscall(160, "p")
def sys_uname(proc, buf: int) -> int:
    # As qemu-user: the host's kernel release and version, the guest's machine name.
    host = os.uname()
    fields = ("Linux", host.nodename, host.release, host.version, "riscv64", "(none)")
    proc.memory.write_slice(buf, b"".join(f.encode()[: UTS_LEN - 1].ljust(UTS_LEN, b"\0") for f in fields))
    return 0


SYSINFO = struct.Struct("<q3QQQQQQQHHxxxxQQI")


@syscall(179, "p")
def sys_sysinfo(proc, buf: int) -> int:
    try:
        with open("/proc/uptime") as f:
            uptime = int(float(f.read().split()[0]))
    except OSError:
        uptime = int(host_time.monotonic())
    loads = [int(x * 65536) for x in os.getloadavg()] if hasattr(os, "getloadavg") else [0, 0, 0]
    pages = os.sysconf("SC_PHYS_PAGES") if hasattr(os, "sysconf") else 1 << 20
    page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
    avail = os.sysconf("SC_AVPHYS_PAGES") if "SC_AVPHYS_PAGES" in os.sysconf_names else pages // 2
    data = SYSINFO.pack(uptime, *loads, pages * page, avail * page, 0, 0, 0, 0, 1, 0, 0, 0, 1)
    proc.memory.write_slice(buf, data + bytes(112 - len(data)))
    return 0


# Linux RLIMIT_* numbers and the host resource of the same name.
_RLIMITS = (
    "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_DATA", "RLIMIT_STACK", "RLIMIT_CORE", "RLIMIT_RSS",
    "RLIMIT_NPROC", "RLIMIT_NOFILE", "RLIMIT_MEMLOCK", "RLIMIT_AS", "RLIMIT_LOCKS",
    "RLIMIT_SIGPENDING", "RLIMIT_MSGQUEUE", "RLIMIT_NICE", "RLIMIT_RTPRIO", "RLIMIT_RTTIME",
)  # fmt: skip
#: Limits dbt passes to the host; the others would constrain dbt itself, so they are only recorded.
_HOST_SETTABLE = {"RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_CORE", "RLIMIT_NOFILE", "RLIMIT_NPROC"}


def _to_guest(value: int) -> int:
    return RLIM_INFINITY if value == resource.RLIM_INFINITY or value < 0 else value


def _get_limit(proc, number: int) -> tuple[int, int]:
    if number in proc.rlimits:
        return proc.rlimits[number]
    name = _RLIMITS[number]
    if name == "RLIMIT_STACK":
        from dbt.runtime.memory import STACK_SIZE

        return STACK_SIZE, RLIM_INFINITY
    host = getattr(resource, name, None)
    if host is None:
        return RLIM_INFINITY, RLIM_INFINITY
    soft, hard = resource.getrlimit(host)
    return _to_guest(soft), _to_guest(hard)


def _set_limit(proc, number: int, soft: int, hard: int) -> int:
    if soft > hard and hard != RLIM_INFINITY:
        return -errnos.EINVAL
    name = _RLIMITS[number]
    host = getattr(resource, name, None)
    if name in _HOST_SETTABLE and host is not None:
        h_soft = resource.RLIM_INFINITY if soft == RLIM_INFINITY else soft
        h_hard = resource.RLIM_INFINITY if hard == RLIM_INFINITY else hard
        resource.setrlimit(host, (h_soft, h_hard))
    else:
        proc.rlimits[number] = (soft, hard)
    return 0


def _host_prlimit(proc, pid: int, number: int, new: tuple[int, int] | None, old: int) -> int:
    """prlimit64 of another process: the host's limits of that process, with its checks."""
    host = getattr(resource, _RLIMITS[number], None) if 0 <= number < len(_RLIMITS) else None
    if host is None:
        os.kill(pid, 0)  # ESRCH comes before EINVAL, as in Linux
        return -errnos.EINVAL
    if new is None:
        previous = resource.prlimit(pid, host)
    else:
        previous = resource.prlimit(pid, host, tuple(_to_host_limit(v) for v in new))
    if old:
        proc.memory.write_slice(old, RLIMIT.pack(*(_to_guest(v) for v in previous)))
    return 0


def _to_host_limit(value: int) -> int:
    return resource.RLIM_INFINITY if value == RLIM_INFINITY else value


@syscall(261, "iipp")
def sys_prlimit64(proc, pid: int, number: int, new: int, old: int) -> int:
    new_limits = RLIMIT.unpack(proc.memory.read_slice(new, RLIMIT.size)) if new else None
    if pid not in (0, os.getpid()):
        if pid < 0 or not hasattr(resource, "prlimit"):
            return -errnos.ESRCH if pid < 0 else -errnos.EPERM
        return _host_prlimit(proc, pid, number, new_limits, old)
    if not 0 <= number < len(_RLIMITS):
        return -errnos.EINVAL
    if old:
        proc.memory.write_slice(old, RLIMIT.pack(*_get_limit(proc, number)))
    if new_limits is not None:
        return _set_limit(proc, number, *new_limits)
    return 0


@syscall(163, "ip")
def sys_getrlimit(proc, number: int, addr: int) -> int:
    if not 0 <= number < len(_RLIMITS):
        return -errnos.EINVAL
    proc.memory.write_slice(addr, RLIMIT.pack(*_get_limit(proc, number)))
    return 0


@syscall(164, "ip")
def sys_setrlimit(proc, number: int, addr: int) -> int:
    if not 0 <= number < len(_RLIMITS):
        return -errnos.EINVAL
    return _set_limit(proc, number, *RLIMIT.unpack(proc.memory.read_slice(addr, RLIMIT.size)))


@syscall(278, "pux")
def sys_getrandom(proc, buf: int, length: int, flags: int) -> int:
    if flags & ~7:
        return -errnos.EINVAL
    if flags & 6 == 6:  # GRND_RANDOM | GRND_INSECURE: blocking and insecure at once makes no sense
        return -errnos.EINVAL
    length = min(length, 1 << 25)
    proc.memory.write_slice(buf, os.urandom(length))
    return length


# ---- futex: wait queues in the thread group (dbt.runtime.threads) ----
FUTEX_WAIT, FUTEX_WAKE, FUTEX_REQUEUE, FUTEX_CMP_REQUEUE, FUTEX_WAKE_OP = 0, 1, 3, 4, 5
FUTEX_WAIT_BITSET, FUTEX_WAKE_BITSET = 9, 10
FUTEX_WAIT_REQUEUE_PI, FUTEX_LOCK_PI2 = 11, 13
FUTEX_CMD_MASK = 0x7F
FUTEX_CLOCK_REALTIME = 256
FUTEX_BITSET_MATCH_ANY = 0xFFFFFFFF
ETIMEDOUT = 110
#: Robust futex words: the owner's tid, and the bits the kernel sets when the owner dies.
FUTEX_TID_MASK, FUTEX_OWNER_DIED, FUTEX_WAITERS = 0x3FFFFFFF, 0x40000000, 0x80000000
#: Linux's bound on the robust list walked at a thread's exit.
ROBUST_LIST_LIMIT = 2048


@syscall(98, "pxipxi")
def sys_futex(proc, uaddr: int, op: int, val: int, timeout: int, uaddr2: int, val3: int) -> object:
    cmd = op & FUTEX_CMD_MASK
    waiting = cmd in (FUTEX_WAIT, FUTEX_WAIT_BITSET)
    # Linux's order: the timeout, the clock flag, the bitset, the word's alignment, its value.
    deadline = None
    if waiting and timeout:
        ns = read_timespec(proc, timeout)
        if ns is None:
            return -errnos.EINVAL
        # FUTEX_WAIT's timeout is relative (on the monotonic clock), FUTEX_WAIT_BITSET's absolute
        # on the chosen clock.
        deadline = host_time.clock_gettime_ns(host_time.CLOCK_MONOTONIC) + ns if cmd == FUTEX_WAIT else ns
    if op & FUTEX_CLOCK_REALTIME and cmd not in (FUTEX_WAIT_BITSET, FUTEX_WAIT_REQUEUE_PI, FUTEX_LOCK_PI2):
        return -errnos.ENOSYS
    if cmd in (FUTEX_WAIT_BITSET, FUTEX_WAKE_BITSET) and val3 == 0:
        return -errnos.EINVAL
    if uaddr % 4:
        return -errnos.EINVAL
    group = proc.group
    if waiting:
        realtime = cmd == FUTEX_WAIT_BITSET and op & FUTEX_CLOCK_REALTIME
        clock = host_time.CLOCK_REALTIME if realtime else host_time.CLOCK_MONOTONIC
        bitset = val3 & 0xFFFFFFFF if cmd == FUTEX_WAIT_BITSET else FUTEX_BITSET_MATCH_ANY
        return _futex_wait(proc, uaddr, val, bitset, clock, deadline)
    with group.lock:
        if cmd in (FUTEX_WAKE, FUTEX_WAKE_BITSET):
            bitset = val3 & 0xFFFFFFFF if cmd == FUTEX_WAKE_BITSET else FUTEX_BITSET_MATCH_ANY
            proc.memory.read_u32(uaddr)  # EFAULT for a bad word, as Linux's get_futex_key
            return group.futex_wake(uaddr, max(val, 0), bitset)
        if cmd in (FUTEX_REQUEUE, FUTEX_CMP_REQUEUE):
            # The timeout argument is the number of waiters to requeue.
            requeue = timeout & 0x7FFFFFFF
            if val < 0 or timeout >= 1 << 31:
                return -errnos.EINVAL
            if uaddr2 % 4:
                return -errnos.EINVAL
            if cmd == FUTEX_CMP_REQUEUE and proc.memory.read_u32(uaddr) != val3 & 0xFFFFFFFF:
                return -errnos.EAGAIN
            woken = group.futex_wake(uaddr, val)
            moved = group.futex_requeue(uaddr, uaddr2, requeue)
            return woken + moved if cmd == FUTEX_CMP_REQUEUE else woken
        if cmd == FUTEX_WAKE_OP:
            if uaddr2 % 4:
                return -errnos.EINVAL
            old = _futex_op(proc, uaddr2, val3)
            if old is None:
                return -errnos.ENOSYS
            woken = group.futex_wake(uaddr, max(val, 0))
            if _futex_cmp(old, val3):
                woken += group.futex_wake(uaddr2, timeout & 0x7FFFFFFF)
            return woken
    return -errnos.ENOSYS


def _futex_wait(proc, uaddr: int, val: int, bitset: int, clock: int, deadline: int | None) -> object:
    """FUTEX_WAIT(_BITSET): sleep while the word holds `val`, until a wake, the deadline or a
    signal. The check and the queueing happen under the group's lock, which every wake takes, so
    a wake between a guest's store and this wait is never lost."""
    from dbt.runtime.syscalls.signal import NOT_DONE, pause_wait, wait_for

    group = proc.group
    with group.lock:
        if proc.memory.read_u32(uaddr) != val & 0xFFFFFFFF:
            return -errnos.EAGAIN
        waiter = group.futex_enqueue(proc, uaddr, bitset)
    if deadline is None and not group.multi and not proc.signals.any_handler:
        log.warning("futex wait with no other guest thread to wake it: the guest is deadlocked")

    def wait(sigset: int, block: bool) -> object:
        if waiter.woken:
            return 0
        remaining = None
        if deadline is not None:
            remaining = deadline - host_time.clock_gettime_ns(clock)
            if remaining <= 0:
                return -ETIMEDOUT
        if block:
            pause_wait(sigset, remaining)
        return NOT_DONE

    try:
        return wait_for(proc, wait)
    except InterruptedError:
        if waiter.woken:
            return 0
        # Without a timeout Linux answers ERESTARTSYS (SA_RESTART restarts the wait), with one
        # it restarts only when no handler runs: here one does, so EINTR.
        if deadline is None and proc.restart_interrupted():
            return RESTART
        return -errnos.EINTR
    finally:
        group.futex_dequeue(waiter)


def _futex_op(proc, addr: int, encoded: int) -> int | None:
    """FUTEX_WAKE_OP's operation on the word at `addr` (under the group's lock; guest AMOs on
    the same word at the same moment are not excluded). Returns the old value."""
    op, oparg = (encoded >> 28) & 0xF, (encoded >> 12) & 0xFFF
    if op & 8:  # FUTEX_OP_OPARG_SHIFT
        oparg = 1 << (oparg & 31)
        op &= 7
    old = proc.memory.read_u32(addr)
    results = {0: oparg, 1: old + oparg, 2: old | oparg, 3: old & ~oparg, 4: old ^ oparg}
    if op not in results:
        return None
    proc.memory.write_u32(addr, results[op] & 0xFFFFFFFF)
    return old


def _futex_cmp(old: int, encoded: int) -> bool:
    cmp, cmparg = (encoded >> 24) & 0xF, encoded & 0xFFF
    signed = old - (1 << 32) if old >= 1 << 31 else old
    return {0: signed == cmparg, 1: signed != cmparg, 2: signed < cmparg, 3: signed <= cmparg,
            4: signed > cmparg, 5: signed >= cmparg}.get(cmp, False)  # fmt: skip


def release_robust_list(proc) -> None:
    """A thread exits: mark each robust futex it still owns as its owner's death (Linux's
    exit_robust_list) and wake one waiter, so pthread_mutex_lock of a robust mutex returns
    EOWNERDEAD instead of hanging. Called under the group's lock."""
    head = proc.robust_list
    if not head:
        return
    proc.robust_list = 0  # (once: the thread is gone)
    memory = proc.memory
    entry = memory.read_u64(head)
    offset = memory.read_u64(head + 8)
    offset -= (1 << 64) if offset >= 1 << 63 else 0
    pending = memory.read_u64(head + 16)
    seen = 0
    while entry != head and seen < ROBUST_LIST_LIMIT:
        following = memory.read_u64(entry & ~1)
        if entry != pending:
            _release_robust(proc, (entry & ~1) + offset)
        entry = following
        seen += 1
    if pending:
        _release_robust(proc, (pending & ~1) + offset)


def _release_robust(proc, addr: int) -> None:
    word = proc.memory.read_u32(addr)
    if word & FUTEX_TID_MASK != proc.tid:
        return
    proc.memory.write_u32(addr, (word & FUTEX_WAITERS) | FUTEX_OWNER_DIED)
    if word & FUTEX_WAITERS:
        proc.group.futex_wake(addr, 1)


@syscall(99, "pu")
def sys_set_robust_list(proc, head: int, length: int) -> int:
    if length != 24:
        return -errnos.EINVAL
    proc.robust_list = head
    return 0


@syscall(100, "ipp")
def sys_get_robust_list(proc, pid: int, head_ptr: int, len_ptr: int) -> int:
    proc.memory.write_u64(head_ptr, getattr(proc, "robust_list", 0))
    proc.memory.write_u64(len_ptr, 24)
    return 0


@syscall(293, "puxx")
def sys_rseq(proc, rseq: int, length: int, flags: int, sig_: int) -> int:
    # Restartable sequences need preemption notifications dbt does not model; glibc copes.
    return -errnos.ENOSYS


# membarrier commands (include/uapi/linux/membarrier.h).
MEMBARRIER_CMD_QUERY, MEMBARRIER_CMD_GLOBAL, MEMBARRIER_CMD_GLOBAL_EXPEDITED = 0, 1, 2
MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, MEMBARRIER_CMD_PRIVATE_EXPEDITED = 4, 8
MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE = 16, 32
MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE, MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ = 64, 128
MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ, MEMBARRIER_CMD_GET_REGISTRATIONS = 256, 512
MEMBARRIER_CMD_FLAG_CPU = 1
#: What QUERY reports: everything but the rseq commands (dbt has no rseq, like a kernel built
#: without CONFIG_RSEQ, which then refuses them with EINVAL).
MEMBARRIER_SUPPORTED = (
    MEMBARRIER_CMD_GLOBAL
    | MEMBARRIER_CMD_GLOBAL_EXPEDITED
    | MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED
    | MEMBARRIER_CMD_PRIVATE_EXPEDITED
    | MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED
    | MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE
    | MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE
    | MEMBARRIER_CMD_GET_REGISTRATIONS
)
#: The private commands and the registration each needs first (else EPERM).
_MEMBARRIER_NEEDS = {
    MEMBARRIER_CMD_PRIVATE_EXPEDITED: MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED,
    MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE: MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE,
}
_MEMBARRIER_REGISTER = (
    MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED
    | MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED
    | MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE
)


def _membarrier_registrations(proc, add: int = 0) -> int:
    """The registrations of this address space (a new one after fork or execve, as in Linux)."""
    key = (os.getpid(), id(proc.image))
    owner, mask = proc.group.membarrier or (key, 0)
    mask = (mask if owner == key else 0) | add
    proc.group.membarrier = (key, mask)
    return mask


@syscall(283, "ixi")
def sys_membarrier(proc, cmd: int, flags: int, cpu_id: int) -> int:
    allowed_flags = MEMBARRIER_CMD_FLAG_CPU if cmd == MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ else 0
    if flags & ~allowed_flags & 0xFFFFFFFF:
        return -errnos.EINVAL
    if cmd == MEMBARRIER_CMD_QUERY:
        return MEMBARRIER_SUPPORTED
    if cmd < 0 or cmd & (cmd - 1) or not cmd & MEMBARRIER_SUPPORTED:
        return -errnos.EINVAL
    if cmd == MEMBARRIER_CMD_GET_REGISTRATIONS:
        return _membarrier_registrations(proc)
    if cmd & _MEMBARRIER_REGISTER:
        _membarrier_registrations(proc, cmd)
        return 0
    needed = _MEMBARRIER_NEEDS.get(cmd)
    if needed is not None and not _membarrier_registrations(proc) & needed:
        return -errnos.EPERM
    _barrier_on_every_thread(proc)
    return 0


def _barrier_on_every_thread(proc) -> None:
    """Return once every other thread running guest code has passed a full host barrier: each is
    made to leave its kernel (a return to Python is one), and threads outside one (in Python or a
    system call) already have. The kernels' own fences order the rest."""
    others = [t for t in list(proc.group.threads.values()) if t is not proc and t.in_kernel]
    entries = {id(t): t.kernel_returns for t in others}
    for thread in others:
        kick(thread, interrupt=False)
    deadline = host_time.monotonic() + 1.0
    while others and host_time.monotonic() < deadline:
        others = [t for t in others if t.in_kernel and t.kernel_returns == entries[id(t)]]
        if others:
            host_time.sleep(0.0001)


# ---- scheduling ----
@syscall(123, "iup")
def sys_sched_getaffinity(proc, pid: int, size: int, mask: int) -> int:
    if size < 8 or size % 8:
        return -errnos.EINVAL
    # The host's CPUs, as qemu-user reports them (nproc and friends size their work by it).
    cpus = os.sched_getaffinity(0 if pid == 0 else pid) if hasattr(os, "sched_getaffinity") else {0}
    bits = sum(1 << cpu for cpu in cpus if cpu < size * 8)
    nbytes = max(8, (max(cpus) // 64 + 1) * 8) if cpus else 8
    nbytes = min(nbytes, size)
    proc.memory.write_slice(mask, bits.to_bytes(nbytes, "little"))
    return nbytes


@syscall(122, "iup")
def sys_sched_setaffinity(proc, pid: int, size: int, mask: int) -> int:
    proc.memory.read_slice(mask, min(size, 128))
    return 0


@syscall(168, "ppp")
def sys_getcpu(proc, cpu: int, node: int, cache: int) -> int:
    if cpu:
        proc.memory.write_u32(cpu, 0)
    if node:
        proc.memory.write_u32(node, 0)
    return 0


# Scheduling policies and priorities are the host's (dbt runs the guest's one thread).
_HOST_SCHED = hasattr(os, "sched_setscheduler")


@syscall(120, "i")
def sys_sched_getscheduler(proc, pid: int) -> int:
    if pid < 0:
        return -errnos.EINVAL
    return os.sched_getscheduler(pid) if _HOST_SCHED else 0


@syscall(121, "ip")
def sys_sched_getparam(proc, pid: int, param: int) -> int:
    if not param or pid < 0:
        return -errnos.EINVAL
    priority = os.sched_getparam(pid).sched_priority if _HOST_SCHED else 0
    proc.memory.write_u32(param, priority)
    return 0


@syscall(119, "iip")
def sys_sched_setscheduler(proc, pid: int, policy: int, param: int) -> int:
    if not param or pid < 0:
        return -errnos.EINVAL
    (priority,) = struct.unpack("<i", proc.memory.read_slice(param, 4))
    if not _HOST_SCHED:
        return 0 if policy == 0 else -errnos.EPERM
    # The host checks the policy and the priority it allows with it (EINVAL), and permissions.
    os.sched_setscheduler(pid, policy, os.sched_param(priority))
    return 0


@syscall(125, "i")
def sys_sched_get_priority_max(proc, policy: int) -> int:
    if _HOST_SCHED:
        return os.sched_get_priority_max(policy)
    return 99 if policy in (1, 2) else 0


@syscall(126, "i")
def sys_sched_get_priority_min(proc, policy: int) -> int:
    if _HOST_SCHED:
        return os.sched_get_priority_min(policy)
    return 1 if policy in (1, 2) else 0


@syscall(141, "ii")
def sys_getpriority(proc, which: int, who: int) -> int:
    return 20 - os.getpriority(which, who)


@syscall(140, "iii")
def sys_setpriority(proc, which: int, who: int, prio: int) -> int:
    os.setpriority(which, who, prio)
    return 0


@syscall(92, "x")
def sys_personality(proc, persona: int) -> int:
    return 0


# ---- riscv64 ----
# riscv_hwprobe keys (Linux uapi asm/hwprobe.h).
RISCV_HWPROBE_KEY_MVENDORID, RISCV_HWPROBE_KEY_MARCHID, RISCV_HWPROBE_KEY_MIMPID = 0, 1, 2
RISCV_HWPROBE_KEY_BASE_BEHAVIOR, RISCV_HWPROBE_KEY_IMA_EXT_0, RISCV_HWPROBE_KEY_CPUPERF_0 = 3, 4, 5
RISCV_HWPROBE_KEY_ZICBOZ_BLOCK_SIZE, RISCV_HWPROBE_KEY_HIGHEST_VIRT_ADDRESS = 6, 7
RISCV_HWPROBE_KEY_MISALIGNED_SCALAR_PERF, RISCV_HWPROBE_KEY_ZICBOM_BLOCK_SIZE = 9, 12
RISCV_HWPROBE_BASE_BEHAVIOR_IMA = 1
RISCV_HWPROBE_MISALIGNED_FAST = 3
RISCV_HWPROBE_WHICH_CPUS = 1
HWPROBE_PAIR = struct.Struct("<qQ")


def hwprobe_answers(proc) -> dict[int, int]:
    """Every key dbt answers, for the process's CPU model (one hart: no per-CPU differences)."""
    cpu = proc.cpu
    answers = {
        RISCV_HWPROBE_KEY_MVENDORID: 0,
        RISCV_HWPROBE_KEY_MARCHID: 0,
        RISCV_HWPROBE_KEY_MIMPID: 0,
        RISCV_HWPROBE_KEY_BASE_BEHAVIOR: RISCV_HWPROBE_BASE_BEHAVIOR_IMA if cpu.base_ima else 0,
        RISCV_HWPROBE_KEY_IMA_EXT_0: cpu.hwprobe_ima_ext_0,
        # Misaligned loads and stores run at full speed: they are plain host accesses.
        RISCV_HWPROBE_KEY_CPUPERF_0: RISCV_HWPROBE_MISALIGNED_FAST,
        RISCV_HWPROBE_KEY_HIGHEST_VIRT_ADDRESS: TASK_SIZE - 1,
        RISCV_HWPROBE_KEY_MISALIGNED_SCALAR_PERF: RISCV_HWPROBE_MISALIGNED_FAST,
    }
    # Known keys whatever the model: the block size, or 0 without the extension (as Linux does).
    answers[RISCV_HWPROBE_KEY_ZICBOZ_BLOCK_SIZE] = CACHE_BLOCK_SIZE if cpu.has("zicboz") else 0
    answers[RISCV_HWPROBE_KEY_ZICBOM_BLOCK_SIZE] = CACHE_BLOCK_SIZE if cpu.has("zicbom") else 0
    return answers


@syscall(258, "puupx")
def sys_riscv_hwprobe(proc, pairs: int, count: int, cpusetsize: int, cpus: int, flags: int) -> int:
    if flags & ~RISCV_HWPROBE_WHICH_CPUS:
        return -errnos.EINVAL
    answers = hwprobe_answers(proc)
    if count == 0:
        return 0
    raw = bytearray(proc.memory.read_slice(pairs, count * HWPROBE_PAIR.size))
    if flags & RISCV_HWPROBE_WHICH_CPUS:
        # Keep CPU 0 (the only hart) in the set if it matches every pair; Linux's rules: an
        # unknown key empties the set, IMA_EXT_0 and BASE_BEHAVIOR match as bit masks.
        if not cpusetsize or not cpus:
            return -errnos.EINVAL
        matches = True
        for i in range(count):
            key, value = HWPROBE_PAIR.unpack_from(raw, i * HWPROBE_PAIR.size)
            have = answers.get(key)
            if have is None:
                matches = False
            elif key in (RISCV_HWPROBE_KEY_IMA_EXT_0, RISCV_HWPROBE_KEY_BASE_BEHAVIOR):
                matches &= (have & value) == value
            else:
                matches &= have == value
        mask = bytearray(proc.memory.read_slice(cpus, cpusetsize))
        if not matches:
            mask[0] &= ~1
        for i in range(1, len(mask)):
            mask[i] = 0
        mask[0] &= 1
        proc.memory.write_slice(cpus, bytes(mask))
        return 0
    for i in range(count):
        key, _ = HWPROBE_PAIR.unpack_from(raw, i * HWPROBE_PAIR.size)
        if key in answers:
            HWPROBE_PAIR.pack_into(raw, i * HWPROBE_PAIR.size, key, answers[key])
        else:
            HWPROBE_PAIR.pack_into(raw, i * HWPROBE_PAIR.size, -1, 0)
    proc.memory.write_slice(pairs, bytes(raw))
    return 0


@syscall(259, "ppx")
def sys_riscv_flush_icache(proc, start: int, end: int, flags: int) -> int:
    if flags & ~1:
        return -errnos.EINVAL
    proc.cache.flush()
    return 0


def host_machine() -> str:
    return platform.machine()
