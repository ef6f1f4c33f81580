"""A whole sample quarter through the real Dagster job with the warehouse in an S3 bucket.

The same generated inputs are run twice, once with the local warehouse and once with
``DX_WAREHOUSE_URL=s3://<bucket>/province-01`` against the moto S3 server; what the bucket holds
must be what the local run computed, while the folders that need a local disk (inbox,
published revisions, the BI file, dq reports) stay under DX_HOME.
"""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
from dagster import DagsterInstance

from dx_pipeline.cli.environment import home_from_environment
from dx_pipeline.defs.definitions import build_definitions
from dx_pipeline.publish.bi_database import open_bi_database
from dx_pipeline.publish.verify import verify
from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.sample.generate import generate_sample
from dx_pipeline.storage import DxHome, read_partition
from dx_pipeline_tests.expected_graph import TABLES
from dx_pipeline_tests.storage.conftest import new_bucket, s3_environment

pytestmark = pytest.mark.slow

Q = Quarter.parse("2025-Q1")
SAME_BYTES = ("agencies", "portal_dossiers", "procedures", "agency_kpis", "index_scores", "rank_uncertainty")
"""Tables computed only from the inputs: the bucket's object is the local file, byte for byte."""


@pytest.fixture(scope="module")
def runs(tmp_path_factory, s3_endpoint):
    base = tmp_path_factory.mktemp("quarter_on_s3")
    with pytest.MonkeyPatch.context() as mp:
        s3_environment(mp, s3_endpoint)
        mp.delenv("DX_REGISTRY", raising=False)
        mp.delenv("DX_REPORTING_DB_URL", raising=False)
        generate_sample(DxHome(base / "local").ensure(), seed=7, scale=0.01, quarters=[Q])
        # the very same input files for both runs (ensure() made an empty local warehouse folder)
        shutil.copytree(base / "local", base / "s3", ignore=shutil.ignore_patterns("warehouse"))
        bucket = new_bucket(s3_endpoint)
        out = {}
        for name, url in (("local", None), ("s3", f"s3://{bucket}/province-01")):
            mp.setenv("DX_HOME", str(base / name))
            if url:
                mp.setenv("DX_WAREHOUSE_URL", url)
            result = build_definitions().resolve_job_def("quarter_job").execute_in_process(
                instance=DagsterInstance.ephemeral(), partition_key=Q.partition_key,
                raise_on_error=False, tags={"dx/trigger": "test"},
            )
            out[name] = (home_from_environment(), result)
        yield out, bucket


@pytest.fixture
def s3(runs, s3_endpoint):
    import s3fs

    return s3fs.S3FileSystem(endpoint_url=s3_endpoint, key="dx-test", secret="dx-test-secret",
                             use_listings_cache=False, skip_instance_cache=True)


def test_the_quarter_runs_with_every_table_in_the_bucket(runs, s3):
    out, bucket = runs
    for name, (_, result) in out.items():
        failed = [e.step_key for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
        assert result.success, f"{name}: failed steps {failed}"
    home, result = out["s3"]
    assert home.remote_warehouse
    stored = {
        k.split("/")[-3]
        for k in s3.find(f"{bucket}/province-01")
        if k.endswith("/quarter=2025-Q1/data.parquet")
    }
    assert stored == set(TABLES)
    assert not (home.root / "warehouse").exists(), "no table was written to the local disk"
    paths = {
        e.asset_key.to_user_string(): e.event_specific_data.materialization.metadata["path"].value
        for e in result.all_events if e.event_type_value == "ASSET_MATERIALIZATION"
        and "path" in e.event_specific_data.materialization.metadata
    }
    assert paths["ranking_snapshot"] == f"s3://{bucket}/province-01/ranking_snapshot/quarter=2025-Q1/data.parquet"
    assert all(p.startswith("s3://") for p in paths.values()), paths


def test_the_bucket_holds_what_the_local_warehouse_computed(runs, s3):
    out, bucket = runs
    local, s3_home = out["local"][0], out["s3"][0]
    for table in SAME_BYTES:
        key = f"{bucket}/province-01/{table}/quarter=2025-Q1/data.parquet"
        local_file = local.warehouse / table / "quarter=2025-Q1" / "data.parquet"
        assert s3.cat_file(key) == local_file.read_bytes(), table

    kpis = read_partition(s3_home, "agency_kpis", Q)
    assert len(kpis) > 100
    pd.testing.assert_frame_equal(kpis, read_partition(local, "agency_kpis", Q))

    ranking_s3 = read_partition(s3_home, "ranking_snapshot", Q)
    ranking_local = read_partition(local, "ranking_snapshot", Q)
    keys = ["framework_id", "agency_code"]
    ranked = ranking_s3.dropna(subset=["rank"])
    assert ranked["framework_id"].nunique() >= 3 and len(ranked) > 50
    pd.testing.assert_frame_equal(
        ranking_s3.sort_values(keys).reset_index(drop=True)[
            keys + ["rank", "total_points", "band", "peer_group"]
        ],
        ranking_local.sort_values(keys).reset_index(drop=True)[
            keys + ["rank", "total_points", "band", "peer_group"]
        ],
    )

    # the quality checks read the bucket's partitions and reached the same verdicts
    cols = ["dataset", "check", "severity", "passed", "observed", "failing_rows"]
    dq_s3 = (
        read_partition(s3_home, "dq_results", Q)[cols]
        .sort_values(["dataset", "check"])
        .reset_index(drop=True)
    )
    dq_local = (
        read_partition(local, "dq_results", Q)[cols].sort_values(["dataset", "check"]).reset_index(drop=True)
    )
    assert len(dq_s3) > 20 and set(dq_s3["dataset"]) >= {"portal_dossiers", "agency_kpis"}
    pd.testing.assert_frame_equal(dq_s3, dq_local)


def test_publications_and_the_bi_file_stay_local_and_read_the_bucket(runs):
    out, _ = runs
    home = out["s3"][0]
    assert (home.published / "ranking" / "quarter=2025-Q1" / "rev=1" / "manifest.json").is_file()
    assert (home.root / "dq_reports" / "quarter=2025-Q1" / "index.html").is_file()
    report = verify(home)
    assert report.ok, report.summary()

    bi = home.root / "bi" / "dx_pipeline.duckdb"
    con = open_bi_database(bi, home)  # the bucket's tables by s3:// paths, published/ relative
    try:
        n, quarters = con.execute("SELECT count(*), list(DISTINCT quarter) FROM ranking_snapshot").fetchall()[
            0
        ]
        assert (n, quarters) == (len(read_partition(home, "ranking_snapshot", Q)), ["2025-Q1"])
        view_sql = con.execute("SELECT sql FROM duckdb_views() WHERE view_name = 'agency_kpis'").fetchall()[
            0
        ][0]
        assert "s3://" in view_sql
        published = con.execute("SELECT count(*) FROM published_ranking_latest").fetchall()[0][0]
        assert published == n
    finally:
        con.close()
