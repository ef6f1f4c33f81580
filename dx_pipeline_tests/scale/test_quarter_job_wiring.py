"""The real code location: its quarter job uses our executor, limits and CLI backfill paths."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from dx_pipeline.defs.instance import PG_URL_ENV, ensure_instance
from dx_pipeline.reference.quarters import quarter_range
from dx_pipeline_tests.scale.conftest import REPO_ROOT

BIN = Path(sys.executable).parent


def test_quarter_job_runs_on_dx_multiprocess_with_high_memory_steps_tagged(monkeypatch):
    monkeypatch.delenv("DX_EXECUTOR", raising=False)
    from dx_pipeline.definitions import defs

    job = defs.resolve_job_def("quarter_job")
    assert job.executor_def.name == "dx_multiprocess"
    assert job.partitions_def is not None
    tagged = {n.name for n in job.graph.node_defs if n.tags.get("dx/memory") == "high"}
    assert tagged, "no step is tagged dx/memory=high, the executor limit would never apply"


def _cli(args: list[str], timeout: float = 180) -> subprocess.CompletedProcess:
    done = subprocess.run(
        args, cwd=REPO_ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    return done


@pytest.mark.postgres
@pytest.mark.slow
def test_dagster_job_backfill_queues_every_quarter_at_once_ignoring_their_order(
    scale_env, pg_database_url, monkeypatch
):
    """Why docs/scale_out.md does not recommend ``dagster job backfill`` for this graph: it
    queues one whole-job run per quarter at once and calls itself done. Nothing makes 2024-Q2
    wait for 2024-Q1's KPIs or ranking; the queue starts the runs as slots free up."""
    _, dagster_home = scale_env
    monkeypatch.setenv(PG_URL_ENV, pg_database_url)
    ensure_instance(dagster_home, "postgres")
    quarters = quarter_range("2024-Q1", "2024-Q3")  # three are enough to show it; each costs a run
    first, last = quarters[0].partition_key, quarters[-1].partition_key
    done = _cli([str(BIN / "dagster"), "job", "backfill", "-w", "workspace.yaml", "-j",
                 "quarter_job", "--from", first, "--to", last, "--noprompt"])
    assert "Launched backfill" in done.stdout

    from dagster import DagsterInstance, DagsterRunStatus

    with DagsterInstance.get() as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        runs = instance.get_runs()
        (backfill,) = instance.get_backfills()
    assert sorted(r.tags["dagster/partition"] for r in runs) == [
        q.partition_key for q in quarters
    ]
    assert {r.status for r in runs} == {DagsterRunStatus.QUEUED}  # the daemon launches them
    assert {r.job_name for r in runs} == {"quarter_job"}  # each the whole quarter
    assert len({r.tags["dagster/backfill"] for r in runs}) == 1
    assert not backfill.is_asset_backfill
    assert backfill.status.value == "COMPLETED"  # done submitting: no dependency is waited on


@pytest.mark.postgres
def test_dx_pipeline_backfill_submits_an_asset_backfill_of_exactly_the_quarters(
    scale_env, pg_database_url, monkeypatch
):
    """``dx-pipeline backfill`` without a daemon: an asset backfill of every quarter asset over
    exactly the quarters asked for, REQUESTED, no run yet (the daemon plans them)."""
    _, dagster_home = scale_env
    monkeypatch.setenv(PG_URL_ENV, pg_database_url)
    ensure_instance(dagster_home, "postgres")
    done = _cli([str(BIN / "dx-pipeline"), "backfill", "--from", "2024-Q3", "--to", "2025-Q2"])
    backfill_id = re.search(r"asset backfill (\S+) submitted: 2024-Q3 to 2025-Q2", done.stdout)
    assert backfill_id, done.stdout[-2000:]

    from dagster import AssetKey, DagsterInstance

    from dx_pipeline.defs import backfill as bf
    from dx_pipeline_tests.expected_graph import QUARTER_JOB

    with DagsterInstance.get() as instance:
        backfill = instance.get_backfill(backfill_id.group(1))
        assert instance.get_runs() == []
        status = bf.progress_from_instance(instance, backfill.backfill_id)
    assert backfill.is_asset_backfill and status.status == "REQUESTED" and status.runs == {}
    assert backfill.tags["dx/trigger"] == "backfill"
    target = backfill.asset_backfill_data.target_subset
    assert {k.to_user_string() for k in target.asset_keys} == QUARTER_JOB
    expected = {"2024-07", "2024-10", "2025-01", "2025-04"}
    for key in QUARTER_JOB:  # no later quarter rides along through a partition mapping
        assert set(target.get_partitions_subset(AssetKey(key)).get_partition_keys()) == expected

    status_out = _cli([str(BIN / "dx-pipeline"), "backfill", "--status", backfill.backfill_id])
    assert f"backfill {backfill.backfill_id}: REQUESTED (no runs yet)" in status_out.stdout
