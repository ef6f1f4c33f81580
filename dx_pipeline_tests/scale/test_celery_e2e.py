"""A quarter's steps run by separately started Celery workers (RabbitMQ broker, Redis backend).

The workers are real ``dagster-celery worker start`` processes listening on a queue private to
this test run; the run itself is launched from this process on a persistent SQLite instance.
Skipped only when the broker is unreachable outside CI; in CI (``$CI`` set) that is a failure.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from dx_pipeline.defs.executors import celery_config
from dx_pipeline.instance import ensure_instance
from dx_pipeline_tests.scale.conftest import REPO_ROOT
from dx_pipeline_tests.scale.toy_job import ASSETS, record_path

WORKER_START_TIMEOUT_S = 60


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), 2):
            return True
    except OSError:
        return False


@pytest.fixture
def celery_queue(scale_env, monkeypatch):
    """A queue name nobody else uses, exported so the executor and worker config pick it up."""
    config = celery_config()
    if not (_reachable(config["broker"], 5672) and _reachable(config["backend"], 6379)):
        if os.environ.get("CI"):
            pytest.fail(f"Celery broker/backend unreachable in CI: {config['broker']} {config['backend']}")
        pytest.skip("RabbitMQ/Redis not reachable on this machine")
    queue = f"dx_test_{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("DX_CELERY_QUEUE", queue)
    yield queue
    _delete_queue(queue)


def _celery_app():
    from dagster_celery.executor import CeleryExecutor
    from dagster_celery.make_app import make_app

    return make_app(CeleryExecutor.for_cli(**celery_config()).app_args())


def _delete_queue(queue: str) -> None:
    """Leave no test queue behind on the shared broker."""
    try:
        with _celery_app().connection_for_write() as conn:
            conn.default_channel.queue_delete(queue)
    except Exception:  # noqa: BLE001 - best effort cleanup of a broker we do not own
        pass


@pytest.fixture
def celery_worker(scale_env, celery_queue, tmp_path):
    """``dagster-celery worker start`` in its own process group, killed with the group after.

    The worker reads the same persistent instance ($DAGSTER_HOME) as the run, so it is created
    (and its SQLite schema migrated) first.
    """
    from dagster import DagsterInstance

    ensure_instance(scale_env[1], "sqlite")
    DagsterInstance.get().dispose()
    config_file = REPO_ROOT / "deploy" / "celery" / "worker.yaml"  # the shipped worker config
    env = dict(os.environ)
    env["DX_CELERY_BROKER"] = celery_config()["broker"]
    env["DX_CELERY_BACKEND"] = celery_config()["backend"]
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # `celery`
    log_path = tmp_path / "celery_worker.log"
    with open(log_path, "wb") as log:
        worker = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "dagster-celery"),
                "worker", "start",
                "-A", "dagster_celery.app",
                "-y", str(config_file),
                "-q", celery_queue,
                "-n", celery_queue,
                "--", "--concurrency=2",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the finalizer kills all of it
        )
    try:
        _wait_until_ready(worker, celery_queue, log_path)
        yield f"{celery_queue}@{socket.gethostname()}"
    finally:
        _kill_group(worker)


def _wait_until_ready(worker: subprocess.Popen, queue: str, log_path: Path) -> None:
    app = _celery_app()
    deadline = time.monotonic() + WORKER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            pytest.fail(f"Celery worker exited with {worker.returncode}:\n{log_path.read_text()}")
        replies = app.control.ping(timeout=0.5) or []
        if any(name.startswith(f"{queue}@") for reply in replies for name in reply):
            return
    pytest.fail(f"Celery worker not ready after {WORKER_START_TIMEOUT_S} s:\n{log_path.read_text()}")


def _kill_group(worker: subprocess.Popen) -> None:
    try:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=15)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=5)


@pytest.mark.slow
def test_quarter_steps_run_in_separately_started_celery_workers(scale_env, celery_worker):
    dx_home, _ = scale_env
    from dagster import DagsterEventType, DagsterInstance, execute_job, reconstructable

    from dx_pipeline_tests.scale.celery_toy_job import get_toy_celery_job

    with DagsterInstance.get() as instance:
        result = execute_job(
            reconstructable(get_toy_celery_job), instance, tags={"dagster/partition": "2025-04"}
        )
        assert result.success
        logs = instance.all_logs(result.run_id)

    # Dagster's own record: each step was executed by our worker, not in this process.
    ran_by = {}
    for entry in logs:
        event = entry.dagster_event
        if event and event.event_type == DagsterEventType.ENGINE_EVENT and event.step_key:
            for md_key, md_value in event.engine_event_data.metadata.items():
                if md_key == "Celery worker":
                    ran_by[event.step_key] = md_value.value
    assert ran_by == {name: celery_worker for name in ASSETS}

    # The steps' own record: written by a worker process, in dependency order.
    for name in ASSETS:
        record = json.loads(record_path(dx_home, name, "2025-Q2").read_text())
        assert record["pid"] != os.getpid()
        assert record["rows"] == ASSETS.index(name) + 1
