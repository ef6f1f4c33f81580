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

from dx_pipeline.app.quarter import plan_rows, try_read
from dx_pipeline.app.settings import Settings
from dx_pipeline.index.period_scoring import periods_closing_with, score_period
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


def publish_periods_closing_with(
    settings: Settings, quarter: Quarter, trigger: dict[str, Any], appraisal: dict[str, Any] | None = None
) -> list[PeriodPublished]:
    """Rank and publish the half-year and year that close with ``quarter`` (none for Q1, Q3);
    ``appraisal`` is their state's manifest record (``computed`` from the pipeline)."""
    periods = periods_closing_with(quarter)
    if not periods:
        return []
    home = settings.home
    registry = read_partition(home, "agencies", quarter)
    frames = [try_read(home, "agency_kpis", q) for q in periods[-1].quarters]
    kpis = pd.concat([f for f in frames if f is not None], ignore_index=True)
    published = []
    for period in periods:
        before = _previous(settings, period, (appraisal or {}).get("status"))
        previous = before.ranking() if before is not None else None
        combined, scored = score_period(period, kpis, registry, previous_ranking=previous)
        publication = publish_ranking(home, PublicationInput(
            period=period,
            ranking=scored.ranking,
            index_scores=scored.scores,
            kpis=combined.drop(columns=["period", "quarters", "aggregation"], errors="ignore"),
            registry=registry,
            plan_scorecard=plan_rows(home, quarter, period),
            frameworks=scored.frameworks,
            inputs=[],
            trigger=trigger,
            movement_against={"period": period.previous.label,
                              "revision": before.revision if before is not None else None},
            appraisal=appraisal,
        ))
        combined_quarters = sorted(set(kpis["quarter"]) & {q.label for q in period.quarters})
        published.append(PeriodPublished(period, publication, combined_quarters))
    return published
