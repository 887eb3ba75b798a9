"""The initial process state dbt builds, checked against the RISC-V Linux ABI through the public API.

At entry sp (16-byte aligned) points at argc, then the NULL-terminated argv and envp pointer arrays and
the auxiliary vector; the registers other than sp are zero; pc is the program's entry point, or the
program interpreter's for a dynamically linked program. Position-independent main programs go at
0x2AAAAAB000 (Linux's ELF_ET_DYN_BASE for Sv39: 2/3 of the 256 GiB user address space) and the program
break starts after the main program's highest segment.

The ELF files are read here with `struct`, independently of dbt's loader.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

import pytest
from guestbuild import SYSROOT, GuestBuildError, ToolchainUnavailable, build_guest

from dbt.api import Machine
from dbt.config import Config
from dbt.errors import DbtError, GuestFault

TASK_SIZE = 1 << 38
PIE_BASE = 0x2AAAAAB000
PAGE = 4096
ET_EXEC, ET_DYN = 2, 3
PT_LOAD, PT_INTERP = 1, 3

AT_NULL, AT_PHDR, AT_PHENT, AT_PHNUM, AT_PAGESZ, AT_BASE, AT_ENTRY = 0, 3, 4, 5, 6, 7, 9
AT_UID, AT_EUID, AT_GID, AT_EGID, AT_PLATFORM, AT_HWCAP = 11, 12, 13, 14, 15, 16
AT_SECURE, AT_RANDOM, AT_EXECFN = 23, 25, 31

ARGV_TAIL = ["first", "", "with space", "ünïcödé", "--option=value"]
ENV = ["HOME=/home/guest", "EMPTY=", "PATH=/usr/bin:/bin", "LANG=C.UTF-8", "X=" + "x" * 300]


# ---- a small ELF reader ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Phdr:
    type: int
    offset: int
    vaddr: int
    filesz: int
    memsz: int


@dataclass(frozen=True)
class ElfFile:
    data: bytes
    etype: int
    entry: int
    phoff: int
    phnum: int
    phdrs: tuple[Phdr, ...]

    @classmethod
    def read(cls, path: str | Path) -> ElfFile:
        data = Path(path).read_bytes()
        assert data[:6] == b"\x7fELF\x02\x01"
        etype, machine = struct.unpack_from("<HH", data, 16)
        assert machine == 243
        entry, phoff = struct.unpack_from("<QQ", data, 24)
        phentsize, phnum = struct.unpack_from("<HH", data, 54)
        assert phentsize == 56
        phdrs = []
        for i in range(phnum):
            p_type, _flags, offset, vaddr, _paddr, filesz, memsz = struct.unpack_from(
                "<IIQQQQQ", data, phoff + 56 * i
            )
            phdrs.append(Phdr(p_type, offset, vaddr, filesz, memsz))
        return cls(data, etype, entry, phoff, phnum, tuple(phdrs))

    @property
    def loads(self) -> list[Phdr]:
        return [p for p in self.phdrs if p.type == PT_LOAD]

    @property
    def interp(self) -> str | None:
        for p in self.phdrs:
            if p.type == PT_INTERP:
                return self.data[p.offset : p.offset + p.filesz].split(b"\0")[0].decode()
        return None

    @property
    def program_headers(self) -> bytes:
        return self.data[self.phoff : self.phoff + 56 * self.phnum]


def page_down(addr: int) -> int:
    return addr & ~(PAGE - 1)


def page_up(addr: int) -> int:
    return (addr + PAGE - 1) & ~(PAGE - 1)


# ---- the programs ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Program:
    kind: str
    path: Path
    elf: ElfFile
    config: Config

    @property
    def pie(self) -> bool:
        return self.elf.etype == ET_DYN

    @property
    def bias(self) -> int:
        return PIE_BASE - page_down(self.elf.loads[0].vaddr) if self.pie else 0


#: kind -> (toolchain, extra flags, needs the sysroot)
KINDS = {
    "zig-musl-static": ("zig-musl-static", (), False),
    "gcc-glibc-static": ("gcc-glibc-static", (), False),
    "zig-musl-static-pie": ("zig-musl-static", ("-fPIE", "-pie"), False),
    "gcc-glibc-dynamic": ("gcc-glibc-dynamic", (), True),
}


def build(kind: str) -> Program:
    toolchain, flags, dynamic = KINDS[kind]
    try:
        path = build_guest("hello", toolchain, flags)
    except (ToolchainUnavailable, GuestBuildError) as exc:
        pytest.skip(f"{kind}: {exc}")
    elf = ElfFile.read(path)
    if kind.endswith("static-pie"):
        # zig's driver turns -fPIE -pie into a static PIE when linking with -static.
        assert elf.etype == ET_DYN and elf.interp is None, "not a static PIE"
    if dynamic:
        assert elf.interp is not None
    return Program(kind, path, elf, Config(sysroot=SYSROOT) if dynamic else Config())


@dataclass(frozen=True)
class Startup:
    """A freshly loaded machine and the initial stack it was given."""

    program: Program
    machine: Machine
    argv: list[bytes]
    env: list[bytes]
    sp: int
    argc: int
    argv_ptrs: list[int]
    envp_ptrs: list[int]
    auxv: list[tuple[int, int]]

    def u64(self, addr: int) -> int:
        return int.from_bytes(self.machine.read_memory(addr, 8), "little")

    def string(self, addr: int) -> bytes:
        out = b""
        while True:
            chunk = self.machine.read_memory(addr, min(64, PAGE - addr % PAGE))
            if b"\0" in chunk:
                return out + chunk.split(b"\0")[0]
            out += chunk
            addr += len(chunk)

    def aux(self, key: int) -> int:
        values = [v for k, v in self.auxv if k == key]
        assert len(values) == 1, f"auxv has {len(values)} entries {key}"
        return values[0]


def start(program: Program, argv: list[bytes], env: list[bytes], path: str | None = None) -> Startup:
    machine = Machine(path or program.path, argv, env, config=program.config)
    sp = int(machine.x[2])
    rd = lambda addr: int.from_bytes(machine.read_memory(addr, 8), "little")  # noqa: E731
    argc = rd(sp)
    argv_ptrs = [rd(sp + 8 * (1 + i)) for i in range(argc)]
    assert rd(sp + 8 * (1 + argc)) == 0, "argv is not NULL-terminated"
    cursor = sp + 8 * (2 + argc)
    envp_ptrs = []
    while (ptr := rd(cursor)) != 0:
        envp_ptrs.append(ptr)
        cursor += 8
        assert len(envp_ptrs) <= len(env), "envp is not NULL-terminated"
    cursor += 8
    auxv = []
    while True:
        key, value = rd(cursor), rd(cursor + 8)
        cursor += 16
        if key == AT_NULL:
            break
        auxv.append((key, value))
        assert len(auxv) < 64, "auxv is not AT_NULL-terminated"
    return Startup(program, machine, argv, env, sp, argc, argv_ptrs, envp_ptrs, auxv)


@pytest.fixture(scope="module", params=list(KINDS))
def program(request) -> Program:
    return build(request.param)


@pytest.fixture(scope="module")
def startup(program) -> Startup:
    argv = [os.fsencode(program.path), *(a.encode() for a in ARGV_TAIL)]
    return start(program, argv, [e.encode() for e in ENV])


# ---- registers and the stack -------------------------------------------------------------------------------


def test_sp_is_16_byte_aligned(startup):
    assert startup.sp % 16 == 0
    assert 0 < startup.sp < TASK_SIZE


def test_other_registers_are_zero(startup):
    x = [int(v) for v in startup.machine.x]
    assert x[0] == 0 and all(value == 0 for i, value in enumerate(x) if i != 2), x


def test_argc_and_argv(startup):
    assert startup.argc == len(startup.argv)
    assert [startup.string(p) for p in startup.argv_ptrs] == startup.argv


def test_envp(startup):
    assert [startup.string(p) for p in startup.envp_ptrs] == startup.env


def test_strings_are_packed_in_order(startup):
    """As the kernel copies them: the argv strings, then the environment strings, back to back."""
    pointers = startup.argv_ptrs + startup.envp_ptrs
    strings = startup.argv + startup.env
    for here, following, text in zip(pointers, pointers[1:], strings):
        assert following == here + len(text) + 1


def test_stack_is_below_task_size_with_room_to_grow(startup):
    last = max(startup.argv_ptrs + startup.envp_ptrs + [startup.aux(AT_EXECFN)])
    assert last + len(startup.string(last)) < TASK_SIZE
    below = 128 << 10
    startup.machine.write_memory(startup.sp - below, bytes(below))


def test_auxv_keys_are_unique(startup):
    keys = [key for key, _ in startup.auxv]
    assert len(keys) == len(set(keys))


# ---- the auxiliary vector ----------------------------------------------------------------------------------


def test_at_phdr_points_at_the_program_headers(startup):
    elf = startup.program.elf
    assert startup.aux(AT_PHENT) == 56
    assert startup.aux(AT_PHNUM) == elf.phnum
    in_memory = startup.machine.read_memory(startup.aux(AT_PHDR), 56 * elf.phnum)
    assert in_memory == elf.program_headers


def test_at_pagesz(startup):
    assert startup.aux(AT_PAGESZ) == 4096


def test_at_entry(startup):
    program = startup.program
    assert startup.aux(AT_ENTRY) == program.elf.entry + program.bias
    if program.elf.interp is None:
        assert startup.machine.pc == startup.aux(AT_ENTRY)


def test_at_base(startup):
    program = startup.program
    base = startup.aux(AT_BASE)
    if program.elf.interp is None:
        assert base == 0
        return
    interp = ElfFile.read(SYSROOT + program.elf.interp)
    assert interp.etype == ET_DYN and interp.loads[0].vaddr == 0
    assert base % PAGE == 0 and 0 < base < TASK_SIZE
    assert startup.machine.read_memory(base, 64) == interp.data[:64]
    assert startup.machine.pc == base + interp.entry


def test_at_random(startup):
    random_bytes = startup.machine.read_memory(startup.aux(AT_RANDOM), 16)
    assert len(random_bytes) == 16 and random_bytes != bytes(16)


def test_at_hwcap_has_rv64gc(startup):
    hwcap = startup.aux(AT_HWCAP)
    for letter in "imafdc":
        assert hwcap & 1 << (ord(letter) - ord("a")), letter


def test_at_ids_are_the_hosts(startup):
    assert startup.aux(AT_UID) == os.getuid()
    assert startup.aux(AT_EUID) == os.geteuid()
    assert startup.aux(AT_GID) == os.getgid()
    assert startup.aux(AT_EGID) == os.getegid()
    assert startup.aux(AT_SECURE) == 0


def test_at_execfn(startup):
    assert startup.string(startup.aux(AT_EXECFN)) == os.fsencode(startup.program.path)


def test_at_platform(startup):
    assert startup.string(startup.aux(AT_PLATFORM)) == b"riscv64"


# ---- the memory image --------------------------------------------------------------------------------------


def test_segments_are_loaded(startup):
    """Every PT_LOAD holds its file bytes at vaddr + bias, followed by zeros up to memsz."""
    program, machine = startup.program, startup.machine
    for seg in program.elf.loads:
        addr = seg.vaddr + program.bias
        assert machine.read_memory(addr, seg.filesz) == program.elf.data[seg.offset : seg.offset + seg.filesz]
        bss = min(seg.memsz - seg.filesz, 1 << 20)
        assert machine.read_memory(addr + seg.filesz, bss) == bytes(bss)


def test_pie_is_loaded_at_elf_et_dyn_base(startup):
    program = startup.program
    if not program.pie:
        pytest.skip("fixed-address program")
    assert page_down(program.elf.loads[0].vaddr) + program.bias == PIE_BASE
    assert startup.machine.read_memory(PIE_BASE, 4) == b"\x7fELF"
    assert startup.aux(AT_PHDR) == PIE_BASE + program.elf.phoff  # the headers sit in the first page


def test_fixed_address_program_is_not_moved(startup):
    program = startup.program
    if program.pie:
        pytest.skip("position-independent program")
    first = program.elf.loads[0]
    assert startup.machine.read_memory(first.vaddr, 16) == program.elf.data[first.offset : first.offset + 16]


def test_brk_starts_after_the_highest_segment(startup):
    program = startup.program
    end = max(seg.vaddr + seg.memsz for seg in program.elf.loads) + program.bias
    brk = startup.machine.process.brk
    assert brk % PAGE == 0
    assert page_up(end) <= brk < TASK_SIZE
    with pytest.raises(GuestFault):
        startup.machine.read_memory(brk, 1)


# ---- other argument vectors --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def static_program() -> Program:
    return build("zig-musl-static")


def test_at_random_differs_between_processes(static_program):
    seen = set()
    for _ in range(2):
        s = start(static_program, [b"prog"], [])
        seen.add(s.machine.read_memory(s.aux(AT_RANDOM), 16))
    assert len(seen) == 2


def test_many_arguments_and_no_environment(static_program):
    argv = [f"arg{i}".encode() for i in range(2000)]
    s = start(static_program, argv, [])
    assert s.sp % 16 == 0
    assert s.argc == 2000 and s.envp_ptrs == []
    assert [s.string(p) for p in s.argv_ptrs[::250]] == argv[::250]


def test_relative_program_path(static_program, monkeypatch):
    """The program named relative to the working directory; argv[0] is passed as given."""
    monkeypatch.chdir(static_program.path.parent)
    relative = "./" + static_program.path.name
    s = start(static_program, [os.fsencode(relative)], [], path=relative)
    assert s.string(s.argv_ptrs[0]) == os.fsencode(relative)
    # dbt names the absolute path here (Linux passes the execve filename as given).
    assert s.string(s.aux(AT_EXECFN)).endswith(os.fsencode(static_program.path.name))


def test_argument_list_too_long(static_program):
    """More argument bytes than the 8 MiB stack holds: a clean error (E2BIG in Linux), not a crash."""
    with pytest.raises(DbtError, match="too long"):
        Machine(static_program.path, [b"prog", b"x" * (9 << 20)], [])
