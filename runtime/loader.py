"""Building a process image: the main program, its interpreter and the initial stack.

The stack follows the RISC-V Linux ABI at process entry: sp (16-byte aligned) points at argc,
then the argv and envp pointer arrays (each NULL-terminated), then the auxiliary vector; the
strings, AT_RANDOM bytes and the platform name sit above them.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass

from dbt.errors import ElfLoadError, GuestFileNotFound
from dbt.runtime.elf import LoadedImage, load_image, main_bias, read_elf
from dbt.runtime.memory import PROT_READ, PROT_WRITE, STACK_SIZE, STACK_TOP, GuestMemory
from dbt.runtime.paths import PathMapper

# Auxiliary vector keys (include/uapi/linux/auxvec.h).
AT_NULL, AT_PHDR, AT_PHENT, AT_PHNUM, AT_PAGESZ, AT_BASE, AT_FLAGS, AT_ENTRY = 0, 3, 4, 5, 6, 7, 8, 9
AT_UID, AT_EUID, AT_GID, AT_EGID, AT_PLATFORM, AT_HWCAP, AT_CLKTCK = 11, 12, 13, 14, 15, 16, 17
AT_SECURE, AT_RANDOM, AT_HWCAP2, AT_EXECFN = 23, 25, 26, 31

PLATFORM = b"riscv64"


@dataclass(frozen=True, slots=True)
class ProcessImage:
    entry: int
    sp: int
    #: Where the program break starts.
    brk: int
    main: LoadedImage
    interp: LoadedImage | None
    #: Guest path of the program (what /proc/self/exe and AT_EXECFN name).
    exe_path: str
    #: Host path the program was read from.
    host_path: str
    #: The guest's argv and auxiliary vector (for /proc/self/cmdline and /proc/self/auxv).
    argv: tuple[bytes, ...] = ()
    auxv: bytes = b""


def load_program(
    memory: GuestMemory, paths: PathMapper, path: str, argv: list[bytes], envp: list[bytes], hwcap: int
) -> ProcessImage:
    """Load `path` (a guest path, resolved through the sysroot) and set up its stack.

    `hwcap` is AT_HWCAP: one bit per single-letter extension of the CPU model (bit n = 'a' + n).
    """
    host_path = paths.host(path)
    image = read_elf(host_path, display=path)
    main = load_image(memory, image, main_bias(image))
    interp = None
    entry = main.entry
    if image.interp:
        interp_host = paths.host(image.interp)
        try:
            interp_image = read_elf(interp_host, display=image.interp)
        except GuestFileNotFound:
            hint = "" if paths.sysroot else " (a dynamically linked program needs --sysroot)"
            raise GuestFileNotFound(f"{path}: program interpreter {image.interp} not found{hint}") from None
        if interp_image.interp:
            raise ElfLoadError(f"{image.interp}: the program interpreter itself asks for an interpreter")
        interp = load_image(memory, interp_image)
        entry = interp.entry
    if paths.exe_guest is not None and paths.is_self_exe(path):
        exe_path = paths.exe_guest  # execve("/proc/self/exe") runs the same program again
    else:
        exe_path = os.path.abspath(path) if not os.path.isabs(path) else path
    sp, auxv = build_stack(memory, main, interp, argv, envp, exe_path.encode(), hwcap)
    return ProcessImage(entry, sp, main.end, main, interp, exe_path, host_path, tuple(argv), auxv)


def build_stack(
    memory: GuestMemory,
    main: LoadedImage,
    interp: LoadedImage | None,
    argv: list[bytes],
    envp: list[bytes],
    execfn: bytes,
    hwcap: int,
) -> tuple[int, bytes]:
    """Map the stack and lay out argc, argv, envp, auxv and their strings; returns (sp, auxv bytes)."""
    memory.map(STACK_TOP - STACK_SIZE, STACK_SIZE, PROT_READ | PROT_WRITE, name="[stack]")
    top = STACK_TOP
    blob = bytearray()

    def put(data: bytes) -> int:
        """Place data in the string area (growing down from the top); returns its address."""
        blob[:0] = data
        return top - len(blob)

    # Strings go in the reverse of their final order so their addresses ascend like the kernel's.
    execfn_addr = put(execfn + b"\0")
    env_addrs = [put(s + b"\0") for s in reversed(envp)][::-1]
    arg_addrs = [put(s + b"\0") for s in reversed(argv)][::-1]
    platform_addr = put(PLATFORM + b"\0")
    random_addr = put(secrets.token_bytes(16))
    strings_start = top - len(blob)
    auxv = [
        (AT_PHDR, main.phdr),
        (AT_PHENT, main.image.phentsize),
        (AT_PHNUM, main.image.phnum),
        (AT_PAGESZ, 4096),
        (AT_BASE, interp.bias if interp else 0),
        (AT_FLAGS, 0),
        (AT_ENTRY, main.entry),
        (AT_UID, os.getuid()),
        (AT_EUID, os.geteuid()),
        (AT_GID, os.getgid()),
        (AT_EGID, os.getegid()),
        (AT_SECURE, 0),
        (AT_RANDOM, random_addr),
        (AT_HWCAP, hwcap),
        (AT_HWCAP2, 0),
        (AT_CLKTCK, 100),
        (AT_PLATFORM, platform_addr),
        (AT_EXECFN, execfn_addr),
        (AT_NULL, 0),
    ]
    words = [len(argv), *arg_addrs, 0, *env_addrs, 0]
    for key, value in auxv:
        words += [key, value]
    sp = (strings_start - 8 * len(words)) & ~15
    if sp < STACK_TOP - STACK_SIZE + 4096:
        raise ElfLoadError("argument list too long for the stack")
    table = b"".join((w & (1 << 64) - 1).to_bytes(8, "little") for w in words)
    memory.write_slice(sp, table)
    memory.write_slice(strings_start, bytes(blob))
    auxv_bytes = b"".join(
        key.to_bytes(8, "little") + (value & (1 << 64) - 1).to_bytes(8, "little") for key, value in auxv
    )
    return sp, auxv_bytes
