"""dx_pipeline.defs.instance: the packaged dagster.yaml templates and how they are written."""

import os

import pytest
import yaml
from dagster import DagsterInstance

from dx_pipeline.defs.instance import (
    GENERATED_MARKER,
    PG_URL_ENV,
    dagster_home_for,
    ensure_instance,
    prepare_dagster_home,
    render_instance_yaml,
    sqlalchemy_pg_url,
    storage_from_env,
)
from dx_pipeline.storage import DxHome


def test_sqlite_template_loads_as_a_dagster_instance(tmp_path):
    path = ensure_instance(tmp_path / "dh", "sqlite")
    assert path == (tmp_path / "dh" / "dagster.yaml").resolve()
    assert path.read_text().startswith(GENERATED_MARKER)
    with DagsterInstance.from_config(str(tmp_path / "dh")) as instance:
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        queue = instance.get_concurrency_config().run_queue_config
        assert queue.max_concurrent_runs == 2
        assert {"key": "dagster/partition", "value": {"applyLimitPerUniqueValue": True},
                "limit": 1} in queue.tag_concurrency_limits
        assert type(instance.run_storage).__name__ == "SqliteRunStorage"


def test_postgres_file_names_the_env_var_and_never_the_password(tmp_path, monkeypatch):
    monkeypatch.delenv(PG_URL_ENV, raising=False)
    secret_url = "postgresql://dagster:S3cr3t-pw@pg-secret-host.internal:5432/dagster"
    path = ensure_instance(tmp_path / "dh", "postgres", pg_url=secret_url)
    text = path.read_text()
    assert "S3cr3t-pw" not in text and "pg-secret-host" not in text
    config = yaml.safe_load(text)
    assert config["storage"] == {"postgres": {"postgres_url": {"env": PG_URL_ENV}}}
    # exported for this process and its children, naming the installed driver
    assert os.environ[PG_URL_ENV] == secret_url.replace("postgresql://", "postgresql+psycopg2://")


def test_pg_urls_name_the_psycopg2_driver():
    assert sqlalchemy_pg_url("postgres://u@h/db") == "postgresql+psycopg2://u@h/db"
    assert sqlalchemy_pg_url("postgresql://u:p@h:5433/db?sslmode=require") == (
        "postgresql+psycopg2://u:p@h:5433/db?sslmode=require"
    )
    assert sqlalchemy_pg_url("postgresql+pg8000://u@h/db") == "postgresql+pg8000://u@h/db"
    with pytest.raises(ValueError, match="postgresql://"):
        sqlalchemy_pg_url("sqlite:///x.db")


def test_postgres_without_a_url_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv(PG_URL_ENV, raising=False)
    with pytest.raises(ValueError, match=PG_URL_ENV):
        ensure_instance(tmp_path / "dh", "postgres")
    with pytest.raises(ValueError, match="postgresql://"):
        ensure_instance(tmp_path / "dh", "postgres", pg_url="mysql://x@y/z")
    with pytest.raises(ValueError, match="unknown instance storage"):
        ensure_instance(tmp_path / "dh", "oracle")  # type: ignore[arg-type]
    assert not (tmp_path / "dh" / "dagster.yaml").exists()


def test_users_own_dagster_yaml_is_kept_and_ours_is_rewritten(tmp_path):
    home = tmp_path / "dh"
    home.mkdir()
    own = home / "dagster.yaml"
    own.write_text("telemetry:\n  enabled: false\n")
    ensure_instance(home, "sqlite")
    assert own.read_text() == "telemetry:\n  enabled: false\n"
    ensure_instance(home, "sqlite", force=True)
    assert own.read_text().startswith(GENERATED_MARKER)
    ensure_instance(home, "sqlite", max_concurrent_runs=6)
    assert yaml.safe_load(own.read_text())["concurrency"]["runs"]["max_concurrent_runs"] == 6
    assert "# Never two runs of the same quarter" in own.read_text()  # comments survive
    assert [p.name for p in home.iterdir()] == ["dagster.yaml"]  # no temp files left


def test_render_rejects_a_nonsense_run_limit():
    with pytest.raises(ValueError, match="max_concurrent_runs"):
        render_instance_yaml("sqlite", max_concurrent_runs=-5)


def test_storage_and_home_are_chosen_from_the_environment(tmp_path, monkeypatch):
    assert storage_from_env({}) == "sqlite"
    assert storage_from_env({PG_URL_ENV: "postgresql://x@y/z"}) == "postgres"
    home = DxHome(tmp_path / "dx")
    assert dagster_home_for(home, {}) == home.dagster_home
    assert dagster_home_for(home, {"DAGSTER_HOME": str(tmp_path / "elsewhere")}) == (
        tmp_path / "elsewhere"
    ).resolve()

    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.delenv(PG_URL_ENV, raising=False)
    folder = prepare_dagster_home(home)
    assert folder == home.dagster_home
    assert os.environ["DAGSTER_HOME"] == str(folder)
    assert "storage" not in yaml.safe_load((folder / "dagster.yaml").read_text())  # SQLite
