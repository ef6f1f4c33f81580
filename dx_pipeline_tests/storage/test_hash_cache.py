"""The stat-keyed SHA-256 cache: a changed file is always read again, a stable one is not."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from dx_pipeline.storage import hash_cache
from dx_pipeline.storage.checksums import sha256_file
from dx_pipeline.storage.home import DxHome
from dx_pipeline.storage.inputs import input_entry


@pytest.fixture
def counted(monkeypatch):
    """Every file counts as large and old enough; the reads are counted."""
    monkeypatch.setattr(hash_cache, "MIN_BYTES", 0)
    monkeypatch.setattr(hash_cache, "RACY_SECONDS", -1.0)
    reads: list[int] = []
    real = hash_cache.sha256_fd

    def compute(fd: int) -> str:
        reads.append(fd)
        return real(fd)

    monkeypatch.setattr(hash_cache.cached_sha256_fd, "__defaults__", (compute,))
    return reads


def _rewrite_same_size_and_mtime(path, data: bytes) -> None:
    st = path.stat()
    assert len(data) == st.st_size
    with open(path, "r+b") as fh:  # in place: same inode
        fh.write(data)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_mtime_ns == st.st_mtime_ns and path.stat().st_ino == st.st_ino


def test_a_stable_file_is_read_once_a_changed_one_again(tmp_path, counted):
    home, data = tmp_path / "home", tmp_path / "export.csv"
    data.write_bytes(b"a;b\n1;2\n" * 1000)
    first = hash_cache.cached_sha256_path(home, data)
    assert first == sha256_file(data) and len(counted) == 1
    assert hash_cache.cached_sha256_path(home, data) == first and len(counted) == 1  # from the cache
    _rewrite_same_size_and_mtime(data, b"a;b\n9;2\n" * 1000)  # only the ctime tells
    second = hash_cache.cached_sha256_path(home, data)
    assert second == hashlib.sha256(b"a;b\n9;2\n" * 1000).hexdigest() != first
    assert len(counted) == 2
    replaced = tmp_path / "other.csv"
    replaced.write_bytes(b"a;b\n1;2\n" * 1000)
    os.replace(replaced, data)  # another inode, the first bytes again
    assert hash_cache.cached_sha256_path(home, data) == first and len(counted) == 3


def test_a_recently_changed_file_is_not_remembered(tmp_path, counted, monkeypatch):
    monkeypatch.setattr(hash_cache, "RACY_SECONDS", 3600.0)
    data = tmp_path / "export.csv"
    data.write_bytes(b"x" * 100)
    for _ in range(2):
        assert hash_cache.cached_sha256_path(tmp_path, data) == sha256_file(data)
    assert len(counted) == 2
    assert not (tmp_path / hash_cache.CACHE_FILE).exists()


def test_a_small_file_is_always_read(tmp_path, counted, monkeypatch):
    monkeypatch.setattr(hash_cache, "MIN_BYTES", 1000)
    data = tmp_path / "small.csv"
    data.write_bytes(b"x" * 999)
    hash_cache.cached_sha256_path(tmp_path, data)
    hash_cache.cached_sha256_path(tmp_path, data)
    assert len(counted) == 2


def test_a_corrupt_or_foreign_cache_is_empty(tmp_path, counted):
    data = tmp_path / "export.csv"
    data.write_bytes(b"x" * 100)
    cache = tmp_path / hash_cache.CACHE_FILE
    cache.parent.mkdir(parents=True)
    cache.write_text("{not json", encoding="utf-8")
    assert hash_cache.cached_sha256_path(tmp_path, data) == sha256_file(data)
    doc = json.loads(cache.read_text(encoding="utf-8"))
    (entry,) = doc["files"].values()
    entry["sha256"] = "0" * 64
    cache.write_text(json.dumps({"schema": "other/1", "files": doc["files"]}), encoding="utf-8")
    assert hash_cache.cached_sha256_path(tmp_path, data) == sha256_file(data)
    assert len(counted) == 2


def test_manifest_input_entries_use_it_and_see_changes(tmp_path, counted):
    home = DxHome.local(tmp_path / "home")
    inbox = home.inbox / "2025-Q2"
    inbox.mkdir(parents=True)
    f = inbox / "BC-CDS_001_2025-Q2.csv"
    f.write_bytes(b"ma;gia_tri\n1;2\n")
    entry = input_entry(home, home.inbox, "2025-Q2/" + f.name)
    assert entry == {"path": f"inbox/2025-Q2/{f.name}", "sha256": sha256_file(f), "bytes": f.stat().st_size}
    assert input_entry(home, home.inbox, "2025-Q2/" + f.name) == entry and len(counted) == 1
    _rewrite_same_size_and_mtime(f, b"ma;gia_tri\n1;3\n")
    assert input_entry(home, home.inbox, "2025-Q2/" + f.name)["sha256"] == sha256_file(f) != entry["sha256"]


def test_the_portal_kpi_key_changes_with_the_dossier_partition(tmp_path, counted):
    from dx_pipeline.kpis.dossier_kpis import DOSSIERS_TABLE
    from dx_pipeline.kpis.portal_cache import portal_kpis_key
    from dx_pipeline.reference.quarters import Quarter
    from dx_pipeline.storage.parquet import partition_path

    home, q = DxHome.local(tmp_path / "home"), Quarter.parse("2025-Q2")
    part = partition_path(home, DOSSIERS_TABLE, q)
    part.parent.mkdir(parents=True)
    part.write_bytes(b"PAR1" + b"\0" * 1000)
    key = portal_kpis_key(home, q)
    assert portal_kpis_key(home, q) == key and len(counted) == 1
    _rewrite_same_size_and_mtime(part, b"PAR1" + b"\1" * 1000)
    assert portal_kpis_key(home, q) != key and len(counted) == 2


def test_a_malformed_entry_is_a_miss_not_a_crash(tmp_path, counted):
    data = tmp_path / "export.csv"
    data.write_bytes(b"x" * 100)
    name = str(data.absolute())
    cache = tmp_path / hash_cache.CACHE_FILE
    cache.parent.mkdir(parents=True)
    for entry in ("0" * 64, ["stat", "sha256"], None, 7):
        cache.write_text(json.dumps({"schema": hash_cache.SCHEMA, "files": {name: entry}}), encoding="utf-8")
        assert hash_cache.cached_sha256_path(tmp_path, data) == sha256_file(data)
    assert len(counted) == 4
