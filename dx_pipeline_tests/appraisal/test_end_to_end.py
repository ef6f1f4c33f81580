"""Issue 19's "Done when": a sample quarter from computed to a published final result.

The sample province (scale 0.01, one quarter) is computed by the pipeline's stages; then the
appraisal workbook is exported, filled with openpyxl the way an evaluator fills it (a value
adjusted, an evidence rejected, a figure accepted) and imported; the provisional revision and
its site are published; an agency's appeal is filed and accepted; the decision approving the
result is recorded and the final revision and its site are published. On PostgreSQL when
``$DX_TEST_POSTGRES_URL`` is set, else on the default SQLite file under DX_HOME.

The steps run at recorded times (ten days ago to now) so the appeal window can close without
the test waiting for it; every step's own checks run as they do from the command line.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest
from openpyxl import load_workbook
from sqlalchemy.exc import DBAPIError

from dx_pipeline.app import appraisal as ap
from dx_pipeline.app import quarter as stages
from dx_pipeline.app.appraisal_db import appraisal_db
from dx_pipeline.app.settings import Settings
from dx_pipeline.appraisal.appeals import AppealRequest
from dx_pipeline.appraisal.approvals import ApprovalRequest
from dx_pipeline.appraisal.audit import audit_trail
from dx_pipeline.appraisal.database import TABLES
from dx_pipeline.appraisal.workbook import HEADER_ROWS, KEYS, SHEET
from dx_pipeline.cli.main import main
from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.sample.generate import generate_sample
from dx_pipeline.storage import DxHome
from dx_pipeline_tests.support.postgres import ENV, fresh_database

Q = Quarter.parse("2025-Q2")
NOW = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
T0 = NOW - dt.timedelta(days=10)
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
EVALUATOR = "Trần Thị Bình (Sở KH&CN)"
ADJUST_REASON = "Biên bản kiểm tra: chưa có hồ sơ nào xử lý trên mạng"
COL = {k: i + 1 for i, k in enumerate(KEYS)}


@contextlib.contextmanager
def _database_url(tmp_path):
    """A fresh PostgreSQL database when the server is configured, else None (SQLite)."""
    if os.environ.get(ENV):
        with fresh_database("dx_e2e") as url:
            yield url
    else:
        yield None


@pytest.fixture(scope="module")
def computed(tmp_path_factory):
    """The sample quarter computed by the pipeline's stages, and its settings."""
    root = tmp_path_factory.mktemp("e2e")
    home = DxHome(root / "home").ensure()
    generate_sample(home, seed=7, scale=0.01, quarters=[Q])
    plain = Settings(home)
    stages.load_agencies(plain, Q)
    stages.ingest_portal(plain, Q)
    stages.ingest_quarter_submissions(plain, Q)
    stages.compute_quarter_kpis(plain, Q)
    with _database_url(root) as url:
        settings = Settings(home, appraisal_db_url=url)
        stages.score_quarter_kpis(settings, Q)
        yield settings


def _pick_rows(ws) -> dict[str, int]:
    """Three data rows of different agencies' rate indicators that earned points, not all."""
    picked, agencies = [], set()
    for r in range(HEADER_ROWS + 1, ws.max_row + 1):
        cell = {k: ws.cell(r, COL[k]).value for k in KEYS}
        if (cell["unit"] == "ratio" and 0 < cell["reported_points"] < cell["max_points"]
                and cell["agency_code"] not in agencies):
            picked.append(r)
            agencies.add(cell["agency_code"])
        if len(picked) == 3:
            break
    assert len(picked) == 3
    return dict(zip(("adjust", "reject", "accept"), picked, strict=True))


def _fill(path, out) -> dict[str, tuple[str, str, str]]:
    """Fill the workbook as an evaluator: one value adjusted, one evidence rejected, one accepted."""
    wb = load_workbook(path)
    ws: Any = wb[SHEET]
    assert ws.protection.sheet and ws.cell(2, 1).protection.locked
    rows = _pick_rows(ws)
    fill = {
        "adjust": ("Điều chỉnh giá trị - adjust_value", 0.0, ADJUST_REASON),
        "reject": ("Không chấp nhận minh chứng - reject", None, "Văn bản minh chứng không có chữ ký"),
        "accept": ("Chấp nhận - accept", None, "Đã đối chiếu với hệ thống"),
    }
    for kind, r in rows.items():
        verdict, value, reason = fill[kind]
        assert not ws.cell(r, COL["verdict"]).protection.locked
        ws.cell(r, COL["verdict"]).value = verdict
        ws.cell(r, COL["adjusted_value"]).value = value
        ws.cell(r, COL["reason"]).value = reason
    wb.save(out)
    return {kind: (str(ws.cell(r, COL["framework_id"]).value), str(ws.cell(r, COL["agency_code"]).value),
                   str(ws.cell(r, COL["node_id"]).value)) for kind, r in rows.items()}


class Trail:
    """The audit trail after each step: each one must extend the one before, row for row."""

    def __init__(self, settings: Settings):
        self.settings, self.seen = settings, {t.name: [] for t in TABLES}

    def check(self) -> dict:
        with appraisal_db(self.settings) as db, db.read() as conn:
            now = audit_trail(conn, Q.label)
        for table, rows in self.seen.items():
            assert now[table][: len(rows)] == rows, f"{table}: a recorded row changed or vanished"
        self.seen = now
        return now


def _refused(settings: Settings) -> None:
    """UPDATE and DELETE of recorded rows are refused by the database itself."""
    with appraisal_db(settings) as db:
        for statement in ("UPDATE adjustments SET reason = 'sửa lén' WHERE id = 1",
                          "DELETE FROM state_transitions", "DELETE FROM appeals"):
            with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as conn:
                conn.exec_driver_sql(statement)


def _traceable(settings: Settings, scores: pd.DataFrame) -> set[int]:
    """Every indicator row with a verdict names its record, and the record its reason; the
    ids of the records behind points that differ from the reported ones."""
    with appraisal_db(settings) as db, db.read() as conn:
        records = {r["id"]: r for r in audit_trail(conn, Q.label)["adjustments"]}
    marked = scores[scores["adjustment_id"].notna()]
    assert len(marked) >= 3
    changed = set()
    for row in marked.to_dict("records"):
        rec = records[int(row["adjustment_id"])]
        assert (rec["framework_id"], rec["agency_code"], rec["node_id"]) == (
            row["framework_id"], row["agency_code"], row["node_id"])
        assert rec["verdict"] == row["appraisal"] and rec["reason"].strip()
        assert rec["reported_points"] == pytest.approx(row["reported_points"])
        if abs(row["points"] - row["reported_points"]) > 1e-9:
            changed.add(int(row["adjustment_id"]))
    return changed


def _site_ok(published: ap.Published, final: bool) -> str:
    assert [b.final for b in published.sites.built][:1] == [final]
    site = published.sites.built[0].path
    assert published.sites.broken == []  # every link of the built site checked
    return "\n".join(p.read_text(encoding="utf-8") for p in site.rglob("*.html"))


def test_a_quarter_goes_from_computed_to_a_published_final_result(computed, tmp_path, capsys, monkeypatch):
    settings = computed
    trail = Trail(settings)
    exported = ap.export_workbook(settings, Q, tmp_path / "tham-dinh.xlsx", "Nguyễn Văn An", now=T0)
    assert exported.state == "under_appraisal" and exported.rows > 1000
    keys = _fill(exported.path, tmp_path / "da-dien.xlsx")
    imported = ap.import_workbook(settings, tmp_path / "da-dien.xlsx", EVALUATOR, now=T0 + HOUR)
    assert len(imported.recorded.ids) == 3 and imported.scores is not None
    assert stages.scores_reproduce(settings, Q)[0]  # the stored scores are the appraised ones
    trail.check()

    provisional = ap.publish_provisional(settings, Q, "Nguyễn Văn An", days=3, now=T0 + DAY)
    manifest = provisional.publication.manifest.to_dict()
    assert manifest["status"] == "provisional" and manifest["appeal_window"]["closes"].startswith(
        (T0 + 4 * DAY).date().isoformat())
    pages = _site_ok(provisional, final=False)
    assert "KẾT QUẢ TẠM THỜI" in pages and "Sở Khoa học và Công nghệ đến hết" in pages
    trail.check()

    fid, agency, node = keys["reject"]
    appeal_id = ap.file_appeal(settings, Q, AppealRequest(fid, agency, node, "Văn bản đã được ký ngày 30/6"),
                               "UBND " + agency, now=T0 + 2 * DAY)
    scored = ap.scored_result(settings, Q)
    half = round(float(scored.row(fid, agency, node)["reported_points"]) / 2, 2)
    decided = ap.decide_appeal(settings, appeal_id, True, "Chữ ký hợp lệ, minh chứng chấp nhận một phần",
                               EVALUATOR, points=half, now=T0 + 2 * DAY)
    assert decided.adjustment_id is not None and decided.scores is not None
    trail.check()

    decision = ApprovalRequest("215/QĐ-UBND", NOW.date(), "Ủy ban nhân dân tỉnh")
    approval_id, final = ap.approve(settings, Q, decision, "Văn phòng UBND tỉnh", now=NOW)
    after = trail.check()
    assert [t["to_state"] for t in after["state_transitions"]] == [
        "computed", "under_appraisal", "provisional", "appeal_window", "final", "published"]
    assert after["approvals"][0]["decision_number"] == "215/QĐ-UBND" and approval_id == 1
    _refused(settings)
    assert trail.check() == after  # the refused statements changed nothing

    rev = final.publication
    assert rev.revision == provisional.publication.revision + 1
    manifest = json.loads((rev.path / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "final" and manifest["approval"]["decision_number"] == "215/QĐ-UBND"
    scores = pq.read_table(rev.path / "index_scores.parquet").to_pandas()
    changed = _traceable(settings, scores)
    listed = {a["id"] for a in manifest["adjustments"]}
    assert listed == changed and len(changed) == 2  # the value set to 0, the appeal's points
    assert decided.adjustment_id in listed
    [appeal] = manifest["appeals"]
    assert appeal["id"] == appeal_id and appeal["decision"] == "accepted" and appeal["changed_points"]
    assert manifest["audit"]["audit_sha256"] == manifest["content"]["appraisal"]["audit_sha256"]
    pages = _site_ok(final, final=True)
    assert "KẾT QUẢ CHÍNH THỨC" in pages and "Quyết định số 215/QĐ-UBND" in pages and ADJUST_REASON in pages
    report = (rev.path / "report.html").read_text(encoding="utf-8")  # the printable summary
    assert "Điều chỉnh khi thẩm định và kiến nghị" in report and ADJUST_REASON in report
    assert "Văn bản đã được ký ngày 30/6" in report and "Chấp nhận kiến nghị" in report

    if settings.appraisal_db_url:
        monkeypatch.setenv("DX_APPRAISAL_DB_URL", settings.appraisal_db_url)
    capsys.readouterr()
    assert main(["--home", str(settings.home.root), "appraisal", "status", "--quarter", Q.label]) == 0
    out = capsys.readouterr().out
    assert "Đã công bố (Published)" in out and "by Văn phòng UBND tỉnh" in out
    assert f"appeal #{appeal_id}" in out and "accepted by" in out
