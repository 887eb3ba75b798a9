"""ISO 9660 images: `dbt iso ls` and `dbt iso extract` on images xorriso builds from a tree of the
project's files (Rock Ridge + Joliet, Joliet alone, plain ISO 9660), checked against that tree;
malformed images give one-line errors; `dbt system --cdrom` attaches an image read-only as a
virtio-blk disk that U-Boot reads as it reads the same image under qemu-system-riscv64.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from debianfetch import need
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_system_boot import OPENSBI, QEMU_SYSTEM, TIERS, UBOOT, _converse

from dbt.errors import Iso9660Error
from dbt.runtime.system.iso9660 import IsoImage

XORRISO = shutil.which("xorriso")
GUESTS = Path(__file__).resolve().parents[1] / "guests"
#: xorriso's options for each naming the images carry.
NAMINGS = {
    "rockridge": ("-rockridge", "on", "-joliet", "on"),
    "joliet": ("-rockridge", "off", "-joliet", "on"),
    "plain": ("-rockridge", "off", "-joliet", "off"),
}


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    """The files the images hold: guest sources, a nested directory, mixed-case names."""
    root = tmp_path_factory.mktemp("isotree")
    (root / "boot" / "Deep").mkdir(parents=True)
    shutil.copy(GUESTS / "hello.c", root / "boot" / "vmlinuz")
    shutil.copy(GUESTS / "threads.c", root / "boot" / "Deep" / "initrd.img")
    shutil.copy(GUESTS / "futex.c", root / "README.txt")
    (root / "noext").write_bytes(bytes(range(256)) * 40)
    return root


def _make_iso(tree: Path, naming: str, out: Path, symlink: bool = False) -> Path:
    need(XORRISO, "xorriso")
    if symlink:
        (tree / "link").symlink_to("boot/vmlinuz")
    try:
        subprocess.run([XORRISO, *NAMINGS[naming], "-outdev", str(out), "-map", str(tree), "/"],
                       check=True, capture_output=True, timeout=60)  # fmt: skip
    finally:
        if symlink:
            (tree / "link").unlink()
    return out


@pytest.fixture(scope="module")
def images(tree, tmp_path_factory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("iso")
    return {naming: _make_iso(tree, naming, directory / f"{naming}.iso") for naming in NAMINGS}


def _dbt(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dbt", *args], capture_output=True, timeout=120,
                          stdin=subprocess.DEVNULL)  # fmt: skip


def _expected_names(tree: Path, directory: str, naming: str) -> list[str]:
    names = []
    for entry in sorted((tree / directory.strip("/")).iterdir(), key=lambda p: p.name):
        name = entry.name.upper() if naming == "plain" else entry.name
        names.append(name + ("/" if entry.is_dir() else ""))
    return sorted(names, key=lambda n: n.rstrip("/"))


@pytest.mark.parametrize("naming", sorted(NAMINGS))
def test_ls_shows_the_tree(images, tree, naming):
    for directory in ("/", "/boot", "/boot/Deep"):
        spelled = directory.upper() if naming == "plain" else directory
        result = _dbt("iso", "ls", str(images[naming]), spelled)
        assert result.returncode == 0, result.stderr
        assert result.stdout.decode().splitlines() == _expected_names(tree, directory, naming)


@pytest.mark.parametrize("naming", sorted(NAMINGS))
def test_extract_gives_the_files_bytes(images, tree, naming, tmp_path):
    out = tmp_path / "initrd"
    # plain ISO 9660 names match whatever their case
    result = _dbt("iso", "extract", str(images[naming]), "/boot/Deep/initrd.img", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert out.read_bytes() == (tree / "boot" / "Deep" / "initrd.img").read_bytes()
    result = _dbt("iso", "extract", str(images[naming]), "/noext", "-o", "-")
    assert result.stdout == (tree / "noext").read_bytes()


def test_extract_defaults_to_the_files_name(images, tree, tmp_path):
    result = subprocess.run([sys.executable, "-m", "dbt", "iso", "extract", str(images["rockridge"]),
                             "/boot/vmlinuz"], cwd=tmp_path, capture_output=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "vmlinuz").read_bytes() == (tree / "boot" / "vmlinuz").read_bytes()


def test_long_listing_has_sizes_and_symlinks(tree, tmp_path):
    image = _make_iso(tree, "rockridge", tmp_path / "links.iso", symlink=True)
    result = _dbt("iso", "ls", "-l", str(image))
    lines = result.stdout.decode().splitlines()
    assert f"{(tree / 'README.txt').stat().st_size:>12}  README.txt" in lines
    assert any(line.endswith("link -> boot/vmlinuz") for line in lines)
    result = _dbt("iso", "extract", str(image), "/link", "-o", str(tmp_path / "x"))
    assert result.stderr.decode() == f"dbt: error: {image}: /link: a symbolic link to boot/vmlinuz\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("ls", "{iso}", "/missing"), "{iso}: /missing: no such file or directory in the image"),
        (("ls", "{iso}", "/noext/x"), "{iso}: /noext/x: not a directory"),
        (("extract", "{iso}", "/boot"), "{iso}: /boot: is a directory"),
        (("ls", "{missing}"), "cannot open the ISO image {missing}: No such file or directory"),
        (
            ("ls", "{not_iso}"),
            "{not_iso}: not a valid ISO 9660 image (Failed to read entire volume descriptor)",
        ),
        (("ls", "{truncated}"), "{truncated}: the image is truncated (100000 of "),
    ],
)
def test_errors_are_one_line(images, tmp_path, args, message):
    iso = images["rockridge"]
    truncated = tmp_path / "truncated.iso"
    truncated.write_bytes(iso.read_bytes()[:100000])
    names = {
        "iso": iso,
        "missing": tmp_path / "none.iso",
        "not_iso": GUESTS / "hello.c",
        "truncated": truncated,
    }
    result = _dbt("iso", *(arg.format(**names) for arg in args))
    assert result.returncode == 1
    expected = f"dbt: error: {message.format(**names)}"
    if expected.endswith(" of "):  # the volume's size, from its descriptor: xorriso pads the file
        assert result.stderr.decode().startswith(expected) and result.stderr.decode().endswith(" bytes)\n")
    else:
        assert result.stderr.decode() == expected + "\n"


def _read_everything(image: IsoImage, path: str = "/", depth: int = 0) -> None:
    for entry in image.list(path):
        child = f"{path.rstrip('/')}/{entry.name}"
        if entry.is_dir and depth < 4:
            _read_everything(image, child, depth + 1)
        elif not entry.is_dir and not entry.link:
            image.extract(child, io.BytesIO())


@pytest.mark.parametrize("naming", sorted(NAMINGS))
def test_corrupt_images_raise_iso9660_error_only(images, naming, tmp_path_factory):
    """Bytes changed anywhere in the descriptors and directories: the image reads, or
    Iso9660Error says why; no other exception escapes."""
    original = images[naming].read_bytes()
    directory = tmp_path_factory.mktemp("corrupt")
    # the volume descriptors (sector 16 on) and the path tables and directories after them
    limit = min(len(original), 60 * 2048)

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        st.lists(st.tuples(st.integers(16 * 2048, limit - 1), st.integers(0, 255)), min_size=1, max_size=8)
    )
    def check(changes):
        data = bytearray(original)
        for offset, value in changes:
            data[offset] = value
        path = directory / "corrupt.iso"
        path.write_bytes(bytes(data))
        try:
            with IsoImage(str(path)) as image:
                _read_everything(image)
        except Iso9660Error as exc:
            assert "\n" not in str(exc)

    check()


def test_cdrom_is_a_read_only_disk_for_the_guest(images):
    """U-Boot sees the image as QEMU shows it with -drive ...,readonly=on -device
    virtio-blk-device (QEMU's own -cdrom wants an IDE or SCSI controller, which virt lacks),
    reads the primary volume descriptor, and cannot write."""
    need(QEMU_SYSTEM, "qemu-system-riscv64")
    need(UBOOT, "Debian's u-boot-qemu package")
    need(OPENSBI, "Debian's opensbi package")
    iso = str(images["rockridge"])
    before = images["rockridge"].read_bytes()
    lines = [b"virtio scan", b"virtio info", b"virtio read 0x84000000 0x40 1", b"md.b 0x84000000 0x10",
             b"virtio write 0x84000000 0 1", b"poweroff"]  # fmt: skip
    qemu = [QEMU_SYSTEM, "-M", "virt", "-nographic", "-kernel", UBOOT, "-drive",
            f"file={iso},format=raw,if=none,id=cd,readonly=on", "-device",
            "virtio-blk-device,drive=cd"]  # fmt: skip
    dbt = [sys.executable, "-m", "dbt", "system", "--kernel", UBOOT, "--cdrom", iso, *TIERS["interp"]]
    qemu_status, reference = _converse(qemu, lines)
    status, answers = _converse(dbt, lines)
    assert qemu_status == status == 0
    assert b"CD001" in reference[3]
    assert answers == reference
    assert images["rockridge"].read_bytes() == before


def test_cdrom_that_is_not_an_iso(tmp_path):
    path = tmp_path / "disk.img"
    path.write_bytes(bytes(64 * 1024))
    result = _dbt("system", "--bios", "none", "--kernel", os.devnull, "--cdrom", str(path))
    assert result.returncode == 1
    assert result.stderr.decode().startswith(f"dbt: error: {path}: not a valid ISO 9660 image (")
    assert result.stderr.count(b"\n") == 1
