"""Malformed, truncated and mutated guest files always give a clean error, never a traceback.

In process, `read_elf`/`parse_elf` raise only ElfLoadError (GuestFileNotFound for a missing file) and
`Machine(path)` only DbtError subclasses. Through the CLI, `dbt run FILE` exits 126 for a file that is
not a loadable RISC-V 64 ELF and 127 for a missing one (or a missing program interpreter), with exactly
one `dbt: error: ...` line on stderr, as a shell reports a failed execve.

Most cases start from a real guest (hello, zig-musl-static: ET_EXEC with PT_PHDR and three PT_LOADs) and
patch one field of its ELF header or program headers.
"""

from __future__ import annotations

import os
import random
import struct
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from dbtrun import dbt_command
from guestbuild import ToolchainUnavailable, build_guest
from hypothesis import given, settings
from hypothesis import strategies as st

from dbt.api import Machine
from dbt.config import Config
from dbt.errors import DbtError, ElfLoadError, GuestFileNotFound
from dbt.runtime.elf import parse_elf, read_elf
from dbt.runtime.process import GuestProcess

TASK_SIZE = 1 << 38
EHDR_SIZE, PHDR_SIZE = 64, 56
PT_LOAD, PT_INTERP, PT_GNU_STACK = 1, 3, 0x6474E551
ET_NONE, ET_REL, ET_CORE = 0, 1, 4
EM_X86_64 = 62

#: ELF header fields: (offset, struct format).
EHDR = {
    "e_type": (16, "H"),
    "e_machine": (18, "H"),
    "e_entry": (24, "Q"),
    "e_phoff": (32, "Q"),
    "e_phentsize": (54, "H"),
    "e_phnum": (56, "H"),
}
#: Program header fields: (offset in the entry, struct format).
PHDR = {
    "p_type": (0, "I"),
    "p_flags": (4, "I"),
    "p_offset": (8, "Q"),
    "p_vaddr": (16, "Q"),
    "p_paddr": (24, "Q"),
    "p_filesz": (32, "Q"),
    "p_memsz": (40, "Q"),
    "p_align": (48, "Q"),
}

#: What the unmodified hello guest prints when run without arguments.
HELLO_STDOUT = b"Hello from RISC-V!\nargc = 1\nargv[0] = (program)\n"


# ---- ELF surgery -----------------------------------------------------------------------------------------


def header(data: bytes, name: str) -> int:
    offset, fmt = EHDR[name]
    return struct.unpack_from("<" + fmt, data, offset)[0]


def set_header(data: bytes, **fields: int) -> bytes:
    out = bytearray(data)
    for name, value in fields.items():
        offset, fmt = EHDR[name]
        struct.pack_into("<" + fmt, out, offset, value)
    return bytes(out)


def phdr(data: bytes, index: int) -> dict[str, int]:
    base = header(data, "e_phoff") + index * PHDR_SIZE
    return {name: struct.unpack_from("<" + fmt, data, base + off)[0] for name, (off, fmt) in PHDR.items()}


def phdrs(data: bytes) -> list[dict[str, int]]:
    return [phdr(data, i) for i in range(header(data, "e_phnum"))]


def set_phdr(data: bytes, index: int, **fields: int) -> bytes:
    out = bytearray(data)
    base = header(data, "e_phoff") + index * PHDR_SIZE
    for name, value in fields.items():
        offset, fmt = PHDR[name]
        struct.pack_into("<" + fmt, out, base + offset, value)
    return bytes(out)


def index_of(data: bytes, p_type: int, nth: int = 0) -> int:
    return [i for i, ph in enumerate(phdrs(data)) if ph["p_type"] == p_type][nth]


def set_load(data: bytes, nth: int, **fields: int) -> bytes:
    """Patch the nth PT_LOAD header."""
    return set_phdr(data, index_of(data, PT_LOAD, nth), **fields)


def with_interp(data: bytes, raw: bytes, **fields: int) -> bytes:
    """Append `raw` to the file and turn the PT_GNU_STACK header into a PT_INTERP naming it."""
    patched = data + raw
    index = index_of(data, PT_GNU_STACK)
    values = {"p_type": PT_INTERP, "p_flags": 4, "p_offset": len(data), "p_vaddr": 0, "p_paddr": 0}
    values |= {"p_filesz": len(raw), "p_memsz": len(raw), "p_align": 1}
    return set_phdr(patched, index, **(values | fields))


def required_length(data: bytes) -> int:
    """The shortest prefix of `data` that still holds the headers and all PT_LOAD/PT_INTERP file data."""
    need = max(EHDR_SIZE, header(data, "e_phoff") + header(data, "e_phnum") * PHDR_SIZE)
    for ph in phdrs(data):
        if ph["p_type"] in (PT_LOAD, PT_INTERP):
            need = max(need, ph["p_offset"] + ph["p_filesz"])
    return need


# ---- fixtures ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hello_path() -> Path:
    try:
        return build_guest("hello", "zig-musl-static")
    except ToolchainUnavailable as exc:
        pytest.skip(str(exc))


class ElfBytes(bytes):
    """The guest file's bytes, with a short repr for hypothesis' and pytest's reports."""

    def __repr__(self) -> str:
        return f"<ELF file, {len(self)} bytes>"


@pytest.fixture(scope="module")
def hello(hello_path) -> bytes:
    data = ElfBytes(hello_path.read_bytes())
    # The cases below rely on this layout.
    assert header(data, "e_type") == 2 and len([p for p in phdrs(data) if p["p_type"] == PT_LOAD]) >= 3
    assert any(p["p_type"] == PT_GNU_STACK for p in phdrs(data))
    return data


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("elf-robustness")


@pytest.fixture(scope="module")
def reusable_process() -> GuestProcess:
    """One process whose address space is emptied before each load, as execve does. Loading thousands of
    mutants through fresh Machines would exhaust the host address space: each reserves 256 GiB and never
    gives it back (see test_api.py::test_many_machines_in_one_process)."""
    return GuestProcess(Config())


def load_in(process: GuestProcess, path: Path) -> None:
    process.memory.unmap(0, process.memory.size)
    process.load(str(path), [b"mutant"], [b"A=1"])


def run_cli(path: str | Path, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        dbt_command("run", str(path)), stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, cwd=cwd
    )


def assert_one_error_line(stderr: bytes) -> str:
    assert b"Traceback" not in stderr
    lines = stderr.decode(errors="replace").splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("dbt: error: "), lines
    return lines[0]


# ---- the cases ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    #: Builds the guest file in a directory from the hello ELF; returns the path to run.
    make: Callable[[Path, bytes], Path]
    status: int = 126
    #: A fragment the error line must contain.
    message: str | None = None
    #: Where the error is found: "read" (read_elf/parse_elf raise), "load" (the file parses; placing it in
    #: memory or finding its interpreter fails), "host" (checked only through the CLI).
    stage: str = "read"
    #: Why dbt gets this case wrong today (a strict xfail), if it does.
    xfail: str | None = None


def file_with(name: str, build: Callable[[bytes], bytes]) -> Callable[[Path, bytes], Path]:
    def make(directory: Path, hello: bytes) -> Path:
        path = directory / name
        path.write_bytes(build(hello))
        path.chmod(0o755)
        return path

    return make


def host_file(path: str) -> Callable[[Path, bytes], Path]:
    def make(directory: Path, hello: bytes) -> Path:
        if not os.path.exists(path):
            pytest.skip(f"no {path} on this host")
        return Path(path)

    return make


def _directory(directory: Path, hello: bytes) -> Path:
    path = directory / "a-directory"
    path.mkdir(exist_ok=True)
    return path


def _missing(directory: Path, hello: bytes) -> Path:
    return directory / "no-such-program"


def _dangling_symlink(directory: Path, hello: bytes) -> Path:
    path = directory / "dangling"
    if not path.is_symlink():
        path.symlink_to(directory / "nowhere")
    return path


def _symlink_loop(directory: Path, hello: bytes) -> Path:
    path = directory / "loop"
    if not path.is_symlink():
        path.symlink_to(path)
    return path


def _not_a_directory(directory: Path, hello: bytes) -> Path:
    parent = directory / "plain-file"
    parent.write_bytes(b"x")
    return parent / "prog"


def _unreadable(directory: Path, hello: bytes) -> Path:
    if os.geteuid() == 0:
        pytest.skip("root reads files whatever their mode")
    path = directory / "unreadable"
    path.write_bytes(hello)
    path.chmod(0o111)
    return path


def _interp_needs_interp(directory: Path, hello: bytes) -> Path:
    """The program interpreter is itself a program with a PT_INTERP."""
    inner = directory / "interp-with-interp"
    inner.write_bytes(with_interp(hello, b"/nonexistent/ld.so\0"))
    path = directory / "outer"
    path.write_bytes(with_interp(hello, os.fsencode(inner) + b"\0"))
    return path


def _interp_is(target: str) -> Callable[[Path, bytes], Path]:
    def make(directory: Path, hello: bytes) -> Path:
        path = directory / f"interp-{Path(target).name or 'root'}"
        path.write_bytes(with_interp(hello, target.encode() + b"\0"))
        return path

    return make


def _interp_text_file(directory: Path, hello: bytes) -> Path:
    text = directory / "ld-text.so"
    text.write_bytes(b"not a loader\n")
    path = directory / "interp-text"
    path.write_bytes(with_interp(hello, os.fsencode(text) + b"\0"))
    return path


def _fifo(directory: Path, hello: bytes) -> Path:
    path = directory / "fifo"
    if not path.exists():
        os.mkfifo(path)
    return path


def _elf32(hello: bytes) -> bytes:
    return hello[:4] + b"\x01" + hello[5:]


def _big_endian(hello: bytes) -> bytes:
    return hello[:5] + b"\x02" + hello[6:]


def _no_load_segments(hello: bytes) -> bytes:
    for index, ph in enumerate(phdrs(hello)):
        if ph["p_type"] == PT_LOAD:
            hello = set_phdr(hello, index, p_type=0)
    return hello


def _last_load(hello: bytes, **fields: int) -> bytes:
    count = len([p for p in phdrs(hello) if p["p_type"] == PT_LOAD])
    return set_load(hello, count - 1, **fields)


def _text_at(hello: bytes, **fields: int) -> bytes:
    """Move the text PT_LOAD's offset or address to the page of the given value (keeping the pair
    congruent modulo the page size, so only the bounds checks can refuse it)."""
    text = phdr(hello, index_of(hello, PT_LOAD, 1))
    in_page = text["p_offset"] % 4096
    return set_load(hello, 1, **{name: (value & ~0xFFF) + in_page for name, value in fields.items()})


def _incongruent(hello: bytes) -> bytes:
    text = phdr(hello, index_of(hello, PT_LOAD, 1))
    return set_load(hello, 1, p_vaddr=text["p_vaddr"] + 8)


def _at_page_zero(hello: bytes) -> bytes:
    first = phdr(hello, index_of(hello, PT_LOAD, 0))
    return set_load(hello, 0, p_vaddr=first["p_offset"] % 4096, p_paddr=0)


def _beyond_task_size(hello: bytes) -> bytes:
    """The last PT_LOAD ends one page past the user address space."""
    last = phdrs(hello)[index_of(hello, PT_LOAD, 2)]
    vaddr = TASK_SIZE - 4096 + last["p_offset"] % 4096
    return _last_load(hello, p_vaddr=vaddr, p_memsz=8192)


NO_INTERP_NUL = (
    "Linux (binfmt_elf) refuses a PT_INTERP whose last byte is not NUL (ENOEXEC); dbt's _interp_path "
    "takes the bytes up to the first NUL or the end and goes looking for that file"
)
HUGE_ENTRY = (
    "an e_entry >= 2**63 passes parse_elf and load_image, then GuestProcess.load's "
    "`self.state[PC] = image.entry` raises OverflowError (CLI: 'internal error', exit 70); Linux refuses "
    "an entry point outside the user address space"
)
HUGE_BSS = (
    "load_image builds a Python dict entry for every page of every segment (page_prot): a 128 GiB bss "
    "(2**25 pages) takes about a minute and several GB of host memory before the guest starts"
)
FIFO = (
    "read_elf opens any file and reads it to the end: a FIFO blocks forever (and a character device such "
    "as /dev/zero would eat all memory); Linux's execve refuses non-regular files with EACCES"
)


CASES = {
    "empty-file": Case(file_with("empty", lambda _: b""), message="not an ELF"),
    "text-file": Case(file_with("text", lambda _: b"hello, world\n" * 10), message="not an ELF"),
    "shell-script": Case(file_with("script.sh", lambda _: b"#!/bin/sh\necho hi\n"), message="not an ELF"),
    # Linux refuses to execute a device (EACCES); reading it as a file would block or never end.
    "dev-null": Case(host_file("/dev/null"), message="Permission denied"),
    "elf32": Case(file_with("elf32", _elf32), message="64-bit"),
    "big-endian": Case(file_with("big-endian", _big_endian), message="little-endian"),
    "em-x86-64": Case(file_with("x86", lambda h: set_header(h, e_machine=EM_X86_64)), message="RISC-V"),
    "host-bin-true": Case(host_file("/bin/true"), message="RISC-V"),
    "et-none": Case(file_with("et-none", lambda h: set_header(h, e_type=ET_NONE))),
    "et-rel": Case(file_with("et-rel", lambda h: set_header(h, e_type=ET_REL)), message="ET_REL"),
    "et-core": Case(file_with("et-core", lambda h: set_header(h, e_type=ET_CORE)), message="ET_CORE"),
    "phnum-0": Case(file_with("phnum-0", lambda h: set_header(h, e_phnum=0))),
    "phnum-huge": Case(file_with("phnum-huge", lambda h: set_header(h, e_phnum=0xFFFF))),
    "phnum-past-eof": Case(file_with("phnum-past", lambda h: set_header(h, e_phnum=200)[:2048])),
    "phentsize-32": Case(file_with("phentsize-32", lambda h: set_header(h, e_phentsize=32))),
    "phentsize-64": Case(file_with("phentsize-64", lambda h: set_header(h, e_phentsize=64))),
    "phentsize-0": Case(file_with("phentsize-0", lambda h: set_header(h, e_phentsize=0))),
    "phoff-past-eof": Case(file_with("phoff-past", lambda h: set_header(h, e_phoff=len(h) + 8))),
    "phoff-near-2**64": Case(file_with("phoff-huge", lambda h: set_header(h, e_phoff=2**64 - 8))),
    "filesz>memsz": Case(file_with("filesz", lambda h: _last_load(h, p_filesz=0x2000, p_memsz=0x1000))),
    "segment-past-eof": Case(file_with("past-eof", lambda h: _text_at(h, p_offset=len(h)))),
    "offset-wraps-2**64": Case(file_with("offset-wrap", lambda h: _text_at(h, p_offset=2**64 - 1))),
    "vaddr-near-2**64": Case(file_with("vaddr-huge", lambda h: _text_at(h, p_vaddr=2**64 - 1))),
    "segment-beyond-2**38": Case(file_with("beyond", _beyond_task_size)),
    "memsz-2**62": Case(file_with("memsz-2-62", lambda h: _last_load(h, p_memsz=2**62))),
    "memsz-2**64-1": Case(file_with("memsz-max", lambda h: _last_load(h, p_memsz=2**64 - 1))),
    "vaddr-offset-incongruent": Case(file_with("incongruent", _incongruent), message="congruent"),
    "fixed-segment-at-0": Case(file_with("page-zero", _at_page_zero), message="page zero", stage="load"),
    "no-pt-load": Case(file_with("no-load", _no_load_segments), message="no loadable"),
    "entry-near-2**64": Case(
        file_with("entry-huge", lambda h: set_header(h, e_entry=2**64 - 4)), message="entry point"
    ),
    "interp-missing": Case(
        file_with("interp-missing", lambda h: with_interp(h, b"/nonexistent/ld-riscv.so.1\0")),
        status=127,
        message="/nonexistent/ld-riscv.so.1",
        stage="load",
    ),
    "interp-not-nul-terminated": Case(
        file_with("interp-no-nul", lambda h: with_interp(h, b"/nonexistent/ld-riscv.so.1")),
    ),
    "interp-empty": Case(file_with("interp-empty", lambda h: with_interp(h, b""))),
    "interp-only-nul": Case(file_with("interp-nul", lambda h: with_interp(h, b"\0"))),
    "interp-huge": Case(file_with("interp-huge", lambda h: with_interp(h, b"/" * 8192 + b"\0"))),
    "interp-past-eof": Case(
        file_with("interp-past", lambda h: with_interp(h, b"/x\0", p_offset=len(h) + 100))
    ),
    "interp-size-2**64-1": Case(
        file_with("interp-max", lambda h: with_interp(h, b"/x\0", p_filesz=2**64 - 1))
    ),
    "interp-is-directory": Case(_interp_is("/"), message="Is a directory", stage="load"),
    "interp-is-text": Case(_interp_text_file, message="not an ELF", stage="load"),
    "interp-has-interp": Case(_interp_needs_interp, message="interpreter", stage="load"),
    "directory": Case(_directory, message="Is a directory"),
    "missing-file": Case(_missing, status=127, message="No such file or directory"),
    "dangling-symlink": Case(_dangling_symlink, status=127, message="No such file or directory"),
    "symlink-loop": Case(_symlink_loop),
    "path-through-a-file": Case(_not_a_directory),
    "unreadable": Case(_unreadable, message="Permission denied"),
    "fifo": Case(_fifo, stage="host"),
}


def case_params(*stages: str, reading: bool = False) -> list:
    """The cases found at the given stages. For the read_elf test (`reading`), a case found at load time
    must read fine, so a loading bug (its xfail) does not apply there."""
    params = []
    for name, case in CASES.items():
        if case.stage in stages:
            known_bug = case.xfail and not (reading and case.stage != "read")
            marks = [pytest.mark.xfail(strict=True, reason=case.xfail)] if known_bug else []
            params.append(pytest.param(case, id=name, marks=marks))
    return params


@pytest.mark.parametrize("case", case_params("read", "load", reading=True))
def test_read_elf_raises_only_load_errors(case: Case, hello, workdir):
    path = case.make(workdir, hello)
    expected = GuestFileNotFound if case.status == 127 else ElfLoadError
    if case.stage == "read":
        with pytest.raises(expected) as info:
            read_elf(str(path))
        if case.message:
            assert case.message in str(info.value)
    else:  # the file itself reads fine; the error comes when it is placed in memory
        read_elf(str(path))


@pytest.mark.parametrize("case", case_params("read", "load"))
def test_machine_raises_dbt_error(case: Case, hello, workdir):
    path = case.make(workdir, hello)
    expected = GuestFileNotFound if case.status == 127 else ElfLoadError
    with pytest.raises(expected) as info:
        Machine(path)
    assert isinstance(info.value, DbtError) and info.value.exit_status == case.status
    if case.message:
        assert case.message in str(info.value)


@pytest.mark.parametrize("case", case_params("read", "load", "host"))
def test_cli_clean_error(case: Case, hello, workdir):
    path = case.make(workdir, hello)
    result = run_cli(path, workdir, timeout=120 if case.stage != "host" else 10)
    line = assert_one_error_line(result.stderr)
    assert result.returncode == case.status, line
    assert result.stdout == b""
    if case.message:
        assert case.message in line


def test_missing_interpreter_is_named_with_sysroot_hint(hello, workdir):
    path = workdir / "needs-ld"
    path.write_bytes(with_interp(hello, b"/lib/ld-missing-riscv64.so.1\0"))
    with pytest.raises(GuestFileNotFound, match=r"interpreter /lib/ld-missing-riscv64\.so\.1 not found"):
        Machine(path)
    sysroot = workdir / "empty-sysroot"
    sysroot.mkdir(exist_ok=True)
    with pytest.raises(GuestFileNotFound, match=r"ld-missing-riscv64") as info:
        Machine(path, config=Config(sysroot=str(sysroot)))
    assert "--sysroot" not in str(info.value)  # the hint is only for runs without a sysroot


# ---- truncation --------------------------------------------------------------------------------------------


def test_truncated_prefixes(hello, workdir, reusable_process):
    """Every prefix at a stride (finely over the headers and loaded data, coarsely over the rest): shorter
    than the headers plus the PT_LOAD file data, it is an ElfLoadError; longer, it parses and loads
    (section headers and debug information are not needed to run a program, as on Linux)."""
    need = required_length(hello)
    lengths = {
        *range(200),
        *range(0, need + 64, 37),
        *range(need - 64, need + 64),
        *range(0, len(hello), 4099),
    }
    for length in sorted(lengths):
        prefix = hello[:length]
        if length < need:
            with pytest.raises(ElfLoadError):
                parse_elf(prefix, f"prefix-{length}")
        else:
            image = parse_elf(prefix, f"prefix-{length}")
            assert image.entry == header(hello, "e_entry")
    for length in (need, need + 1, len(hello) - 1):
        path = workdir / f"prefix-{length}"
        path.write_bytes(hello[:length])
        load_in(reusable_process, path)
        assert reusable_process.image is not None and reusable_process.image.entry == image.entry


TRUNCATED_AT = [0, 1, 3, 4, 5, 16, 24, 40, 63, 64, 65, 64 + PHDR_SIZE - 1, 64 + 2 * PHDR_SIZE + 8, 300, 4096]


@pytest.mark.parametrize("length", [*TRUNCATED_AT, "need-1"])
def test_truncated_machine_and_cli(length, hello, workdir):
    if length == "need-1":
        length = required_length(hello) - 1
    path = workdir / f"truncated-{length}"
    path.write_bytes(hello[:length])
    with pytest.raises(ElfLoadError):
        Machine(path)
    result = run_cli(path, workdir)
    assert_one_error_line(result.stderr)
    assert result.returncode == 126


def test_huge_bss_loads_or_fails_promptly(hello, workdir):
    """A 128 GiB bss inside the 256 GiB address space: load it lazily (Linux would map it, or refuse it
    with ENOMEM under strict overcommit) or refuse it, but within seconds. Run in a subprocess so the
    timeout bounds the damage."""
    path = workdir / "huge-bss"
    path.write_bytes(_last_load(hello, p_memsz=1 << 37))
    try:
        result = run_cli(path, workdir, timeout=10)
    except subprocess.TimeoutExpired:
        pytest.fail("loading a 128 GiB bss took more than 10 s")
    assert b"Traceback" not in result.stderr
    assert result.returncode in (0, 126), result.stderr


# ---- random mutations -------------------------------------------------------------------------------------

#: Header fields a mutation may set (e_entry is left out: see HUGE_ENTRY, tested above).
MUTABLE_HEADER = ("e_type", "e_machine", "e_phoff", "e_phentsize", "e_phnum")

_u64 = st.one_of(
    st.integers(0, 2**64 - 1),
    st.integers(0, 1 << 24),
    st.sampled_from([0, 1, 0xFFF, 0x1000, TASK_SIZE - 1, TASK_SIZE, 2**63, 2**64 - 1]),
)
_mutation = st.one_of(
    st.tuples(st.just("byte"), st.integers(0, 4095), st.none(), st.integers(0, 255)),
    st.tuples(st.just("phdr"), st.integers(0, 7), st.sampled_from(sorted(PHDR)), _u64),
    st.tuples(st.just("ehdr"), st.just(0), st.sampled_from(MUTABLE_HEADER), _u64),
)


def mutate(data: bytes, mutations) -> bytes:
    out = bytearray(data)
    phoff = header(data, "e_phoff")
    for kind, index, field, value in mutations:
        if kind == "byte":
            out[index] = value
            continue
        offset, fmt = PHDR[field] if kind == "phdr" else EHDR[field]
        if kind == "phdr":
            offset += phoff + index * PHDR_SIZE
        struct.pack_into("<" + fmt, out, offset, value & ((1 << 8 * struct.calcsize(fmt)) - 1))
    return bytes(out)


#: Loads with more than this many bytes of segments are not attempted (see test_huge_bss_...).
MAX_MEMSZ = 1 << 30


@settings(max_examples=400, deadline=None, database=None)
@given(mutations=st.lists(_mutation, min_size=1, max_size=6))
def test_random_mutations_in_process(mutations, hello, workdir, reusable_process):
    data = mutate(hello, mutations)
    try:
        image = parse_elf(data, "mutant")
    except ElfLoadError:
        return
    if image.entry >= 2**62 or sum(s.memsz for s in image.segments) > MAX_MEMSZ:
        return  # known bugs, tested above
    path = workdir / "mutant"
    path.write_bytes(data)
    try:
        load_in(reusable_process, path)
    except DbtError:
        pass


@settings(max_examples=300, deadline=None, database=None)
@given(tail=st.binary(max_size=600), ident=st.binary(min_size=3, max_size=3))
def test_random_bytes_after_elf_magic(tail, ident):
    """Garbage after a plausible e_ident: parse_elf raises ElfLoadError or returns an image."""
    data = b"\x7fELF\x02\x01" + ident[:1] + tail
    try:
        parse_elf(data, "garbage")
    except ElfLoadError:
        pass


def _cli_mutant(hello: bytes, seed: int) -> bytes:
    """A reproducible mutant: 1-3 byte changes in the first 4 KiB or random program-header fields."""
    rng = random.Random(seed)
    out = bytearray(hello)
    phnum, phoff = header(hello, "e_phnum"), header(hello, "e_phoff")
    for _ in range(rng.randint(1, 3)):
        if rng.random() < 0.5:
            out[rng.randrange(4096)] = rng.randrange(256)
        else:
            offset, fmt = PHDR[rng.choice(sorted(PHDR))]
            bits = 8 * struct.calcsize(fmt)
            value = rng.getrandbits(min(bits, rng.choice([64, 64, 12, 24, 40])))
            struct.pack_into("<" + fmt, out, phoff + rng.randrange(phnum) * PHDR_SIZE + offset, value)
    return bytes(out)


@pytest.mark.parametrize("seed", range(20))
def test_random_mutants_through_cli(seed, hello, tmp_path):
    """A mutant that loads may run normally or die as a guest; one that does not load gets a clean error.
    Whatever happens, dbt itself never crashes."""
    path = tmp_path / "mutant"
    path.write_bytes(_cli_mutant(hello, seed))
    result = run_cli(path, tmp_path, timeout=120)
    assert b"Traceback" not in result.stderr
    assert b"internal error" not in result.stderr
    status = result.returncode
    if status in (126, 127):
        assert_one_error_line(result.stderr)
    elif status > 128:
        assert 128 < status < 128 + 65
        assert b"dbt: guest terminated by SIG" in result.stderr
    else:
        assert status == 0, result.stderr
        assert result.stdout == HELLO_STDOUT


def test_cli_mutants_cover_every_outcome(hello):
    """The fixed seeds above give a mix: mutants that run, that die as guests and that are refused."""
    kinds = set()
    for seed in range(20):
        try:
            parse_elf(_cli_mutant(hello, seed), "mutant")
        except ElfLoadError:
            kinds.add("refused")
            continue
        kinds.add("parsed")
    assert kinds == {"refused", "parsed"}
