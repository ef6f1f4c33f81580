"""The appraisal database refuses to change history, whoever asks, on SQLite and PostgreSQL.

Rows are written through the workflow (as the application writes them); then each table is
attacked with plain SQL on a raw connection, the way a person with a database client would:
UPDATE and DELETE (and TRUNCATE on PostgreSQL) must fail and leave every row as it was.
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from dx_pipeline.appraisal import workflow as wf
from dx_pipeline.appraisal.adjustments import VerdictRequest
from dx_pipeline.appraisal.appeals import AppealRequest
from dx_pipeline.appraisal.approvals import ApprovalRequest
from dx_pipeline.appraisal.database import TABLES, open_appraisal_db
from dx_pipeline_tests.appraisal.conftest import PERIOD, T0

DAY = dt.timedelta(days=1)


def fill(db, scored) -> None:
    """One row in every table: a period taken through appraisal, appeal and approval."""
    wf.mark_computed(db, PERIOD, "schedule", {"scores_sha256": "a" * 64}, now=T0)
    wf.open_appraisal(db, PERIOD, "schedule", "mở thẩm định", now=T0)
    batch = wf.SourceFile("tham_dinh.xlsx", "b" * 64, rows_read=1)
    verdict = VerdictRequest("mini", "A", "P1.1", "adjust_value", "minh chứng 50 %", value=0.5)
    wf.appraise(db, PERIOD, [verdict], scored, "Nguyễn Văn An", source=batch, now=T0 + DAY)
    wf.mark_provisional(db, PERIOD, "Nguyễn Văn An", "công bố tạm thời", revision=1, now=T0 + 2 * DAY)
    wf.open_appeals(db, PERIOD, 7, "Nguyễn Văn An", "nhận kiến nghị", now=T0 + 2 * DAY)
    (appeal_id,) = wf.file_appeals(db, PERIOD, [AppealRequest("mini", "A", "P1.1", "đã có 90 %")], scored,
                                   "Sở A", now=T0 + 3 * DAY).ids
    wf.decide_appeal(db, appeal_id, True, "đúng", "Nguyễn Văn An", scored,
                     VerdictRequest("mini", "A", "P1.1", "accept", "đúng"), now=T0 + 4 * DAY)
    wf.approve(db, PERIOD, ApprovalRequest("123/QĐ-UBND", dt.date(2025, 8, 1), "UBND tỉnh"), "Trần Thị Bình",
               provisional_revision=1, scores_sha256="c" * 64, now=T0 + 20 * DAY)


def snapshot(db) -> dict[str, list]:
    with db.read() as conn:
        return {t.name: [tuple(r) for r in conn.execute(sa.select(t).order_by(t.c.id))] for t in TABLES}


def refused(db, statement: str) -> str:
    """Run ``statement`` on a raw connection; return the database's refusal."""
    with pytest.raises(DBAPIError) as caught:
        with db.engine.begin() as conn:
            conn.exec_driver_sql(statement)
    return str(caught.value.orig)


def test_every_table_refuses_update_and_delete(appraisal_db, scored):
    fill(appraisal_db, scored)
    before = snapshot(appraisal_db)
    assert all(len(rows) >= 1 for rows in before.values()), {k: len(v) for k, v in before.items()}
    for table in TABLES:
        column = "id" if table.name == "appeal_decisions" else "period"
        value = "id + 1000" if column == "id" else "'2020-Q1'"
        message = refused(appraisal_db, f"UPDATE {table.name} SET {column} = {value}")
        assert f"{table.name} is append-only" in message and "UPDATE refused" in message
        message = refused(appraisal_db, f"DELETE FROM {table.name}")
        assert f"{table.name} is append-only" in message and "DELETE refused" in message
        if appraisal_db.dialect == "postgresql":
            assert "TRUNCATE refused" in refused(appraisal_db, f"TRUNCATE {table.name} CASCADE")
    assert snapshot(appraisal_db) == before


def test_the_database_itself_refuses_rows_without_reason_or_with_the_wrong_shape(appraisal_db):
    row = ("'2025-Q2', 'mini', 'A', 'P1.1', 'adjust_value', {value}, '{reason}', 'An', "
           "'2025-07-16 02:00:00', 'command line', {false}")
    false = "false" if appraisal_db.dialect == "postgresql" else "0"
    insert = ("INSERT INTO adjustments (period, framework_id, agency_code, node_id, verdict, adjusted_value, "
              "reason, evaluator, recorded_at, source, late) VALUES ({row})")
    no_reason = insert.format(row=row.format(value="0.5", reason="   ", false=false))
    assert "reason_not_blank" in refused(appraisal_db, no_reason)
    no_value = insert.format(row=row.format(value="NULL", reason="có lý do", false=false))
    assert "value_with_adjust_value" in refused(appraisal_db, no_value)
    unknown = ("INSERT INTO state_transitions (period, to_state, actor, reason, recorded_at, details) "
               "VALUES ('2025-Q2', 'approved', 'An', 'x', '2025-07-16 02:00:00', '{}')")
    assert "to_state_known" in refused(appraisal_db, unknown)


def test_one_decision_per_appeal_is_enforced_by_the_database(appraisal_db, scored):
    fill(appraisal_db, scored)
    second = ("INSERT INTO appeal_decisions (appeal_id, decision, reason, decided_by, decided_at) "
              "SELECT appeal_id, 'rejected', 'again', 'Someone', decided_at FROM appeal_decisions")
    message = refused(appraisal_db, second)
    assert "unique" in message.lower()


def test_opening_again_keeps_the_rows_and_the_triggers(appraisal_db, scored):
    fill(appraisal_db, scored)
    before = snapshot(appraisal_db)
    again = open_appraisal_db(appraisal_db.url if appraisal_db.dialect == "sqlite"
                              else appraisal_db.engine.url.render_as_string(hide_password=False))
    try:
        assert snapshot(again) == before
        assert "append-only" in refused(again, "DELETE FROM adjustments")
    finally:
        again.dispose()
