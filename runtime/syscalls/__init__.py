"""The Linux system-call layer (riscv64 numbers), one `sys_<name>` per call, by family.

Handlers take the process and converted arguments and return the result (a negative errno on
failure). A host OSError becomes -errno and a bad guest pointer -EFAULT here, once, so handlers
stay short. `--strace` prints each call with its arguments and result, as qemu's -strace does.
"""

from __future__ import annotations

import ctypes
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass

from dbt.errors import GuestFault
from dbt.runtime.syscalls import errnos

log = logging.getLogger("dbt.syscall")

#: A handler's return value meaning "registers and pc are already set": rt_sigreturn, execve.
KEEP = object()
#: Result of a call a signal interrupted that must run again once its handler returns (SA_RESTART):
#: a0 and pc stay as they are, so the ecall executes again after rt_sigreturn.
RESTART = object()

# Argument kinds: how a raw 64-bit register becomes the handler's argument and how strace shows it.
#   i int (low 32 bits, signed)   l long (signed)    u unsigned long   p pointer (hex)
#   s path/string pointer          x flags (hex)      o mode (octal)
_KINDS = "ilupsxo"


@dataclass(frozen=True, slots=True)
class SyscallDef:
    number: int
    name: str
    handler: Callable
    args: str
    #: Restarted after a handler with SA_RESTART when a signal interrupts it (else -EINTR).
    restart: bool = False


REGISTRY: dict[int, SyscallDef] = {}

#: Calls that may block (or take long) run without the thread group's lock; every other call
#: holds it while other guest threads exist, so calls that change what threads share (mmap, brk,
#: sigaction, ...) never interleave.
UNLOCKED = frozenset(
    [
        "read",
        "write",
        "readv",
        "writev",
        "pread64",
        "pwrite64",
        "preadv",
        "pwritev",
        "futex",
        "nanosleep",
        "clock_nanosleep",
        "ppoll",
        "pselect6",
        "wait4",
        "waitid",
        "rt_sigsuspend",
        "rt_sigtimedwait",
        "accept",
        "accept4",
        "connect",
        "recvfrom",
        "sendto",
        "recvmsg",
        "sendmsg",
        "sched_yield",
        "epoll_pwait",
        "epoll_pwait2",
        "sendfile",
        "splice",
        "tee",
        "flock",
        "fcntl",
        "openat",
        "exit",
        "exit_group",
        "clone",
        "clone3",
        "execve",
        "fsync",
        "fdatasync",
        "sync",
        "msync",
    ]
)
_warned: set[int] = set()


def syscall(
    number: int, args: str = "", name: str | None = None, restart: bool = False
) -> Callable[[Callable], Callable]:
    """Register `sys_<name>` as the handler of a riscv64 system call number."""
    assert all(kind in _KINDS for kind in args), args

    def register(fn: Callable) -> Callable:
        call_name = name or fn.__name__.removeprefix("sys_")
        assert number not in REGISTRY, f"syscall {number} registered twice"
        REGISTRY[number] = SyscallDef(number, call_name, fn, args, restart)
        return fn

    return register


def _convert(kind: str, raw: int) -> int:
    raw &= (1 << 64) - 1
    if kind == "i":
        raw &= 0xFFFFFFFF
        return raw - (1 << 32) if raw >= 1 << 31 else raw
    if kind == "l":
        return raw - (1 << 64) if raw >= 1 << 63 else raw
    return raw


def dispatch(proc) -> None:
    """Service the ecall that stopped the kernel: a7 is the number, a0..a5 the arguments."""
    regs = proc.regs
    number = int(regs[17])
    raw = [int(regs[10 + i]) for i in range(6)]
    entry = REGISTRY.get(number)
    if entry is None:
        result: object = -errnos.ENOSYS
        if number not in _warned:
            _warned.add(number)
            log.warning("unknown system call %d (returning -ENOSYS)", number)
        if proc.strace:
            _trace(proc, f"syscall_{number}(...)", result)
    else:
        args = [_convert(kind, raw[i]) for i, kind in enumerate(entry.args)]
        if proc.strace:
            call_text = f"{entry.name}({', '.join(_show(proc, k, a) for k, a in zip(entry.args, args))})"
            if entry.name in ("exit", "exit_group", "execve"):
                _trace(proc, call_text, None)
        try:
            if proc.group.multi and entry.name not in UNLOCKED:
                with proc.group.lock:
                    result = entry.handler(proc, *args)
            else:
                result = entry.handler(proc, *args)
        except InterruptedError:
            # A host signal for a guest handler, or another thread's KICK, interrupted a blocking
            # host call (only libc calls made through ctypes surface EINTR; Python's own calls
            # retry). With no signal for the guest to see, the call just runs again. (The Python
            # handler that makes a host signal pending must have run first: in the main thread
            # it runs at the next bytecode boundary, so it is run here.)
            ctypes.pythonapi.PyErr_CheckSignals()
            if not (proc.pending_signals | proc.group.pending) & ~proc.signals.blocked:
                result = RESTART
            else:
                result = RESTART if entry.restart and proc.restart_interrupted() else -errnos.EINTR
        except OSError as exc:
            result = -errnos.from_host(exc.errno)
        except GuestFault:
            result = -errnos.EFAULT
        if proc.strace:
            _trace(proc, call_text, "?" if result is RESTART else result)
    if result is KEEP or result is RESTART:
        return
    value = int(result)  # type: ignore[call-overload]
    regs[10] = value - (1 << 64) if value >= 1 << 63 else value
    proc.advance()


def _show(proc, kind: str, value: int) -> str:
    if kind == "s":
        if value == 0:
            return "NULL"
        try:
            text = proc.memory.read_cstr(value, 256)
        except GuestFault:
            return f"{value:#x}"
        return '"' + text.decode("utf-8", "backslashreplace").replace('"', '\\"') + '"'
    if kind in "px":
        return "NULL" if value == 0 and kind == "p" else f"{value:#x}"
    if kind == "o":
        return f"0{value:o}"
    return str(value)


def _trace(proc, call_text: str, result: object) -> None:
    if result is None:
        line = f"{os.getpid()} {call_text}\n"
    elif result is KEEP or result == "?":
        line = f"{os.getpid()} {call_text} = ?\n"
    else:
        value = int(result)  # type: ignore[call-overload]
        if -4096 < value < 0:
            shown = f"-1 errno={-value} ({errnos.NAMES.get(-value, '?')})"
        elif value > 0xFFFF:
            shown = f"{value:#x}"
        else:
            shown = str(value)
        line = f"{os.getpid()} {call_text} = {shown}\n"
    proc.strace.write(line)
    proc.strace.flush()


# Registering the families fills REGISTRY.
from dbt.runtime.syscalls import (  # noqa: E402, F401
    events,
    fs,
    misc,
    mm,
    net,
    poll,
    process,
    signal,
    signalfd,
    time,
    timers,
    xattr,
)
