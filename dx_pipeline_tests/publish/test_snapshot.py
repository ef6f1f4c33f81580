"""Immutable snapshots: revision 1, idempotent reruns, revision 2 with a reason, atomicity."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat

import duckdb
import pandas as pd
import pytest

from dx_pipeline.publish import snapshot as snapshot_module
from dx_pipeline.publish.snapshot import (
    OUTPUT_FILES,
    get_publication,
    list_publications,
)
from dx_pipeline.storage import DxHome, read_partition, write_partition

from .conftest import make_inputs, publish

WHEN = dt.datetime(2025, 7, 10, 8, 30, 0)


def _hashes(folder):
    import hashlib

    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_first_publication_is_revision_1_with_a_full_manifest(home, inputs):
    pub = publish(home, inputs, published_at=WHEN)
    assert pub.created and pub.revision == 1
    assert pub.path == home.published / "ranking" / "quarter=2025-Q2" / "rev=1"
    tables = ["agency_kpis.parquet", "agencies.parquet", "rank_uncertainty.parquet"]
    assert sorted(p.name for p in pub.path.iterdir()) == sorted([*OUTPUT_FILES, *tables, "manifest.json"])

    m = json.loads((pub.path / "manifest.json").read_text(encoding="utf-8"))
    assert m["revision"] == 1 and m["period"] == "2025-Q2" and m["kind"] == "quarter"
    assert m["published_at"] == "2025-07-10T08:30:00Z"
    assert m["trigger"] == "cli:test"
    assert m["reason"].startswith("first publication") and m["reason_vi"] == "Công bố lần đầu"
    assert m["frameworks"][0]["id"] == "dx_tinh_2025" and m["frameworks"][0]["version"] == "2025.1"
    assert m["frameworks"][0]["sha256"] == "a" * 64
    assert m["code_version"] == {"package": "0.1.0", "git_commit": "deadbeef"}
    assert [i["path"] for i in m["inputs"]] == sorted(i["path"] for i in inputs["inputs"])
    assert m["row_counts"]["ranking"] == 8 and m["row_counts"]["index_scores"] == 72
    assert m["row_counts"]["agency_kpis"] == 48
    assert set(m["outputs"]) == {*OUTPUT_FILES, *tables}
    for name, meta in m["outputs"].items():
        assert _hashes(pub.path)[name] == meta["sha256"]

    folder = pub.path.parent
    assert (folder / "LATEST").read_text() == "rev=1\n"
    assert os.readlink(folder / "latest") == "rev=1"
    for p in pub.path.iterdir():
        assert not p.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH), p

    rows = duckdb.sql(
        "SELECT agency_code, rank, revision, published_at "
        f"FROM read_parquet('{pub.path / 'ranking.parquet'}') "
        "ORDER BY peer_group, agency_code"
    ).fetchall()
    assert len(rows) == 8
    assert {r[2] for r in rows} == {1} and {r[3] for r in rows} == {WHEN}
    assert dict((r[0], r[1]) for r in rows)["SNNMT"] is None  # assessed, not ranked


def test_identical_rerun_publishes_nothing_and_returns_the_latest(home, inputs):
    first = publish(home, inputs)
    again = publish(home, make_inputs(), trigger="schedule", published_at=WHEN)
    assert not again.created
    assert again.revision == 1 and again.path == first.path
    assert again.published_at == first.published_at
    assert [p.name for p in first.path.parent.glob("rev=*")] == ["rev=1"]


def test_changed_content_gives_revision_2_and_leaves_revision_1_untouched(home, inputs):
    first = publish(home, inputs, published_at=WHEN)
    before = _hashes(first.path)
    changed = make_inputs(seed=8)
    changed["inputs"][0]["sha256"] = "9" * 64  # a late submission replaced the STC workbook
    second = publish(home, changed, published_at=WHEN + dt.timedelta(days=3))
    assert second.created and second.revision == 2
    assert "inputs changed: inbox/2025-Q2/STC_baocao.xlsx" in second.reason
    assert "results changed" in second.reason and "ranking" in second.reason
    assert second.manifest.reason_vi.startswith("Tệp đầu vào thay đổi: inbox/2025-Q2/STC_baocao.xlsx")
    assert "kết quả thay đổi: " in second.manifest.reason_vi and "bảng xếp hạng" in second.manifest.reason_vi
    assert second.manifest.previous_revision == 1
    assert _hashes(first.path) == before
    assert (first.path.parent / "LATEST").read_text() == "rev=2\n"
    assert os.readlink(first.path.parent / "latest") == "rev=2"
    assert get_publication(home, "2025-Q2").revision == 2
    assert get_publication(home, "2025-Q2", 1).manifest.revision == 1
    assert [(p.period, p.revision) for p in list_publications(home)] == [("2025-Q2", 1), ("2025-Q2", 2)]
    # Going back to the first content is a change too: revision 3, never a rewrite of 1.
    third = publish(home, inputs, reason="Sửa sai số liệu Sở Y tế theo công văn 123/SKHCN")
    assert third.revision == 3 and third.reason == "Sửa sai số liệu Sở Y tế theo công văn 123/SKHCN"


def test_identical_content_gives_identical_bytes(tmp_path, inputs):
    a = publish(DxHome(tmp_path / "a"), inputs, published_at=WHEN)
    b = publish(DxHome(tmp_path / "b"), make_inputs(), published_at=WHEN)
    assert _hashes(a.path) == _hashes(b.path)


def test_a_failed_publication_leaves_nothing_behind(home, inputs, monkeypatch):
    publish(home, inputs)

    def boom(_revision):
        raise RuntimeError("disk full while rendering")

    monkeypatch.setattr(snapshot_module, "render_summary", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        publish(home, make_inputs(seed=9))
    folder = home.published / "ranking" / "quarter=2025-Q2"
    assert sorted(p.name for p in folder.iterdir()) == [".lock", "LATEST", "latest", "rev=1"]
    assert (folder / "LATEST").read_text() == "rev=1\n"


def test_bad_input_is_refused_with_a_clear_message(home, inputs):
    no_band = inputs["ranking"].drop(columns=["band"])
    with pytest.raises(ValueError, match=r"ranking lacks columns \['band'\]"):
        publish(home, inputs, ranking=no_band)
    twice = pd.concat([inputs["ranking"], inputs["ranking"].iloc[[0]]], ignore_index=True)
    dup = inputs["ranking"]["agency_code"].iloc[0]
    with pytest.raises(ValueError, match=f"agencies twice.*{dup}"):
        publish(home, inputs, ranking=twice)
    wrong = inputs["ranking"].assign(quarter="2025-Q1")
    with pytest.raises(
        ValueError, match=r"ranking.quarter holds \['2025-Q1'\], but this publication is 2025-Q2"
    ):
        publish(home, inputs, ranking=wrong)
    with pytest.raises(ValueError, match="trigger is required"):
        publish(home, inputs, trigger="")
    assert not (home.published / "ranking" / "quarter=2025-Q2").exists() or not list(
        (home.published / "ranking" / "quarter=2025-Q2").glob("rev=*")
    )


def test_published_rows_feed_the_warehouse_ranking_snapshot(home, inputs):
    pub = publish(home, inputs, published_at=WHEN)
    rows = pub.ranking()
    assert list(rows.columns[:2]) == ["quarter", "framework_id"]
    assert set(rows["revision"]) == {1}
    write_partition(home, "ranking_snapshot", "2025-Q2", rows)
    back = read_partition(home, "ranking_snapshot", "2025-Q2")
    assert back.loc[back["agency_code"] == "STC", "revision"].item() == 1
    assert back["published_at"].iloc[0] == pd.Timestamp(WHEN)


def test_a_half_year_is_published_under_its_period_folder(home, inputs):
    pub = publish(home, inputs, quarter=None, period="2025-H1", published_at=WHEN)
    assert pub.path == home.published / "ranking" / "period=2025-H1" / "rev=1"
    assert pub.kind == "half" and pub.manifest.quarters == ("2025-Q1", "2025-Q2")
    csv = (pub.path / "ranking.csv").read_text(encoding="utf-8-sig").splitlines()
    assert csv[0].startswith("period,framework_id,") and csv[1].startswith("2025-H1,")
    annual = publish(home, inputs, quarter="2025", published_at=WHEN)
    assert annual.path.parent.name == "period=2025" and annual.kind == "year"
    assert "6 tháng đầu năm 2025" in (pub.path / "report.html").read_text(encoding="utf-8")


def test_concurrent_identical_publications_make_one_revision(home, inputs):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=3) as pool:
        pubs = list(pool.map(lambda i: publish(home, make_inputs(), trigger=f"worker:{i}"), range(3)))
    assert sorted(p.revision for p in pubs) == [1, 1, 1]
    assert sum(p.created for p in pubs) == 1
    assert [p.name for p in (home.published / "ranking" / "quarter=2025-Q2").glob("rev=*")] == ["rev=1"]


def test_a_stale_latest_pointer_never_causes_an_overwrite(home, inputs):
    publish(home, inputs)
    publish(home, make_inputs(seed=8))
    folder = home.published / "ranking" / "quarter=2025-Q2"
    os.chmod(folder / "LATEST", 0o644)
    (folder / "LATEST").write_text("rev=1\n")  # as if a crash hit between rename and pointer
    third = publish(home, make_inputs(seed=9))
    assert third.revision == 3 and third.manifest.previous_revision == 2
    assert (folder / "LATEST").read_text() == "rev=3\n"
