"""A period's audit trail: every row the appraisal database holds about it, and its digest.

The trail is what an official signs: each state transition, workbook taken in, appeal,
verdict, decision and approval, in the order they were recorded, with who and why. Its
SHA-256 (:func:`dx_pipeline.appraisal.database.audit_sha256`) is printed with it and quoted in
every revision published from it, so a signed printout and a published revision can each be
checked against the database later. :func:`publication_record` is the part a revision's
manifest carries: the verdicts that changed points, every appeal and its decision, the approval.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
from sqlalchemy.engine import Connection

from dx_pipeline.appraisal.adjustments import rows_in_force
from dx_pipeline.appraisal.appeals import appeals_of
from dx_pipeline.appraisal.approvals import approval_in_force
from dx_pipeline.appraisal.database import TABLES, audit_sha256, rows_of
from dx_pipeline.appraisal.states import current_state

VIETNAM = dt.timezone(dt.timedelta(hours=7), "ICT")
"""Times are stored in UTC and shown in Vietnam time (UTC+7)."""


def vietnam_time(when: dt.datetime | None) -> str:
    """``16/07/2025 09:00 (giờ Việt Nam)`` from a naive UTC time; a dash for None."""
    if when is None:
        return "–"
    local = when.replace(tzinfo=dt.UTC).astimezone(VIETNAM)
    return f"{local:%d/%m/%Y %H:%M} (giờ Việt Nam)"


def _plain(value: Any) -> Any:
    """A database value as JSON: times and dates as ISO text."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def audit_trail(conn: Connection, period: str) -> dict[str, list[dict[str, Any]]]:
    """Every row about ``period``, per table, oldest first, as plain JSON values."""
    return {t.name: [{k: _plain(v) for k, v in row.items()} for row in rows_of(conn, t, period)]
            for t in TABLES}


def trail_digest(trail: Mapping[str, Sequence[Mapping[str, Any]]]) -> str:
    """The SHA-256 of an audit trail."""
    return audit_sha256(trail)


def _scored_rows(index_scores: pd.DataFrame) -> dict[int, dict[str, Any]]:
    """The indicator rows of ``index_scores`` that carry a verdict, by its adjustment id."""
    rows = index_scores[index_scores["adjustment_id"].notna()]
    out = {}
    for r in rows.to_dict("records"):
        out[int(r["adjustment_id"])] = {
            "points": float(r["points"]), "reported_points": float(r["reported_points"]),
            "value": None if pd.isna(r["input_value"]) else float(r["input_value"]),
            "reported_value": None if pd.isna(r["reported_value"]) else float(r["reported_value"]),
        }
    return out


def _changed_points(adjustment: Mapping[str, Any], scored: Mapping[int, Mapping[str, Any]]) -> dict | None:
    row = scored.get(int(adjustment["id"]))
    if row is None or abs(row["points"] - row["reported_points"]) < 1e-9:
        return None
    keep = ("id", "framework_id", "agency_code", "node_id", "kpi_code", "verdict", "reason", "evaluator",
            "recorded_at", "source", "late", "appeal_id")
    return {**{k: _plain(adjustment[k]) for k in keep}, **row}


def publication_record(conn: Connection, period: str, index_scores: pd.DataFrame) -> dict[str, Any]:
    """What a revision's manifest says about the appraisal behind it: the state, the audit
    trail's digest and size, every verdict in force that changed points (with the value and
    points before and after), every appeal with its decision and whether it changed points,
    and the approval in force."""
    trail = audit_trail(conn, period)
    scored = _scored_rows(index_scores)
    in_force = rows_in_force(conn, period)
    changed = [c for c in (_changed_points(a, scored) for a in in_force) if c is not None]
    changing = {c["id"] for c in changed}
    appeals = [
        {**{k: _plain(v) for k, v in a.items()},
         "changed_points": a["adjustment_id"] is not None and int(a["adjustment_id"]) in changing}
        for a in appeals_of(conn, period)
    ]
    approval = approval_in_force(conn, period)
    return {
        "state": current_state(conn, period),
        "audit_sha256": trail_digest(trail),
        "audit_rows": {name: len(rows) for name, rows in trail.items()},
        "verdicts_in_force": len(in_force),
        "adjustments": changed,
        "appeals": appeals,
        "approval": None if approval is None else {k: _plain(v) for k, v in approval.items()},
    }
