"""The appraisal's steps on both databases: what each state allows, what a refusal leaves
behind (nothing), and the trail of who did what, when and why."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from dx_pipeline.appraisal import states as st
from dx_pipeline.appraisal import workflow as wf
from dx_pipeline.appraisal.adjustments import VerdictRequest, verdicts_in_force
from dx_pipeline.appraisal.appeals import AppealRequest, appeals_of
from dx_pipeline.appraisal.approvals import ApprovalRequest
from dx_pipeline.appraisal.audit import audit_trail, publication_record, trail_digest
from dx_pipeline.appraisal.database import adjustments, rows_of
from dx_pipeline.appraisal.scored import AppraisalRefused
from dx_pipeline.index import score
from dx_pipeline_tests.appraisal.conftest import PERIOD, T0
from dx_pipeline_tests.index.test_engine import FULL, long

DAY = dt.timedelta(days=1)
DECISION = ApprovalRequest("1234/QĐ-UBND", dt.date(2025, 8, 14), "Ủy ban nhân dân tỉnh")


def adjust(node="P1.1", verdict="adjust_value", reason="minh chứng chỉ 50 %", agency="A", **kw):
    return VerdictRequest("mini", agency, node, verdict, reason, **kw)


def opened(db) -> None:
    wf.mark_computed(db, PERIOD, "schedule", {}, now=T0)
    wf.open_appraisal(db, PERIOD, "schedule", "mở thẩm định quý", now=T0)


def in_window(db, scored, days=7) -> None:
    opened(db)
    wf.appraise(db, PERIOD, [adjust(value=0.5)], scored, "Nguyễn Văn An", now=T0 + DAY)
    wf.mark_provisional(db, PERIOD, "Nguyễn Văn An", "kết quả tạm thời", revision=1, now=T0 + 2 * DAY)
    wf.open_appeals(db, PERIOD, days, "Nguyễn Văn An", "nhận kiến nghị 7 ngày", now=T0 + 2 * DAY)


def all_rows(db) -> dict[str, int]:
    with db.read() as conn:
        return {name: len(rows) for name, rows in audit_trail(conn, PERIOD).items()}


def test_verdicts_wait_for_the_appraisal_to_open(appraisal_db, scored):
    with pytest.raises(st.StateError, match="Chưa tính điểm"):
        wf.appraise(appraisal_db, PERIOD, [adjust(value=0.5)], scored, "An")
    wf.mark_computed(appraisal_db, PERIOD, "schedule", {}, now=T0)
    with pytest.raises(st.StateError, match="cannot record a verdict while the result is Đã tính điểm"):
        wf.appraise(appraisal_db, PERIOD, [adjust(value=0.5)], scored, "An")
    assert wf.open_appraisal(appraisal_db, PERIOD, "schedule", "mở", now=T0)
    assert not wf.open_appraisal(appraisal_db, PERIOD, "schedule", "mở lần nữa", now=T0)  # already open
    assert wf.appraise(appraisal_db, PERIOD, [adjust(value=0.5)], scored, "An", now=T0).ids


def test_a_batch_with_any_problem_records_nothing_and_names_every_problem(appraisal_db, scored):
    opened(appraisal_db)
    batch = [
        adjust(agency="SO-XYZ", value=0.5, where="row 2"),
        adjust(node="P7.7", value=0.5, where="row 3"),
        adjust(reason="  ", value=0.5, where="row 4"),
        adjust(agency="B", value=1.5, where="row 5"),
        adjust(node="P1.2", verdict="adjust_points", points=25, where="row 6"),
        adjust(node="P2.1", verdict="reject", value=0.0, where="row 7"),
        adjust(node="P2.2", verdict="approve", where="row 8"),
        adjust(node="P2.2", verdict="accept", agency="B", where="row 9"),
    ]
    before = all_rows(appraisal_db)
    with pytest.raises(AppraisalRefused) as refused:
        wf.appraise(appraisal_db, PERIOD, batch, scored, "An", source=wf.SourceFile("x.xlsx", "0" * 64, 8))
    found = {(p.where, p.field): p.message for p in refused.value.problems}
    assert "is not scored under mini" in found[("row 2", "agency")]
    assert "'P7.7' is not an indicator of mini" in found[("row 3", "indicator")]
    assert "a reason is required" in found[("row 4", "reason")]
    assert "1.5 is above 1, out of range for a rate" in found[("row 5", "value")]
    assert "25 points are above what P1.2 is worth to A (20)" in found[("row 6", "points")]
    assert "an adjusted value (0) is given but the verdict is reject" in found[("row 7", "value")]
    assert "'approve' is not a verdict" in found[("row 8", "verdict")]
    assert len(found) == 7, found  # row 9 is right
    assert "x.xlsx: 7 problem(s), nothing recorded" in str(refused.value)
    assert all_rows(appraisal_db) == before


def test_a_correction_is_a_new_row_and_the_latest_verdict_is_in_force(appraisal_db, scored):
    opened(appraisal_db)
    first = wf.appraise(appraisal_db, PERIOD, [adjust(value=0.5)], scored, "An", now=T0 + DAY)
    second = wf.appraise(appraisal_db, PERIOD, [adjust(value=0.6, reason="sửa: 60 %")], scored, "Bình",
                         now=T0 + 2 * DAY)
    again = wf.appraise(appraisal_db, PERIOD, [adjust(value=0.6, reason="sửa: 60 %")], scored, "Bình",
                        now=T0 + 3 * DAY)
    assert again.ids == [] and again.unchanged == 1  # the same file twice records nothing new
    with appraisal_db.read() as conn:
        history = rows_of(conn, adjustments, PERIOD)
        in_force = verdicts_in_force(conn, PERIOD)
    assert [r["id"] for r in history] == first.ids + second.ids
    assert [(r["adjusted_value"], r["evaluator"], r["reported_value"]) for r in history] == [
        (0.5, "An", 0.9), (0.6, "Bình", 0.9)]
    assert in_force[["node_id", "verdict", "value", "adjustment_id"]].values.tolist() == [
        ["P1.1", "adjust_value", 0.6, second.ids[0]]]


def test_appeals_are_taken_only_while_the_window_is_open(appraisal_db, scored):
    opened(appraisal_db)
    appeal = AppealRequest("mini", "A", "P1.1", "Sở đã đạt 90 %, có báo cáo số 12/BC", requested_value=0.9)
    with pytest.raises(st.StateError, match="cannot file an appeal"):
        wf.file_appeals(appraisal_db, PERIOD, [appeal], scored, "Sở A", now=T0 + DAY)
    in_window(appraisal_db, scored, days=7)
    with pytest.raises(AppraisalRefused, match="an appeal must say why"):
        wf.file_appeals(appraisal_db, PERIOD, [AppealRequest("mini", "A", "P1.1", " ")], scored, "Sở A",
                        now=T0 + 3 * DAY)
    filed = wf.file_appeals(appraisal_db, PERIOD, [appeal], scored, "Sở A", now=T0 + 3 * DAY)
    assert len(filed.ids) == 1
    with pytest.raises(st.StateError, match="the appeal window closed at 2025-07-25 02:00 UTC"):
        wf.file_appeals(appraisal_db, PERIOD, [appeal], scored, "Sở A", now=T0 + 10 * DAY)


def test_a_decision_needs_its_reason_and_an_accepted_appeal_its_verdict(appraisal_db, scored):
    in_window(appraisal_db, scored)
    ask = [AppealRequest("mini", "A", "P1.1", "đạt 90 %"), AppealRequest("mini", "B", "P1.2", "đạt 40 %")]
    first, second = wf.file_appeals(appraisal_db, PERIOD, ask, scored, "Sở", now=T0 + 3 * DAY).ids
    with pytest.raises(ValueError, match="an accepted appeal needs the verdict"):
        wf.decide_appeal(appraisal_db, first, True, "đúng", "An", scored, None, now=T0 + 4 * DAY)
    with pytest.raises(ValueError, match="is about mini/A/P1.1, not mini/B/P1.1"):
        wf.decide_appeal(appraisal_db, first, True, "đúng", "An", scored,
                         adjust(agency="B", verdict="accept"), now=T0 + 4 * DAY)
    with pytest.raises(ValueError, match="a reason is required"):
        wf.decide_appeal(appraisal_db, second, False, "", "An", scored, now=T0 + 4 * DAY)
    _, adjustment_id = wf.decide_appeal(appraisal_db, first, True, "báo cáo 12/BC xác nhận 90 %", "An",
                                        scored, adjust(verdict="accept", reason="báo cáo 12/BC"),
                                        now=T0 + 4 * DAY)
    assert wf.decide_appeal(appraisal_db, second, False, "không có minh chứng", "An", scored,
                            now=T0 + 4 * DAY)[1] is None
    with pytest.raises(st.StateError, match=f"appeal #{second} was already rejected"):
        wf.decide_appeal(appraisal_db, second, True, "xem lại", "Bình", scored,
                         adjust(agency="B", node="P1.2", verdict="accept"), now=T0 + 5 * DAY)
    with appraisal_db.read() as conn:
        appeals = {a["id"]: a for a in appeals_of(conn, PERIOD)}
        in_force = verdicts_in_force(conn, PERIOD).set_index("node_id")
    assert appeals[first]["decision"] == "accepted" and appeals[first]["adjustment_id"] == adjustment_id
    assert appeals[second]["decision"] == "rejected" and appeals[second]["adjustment_id"] is None
    assert in_force.loc["P1.1", "verdict"] == "accept"
    assert in_force.loc["P1.1", "adjustment_id"] == adjustment_id


def test_approval_waits_for_the_window_and_every_appeal(appraisal_db, scored):
    in_window(appraisal_db, scored, days=7)
    ask = [AppealRequest("mini", "A", "P1.1", "đạt 90 %")]
    (appeal_id,) = wf.file_appeals(appraisal_db, PERIOD, ask, scored, "Sở A", now=T0 + 3 * DAY).ids
    approve = dict(provisional_revision=1, scores_sha256="1" * 64)
    with pytest.raises(st.StateError, match="there is no provisional revision"):
        wf.approve(appraisal_db, PERIOD, DECISION, "Bình", provisional_revision=None, scores_sha256="1" * 64,
                   now=T0 + 30 * DAY)
    with pytest.raises(st.StateError, match="the appeal window is open until 2025-07-25 02:00 UTC"):
        wf.approve(appraisal_db, PERIOD, DECISION, "Bình", **approve, now=T0 + 5 * DAY)
    with pytest.raises(st.StateError, match=f"appeals #{appeal_id} are not decided yet"):
        wf.approve(appraisal_db, PERIOD, DECISION, "Bình", **approve, now=T0 + 30 * DAY)
    wf.decide_appeal(appraisal_db, appeal_id, False, "không đủ minh chứng", "An", scored, now=T0 + 30 * DAY)
    approval_id = wf.approve(appraisal_db, PERIOD, DECISION, "Bình", **approve, now=T0 + 30 * DAY)
    with appraisal_db.read() as conn:
        last = st.last_transition(conn, PERIOD)
    assert last is not None and last.to_state == st.FINAL
    assert last.details == {"approval_id": approval_id, "decision_number": "1234/QĐ-UBND",
                            "decision_date": "2025-08-14", "approved_by": "Ủy ban nhân dân tỉnh"}


def test_a_final_revision_needs_approved_scores_and_a_late_change_a_new_approval(appraisal_db, scored):
    in_window(appraisal_db, scored)
    approved = dict(provisional_revision=1, scores_sha256="1" * 64)
    wf.approve(appraisal_db, PERIOD, DECISION, "Bình", **approved, now=T0 + 30 * DAY)
    with pytest.raises(st.StateError, match="the scores changed since approval"):
        wf.mark_published(appraisal_db, PERIOD, "Bình", 2, "2" * 64, now=T0 + 30 * DAY)
    wf.mark_published(appraisal_db, PERIOD, "Bình", 2, "1" * 64, now=T0 + 30 * DAY)
    late = wf.appraise(appraisal_db, PERIOD, [adjust(node="P2.2", verdict="reject", reason="hồ sơ giả")],
                       scored, "An", now=T0 + 40 * DAY)
    assert late.late
    with pytest.raises(st.StateError, match="nothing changed since approval"):
        wf.approve(appraisal_db, PERIOD, DECISION, "Bình", **approved, now=T0 + 41 * DAY)
    amend = ApprovalRequest("1300/QĐ-UBND", dt.date(2025, 9, 1), "Ủy ban nhân dân tỉnh")
    wf.approve(appraisal_db, PERIOD, amend, "Bình", provisional_revision=1, scores_sha256="3" * 64,
               now=T0 + 48 * DAY)
    wf.mark_published(appraisal_db, PERIOD, "Bình", 3, "3" * 64, now=T0 + 48 * DAY)
    with appraisal_db.read() as conn:
        path = [(t.from_state, t.to_state, t.actor) for t in st.transitions(conn, PERIOD)]
    assert path == [
        (None, "computed", "schedule"), ("computed", "under_appraisal", "schedule"),
        ("under_appraisal", "provisional", "Nguyễn Văn An"),
        ("provisional", "appeal_window", "Nguyễn Văn An"),
        ("appeal_window", "final", "Bình"), ("final", "published", "Bình"),
        ("published", "final", "Bình"), ("final", "published", "Bình"),
    ]


def test_only_the_allowed_moves_are_recorded(appraisal_db):
    with pytest.raises(st.StateError, match="cannot become Kết quả tạm thời"):
        wf.mark_provisional(appraisal_db, PERIOD, "An", "tạm thời", revision=1, now=T0)
    opened(appraisal_db)
    with pytest.raises(st.StateError, match="cannot become Đang nhận kiến nghị"):
        wf.open_appeals(appraisal_db, PERIOD, 7, "An", "kiến nghị", now=T0)
    with pytest.raises(ValueError, match="at least one day"):
        wf.open_appeals(appraisal_db, PERIOD, 0, "An", "kiến nghị", now=T0)
    with pytest.raises(ValueError, match="is required"):
        wf.mark_provisional(appraisal_db, PERIOD, " ", "tạm thời", revision=1, now=T0)


def test_two_approvals_at_once_record_one(appraisal_db, scored):
    """Two officials press 'approve' at the same moment: the period's lock lets one through."""
    in_window(appraisal_db, scored)
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def approve(number: str) -> None:
        start.wait()
        try:
            request = ApprovalRequest(number, dt.date(2025, 8, 14), "UBND tỉnh")
            wf.approve(appraisal_db, PERIOD, request, "Bình", provisional_revision=1, scores_sha256="1" * 64,
                       now=T0 + 30 * DAY)
            outcomes.append("approved")
        except st.StateError as exc:
            outcomes.append(str(exc))

    threads = [threading.Thread(target=approve, args=(n,)) for n in ("1/QĐ", "2/QĐ")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("approved") == 1, outcomes
    assert any("nothing changed since approval" in o for o in outcomes), outcomes
    assert all_rows(appraisal_db)["approvals"] == 1


def test_the_publication_record_lists_what_changed_points_and_the_trail_digest(appraisal_db, scored,
                                                                               mini_framework):
    in_window(appraisal_db, scored)
    ask = [AppealRequest("mini", "B", "P1.2", "đạt 40 %")]
    (appeal_id,) = wf.file_appeals(appraisal_db, PERIOD, ask, scored, "Sở B", now=T0 + 3 * DAY).ids
    wf.decide_appeal(appraisal_db, appeal_id, False, "không có minh chứng", "An", scored, now=T0 + 4 * DAY)
    with appraisal_db.read() as conn:
        verdicts = verdicts_in_force(conn, PERIOD)
        scores = score(mini_framework, long(FULL), appraisal=verdicts).scores
        record = publication_record(conn, PERIOD, scores)
        digest = trail_digest(audit_trail(conn, PERIOD))
    assert record["state"] == "appeal_window" and record["audit_sha256"] == digest
    (changed,) = record["adjustments"]
    assert (changed["agency_code"], changed["node_id"], changed["verdict"]) == ("A", "P1.1", "adjust_value")
    assert (changed["reported_value"], changed["value"], changed["reported_points"], changed["points"]) == (
        0.9, 0.5, 36.0, 20.0)
    assert changed["reason"] == "minh chứng chỉ 50 %" and changed["evaluator"] == "Nguyễn Văn An"
    (appeal,) = record["appeals"]
    assert appeal["decision"] == "rejected" and appeal["changed_points"] is False
    assert record["approval"] is None
    # reading changes nothing; any new row changes the digest, so a signed printout can be
    # checked against the database
    with appraisal_db.read() as conn:
        assert trail_digest(audit_trail(conn, PERIOD)) == digest
    wf.file_appeals(appraisal_db, PERIOD, [AppealRequest("mini", "A", "P2.2", "x")], scored, "Sở A",
                    now=T0 + 5 * DAY)
    with appraisal_db.read() as conn:
        assert trail_digest(audit_trail(conn, PERIOD)) != digest
