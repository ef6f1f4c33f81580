"""The real quarter job with every step on Celery workers: the way to spread work over machines.

Set up as docs/scale_out.md section 4 tells an operator to: Postgres instance storage shared by
the launching process and the workers, two workers started separately (two "machines", each a
``dagster-celery worker start`` process group with its own node name), and the run launched
with Dagster's own CLI (``dagster job execute``) with ``DX_EXECUTOR=celery`` in the code
location's environment. One sample quarter (1 % scale) goes from the export files to the
published ranking; the ranking must equal an in-process run of the same inputs.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pandas as pd
import pytest

from dx_pipeline.defs.definitions import build_definitions
from dx_pipeline.defs.instance import PG_URL_ENV, ensure_instance
from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.sample.generate import generate_sample
from dx_pipeline.storage import DxHome, read_partition
from dx_pipeline_tests.scale.celery_workers import (
    delete_queue,
    kill_group,
    require_broker,
    start_worker,
    wait_until_ready,
    worker_of_each_step,
)
from dx_pipeline_tests.scale.conftest import REPO_ROOT
from dx_pipeline_tests.shell_env import PIPELINE_OVERRIDES

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

QUARTER = Quarter.parse("2025-Q2")
MACHINES = ("dx-machine-a", "dx-machine-b")
RUN_TIMEOUT_S = 420
SAMPLE = dict(seed=7, scale=0.01, quarters=[QUARTER])
# the broker and backend stay: they are where this machine's workers must connect
CLEARED_ENV = [
    name for name in PIPELINE_OVERRIDES if name not in ("DX_CELERY_BROKER", "DX_CELERY_BACKEND")
]


@pytest.fixture
def celery_cluster(scale_env, pg_database_url, monkeypatch, tmp_path):
    """Postgres instance, a private queue and two workers listening on it (yields their node
    names); torn down after."""
    require_broker()
    for name in CLEARED_ENV:
        monkeypatch.delenv(name, raising=False)
    _, dagster_home = scale_env
    monkeypatch.setenv(PG_URL_ENV, pg_database_url)
    ensure_instance(dagster_home, "postgres")
    from dagster import DagsterInstance

    with DagsterInstance.get() as instance:  # schema created once, before workers race to it
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
    suffix = uuid.uuid4().hex[:10]
    queue = f"dx_test_{suffix}"
    monkeypatch.setenv("DX_CELERY_QUEUE", queue)
    # Node names of their own too: a worker's control queue is named after its node, and a
    # second test run on the same broker (another checkout's) would lock ours out.
    nodes = tuple(f"{machine}-{suffix}" for machine in MACHINES)
    workers = {node: start_worker(queue, node, tmp_path / f"{node}.log", concurrency=1) for node in nodes}
    try:
        wait_until_ready(workers, tmp_path)
        yield nodes
    finally:
        for worker in workers.values():
            kill_group(worker)
        delete_queue(queue)


def _published_ranking(home: DxHome) -> pd.DataFrame:
    ranking = read_partition(home, "ranking_snapshot", QUARTER).drop(columns=["published_at"])
    return ranking.sort_values(["framework_id", "agency_code"]).reset_index(drop=True)


def test_the_real_quarter_runs_step_by_step_on_two_celery_workers(
    scale_env, celery_cluster, tmp_path, monkeypatch
):
    dx_home, _ = scale_env
    home = DxHome(dx_home).ensure()
    generate_sample(home, **SAMPLE)
    # the very same input files for the in-process run (ensure() made an empty warehouse folder)
    shutil.copytree(home.root, tmp_path / "in_process", ignore=shutil.ignore_patterns("warehouse"))
    alone = DxHome(tmp_path / "in_process").ensure()

    env = {**os.environ, "DX_EXECUTOR": "celery"}
    output = tmp_path / "dagster-job-execute.log"
    with open(output, "wb") as out:
        launched = subprocess.Popen(
            [str(Path(sys.executable).parent / "dagster"), "job", "execute",
             "-m", "dx_pipeline.definitions", "-j", "quarter_job",
             "--tags", json.dumps({"dagster/partition": QUARTER.partition_key, "dx/trigger": "celery-test"})],
            cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    # The reference: the same inputs in one process, run while the workers run theirs (the
    # Celery run mostly waits on task hand-offs; the cores are free for it).
    from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter

    try:
        monkeypatch.setenv("DX_HOME", str(alone.root))
        result = build_definitions().resolve_job_def("quarter_job").execute_in_process(
            instance=DagsterInstance.ephemeral(), partition_key=QUARTER.partition_key,
            raise_on_error=False,
        )
        monkeypatch.setenv("DX_HOME", str(dx_home))
        returncode = launched.wait(timeout=RUN_TIMEOUT_S)
    finally:
        if launched.poll() is None:
            launched.kill()
            launched.wait()
    assert returncode == 0, output.read_text(errors="replace")[-6000:]
    assert result.success

    with DagsterInstance.get() as instance:
        runs = instance.get_runs(RunsFilter(job_name="quarter_job"))
        assert len(runs) == 1
        run = runs[0]
        assert run.status == DagsterRunStatus.SUCCESS
        assert run.tags["dagster/partition"] == QUARTER.partition_key
        logs = instance.all_logs(run.run_id)
    started = {e.dagster_event.step_key for e in logs
               if e.dagster_event_type == DagsterEventType.STEP_START}
    succeeded = {e.dagster_event.step_key for e in logs
                 if e.dagster_event_type == DagsterEventType.STEP_SUCCESS}
    assert started and succeeded == started, sorted(started - succeeded)
    assert {"portal_dossiers", "agency_kpis", "index_scores", "publish_rankings"} <= started

    # Every step was executed by one of the two workers, none by the launching process.
    host = socket.gethostname()
    ran_by = worker_of_each_step(logs)
    assert set(ran_by) == started
    assert set(ran_by.values()) <= {f"{node}@{host}" for node in celery_cluster}, set(ran_by.values())

    # The quarter was published from the workers' steps ...
    assert (home.published / "ranking" / f"quarter={QUARTER.label}" / "rev=1" / "manifest.json").exists()
    spread = _published_ranking(home)
    assert len(spread) > 100

    # ... and it is the ranking one process gives for the same inputs.
    pd.testing.assert_frame_equal(spread, _published_ranking(alone))
