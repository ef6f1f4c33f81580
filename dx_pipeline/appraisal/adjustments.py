"""Evaluators' verdicts: checked against the scored result, recorded, and the ones in force.

A verdict is asked for as a :class:`VerdictRequest` (from the command line, a workbook row or
the decision on an appeal); :func:`verdict_problems` says everything wrong with it, and
:func:`record_verdicts` inserts the requests as ``adjustments`` rows, each with the value and
points it replaces. The verdict in force for a (period, framework, agency, indicator) is its
latest row; :func:`verdicts_in_force` gives them as the engine's appraisal table.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from dx_pipeline.appraisal.database import adjustments, as_utc, insert, said
from dx_pipeline.appraisal.scored import Problem, ScoredResult
from dx_pipeline.index.appraised import APPRAISAL_COLUMNS, VERDICTS, empty_appraisal


@dataclass(frozen=True)
class VerdictRequest:
    """An evaluator's verdict on one agency's indicator, as asked; ``where`` says where it was
    written (a workbook's sheet and row, the command line) for the problems it may have."""

    framework_id: str
    agency_code: str
    node_id: str
    verdict: str
    reason: str
    value: float | None = None
    points: float | None = None
    where: str = "command line"

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.framework_id, self.agency_code, self.node_id)


def _given(x: float | None) -> bool:
    return x is not None and not (isinstance(x, float) and math.isnan(x))


def _shape_problems(r: VerdictRequest) -> list[Problem]:
    """What the verdict needs and must not have: a reason, its value or points, nothing else."""
    out = []
    if r.verdict not in VERDICTS:
        known = ", ".join(VERDICTS)
        out.append(Problem(r.where, "verdict", f"{r.verdict!r} is not a verdict (one of {known})"))
    if not (r.reason or "").strip():
        out.append(Problem(r.where, "reason", "a reason is required for every verdict"))
    for name, amount, wanted in (("value", r.value, "adjust_value"), ("points", r.points, "adjust_points")):
        if r.verdict == wanted and not _given(amount):
            out.append(Problem(r.where, name, f"{wanted} needs the adjusted {name}"))
        elif r.verdict != wanted and _given(amount) and r.verdict in VERDICTS:
            out.append(Problem(r.where, name, f"an adjusted {name} ({amount:g}) is given but the verdict "
                               f"is {r.verdict}: leave it empty or choose {wanted}"))
    return out


def verdict_problems(r: VerdictRequest, scored: ScoredResult) -> list[Problem]:
    """Everything wrong with one request: its key, its shape, its value or points."""
    out = scored.key_problems(*r.key, where=r.where) + _shape_problems(r)
    if out:
        return out
    if r.verdict == "adjust_value" and r.value is not None:
        problem = scored.value_problem(r.framework_id, r.node_id, float(r.value))
        if problem:
            out.append(Problem(r.where, "value", problem))
    if r.verdict == "adjust_points" and r.points is not None:
        problem = scored.points_problem(*r.key, points=float(r.points))
        if problem:
            out.append(Problem(r.where, "points", problem))
    return out


def _in_force_query(period: str) -> sa.Select:
    latest = (
        sa.select(sa.func.max(adjustments.c.id).label("id"))
        .where(adjustments.c.period == period)
        .group_by(adjustments.c.framework_id, adjustments.c.agency_code, adjustments.c.node_id)
        .subquery()
    )
    return sa.select(adjustments).join(latest, latest.c.id == adjustments.c.id).order_by(adjustments.c.id)


def rows_in_force(conn: Connection, period: str) -> list[dict[str, Any]]:
    """The latest ``adjustments`` row of every appraised indicator of ``period``."""
    return [dict(r) for r in conn.execute(_in_force_query(period)).mappings()]


def verdicts_in_force(conn: Connection, period: str) -> pd.DataFrame:
    """The verdicts in force as the engine's appraisal table (:data:`APPRAISAL_COLUMNS`)."""
    rows = rows_in_force(conn, period)
    if not rows:
        return empty_appraisal()
    table = pd.DataFrame(rows).rename(columns={
        "verdict": "verdict", "adjusted_value": "value", "adjusted_points": "points", "id": "adjustment_id",
    })
    return table[APPRAISAL_COLUMNS].astype({"value": float, "points": float}).reset_index(drop=True)


def unchanged(r: VerdictRequest, in_force: dict[tuple[str, str, str], dict[str, Any]]) -> bool:
    """Whether ``r`` says exactly what the verdict in force says (the same workbook imported
    twice records nothing the second time)."""
    row = in_force.get(r.key)
    if row is None:
        return False

    def same(a: Any, b: Any) -> bool:
        if not _given(a) or not _given(b):
            return not _given(a) and not _given(b)
        return abs(float(a) - float(b)) < 1e-12

    return (row["verdict"] == r.verdict and row["reason"].strip() == r.reason.strip()
            and same(row["adjusted_value"], r.value) and same(row["adjusted_points"], r.points))


def record_verdicts(
    conn: Connection,
    period: str,
    requests: Sequence[VerdictRequest],
    scored: ScoredResult,
    *,
    evaluator: str,
    source: str,
    late: bool = False,
    now: dt.datetime | None = None,
    import_id: int | None = None,
    appeal_id: int | None = None,
) -> list[int]:
    """Insert checked requests as ``adjustments`` rows (with the reported value and points they
    replace); returns their ids. The caller holds the period's lock and has checked them."""
    who = said(evaluator, "the evaluator's name")
    when = as_utc(now)
    ids = []
    for r in requests:
        scored_row = scored.row(*r.key)
        row = {
            "period": period, "framework_id": r.framework_id, "agency_code": r.agency_code,
            "node_id": r.node_id, "kpi_code": _text_or_none(scored_row.get("kpi_code")), "verdict": r.verdict,
            "adjusted_value": _checked(r.value) if r.verdict == "adjust_value" else None,
            "adjusted_points": _checked(r.points) if r.verdict == "adjust_points" else None,
            "reported_value": _float_or_none(scored_row.get("reported_value")),
            "reported_points": _float_or_none(scored_row.get("reported_points")),
            "reason": said(r.reason, "a reason"), "evaluator": who, "recorded_at": when,
            "source": source, "late": late, "import_id": import_id, "appeal_id": appeal_id,
        }
        ids.append(insert(conn, adjustments, row))
    return ids


def _checked(amount: float | None) -> float:
    """The adjusted value or points of a checked request (its check made sure they are given)."""
    assert amount is not None, "an unchecked verdict request"
    return float(amount)


def _float_or_none(x: Any) -> float | None:
    return float(x) if _given(x) and not pd.isna(x) else None


def _text_or_none(x: Any) -> str | None:
    return None if x is None or pd.isna(x) else str(x)
