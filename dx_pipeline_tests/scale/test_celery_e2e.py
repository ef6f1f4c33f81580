"""A quarter's steps run by separately started Celery workers (RabbitMQ broker, Redis backend).

The workers are real ``dagster-celery worker start`` processes listening on a queue private to
this test run; the run itself is launched from this process on a persistent SQLite instance.
Skipped only when the broker is unreachable outside CI; in CI (``$CI`` set) that is a failure.
The real quarter job on Celery, Postgres and two workers is in ``test_celery_quarter.py``.
"""

import json
import os
import socket
import uuid

import pytest

from dx_pipeline.defs.instance import ensure_instance
from dx_pipeline_tests.scale.celery_workers import (
    delete_queue,
    kill_group,
    require_broker,
    start_worker,
    wait_until_ready,
    worker_of_each_step,
)
from dx_pipeline_tests.scale.toy_job import ASSETS, record_path


@pytest.fixture
def celery_queue(scale_env, monkeypatch):
    """A queue name nobody else uses, exported so the executor and worker config pick it up."""
    require_broker()
    queue = f"dx_test_{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("DX_CELERY_QUEUE", queue)
    yield queue
    delete_queue(queue)


@pytest.fixture
def celery_worker(scale_env, celery_queue, tmp_path):
    """One worker on the test's queue, sharing the run's persistent (SQLite) instance."""
    from dagster import DagsterInstance

    ensure_instance(scale_env[1], "sqlite")
    DagsterInstance.get().dispose()  # schema created before the worker opens it
    worker = start_worker(celery_queue, celery_queue, tmp_path / f"{celery_queue}.log")
    try:
        wait_until_ready({celery_queue: worker}, tmp_path)
        yield f"{celery_queue}@{socket.gethostname()}"
    finally:
        kill_group(worker)


@pytest.mark.slow
def test_quarter_steps_run_in_separately_started_celery_workers(scale_env, celery_worker):
    dx_home, _ = scale_env
    from dagster import DagsterInstance, execute_job, reconstructable

    from dx_pipeline_tests.scale.celery_toy_job import get_toy_celery_job

    with DagsterInstance.get() as instance:
        result = execute_job(
            reconstructable(get_toy_celery_job), instance, tags={"dagster/partition": "2025-04"}
        )
        assert result.success
        logs = instance.all_logs(result.run_id)

    # Dagster's own record: each step was executed by our worker, not in this process.
    assert worker_of_each_step(logs) == {name: celery_worker for name in ASSETS}

    # The steps' own record: written by a worker process, in dependency order.
    for name in ASSETS:
        record = json.loads(record_path(dx_home, name, "2025-Q2").read_text())
        assert record["pid"] != os.getpid()
        assert record["rows"] == ASSETS.index(name) + 1
