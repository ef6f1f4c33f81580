"""Executors: how a run's steps are spread over processes (one machine) or Celery workers (many).

- ``dx_multiprocess_executor``: one process per step on this machine, at most
  ``DX_MAX_CONCURRENT`` at once (default: CPU count), and at most one step tagged
  ``{"dx/memory": "high"}`` at a time, so two national-size aggregations never share RAM.
  Steps are forked from a per-run forkserver (``DX_START_METHOD=spawn`` to opt out).
- ``dx_celery_executor``: each step becomes a Celery task on the broker ``DX_CELERY_BROKER``,
  picked up by ``dagster-celery`` workers started separately, possibly on other machines,
  sharing the Postgres instance and the warehouse path. Results return through
  ``DX_CELERY_BACKEND``; steps go to the queue ``DX_CELERY_QUEUE`` (default ``dagster``).

Values are read from the environment when this module is imported (i.e. when the code
location loads, in every process that runs the job), never from run config typed in the UI.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from dagster import ExecutorDefinition, in_process_executor, multiprocess_executor
from dagster_celery import celery_executor

HIGH_MEMORY_TAG: dict[str, str] = {"dx/memory": "high"}
"""Op/asset tag for steps that hold a whole quarter in memory; at most one runs at a time."""

DEFAULT_CELERY_BROKER = "amqp://guest:guest@127.0.0.1:5672//"
DEFAULT_CELERY_BACKEND = "redis://127.0.0.1:6379/0"
DEFAULT_CELERY_QUEUE = "dagster"

EXECUTOR_NAMES: tuple[str, ...] = ("in_process", "multiprocess", "celery", "k8s")

PRELOAD_MODULES: tuple[str, ...] = ("dx_pipeline.definitions", "great_expectations")
"""What the per-run forkserver imports before forking the steps: the code location (which
imports every domain module at its top) and Great Expectations, which the quality runner imports
only when a suite runs because it alone costs 4-5 s of every process start."""


def multiprocess_config(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Config of ``dx_multiprocess_executor``: process cap and the high-memory limit."""
    env = os.environ if environ is None else environ
    max_concurrent = int(env.get("DX_MAX_CONCURRENT") or 0)  # 0 = os.cpu_count()
    if max_concurrent < 0:
        raise ValueError(f"DX_MAX_CONCURRENT must be >= 0, got {max_concurrent}")
    start_method = env.get("DX_START_METHOD") or ("spawn" if os.name == "nt" else "forkserver")
    if start_method not in ("spawn", "forkserver"):
        raise ValueError(f"DX_START_METHOD must be spawn or forkserver, got {start_method!r}")
    # forkserver imports Dagster, the code location and the steps' domain modules (Great
    # Expectations included) once per run and forks each step from it: steps start in
    # milliseconds instead of re-importing for seconds.
    start_config = (
        {"preload_modules": list(PRELOAD_MODULES)} if start_method == "forkserver" else {}
    )
    return {
        "max_concurrent": max_concurrent,
        "start_method": {start_method: start_config},
        "tag_concurrency_limits": [
            {"key": key, "value": value, "limit": 1} for key, value in HIGH_MEMORY_TAG.items()
        ],
    }


def celery_config(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Config of ``dx_celery_executor``; workers must be started with the same broker/backend.

    ``deploy/celery/worker.yaml`` is the worker-side twin of this dict.
    """
    env = os.environ if environ is None else environ
    queue = env.get("DX_CELERY_QUEUE") or DEFAULT_CELERY_QUEUE
    return {
        "broker": env.get("DX_CELERY_BROKER") or DEFAULT_CELERY_BROKER,
        "backend": env.get("DX_CELERY_BACKEND") or DEFAULT_CELERY_BACKEND,
        # Steps without a `dagster-celery/queue` tag go to this queue.
        "config_source": {"task_default_queue": queue},
    }


K8S_HOME_MOUNT = "/dx-home"
"""Where step pods mount the DX_HOME claim: the same path as in deploy/k8s/values.yaml."""


def k8s_config(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Config of the Kubernetes step executor (one pod per step); see deploy/k8s/.

    Every step pod mounts the ReadWriteMany claim ``DX_K8S_HOME_CLAIM`` (default ``dx-home``)
    at :data:`K8S_HOME_MOUNT`, so steps of one run see one DX_HOME (inbox, landing, published).
    """
    env = os.environ if environ is None else environ
    secret = env.get("DX_K8S_ENV_SECRET") or "dx-pipeline-env"
    claim = env.get("DX_K8S_HOME_CLAIM") or "dx-home"
    return {
        "max_concurrent": int(env.get("DX_MAX_CONCURRENT") or 4),
        "tag_concurrency_limits": multiprocess_config(env)["tag_concurrency_limits"],
        "env_secrets": [secret],
        "volumes": [{"name": "dx-home", "persistentVolumeClaim": {"claimName": claim}}],
        "volume_mounts": [{"name": "dx-home", "mountPath": K8S_HOME_MOUNT}],
        "step_k8s_config": {
            "container_config": {
                "resources": {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"memory": "3Gi"}}
            }
        },
    }


dx_multiprocess_executor: ExecutorDefinition = multiprocess_executor.configured(
    multiprocess_config(), name="dx_multiprocess"
)
dx_celery_executor: ExecutorDefinition = celery_executor.configured(
    celery_config(), name="dx_celery"
)


def executor_for(name: str | None = None) -> ExecutorDefinition:
    """The executor called ``name`` (``in_process``, ``multiprocess``, ``celery``, ``k8s``).

    Empty means ``$DX_EXECUTOR``, else ``multiprocess``. Definitions are rebuilt so the
    environment at call time (broker, queue, limits) is the one used. ``k8s`` needs the optional
    ``dagster-k8s`` package, installed only in the cluster image.
    """
    chosen = (name or os.environ.get("DX_EXECUTOR") or "multiprocess").strip().lower()
    if chosen == "in_process":
        return in_process_executor
    if chosen == "multiprocess":
        return multiprocess_executor.configured(multiprocess_config(), name="dx_multiprocess")
    if chosen == "celery":
        return celery_executor.configured(celery_config(), name="dx_celery")
    if chosen == "k8s":
        try:
            from dagster_k8s import k8s_job_executor
        except ImportError as exc:
            raise RuntimeError(
                "DX_EXECUTOR=k8s needs dagster-k8s: pip install 'dagster-k8s>=0.29,<0.30'"
            ) from exc
        return k8s_job_executor.configured(k8s_config(), name="dx_k8s")
    raise ValueError(f"unknown executor {chosen!r}; expected one of {', '.join(EXECUTOR_NAMES)}")
