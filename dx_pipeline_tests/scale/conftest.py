"""Fixtures for the scale-out tests: a dedicated PostgreSQL database and a tmp DX_HOME."""

import os
from pathlib import Path

import pytest

from dx_pipeline_tests.support.postgres import fresh_database

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def pg_database_url():
    """A fresh database ``dx_test_<random>`` on $DX_TEST_POSTGRES_URL, dropped afterwards.

    Dagster creates its tables in the database it is given; a private database keeps this test
    from colliding with other tests using the same server at the same time.
    """
    with fresh_database() as url:
        yield url


@pytest.fixture
def scale_env(tmp_path, monkeypatch):
    """A tmp DX_HOME and DAGSTER_HOME, and the repo on PYTHONPATH for child processes."""
    dx_home = tmp_path / "dx_home"
    dagster_home = tmp_path / "dagster_home"
    monkeypatch.setenv("DX_HOME", str(dx_home))
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
    existing = os.environ.get("PYTHONPATH", "")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(REPO_ROOT), existing) if p))
    return dx_home, dagster_home
