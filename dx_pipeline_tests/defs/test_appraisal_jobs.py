"""The appraisal through Dagster: the schedule's tick computes the quarter and opens its appraisal
(nothing final), and the provisional and approval jobs take the quarter to a final revision.

One quarter of the sample province (scale 0.01) on one ephemeral instance, shared by the
tests: the schedule is evaluated for its July 2025 tick and its run request executed as the
daemon would. The appraisal's clock (``utc_now``, what every recorded transition is stamped
with) is set ten days back for the computation and the provisional step, so the appeal window
has closed when the approval job runs at the real time; nothing else is replaced.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from dagster import AssetKey, DagsterInstance, build_schedule_context
from openpyxl import load_workbook

from dx_pipeline.app import appraisal as ap
from dx_pipeline.app.settings import Settings
from dx_pipeline.appraisal import appeal_workbook as aw
from dx_pipeline.appraisal import database
from dx_pipeline.appraisal.workbook import HEADER_ROWS, KEYS, SHEET
from dx_pipeline.defs.definitions import build_definitions
from dx_pipeline.publish.layout import period_dir, site_dir
from dx_pipeline.reference.quarters import Period, Quarter
from dx_pipeline.sample.generate import generate_sample
from dx_pipeline.storage import DxHome, read_partition

Q = Quarter.parse("2025-Q1")
"""A quarter that closes no half-year or year: only the quarter's own revisions are published."""
TICK = dt.datetime(2025, 4, 16, 2, 0, tzinfo=dt.timezone(dt.timedelta(hours=7)))
"""The schedule's tick after 2025-Q1 closed (02:00 Vietnam time on 16 April)."""
T0 = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0) - dt.timedelta(days=10)
HOUR = dt.timedelta(hours=1)
COL = {k: i + 1 for i, k in enumerate(KEYS)}
APPROVAL = {"decision_number": "215/QĐ-UBND", "decision_date": dt.date.today().isoformat(),
            "by": "Văn phòng UBND tỉnh"}


def _clock(mp: pytest.MonkeyPatch, at: dt.datetime) -> None:
    """The appraisal database's clock at ``at``."""
    mp.setattr(database, "utc_now", lambda: at)


def _manifest(home: DxHome, revision: int) -> dict:
    folder = period_dir(home, Period.parse(Q)) / f"rev={revision}"
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


def _materialization(result, asset: str):
    (event,) = [e.materialization for e in result.get_asset_materialization_events()
                if e.asset_key == AssetKey(asset)]
    return event.metadata


def _failures(result) -> str:
    return "\n".join(e.event_specific_data.error.to_string()
                     for e in result.all_events if e.is_step_failure)


@pytest.fixture(scope="module")
def scheduled(tmp_path_factory):
    """The sample quarter run as the schedule's tick requests it; the definitions, instance,
    run request, result and the appraisal's state right after it."""
    root = tmp_path_factory.mktemp("appraisal_jobs")
    home = DxHome(root).ensure()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DX_HOME", str(root))
        for name in ("DX_REGISTRY", "DX_REPORTING_DB_URL", "DX_APPRAISAL_DB_URL"):
            mp.delenv(name, raising=False)
        generate_sample(home, seed=7, scale=0.01, quarters=[Q])
        defs = build_definitions()
        instance = DagsterInstance.ephemeral()
        schedule = defs.resolve_schedule_def("quarterly_ranking_schedule")
        tick = build_schedule_context(instance=instance, scheduled_execution_time=TICK,
                                      repository_def=defs.get_repository_def())
        (request,) = schedule.evaluate_tick(tick).run_requests or []
        with pytest.MonkeyPatch.context() as clock:
            _clock(clock, T0)
            result = defs.resolve_job_def(schedule.job_name).execute_in_process(
                instance=instance, partition_key=request.partition_key, tags=request.tags,
                raise_on_error=False)
        status = ap.status(Settings(home), Q)
        yield {"home": home, "defs": defs, "instance": instance, "request": request, "result": result,
               "status": status}


def _run(scheduled, job: str, config: dict, **kwargs):
    return scheduled["defs"].resolve_job_def(job).execute_in_process(
        instance=scheduled["instance"], partition_key=Q.partition_key, raise_on_error=False,
        run_config={"ops": config}, tags={"dx/trigger": "test"}, **kwargs)


def test_the_schedule_computes_the_quarter_and_opens_its_appraisal_but_publishes_nothing_final(scheduled):
    home, result, request = scheduled["home"], scheduled["result"], scheduled["request"]
    assert request.partition_key == Q.partition_key and request.tags["dx/trigger"] == "schedule"
    assert result.success, _failures(result)
    status = scheduled["status"]
    assert status.state == "under_appraisal"
    assert [t.to_state for t in status.transitions] == ["computed", "under_appraisal"]
    assert all(t.actor.startswith("dagster schedule (run ") for t in status.transitions)
    assert ap.appraisal_workbook_path(home, Q).is_file()  # the evaluator's workbook

    manifest = _manifest(home, 1)
    assert manifest["status"] == "computed" and "approval" not in manifest
    report = (period_dir(home, Period.parse(Q)) / "rev=1" / "report.html").read_text(encoding="utf-8")
    assert "KẾT QUẢ TÍNH TOÁN – CHƯA THẨM ĐỊNH" in report and "CHÍNH THỨC" not in report
    assert "TẠM THỜI" not in report  # not even provisional: agencies have not seen it
    ranking = _materialization(result, "ranking_snapshot")
    assert ranking["status"].value == ("computed: kết quả tính toán, chưa thẩm định / computed, not yet "
                                       "appraised")
    appraisal = _materialization(result, "quarter_appraisal")
    assert appraisal["state"].value == "under_appraisal: Đang thẩm định (Under appraisal)"
    assert appraisal["transition_count"].value == 2 and "dagster schedule" in appraisal["transitions"].value
    # a computed result is not public: no website for it
    site = _materialization(result, "portal_site")
    assert site["not_public_yet"].value == [f"{Q.label} rev=1"]
    assert not site_dir(home, Period.parse(Q), 1).exists()

    # opening the appraisal again records nothing new (whatever the quarter's state is by now)
    before = len(ap.status(Settings(home), Q).transitions)
    again = _run(scheduled, "quarter_job", {}, asset_selection=[AssetKey("quarter_appraisal")])
    assert again.success, _failures(again)
    assert len(ap.status(Settings(home), Q).transitions) == before


def _import_config(path) -> dict:
    return {"appraisal_verdicts": {"config": {"path": str(path), "evaluator": "Lê Văn Cường"}}}


def test_the_appraisal_jobs_take_the_quarter_to_a_final_revision_only_after_the_provisional_one(
        scheduled, tmp_path):
    home = scheduled["home"]
    approve = {"final_result": {"config": APPROVAL}}
    with pytest.MonkeyPatch.context() as clock:
        _clock(clock, T0 + HOUR / 2)
        early = _run(scheduled, "approval_job", approve)
    assert not early.success
    assert "there is no provisional revision to approve" in _failures(early)
    assert not (period_dir(home, Period.parse(Q)) / "rev=2").exists()
    assert ap.status(Settings(home), Q).state == "under_appraisal"  # refused: nothing recorded

    # the evaluator's workbook imported by its job: refused whole with the cell, then recorded
    workbook = ap.appraisal_workbook_path(home, Q)
    wb = load_workbook(workbook)
    ws: Any = wb[SHEET]
    row = HEADER_ROWS + 1
    key = [str(ws.cell(row, COL[k]).value) for k in ("framework_id", "agency_code", "node_id")]
    most = float(ws.cell(row, COL["max_points"]).value)
    ws.cell(row, COL["verdict"]).value = "Điều chỉnh điểm - adjust_points"
    ws.cell(row, COL["adjusted_points"]).value = 0
    wb.save(tmp_path / "bad.xlsx")
    ws.cell(row, COL["reason"]).value = "Minh chứng chưa có chữ ký"
    wb.save(tmp_path / "good.xlsx")
    with pytest.MonkeyPatch.context() as clock:
        _clock(clock, T0 + HOUR * 2 / 3)
        refused = _run(scheduled, "appraisal_import_job", _import_config(tmp_path / "bad.xlsx"))
        assert not refused.success
        assert f"sheet '{SHEET}', row {row}, column O (Lý do / Reason)" in _failures(refused)
        imported = _run(scheduled, "appraisal_import_job", _import_config(tmp_path / "good.xlsx"))
    assert imported.success, _failures(imported)
    meta = _materialization(imported, "appraisal_verdicts")
    assert meta["verdicts_recorded"].value == 1 and meta["rescored_rows"].value > 0
    assert meta["state"].value.startswith("under_appraisal: ")

    with pytest.MonkeyPatch.context() as clock:
        _clock(clock, T0 + HOUR)
        provisional = _run(scheduled, "provisional_job",
                           {"provisional_result": {"config": {"by": "Nguyễn Văn An", "appeal_days": 3}}})
    assert provisional.success, _failures(provisional)
    manifest = _manifest(home, 2)
    assert manifest["status"] == "provisional" and manifest["appeal_window"]
    meta = _materialization(provisional, "provisional_result")
    assert meta["status"].value.startswith("provisional: ") and meta["revision"].value == 2
    assert meta["state"].value.startswith("appeal_window: ") and "Nguyễn Văn An" in meta["transitions"].value
    pages = (site_dir(home, Period.parse(Q), 2) / "index.html").read_text(encoding="utf-8")
    assert "KẾT QUẢ TẠM THỜI" in pages  # the site the provisional job built after it

    # the agency appeals from its workbook, the evaluator accepts it: both through their jobs
    with pytest.MonkeyPatch.context() as clock:
        _clock(clock, T0 + 2 * HOUR)
        exported = ap.export_appeal_workbook(Settings(home), Q, key[1], tmp_path / "kn.xlsx")
        wb = load_workbook(exported.path)
        ws = wb[aw.SHEET]
        (r,) = [r for r in range(aw.HEADER_ROWS + 1, ws.max_row + 1)
                if [ws.cell(r, 1).value, ws.cell(r, 2).value] == [key[0], key[2]]]
        ws.cell(r, aw.KEYS.index("argument") + 1).value = "Văn bản đã ký ngày 15/3, gửi kèm"
        wb.save(exported.path)
        filed = _run(scheduled, "appeal_job",
                     {"agency_appeals": {"config": {"by": "Sở Y tế", "workbook": str(exported.path)}}})
        assert filed.success, _failures(filed)
        _clock(clock, T0 + 3 * HOUR)
        decided = _run(scheduled, "appeal_decision_job", {"appeal_decisions": {"config": {
            "appeal_id": 1, "accept": True, "points": most, "reason": "Văn bản hợp lệ",
            "by": "Trần Thị Bình"}}})
    assert decided.success, _failures(decided)
    meta = _materialization(filed, "agency_appeals")
    assert meta["appeals_filed"].value == [1] and "Sở Y tế" in meta["appeals_table"].value
    meta = _materialization(decided, "appeal_decisions")
    assert meta["decision"].value.startswith("accepted") and meta["adjustment_id"].value == 2
    assert "Trần Thị Bình" in meta["appeals_table"].value and meta["state"].value.startswith("appeal_window")
    (appeal,) = ap.status(Settings(home), Q).appeals
    assert (appeal["filed_by"], appeal["decided_by"], appeal["decision_reason"]) == (
        "Sở Y tế", "Trần Thị Bình", "Văn bản hợp lệ")
    assert appeal["filed_at"] == T0 + 2 * HOUR and appeal["decided_at"] == T0 + 3 * HOUR
    scores: Any = read_partition(home, "index_scores", Q).set_index(["framework_id", "agency_code",
                                                                     "node_id"])
    assert scores.loc[tuple(key)]["points"] == most and scores.loc[tuple(key)]["adjustment_id"] == 2

    final = _run(scheduled, "approval_job", approve)
    assert final.success, _failures(final)
    manifest = _manifest(home, 3)
    assert manifest["status"] == "final" and manifest["approval"]["decision_number"] == "215/QĐ-UBND"
    checks = {e.check_name: e for e in final.get_asset_check_evaluations()}
    assert set(checks) == {"quarter_appraisal_on_scored_units", "final_result_approval_after_provisional",
                           "portal_site_links_resolve"}
    assert all(e.passed for e in checks.values()), {k: e.description for k, e in checks.items()}
    meta = _materialization(final, "final_result")
    assert meta["status"].value == "final: kết quả chính thức đã phê duyệt / final result, approved"
    assert meta["approval"].value["decision_number"] == "215/QĐ-UBND"
    assert meta["transition_count"].value == 6 and "Văn phòng UBND tỉnh" in meta["transitions"].value
    status = ap.status(Settings(home), Q)
    assert [t.to_state for t in status.transitions] == [
        "computed", "under_appraisal", "provisional", "appeal_window", "final", "published"]
    assert [t.actor for t in status.transitions][2:] == ["Nguyễn Văn An"] * 2 + ["Văn phòng UBND tỉnh"] * 2
    pages = (site_dir(home, Period.parse(Q), 3) / "index.html").read_text(encoding="utf-8")
    assert "KẾT QUẢ CHÍNH THỨC" in pages and "215/QĐ-UBND" in pages
