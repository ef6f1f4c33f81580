"""A short portal pull stops the quarter in the real Dagster job before anything is ranked,
even for a quarter with no previous quarter (issue 15, item 4).

A small sample province (one quarter, 2025-Q1, nothing before it) is served by the sample
portal on 127.0.0.1 as a proxy would pass it on: every page HTTP 200, valid JSON, the right
tokens and total, and half its items. The quarter job reads the dossiers over HTTP.
"""

from __future__ import annotations

import re

import pytest
from dagster import DagsterInstance

from dx_pipeline.defs.definitions import build_definitions
from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.sample.generate import generate_sample
from dx_pipeline.sample.portal_server import serve_portal
from dx_pipeline.storage import DxHome, read_partition

pytestmark = pytest.mark.slow

Q = Quarter.parse("2025-Q1")
TOKEN = "tok-short-pull"


def test_a_half_served_quarter_with_no_previous_quarter_is_neither_ingested_nor_ranked(tmp_path, monkeypatch):
    home = DxHome(tmp_path / "home").ensure()
    generate_sample(home, seed=7, scale=0.01, quarters=[Q])
    with serve_portal(home, token=TOKEN, faults=[{"kind": "short", "path": "*", "times": 10**6}]) as server:
        monkeypatch.setenv("DX_HOME", str(home.root))
        monkeypatch.setenv("DX_PORTAL_URL", server.url)
        monkeypatch.setenv("DX_PORTAL_TOKEN", TOKEN)
        monkeypatch.delenv("DX_REGISTRY", raising=False)
        monkeypatch.delenv("DX_REPORTING_DB_URL", raising=False)
        job = build_definitions().resolve_job_def("quarter_job")
        result = job.execute_in_process(
            instance=DagsterInstance.ephemeral(), partition_key=Q.partition_key, raise_on_error=False,
            run_config={"ops": {"portal_dossiers": {"config": {"source": "http"}}}},
        )
    assert not result.success
    failures = {e.step_key: e for e in result.all_events if e.event_type_value == "STEP_FAILURE"}
    assert set(failures) == {"portal_dossiers"}
    error, message = failures["portal_dossiers"].event_specific_data.error, ""  # type: ignore[union-attr]
    while error is not None:  # the step error, caused by the client's
        message, error = message + error.message, error.cause
    assert "PortalIncomplete" in message and "2025-Q1 came up short" in message
    counts = re.search(r"advertised ([\d,]+) dossiers, ([\d,]+) were received", message)
    assert counts, message
    advertised, received = (int(n.replace(",", "")) for n in counts.groups())
    assert advertised > 1000 and received < advertised * 0.6
    landed = list((home.landing / "portal" / f"quarter={Q.label}" / "pull-0001").glob("dossiers-*.json"))
    assert landed, "the short pull's pages are kept for diagnosis"
    for table in ("portal_dossiers", "agency_kpis", "index_scores", "ranking_snapshot"):
        with pytest.raises(FileNotFoundError):
            read_partition(home, table, Q)
    assert not (home.published / "ranking" / f"quarter={Q.label}").exists()
