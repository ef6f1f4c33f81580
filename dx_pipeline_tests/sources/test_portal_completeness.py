"""A portal pull must add up to the totals the API advertises (issue 15, item 4).

The sample portal server on 127.0.0.1 plays the proxy that answers every page with HTTP 200,
valid JSON, the right tokens and total, and half the items (fault ``short``), and the live
portal that registers dossiers while a pull runs (fault ``grow``).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from dx_pipeline.app.quarter import ingest_portal
from dx_pipeline.app.settings import PortalSettings, Settings
from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.sample.portal_server import serve_portal
from dx_pipeline.sources.portal_client import (
    PortalIncomplete,
    PortalTotalChanged,
    load_state,
    pull_portal_quarter,
    quarter_landing,
    verify_landing,
)
from dx_pipeline.sources.portal_retry import RetryPolicy
from dx_pipeline.storage import DxHome, read_partition

TOKEN = "tok-SECRET-4242"
Q = "2025-Q2"
# No delay faults here: a read timeout long enough for a loaded machine, so no retry
# (the tests count the requests) comes from the server being slow to load its first page.
FAST: dict[str, Any] = dict(backoff_base=0.001, timeout=(2, 10), page_size=7)
HALF_OF_EVERY_PAGE = [{"kind": "short", "path": "*", "times": 10**6}]
# 60 dossiers in pages of 7: eight pages of 7 and one of 4, halved: 8 * 3 + 2 = 26 items.


def _warehouse_has(home: DxHome, table: str) -> bool:
    try:
        read_partition(home, table, Q)
    except FileNotFoundError:
        return False
    return True


def test_a_pull_given_half_of_every_page_is_refused_with_the_counts_and_its_pages_kept(source, target):
    with serve_portal(source, token=TOKEN, faults=HALF_OF_EVERY_PAGE) as server:
        with pytest.raises(PortalIncomplete) as info:
            pull_portal_quarter(target, Q, server.url, TOKEN, **FAST)
        statuses = [e["status"] for e in server.log]
    assert statuses == ["short"] * 9, "every page answered 200 with half its items, none retried"
    message = str(info.value)
    assert "pull of 2025-Q2 came up short" in message
    assert "advertised 60 dossiers, 26 were received in 9 pages" in message
    assert "Nothing was written" in message and TOKEN not in message
    pages = sorted((quarter_landing(target, Quarter.parse(Q)) / "pull-0001").glob("dossiers-p*.json"))
    assert len(pages) == 9 and verify_landing(target, Q) == []
    assert sum(len(json.loads(p.read_bytes())["items"]) for p in pages) == 26
    for table in ("portal_dossiers", "portal_rejects", "procedures"):
        assert not _warehouse_has(target, table), table
    state = load_state(target)["quarters"][Q]
    assert state["pulls"] == [] and state["in_progress"] is None
    assert state["abandoned"][0]["id"] == "pull-0001" and "26 were received" in state["abandoned"][0]["why"]


def test_after_a_refused_pull_an_honest_one_starts_afresh_and_is_written(source, target):
    with serve_portal(source, token=TOKEN, faults=HALF_OF_EVERY_PAGE) as server:
        with pytest.raises(PortalIncomplete):
            pull_portal_quarter(target, Q, server.url, TOKEN, **FAST)
        server.set_faults([])
        result = pull_portal_quarter(target, Q, server.url, TOKEN, **FAST)
    assert result.dossier_rows == 60 and result.procedure_rows == 12
    assert "pull-0002: 60 of 60 advertised dossiers and 12 of 12 procedures" in result.notes[0]
    pull = load_state(target)["quarters"][Q]["pulls"][0]
    assert pull["id"] == "pull-0002" and pull["full"] and pull["dossier_total"] == 60
    files = {f.split("/")[-2] for f in read_partition(target, "portal_dossiers", Q)["source_file"]}
    assert files == {"pull-0002"}, "the refused pull's pages are kept but never read"


def test_a_short_procedure_catalogue_is_refused_too(source, target):
    only_procedures = [{"kind": "short", "path": "/api/v1/procedures"}]
    with serve_portal(source, token=TOKEN, faults=only_procedures) as server:
        with pytest.raises(PortalIncomplete, match="advertised 12 procedures, 6 were received"):
            pull_portal_quarter(target, Q, server.url, TOKEN, page_size=50)
    assert not _warehouse_has(target, "portal_dossiers")


def test_a_total_that_grows_during_the_pull_restarts_it_from_the_first_page(source, target):
    with serve_portal(source, token=TOKEN, faults=[{"kind": "grow", "after": 2}]) as server:
        result = pull_portal_quarter(target, Q, server.url, TOKEN, **FAST)
    assert result.dossier_rows == 61
    state = load_state(target)["quarters"][Q]
    assert [p["id"] for p in state["pulls"]] == ["pull-0002"]
    assert "advertised 60 records, then 61 on page 3" in state["abandoned"][0]["why"]


def test_a_total_that_keeps_changing_fails_clearly_after_two_restarts(source, target):
    with serve_portal(source, token=TOKEN, faults=[{"kind": "grow", "after": 1, "times": 10**6}]) as server:
        with pytest.raises(PortalTotalChanged) as info:
            pull_portal_quarter(target, Q, server.url, TOKEN, **FAST)
    message = str(info.value)
    assert "pull-0003 of 2025-Q2" in message and "started over 2 times" in message
    assert "Nothing was written" in message
    assert not _warehouse_has(target, "portal_dossiers")


def test_the_quarters_ingest_stage_refuses_a_short_pull_with_no_previous_quarter(source, target):
    """The quarter's ingest stage as Dagster and `dx-pipeline run` call it: no partition of the
    quarter (or of any other) is written, so nothing downstream can rank or publish it."""
    with serve_portal(source, token=TOKEN, faults=HALF_OF_EVERY_PAGE) as server:
        settings = Settings(
            home=target, portal=PortalSettings(server.url, TOKEN, RetryPolicy(wait_scale=0.001))
        )
        with pytest.raises(PortalIncomplete, match=r"2025-Q2 came up short: .*advertised 60 dossiers, 30"):
            ingest_portal(settings, Q, "http")
    assert not list(target.root.rglob("*.parquet")) and not list(target.root.rglob("manifest.json"))
    assert not target.published.exists() or not any(target.published.iterdir())
