"""Booting Linux: Debian trixie's riscv64 kernel (a package, fetched, not committed) on Debian's
OpenSBI, with an initramfs made here from a script, Debian's static busybox and the kernel's own
modules, to its init, under dbt as under qemu-system-riscv64. The init loads the virtio and ext4
modules, reads a file from an ext2 image made on the host (mke2fs) and writes one the host then
reads back (debugfs), takes a DHCP lease from the user-mode network (libslirp), pings its
gateway, fetches a file from an HTTP server on the host's loopback (10.0.2.2 is the host), then
starts an HTTP server of its own and fetches from it through a hostfwd rule (guest -> the host's
loopback port -> slirp's listener there -> back into the guest's port 80), and powers off. Slow:
half a minute or so under dbt."""

from __future__ import annotations

import functools
import glob
import http.server
import os
import re
import shutil
import socket
import subprocess
import sys
import threading

import pytest
from dbtrun import env_without
from debianfetch import fetch, need
from initramfs import DISK_AND_NET, LOAD_MODULES, busybox_initramfs, module_files

QEMU_SYSTEM = shutil.which("qemu-system-riscv64")
OPENSBI = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin"
E2FS_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
MKE2FS, DEBUGFS = shutil.which("mke2fs", path=E2FS_PATH), shutil.which("debugfs", path=E2FS_PATH)
HOST_TEXT = "written on the host by mke2fs"
GREETING = "served by the host over the user network"
INIT = (
    """#!/bin/sh
export PATH=/bin
/bin/busybox mount -t proc proc /proc
echo "dbt-init: hello from init"
/bin/busybox uname -r
/bin/busybox grep '^mmu' /proc/cpuinfo
echo "dbt-init: 6 * 7 = $((6 * 7))"
"""
    + LOAD_MODULES
    + """/bin/busybox mount -t devtmpfs devtmpfs /dev
/bin/busybox mkdir -p /mnt
/bin/busybox mount -t ext2 /dev/vda /mnt && echo "dbt-init: mounted /dev/vda"
echo "dbt-init: read: $(/bin/busybox cat /mnt/hello.txt)"
echo "written by the guest" > /mnt/guest.txt
/bin/busybox umount /mnt && echo "dbt-init: unmounted"
/bin/busybox ip link set eth0 up
/bin/busybox udhcpc -i eth0 -n -q -f > /dev/null 2>&1 || echo "dbt-init: no lease"
/bin/busybox ip -4 addr show dev eth0 | /bin/busybox grep -o 'inet [0-9./]*'
/bin/busybox ping -c 1 -W 5 10.0.2.2 > /dev/null && echo "dbt-init: 10.0.2.2 answers"
echo "dbt-init: fetched: $(/bin/busybox wget -q -O - http://10.0.2.2:@PORT@/greeting.txt)"
/bin/busybox mkdir -p /www
echo "served by the guest through hostfwd" > /www/hostfwd.txt
/bin/busybox httpd -p 80 -h /www
echo "dbt-init: through hostfwd: $(/bin/busybox wget -q -O - http://10.0.2.2:@FORWARD@/hostfwd.txt)"
/bin/busybox poweroff -f
"""
)
APPEND = "console=ttyS0 panic=-1 quiet"
TIERS = {"interp": ("--no-jit",), "jit": ()}


@pytest.fixture(scope="module")
def web_server(tmp_path_factory):
    """An HTTP server on the host's loopback, serving greeting.txt: the port."""
    root = tmp_path_factory.mktemp("web")
    (root / "greeting.txt").write_text(GREETING + "\n")
    handler = functools.partial(QuietHandler, directory=str(root))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield server.server_address[1]
        server.shutdown()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:
        pass


@pytest.fixture(scope="module")
def forward_port() -> int:
    """A free port on the host's loopback for the hostfwd rule (QEMU and dbt run one at a time)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def linux(tmp_path_factory, web_server, forward_port) -> tuple[str, str]:
    """(kernel image, initramfs whose init fetches from `web_server` and through `forward_port`)."""
    need(QEMU_SYSTEM, "qemu-system-riscv64")
    need(OPENSBI, "Debian's opensbi package")
    root = fetch("--root", "linux-kernel", "linux-image-riscv64@depends")
    kernels = sorted(glob.glob(os.path.join(root, "boot", "vmlinux-*")))
    assert kernels, f"no kernel image in {root}/boot"
    files = module_files(root, DISK_AND_NET)
    with open(fetch("busybox-static", "./usr/bin/busybox"), "rb") as f:
        initrd = tmp_path_factory.mktemp("linux") / "initramfs.cpio.gz"
        init = INIT.replace("@PORT@", str(web_server)).replace("@FORWARD@", str(forward_port))
        initrd.write_bytes(busybox_initramfs(f.read(), init, files))
    return kernels[-1], str(initrd)


def _ext2_image(directory) -> str:
    """An 8 MiB ext2 image holding hello.txt."""
    need(MKE2FS, "mke2fs (Debian's e2fsprogs package)")
    content = directory / "content"
    content.mkdir()
    (content / "hello.txt").write_text(HOST_TEXT + "\n")
    image = directory / "disk.img"
    subprocess.run([MKE2FS, "-q", "-F", "-t", "ext2", "-d", str(content), str(image), "8M"], check=True,
                   capture_output=True)  # fmt: skip
    return str(image)


def _read_back(image: str, path: str) -> bytes:
    need(DEBUGFS, "debugfs (Debian's e2fsprogs package)")
    return subprocess.run([DEBUGFS, "-R", f"cat {path}", image], check=True, capture_output=True).stdout


def _init_lines(console: bytes) -> list[bytes]:
    """What the init script printed (the kernel's own lines start with '[')."""
    lines = console.replace(b"\r\n", b"\n").split(b"\n")
    start = next(i for i, line in enumerate(lines) if b"dbt-init: hello" in line)
    return [line for line in lines[start:] if line and not line.startswith(b"[")]


@pytest.mark.slow
@pytest.mark.parametrize("tier", sorted(TIERS))
def test_linux_boots_reads_and_writes_ext2_and_gets_a_lease(linux, forward_port, tier, tmp_path):
    kernel, initrd = linux
    netdev = f"user,hostfwd=tcp:127.0.0.1:{forward_port}-:80"
    (tmp_path / "qemu").mkdir()
    (tmp_path / "dbt").mkdir()
    qemu_disk, dbt_disk = _ext2_image(tmp_path / "qemu"), _ext2_image(tmp_path / "dbt")
    boot = {"m": "256M", "kernel": kernel, "initrd": initrd, "append": APPEND}
    qemu_args = [arg for name, value in boot.items() for arg in (f"-{name}", value)]
    dbt_args = [
        arg for name, value in boot.items() for arg in (f"-{name}" if name == "m" else f"--{name}", value)
    ]
    reference = subprocess.run([QEMU_SYSTEM, "-M", "virt", "-nographic", "-bios", OPENSBI, *qemu_args,
                                "-drive", f"file={qemu_disk},format=raw,if=none,id=d0",
                                "-device", "virtio-blk-device,drive=d0",
                                "-netdev", f"{netdev},id=n0", "-device", "virtio-net-device,netdev=n0"],
                               capture_output=True, stdin=subprocess.DEVNULL, timeout=120)  # fmt: skip
    # Without coverage's tracer, which makes the boot's Python side (TLB misses, traps) ~10x
    # slower; the bare-metal paging test covers that code.
    quiet = env_without(*(name for name in os.environ if name.startswith(("COV_CORE", "COVERAGE_"))))
    result = subprocess.run([sys.executable, "-m", "dbt", "system", *dbt_args, *TIERS[tier],
                             "--drive", f"file={dbt_disk},format=raw", "--netdev", netdev], env=quiet,
                            capture_output=True, stdin=subprocess.DEVNULL, timeout=1200)  # fmt: skip
    expected = _init_lines(reference.stdout)
    assert reference.returncode == 0 and b"dbt-init: hello from init" in reference.stdout
    # What QEMU's guest did, checked against the outside world: the host's file was read, the
    # guest's file is on the disk, slirp's DHCP address was taken and its gateway answered.
    assert f"dbt-init: read: {HOST_TEXT}".encode() in expected
    assert [line for line in expected if re.match(rb"dbt-init: (un)?mounted", line)] == [
        b"dbt-init: mounted /dev/vda",
        b"dbt-init: unmounted",
    ]
    assert b"inet 10.0.2.15/24" in expected and b"dbt-init: 10.0.2.2 answers" in expected
    assert f"dbt-init: fetched: {GREETING}".encode() in expected
    assert b"dbt-init: through hostfwd: served by the guest through hostfwd" in expected
    assert not [line for line in expected if b"failed" in line or b"no lease" in line]
    assert _read_back(qemu_disk, "/guest.txt") == b"written by the guest\n"
    assert result.returncode == 0, (result.stdout[-3000:] + result.stderr[-2000:]).decode(errors="replace")
    assert _init_lines(result.stdout) == expected
    assert result.stderr == b""
    assert _read_back(dbt_disk, "/guest.txt") == b"written by the guest\n"
