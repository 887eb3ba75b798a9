"""Extended attributes (runtime/syscalls/xattr.py): user.* attributes set and read through the
path, l* (symlink itself) and f* (descriptor) forms, compared with os.getxattr/os.listxattr."""

from __future__ import annotations

import errno
import os

import pytest
from syscall_harness import FdTracker

SETXATTR, LSETXATTR, FSETXATTR, GETXATTR, LGETXATTR, FGETXATTR = 5, 6, 7, 8, 9, 10
LISTXATTR, LLISTXATTR, FLISTXATTR, REMOVEXATTR, LREMOVEXATTR, FREMOVEXATTR = 11, 12, 13, 14, 15, 16
XATTR_CREATE, XATTR_REPLACE = 1, 2
ENODATA = 61


@pytest.fixture
def target(tmp_path):
    path = tmp_path / "file"
    path.write_text("x")
    try:
        os.setxattr(path, "user.probe", b"1")
        os.removexattr(path, "user.probe")
    except OSError as exc:
        if exc.errno in (errno.EOPNOTSUPP, errno.ENOTSUP):
            pytest.skip("the host file system refuses user extended attributes")
        raise
    return path


def test_set_get_list_remove_by_path(guest, target):
    path, name = guest.cstr(0, target), guest.cstr(512, "user.colour")
    value = guest.put(1024, b"blue-green")
    assert guest.call(SETXATTR, path, name, value, 10, 0) == 0
    assert os.getxattr(target, "user.colour") == b"blue-green"
    assert guest.call(GETXATTR, path, name, 0, 0) == 10  # size 0: just the length
    assert guest.call(GETXATTR, path, name, guest.addr(2048), 64) == 10
    assert guest.get(2048, 10) == b"blue-green"
    assert guest.call(GETXATTR, path, name, guest.addr(2048), 4) == -errno.ERANGE
    os.setxattr(target, "user.other", b"")
    expected = b"".join(os.fsencode(n) + b"\0" for n in os.listxattr(target))
    assert guest.call(LISTXATTR, path, 0, 0) == len(expected)
    assert guest.call(LISTXATTR, path, guest.addr(3072), 256) == len(expected)
    assert sorted(guest.get(3072, len(expected)).split(b"\0")[:-1]) == [b"user.colour", b"user.other"]
    assert guest.call(LISTXATTR, path, guest.addr(3072), 5) == -errno.ERANGE
    assert guest.call(REMOVEXATTR, path, name) == 0
    assert os.listxattr(target) == ["user.other"]
    assert guest.call(GETXATTR, path, name, guest.addr(2048), 64) == -ENODATA
    assert guest.call(REMOVEXATTR, path, name) == -ENODATA


def test_create_and_replace_flags(guest, target):
    path, name = guest.cstr(0, target), guest.cstr(512, "user.flag")
    assert guest.call(SETXATTR, path, name, guest.put(1024, b"a"), 1, XATTR_REPLACE) == -ENODATA
    assert guest.call(SETXATTR, path, name, guest.put(1024, b"a"), 1, XATTR_CREATE) == 0
    assert guest.call(SETXATTR, path, name, guest.put(1024, b"b"), 1, XATTR_CREATE) == -errno.EEXIST
    assert guest.call(SETXATTR, path, name, guest.put(1024, b"c"), 1, XATTR_REPLACE) == 0
    assert os.getxattr(target, "user.flag") == b"c"
    assert guest.call(SETXATTR, path, name, 0x10, 1, 0) == -errno.EFAULT
    assert (
        guest.call(SETXATTR, path, guest.cstr(512, "bogus.ns"), guest.put(1024, b"c"), 1, 0)
        == -errno.EOPNOTSUPP
    )
    missing = guest.cstr(0, target.parent / "missing")
    assert guest.call(SETXATTR, missing, guest.cstr(512, "user.x"), guest.addr(1024), 1, 0) == -errno.ENOENT
    assert guest.call(GETXATTR, missing, guest.cstr(512, "user.x"), 0, 0) == -errno.ENOENT
    assert guest.call(LISTXATTR, missing, 0, 0) == -errno.ENOENT


def test_symlink_forms_act_on_the_link_itself(guest, target):
    link = target.parent / "link"
    os.symlink(target.name, link)
    path, name = guest.cstr(0, link), guest.cstr(512, "user.via")
    # the plain form follows the link to the file
    assert guest.call(SETXATTR, path, name, guest.put(1024, b"file"), 4, 0) == 0
    assert os.getxattr(target, "user.via") == b"file"
    assert guest.call(GETXATTR, path, name, guest.addr(2048), 64) == 4
    # the l* forms do not: user.* attributes are not allowed on symlinks
    with pytest.raises(OSError) as host:
        os.setxattr(link, "user.via", b"link", follow_symlinks=False)
    assert guest.call(LSETXATTR, path, name, guest.put(1024, b"link"), 4, 0) == -host.value.errno
    assert guest.call(LGETXATTR, path, name, guest.addr(2048), 64) == -ENODATA
    assert guest.call(LLISTXATTR, path, guest.addr(2048), 64) == len(
        b"".join(os.fsencode(n) + b"\0" for n in os.listxattr(link, follow_symlinks=False))
    )
    with pytest.raises(OSError) as host:
        os.removexattr(link, "user.via", follow_symlinks=False)
    assert guest.call(LREMOVEXATTR, path, name) == -host.value.errno
    assert guest.call(REMOVEXATTR, path, name) == 0
    assert os.listxattr(target) == []


def test_descriptor_forms(guest, target):
    fds = FdTracker()
    try:
        fd = fds.add(os.open(target, os.O_RDONLY))
        name = guest.cstr(512, "user.fd")
        assert guest.call(FSETXATTR, fd, name, guest.put(1024, b"by-fd"), 5, 0) == 0
        assert os.getxattr(target, "user.fd") == b"by-fd"
        assert guest.call(FGETXATTR, fd, name, guest.addr(2048), 64) == 5
        assert guest.get(2048, 5) == b"by-fd"
        assert guest.call(FGETXATTR, fd, name, 0, 0) == 5
        assert guest.call(FLISTXATTR, fd, guest.addr(3072), 64) == len(b"user.fd\0")
        assert guest.get(3072, 8) == b"user.fd\0"
        assert guest.call(FREMOVEXATTR, fd, name) == 0
        assert os.listxattr(target) == []
        assert guest.call(FLISTXATTR, fd, 0, 0) == 0
        assert guest.call(FGETXATTR, 9999, name, 0, 0) == -errno.EBADF
        assert guest.call(FSETXATTR, 9999, name, guest.addr(1024), 1, 0) == -errno.EBADF
        assert guest.call(FREMOVEXATTR, 9999, name) == -errno.EBADF
        assert guest.call(FGETXATTR, fd, 0x10, 0, 0) == -errno.EFAULT
    finally:
        fds.close_all()


def test_a_name_longer_than_255_bytes_is_erange(guest, target):
    name = "user." + "n" * 300
    with pytest.raises(OSError) as host:
        os.getxattr(target, name)
    assert host.value.errno == errno.ERANGE
    assert guest.call(GETXATTR, guest.cstr(0, target), guest.cstr(512, name), 0, 0) == -errno.ERANGE
