"""The states of a period's result and the transitions between them.

computed → under appraisal → provisional (visible to agencies) → appeal window → final
(approved) → published. Each move is a row of ``state_transitions`` saying who, when and why;
the state of a period is the last row's. Only the moves in :data:`TRANSITIONS` are allowed:
a provisional result or an open appeal window can go back under appraisal (with a reason), and
a published result goes back to final only through a new approval (a late change), and a final
one not yet published is approved again when its scores changed after the approval.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from dx_pipeline.appraisal.database import STATES, as_utc, insert, said, state_transitions
from dx_pipeline.reference.frameworks import Name

COMPUTED, UNDER_APPRAISAL, PROVISIONAL, APPEAL_WINDOW, FINAL, PUBLISHED = STATES
STATE_NAMES = {
    COMPUTED: Name("Đã tính điểm", "Computed"),
    UNDER_APPRAISAL: Name("Đang thẩm định", "Under appraisal"),
    PROVISIONAL: Name("Kết quả tạm thời", "Provisional"),
    APPEAL_WINDOW: Name("Đang nhận kiến nghị", "Appeal window open"),
    FINAL: Name("Đã phê duyệt", "Final (approved)"),
    PUBLISHED: Name("Đã công bố", "Published"),
}
TRANSITIONS: Mapping[str | None, frozenset[str]] = {
    None: frozenset({COMPUTED}),
    COMPUTED: frozenset({UNDER_APPRAISAL}),
    UNDER_APPRAISAL: frozenset({PROVISIONAL}),
    PROVISIONAL: frozenset({APPEAL_WINDOW, UNDER_APPRAISAL}),
    APPEAL_WINDOW: frozenset({FINAL, UNDER_APPRAISAL}),
    FINAL: frozenset({PUBLISHED, FINAL}),
    PUBLISHED: frozenset({FINAL}),
}
"""From each state (None: nothing recorded yet), the states it may move to."""


class StateError(ValueError):
    """A step that the period's current state does not allow."""


@dataclass(frozen=True)
class Transition:
    """One recorded move of a period's result."""

    id: int
    period: str
    from_state: str | None
    to_state: str
    actor: str
    reason: str
    recorded_at: dt.datetime
    details: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: RowMapping | Mapping[str, Any]) -> Transition:
        """A row of ``state_transitions``."""
        return cls(
            id=int(row["id"]), period=row["period"], from_state=row["from_state"],
            to_state=row["to_state"], actor=row["actor"], reason=row["reason"],
            recorded_at=row["recorded_at"], details=dict(row["details"] or {}),
        )


def state_label(state: str | None) -> str:
    """``Đang thẩm định (Under appraisal)``; ``chưa tính điểm (not computed)`` for None."""
    return str(STATE_NAMES[state]) if state else "Chưa tính điểm (not computed)"


def transitions(conn: Connection, period: str) -> list[Transition]:
    """Every transition of ``period``, oldest first."""
    query = sa.select(state_transitions).where(state_transitions.c.period == period)
    return [Transition.from_row(r) for r in conn.execute(query.order_by(state_transitions.c.id)).mappings()]


def last_transition(conn: Connection, period: str) -> Transition | None:
    """The most recent transition of ``period`` (None before it is computed)."""
    query = (sa.select(state_transitions).where(state_transitions.c.period == period)
             .order_by(state_transitions.c.id.desc()).limit(1))
    row = conn.execute(query).mappings().first()
    return Transition.from_row(row) if row else None


def current_state(conn: Connection, period: str) -> str | None:
    """The state of ``period``'s result (None before it is computed)."""
    last = last_transition(conn, period)
    return last.to_state if last else None


def require_state(conn: Connection, period: str, allowed: set[str] | frozenset[str], action: str) -> str:
    """The current state if it is one of ``allowed``; a :class:`StateError` saying why not."""
    state = current_state(conn, period)
    if state not in allowed:
        wanted = " or ".join(state_label(s) for s in STATES if s in allowed)
        raise StateError(f"{period}: cannot {action} while the result is {state_label(state)}; "
                         f"it must be {wanted}")
    return state  # type: ignore[return-value]  # None is never in allowed


def record_transition(
    conn: Connection,
    period: str,
    to_state: str,
    actor: str,
    reason: str,
    details: Mapping[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> Transition:
    """Move ``period`` to ``to_state`` if its current state allows it, recording who and why."""
    last = last_transition(conn, period)
    from_state = last.to_state if last else None
    if to_state not in TRANSITIONS[from_state]:
        allowed = ", ".join(state_label(s) for s in STATES if s in TRANSITIONS[from_state])
        raise StateError(f"{period}: the result is {state_label(from_state)}; it cannot become "
                         f"{state_label(to_state)} (next: {allowed})")
    when = as_utc(now)
    if last is not None and when < last.recorded_at:
        raise StateError(f"{period}: {when:%Y-%m-%d %H:%M:%S} UTC is before the last transition "
                         f"({last.recorded_at:%Y-%m-%d %H:%M:%S} UTC)")
    row = {"period": period, "from_state": from_state, "to_state": to_state,
           "actor": said(actor, "who moves the result (actor)"), "reason": said(reason, "a reason"),
           "recorded_at": when, "details": dict(details or {})}
    return Transition(id=insert(conn, state_transitions, row), **row)
