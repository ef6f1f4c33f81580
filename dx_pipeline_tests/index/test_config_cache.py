"""Configuration files are parsed once per stat of the file, and again on any change."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from dx_pipeline.index.loader import load_framework
from dx_pipeline.reference import config_cache
from dx_pipeline.reference.catalogue import default_catalogue_path, load_catalogue

PACKAGED = Path(default_catalogue_path()).parent


@pytest.fixture(autouse=True)
def _fresh_cache():
    config_cache.clear()
    yield
    config_cache.clear()


def _rewrite_keeping_mtime(path: Path, old: str, new: str) -> None:
    """Same size, same mtime: only the inode/ctime tell the change (a copy over the file)."""
    st = path.stat()
    text = path.read_text(encoding="utf-8")
    assert old in text and len(old.encode()) == len(new.encode())
    replacement = path.with_name(path.name + ".new")
    replacement.write_text(text.replace(old, new, 1), encoding="utf-8")
    os.replace(replacement, path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size and path.stat().st_mtime_ns == st.st_mtime_ns


def test_catalogue_parsed_once_then_again_after_a_change(tmp_path):
    path = tmp_path / "kpi_catalogue.yaml"
    shutil.copy(default_catalogue_path(), path)
    first = load_catalogue(path)
    assert load_catalogue(path) is first
    assert first["dossiers_received"].name_en == "Dossiers received"
    with pytest.raises(TypeError):
        first.kpis["x"] = first["dossiers_received"]  # type: ignore[index]  # shared: read-only
    _rewrite_keeping_mtime(path, "name_en: Dossiers received", "name_en: Dossiers RECEIVED")
    second = load_catalogue(path)
    assert second is not first
    assert second["dossiers_received"].name_en == "Dossiers RECEIVED"


def test_framework_parsed_once_per_stat_and_known_kpis(tmp_path):
    path = tmp_path / "qd766.yaml"
    shutil.copy(PACKAGED / "frameworks" / "qd766.yaml", path)
    first = load_framework(path)
    assert load_framework(path) is first
    codes = frozenset(load_catalogue().keys())
    assert load_framework(path, codes) is not first  # another key: another validation
    text = path.read_text(encoding="utf-8")
    path.write_text(text + "\n# edited\n", encoding="utf-8")
    assert load_framework(path) is not first


def test_a_failed_load_is_not_cached(tmp_path):
    path = tmp_path / "kpi_catalogue.yaml"
    path.write_text("kpis: [", encoding="utf-8")
    with pytest.raises(ValueError, match="not valid YAML"):
        load_catalogue(path)
    shutil.copy(default_catalogue_path(), path)
    assert "dossiers_received" in load_catalogue(path)
