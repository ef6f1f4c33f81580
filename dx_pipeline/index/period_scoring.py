"""Half-year and annual rankings: the quarters of a period combined, then scored and ranked.

Agencies report quarterly and half-yearly, and the annual result is what the People's
Committee ranks. A period's KPIs are the quarters' KPIs combined as the catalogue says (ratios
as sums of numerators and denominators, stock figures as the latest value), with the agencies
merged during the period restated under the successor valid at the period's end; they are
then scored with the frameworks in force in the period's last quarter.
"""

from __future__ import annotations

import pandas as pd

from dx_pipeline.index.quarter_scoring import QuarterScores, score_quarter
from dx_pipeline.kpis.periods import combine_quarters
from dx_pipeline.reference.catalogue import Catalogue, load_catalogue
from dx_pipeline.reference.quarters import Period, Quarter
from dx_pipeline.reference.registry import restate_to_successors


def periods_closing_with(quarter: Quarter) -> list[Period]:
    """The half-year (after Q2 and Q4) and the year (after Q4) that end with ``quarter``."""
    if quarter.q == 2:
        return [Period("half", f"{quarter.year}-H1")]
    if quarter.q == 4:
        return [Period("half", f"{quarter.year}-H2"), Period("year", str(quarter.year))]
    return []


def period_kpis(
    period: Period, kpis_by_quarter: pd.DataFrame, registry: pd.DataFrame, catalogue: Catalogue | None = None
) -> pd.DataFrame:
    """agency_kpis rows of the period's quarters (``quarter`` column) combined into one."""
    catalogue = catalogue or load_catalogue()
    labels = {q.label for q in period.quarters}
    rows = kpis_by_quarter[kpis_by_quarter["quarter"].isin(labels)]
    if rows.empty:
        raise ValueError(f"{period.label}: no agency_kpis for any of its quarters {sorted(labels)}")
    units = {code: kpi.unit for code, kpi in catalogue.kpis.items()}
    last = period.quarters[-1]
    restated = restate_to_successors(rows, registry, last, units=units)
    return combine_quarters(restated, catalogue, period=period)


def score_period(
    period: Period,
    kpis_by_quarter: pd.DataFrame,
    registry: pd.DataFrame,
    previous_ranking: pd.DataFrame | None = None,
    catalogue: Catalogue | None = None,
    appraisal: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, QuarterScores]:
    """The period's combined KPIs and their scores (with the period's own appraisal verdicts
    in force, if any) and ranking."""
    combined = period_kpis(period, kpis_by_quarter, registry, catalogue)
    scored = score_quarter(period.quarters[-1], combined, registry, previous_ranking=previous_ranking,
                           appraisal=appraisal)
    return combined, scored
