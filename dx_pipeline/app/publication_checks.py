"""The checks of what is published: the quarter's ranking, its rank intervals and the half-year
and year rankings that close with it.

Each function reads one quarter's tables, applies the rules of
:mod:`dx_pipeline.quality.ranking_rules` and returns a :class:`Verdict` the Dagster checks
(:mod:`dx_pipeline.defs.publication_checks`) show as they are: a defect in a ranking is an
ERROR that stops the website (and, for the intervals, the ranking) of the quarter.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dx_pipeline.app.quarter import try_read
from dx_pipeline.app.settings import Settings
from dx_pipeline.index.period_scoring import periods_closing_with
from dx_pipeline.index.quarter_scoring import provincial_frameworks
from dx_pipeline.publish.snapshot import latest_publication
from dx_pipeline.quality.ranking_rules import (
    missing_quarters,
    ranking_problems,
    ranks_outside_interval,
    uncertainty_problems,
)
from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.storage import read_partition


@dataclass(frozen=True)
class Verdict:
    """One check's outcome: ``errors`` block, ``warnings`` are shown; ``counts`` are the
    figures worth plotting per quarter."""

    quarter: Quarter
    text: str
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return not self.errors and not self.warnings


def _ties(settings: Settings, quarter: Quarter) -> dict[str, str]:
    """Framework id -> tie rule of the frameworks in force in the quarter."""
    registry = read_partition(settings.home, "agencies", quarter)
    return {fw.id: fw.ranking.ties for fw in provincial_frameworks(quarter, registry)}


def check_ranking_snapshot(settings: Settings, quarter: Quarter) -> Verdict:
    """The stored ranking of ``quarter``: one row per framework and agency, points within
    their maximum, ranks 1..n within each framework and peer group under its tie rule."""
    ranking = read_partition(settings.home, "ranking_snapshot", quarter)
    errors = ranking_problems(ranking, _ties(settings, quarter))
    ranked = int(ranking["rank"].notna().sum())
    text = (f"{quarter.label}: {len(ranking)} rows, {ranked} ranked"
            + (f", {len(errors)} problem(s)" if errors else ", ranks and totals consistent"))
    return Verdict(quarter, text, errors, counts={"rows": len(ranking), "problems": len(errors)})


def check_rank_uncertainty(settings: Settings, quarter: Quarter) -> Verdict:
    """The rank intervals of ``quarter``: ordered bounds within the group's size, one per
    framework and agency; how many published ranks fall outside their interval is counted."""
    table = read_partition(settings.home, "rank_uncertainty", quarter)
    errors = uncertainty_problems(table)
    outside = ranks_outside_interval(table)
    text = (f"{quarter.label}: {len(table)} intervals"
            + (f", {len(errors)} problem(s)" if errors else ", every interval ordered and within its group")
            + f"; {outside} published rank(s) outside their 5–95 % interval")
    counts = {"intervals": len(table), "problems": len(errors), "ranks_outside_interval": outside}
    return Verdict(quarter, text, errors, counts=counts)


def check_period_rankings(settings: Settings, quarter: Quarter) -> Verdict:
    """The half-year and year published with ``quarter`` (none for Q1 and Q3): each published,
    ranked soundly (as a quarter), and combined from KPIs of every one of its quarters
    (a missing quarter is a warning: the period is published from what there is)."""
    periods = periods_closing_with(quarter)
    if not periods:
        return Verdict(quarter, f"{quarter.label} closes no half-year or year: nothing to check")
    ties = _ties(settings, quarter)
    errors: list[str] = []
    warnings: list[str] = []
    rows = 0
    for period in periods:
        publication = latest_publication(settings.home, period)
        if publication is None:
            errors.append(f"{period.label}: not published")
            continue
        ranking = publication.ranking()
        rows += len(ranking)
        errors += [f"{period.label} {p}" for p in ranking_problems(ranking, ties)]
        labels = [q.label for q in period.quarters]
        present = [q.label for q in period.quarters if try_read(settings.home, "agency_kpis", q) is not None]
        warnings += [f"{period.label} {m}" for m in missing_quarters(labels, present)]
    text = f"{quarter.label} closes {', '.join(p.label for p in periods)}: {rows} rows"
    text += f", {len(errors)} problem(s)" if errors else ", ranks and totals consistent"
    if warnings:
        text += f"; {len(warnings)} quarter(s) without KPIs combined"
    return Verdict(quarter, text, errors, warnings,
                   counts={"rows": rows, "problems": len(errors), "quarters_missing": len(warnings)})
