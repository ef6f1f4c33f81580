"""Agencies' appeals against a provisional result, and the evaluator's decision on each.

An appeal names one agency's indicator and the agency's argument (and, if it asks for one, the
value it says is right). It is a row of ``appeals``; the decision is a row of
``appeal_decisions`` (one per appeal, enforced by the database), pointing to the adjustment
it made when it was accepted. When and whether they may be written is the workflow's
business (:mod:`dx_pipeline.appraisal.workflow`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from dx_pipeline.appraisal.database import DECISIONS, appeal_decisions, appeals, as_utc, insert, said
from dx_pipeline.appraisal.scored import Problem, ScoredResult


@dataclass(frozen=True)
class AppealRequest:
    """An agency's appeal as filed; ``where`` says where it was written."""

    framework_id: str
    agency_code: str
    node_id: str
    argument: str
    requested_value: float | None = None
    where: str = "command line"

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.framework_id, self.agency_code, self.node_id)


def appeal_problems(r: AppealRequest, scored: ScoredResult) -> list[Problem]:
    """Everything wrong with one appeal: its key, a missing argument, a value out of range."""
    out = scored.key_problems(*r.key, where=r.where)
    if not (r.argument or "").strip():
        out.append(Problem(r.where, "argument", "an appeal must say why the result is wrong"))
    if not out and r.requested_value is not None:
        problem = scored.value_problem(r.framework_id, r.node_id, float(r.requested_value))
        if problem:
            out.append(Problem(r.where, "value", problem))
    return out


def record_appeals(
    conn: Connection,
    period: str,
    requests: Sequence[AppealRequest],
    *,
    filed_by: str,
    source: str,
    now: dt.datetime | None = None,
    import_id: int | None = None,
) -> list[int]:
    """Insert checked appeals; returns their ids (the caller holds the period's lock)."""
    who = said(filed_by, "the name of who files the appeal")
    when = as_utc(now)
    return [
        insert(conn, appeals, {
            "period": period, "framework_id": r.framework_id, "agency_code": r.agency_code,
            "node_id": r.node_id, "argument": said(r.argument, "an argument"),
            "requested_value": None if r.requested_value is None else float(r.requested_value),
            "filed_by": who, "filed_at": when, "source": source, "import_id": import_id,
        })
        for r in requests
    ]


def _with_decisions() -> sa.Select:
    d = appeal_decisions
    return sa.select(
        appeals,
        d.c.id.label("decision_id"), d.c.decision, d.c.reason.label("decision_reason"),
        d.c.decided_by, d.c.decided_at, d.c.adjustment_id,
    ).outerjoin(d, d.c.appeal_id == appeals.c.id)


def appeals_of(conn: Connection, period: str) -> list[dict[str, Any]]:
    """Every appeal of ``period`` with its decision (None fields while undecided), oldest first."""
    query = _with_decisions().where(appeals.c.period == period).order_by(appeals.c.id)
    return [dict(r) for r in conn.execute(query).mappings()]


def appeal(conn: Connection, appeal_id: int) -> dict[str, Any]:
    """One appeal with its decision; a ValueError naming the id when there is none."""
    row = conn.execute(_with_decisions().where(appeals.c.id == appeal_id)).mappings().first()
    if row is None:
        raise ValueError(f"there is no appeal #{appeal_id}")
    return dict(row)


def pending(conn: Connection, period: str) -> list[dict[str, Any]]:
    """The appeals of ``period`` nobody has decided yet."""
    return [a for a in appeals_of(conn, period) if a["decision"] is None]


def record_decision(
    conn: Connection,
    appeal_id: int,
    decision: str,
    *,
    reason: str,
    decided_by: str,
    adjustment_id: int | None,
    now: dt.datetime | None = None,
) -> int:
    """Insert the decision on an appeal (the database refuses a second one)."""
    if decision not in DECISIONS:
        raise ValueError(f"a decision on an appeal is one of {', '.join(DECISIONS)}, not {decision!r}")
    return insert(conn, appeal_decisions, {
        "appeal_id": appeal_id, "decision": decision, "reason": said(reason, "a reason"),
        "decided_by": said(decided_by, "the name of who decides"), "decided_at": as_utc(now),
        "adjustment_id": adjustment_id,
    })
