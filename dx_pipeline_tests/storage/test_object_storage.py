"""The warehouse in an S3 bucket (``DX_WAREHOUSE_URL``), against a real S3 HTTP server.

Every assertion about the bucket's content is made with a separate s3fs client, so a test
cannot pass by reading back a local file the code wrote by mistake.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from dx_pipeline.cli.environment import home_from_environment
from dx_pipeline.storage import (
    DxHome,
    attach_warehouse,
    partition_files,
    read_partition,
    read_table,
    table_glob,
    warehouse_duckdb,
    write_partition,
)
from dx_pipeline.storage.home import is_remote
from dx_pipeline.storage.parquet import (
    parquet_file,
    partition_path,
    write_partition_from_query,
)


def _kpis(agency: str, value: float) -> pd.DataFrame:
    return pd.DataFrame({
        "agency_code": [agency], "kpi_code": ["on_time_rate"], "numerator": [9.0],
        "denominator": [10.0], "value": [value], "target": [0.9], "target_met": [True],
        "source": ["portal"], "flags": [""],
    })


@pytest.fixture
def s3(bucket):
    """An independent client on the test server (not the one the code under test uses)."""
    import s3fs

    return s3fs.S3FileSystem(endpoint_url=os.environ["AWS_ENDPOINT_URL"], use_listings_cache=False,
                             skip_instance_cache=True)


@pytest.fixture
def home(tmp_path, bucket) -> DxHome:
    return DxHome(tmp_path / "home", f"s3://{bucket}/province-01")


@pytest.fixture
def local_temp(tmp_path, monkeypatch) -> Path:
    """TMPDIR of this test, to see which local temporary files an upload leaves behind."""
    folder = tmp_path / "tmpdir"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_the_setting_moves_only_the_warehouse(tmp_path, bucket, monkeypatch, s3):
    monkeypatch.setenv("DX_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DX_WAREHOUSE_URL", f"s3://{bucket}/province-01/")
    home = home_from_environment().ensure()
    assert is_remote(home.warehouse) and home.remote_warehouse
    assert str(home.warehouse) == f"s3://{bucket}/province-01"
    assert str(partition_path(home, "agency_kpis", "2025-Q2")) == (
        f"s3://{bucket}/province-01/agency_kpis/quarter=2025-Q2/data.parquet")
    for local in (home.inbox, home.landing, home.published, home.dagster_home):
        assert isinstance(local, Path) and local.parent == tmp_path / "home"
    assert home.inbox.is_dir() and home.published.is_dir()
    assert not (tmp_path / "home" / "warehouse").exists()
    assert s3.ls(bucket) == []  # ensure() creates nothing in the bucket
    # a benchmark's scratch home keeps its own local warehouse whatever the setting says
    assert DxHome.local(tmp_path / "bench").warehouse == tmp_path / "bench" / "warehouse"

    # unset: exactly the local layout as before; a local folder or file:// stays a plain Path
    monkeypatch.delenv("DX_WAREHOUSE_URL")
    assert home_from_environment().warehouse == tmp_path / "home" / "warehouse"
    assert type(home_from_environment().warehouse) is type(tmp_path)
    nfs = tmp_path / "nfs" / "warehouse"
    for url in (str(nfs), f"file://{nfs}"):
        local = DxHome(tmp_path / "home", url)
        assert local.warehouse == nfs and not local.remote_warehouse


@pytest.mark.skipif(importlib.util.find_spec("gcsfs") is not None, reason="gcsfs is installed")
def test_a_missing_driver_is_named_with_the_setting(tmp_path):
    with pytest.raises(ImportError, match=r"warehouse gs://b/p needs the fsspec driver for gs://"):
        _ = DxHome(tmp_path, "gs://b/p").warehouse


def test_partitions_round_trip_through_the_bucket(home, s3, tmp_path, local_temp):
    write_partition(home, "agency_kpis", "2025-Q1", _kpis("A", 0.9))
    path = write_partition(home, "agency_kpis", "2025-Q2", _kpis("B", 0.8))
    key = f"{home.warehouse.path}/agency_kpis/quarter=2025-Q2/data.parquet"
    assert str(path) == f"s3://{key}"
    assert s3.exists(key)
    assert sorted(s3.find(home.warehouse.path)) == [
        f"{home.warehouse.path}/agency_kpis/quarter=2025-Q1/data.parquet", key,
    ]
    assert list(local_temp.iterdir()) == [], "the local temporary file is removed after the upload"
    assert not home.root.exists(), "nothing was written under the local DX_HOME"

    # the object is byte for byte what the local warehouse holds for the same data
    local = DxHome(tmp_path / "local")
    assert s3.cat_file(key) == write_partition(local, "agency_kpis", "2025-Q2", _kpis("B", 0.8)).read_bytes()

    assert read_partition(home, "agency_kpis", "2025-Q2")["agency_code"].tolist() == ["B"]
    assert read_partition(home, "agency_kpis", "2025-Q2").equals(
        read_partition(local, "agency_kpis", "2025-Q2")
    )
    both = read_table(home, "agency_kpis")
    assert both["quarter"].tolist() == ["2025-Q1", "2025-Q2"]
    assert both["value"].tolist() == [0.9, 0.8]
    assert [str(p).split("/")[-2] for p in partition_files(home, "agency_kpis")] == [
        "quarter=2025-Q1",
        "quarter=2025-Q2",
    ]
    assert parquet_file(path).metadata.num_rows == 1
    with pytest.raises(FileNotFoundError, match="agency_kpis has no partition for 2025-Q3"):
        read_partition(home, "agency_kpis", "2025-Q3")

    # a partition written by someone else (another machine) is seen at once: no stale listing
    s3.pipe_file(f"{home.warehouse.path}/agency_kpis/quarter=2025-Q3/data.parquet", s3.cat_file(key))
    assert read_table(home, "agency_kpis")["quarter"].tolist() == ["2025-Q1", "2025-Q2", "2025-Q3"]


def test_duckdb_reads_the_buckets_hive_table_and_copy_uploads(home, s3):
    write_partition(home, "agency_kpis", "2025-Q1", _kpis("A", 0.9))
    write_partition(home, "agency_kpis", "2025-Q2", _kpis("B", 0.8))
    con = warehouse_duckdb(home)
    try:
        assert attach_warehouse(con, home) is con  # a second attach is a no-op, not an error
        rows = con.execute(
            f"SELECT quarter, agency_code, value FROM read_parquet('{table_glob(home, 'agency_kpis')}', "
            "hive_partitioning = 1) ORDER BY quarter"
        ).fetchall()
        assert rows == [("2025-Q1", "A", 0.9), ("2025-Q2", "B", 0.8)]

        # COPY ... TO writes a local file, which is uploaded in one put
        target = write_partition_from_query(
            con,
            f"SELECT agency_code, value * 100 AS pct FROM read_parquet('{table_glob(home, 'agency_kpis')}')",
            home,
            "kpi_pct",
            "2025-Q2",
        )
        assert s3.exists(target.path)
        assert read_partition(home, "kpi_pct", "2025-Q2").sort_values("agency_code")["pct"].tolist() == [
            90.0,
            80.0,
        ]
    finally:
        con.close()


def _blobs(mib: int, marker: bytes) -> pa.Table:
    """An incompressible table of ``mib`` MiB, so its Parquet file is as large."""
    return pa.table(
        {"blob": pa.array([marker + os.urandom((1 << 20) - len(marker)) for _ in range(mib)], pa.binary())}
    )


@pytest.mark.parametrize("fail_on", ["put_object", "upload_part"])
def test_a_failed_upload_leaves_the_previous_object(home, s3, local_temp, monkeypatch, fail_on):
    """The connection breaks during a single PUT, or after the first part of a multipart upload
    reached the server: the object is still the previous one, the multipart upload is aborted
    and no local temporary file is left."""
    import s3fs.core

    if fail_on == "upload_part":  # parts of 5 MiB (the S3 minimum), so 12 MiB is a multipart upload
        monkeypatch.setattr(s3fs.core, "calculate_chunksize", lambda size, chunksize=None: 5 * 2**20)
    old = _blobs(12 if fail_on == "upload_part" else 1, b"old")
    target = write_partition(home, "blobs", "2025-Q2", old)
    before = s3.cat_file(target.path)

    calls: list[str] = []
    real_call = s3fs.core.S3FileSystem._call_s3

    async def flaky(self, method, *args, **kwargs):
        calls.append(method)
        if method == fail_on and calls.count(method) == (2 if method == "upload_part" else 1):
            raise ConnectionResetError("connection reset by peer (test)")
        return await real_call(self, method, *args, **kwargs)

    monkeypatch.setattr(s3fs.core.S3FileSystem, "_call_s3", flaky)
    with pytest.raises(ConnectionResetError):
        write_partition(home, "blobs", "2025-Q2", _blobs(12 if fail_on == "upload_part" else 1, b"new"))
    monkeypatch.setattr(s3fs.core.S3FileSystem, "_call_s3", real_call)

    if fail_on == "upload_part":
        assert calls.count("upload_part") >= 2 and "abort_multipart_upload" in calls
        assert s3.call_s3("list_multipart_uploads", Bucket=target.path.split("/")[0]).get("Uploads", []) == []
    assert s3.cat_file(target.path) == before
    assert (
        read_partition(home, "blobs", "2025-Q2")["blob"].str.slice(0, 3).tolist() == [b"old"] * old.num_rows
    )
    assert list(local_temp.iterdir()) == []


def test_an_exception_mid_write_uploads_nothing(home, s3, local_temp):
    target = write_partition(home, "agency_kpis", "2025-Q2", _kpis("A", 0.9))
    before = s3.cat_file(target.path)
    from dx_pipeline.storage.atomic import atomic_path

    with pytest.raises(RuntimeError, match="crash mid-write"):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half a parquet file")
            raise RuntimeError("crash mid-write")
    assert s3.cat_file(target.path) == before
    assert list(local_temp.iterdir()) == []


def test_quality_results_and_bi_database_with_the_warehouse_in_the_bucket(home, s3):
    """dq_results goes to the bucket (its lock and reports stay local); the local BI file's
    views read the bucket's tables."""
    from dx_pipeline.publish.exports import build_bi_database
    from dx_pipeline.quality.results import lock_path, read_dq_results, write_dq_results
    from dx_pipeline.quality.runner import CheckOutcome

    outcome = CheckOutcome("agency_kpis", "value_in_range", "ERROR", True, "0 failing", "0..1", 0)
    path = write_dq_results(home, "2025-Q2", [outcome], run_id="r1", report=False)
    assert s3.exists(path.path)
    assert lock_path(home).is_file() and lock_path(home).is_relative_to(home.root)
    assert read_dq_results(home, "2025-Q2")["check"].tolist() == ["value_in_range"]

    write_partition(home, "agency_kpis", "2025-Q2", _kpis("B", 0.8))
    bi = build_bi_database(home)
    assert bi.is_relative_to(home.root) and bi.is_file()
    con = warehouse_duckdb(home, str(bi))
    try:
        assert con.execute("SELECT quarter, agency_code FROM agency_kpis").fetchall() == [("2025-Q2", "B")]
        assert con.execute('SELECT "check" FROM dq_results').fetchall() == [("value_in_range",)]
    finally:
        con.close()
