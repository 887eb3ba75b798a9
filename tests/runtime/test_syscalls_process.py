"""Process system calls (runtime/syscalls/process.py): identity, process groups, prctl, clone,
execve's checks, wait4/waitid and getrusage, compared with the host's view of the same processes."""

from __future__ import annotations

import errno
import os
import resource
import signal
import struct
import sys
import time

import pytest
from syscall_harness import AT_FDCWD, Guest, hello_binary, in_child

from dbt.runtime.syscalls import process as proc_calls

GETRESUID, GETRESGID, GETGROUPS, SETUID, SETGID = 148, 150, 158, 146, 144
SETPGID, GETPGID, GETSID, SETSID, SET_TID_ADDRESS, PRCTL = 154, 155, 156, 157, 96, 167
CLONE, EXECVE, EXECVEAT, WAIT4, WAITID, GETRUSAGE, KILL = 220, 221, 281, 260, 95, 165, 129
GETPID, GETTID, GETPPID, GETUID, GETEUID, GETGID, GETEGID = 172, 178, 173, 174, 175, 176, 177
OPENAT, READ = 56, 63
SIGCHLD = 17
CLONE_VM, CLONE_VFORK, CLONE_SETTLS, CLONE_PARENT_SETTID = 0x100, 0x4000, 0x80000, 0x100000
CLONE_CHILD_CLEARTID, CLONE_CHILD_SETTID = 0x200000, 0x01000000
WNOHANG, WUNTRACED, WEXITED, WCONTINUED, WNOWAIT = 1, 2, 4, 8, 0x1000000
P_ALL, P_PID, P_PGID = 0, 1, 2
CLD_EXITED, CLD_KILLED, CLD_STOPPED = 1, 2, 5
RUSAGE = struct.Struct("<qqqq14q")


# ---- identity ----
def test_ids_match_the_host(guest):
    assert [guest.call(n) for n in (GETPID, GETTID, GETPPID)] == [os.getpid(), os.getpid(), os.getppid()]
    assert [guest.call(n) for n in (GETUID, GETEUID, GETGID, GETEGID)] == [
        os.getuid(), os.geteuid(), os.getgid(), os.getegid()
    ]  # fmt: skip
    assert guest.call(GETRESUID, guest.addr(0), guest.addr(4), guest.addr(8)) == 0
    assert guest.unpack("<III", 0) == os.getresuid()
    assert guest.call(GETRESGID, guest.addr(16), guest.addr(20), guest.addr(24)) == 0
    assert guest.unpack("<III", 16) == os.getresgid()
    assert guest.call(GETRESUID, 0x10, guest.addr(4), guest.addr(8)) == -errno.EFAULT
    assert guest.call(GETRESGID, guest.addr(0), guest.addr(4), 0x10) == -errno.EFAULT


def test_getgroups(guest):
    groups = os.getgroups()
    assert guest.call(GETGROUPS, 0, 0) == len(groups)
    assert guest.call(GETGROUPS, 64, guest.addr(0)) == len(groups)
    assert list(struct.unpack(f"<{len(groups)}I", guest.get(0, 4 * len(groups)))) == groups
    assert guest.call(GETGROUPS, -1, guest.addr(0)) == -errno.EINVAL
    if len(groups) > 1:  # a list too small for the groups
        assert guest.call(GETGROUPS, len(groups) - 1, guest.addr(0)) == -errno.EINVAL
    if groups:
        assert guest.call(GETGROUPS, 64, 0x10) == -errno.EFAULT


@pytest.mark.skipif(os.geteuid() != 0, reason="setting supplementary groups needs root")
def test_getgroups_with_supplementary_groups():
    def body() -> bytes:  # in a child: the groups change for good
        os.setgroups([5, 7, 9])
        g = Guest()
        results = [g.call(GETGROUPS, 0, 0), g.call(GETGROUPS, 3, g.addr(0)), g.call(GETGROUPS, 2, g.addr(64))]
        return struct.pack("<3i", *results) + g.get(0, 12)

    data = in_child(body)
    assert struct.unpack("<3i", data[:12]) == (3, 3, -errno.EINVAL)
    assert struct.unpack("<3I", data[12:]) == (5, 7, 9)


def test_setuid_setgid_to_the_current_ids(guest):
    before = (os.getresuid(), os.getresgid())
    assert guest.call(SETUID, os.getuid()) == 0
    assert guest.call(SETGID, os.getgid()) == 0
    assert (os.getresuid(), os.getresgid()) == before


def test_process_group_and_session_queries(guest):
    assert guest.call(GETPGID, 0) == os.getpgid(0)
    assert guest.call(GETPGID, os.getpid()) == os.getpgid(0)
    assert guest.call(GETSID, 0) == os.getsid(0)
    assert guest.call(GETPGID, 0x3FFFFFF0) == -errno.ESRCH
    assert guest.call(GETSID, 0x3FFFFFF0) == -errno.ESRCH
    assert guest.call(SETPGID, 0x3FFFFFF0, 0) == -errno.ESRCH
    assert guest.call(SETPGID, 0, -1) == -errno.EINVAL


def _sleeping_child():
    """A host child that waits until its pipe closes; returns (pid, the pipe's write end)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(w)
            os.read(r, 1)
        finally:
            os._exit(0)
    os.close(r)
    return pid, w


def test_setpgid_moves_a_child_into_its_own_group(guest):
    pid, release = _sleeping_child()
    try:
        assert guest.call(SETPGID, pid, pid) == 0
        assert os.getpgid(pid) == pid
        assert guest.call(GETPGID, pid) == pid
    finally:
        os.close(release)
        os.waitpid(pid, 0)


def test_setsid_in_a_child_starts_a_session():
    def body() -> bytes:
        g = Guest()
        sid = g.call(SETSID)
        again = g.call(SETSID)  # a session leader cannot start another
        return struct.pack("<iiii", sid, os.getpid(), os.getsid(0), again)

    sid, pid, host_sid, again = struct.unpack("<iiii", in_child(body))
    assert sid == pid == host_sid
    assert again == -errno.EPERM


def test_set_tid_address(guest):
    assert guest.call(SET_TID_ADDRESS, guest.addr(64)) == os.getpid()
    assert guest.process.tid_address == guest.addr(64)


# ---- prctl ----
PR_SET_PDEATHSIG, PR_GET_PDEATHSIG, PR_GET_DUMPABLE, PR_SET_DUMPABLE = 1, 2, 3, 4
PR_SET_NAME, PR_GET_NAME, PR_SET_NO_NEW_PRIVS, PR_GET_NO_NEW_PRIVS = 15, 16, 38, 39


def test_prctl_name_and_the_proc_files_that_show_it(guest):
    assert guest.call(PRCTL, PR_SET_NAME, guest.cstr(0, "a-rather-long-t"), 0, 0, 0) == 0
    guest.put(64, b"\xff" * 16)
    assert guest.call(PRCTL, PR_GET_NAME, guest.addr(64), 0, 0, 0) == 0
    assert guest.get(64, 16) == b"a-rather-long-t\0"  # 15 bytes and a NUL: TASK_COMM_LEN
    assert guest.call(PRCTL, PR_GET_NAME, 0x10, 0, 0, 0) == -errno.EFAULT
    for name in ("stat", "status"):
        fd = guest.call(OPENAT, AT_FDCWD, guest.cstr(0, f"/proc/self/{name}"), 0, 0)
        try:
            n = guest.call(READ, fd, guest.addr(4096), 8192)
            text = guest.get(4096, n).decode()
        finally:
            os.close(fd)
        if name == "stat":
            assert text.startswith(f"{os.getpid()} (a-rather-long-t) ")
        else:
            lines = text.splitlines()
            assert lines[0] == "Name:\ta-rather-long-t"
            assert f"Pid:\t{os.getpid()}" in lines


def test_prctl_set_name_truncates_a_long_name(guest):
    assert guest.call(PRCTL, PR_SET_NAME, guest.cstr(0, "a-rather-long-thread-name"), 0, 0, 0) == 0
    assert guest.call(PRCTL, PR_GET_NAME, guest.addr(64), 0, 0, 0) == 0
    assert guest.get(64, 16) == b"a-rather-long-t\0"


def test_prctl_other_options(guest):
    assert guest.call(PRCTL, PR_GET_DUMPABLE, 0, 0, 0, 0) == 1
    assert guest.call(PRCTL, PR_SET_DUMPABLE, 1, 0, 0, 0) == 0
    assert guest.call(PRCTL, PR_SET_PDEATHSIG, 0, 0, 0, 0) == 0
    assert guest.call(PRCTL, 9999, 0, 0, 0, 0) == -errno.EINVAL


def test_prctl_settings_read_back():
    def body() -> bytes:  # in a child: no_new_privs cannot be undone
        g = Guest()
        results = [
            g.call(PRCTL, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0),
            g.call(PRCTL, PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0),
            g.call(PRCTL, PR_SET_DUMPABLE, 0, 0, 0, 0),
            g.call(PRCTL, PR_GET_DUMPABLE, 0, 0, 0, 0),
            g.call(PRCTL, PR_SET_DUMPABLE, 3, 0, 0, 0),
            g.call(PRCTL, PR_SET_PDEATHSIG, 10, 0, 0, 0),
            g.call(PRCTL, PR_GET_PDEATHSIG, g.addr(0), 0, 0, 0),
            struct.unpack("<i", g.get(0, 4))[0],
        ]
        return struct.pack("<8i", *results)

    assert struct.unpack("<8i", in_child(body)) == (0, 1, 0, 0, -errno.EINVAL, 0, 0, 10)


# ---- clone (fork, vfork) ----
def test_clone_settid_tls_and_stack_in_parent_and_child(guest):
    flags = SIGCHLD | CLONE_PARENT_SETTID | CLONE_CHILD_SETTID | CLONE_SETTLS | CLONE_CHILD_CLEARTID
    newsp, tls = guest.addr(8 * 4096), 0x1234_5678
    r, w = os.pipe()
    pid = guest.call(CLONE, flags, newsp, guest.addr(0), tls, guest.addr(8))
    if pid == 0:  # the child reports what it sees, then leaves at once
        try:
            m = guest.m
            report = struct.pack(
                "<qqqqq", int(m.x[2]), int(m.x[4]), struct.unpack("<I", guest.get(8, 4))[0], os.getpid(),
                guest.process.tid_address,
            )  # fmt: skip
            os.write(w, report)
        finally:
            os._exit(0)
    os.close(w)
    report = os.read(r, 64)
    os.close(r)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    child_sp, child_tp, child_tid, child_pid, clear_tid = struct.unpack("<qqqqq", report)
    assert child_pid == pid
    assert (child_sp, child_tp, child_tid, clear_tid) == (newsp, tls, pid, guest.addr(8))
    assert guest.unpack("<I", 0) == (pid,)  # CLONE_PARENT_SETTID wrote the parent's copy
    assert guest.unpack("<I", 8) == (0,)  # CLONE_CHILD_SETTID wrote the child's copy only
    assert guest.process.tid_address == 0


def test_vfork_parent_waits_for_the_child(guest):
    start = time.monotonic()
    pid = guest.call(CLONE, CLONE_VM | CLONE_VFORK | SIGCHLD, 0, 0, 0, 0)
    if pid == 0:
        time.sleep(0.2)
        os._exit(5)
    # the parent goes on only once the child has exited (or exec'd)
    assert time.monotonic() - start >= 0.19
    assert guest.call(WAIT4, pid, guest.addr(0), 0, 0) == pid
    status = guest.unpack("<i", 0)[0]
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 5


# ---- wait4, waitid, getrusage ----
def test_wait4_nohang_and_rusage(guest):
    assert guest.call(WAIT4, 1, 0, WNOHANG, 0) == -errno.ECHILD  # init is nobody's child
    pid, release = _sleeping_child()
    try:
        assert guest.call(WAIT4, pid, guest.addr(0), WNOHANG, 0) == 0
        assert guest.call(WAIT4, pid, 0x10, 0, 0) == -errno.EFAULT
    finally:
        os.close(release)
    assert guest.call(WAIT4, pid, guest.addr(0), 0, guest.addr(64)) == pid
    status = guest.unpack("<i", 0)[0]
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    usage = RUSAGE.unpack(guest.get(64, RUSAGE.size))
    assert 0 <= usage[1] < 10**6 and 0 <= usage[3] < 10**6  # tv_usec fields
    assert usage[4] > 0  # ru_maxrss of the child
    assert guest.call(WAIT4, pid, 0, 0, 0) == -errno.ECHILD


def test_wait4_status_of_stopped_continued_and_killed_children(guest):
    pid, release = _sleeping_child()
    try:
        os.kill(pid, signal.SIGSTOP)
        assert guest.call(WAIT4, pid, guest.addr(0), WUNTRACED, 0) == pid
        status = guest.unpack("<i", 0)[0]
        assert status == (19 << 8) | 0x7F  # WIFSTOPPED with SIGSTOP, in Linux's encoding
        os.kill(pid, signal.SIGCONT)
        assert guest.call(WAIT4, pid, guest.addr(0), WCONTINUED, 0) == pid
        assert guest.unpack("<i", 0)[0] == 0xFFFF
        os.kill(pid, signal.SIGKILL)
        assert guest.call(WAIT4, pid, guest.addr(0), 0, 0) == pid
        assert guest.unpack("<i", 0)[0] == 9  # WIFSIGNALED(SIGKILL), no core
    finally:
        os.close(release)


def _siginfo(guest, offset=0) -> tuple[int, int, int, int, int, int]:
    signo, err, code = struct.unpack_from("<iii", guest.get(offset, 128))
    pid, uid, status = struct.unpack_from("<iii", guest.get(offset, 128), 16)
    return signo, err, code, pid, uid, status


def test_waitid_exited_child(guest):
    pid = guest.call(CLONE, SIGCHLD, 0, 0, 0, 0)
    if pid == 0:
        os._exit(3)
    guest.put(0, b"\xff" * 128)
    assert guest.call(WAITID, P_PID, pid, guest.addr(0), WEXITED | WNOWAIT, 0) == 0
    assert _siginfo(guest) == (SIGCHLD, 0, CLD_EXITED, pid, os.getuid(), 3)
    # WNOWAIT left it waitable
    guest.put(0, b"\xff" * 128)
    assert guest.call(WAITID, P_ALL, 0, guest.addr(0), WEXITED, guest.addr(256)) == 0
    assert _siginfo(guest) == (SIGCHLD, 0, CLD_EXITED, pid, os.getuid(), 3)
    usage = RUSAGE.unpack(guest.get(256, RUSAGE.size))
    assert usage[4] == resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    assert guest.call(WAITID, P_PID, pid, guest.addr(0), WEXITED, 0) == -errno.ECHILD


def test_waitid_nohang_stopped_and_killed(guest):
    pid, release = _sleeping_child()
    try:
        guest.put(0, b"\xff" * 128)
        assert guest.call(WAITID, P_PID, pid, guest.addr(0), WEXITED | WNOHANG, 0) == 0
        assert _siginfo(guest)[3] == 0  # nothing to report: si_pid 0
        os.kill(pid, signal.SIGSTOP)
        assert guest.call(WAITID, P_PGID, os.getpgid(pid), guest.addr(0), 2, 0) == 0  # WSTOPPED
        assert _siginfo(guest) == (SIGCHLD, 0, CLD_STOPPED, pid, os.getuid(), 19)
        os.kill(pid, signal.SIGTERM)
        os.kill(pid, signal.SIGCONT)
        assert guest.call(WAITID, P_PID, pid, guest.addr(0), WEXITED, 0) == 0
        assert _siginfo(guest) == (SIGCHLD, 0, CLD_KILLED, pid, os.getuid(), 15)
    finally:
        os.close(release)
    assert guest.call(WAITID, 7, 0, guest.addr(0), WEXITED, 0) == -errno.EINVAL
    assert guest.call(WAITID, P_ALL, 0, guest.addr(0), 0, 0) == -errno.EINVAL  # nothing to wait for


def test_getrusage(guest):
    before = resource.getrusage(resource.RUSAGE_SELF)
    assert guest.call(GETRUSAGE, 0, guest.addr(0)) == 0
    after = resource.getrusage(resource.RUSAGE_SELF)
    fields = RUSAGE.unpack(guest.get(0, RUSAGE.size))
    utime = fields[0] + fields[1] / 1e6
    assert before.ru_utime - 0.001 <= utime <= after.ru_utime + 0.001
    assert before.ru_maxrss <= fields[4] <= after.ru_maxrss
    assert before.ru_minflt <= fields[8] <= after.ru_minflt
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert guest.call(GETRUSAGE, -1, guest.addr(256)) == 0
    fields = RUSAGE.unpack(guest.get(256, RUSAGE.size))
    assert (fields[0], fields[4]) == (int(children.ru_utime), children.ru_maxrss)
    assert guest.call(GETRUSAGE, 1, guest.addr(0)) == 0  # RUSAGE_THREAD
    assert guest.call(GETRUSAGE, 5, guest.addr(0)) == -errno.EINVAL
    assert guest.call(GETRUSAGE, 0, 0x10) == -errno.EFAULT


# ---- execve: what it checks before replacing the program ----
@pytest.fixture
def programs(tmp_path):
    hello = hello_binary()
    paths = {"hello": hello, "dir": str(tmp_path)}

    def script(name: str, text: str, mode: int = 0o755) -> None:
        path = tmp_path / name
        path.write_text(text)
        os.chmod(path, mode)
        paths[name] = str(path)

    script("plain", "#!/bin/sh\n", 0o644)
    script("text", "echo no interpreter line\n")
    script("missing-interp", f"#!{tmp_path}/nowhere\n")
    script("empty-interp", "#!   \n")
    script("loop", f"#!{tmp_path}/loop\n")
    script("via-hello", f"#!{hello} opt arg\n")
    with open(tmp_path / "truncated", "wb") as f:
        f.write(b"\x7fELF\x02\x01\x01")
    os.chmod(tmp_path / "truncated", 0o755)
    paths["truncated"] = str(tmp_path / "truncated")
    paths["host-elf"] = os.path.realpath(sys.executable)
    return paths


def _argv(guest, items: list[str], offset: int) -> int:
    pointers = [guest.cstr(offset + 512 + 256 * i, item) for i, item in enumerate(items)]
    return guest.put(offset, struct.pack(f"<{len(items) + 1}Q", *pointers, 0))


def test_execve_error_paths(guest, programs):
    argv = _argv(guest, ["prog"], 4096)
    envp = guest.put(8192, bytes(8))
    expected = {
        "dir": errno.EACCES,
        "plain": errno.EACCES,  # not executable
        "host-elf": errno.ENOEXEC,  # an ELF for another machine
        "truncated": errno.ENOEXEC,
        "text": errno.ENOEXEC,  # no #! line
        "empty-interp": errno.ENOEXEC,
        "missing-interp": errno.ENOENT,
        "loop": errno.ELOOP,
    }
    for name, err in expected.items():
        assert guest.call(EXECVE, guest.cstr(0, programs[name]), argv, envp) == -err, name
    assert guest.call(EXECVE, guest.cstr(0, programs["dir"] + "/none"), argv, envp) == -errno.ENOENT
    assert guest.call(EXECVE, guest.cstr(0, ""), argv, envp) == -errno.ENOENT
    assert guest.call(EXECVE, guest.cstr(0, programs["hello"] + "/x"), argv, envp) == -errno.ENOTDIR
    assert guest.call(EXECVE, 0x10, argv, envp) == -errno.EFAULT
    assert guest.call(EXECVE, guest.cstr(0, programs["hello"]), 0x10, envp) == -errno.EFAULT
    bad_entry = guest.put(12288, struct.pack("<QQ", 0x10, 0))
    assert guest.call(EXECVE, guest.cstr(0, programs["hello"]), bad_entry, envp) == -errno.EFAULT
    assert guest.call(EXECVE, guest.cstr(0, programs["hello"]), argv, 0x10) == -errno.EFAULT


def test_execve_of_a_program_whose_interpreter_is_missing(guest):
    from guestbuild import ToolchainUnavailable, build_guest

    from dbt.runtime.elf import read_elf

    try:
        dynamic = build_guest("hello", "gcc-glibc-dynamic")
    except ToolchainUnavailable as exc:
        pytest.skip(str(exc))
    interp = read_elf(str(dynamic)).interp
    if os.path.exists(interp):
        pytest.skip(f"{interp} exists on this host")
    argv = _argv(guest, ["hello"], 4096)
    assert guest.call(EXECVE, guest.cstr(0, dynamic), argv, 0) == -errno.ENOENT


def test_execve_accepts_a_riscv_program_and_rewrites_argv_for_a_script(guest, programs):
    proc = guest.process
    envp = _argv(guest, ["A=1", "B=2"], 16384)
    with pytest.raises(proc_calls.ExecRequest) as request:
        proc_calls.sys_execve(proc, guest.cstr(0, programs["hello"]), _argv(guest, ["hi", "x"], 4096), envp)
    assert (request.value.path, request.value.argv, request.value.envp) == (
        programs["hello"], [b"hi", b"x"], [b"A=1", b"B=2"]
    )  # fmt: skip
    # #!interpreter optional-arg: argv becomes [interpreter, optional-arg, script, argv[1:]...]
    with pytest.raises(proc_calls.ExecRequest) as request:
        proc_calls.sys_execve(
            proc, guest.cstr(0, programs["via-hello"]), _argv(guest, ["s", "1", "2"], 4096), 0
        )
    hello = os.fsencode(programs["hello"])
    assert request.value.path == programs["hello"]
    assert request.value.argv == [hello, b"opt arg", os.fsencode(programs["via-hello"]), b"1", b"2"]
    assert request.value.envp == []
    # execveat with AT_FDCWD or an absolute path is execve
    with pytest.raises(proc_calls.ExecRequest) as request:
        proc_calls.sys_execveat(proc, AT_FDCWD, guest.cstr(0, programs["hello"]), 0, 0, 0)
    assert request.value.argv == []


def test_execve_runs_a_script_through_its_interpreter_in_a_child(programs):
    def body() -> bytes:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            code = 99
            try:
                os.dup2(w, 1)
                g = Guest()
                argv = _argv(g, ["script", "last"], 4096)
                g.m.pc, g.m.x[17] = g.code, EXECVE
                g.m.x[10], g.m.x[11], g.m.x[12] = g.cstr(0, programs["via-hello"]), argv, 0
                status = g.m.run()
                if status.pc is None:  # the new program exited (a failed execve stops at the ebreak)
                    code = status.status
            finally:
                os._exit(code)
        os.close(w)
        out = b""
        while chunk := os.read(r, 4096):
            out += chunk
        _, status = os.waitpid(pid, 0)
        return struct.pack("<i", status) + out

    result = in_child(body)
    status, out = struct.unpack("<i", result[:4])[0], result[4:].decode()
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, out
    assert out.splitlines() == [
        "Hello from RISC-V!",
        "argc = 4",
        "argv[0] = (program)",
        "argv[1] = opt arg",
        f"argv[2] = {programs['via-hello']}",
        "argv[3] = last",
    ]


def test_execveat_checks_like_execve(guest, programs):
    argv = _argv(guest, ["prog"], 4096)
    d = os.open(programs["dir"], os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert guest.call(EXECVEAT, AT_FDCWD, guest.cstr(0, programs["text"]), argv, 0, 0) == -errno.ENOEXEC
        assert guest.call(EXECVEAT, d, guest.cstr(0, programs["plain"]), argv, 0, 0) == -errno.EACCES
        assert guest.call(EXECVEAT, AT_FDCWD, 0x10, argv, 0, 0) == -errno.EFAULT
    finally:
        os.close(d)


def test_execveat_relative_to_a_directory_descriptor(guest, programs):
    argv = _argv(guest, ["prog"], 4096)
    d = os.open(programs["dir"], os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert guest.call(EXECVEAT, d, guest.cstr(0, "text"), argv, 0, 0) == -errno.ENOEXEC
        assert guest.call(EXECVEAT, d, guest.cstr(0, "nothing-here"), argv, 0, 0) == -errno.ENOENT
    finally:
        os.close(d)


def test_kill_of_another_process_through_the_guest(guest):
    pid, release = _sleeping_child()
    try:
        assert guest.call(KILL, pid, 0) == 0  # it exists
        assert guest.call(KILL, pid, 15) == 0
        assert guest.call(WAIT4, pid, guest.addr(0), 0, 0) == pid
        status = guest.unpack("<i", 0)[0]
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == 15
    finally:
        os.close(release)
    assert guest.call(KILL, pid, 0) == -errno.ESRCH
