"""The public Python API: `from dbt import Machine, Config, ExitStatus` and the errors in dbt.errors."""

from __future__ import annotations

import dataclasses
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from guestbuild import ToolchainUnavailable, build_guest

from dbt import Config, ExitStatus, Machine
from dbt.errors import ConfigError, DbtError, GuestFault

HELLO_STDOUT = b"Hello from RISC-V!\nargc = 1\nargv[0] = (program)\n"
TASK_SIZE = 1 << 38
PIE_BASE = 0x2AAAAAB000
ECALL, EBREAK = 0x00000073, 0x00100073
SYS_EXIT_GROUP = 94
SIGILL, SIGSEGV = 4, 11


def guest(name: str, flags: tuple[str, ...] = ()) -> Path:
    try:
        return build_guest(name, "zig-musl-static", flags)
    except ToolchainUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def hello() -> Path:
    return guest("hello")


@pytest.fixture(scope="module")
def exitcode() -> Path:
    return guest("exitcode")


def segments(path: Path) -> list[tuple[int, int, int]]:
    """(vaddr, memsz, flags) of each PT_LOAD."""
    data = path.read_bytes()
    phoff, phnum = struct.unpack_from("<Q", data, 32)[0], struct.unpack_from("<H", data, 56)[0]
    out = []
    for i in range(phnum):
        p_type, flags, _off, vaddr, _pa, _filesz, memsz = struct.unpack_from("<IIQQQQQ", data, phoff + 56 * i)
        if p_type == 1:
            out.append((vaddr, memsz, flags))
    return out


def text_range(path: Path, bias: int = 0) -> range:
    ((vaddr, memsz, _),) = [s for s in segments(path) if s[2] & 1]
    return range(vaddr + bias, vaddr + bias + memsz)


def insn(*words: int) -> bytes:
    return b"".join(w.to_bytes(4, "little") for w in words)


def addi(rd: int, rs1: int, imm: int) -> int:
    return (imm & 0xFFF) << 20 | rs1 << 15 | rd << 7 | 0x13


def lui(rd: int, imm20: int) -> int:
    return (imm20 & 0xFFFFF) << 12 | rd << 7 | 0x37


def ld(rd: int, rs1: int, imm: int) -> int:
    return (imm & 0xFFF) << 20 | rs1 << 15 | 3 << 12 | rd << 7 | 0x03


def sd(rs2: int, rs1: int, imm: int) -> int:
    return (imm >> 5 & 0x7F) << 25 | rs2 << 20 | rs1 << 15 | 3 << 12 | (imm & 0x1F) << 7 | 0x23


# ---- running programs --------------------------------------------------------------------------------------


def test_run_hello(hello, capfd):
    m = Machine(hello)
    status = m.run()
    assert isinstance(status, ExitStatus)
    assert (status.code, status.signal, status.status) == (0, None, 0)
    assert status.describe() == "exited with status 0"
    assert m.exit_status == status
    assert m.instructions > 1000
    assert 0 < m.blocks_decoded < m.instructions
    assert capfd.readouterr().out.encode() == HELLO_STDOUT


def test_argv_and_env(hello, capfd):
    m = Machine(hello, ["prog", "one", "two"], env={"ONLY": "this"})
    assert m.run().code == 0
    lines = capfd.readouterr().out.splitlines()
    assert lines[1:] == ["argc = 3", "argv[0] = (program)", "argv[1] = one", "argv[2] = two"]


def test_env_as_list_or_mapping(hello):
    def environment(m: Machine) -> list[bytes]:
        sp = int(m.x[2])
        word = lambda addr: int.from_bytes(m.read_memory(addr, 8), "little")  # noqa: E731
        cursor, out = sp + 8 * (word(sp) + 2), []
        while (ptr := word(cursor)) != 0:
            out.append(m.read_memory(ptr, 64).split(b"\0")[0])
            cursor += 8
        return out

    assert environment(Machine(hello, env={"A": "1", "B": "two"})) == [b"A=1", b"B=two"]
    assert environment(Machine(hello, env=["A=1", b"B=two"])) == [b"A=1", b"B=two"]
    assert environment(Machine(hello, env=[])) == []


@pytest.mark.parametrize(("arg", "code"), [("0", 0), ("42", 42), ("255", 255), ("300", 44), ("-1", 255)])
def test_exit_status_and_registers_at_exit(arg, code, exitcode, capfd):
    m = Machine(exitcode, [exitcode, arg])
    status = m.run()
    assert (status.code, status.signal, status.status) == (code, None, code)
    assert status.describe() == f"exited with status {code}"
    # The run stops at the exit_group ecall: a7 holds the call number and a0 the full status argument.
    assert m.x[17] == SYS_EXIT_GROUP
    assert m.x[10] == int(arg)
    assert m.read_memory(m.pc, 4) == insn(ECALL)
    assert m.pc in text_range(exitcode)
    assert capfd.readouterr().err == f"exitcode: status {arg}\n"


def test_death_by_signal(exitcode, capfd):
    m = Machine(exitcode, [exitcode, "segv"])
    status = m.run()
    assert (status.code, status.signal, status.status, status.addr) == (None, SIGSEGV, 128 + SIGSEGV, 0)
    assert status.pc in text_range(exitcode)
    assert m.pc == status.pc
    text = status.describe()
    assert "SIGSEGV" in text and f"at pc {status.pc:#x}" in text and text.endswith("address 0x0")
    capfd.readouterr()


def test_exit_status_value_object():
    assert ExitStatus(code=3).status == 3
    assert ExitStatus(signal=6).status == 134
    assert "SIGABRT" in ExitStatus(signal=6).describe()
    assert ExitStatus(signal=11, pc=0x1000, addr=0x20).describe().endswith("at pc 0x1000, address 0x20")
    with pytest.raises(dataclasses.FrozenInstanceError):
        ExitStatus(code=1).code = 2  # type: ignore[misc]


def test_config_reaches_the_run(hello, capfd):
    assert Machine(hello, config=Config(strace=True)).run().code == 0
    err = capfd.readouterr().err
    assert "exit_group(0)" in err


# ---- inspection --------------------------------------------------------------------------------------------


def test_symbol_main_is_in_the_text_segment(hello):
    m = Machine(hello)
    main = m.symbol("main")
    assert main is not None and main in text_range(hello)
    assert m.symbol("_start") is not None
    assert m.symbol("no_such_symbol_anywhere") is None


def test_symbol_of_a_pie_includes_the_load_bias():
    path = guest("hello", ("-fPIE", "-pie"))
    m = Machine(path)
    main = m.symbol("main")
    assert main is not None and main in text_range(path, bias=PIE_BASE)


@pytest.mark.parametrize("addr", [0, 0x1000, 0xFFFF_F000, TASK_SIZE - 8, TASK_SIZE, 2**64 - 8, -8])
def test_unmapped_memory_raises_guest_fault(addr, hello):
    m = Machine(hello)
    with pytest.raises(GuestFault) as info:
        m.read_memory(addr, 8)
    assert info.value.addr == addr and isinstance(info.value, DbtError)
    with pytest.raises(GuestFault):
        m.write_memory(addr, b"12345678")


def test_memory_permissions_and_bounds(hello):
    m = Machine(hello)
    text = text_range(hello)
    with pytest.raises(GuestFault):
        m.write_memory(text.start, b"\0\0\0\0")  # read-only code
    last_page = text.stop - 1 & ~0xFFF
    m.read_memory(last_page, 4096)
    sp = int(m.x[2])
    m.write_memory(sp - 16, b"0123456789abcdef")
    assert m.read_memory(sp - 16, 16) == b"0123456789abcdef"
    with pytest.raises(GuestFault):
        m.read_memory(sp, 1 << 30)  # runs past the top of the stack
    with pytest.raises(GuestFault):
        m.read_memory(sp, -1)


def test_registers_are_live_views(hello):
    m = Machine(hello)
    m.x[5] = -2
    assert m.x[5] == -2 and m.process.regs[5] == -2
    m.f[3] = 0x3FF0000000000000
    assert m.f[3] == 0x3FF0000000000000
    assert m.fcsr == 0


# ---- Machine.from_code -------------------------------------------------------------------------------------


def test_from_code():
    code = insn(addi(10, 0, 5), addi(11, 10, 10))
    m = Machine.from_code(code)
    status = m.run()
    assert (status.code, status.signal, status.status) == (0, None, 0)
    assert m.pc == 0x10000 + len(code)
    assert (m.x[10], m.x[11]) == (5, 15)
    assert m.instructions == 2
    assert m.read_memory(0x10000 + len(code), 4) == insn(EBREAK)


def test_from_code_with_mapped_data_and_preset_registers():
    base, data = 0x400000, 0x20000
    code = insn(lui(10, data >> 12), ld(11, 10, 0), addi(11, 11, 1), sd(11, 10, 8), addi(12, 13, 0))
    m = Machine.from_code(code, base=base)
    m.map(data, 4096)
    m.write_memory(data, (41).to_bytes(8, "little"))
    m.x[13] = -7
    assert m.run().code == 0
    assert m.read_memory(data + 8, 8) == (42).to_bytes(8, "little")
    assert (m.x[12], m.pc) == (-7, base + len(code))


def test_from_code_fault():
    m = Machine.from_code(insn(ld(10, 0, 16)))
    status = m.run()
    assert (status.signal, status.status, status.pc, status.addr) == (SIGSEGV, 139, 0x10000, 16)


def test_from_code_illegal_instruction():
    status = Machine.from_code(insn(0)).run()
    assert (status.signal, status.pc) == (SIGILL, 0x10000)


# ---- Config ------------------------------------------------------------------------------------------------


def test_config_from_env():
    assert Config.from_env({"DBT_STRACE": "1"}).strace is True
    assert Config.from_env({}) == Config()
    config = Config.from_env(
        {
            "DBT_STRACE": "yes",
            "DBT_STATS": "On",
            "DBT_NO_JIT": "false",
            "DBT_MAX_BLOCK_INSNS": "0x10",
            "DBT_SLICE_INSNS": "1000",
            "DBT_TRACE": "in_asm",
            "DBT_TRACE_FILE": "/tmp/t",
            "DBT_SYSROOT": "/sysroot",
            "DBT_LOG": "debug",
            "UNRELATED": "x",
        }
    )
    assert (config.strace, config.stats, config.no_jit) == (True, True, False)
    assert (config.max_block_insns, config.slice_insns) == (16, 1000)
    assert (config.trace, config.trace_file) == (("in_asm",), "/tmp/t")
    assert (config.sysroot, config.log_level) == ("/sysroot", "debug")


def test_config_precedence():
    env = {"DBT_STRACE": "1", "DBT_MAX_BLOCK_INSNS": "8", "DBT_STATS": ""}
    config = Config.from_env(env, strace=False, max_block_insns=None, stats=None)
    assert (config.strace, config.max_block_insns, config.stats) == (False, 8, False)


@pytest.mark.parametrize(
    "env",
    [
        {"DBT_STRACE": "maybe"},
        {"DBT_STATS": "2"},
        {"DBT_MAX_BLOCK_INSNS": "many"},
        {"DBT_MAX_BLOCK_INSNS": "0"},
        {"DBT_MAX_BLOCK_INSNS": "5000"},
        {"DBT_SLICE_INSNS": "0"},
        {"DBT_TRACE": "in_asm,bogus"},
    ],
)
def test_config_errors(env):
    with pytest.raises(ConfigError) as info:
        Config.from_env(env)
    assert isinstance(info.value, DbtError) and info.value.exit_status == 2


def test_config_rejects_bad_log_level():
    with pytest.raises(ConfigError):
        Config.from_env({"DBT_LOG": "bogus"})


def test_config_is_frozen():
    config = Config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.strace = True  # type: ignore[misc]
    assert config.with_(strace=True).strace is True and config.strace is False
    with pytest.raises(ConfigError):
        config.with_(trace=("bogus",))


# ---- many machines -----------------------------------------------------------------------------------------

MANY_MACHINES = textwrap.dedent(
    """
    import gc
    from dbt import Machine
    for i in range(600):
        m = Machine.from_code(bytes.fromhex("13055000"))
        assert m.run().code == 0
        del m
        gc.collect()
    print("ok")
    """
)


def test_many_machines_in_one_process():
    """Users drive dbt as a golden model, creating a Machine per test case: the process must not run out
    of address space. Run in a subprocess so the leak cannot starve this test session."""
    p = subprocess.run([sys.executable, "-c", MANY_MACHINES], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0 and p.stdout == "ok\n", p.stderr[-2000:]
