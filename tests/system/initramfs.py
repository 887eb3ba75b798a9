"""A Linux initramfs (the kernel's "newc" cpio format, gzip-compressed) built from the project's
own files and a static busybox, for the Linux boot tests. Deterministic: every entry has mtime
0 and owner 0."""

from __future__ import annotations

import glob
import gzip
import lzma
import os
import re
import stat


class Newc:
    """Entries in newc format (linux Documentation/driver-api/early-userspace/buffer-format.rst)."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.inode = 1
        self.dirs: set[str] = set()

    def _entry(self, name: str, mode: int, body: bytes = b"", rdev: tuple[int, int] = (0, 0)) -> None:
        encoded = name.encode() + b"\0"
        fields = (self.inode, mode, 0, 0, 2 if stat.S_ISDIR(mode) else 1, 0, len(body), 0, 0, *rdev,
                  len(encoded), 0)  # fmt: skip
        self.inode += 1
        self.data += b"070701" + "".join(f"{value:08X}" for value in fields).encode() + encoded
        self.data += b"\0" * (-len(self.data) % 4) + body
        self.data += b"\0" * (-len(self.data) % 4)

    def directory(self, path: str) -> None:
        if not path or path in self.dirs:
            return
        self.directory(path.rpartition("/")[0])
        self.dirs.add(path)
        self._entry(path, stat.S_IFDIR | 0o755)

    def file(self, path: str, body: bytes, mode: int = 0o644) -> None:
        self.directory(path.rpartition("/")[0])
        self._entry(path, stat.S_IFREG | mode, body)

    def symlink(self, path: str, target: str) -> None:
        self.directory(path.rpartition("/")[0])
        self._entry(path, stat.S_IFLNK | 0o777, target.encode())

    def device(self, path: str, major: int, minor: int, mode: int = 0o600) -> None:
        self.directory(path.rpartition("/")[0])
        self._entry(path, stat.S_IFCHR | mode, rdev=(major, minor))

    def finish(self) -> bytes:
        self.inode = 0
        self._entry("TRAILER!!!", 0)
        self.data += b"\0" * (-len(self.data) % 512)
        return gzip.compress(bytes(self.data), mtime=0)


def kernel_modules(root: str, names: list[str]) -> list[tuple[str, bytes]]:
    """The kernel modules `names` from the unpacked kernel package at `root`, decompressed and
    with what they depend on (their .modinfo `depends=`), in an order insmod can load them:
    [(module name, .ko contents)]."""
    pattern = os.path.join(root, "lib", "modules", "*", "kernel", "**", "*.ko*")
    paths = {
        os.path.basename(path).partition(".ko")[0].replace("-", "_"): path
        for path in glob.glob(pattern, recursive=True)
    }
    ordered: dict[str, bytes] = {}

    def add(name: str) -> None:
        if name in ordered:
            return
        with open(paths[name], "rb") as f:
            data = f.read()
        data = lzma.decompress(data) if paths[name].endswith(".xz") else data
        depends = re.search(rb"\0depends=([^\0]*)\0", data)
        for dependency in depends.group(1).decode().split(",") if depends else ():
            if dependency:
                add(dependency)
        ordered[name] = data

    for name in names:
        add(name)
    return list(ordered.items())


def busybox_initramfs(busybox: bytes, init: str, files: dict[str, tuple[bytes, int]] | None = None) -> bytes:
    """/bin/busybox with /bin/sh, /dev/console and /dev/null, `init` as /init, and `files`
    ({path: (contents, mode)})."""
    image = Newc()
    for directory in ("bin", "sbin", "dev", "proc", "sys", "tmp"):
        image.directory(directory)
    image.device("dev/console", 5, 1)
    image.device("dev/null", 1, 3, 0o666)
    image.file("bin/busybox", busybox, 0o755)
    image.symlink("bin/sh", "busybox")
    image.file("init", init.encode(), 0o755)
    for path, (body, mode) in (files or {}).items():
        image.file(path, body, mode)
    return image.finish()


#: Kernel modules for virtio-blk, virtio-net and ext2/ext4 (ext4 takes the crc32c hash through
#: the crypto API, which is no module dependency).
DISK_AND_NET = ["virtio_mmio", "virtio_blk", "virtio_net", "crc32c_generic", "ext4"]
#: /init's lines that load the modules `module_files` put in, in order.
LOAD_MODULES = """for module in $(/bin/busybox cat /lib/modules/order); do
    /bin/busybox insmod /lib/modules/$module.ko || echo "dbt-init: insmod $module failed"
done
"""
#: udhcpc's event script: configure the address and route it was given.
DHCP_EVENT = """#!/bin/sh
[ "$1" = deconfig ] && /bin/busybox ip link set "$interface" up
if [ "$1" = bound ]; then
    /bin/busybox ip addr add "$ip/$mask" dev "$interface"
    [ -n "$router" ] && /bin/busybox ip route add default via "${router%% *}"
fi
exit 0
"""


def module_files(root: str, names: list[str]) -> dict[str, tuple[bytes, int]]:
    """The initramfs files for `names` (see kernel_modules): /lib/modules/NAME.ko, the load
    order in /lib/modules/order, and udhcpc's event script where Debian's busybox looks for it."""
    modules = kernel_modules(root, names)
    files = {f"lib/modules/{name}.ko": (data, 0o644) for name, data in modules}
    files["lib/modules/order"] = ("\n".join(name for name, _ in modules).encode() + b"\n", 0o644)
    files["etc/udhcpc/default.script"] = (DHCP_EVENT.encode(), 0o755)
    return files


INIT = (
    """#!/bin/sh
export PATH=/bin
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mkdir -p /mnt
[ -e /lib/modules/order ] && mount -t devtmpfs devtmpfs /dev
"""
    + LOAD_MODULES
    + """echo "dbt-init: hello from init"
uname -r
exec sh
"""
)

if __name__ == "__main__":
    import sys

    if len(sys.argv) not in (3, 4):
        sys.exit(
            "usage: initramfs.py BUSYBOX OUTPUT [KERNEL_ROOT]  (a busybox initramfs whose /init ends in a\n"
            "shell; with the unpacked kernel package at KERNEL_ROOT, its virtio and ext4 modules are loaded)"
        )
    with open(sys.argv[1], "rb") as source:
        extra = module_files(sys.argv[3], DISK_AND_NET) if len(sys.argv) == 4 else None
        data = busybox_initramfs(source.read(), INIT, extra)
    with open(sys.argv[2], "wb") as output:
        output.write(data)
