"""The portal client against the real sample portal server, with every injected fault."""

import json
import logging

import pytest

from dx_pipeline.kpis.compute import compute_agency_kpis
from dx_pipeline.sample.portal_server import serve_portal
from dx_pipeline.sources.portal_client import (
    PortalClient,
    PortalError,
    load_state,
    pull_portal_quarter,
    verify_landing,
)
from dx_pipeline.sources.portal_files import ingest_portal_files
from dx_pipeline.storage import read_partition

TOKEN = "tok-SECRET-4242"
Q = "2025-Q2"
FAST = dict(backoff_base=0.001, timeout=(2, 0.4), page_size=7)


def _rows(home):
    df = read_partition(home, "portal_dossiers", Q).drop(columns=["source_file"])
    return df.sort_values(["dossier_id", "updated_at"]).reset_index(drop=True)


REGISTRY = __import__("pandas").DataFrame(
    [("TINH", "province", None), ("SO_TP", "department", "TINH"), ("SO_XD", "department", "TINH"),
     ("XA_01", "commune", "TINH")],
    columns=["agency_code", "level", "parent_code"],
)


def test_pull_with_every_fault_equals_the_export_files(source, target, caplog):
    caplog.set_level(logging.DEBUG)
    faults = [
        {"kind": "500"},
        {"kind": "429", "after": 1, "retry_after": "0"},
        {"kind": "truncate", "after": 3},
        {"kind": "bad_json", "after": 5},
        {"kind": "duplicate", "after": 7},
        {"kind": "reset", "after": 8},
        {"kind": "delay", "after": 10, "seconds": 1.0},
        {"kind": "500", "path": "/api/v1/procedures", "status": 503},
    ]
    with serve_portal(source, token=TOKEN, faults=faults) as server:
        result = pull_portal_quarter(target, Q, server.url, TOKEN, **FAST)
        statuses = [e["status"] for e in server.log]
    for kind in (500, 429, "truncate", "bad_json", "duplicate", "reset", 503):
        assert kind in statuses, kind
    files = ingest_portal_files(source, Q)
    assert result.dossier_rows == files.dossier_rows == 60
    assert result.procedure_rows == files.procedure_rows == 12
    assert _rows(target).equals(_rows(source))
    k_http = compute_agency_kpis(target, Q, REGISTRY)
    k_files = compute_agency_kpis(source, Q, REGISTRY)
    diff = k_http.compare(k_files) if k_http.shape == k_files.shape else (k_http.shape, k_files.shape)
    assert len(k_http) > 20 and k_http.equals(k_files), diff
    assert verify_landing(target, Q) == []
    assert TOKEN not in caplog.text


def test_retry_after_is_honoured(source, target):
    waits = []
    client = PortalClient("http://127.0.0.1:1", TOKEN, sleep=waits.append, backoff_base=0.001)
    with serve_portal(source, token=TOKEN, faults=[{"kind": "429", "retry_after": "7"}]) as server:
        client.base_url = server.url
        pull_portal_quarter(target, Q, client=client, page_size=50)
    assert waits[0] == 7.0


def test_clear_error_after_budget_then_resume_without_duplicates(source, target, caplog):
    caplog.set_level(logging.DEBUG)
    with serve_portal(source, token=TOKEN, faults=[{"kind": "500", "after": 3, "times": 100}]) as server:
        with pytest.raises(PortalError) as info:
            pull_portal_quarter(target, Q, server.url, TOKEN, attempts=3, resumes=0, **FAST)
        message = str(info.value)
        assert "failed after 3 attempts: HTTP 500" in message and "resume" in message
        assert TOKEN not in message and TOKEN not in repr(info.value)
        state = load_state(target)["quarters"][Q]["in_progress"]
        assert state["dossiers"]["pages"] == 3 and state["dossiers"]["next_token"] == "21"
        server.set_faults([])
        result = pull_portal_quarter(target, Q, server.url, TOKEN, **FAST)
        asked = [e["query"] for e in server.log if e["path"] == "/api/v1/dossiers" and e["status"] == 200]
    assert result.dossier_rows == 60
    assert _rows(target)["dossier_id"].is_unique
    tokens = [q.split("page_token=")[1].split("&")[0] if "page_token=" in q else "" for q in asked]
    assert len(tokens) == len(set(tokens)) == 9  # every page fetched once
    assert TOKEN not in caplog.text
    assert TOKEN not in json.dumps(load_state(target)) and TOKEN not in repr(PortalClient("http://x", TOKEN))


def test_wrong_token_fails_at_once_without_leaking(source, target):
    with serve_portal(source, token=TOKEN) as server:
        with pytest.raises(PortalError, match="HTTP 401") as info:
            pull_portal_quarter(target, Q, server.url, "wrong-" + TOKEN, **FAST)
    assert TOKEN not in str(info.value)


def test_incremental_pull_takes_latest_version(source, target):
    with serve_portal(source, token=TOKEN) as server:
        pull_portal_quarter(target, Q, server.url, TOKEN, **FAST)
        cursor = load_state(target)["quarters"][Q]["cursor"]
        recs = server.data.dossiers(
            __import__("dx_pipeline.reference.quarters", fromlist=["Quarter"]).Quarter.parse(Q)
        )
        recs[0]["TrangThaiHoSo"] = "7"
        recs[0]["NgayCapNhat"] = "20250801000000"
        second = pull_portal_quarter(target, Q, server.url, TOKEN, **FAST)
        queries = [e["query"] for e in server.log if e["path"] == "/api/v1/dossiers"]
    assert f"updated_since={cursor}" in queries[-1]
    assert second.dossier_rows == 60
    rows = _rows(target).set_index("dossier_id")
    assert rows.loc[recs[0]["MaHoSo"], "status"] == "withdrawn"
    assert load_state(target)["quarters"][Q]["cursor"] == "20250801000000"
