"""dx_pipeline.defs.executors: names, limits and where Celery settings come from."""

import subprocess
import sys

import dagster_k8s
import pytest
import yaml
from dagster import ExecutorDefinition, in_process_executor
from dagster._config import process_config

from dx_pipeline.defs.executors import (
    DEFAULT_CELERY_BACKEND,
    DEFAULT_CELERY_BROKER,
    HIGH_MEMORY_TAG,
    K8S_HOME_MOUNT,
    PRELOAD_MODULES,
    celery_config,
    dx_celery_executor,
    dx_multiprocess_executor,
    executor_for,
    k8s_config,
    multiprocess_config,
)
from dx_pipeline_tests.scale.conftest import REPO_ROOT


def test_multiprocess_limits_high_memory_steps_to_one():
    config = multiprocess_config({"DX_MAX_CONCURRENT": "3"})
    assert config["max_concurrent"] == 3
    assert config["tag_concurrency_limits"] == [{"key": "dx/memory", "value": "high", "limit": 1}]
    assert HIGH_MEMORY_TAG == {"dx/memory": "high"}
    assert multiprocess_config({})["max_concurrent"] == 0  # one per CPU
    assert multiprocess_config({})["start_method"] == {
        "forkserver": {"preload_modules": ["dx_pipeline.definitions", "great_expectations"]}
    }
    assert multiprocess_config({"DX_START_METHOD": "spawn"})["start_method"] == {"spawn": {}}
    with pytest.raises(ValueError, match="DX_MAX_CONCURRENT"):
        multiprocess_config({"DX_MAX_CONCURRENT": "-1"})


def test_celery_settings_come_from_the_environment_with_local_defaults():
    assert celery_config({}) == {
        "broker": DEFAULT_CELERY_BROKER,
        "backend": DEFAULT_CELERY_BACKEND,
        "config_source": {"task_default_queue": "dagster"},
    }
    custom = celery_config({
        "DX_CELERY_BROKER": "amqp://u:p@mq.internal:5672/dx",
        "DX_CELERY_BACKEND": "redis://cache.internal:6379/3",
        "DX_CELERY_QUEUE": "dx_heavy",
    })
    assert custom["broker"] == "amqp://u:p@mq.internal:5672/dx"
    assert custom["backend"] == "redis://cache.internal:6379/3"
    assert custom["config_source"] == {"task_default_queue": "dx_heavy"}


def test_executor_for_names(monkeypatch):
    monkeypatch.delenv("DX_EXECUTOR", raising=False)
    assert executor_for("in_process") is in_process_executor
    assert executor_for("multiprocess").name == "dx_multiprocess"
    assert executor_for().name == "dx_multiprocess"
    assert executor_for(" Celery ").name == "dx_celery"
    monkeypatch.setenv("DX_EXECUTOR", "celery")
    assert executor_for().name == "dx_celery"
    with pytest.raises(ValueError, match="unknown executor 'dask'"):
        executor_for("dask")
    for definition in (dx_multiprocess_executor, dx_celery_executor):
        assert isinstance(definition, ExecutorDefinition)


def _resolved(executor: ExecutorDefinition) -> dict:
    """The executor's configured values checked against its package's own config schema."""
    result = executor.config_schema.resolve_config({})
    assert result.success, [e.message for e in result.errors]
    return result.value["config"]


def _shipped_execution_config(relative: str) -> dict:
    return yaml.safe_load((REPO_ROOT / relative).read_text())["execution"]["config"]


def test_every_executor_config_is_valid_for_its_dagster_package(monkeypatch):
    monkeypatch.delenv("DX_EXECUTOR", raising=False)
    assert _resolved(executor_for("multiprocess"))["tag_concurrency_limits"] == [
        {"key": "dx/memory", "value": "high", "limit": 1}
    ]
    assert _resolved(executor_for("celery"))["broker"] == celery_config()["broker"]
    k8s = _resolved(executor_for("k8s"))  # dagster-k8s is a test dependency: no skip
    assert k8s["max_concurrent"] == 4 and k8s["env_secrets"] == ["dx-pipeline-env"]
    broken = dagster_k8s.k8s_job_executor.configured({"max_concurrent": "four"}, name="broken")
    assert not broken.config_schema.resolve_config({}).success  # the check can fail


def test_k8s_executor_settings_come_from_the_environment_and_match_the_shipped_file():
    config = k8s_config({"DX_MAX_CONCURRENT": "8", "DX_K8S_ENV_SECRET": "tinh-secret"})
    assert config["max_concurrent"] == 8
    assert config["tag_concurrency_limits"] == [{"key": "dx/memory", "value": "high", "limit": 1}]
    assert config["env_secrets"] == ["tinh-secret"]
    shipped = _shipped_execution_config("deploy/k8s/k8s_job_executor.yaml")
    assert shipped == k8s_config({}), "deploy/k8s/k8s_job_executor.yaml drifted from k8s_config()"
    schema = dagster_k8s.k8s_job_executor.config_schema.config_type
    assert process_config(schema, shipped).success


def test_helm_values_mount_dx_home_where_step_pods_mount_it():
    values = yaml.safe_load((REPO_ROOT / "deploy" / "k8s" / "values.yaml").read_text())
    deployment = values["dagster-user-deployments"]["deployments"][0]
    env = {e["name"]: e["value"] for e in deployment["env"]}
    assert env["DX_HOME"] == K8S_HOME_MOUNT
    assert env["DX_WAREHOUSE_URL"].startswith("s3://")
    step_mounts = k8s_config({})["volume_mounts"]
    for where in (deployment, values["runLauncher"]["config"]["k8sRunLauncher"]):
        assert where["volumeMounts"] == step_mounts


def test_shipped_celery_worker_config_is_valid_for_dagster_celery(monkeypatch):
    from dagster_celery import celery_executor

    monkeypatch.setenv("DX_CELERY_BROKER", "amqp://u:p@mq.internal:5672/dx")
    monkeypatch.setenv("DX_CELERY_BACKEND", "redis://cache.internal:6379/3")
    shipped = _shipped_execution_config("deploy/celery/worker.yaml")
    result = process_config(celery_executor.config_schema.config_type, shipped)
    assert result.success, [e.message for e in result.errors]
    assert result.value["broker"] == "amqp://u:p@mq.internal:5672/dx"
    assert result.value["config_source"]["task_default_queue"] == celery_config({})["config_source"][
        "task_default_queue"
    ]


def test_forkserver_preload_imports_every_step_module_and_great_expectations():
    """A step forked from the forkserver re-imports whatever the preload missed, in every step
    of every run; multiprocessing silently ignores a preload module that fails to import. The
    code location imports every domain module at its top, so preloading it is enough, plus
    Great Expectations, which the quality runner imports only when a suite runs."""
    code = (
        "import sys; import dx_pipeline.definitions; import great_expectations; "
        "mods = [m for m in ('dx_pipeline.quality.runner', 'dx_pipeline.kpis.compute', "
        "'dx_pipeline.index.quarter_scoring', 'dx_pipeline.publish.snapshot', "
        "'dx_pipeline.sources.portal_files', 'great_expectations') if m not in sys.modules]; "
        "print(mods)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
    assert list(PRELOAD_MODULES) == ["dx_pipeline.definitions", "great_expectations"]
