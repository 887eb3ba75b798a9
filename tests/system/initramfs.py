"""A Linux initramfs (the kernel's "newc" cpio format, gzip-compressed) built from the project's
own files and a static busybox, for the Linux boot tests. Deterministic: every entry has mtime
0 and owner 0."""

from __future__ import annotations

import gzip
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


def busybox_initramfs(busybox: bytes, init: str) -> bytes:
    """/bin/busybox with /bin/sh, /dev/console and /dev/null, and `init` as /init."""
    image = Newc()
    for directory in ("bin", "sbin", "dev", "proc", "sys", "tmp"):
        image.directory(directory)
    image.device("dev/console", 5, 1)
    image.device("dev/null", 1, 3, 0o666)
    image.file("bin/busybox", busybox, 0o755)
    image.symlink("bin/sh", "busybox")
    image.file("init", init.encode(), 0o755)
    return image.finish()


INIT = """#!/bin/sh
export PATH=/bin
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
echo "dbt-init: hello from init"
uname -r
exec sh
"""

if __name__ == "__main__":
    import sys

    if len(sys.argv) != 3:
        sys.exit("usage: initramfs.py BUSYBOX OUTPUT  (a busybox initramfs whose /init ends in a shell)")
    with open(sys.argv[1], "rb") as source:
        data = busybox_initramfs(source.read(), INIT)
    with open(sys.argv[2], "wb") as output:
        output.write(data)
