import os

import duckdb
import pandas as pd
import pytest

from dx_pipeline.storage import (
    DxHome,
    read_partition,
    read_table,
    table_glob,
    write_partition,
)
from dx_pipeline.storage.atomic import atomic_path, atomic_write_bytes


def _kpis(agency, value):
    return pd.DataFrame(
        {
            "agency_code": [agency],
            "kpi_code": ["on_time_rate"],
            "numerator": [9.0],
            "denominator": [10.0],
            "value": [value],
            "target": [0.9],
            "target_met": [True],
            "source": ["portal"],
            "flags": [""],
        }
    )


def test_partitions_are_hive_folders_that_duckdb_and_pandas_read(tmp_path):
    home = DxHome(tmp_path)
    write_partition(home, "agency_kpis", "2024-Q1", _kpis("A", 0.9))
    path = write_partition(home, "agency_kpis", "2024-Q2", _kpis("B", 0.8))
    assert path == tmp_path / "warehouse/agency_kpis/quarter=2024-Q2/data.parquet"

    both = read_table(home, "agency_kpis")
    assert list(both["quarter"]) == ["2024-Q1", "2024-Q2"]
    assert read_partition(home, "agency_kpis", "2024-Q2")["agency_code"].tolist() == ["B"]

    rows = duckdb.sql(
        f"select quarter, agency_code from read_parquet('{table_glob(home, 'agency_kpis')}', "
        "hive_partitioning=1) order by quarter"
    ).fetchall()
    assert rows == [("2024-Q1", "A"), ("2024-Q2", "B")]


def test_rewrite_replaces_only_its_quarter_and_is_byte_identical(tmp_path):
    home = DxHome(tmp_path)
    p1 = write_partition(home, "agency_kpis", "2024-Q1", _kpis("A", 0.9))
    first = p1.read_bytes()
    write_partition(home, "agency_kpis", "2024-Q1", _kpis("A", 0.9))
    assert p1.read_bytes() == first


def test_missing_contract_column_is_refused_by_name(tmp_path):
    with pytest.raises(ValueError, match=r"agency_kpis: missing contract columns \['target'"):
        write_partition(DxHome(tmp_path), "agency_kpis", "2024-Q1", _kpis("A", 1).drop(columns="target"))


def test_failed_write_leaves_the_old_file(tmp_path):
    target = tmp_path / "x.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash mid-write")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.txt"]


def test_a_durable_write_reaches_the_disk_and_a_regenerable_one_skips_the_flushes(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    atomic_write_bytes(tmp_path / "kept.bin", b"kept")
    assert len(synced) == 2  # the file, then its folder
    synced.clear()
    atomic_write_bytes(tmp_path / "again.bin", b"generated again at will", durable=False)
    assert synced == []
    assert (tmp_path / "again.bin").read_bytes() == b"generated again at will"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again.bin", "kept.bin"]  # no temp left
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "again.bin", durable=False) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("crash mid-write")
    assert (tmp_path / "again.bin").read_bytes() == b"generated again at will"


def test_contract_columns_drop_run_metadata_but_keep_the_contract():
    from dx_pipeline.reference.schemas import contract_columns

    dq = pd.DataFrame({
        "dataset": ["portal_dossiers"], "check": ["dossier_id_unique"], "severity": ["WARN"],
        "passed": [False], "observed": ["2 of 900"], "expected": ["unique"], "failing_rows": [2],
        "checked_at": [pd.Timestamp("2025-07-16")], "run_id": ["abc"],
    })
    assert list(contract_columns(dq, "dq_results").columns) == [
        "dataset", "check", "severity", "passed", "observed", "expected", "failing_rows"
    ]
    assert contract_columns(None, "dq_results") is None
