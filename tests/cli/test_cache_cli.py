"""`dbt cache info` and `dbt cache clear` on a cache directory of their own."""

from __future__ import annotations

import subprocess

from dbtrun import dbt_command

from dbt.backends.jit.l2cache import RegionCache


def dbt(*args: str) -> str:
    result = subprocess.run(dbt_command(*args), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_info_and_clear(tmp_path) -> None:
    regions = RegionCache(tmp_path / "regions")
    regions.put("ab" + "0" * 62, b"\x7fELF object one", "dbt_region_a")
    regions.put("cd" + "1" * 62, b"\x7fELF object two", "dbt_region_b")
    regions.put_alias("ef" + "2" * 62, "ab" + "0" * 62)  # (a second name: not a region)
    assert regions.get_alias("ef" + "2" * 62) == "ab" + "0" * 62
    (tmp_path / "interp-0123.o").write_bytes(b"kernel")
    (tmp_path / "jit-ops-0123").mkdir()
    (tmp_path / "jit-ops-0123" / "dbt_sem_add.bc").write_bytes(b"bitcode")

    info = dbt("cache", "info", "--cache-dir", str(tmp_path))
    assert f"cache directory: {tmp_path}" in info
    assert "compiled regions: 2 " in info
    assert "compiled interpreters: 1 " in info
    assert "JIT op libraries: 1 with 1 ops" in info

    assert "removed 2 compiled regions" in dbt("cache", "clear", "--cache-dir", str(tmp_path))
    assert "compiled regions: 0 " in dbt("cache", "info", "--cache-dir", str(tmp_path))
    assert regions.get_alias("ef" + "2" * 62) is None
    assert (tmp_path / "interp-0123.o").exists()

    cleared = dbt("cache", "clear", "--all", "--cache-dir", str(tmp_path))
    assert "removed 1 compiled interpreters and 1 op libraries" in cleared
    assert not (tmp_path / "interp-0123.o").exists() and not (tmp_path / "jit-ops-0123").exists()


def test_a_damaged_alias_names_nothing(tmp_path) -> None:
    regions = RegionCache(tmp_path / "regions")
    alias = "ef" + "2" * 62
    regions.put_alias(alias, "ab" + "0" * 62)
    (tmp_path / "regions" / "ef" / f"{alias}.alias").write_bytes(b"ab00\xff")
    assert regions.get_alias(alias) is None
    assert RegionCache(tmp_path / "regions", enabled=False).get_alias(alias) is None


def test_info_follows_dbt_cache_dir(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("DBT_CACHE_DIR", str(tmp_path))
    assert f"cache directory: {tmp_path}" in dbt("cache", "info")
