"""Approvals: the decision (number, date, authority) that makes a period's result final.

An approval records what it approved: the provisional revision the result was shown in, the
fingerprint of the scores at the time (``scores_sha256``) and the last adjustment it covers.
A final revision is published only while the scores still have that fingerprint, so a change
after approval (a late adjustment, a late file) needs a new approving decision.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from dx_pipeline.appraisal.database import adjustments, approvals, as_utc, insert, said


@dataclass(frozen=True)
class ApprovalRequest:
    """The approving decision as the operator records it."""

    decision_number: str
    decision_date: dt.date
    approved_by: str
    note: str | None = None


def approval_in_force(conn: Connection, period: str) -> dict[str, Any] | None:
    """The latest approval of ``period`` (None before any)."""
    query = (sa.select(approvals).where(approvals.c.period == period)
             .order_by(approvals.c.id.desc()).limit(1))
    row = conn.execute(query).mappings().first()
    return dict(row) if row else None


def last_adjustment_id(conn: Connection, period: str) -> int | None:
    """The id of the latest adjustment of ``period`` (None before any)."""
    return conn.execute(
        sa.select(sa.func.max(adjustments.c.id)).where(adjustments.c.period == period)
    ).scalar()


def record_approval(
    conn: Connection,
    period: str,
    request: ApprovalRequest,
    *,
    recorded_by: str,
    provisional_revision: int,
    scores_sha256: str,
    now: dt.datetime | None = None,
) -> int:
    """Insert an approval (the caller holds the period's lock and checked the state)."""
    when = as_utc(now)
    if request.decision_date > when.date() + dt.timedelta(days=1):
        raise ValueError(f"the decision's date {request.decision_date:%d/%m/%Y} is in the future")
    return insert(conn, approvals, {
        "period": period,
        "decision_number": said(request.decision_number, "the decision's number"),
        "decision_date": request.decision_date,
        "approved_by": said(request.approved_by, "the approving authority"),
        "recorded_by": said(recorded_by, "the name of who records the approval"),
        "recorded_at": when,
        "provisional_revision": int(provisional_revision),
        "scores_sha256": said(scores_sha256, "the fingerprint of the approved scores"),
        "last_adjustment_id": last_adjustment_id(conn, period),
        "note": (request.note or "").strip() or None,
    })
