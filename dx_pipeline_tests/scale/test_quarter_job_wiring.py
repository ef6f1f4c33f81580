"""The real code location: its quarter job uses our executor, limits and CLI backfill path."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dx_pipeline.instance import PG_URL_ENV, ensure_instance
from dx_pipeline.quarters import SAMPLE_QUARTERS
from dx_pipeline_tests.scale.conftest import REPO_ROOT


def test_quarter_job_runs_on_dx_multiprocess_with_high_memory_steps_tagged(monkeypatch):
    monkeypatch.delenv("DX_EXECUTOR", raising=False)
    from dx_pipeline.definitions import defs

    job = defs.resolve_job_def("quarter_job")
    assert job.executor_def.name == "dx_multiprocess"
    assert job.partitions_def is not None
    tagged = {n.name for n in job.graph.node_defs if n.tags.get("dx/memory") == "high"}
    assert tagged, "no step is tagged dx/memory=high, the executor limit would never apply"


@pytest.mark.postgres
@pytest.mark.slow
def test_cli_backfill_queues_one_run_per_sample_quarter_on_postgres(
    scale_env, pg_database_url, monkeypatch
):
    """`dagster job backfill` (as in docs/scale_out.md) puts every sample quarter in the queue."""
    _, dagster_home = scale_env
    monkeypatch.setenv(PG_URL_ENV, pg_database_url)
    ensure_instance(dagster_home, "postgres")
    first, last = SAMPLE_QUARTERS[0].partition_key, SAMPLE_QUARTERS[-1].partition_key
    dagster = Path(sys.executable).parent / "dagster"
    done = subprocess.run(
        [str(dagster), "job", "backfill", "-w", "workspace.yaml", "-j", "quarter_job",
         "--from", first, "--to", last, "--noprompt"],
        cwd=REPO_ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Launched backfill" in done.stdout

    from dagster import DagsterInstance, DagsterRunStatus

    with DagsterInstance.get() as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        runs = instance.get_runs()
    assert sorted(r.tags["dagster/partition"] for r in runs) == [
        q.partition_key for q in SAMPLE_QUARTERS
    ]
    assert {r.status for r in runs} == {DagsterRunStatus.QUEUED}  # the daemon launches them
    assert len({r.tags["dagster/backfill"] for r in runs}) == 1
