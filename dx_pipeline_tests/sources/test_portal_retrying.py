"""A pull survives a long bad spell by itself (issue 15, item 5).

The sample portal server on 127.0.0.1 fails 60 % of requests on a seeded schedule (timeouts,
HTTP 500, 429 with Retry-After, connection resets); the client's jitter is seeded too, so the
same requests fail the same way on every run. The client's real backoff code runs: its waits
are only scaled down by ``RetryPolicy.wait_scale``.
"""

from __future__ import annotations

import random

import pytest

from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.sample.portal_server import serve_portal
from dx_pipeline.sources.portal_client import (
    PortalClient,
    PortalRetriesSpent,
    PortalTimeBudgetSpent,
    pull_portal_quarter,
    quarter_landing,
    verify_landing,
)
from dx_pipeline.sources.portal_files import ingest_portal_files
from dx_pipeline.sources.portal_retry import RetryPolicy
from dx_pipeline.storage import DxHome, read_partition

TOKEN = "tok-SECRET-4242"
Q = "2025-Q2"
SEED = 15
SIXTY_PERCENT = [{
    "kind": "mix", "path": "*", "times": 10**6, "rate": 0.6, "seed": SEED,
    "kinds": ["delay", "500", "429", "reset"], "retry_after": "1", "seconds": 1.0,
}]
SCALED = RetryPolicy(wait_scale=0.002, timeout=(2.0, 0.5))
"""The production budgets and backoff, every wait 500 times shorter; a 1 s delay times out."""
FAILED = {"reset", 500, 429, "delay"}


def _rows(home):
    df = read_partition(home, "portal_dossiers", Q).drop(columns=["source_file"])
    return df.sort_values(["dossier_id", "updated_at"]).reset_index(drop=True)


def _good_tokens(log, path="/api/v1/dossiers"):
    asked = [e["query"] for e in log if e["path"] == path and e["status"] == 200]
    return [q.split("page_token=")[1].split("&")[0] if "page_token=" in q else "" for q in asked]


def _pull_under_faults(source, target):
    client_rng = random.Random(SEED)
    with serve_portal(source, token=TOKEN, faults=SIXTY_PERCENT) as server:
        server.data.dossiers(Quarter.parse(Q))  # loaded before the client's timeouts run
        server.data.procedures()
        client = PortalClient(server.url, TOKEN, policy=SCALED, rng=client_rng.random)
        result = pull_portal_quarter(target, Q, client=client, page_size=6)
        log = list(server.log)
    return result, client, log


def test_sixty_percent_faults_a_pull_completes_by_itself_the_same_way_every_time(source, tmp_path):
    target = DxHome(tmp_path / "pipeline")
    result, client, log = _pull_under_faults(source, target)
    statuses = [e["status"] for e in log]
    failed = [s for s in statuses if s in FAILED]  # "delay": answered after the client's timeout
    assert FAILED <= set(statuses)
    assert len(failed) / len(statuses) >= 0.5, statuses
    tokens = _good_tokens(log)
    assert len(tokens) == len(set(tokens)) == 10, "each of the 10 pages fetched once, none skipped"
    assert max(client.attempts) <= SCALED.attempts and len(client.attempts) == 10 + 2
    assert sum(client.attempts) == len(log), "every request the server saw was an attempt counted"
    assert result.dossier_rows == 60 and result.procedure_rows == 12
    ingest_portal_files(source, Q)
    assert _rows(target).equals(_rows(source))
    assert verify_landing(target, Q) == []
    n429 = statuses.count(429)
    assert client.waited >= n429 * 1.0 * SCALED.wait_scale, "Retry-After: 1 waited (scaled) each time"
    _, again, log_again = _pull_under_faults(source, DxHome(tmp_path / "again"))
    assert [(e["query"], e["status"]) for e in log_again] == [(e["query"], e["status"]) for e in log]
    assert again.attempts == client.attempts


def test_a_get_that_spends_its_attempts_resumes_from_the_last_good_page_in_the_same_call(source, tmp_path):
    target = DxHome(tmp_path / "pipeline")
    with serve_portal(source, token=TOKEN, faults=[{"kind": "500", "after": 3, "times": 5}]) as server:
        result = pull_portal_quarter(target, Q, server.url, TOKEN, attempts=3, wait_scale=0.001, page_size=7)
        log = list(server.log)
    assert [e["status"] for e in log].count(500) == 5
    tokens = _good_tokens(log)
    assert tokens == ["", "7", "14", "21", "28", "35", "42", "49", "56"], "no page fetched twice"
    assert result.dossier_rows == 60
    with serve_portal(source, token=TOKEN, faults=[{"kind": "500", "after": 3, "times": 100}]) as server:
        with pytest.raises(PortalRetriesSpent, match="failed after 3 attempts: HTTP 500.*resumed 1 times"):
            pull_portal_quarter(DxHome(tmp_path / "other"), Q, server.url, TOKEN, attempts=3, resumes=1,
                                wait_scale=0.001, page_size=7)


def test_landed_pages_that_verify_are_not_fetched_again_and_a_damaged_one_is(source, tmp_path):
    target = DxHome(tmp_path / "pipeline")
    with serve_portal(source, token=TOKEN, faults=[{"kind": "500", "after": 4, "times": 10**6}]) as server:
        with pytest.raises(PortalRetriesSpent):
            pull_portal_quarter(target, Q, server.url, TOKEN, attempts=2, resumes=0, wait_scale=0.001,
                                page_size=7)
        page2 = quarter_landing(target, Quarter.parse(Q)) / "pull-0001" / "dossiers-p00002.json"
        page2.write_bytes(page2.read_bytes()[:-40] + b"garbage")
        assert verify_landing(target, Q) == ["pull-0001/dossiers-p00002.json"]
        server.set_faults([])
        server.log.clear()
        result = pull_portal_quarter(target, Q, server.url, TOKEN, wait_scale=0.001, page_size=7)
        tokens = _good_tokens(server.log)
    assert tokens == ["7", "28", "35", "42", "49", "56"], "page 2 again, then from page 5 on"
    assert result.dossier_rows == 60 and verify_landing(target, Q) == []
    assert _rows(target)["dossier_id"].is_unique


def test_a_pull_stops_at_its_time_budget_saying_so(source, tmp_path):
    with serve_portal(source, token=TOKEN, faults=[{"kind": "500", "times": 10**6}]) as server:
        with pytest.raises(PortalTimeBudgetSpent, match="time budget of 0.5 s is spent") as info:
            pull_portal_quarter(DxHome(tmp_path / "pipeline"), Q, server.url, TOKEN, time_budget=0.5,
                                backoff_base=0.2, rng=random.Random(1).random, page_size=7)
    assert "rerun the pull to resume" in str(info.value)


def test_unknown_retry_options_are_refused_by_name():
    with pytest.raises(TypeError, match="max_retries"):
        PortalClient("http://127.0.0.1:1", TOKEN, max_retries=3)
