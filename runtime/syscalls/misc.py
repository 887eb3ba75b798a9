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
from dbt.runtime.syscalls.time import read_timespec, sleep_until

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


# ---- futex: one guest thread, so nobody else can change the word or wake a waiter ----
FUTEX_WAIT, FUTEX_WAKE, FUTEX_REQUEUE, FUTEX_CMP_REQUEUE, FUTEX_WAKE_OP = 0, 1, 3, 4, 5
FUTEX_WAIT_BITSET, FUTEX_WAKE_BITSET = 9, 10
FUTEX_WAIT_REQUEUE_PI, FUTEX_LOCK_PI2 = 11, 13
FUTEX_CMD_MASK = 0x7F
FUTEX_CLOCK_REALTIME = 256
ETIMEDOUT = 110


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
        # FUTEX_WAIT's timeout is relative, FUTEX_WAIT_BITSET's absolute on the chosen clock.
        deadline = host_time.clock_gettime_ns(host_time.CLOCK_MONOTONIC) + ns if cmd == FUTEX_WAIT else ns
    if op & FUTEX_CLOCK_REALTIME and cmd not in (FUTEX_WAIT_BITSET, FUTEX_WAIT_REQUEUE_PI, FUTEX_LOCK_PI2):
        return -errnos.ENOSYS
    if cmd in (FUTEX_WAIT_BITSET, FUTEX_WAKE_BITSET) and val3 == 0:
        return -errnos.EINVAL
    if uaddr % 4:
        return -errnos.EINVAL
    if waiting:
        current = proc.memory.read_u32(uaddr)
        if current != val & 0xFFFFFFFF:
            return -errnos.EAGAIN
        clock = host_time.CLOCK_REALTIME if op & FUTEX_CLOCK_REALTIME else host_time.CLOCK_MONOTONIC
        if deadline is None and not proc.signals.any_handler:
            log.warning("futex wait with no other guest thread to wake it: the guest is deadlocked")
        try:
            # No other thread exists to wake us: only the timeout or a signal ends the wait.
            sleep_until(proc, clock, deadline)
        except InterruptedError:
            # Without a timeout Linux answers ERESTARTSYS (SA_RESTART restarts the wait), with one
            # it restarts only when no handler runs: here one does, so EINTR.
            if deadline is None and proc.restart_interrupted():
                return RESTART
            return -errnos.EINTR
        return -ETIMEDOUT
    if cmd in (FUTEX_WAKE, FUTEX_WAKE_BITSET, FUTEX_REQUEUE, FUTEX_CMP_REQUEUE, FUTEX_WAKE_OP):
        if cmd == FUTEX_CMP_REQUEUE and proc.memory.read_u32(uaddr) != val3 & 0xFFFFFFFF:
            return -errnos.EAGAIN
        return 0
    return -errnos.ENOSYS


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
    owner, mask = getattr(proc, "_membarrier", (key, 0))
    mask = (mask if owner == key else 0) | add
    proc._membarrier = (key, mask)
    return mask


@syscall(283, "ixi")
def sys_membarrier(proc, cmd: int, flags: int, cpu_id: int) -> int:
    # One guest thread: every barrier is already complete; only the arguments and the
    # registration protocol are Linux's to check.
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
    return 0


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
