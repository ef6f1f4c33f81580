"""Several quarters at once on Postgres instance storage, each run on the multiprocess executor.

This is what a backfill does (one run per quarter, several in flight): it must finish without
SQLite's "database is locked" or any storage error, and every run must be in the run storage.
"""

import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import pytest
from dagster import (
    AssetKey,
    DagsterEventType,
    DagsterInstance,
    DagsterRunStatus,
    RunsFilter,
)

from dx_pipeline.defs.instance import PG_URL_ENV, ensure_instance
from dx_pipeline_tests.scale.toy_job import (
    ASSETS,
    BARRIER_ENV,
    record_path,
    run_partition,
)

PARTITIONS = {"2025-01": "2025-Q1", "2025-04": "2025-Q2"}


@pytest.mark.postgres
@pytest.mark.slow
def test_quarters_run_in_parallel_on_postgres_storage(scale_env, pg_database_url, monkeypatch):
    dx_home, dagster_home = scale_env
    monkeypatch.setenv(PG_URL_ENV, pg_database_url)  # undone after the test
    ensure_instance(dagster_home, "postgres")
    monkeypatch.setenv(BARRIER_ENV, str(len(PARTITIONS)))

    # Create the schema once, as the daemon/webserver would, before runs race to use it.
    with DagsterInstance.get() as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"

    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(len(PARTITIONS), mp_context=spawn) as pool:
        outcomes = dict(zip(PARTITIONS, pool.map(run_partition, PARTITIONS), strict=True))

    assert all(ok for _, ok in outcomes.values()), outcomes

    with DagsterInstance.get() as instance:
        runs = instance.get_runs(RunsFilter(job_name="toy_quarter_job"))
        assert {r.run_id for r in runs} == {run_id for run_id, _ in outcomes.values()}
        assert {r.tags["dagster/partition"] for r in runs} == set(PARTITIONS)
        assert {r.status for r in runs} == {DagsterRunStatus.SUCCESS}
        for run in runs:
            logs = instance.all_logs(run.run_id)
            failures = [e for e in logs if e.dagster_event and e.dagster_event.is_failure]
            assert failures == []
            messages = " ".join(e.message or "" for e in logs).lower()
            assert "database is locked" not in messages
            done = {e.dagster_event.step_key for e in logs
                    if e.dagster_event_type == DagsterEventType.STEP_SUCCESS}
            assert done == set(ASSETS)
        for name in ASSETS:
            materialized = instance.get_materialized_partitions(AssetKey(name))
            assert set(PARTITIONS) <= materialized

    pids = set()
    for label in PARTITIONS.values():
        for name in ASSETS:
            record = json.loads(record_path(dx_home, name, label).read_text())
            assert record["rows"] == ASSETS.index(name) + 1  # upstream ran first
            pids.add(record["pid"])
    assert len(pids) == len(PARTITIONS) * len(ASSETS)  # every step in its own process
