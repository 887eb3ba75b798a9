"""dbt's cache directory and atomic writes into it (backends/diskcache.py)."""

from __future__ import annotations

import os
import types
from pathlib import Path

import pytest

from dbt.backends import diskcache


@pytest.fixture
def env(monkeypatch, tmp_path):
    monkeypatch.delenv("DBT_CACHE_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return monkeypatch


def test_cache_dir_prefers_dbt_cache_dir(env, tmp_path):
    env.setenv("DBT_CACHE_DIR", str(tmp_path / "explicit"))
    env.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert diskcache.cache_dir() == tmp_path / "explicit"


def test_cache_dir_then_xdg_cache_home(env, tmp_path):
    env.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert diskcache.cache_dir() == tmp_path / "xdg" / "dbt"
    env.setenv("DBT_CACHE_DIR", "")  # empty counts as unset
    assert diskcache.cache_dir() == tmp_path / "xdg" / "dbt"


def test_cache_dir_defaults_to_the_home_cache(env, tmp_path):
    assert diskcache.cache_dir() == tmp_path / "home" / ".cache" / "dbt"
    env.setenv("XDG_CACHE_HOME", "")
    assert diskcache.cache_dir() == tmp_path / "home" / ".cache" / "dbt"
    env.setattr(diskcache, "sys", types.SimpleNamespace(platform="darwin"))
    assert diskcache.cache_dir() == tmp_path / "home" / "Library" / "Caches" / "dbt"


def test_write_atomic_creates_parents_and_replaces(tmp_path):
    target = tmp_path / "a" / "b" / "entry.bin"
    diskcache.write_atomic(target, b"first")
    assert target.read_bytes() == b"first"
    inode = target.stat().st_ino
    diskcache.write_atomic(target, b"second, longer")
    assert target.read_bytes() == b"second, longer"
    assert target.stat().st_ino != inode  # a new file renamed into place, not rewritten
    assert os.listdir(target.parent) == ["entry.bin"]  # no temporary files left


def test_a_reader_never_sees_a_partial_entry(tmp_path):
    target = tmp_path / "entry.bin"
    diskcache.write_atomic(target, b"old" * 1000)
    with open(target, "rb") as reader:  # opened before the replacement: keeps the old contents
        diskcache.write_atomic(target, b"new" * 1000)
        assert reader.read() == b"old" * 1000
    assert target.read_bytes() == b"new" * 1000


def test_a_failed_rename_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "entry.bin"
    target.mkdir()  # a directory where the entry should go: the rename fails
    with pytest.raises(IsADirectoryError):
        diskcache.write_atomic(target, b"data")
    assert os.listdir(tmp_path) == ["entry.bin"] and target.is_dir()


def test_a_failed_write_leaves_no_temporary_file_and_keeps_the_old_entry(tmp_path):
    target = tmp_path / "entry.bin"
    diskcache.write_atomic(target, b"good")
    with pytest.raises(TypeError):
        diskcache.write_atomic(target, "not bytes")  # type: ignore[arg-type]
    assert os.listdir(tmp_path) == ["entry.bin"]
    assert target.read_bytes() == b"good"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_an_unwritable_directory_raises_and_creates_nothing(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        with pytest.raises(PermissionError):
            diskcache.write_atomic(locked / "entry.bin", b"data")
        assert os.listdir(locked) == []
    finally:
        locked.chmod(0o755)


def test_write_atomic_accepts_a_path_like(tmp_path):
    diskcache.write_atomic(Path(tmp_path) / "x" / "y", b"")
    assert (tmp_path / "x" / "y").read_bytes() == b""


def test_set_cache_dir_overrides_the_environment(env, tmp_path):
    env.setenv("DBT_CACHE_DIR", str(tmp_path / "explicit"))
    try:
        diskcache.set_cache_dir(tmp_path / "option")
        assert diskcache.cache_dir() == tmp_path / "option"
        diskcache.set_cache_dir(str(tmp_path / "other"))
        assert diskcache.cache_dir() == tmp_path / "other"
    finally:
        diskcache.set_cache_dir(None)
    assert diskcache.cache_dir() == tmp_path / "explicit"
    diskcache.set_cache_dir("")  # empty: no override
    assert diskcache.cache_dir() == tmp_path / "explicit"
