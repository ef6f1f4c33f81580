"""The appraisal database on both engines it supports, and a small scored period to appraise.

``appraisal_db`` is a fresh database per test: a SQLite file under the test's tmp folder, and
a private PostgreSQL database on ``$DX_TEST_POSTGRES_URL`` (skipped when it is not set).
``home`` is a DX_HOME of its own with a small province's quarter scored by the pipeline's
stages (the site tests' registry and KPIs) and no appraisal yet.
"""

from __future__ import annotations

import datetime as dt
import shutil

import pytest

from dx_pipeline.app.quarter import score_quarter_kpis
from dx_pipeline.app.settings import Settings
from dx_pipeline.appraisal.database import open_appraisal_db
from dx_pipeline.appraisal.scored import ScoredResult
from dx_pipeline.index import score
from dx_pipeline.reference.catalogue import load_catalogue
from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.storage import DxHome, write_partition
from dx_pipeline_tests.index.conftest import MINIMAL
from dx_pipeline_tests.index.test_engine import FULL, fw_from, long
from dx_pipeline_tests.publish.site.conftest import kpis, province
from dx_pipeline_tests.support.postgres import fresh_database

PERIOD = "2025-Q2"
T0 = dt.datetime(2025, 7, 16, 2, 0)
"""When the sample period was computed (UTC)."""


@pytest.fixture(params=["sqlite", "postgresql"])
def appraisal_db(request, tmp_path):
    if request.param == "sqlite":
        db = open_appraisal_db(f"sqlite:///{tmp_path / 'appraisal' / 'appraisal.db'}")
        yield db
        db.dispose()
        return
    with fresh_database("dx_appraisal") as url:
        db = open_appraisal_db(url)
        yield db
        db.dispose()


@pytest.fixture(scope="session")
def mini_framework():
    return fw_from(MINIMAL)


@pytest.fixture(scope="session")
def scored(mini_framework) -> ScoredResult:
    """Agencies A and B scored under the mini framework (no verdicts yet)."""
    result = score(mini_framework, long(FULL))
    return ScoredResult.from_scores(PERIOD, result.scores, [mini_framework], load_catalogue())


SMALL_QUARTER = Quarter.parse("2025-Q4")


@pytest.fixture(scope="session")
def scored_home(tmp_path_factory):
    """DX_HOME with the small province's quarter scored (no appraisal database yet)."""
    home = DxHome(tmp_path_factory.mktemp("scored") / "home").ensure()
    registry = province()
    write_partition(home, "agencies", SMALL_QUARTER, registry)
    write_partition(home, "agency_kpis", SMALL_QUARTER, kpis(registry, SMALL_QUARTER.label, seed=21))
    score_quarter_kpis(Settings(home), SMALL_QUARTER)
    return home.root


@pytest.fixture
def home(scored_home, tmp_path, monkeypatch):
    """A copy of the scored home of the test's own (its appraisal database is its own)."""
    monkeypatch.delenv("DX_APPRAISAL_DB_URL", raising=False)
    shutil.copytree(scored_home, tmp_path / "home")
    return tmp_path / "home"
