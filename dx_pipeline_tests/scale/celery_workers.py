"""Real ``dagster-celery`` workers for the Celery tests: start, wait until they answer, kill.

Each worker is a separately started ``dagster-celery worker start`` process in its own process
group (the way an operator starts one per machine, see docs/scale_out.md), listening on a queue
private to the test, configured by the shipped ``deploy/celery/worker.yaml``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from dx_pipeline.defs.executors import celery_config
from dx_pipeline_tests.scale.conftest import REPO_ROOT

WORKER_START_TIMEOUT_S = 60
WORKER_CONFIG = REPO_ROOT / "deploy" / "celery" / "worker.yaml"


def reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), 2):
            return True
    except OSError:
        return False


def require_broker() -> None:
    """Skip when RabbitMQ/Redis are unreachable outside CI; in CI (``$CI`` set) fail instead."""
    config = celery_config()
    if not (reachable(config["broker"], 5672) and reachable(config["backend"], 6379)):
        if os.environ.get("CI"):
            pytest.fail(f"Celery broker/backend unreachable in CI: {config['broker']} {config['backend']}")
        pytest.skip("RabbitMQ/Redis not reachable on this machine")


def celery_app():
    from dagster_celery.executor import CeleryExecutor
    from dagster_celery.make_app import make_app

    return make_app(CeleryExecutor.for_cli(**celery_config()).app_args())


def delete_queue(queue: str) -> None:
    """Leave no test queue behind on the shared broker."""
    try:
        with celery_app().connection_for_write() as conn:
            conn.default_channel.queue_delete(queue)
    except Exception:  # noqa: BLE001 - best effort cleanup of a broker we do not own
        pass


def start_worker(queue: str, node: str, log_path: Path, concurrency: int = 2) -> subprocess.Popen:
    """``dagster-celery worker start`` on ``queue`` as node ``node``, logging to ``log_path``.

    The worker records step events in ``$DAGSTER_HOME``'s instance, so that instance must exist
    (schema created) before it starts.
    """
    env = dict(os.environ)
    env["DX_CELERY_BROKER"] = celery_config()["broker"]
    env["DX_CELERY_BACKEND"] = celery_config()["backend"]
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # `celery`
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            [
                str(Path(sys.executable).parent / "dagster-celery"),
                "worker", "start",
                "-A", "dagster_celery.app",
                "-y", str(WORKER_CONFIG),
                "-q", queue,
                "-n", node,
                "--", f"--concurrency={concurrency}",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: kill_group takes all of it
        )


def wait_until_ready(workers: dict[str, subprocess.Popen], log_dir: Path) -> None:
    """Until every worker node answers a broker ping (fails with the log of a dead worker)."""
    app = celery_app()
    deadline = time.monotonic() + WORKER_START_TIMEOUT_S
    waiting = set(workers)
    while waiting and time.monotonic() < deadline:
        for node, worker in workers.items():
            if worker.poll() is not None:
                pytest.fail(f"Celery worker {node} exited with {worker.returncode}:\n"
                            f"{(log_dir / f'{node}.log').read_text()}")
        replies = app.control.ping(timeout=0.5) or []
        answered = {name.split("@", 1)[0] for reply in replies for name in reply}
        waiting -= answered
    if waiting:
        logs = "\n".join((log_dir / f"{n}.log").read_text() for n in waiting)
        pytest.fail(f"Celery workers {sorted(waiting)} not ready after {WORKER_START_TIMEOUT_S} s:\n{logs}")


def kill_group(worker: subprocess.Popen) -> None:
    try:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=15)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=5)


def worker_of_each_step(logs) -> dict[str, str]:
    """Dagster's own record of which Celery worker executed each step of a run."""
    from dagster import DagsterEventType

    ran_by = {}
    for entry in logs:
        event = entry.dagster_event
        if event and event.event_type == DagsterEventType.ENGINE_EVENT and event.step_key:
            for md_key, md_value in event.engine_event_data.metadata.items():
                if md_key == "Celery worker":
                    ran_by[event.step_key] = md_value.value
    return ran_by
