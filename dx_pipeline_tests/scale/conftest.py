"""Fixtures for the scale-out tests: a dedicated PostgreSQL database and a tmp DX_HOME."""

import os
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def _with_database(url: str, db_name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{db_name}"))


@pytest.fixture
def pg_database_url():
    """A fresh database ``dx_test_<random>`` on $DX_TEST_POSTGRES_URL, dropped afterwards.

    Dagster creates its tables in the database it is given; a private database keeps this test
    from colliding with other tests using the same server at the same time.
    """
    base_url = os.environ.get("DX_TEST_POSTGRES_URL")
    if not base_url:
        pytest.skip("DX_TEST_POSTGRES_URL is not set")
    import psycopg2

    db_name = f"dx_test_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(base_url)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{db_name}"')
        yield _with_database(base_url, db_name)
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        admin.close()


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
