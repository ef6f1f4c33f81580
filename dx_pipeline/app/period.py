"""Half-year and annual rankings: published when the quarter that closes them is published.

A period's KPIs are rebuilt from its quarters' stored ``agency_kpis`` (ratios as sums of
numerators and denominators, stock figures as the latest value), restated to the agencies that
exist at the period's end, scored and published like a quarter under
``published/ranking/period=2025-H1/rev=N/``. The period is ranked against the publication of
the period before it (the half-year two quarters back, the year four quarters back).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from dx_pipeline.app.appraisal_db import stored_verdicts
from dx_pipeline.app.quarter import plan_rows, try_read
from dx_pipeline.app.settings import Settings
from dx_pipeline.index.period_scoring import periods_closing_with, score_period
from dx_pipeline.index.quarter_scoring import QuarterScores
from dx_pipeline.publish.snapshot import (
    Publication,
    PublicationInput,
    movement_baseline,
    publish_ranking,
)
from dx_pipeline.reference.quarters import Period, Quarter
from dx_pipeline.storage import read_partition


@dataclass(frozen=True)
class PeriodPublished:
    """One period's publication and the quarters whose KPIs it combined."""

    period: Period
    publication: Publication
    quarters_combined: list[str]


def _previous(settings: Settings, period: Period, status: str | None) -> Publication | None:
    """The previous period's revision movement is measured against: its newest public one (as
    a quarter's is, :func:`dx_pipeline.app.quarter.publish_quarter`), or for a computed
    result its newest one when none is public."""
    return movement_baseline(settings.home, period.previous, status)


@dataclass(frozen=True)
class PeriodScored:
    """A period's combined KPIs and scores (with its own verdicts in force), the registry of
    its last quarter, and the publication its movement is measured against."""

    period: Period
    combined: pd.DataFrame
    scored: QuarterScores
    registry: pd.DataFrame
    before: Publication | None
    quarters_combined: list[str]


def score_period_result(settings: Settings, period: Period | str, status: str | None = None) -> PeriodScored:
    """Score a half-year or year from its quarters' stored ``agency_kpis`` with the verdicts in
    force recorded against the period itself (its own appraisal), ranked against the previous
    period's publication (``status``: the state the result will be published in)."""
    per = Period.parse(period)
    if per.kind == "quarter":
        raise ValueError(f"{per.label} is a quarter: score it with score_quarter_kpis")
    home = settings.home
    last = per.quarters[-1]
    registry = read_partition(home, "agencies", last)
    frames = [f for f in (try_read(home, "agency_kpis", q) for q in per.quarters) if f is not None]
    if not frames:
        raise FileNotFoundError(f"{per.label}: none of its quarters has KPIs: run its quarters first")
    kpis = pd.concat(frames, ignore_index=True)
    before = _previous(settings, per, status)
    previous = before.ranking() if before is not None else None
    combined, scored = score_period(per, kpis, registry, previous_ranking=previous,
                                    appraisal=stored_verdicts(settings, per.label))
    combined_quarters = sorted(set(kpis["quarter"]) & {q.label for q in per.quarters})
    return PeriodScored(per, combined, scored, registry, before, combined_quarters)


def publish_period(
    settings: Settings, result: PeriodScored, trigger: dict[str, Any], appraisal: dict[str, Any] | None,
    reason: str | None = None,
) -> Publication:
    """Publish a scored period as a revision (a new one only when something changed)."""
    per, before = result.period, result.before
    return publish_ranking(settings.home, PublicationInput(
        period=per,
        ranking=result.scored.ranking,
        index_scores=result.scored.scores,
        kpis=result.combined.drop(columns=["period", "quarters", "aggregation"], errors="ignore"),
        registry=result.registry,
        plan_scorecard=plan_rows(settings.home, per.quarters[-1], per),
        frameworks=result.scored.frameworks,
        inputs=[],
        trigger=trigger,
        reason=reason,
        movement_against={"period": per.previous.label,
                          "revision": before.revision if before is not None else None},
        appraisal=appraisal,
    ))


def publish_periods_closing_with(
    settings: Settings, quarter: Quarter, trigger: dict[str, Any], appraisal: dict[str, Any] | None = None
) -> list[PeriodPublished]:
    """Rank and publish the half-year and year that close with ``quarter`` (none for Q1, Q3);
    ``appraisal`` is their state's manifest record (``computed`` from the pipeline). Each is
    scored with the verdicts in force recorded against it (its own appraisal)."""
    published = []
    for period in periods_closing_with(quarter):
        result = score_period_result(settings, period, (appraisal or {}).get("status"))
        publication = publish_period(settings, result, trigger, appraisal)
        published.append(PeriodPublished(period, publication, result.quarters_combined))
    return published
