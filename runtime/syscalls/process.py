"""Process system calls: identity, exit, fork/vfork through clone, execve, wait.

fork and vfork fork the host process: parent and child each go on emulating their own copy.
execve runs the new program in the same host process (same pid, same file descriptors minus
close-on-exec ones), so a shell's commands start without a new Python. Guest threads
(CLONE_THREAD) run on host threads of their own (dbt.runtime.threads).
"""

from __future__ import annotations

import ctypes
import logging
import os
import resource
import struct
import threading

from dbt.errors import DbtError
from dbt.ir.state import PC
from dbt.runtime import signals as sig
from dbt.runtime.syscalls import KEEP, errnos, syscall
from dbt.runtime.syscalls.fs import guest_path, read_string
from dbt.runtime.syscalls.hostcall import LINUX, libc_function

log = logging.getLogger("dbt.syscall")

CLONE_VM, CLONE_VFORK, CLONE_THREAD = 0x100, 0x4000, 0x10000
CLONE_SETTLS, CLONE_PARENT_SETTID, CLONE_CHILD_CLEARTID = 0x80000, 0x100000, 0x200000
CLONE_CHILD_SETTID = 0x01000000
MAX_ARGS = 1 << 17
MAX_SHEBANG_DEPTH = 4
RUSAGE = struct.Struct("<qqqq14q")


class ExecRequest(Exception):
    """execve succeeded in checking its arguments: the run loop replaces the program."""

    def __init__(self, path: str, argv: list[bytes], envp: list[bytes]) -> None:
        super().__init__(path)
        self.path = path
        self.argv = argv
        self.envp = envp


# ---- identity ----
@syscall(172)
def sys_getpid(proc) -> int:
    return os.getpid()


@syscall(178)
def sys_gettid(proc) -> int:
    return proc.tid


@syscall(173)
def sys_getppid(proc) -> int:
    return os.getppid()


@syscall(174)
def sys_getuid(proc) -> int:
    return os.getuid()


@syscall(175)
def sys_geteuid(proc) -> int:
    return os.geteuid()


@syscall(176)
def sys_getgid(proc) -> int:
    return os.getgid()


@syscall(177)
def sys_getegid(proc) -> int:
    return os.getegid()


@syscall(148, "ppp")
def sys_getresuid(proc, r: int, e: int, s: int) -> int:
    ids = os.getresuid() if hasattr(os, "getresuid") else (os.getuid(), os.geteuid(), os.geteuid())
    for addr, value in zip((r, e, s), ids):
        proc.memory.write_u32(addr, value)
    return 0


@syscall(150, "ppp")
def sys_getresgid(proc, r: int, e: int, s: int) -> int:
    ids = os.getresgid() if hasattr(os, "getresgid") else (os.getgid(), os.getegid(), os.getegid())
    for addr, value in zip((r, e, s), ids):
        proc.memory.write_u32(addr, value)
    return 0


@syscall(158, "ip")
def sys_getgroups(proc, size: int, addr: int) -> int:
    groups = os.getgroups()
    if size == 0:
        return len(groups)
    if size < len(groups):
        return -errnos.EINVAL
    proc.memory.write_slice(addr, struct.pack(f"<{len(groups)}I", *groups))
    return len(groups)


@syscall(146, "i")
def sys_setuid(proc, uid: int) -> int:
    os.setuid(uid)
    return 0


@syscall(144, "i")
def sys_setgid(proc, gid: int) -> int:
    os.setgid(gid)
    return 0


@syscall(154, "ii")
def sys_setpgid(proc, pid: int, pgid: int) -> int:
    os.setpgid(pid, pgid)
    return 0


@syscall(155, "i")
def sys_getpgid(proc, pid: int) -> int:
    return os.getpgid(pid)


@syscall(156, "i")
def sys_getsid(proc, pid: int) -> int:
    return os.getsid(pid)


@syscall(157)
def sys_setsid(proc) -> int:
    os.setsid()
    return os.getsid(0)


@syscall(96, "p")
def sys_set_tid_address(proc, addr: int) -> int:
    proc.tid_address = addr
    return proc.tid


PR_SET_PDEATHSIG, PR_GET_PDEATHSIG, PR_GET_DUMPABLE, PR_SET_DUMPABLE = 1, 2, 3, 4
PR_SET_NAME, PR_GET_NAME = 15, 16
PR_SET_NO_NEW_PRIVS, PR_GET_NO_NEW_PRIVS = 38, 39
TASK_COMM_LEN = 16

_prctl = libc_function("prctl") if LINUX else None


@syscall(167, "ixxxx")
def sys_prctl(proc, option: int, arg2: int, arg3: int, arg4: int, arg5: int) -> int:
    if option == PR_SET_NAME:
        # Linux copies at most TASK_COMM_LEN - 1 bytes: a longer name is cut, not refused.
        name = read_string(proc, arg2, TASK_COMM_LEN - 1)
        proc.comm = name if name is not None else proc.memory.read_slice(arg2, TASK_COMM_LEN - 1)
        return 0
    if option == PR_GET_NAME:
        proc.memory.write_slice(arg2, proc.comm[: TASK_COMM_LEN - 1].ljust(TASK_COMM_LEN, b"\0"))
        return 0
    if _prctl is None:  # no host to keep these: Linux's defaults
        if option in (PR_SET_DUMPABLE, PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS):
            return 0
        if option in (PR_GET_DUMPABLE, PR_GET_NO_NEW_PRIVS):
            return 1 if option == PR_GET_DUMPABLE else 0
        return -errnos.EINVAL
    # These are the process's, and the dbt process is the guest's: the host keeps them (and checks
    # their arguments), so they act as on Linux (no_new_privs on what it runs, the parent's death).
    if option == PR_SET_PDEATHSIG:
        if not 0 <= arg2 <= sig.NSIG:
            return -errnos.EINVAL
        return _prctl(PR_SET_PDEATHSIG, (sig.to_host(arg2) or 0) if arg2 else 0, 0, 0, 0)
    if option == PR_GET_PDEATHSIG:
        value = ctypes.c_int()
        _prctl(PR_GET_PDEATHSIG, ctypes.addressof(value), 0, 0, 0)
        proc.memory.write_u32(arg2, sig.from_host(value.value) if value.value else 0)
        return 0
    if option in (PR_GET_DUMPABLE, PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS, PR_GET_NO_NEW_PRIVS):
        return _prctl(option, arg2, arg3, arg4, arg5)
    return -errnos.EINVAL


# ---- exit ----
@syscall(93, "i")
def sys_exit(proc, status: int) -> int:
    """Ends the calling thread (the process, if it is the last one)."""
    from dbt.runtime.process import GuestExit

    raise GuestExit(status, group=False)


@syscall(94, "i")
def sys_exit_group(proc, status: int) -> int:
    from dbt.runtime.process import GuestExit

    raise GuestExit(status)


# ---- fork and threads ----
class ThreadsUnsupported(DbtError):
    """A guest thread where dbt cannot run one (the lockstep of --differential)."""


#: What a new thread must share with its creator (Linux refuses CLONE_THREAD without these).
CLONE_SIGHAND = 0x800
THREAD_FLAGS = CLONE_VM | CLONE_SIGHAND | CLONE_THREAD
CLONE_ARGS = struct.Struct("<11Q")  # struct clone_args, up to cgroup (88 bytes, CLONE_ARGS_SIZE_VER2)
CLONE_ARGS_SIZE_VER0 = 64


@syscall(220, "xpppp")
def sys_clone(proc, flags: int, newsp: int, parent_tid: int, tls: int, child_tid: int) -> int:
    if flags & CLONE_THREAD:
        return _new_thread(proc, flags, newsp, parent_tid, tls, child_tid)
    return _fork(proc, flags, newsp, parent_tid, tls, child_tid)


@syscall(435, "pu")
def sys_clone3(proc, args: int, size: int) -> int:
    if size < CLONE_ARGS_SIZE_VER0 or size > 4096:
        return -errnos.EINVAL
    raw = proc.memory.read_slice(args, min(size, CLONE_ARGS.size)).ljust(CLONE_ARGS.size, b"\0")
    if size > CLONE_ARGS.size and any(proc.memory.read_slice(args + CLONE_ARGS.size, size - CLONE_ARGS.size)):
        return -errnos.E2BIG  # fields this kernel does not know must be zero
    flags, _pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, _ = (
        CLONE_ARGS.unpack(raw)
    )
    if set_tid or set_tid_size or flags & 0x1000:  # set_tid, CLONE_PIDFD: not offered
        return -errnos.EINVAL
    if (stack == 0) != (stack_size == 0) or exit_signal > sig.NSIG:
        return -errnos.EINVAL
    newsp = (stack + stack_size) & (1 << 64) - 1 if stack else 0
    if flags & CLONE_THREAD:
        if exit_signal:
            return -errnos.EINVAL
        return _new_thread(proc, flags, newsp, parent_tid, tls, child_tid)
    return _fork(proc, flags, newsp, parent_tid, tls, child_tid)


def _new_thread(proc, flags: int, newsp: int, parent_tid: int, tls: int, child_tid: int) -> int:
    """clone(CLONE_THREAD): a guest thread on a host thread of its own."""
    if flags & THREAD_FLAGS != THREAD_FLAGS:
        return -errnos.EINVAL
    if proc.observer is not None:
        raise ThreadsUnsupported(
            "--differential runs the two tiers in lockstep on one thread: this guest creates threads"
        )
    thread = proc.new_thread()
    regs = thread.regs
    if newsp:
        regs[2] = newsp - (1 << 64) if newsp >= 1 << 63 else newsp
    if flags & CLONE_SETTLS:
        regs[4] = tls - (1 << 64) if tls >= 1 << 63 else tls
    regs[10] = 0
    thread.state[PC] = proc.state[PC] + 4  # after the ecall (its counters start at 0)
    if flags & CLONE_CHILD_CLEARTID:
        thread.tid_address = child_tid
    with proc.group.lock:
        # The tid words are written before either thread runs on (Linux's order).
        tid = proc.start_thread(thread)
        if flags & CLONE_PARENT_SETTID:
            proc.memory.write_u32(parent_tid, tid)
        if flags & CLONE_CHILD_SETTID:
            proc.memory.write_u32(child_tid, tid)
        thread.may_run.set()
    log.debug("thread %d started at %#x", tid, int(thread.state[PC]))
    return tid


def _fork(proc, flags: int, newsp: int, parent_tid: int, tls: int, child_tid: int) -> int:
    vfork = bool(flags & CLONE_VFORK)
    if vfork:
        wait_r, wait_w = os.pipe()
    if proc.strace:
        proc.strace.flush()
    in_worker = threading.current_thread() is not threading.main_thread()
    # Under the group's lock: a thread holding it at the fork (installing a region, say) would
    # leave it held forever in the child, which has none of the other threads. The forking
    # thread's own hold is released in both processes when the block ends.
    with proc.group.lock:
        pid = os.fork()
    if pid == 0:
        proc.is_child = True
        proc.after_fork_child(in_worker)
        if vfork:
            os.close(wait_r)
            proc.vfork_release = wait_w
        regs = proc.regs
        if newsp:
            regs[2] = newsp - (1 << 64) if newsp >= 1 << 63 else newsp
        if flags & CLONE_SETTLS:
            regs[4] = tls - (1 << 64) if tls >= 1 << 63 else tls
        if flags & CLONE_CHILD_SETTID:
            proc.memory.write_u32(child_tid, os.getpid())
        if flags & CLONE_CHILD_CLEARTID:
            proc.tid_address = child_tid
        return 0
    if flags & CLONE_PARENT_SETTID:
        proc.memory.write_u32(parent_tid, pid)
    if vfork:
        # vfork: the parent waits until the child execs or exits (its end of the pipe closes).
        os.close(wait_w)
        while os.read(wait_r, 1):
            pass
        os.close(wait_r)
    return pid


# ---- execve ----
def _string_array(proc, addr: int) -> list[bytes]:
    items: list[bytes] = []
    if addr == 0:
        return items
    while len(items) < MAX_ARGS:
        pointer = proc.memory.read_u64(addr + 8 * len(items))
        if pointer == 0:
            return items
        items.append(proc.memory.read_cstr(pointer, 1 << 17))
    raise OSError(errnos.E2BIG, "argument list too long")


@syscall(221, "spp")
def sys_execve(proc, path_addr: int, argv_addr: int, envp_addr: int) -> int:
    path = guest_path(proc, path_addr)
    argv = _string_array(proc, argv_addr)
    envp = _string_array(proc, envp_addr)
    return _execve(proc, os.fsdecode(path), argv, envp)


AT_FDCWD, AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH = -100, 0x100, 0x1000


def _at_path(dirfd: int, path: str) -> str:
    """The file execveat names, as a path that still opens once the exec has closed the
    close-on-exec descriptors (dbt loads the new program after that): the directory's (or with
    AT_EMPTY_PATH the file's) path, else Linux's own name for it, /dev/fd/N[/path]."""
    os.fstat(dirfd)  # EBADF
    base = f"/dev/fd/{dirfd}"
    try:
        target = os.readlink(f"/proc/self/fd/{dirfd}")
    except OSError:
        target = ""
    if target.startswith("/") and os.path.exists(target):  # not deleted, not a memfd or a pipe
        base = target
    return base if not path else f"{base}/{path}"


@syscall(281, "isppx")
def sys_execveat(proc, dirfd: int, path_addr: int, argv_addr: int, envp_addr: int, flags: int) -> int:
    path = os.fsdecode(guest_path(proc, path_addr))
    if flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH):
        return -errnos.EINVAL
    argv, envp = _string_array(proc, argv_addr), _string_array(proc, envp_addr)
    if not path.startswith("/") and (path or flags & AT_EMPTY_PATH) and dirfd != AT_FDCWD:
        path = _at_path(dirfd, path)
    if flags & AT_SYMLINK_NOFOLLOW and path and os.path.islink(proc.paths.host(path)):
        return -errnos.ELOOP
    return _execve(proc, path, argv, envp)


def _execve(proc, path: str, argv: list[bytes], envp: list[bytes]) -> int:
    if not path:
        return -errnos.ENOENT
    for _ in range(MAX_SHEBANG_DEPTH + 1):
        host = proc.paths.host(path)
        st = os.stat(host)
        if (st.st_mode & 0o170000) != 0o100000 or not os.access(host, os.X_OK):
            return -errnos.EACCES
        with open(host, "rb") as f:
            head = f.read(256)
        if head.startswith(b"#!"):
            line = head[2:].split(b"\n", 1)[0].strip()
            if not line:
                return -errnos.ENOEXEC
            parts = line.split(None, 1)
            interp = parts[0]
            argv = [interp, *parts[1:], os.fsencode(path), *argv[1:]]
            path = os.fsdecode(interp)
            continue
        if (
            head[:4] != b"\x7fELF"
            or len(head) < 20
            or head[4] != 2
            or int.from_bytes(head[18:20], "little") != 243
        ):
            return -errnos.ENOEXEC
        raise ExecRequest(path, argv, envp)
    return -errnos.ELOOP


# ---- wait ----
def _write_rusage(proc, addr: int, usage) -> None:
    if not addr:
        return
    times = [
        int(usage.ru_utime),
        int(usage.ru_utime % 1 * 1e6),
        int(usage.ru_stime),
        int(usage.ru_stime % 1 * 1e6),
    ]
    counters = (
        "maxrss ixrss idrss isrss minflt majflt nswap inblock oublock msgsnd msgrcv nsignals nvcsw nivcsw"
    )
    fields = times + [getattr(usage, "ru_" + name) for name in counters.split()]
    proc.memory.write_slice(addr, RUSAGE.pack(*fields))


@syscall(260, "ipxp")
def sys_wait4(proc, pid: int, status_addr: int, options: int, rusage_addr: int) -> int:
    if status_addr:
        proc.memory.view(status_addr, 4, writable=True)
    child, status, usage = os.wait4(pid, options & 0xF)
    if child == 0:
        return 0
    if status_addr:
        proc.memory.write_u32(status_addr, _guest_status(status))
    _write_rusage(proc, rusage_addr, usage)
    return child


def _guest_status(status: int) -> int:
    """A host wait status in Linux encoding, with the signal numbers translated."""
    if os.WIFSIGNALED(status):
        return sig.from_host(os.WTERMSIG(status)) | (0x80 if os.WCOREDUMP(status) else 0)
    if os.WIFSTOPPED(status):
        return (sig.from_host(os.WSTOPSIG(status)) << 8) | 0x7F
    if os.WIFCONTINUED(status):
        return 0xFFFF
    return (os.WEXITSTATUS(status) & 0xFF) << 8


WNOHANG, WEXITED, WSTOPPED, WCONTINUED, WNOWAIT = 1, 4, 2, 8, 0x1000000
CLD_EXITED, CLD_KILLED, CLD_DUMPED, CLD_STOPPED, CLD_CONTINUED = 1, 2, 3, 5, 6


@syscall(95, "iipxp")
def sys_waitid(proc, idtype: int, ident: int, infop: int, options: int, rusage_addr: int) -> int:
    host_options = 0
    for guest_bit, name in ((WNOHANG, "WNOHANG"), (WEXITED, "WEXITED"), (WSTOPPED, "WSTOPPED"),
                            (WCONTINUED, "WCONTINUED"), (WNOWAIT, "WNOWAIT")):  # fmt: skip
        if options & guest_bit:
            host_options |= getattr(os, name)
    host_idtype = {0: os.P_ALL, 1: os.P_PID, 2: os.P_PGID}.get(idtype)
    if host_idtype is None:
        return -errnos.EINVAL
    result = os.waitid(host_idtype, ident, host_options)
    info = bytearray(128)
    if result is not None:
        code = result.si_code
        status = result.si_status
        if code in (CLD_KILLED, CLD_DUMPED, CLD_STOPPED):
            status = sig.from_host(status)
        struct.pack_into("<iii", info, 0, sig.SIGCHLD, 0, code)
        struct.pack_into("<iii", info, 16, result.si_pid, result.si_uid, status)
    if infop:
        proc.memory.write_slice(infop, bytes(info))
    if rusage_addr:
        _write_rusage(proc, rusage_addr, resource.getrusage(resource.RUSAGE_CHILDREN))
    return 0


@syscall(165, "ip")
def sys_getrusage(proc, who: int, addr: int) -> int:
    host_who = {0: resource.RUSAGE_SELF, -1: resource.RUSAGE_CHILDREN, 1: resource.RUSAGE_SELF}.get(who)
    if host_who is None:
        return -errnos.EINVAL
    _write_rusage(proc, addr, resource.getrusage(host_who))
    return 0


__all__ = ["KEEP", "ExecRequest"]
