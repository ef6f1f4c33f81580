"""A half-year's appraisal on the small province (2025-Q3 and Q4 scored): computed with its
quarters, refused as provisional until both quarters are approved, its own verdicts from its
workbook (a quarter's verdict shown there, not carried into its points), provisional revision
and site, an appeal accepted, approval, final revision and site."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pandas as pd
import pytest
from openpyxl import load_workbook

from dx_pipeline.app import appraisal as ap
from dx_pipeline.app.period import publish_periods_closing_with
from dx_pipeline.app.quarter import score_quarter_kpis
from dx_pipeline.app.settings import Settings
from dx_pipeline.appraisal.adjustments import VerdictRequest
from dx_pipeline.appraisal.appeals import AppealRequest
from dx_pipeline.appraisal.approvals import ApprovalRequest
from dx_pipeline.appraisal.states import StateError
from dx_pipeline.appraisal.workbook import HEADER_ROWS, KEYS, SHEET
from dx_pipeline.publish.appraisal import computed_record
from dx_pipeline.publish.layout import period_dir, site_dir
from dx_pipeline.reference.quarters import Period, Quarter
from dx_pipeline.storage import DxHome, read_partition, write_partition
from dx_pipeline_tests.appraisal.conftest import SMALL_QUARTER as Q4
from dx_pipeline_tests.publish.site.conftest import kpis

Q3 = Quarter.parse("2025-Q3")
H2 = Period.parse("2025-H2")
COL = {k: i + 1 for i, k in enumerate(KEYS)}
T0 = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0) - dt.timedelta(days=20)
DAY = dt.timedelta(days=1)


def _manifest(home: DxHome, revision: int) -> dict:
    folder = period_dir(home, H2) / f"rev={revision}"
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


def _scores(home: DxHome, revision: int) -> Any:
    scores = pd.read_parquet(period_dir(home, H2) / f"rev={revision}" / "index_scores.parquet")
    return scores[scores["level"] == "indicator"].set_index(["framework_id", "agency_code", "node_id"])


def _approve(settings: Settings, period, number: str, when: dt.datetime) -> None:
    ap.approve(settings, period, ApprovalRequest(number, when.date(), "Ủy ban nhân dân tỉnh"), "UBND",
               now=when, site=False)


def test_a_half_year_is_appraised_approved_and_published_after_its_quarters(home, tmp_path):
    dx = DxHome(home)
    settings = Settings(dx)
    write_partition(dx, "agencies", Q3, read_partition(dx, "agencies", Q4).drop(columns="quarter"))
    write_partition(dx, "agency_kpis", Q3, kpis(read_partition(dx, "agencies", Q3), Q3.label, seed=5))
    score_quarter_kpis(settings, Q3)
    # a quarter's verdict: Q4's evidence of one indicator rejected
    ap.open_for_appraisal(settings, Q4, "test", now=T0)
    q4 = ap.scored_result(settings, Q4)
    fid, agency, node = ap.resolve_indicator(q4, "SO-01", "NT.2")
    ap.adjust(settings, Q4, VerdictRequest(fid, agency, node, "reject", "Minh chứng quý 4 không hợp lệ"),
              "Thẩm định viên", now=T0)

    # the pipeline publishes the half-year as computed; its appraisal opens with its workbook
    (h2, year) = publish_periods_closing_with(settings, Q4, {"by": "test"}, computed_record())
    assert h2.period == H2 and h2.quarters_combined == [Q3.label, Q4.label]
    assert _manifest(dx, 1)["status"] == "computed"
    out = ap.export_workbook(settings, H2, tmp_path / "h2.xlsx", "test", now=T0 + DAY)
    assert out.state == "under_appraisal" and out.rows > 0
    wb = load_workbook(out.path)
    ws: Any = wb[SHEET]
    rows = {tuple(str(ws.cell(r, COL[k]).value) for k in ("framework_id", "agency_code", "node_id")): r
            for r in range(HEADER_ROWS + 1, ws.max_row + 1)}
    # the quarter's verdict is shown to the period's evaluator, with each quarter's evidence
    evidence = str(ws.cell(rows[(fid, agency, node)], COL["evidence"]).value)
    assert f"{Q4.label} {node}: reject (Minh chứng quý 4 không hợp lệ)" in evidence
    # ... but does not carry into the period's points by itself: the period's verdicts are its own
    assert pd.isna(_scores(dx, 1).loc[(fid, agency, node)]["appraisal"])
    other = next(k for k in rows if k[1] == "SO-02")
    r = rows[other]
    ws.cell(r, COL["verdict"]).value = "Điều chỉnh điểm - adjust_points"
    ws.cell(r, COL["adjusted_points"]).value = 0
    ws.cell(r, COL["reason"]).value = "Cả hai quý thiếu minh chứng"
    wb.save(tmp_path / "h2.xlsx")
    imported = ap.import_workbook(settings, tmp_path / "h2.xlsx", "Thẩm định viên", H2.label, now=T0 + DAY)
    assert imported.period == H2.label and len(imported.recorded.ids) == 1 and imported.scores is None

    # not provisional while its quarters are open
    with pytest.raises(StateError, match=r"2025-H2: its quarters must be approved .* 2025-Q3 \(Chưa tính"):
        ap.publish_provisional(settings, H2, "test", days=2, now=T0 + 2 * DAY, site=False)
    for q, number in ((Q3, "1/QĐ-UBND"), (Q4, "2/QĐ-UBND")):
        ap.open_for_appraisal(settings, q, "test", now=T0 + 2 * DAY)
        ap.publish_provisional(settings, q, "test", days=1, now=T0 + 2 * DAY, site=False)
        _approve(settings, q, number, T0 + 4 * DAY)

    prov = ap.publish_provisional(settings, H2, "Nguyễn Văn An", days=2, now=T0 + 5 * DAY)
    rev = prov.publication.revision
    manifest = _manifest(dx, rev)
    assert manifest["status"] == "provisional" and manifest["appeal_window"]
    assert [b.period for b in prov.sites.built] == [H2.label] and not prov.sites.broken
    assert "KẾT QUẢ TẠM THỜI" in (site_dir(dx, H2, rev) / "index.html").read_text(encoding="utf-8")
    scored = _scores(dx, rev)
    assert scored.loc[other]["appraisal"] == "adjust_points" and scored.loc[other]["points"] == 0

    appeal_id = ap.file_appeal(settings, H2, AppealRequest(*other, "Quý 4 đã bổ sung văn bản"), "SO-02",
                               now=T0 + 6 * DAY)
    most = float(scored.loc[other]["max_points"])
    decided = ap.decide_appeal(settings, appeal_id, True, "Văn bản hợp lệ", "Thẩm định viên", points=most,
                               now=T0 + 6 * DAY)
    assert decided.period == H2.label and decided.adjustment_id is not None
    with pytest.raises(StateError, match="the appeal window is open until"):
        _approve(settings, H2, "3/QĐ-UBND", T0 + 6 * DAY)
    approval_id, final = ap.approve(settings, H2, ApprovalRequest("3/QĐ-UBND", (T0 + 8 * DAY).date(),
                                                                  "Ủy ban nhân dân tỉnh"), "UBND",
                                    now=T0 + 8 * DAY)
    frev = final.publication.revision
    manifest = _manifest(dx, frev)
    assert manifest["status"] == "final" and manifest["approval"]["decision_number"] == "3/QĐ-UBND"
    assert {a["reason"] for a in manifest["adjustments"]} >= {"kiến nghị #1 được chấp nhận: Văn bản hợp lệ"}
    assert [a["decision"] for a in manifest["appeals"]] == ["accepted"]
    assert _scores(dx, frev).loc[other]["points"] == most
    assert "KẾT QUẢ CHÍNH THỨC" in (site_dir(dx, H2, frev) / "index.html").read_text(encoding="utf-8")
    status = ap.status(settings, H2)
    assert [t.to_state for t in status.transitions] == [
        "computed", "under_appraisal", "provisional", "appeal_window", "final", "published"]
    assert approval_id >= 3 and status.transitions[-1].details["revision"] == frev
