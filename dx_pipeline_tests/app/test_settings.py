"""Settings reach the stages as arguments; the entry points build them from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from dx_pipeline.app.settings import ENVIRONMENT, PortalSettings, Settings
from dx_pipeline.cli.environment import home_from_environment, settings_from_environment
from dx_pipeline.defs.resources import DxResource, dx_resource
from dx_pipeline.storage.home import DxHome


def test_reporting_db_defaults_to_the_sample_database_only_when_it_exists(tmp_path):
    home = DxHome(tmp_path)
    assert Settings(home).reporting_db() is None
    home.sample.mkdir()
    (home.sample / "reporting.db").write_bytes(b"")
    assert Settings(home).reporting_db() == f"sqlite:///{home.sample / 'reporting.db'}"
    assert Settings(home, reporting_db_url="postgresql://x@h/db").reporting_db() == "postgresql://x@h/db"


def test_the_registry_defaults_to_dx_home(tmp_path):
    home = DxHome(tmp_path)
    assert Settings(home).registry == home.registry_file
    assert Settings(home, registry_file=tmp_path / "r.csv").registry == tmp_path / "r.csv"


def test_the_portal_token_never_shows_and_missing_settings_are_named():
    portal = PortalSettings("http://portal", "s3cr3t")
    assert "s3cr3t" not in repr(portal) and "s3cr3t" not in repr(Settings(DxHome("/tmp"), portal=portal))
    assert portal.require() == ("http://portal", "s3cr3t")
    with pytest.raises(ValueError, match="DX_PORTAL_URL and DX_PORTAL_TOKEN"):
        PortalSettings().require()
    with pytest.raises(ValueError, match="needs DX_PORTAL_TOKEN"):
        PortalSettings("http://portal").require()


def test_the_command_line_reads_every_documented_variable(tmp_path):
    env = {
        "DX_HOME": str(tmp_path / "home"),
        "DX_WAREHOUSE_URL": str(tmp_path / "nfs"),
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9000",
        "DX_DUCKDB_MEMORY": "4GB",
        "DX_REGISTRY": str(tmp_path / "agencies.csv"),
        "DX_REPORTING_DB_URL": "sqlite:///r.db",
        "DX_PORTAL_URL": "http://portal",
        "DX_PORTAL_TOKEN": "tok",
    }
    s = settings_from_environment(environ=env)
    assert s.home.root == tmp_path / "home" and s.home.warehouse == tmp_path / "nfs"
    assert s.home.warehouse_options == {"endpoint_url": "http://127.0.0.1:9000"}
    assert s.home.memory_for("600MB") == "4GB"
    assert s.registry == tmp_path / "agencies.csv" and s.reporting_db() == "sqlite:///r.db"
    assert s.portal.require() == ("http://portal", "tok")
    # command-line options win over the environment; nothing set gives the defaults
    assert settings_from_environment(tmp_path / "other", env).home.root == tmp_path / "other"
    bare = home_from_environment(environ={})
    assert bare.root == Path(".dx_home").resolve() and bare.memory_for("600MB") == "600MB"
    assert set(env) - {"AWS_ENDPOINT_URL"} <= set(ENVIRONMENT)


def test_dagster_reads_urls_and_secrets_through_envvar_and_leaves_unset_ones_empty(tmp_path):
    resource = dx_resource({"DX_HOME": str(tmp_path), "DX_PORTAL_TOKEN": "tok"})
    # Dagster keeps the variable's name, not its value, in the resource's config
    assert resource.home == {"env": "DX_HOME"} or getattr(resource.home, "env_var_name", None) == "DX_HOME" \
        or str(resource.home) == "DX_HOME"
    assert resource.portal_url == ""
    s = DxResource(home=str(tmp_path), duckdb_memory="2GB").settings()
    assert s.home.root == tmp_path and s.home.memory_for("1GB") == "2GB"
    assert s.portal == PortalSettings() and s.registry == s.home.registry_file
