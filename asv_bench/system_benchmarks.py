"""System mode's performance (airspeed velocity): Sv39 page walks and TLB look-ups, the time to
U-Boot's prompt, to a Linux init and virtio-blk read throughput under U-Boot, each of these
three also under qemu-system-riscv64 in the same run, as a ratio (dbt's time over QEMU's), and
the user network backend's packet rate.

Debian's U-Boot (`u-boot-qemu`) and OpenSBI (`opensbi`) are what boot; a benchmark whose
firmware or QEMU is missing is skipped (NotImplementedError in setup), as asv expects.

    python asv_bench/system_benchmarks.py     # the figures, median of 3, printed
"""

from __future__ import annotations

import glob
import os
import selectors
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

UBOOT = "/usr/lib/u-boot/qemu-riscv64_smode/uboot.elf"
OPENSBI = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin"
QEMU_SYSTEM = shutil.which("qemu-system-riscv64")
PROMPT = b"=> "
#: The disk U-Boot reads: 32 MiB, read in one `virtio read` (65536 sectors).
DISK_MIB = 32


def _need_uboot(qemu: bool = False) -> None:
    if not (os.path.exists(UBOOT) and os.path.exists(OPENSBI)):
        raise NotImplementedError("Debian's u-boot-qemu and opensbi packages are not installed")
    if qemu and QEMU_SYSTEM is None:
        raise NotImplementedError("qemu-system-riscv64 is not installed")


class _UBoot:
    """A machine running U-Boot on a pipe: `wait_prompt` reads until the prompt, `command`
    types a line and waits for the next prompt."""

    def __init__(self, command: list[str]) -> None:
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.process.stdout, selectors.EVENT_READ)
        self.output = b""

    def wait_prompt(self, timeout: float = 300) -> bytes:
        return self.wait_for(PROMPT, "U-Boot's prompt", timeout, at_end=True)

    def wait_for(self, marker: bytes, what: str, timeout: float = 300, at_end: bool = False) -> bytes:
        """Read until the output holds `marker` (ends with it, `at_end`); return what was read."""
        deadline = time.monotonic() + timeout
        while not (self.output.endswith(marker) if at_end else marker in self.output):
            if time.monotonic() > deadline:
                raise RuntimeError(f"no {what}")
            if self.selector.select(timeout=1):
                chunk = os.read(self.process.stdout.fileno(), 65536)
                if not chunk:
                    raise RuntimeError(f"the machine ended before {what}")
                self.output += chunk
        text, self.output = self.output, b""
        return text

    def type(self, keys: bytes) -> None:
        self.process.stdin.write(keys)
        self.process.stdin.flush()

    def command(self, line: bytes) -> bytes:
        self.type(line + b"\r")
        return self.wait_prompt()

    def close(self) -> None:
        self.process.kill()
        self.process.wait()


def _dbt(*extra: str) -> list[str]:
    return [sys.executable, "-m", "dbt", "system", "--kernel", UBOOT, *extra]


def _qemu(*extra: str) -> list[str]:
    return [QEMU_SYSTEM, "-M", "virt", "-nographic", "-kernel", UBOOT, *extra]


def prompt_seconds(command: list[str]) -> float:
    """Wall time from the start of `command` to U-Boot's first prompt (Python start-up and
    dbt's kernel load from its cache included)."""
    machine = _UBoot(command)
    try:
        machine.wait_prompt()
        return time.perf_counter() - machine.started
    finally:
        machine.close()


#: What U-Boot prints while its autoboot countdown runs.
COUNTDOWN = b"Hit any key to stop autoboot"


def key_stopped_prompt_seconds(command: list[str]) -> float:
    """Wall time to U-Boot's prompt when a key stops the autoboot countdown as soon as it shows:
    the emulator's time without U-Boot's 2 s wait. The machine is then powered off from the
    prompt, so dbt ends as a user's session does (saving its caches)."""
    machine = _UBoot(command)
    try:
        machine.wait_for(COUNTDOWN, "autoboot countdown")
        machine.type(b" ")
        machine.wait_prompt()
        elapsed = time.perf_counter() - machine.started
        machine.type(b"poweroff\r")
        machine.process.wait(timeout=60)
        return elapsed
    finally:
        machine.close()


def read_mib_per_second(command: list[str]) -> float:
    """U-Boot's `virtio read` of the whole disk: MiB per second of the command's wall time."""
    machine = _UBoot(command)
    try:
        machine.wait_prompt()
        machine.command(b"virtio scan")
        started = time.perf_counter()
        answer = machine.command(f"virtio read 0x84000000 0 {DISK_MIB * 2048:#x}".encode())
        elapsed = time.perf_counter() - started
        if b"blocks read: OK" not in answer:
            raise RuntimeError(f"virtio read failed: {answer!r}")
        return DISK_MIB / elapsed
    finally:
        machine.close()


def _disk() -> str:
    fd, path = tempfile.mkstemp(suffix=".img")
    with os.fdopen(fd, "wb") as out:
        out.write(os.urandom(1 << 20) * DISK_MIB)
    return path


class PageWalk:
    """An Sv39 walk through three levels as the Python side runs ir.pagewalk (a faulting walk's
    second look, and the decoder's fetches; the kernels' misses run the same code compiled,
    which the Linux boot's time measures), and a TLB hit looked up from Python (the kernels'
    look-up is the same tag compare)."""

    def setup(self) -> None:
        import numpy as np

        from dbt.ir.state import PERM_R, PERM_W
        from dbt.runtime.system import mmu

        ram = np.zeros(1 << 20, dtype=np.uint8)
        perm = np.full(ram.shape[0] >> 12, PERM_R | PERM_W, dtype=np.uint8)
        self.memory = mmu.PageTableMemory(ram, perm)
        # root at 0x1000 -> 0x2000 -> 0x3000 -> leaf for 0x4000_0000 (an A/D-set R/W page)
        self.memory.write(0x1000 + 8 * 1, (0x2 << 10) | mmu.PTE_V)
        self.memory.write(0x2000, (0x3 << 10) | mmu.PTE_V)
        leaf = mmu.PTE_V | mmu.PTE_R | mmu.PTE_W | mmu.PTE_A | mmu.PTE_D
        self.memory.write(0x3000, (0x10 << 10) | leaf)
        self.satp = (mmu.MODE_SV39 << 60) | 1
        self.mmu = mmu
        self.tlb = mmu.Tlb()
        self.tlb.fill(0x4000_0000, mmu.ACCESS_LOAD, mmu.MMU_S, self.walk())

    def walk(self):
        return self.mmu.walk(self.memory, self.satp, 0x4000_0123, self.mmu.ACCESS_LOAD, self.mmu.MMU_S, False)

    def time_walk(self) -> None:
        for _ in range(1000):
            self.walk()

    def time_tlb_hit(self) -> None:
        for _ in range(1000):
            self.tlb.lookup(0x4000_0123, self.mmu.ACCESS_LOAD, self.mmu.MMU_S, 0)


class _PromptSeconds:
    """Seconds to U-Boot's prompt as `measure` takes them, dbt's and the ratio to QEMU's."""

    timeout = 600
    measure = staticmethod(prompt_seconds)

    def setup(self) -> None:
        _need_uboot()

    def track_dbt_seconds(self) -> float:
        return self.measure(_dbt())

    track_dbt_seconds.unit = "s"

    def track_ratio_to_qemu(self) -> float:
        _need_uboot(qemu=True)
        return self.measure(_dbt()) / self.measure(_qemu())

    track_ratio_to_qemu.unit = "x"


class UBootPrompt(_PromptSeconds):
    """Seconds to U-Boot's prompt (OpenSBI, then U-Boot in S mode), dbt and QEMU."""


class UBootPromptKeyStopped(_PromptSeconds):
    """Seconds to U-Boot's prompt with the autoboot countdown stopped by a key, dbt and QEMU:
    start-up and the firmware's own work, without U-Boot's 2 s wait."""

    measure = staticmethod(key_stopped_prompt_seconds)


class VirtioBlockRead:
    """MiB/s of one U-Boot `virtio read` of a 32 MiB raw disk, and QEMU's over dbt's."""

    timeout = 600

    def setup(self) -> None:
        _need_uboot()
        self.disk = _disk()

    def teardown(self) -> None:
        os.unlink(self.disk)

    def track_dbt_mib_per_second(self) -> float:
        return read_mib_per_second(_dbt("--drive", f"file={self.disk},format=raw,readonly=on"))

    track_dbt_mib_per_second.unit = "MiB/s"

    def track_qemu_over_dbt(self) -> float:
        _need_uboot(qemu=True)
        drive = ("-drive", f"file={self.disk},format=raw,if=none,id=d0,readonly=on", "-device",
                 "virtio-blk-device,drive=d0")  # fmt: skip
        dbt = read_mib_per_second(_dbt("--drive", f"file={self.disk},format=raw,readonly=on"))
        return read_mib_per_second(_qemu(*drive)) / dbt

    track_qemu_over_dbt.unit = "x"


#: The init of the Linux benchmark: one line, then a power-off.
LINUX_INIT = """#!/bin/sh
/bin/busybox mount -t proc proc /proc
echo "dbt-bench: init ran"
/bin/busybox poweroff -f
"""
LINUX_APPEND = "console=ttyS0 panic=-1 quiet"
FETCH = Path(__file__).resolve().parent.parent / "tests" / "tools" / "fetch-debian-riscv64"


def _fetched(*args: str) -> str:
    """A path from the Debian riscv64 packages the tests fetch (tests/tools/fetch-debian-riscv64,
    from its cache when the Linux test has run)."""
    try:
        result = subprocess.run([str(FETCH), *args], capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NotImplementedError(f"cannot fetch {' '.join(args)}: {exc}") from None
    if result.returncode != 0:
        raise NotImplementedError(f"cannot fetch {' '.join(args)}: {result.stderr.strip()[-200:]}")
    return result.stdout.strip()


def linux_images(directory: str) -> tuple[str, str]:
    """(Debian's riscv64 kernel, an initramfs of Debian's static busybox and LINUX_INIT)."""
    if not os.path.exists(OPENSBI):
        raise NotImplementedError("Debian's opensbi package is not installed")
    root = _fetched("--root", "linux-kernel", "linux-image-riscv64@depends")
    kernels = sorted(glob.glob(os.path.join(root, "boot", "vmlinux-*")))
    if not kernels:
        raise NotImplementedError(f"no kernel image in {root}/boot")
    with open(_fetched("busybox-static", "./usr/bin/busybox"), "rb") as f:
        busybox = f.read()
    sys.path.insert(0, str(FETCH.parent.parent / "system"))
    try:
        from initramfs import busybox_initramfs
    finally:
        sys.path.pop(0)
    initrd = os.path.join(directory, "initramfs.cpio.gz")
    with open(initrd, "wb") as out:
        out.write(busybox_initramfs(busybox, LINUX_INIT))
    return kernels[-1], initrd


def init_seconds(command: list[str]) -> float:
    """Wall time of `command`, a machine that boots Linux to LINUX_INIT and powers off."""
    started = time.perf_counter()
    result = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, timeout=900)
    elapsed = time.perf_counter() - started
    if b"dbt-bench: init ran" not in result.stdout:
        raise RuntimeError(f"Linux did not reach its init: {result.stdout[-500:]!r} {result.stderr[-500:]!r}")
    return elapsed


def _dbt_linux(kernel: str, initrd: str) -> list[str]:
    return [sys.executable, "-m", "dbt", "system", "-m", "256M", "--kernel", kernel, "--initrd", initrd,
            "--append", LINUX_APPEND]  # fmt: skip


def _qemu_linux(kernel: str, initrd: str) -> list[str]:
    return [QEMU_SYSTEM, "-M", "virt", "-m", "256M", "-nographic", "-bios", "default", "-kernel", kernel,
            "-initrd", initrd, "-append", LINUX_APPEND, "-no-reboot"]  # fmt: skip


class LinuxInit:
    """Seconds from power-on to a Debian kernel's init (an initramfs of busybox) and its
    power-off, dbt and QEMU. dbt boots once first: the figure is the boot with the decoded
    blocks and compiled regions of the one before in the disk cache (its first boot compiles
    as it goes, and takes about twice as long)."""

    timeout = 900

    def setup(self) -> None:
        self.directory = tempfile.mkdtemp()
        self.kernel, self.initrd = linux_images(self.directory)
        init_seconds(_dbt_linux(self.kernel, self.initrd))

    def teardown(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)

    def track_dbt_seconds(self) -> float:
        return init_seconds(_dbt_linux(self.kernel, self.initrd))

    track_dbt_seconds.unit = "s"

    def track_ratio_to_qemu(self) -> float:
        if QEMU_SYSTEM is None:
            raise NotImplementedError("qemu-system-riscv64 is not installed")
        dbt = init_seconds(_dbt_linux(self.kernel, self.initrd))
        return dbt / init_seconds(_qemu_linux(self.kernel, self.initrd))

    track_ratio_to_qemu.unit = "x"


def _checksum(data: bytes) -> int:
    total = sum(int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data) - 1, 2))
    total += data[-1] << 8 if len(data) % 2 else 0
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def echo_request(sequence: int) -> bytes:
    """An Ethernet frame with an ICMP echo request from the guest (10.0.2.15) to 10.0.2.2."""
    icmp = bytearray(b"\x08\x00\x00\x00\x00\x01" + sequence.to_bytes(2, "big") + bytes(56))
    icmp[2:4] = _checksum(bytes(icmp)).to_bytes(2, "big")
    ip = bytearray(b"\x45\x00" + (20 + len(icmp)).to_bytes(2, "big") + b"\x00\x00\x40\x00\x40\x01\x00\x00")
    ip += bytes([10, 0, 2, 15, 10, 0, 2, 2])
    ip[10:12] = _checksum(bytes(ip)).to_bytes(2, "big")
    guest, gateway = bytes.fromhex("525400123456"), bytes.fromhex("52550a000202")
    return gateway + guest + b"\x08\x00" + bytes(ip) + bytes(icmp)


class UserNetEcho:
    """Packets per second through the user network backend (libslirp) alone: ICMP echo
    requests to the gateway, each answered by slirp, one frame in and one out (the backend's
    share of a guest's packet rate; the virtqueue side is VirtioBlockRead's kind of figure)."""

    frames = 2000

    def setup(self) -> None:
        try:
            from dbt.devices.netdev import open_backend

            self.backend = open_backend("user")
        except Exception as exc:  # libslirp missing: skipped, as asv expects
            raise NotImplementedError(str(exc)) from None
        self.requests = [echo_request(i) for i in range(self.frames)]
        # An ARP request first, so slirp knows the guest's MAC (else it queues the replies).
        guest, ip = bytes.fromhex("525400123456"), bytes([10, 0, 2, 15])
        arp = b"\xff" * 6 + guest + b"\x08\x06\x00\x01\x08\x00\x06\x04\x00\x01" + guest + ip
        self.backend.send((arp + bytes(6) + bytes([10, 0, 2, 2])).ljust(60, b"\0"))
        self.backend.receive()

    def teardown(self) -> None:
        self.backend.close()

    def track_packets_per_second(self) -> float:
        backend, answered = self.backend, 0
        started = time.perf_counter()
        for frame in self.requests:
            backend.send(frame)
            answered += sum(reply[34] == 0 for reply in backend.receive()[0])  # ICMP echo reply
        elapsed = time.perf_counter() - started
        if answered != self.frames:
            raise RuntimeError(f"{answered} echo replies for {self.frames} requests")
        return 2 * self.frames / elapsed

    track_packets_per_second.unit = "packets/s"


def main() -> None:
    """The figures for a note or the README: medians of 3, interleaved, dbt and QEMU."""
    _need_uboot(qemu=True)
    disk = _disk()
    images = tempfile.mkdtemp()
    try:
        kernel, initrd = linux_images(images)
        init_seconds(_dbt_linux(kernel, initrd))  # (the figure is a boot with the caches filled)
        drive_dbt = ("--drive", f"file={disk},format=raw,readonly=on")
        drive_qemu = ("-drive", f"file={disk},format=raw,if=none,id=d0,readonly=on", "-device",
                      "virtio-blk-device,drive=d0")  # fmt: skip
        runs: dict[str, list[float]] = {}
        for _ in range(3):
            for name, measure in (
                ("prompt dbt (s)", lambda: prompt_seconds(_dbt())),
                ("prompt dbt --no-jit (s)", lambda: prompt_seconds(_dbt("--no-jit"))),
                ("prompt qemu (s)", lambda: prompt_seconds(_qemu())),
                ("key-stopped dbt (s)", lambda: key_stopped_prompt_seconds(_dbt())),
                ("key-stopped qemu (s)", lambda: key_stopped_prompt_seconds(_qemu())),
                ("virtio read dbt (MiB/s)", lambda: read_mib_per_second(_dbt(*drive_dbt))),
                ("virtio read qemu (MiB/s)", lambda: read_mib_per_second(_qemu(*drive_qemu))),
                ("linux init dbt (s)", lambda: init_seconds(_dbt_linux(kernel, initrd))),
                ("linux init qemu (s)", lambda: init_seconds(_qemu_linux(kernel, initrd))),
            ):
                runs.setdefault(name, []).append(measure())
        for name, values in runs.items():
            each = ", ".join(f"{v:.2f}" for v in values)
            print(f"{name:28} median {statistics.median(values):8.2f}   runs {each}")
    finally:
        os.unlink(disk)
        shutil.rmtree(images, ignore_errors=True)


if __name__ == "__main__":
    main()
