"""The virt machine end to end: the project's bare-metal programs (tests/system/guests, built
with gcc and zig) under `dbt system`, interpreter and JIT, against qemu-system-riscv64 on the
same images: M mode from the reset vector, traps and interrupts across M, S and U mode, HTIF
(against QEMU's spike machine), and Debian's OpenSBI starting an S-mode payload that uses SBI
calls, a delegated trap and a timer interrupt, then shuts the machine down through SRST.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from debianfetch import need
from guestbuild import available_bare_toolchains, build_bare

QEMU_SYSTEM = shutil.which("qemu-system-riscv64")
OPENSBI = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin"
TOOLCHAINS = available_bare_toolchains()
TIERS = {"interp": ("--no-jit",), "jit": ("--jit-threshold", "1")}
PROGRAMS = {
    "hello": ("start.S", "hello.c"),
    "traps": ("start.S", "vectors.S", "traps.c"),
    "reset": ("start.S", "reset.c"),
    "paging": ("start.S", "vectors.S", "paging.c"),
    "rewrite": ("start.S", "rewrite.c"),
    "clock": ("start.S", "clock.c"),
    "ecalls": ("start.S", "ecalls.c"),
}


def _dbt_system(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dbt", "system", *args], capture_output=True,
                          stdin=subprocess.DEVNULL, timeout=timeout)  # fmt: skip


def _qemu(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([QEMU_SYSTEM, "-nographic", *args], capture_output=True, stdin=subprocess.DEVNULL,
                          timeout=60)  # fmt: skip


@pytest.mark.parametrize("tier", sorted(TIERS))
@pytest.mark.parametrize("toolchain", TOOLCHAINS)
@pytest.mark.parametrize("program", sorted(PROGRAMS))
def test_bare_metal(program, toolchain, tier):
    need(QEMU_SYSTEM, "qemu-system-riscv64")
    image = str(build_bare(program, toolchain, PROGRAMS[program]))
    reference = _qemu("-M", "virt", "-bios", "none", "-kernel", image)
    result = _dbt_system("--bios", "none", "--kernel", image, *TIERS[tier])
    assert reference.returncode == 0 and reference.stdout.endswith(b"\n")
    assert result.returncode == reference.returncode, result.stderr.decode(errors="replace")[-2000:]
    assert result.stdout == reference.stdout
    assert result.stderr == b""


@pytest.mark.parametrize("toolchain", TOOLCHAINS)
def test_htif_console_and_exit_status(toolchain):
    """tohost/fromhost: console characters and the exit status (3), as QEMU's spike machine."""
    need(QEMU_SYSTEM, "qemu-system-riscv64")
    image = str(build_bare("htif", toolchain, ("start.S", "htif.c")))
    reference = _qemu("-M", "spike", "-bios", "none", "-kernel", image)
    result = _dbt_system("--bios", "none", "--kernel", image)
    assert reference.returncode == 3
    assert (result.returncode, result.stdout) == (reference.returncode, reference.stdout)


@pytest.mark.parametrize("tier", sorted(TIERS))
@pytest.mark.parametrize("toolchain", TOOLCHAINS)
def test_opensbi_boots_a_payload(toolchain, tier):
    """Debian's OpenSBI (fw_dynamic, the default firmware) prints its banner and starts the
    payload in S mode; everything the payload prints is as under QEMU (the banner differs where
    the harts differ: QEMU's has the H extension and counters dbt does not model)."""
    need(QEMU_SYSTEM, "qemu-system-riscv64")
    need(OPENSBI, "Debian's opensbi package")
    image = str(build_bare("payload", toolchain, ("start.S", "payload.c"), "link-payload.ld"))
    reference = _qemu("-M", "virt", "-bios", OPENSBI, "-kernel", image)
    result = _dbt_system("--kernel", image, *TIERS[tier])
    assert result.returncode == reference.returncode == 0, result.stderr.decode(errors="replace")[-2000:]
    marker = b"payload in S mode\r\n"  # (OpenSBI's console writes CR LF)
    assert marker in reference.stdout
    assert result.stdout[result.stdout.index(marker) :] == reference.stdout[reference.stdout.index(marker) :]
    banner = (b"OpenSBI v1.", b"Platform Name             : riscv-virtio,qemu",
              b"Domain0 Next Mode         : S-mode", b"Boot HART ISA Extensions  : time,sstc")  # fmt: skip
    for line in banner:
        assert line in result.stdout


def test_the_decoded_block_file_is_written_and_read_back_unless_no_cache(tmp_path):
    """OpenSBI and a payload lift enough blocks to be saved; the next boot finds them in the
    file (--stats counts them), and --no-cache neither writes nor reads it."""
    need(OPENSBI, "Debian's opensbi package")
    image = str(build_bare("payload", TOOLCHAINS[0], ("start.S", "payload.c"), "link-payload.ld"))
    from dbt.backends.interp import kernel_path

    compiled = kernel_path()  # (compiled for the session: a cache directory of its own keeps it)
    (tmp_path / compiled.name).symlink_to(compiled)
    env = {**os.environ, "DBT_CACHE_DIR": str(tmp_path)}

    def boot(*args: str) -> bytes:
        command = [sys.executable, "-m", "dbt", "system", "--kernel", image, "--no-jit", "--stats", *args]
        result = subprocess.run(command, capture_output=True, stdin=subprocess.DEVNULL, timeout=120, env=env)
        assert result.returncode == 0, result.stderr.decode(errors="replace")[-2000:]
        return result.stderr

    boot("--no-cache")
    assert not list(tmp_path.glob("decoded-*.npz"))
    assert b"(0 in the decoded-block cache file at start)" in boot()
    assert len(list(tmp_path.glob("decoded-*.npz"))) == 1
    assert b"(0 in the decoded-block cache file at start)" not in boot()
    assert b"(0 in the decoded-block cache file at start)" in boot("--no-cache")


def test_missing_kernel_is_one_line():
    result = _dbt_system("--bios", "none", "--kernel", "/nonexistent/kernel.elf")
    assert result.returncode == 1
    assert (
        result.stderr
        == b"dbt: error: cannot read the kernel /nonexistent/kernel.elf: No such file or directory\n"
    )


def test_nothing_to_run():
    result = _dbt_system("--bios", "none")
    assert result.returncode == 1
    assert result.stderr == b"dbt: error: nothing to run: give --kernel FILE with --bios none\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("-m", "lots"), b"dbt: error: -m: cannot read the memory size 'lots' (e.g. 128M, 1G)\n"),
        (("-m", "8M"), b"dbt: error: -m: RAM must be at least 16 MiB and a whole number of pages\n"),
    ],
)
def test_bad_memory_size(args, message, tmp_path):
    kernel = tmp_path / "k.bin"
    kernel.write_bytes(b"\x73\x00\x10\x00")
    result = _dbt_system("--bios", "none", "--kernel", str(kernel), *args)
    assert result.stderr == message
    assert result.returncode in (1, 2)


def test_smp_and_machine_are_checked():
    assert _dbt_system("--smp", "2", "--bios", "none").returncode == 2
    assert _dbt_system("--machine", "sifive_u", "--bios", "none").returncode == 2


def test_not_riscv_elf(tmp_path):
    kernel = tmp_path / "x86.elf"
    with open(sys.executable, "rb") as host_program:
        kernel.write_bytes(host_program.read(1 << 16))  # the host's ELF (truncated)
    result = _dbt_system("--bios", "none", "--kernel", str(kernel))
    assert result.returncode == 1
    assert result.stderr.startswith(b"dbt: error: the kernel ") and result.stderr.count(b"\n") == 1


UBOOT = "/usr/lib/u-boot/qemu-riscv64_smode/uboot.elf"
PROMPT = b"=> "


def _converse(
    command: list[str], lines: list[bytes], timeout: float = 120, stop_autoboot: bool = False
) -> tuple[int, list[bytes]]:
    """Run `command`, and each time the U-Boot prompt appears type the next line; returns the
    exit status and what was printed after each line (up to the next prompt, or the end).
    `stop_autoboot`: a key during the countdown (with a network card, autoboot would try the
    network for a long time)."""
    import selectors
    import time

    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    output, answers, pending = b"", [], list(lines)
    try:
        while time.monotonic() < deadline:
            if selector.select(timeout=1):
                chunk = os.read(process.stdout.fileno(), 4096)
                if not chunk:
                    break
                output += chunk
            if stop_autoboot and b"autoboot" in output and not output.endswith(PROMPT):
                stop_autoboot = False
                process.stdin.write(b" ")
                process.stdin.flush()
            if output.endswith(PROMPT) and pending:
                answers.append(output)
                output = b""
                process.stdin.write(pending.pop(0) + b"\r")
                process.stdin.flush()
        answers.append(output)
        return process.wait(timeout=max(deadline - time.monotonic(), 1)), answers[1:]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.parametrize("tier", sorted(TIERS))
def test_uboot_prompt(tier):
    """Debian's U-Boot for QEMU's virt machine (S mode, under OpenSBI) reaches its prompt, runs
    commands and powers the machine off, answering as under QEMU."""
    need(QEMU_SYSTEM, "qemu-system-riscv64")
    need(UBOOT, "Debian's u-boot-qemu package")
    need(OPENSBI, "Debian's opensbi package")
    lines = [b"version", b"echo hello from u-boot", b"poweroff"]
    qemu_status, reference = _converse([QEMU_SYSTEM, "-M", "virt", "-nographic", "-kernel", UBOOT], lines)
    status, answers = _converse(
        [sys.executable, "-m", "dbt", "system", "--kernel", UBOOT, *TIERS[tier]], lines
    )
    assert qemu_status == 0 and b"hello from u-boot" in reference[1]
    assert status == 0
    assert answers == reference


@pytest.mark.parametrize("tier", sorted(TIERS))
def test_uboot_virtio_blk(tier, tmp_path):
    """U-Boot's virtio-blk driver on a raw image: scan, read, write back and read again, with the
    same answers as under QEMU and the same bytes in the image afterwards."""
    need(QEMU_SYSTEM, "qemu-system-riscv64")
    need(UBOOT, "Debian's u-boot-qemu package")
    need(OPENSBI, "Debian's opensbi package")
    contents = b"HELLO-DISK-SECTOR-ZERO" + bytes(range(256)) * 16 * 64
    images = {}
    for who in ("qemu", "dbt"):
        images[who] = tmp_path / f"{who}.img"
        images[who].write_bytes(contents)
    lines = [b"virtio scan", b"virtio info", b"virtio read 0x84000000 0 2", b"md.b 0x84000000 0x20",
             b"md.b 0x840001f0 0x20", b"mw.b 0x84000000 0x5a 0x200", b"virtio write 0x84000000 1 1",
             b"virtio read 0x85000000 1 1", b"md.b 0x85000000 0x10", b"poweroff"]  # fmt: skip
    qemu = [QEMU_SYSTEM, "-M", "virt", "-nographic", "-kernel", UBOOT, "-drive",
            f"file={images['qemu']},format=raw,if=none,id=d0", "-device",
            "virtio-blk-device,drive=d0"]  # fmt: skip
    dbt = [sys.executable, "-m", "dbt", "system", "--kernel", UBOOT, "--drive",
           f"file={images['dbt']},format=raw", *TIERS[tier]]  # fmt: skip
    qemu_status, reference = _converse(qemu, lines)
    status, answers = _converse(dbt, lines)
    assert qemu_status == status == 0
    assert b"1 blocks written: OK" in reference[6]
    assert answers == reference
    assert images["dbt"].read_bytes() == images["qemu"].read_bytes() != contents


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (None, "dbt: error: cannot open the disk image {path}: No such file or directory\n"),
        (b"tiny", "dbt: error: the disk image {path} is smaller than one sector (4 bytes)\n"),
    ],
)
def test_bad_disk_images(make, message, tmp_path):
    path = tmp_path / "disk.img"
    if make is not None:
        path.write_bytes(make)
    result = _dbt_system("--bios", "none", "--kernel", str(path), "--drive", f"file={path},format=raw")
    assert result.returncode == 1
    assert result.stderr.decode() == message.format(path=path)


def test_drive_option_errors(tmp_path):
    result = _dbt_system("--bios", "none", "--drive", "file=x.img,format=qcow2")
    assert result.stderr == b"dbt: error: --drive: only format=raw images are supported, not 'qcow2'\n"
    result = _dbt_system("--bios", "none", "--device", "virtio-gpu-device", "--kernel", "/dev/null")
    assert result.returncode == 1
