"""Rules a published ranking must satisfy before anyone outside sees it.

Plain functions over the ranking tables (``ranking_snapshot``, a period's published ranking,
``rank_uncertainty``): each returns the list of problems it found, one line each, naming the
framework, group and agency, so the Dagster checks (:mod:`dx_pipeline.defs.publication_checks`)
and tests call the same code. An empty list means the table is fit to publish.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

TOLERANCE = 1e-9
"""Slack for comparing points and ranks stored as floats."""


def _group_rank_problems(where: str, group: pd.DataFrame, ties: str) -> list[str]:
    """One ranking group: ranks 1..n, better totals never ranked below worse ones, ties ranked
    by the framework's rule (shared: 1, 2, 2, 4; consecutive: 1, 2, 3, 4)."""
    points = group["total_points"].to_numpy(dtype=float)
    ranks = group["rank"].to_numpy(dtype=float)
    codes = group["agency_code"].astype(str).to_numpy()
    n = len(group)
    problems = []
    if ranks.min() != 1 or ranks.max() > n:
        problems.append(f"{where}: ranks run {ranks.min():g}..{ranks.max():g}, expected within 1..{n}")
    for p, r, c in zip(points, ranks, codes, strict=True):
        expected = 1 + int((points > p + TOLERANCE).sum())
        if ties == "consecutive":
            expected += int(((np.abs(points - p) <= TOLERANCE) & (codes < c)).sum())
        if r != expected:
            problems.append(f"{where}: {c} has rank {r:g} with {p:g} points, expected {expected}")
    return problems


def ranking_problems(ranking: pd.DataFrame, ties: Mapping[str, str]) -> list[str]:
    """A ranking table's defects: one row per framework and agency, points within 0..max,
    ranks dense from 1 within each framework and peer group under the framework's tie rule
    (``ties``: framework id -> ``shared`` or ``consecutive``)."""
    problems: list[str] = []
    if len(ranking) == 0:
        return ["the ranking has no rows"]
    dup = ranking[ranking.duplicated(["framework_id", "agency_code"], keep=False)]
    problems += [f"{f}: {a} has more than one row" for f, a in
                 sorted(set(zip(dup["framework_id"], dup["agency_code"], strict=True)))]
    points, most = ranking["total_points"].astype(float), ranking["max_points"].astype(float)
    bad = ranking[(points < -TOLERANCE) | (points > most + TOLERANCE) | points.isna()]
    problems += [f"{r.framework_id}: {r.agency_code} has {r.total_points} of {r.max_points} points"
                 for r in bad.itertuples()]
    unknown = sorted(set(ranking["framework_id"].astype(str)) - set(ties))
    problems += [f"{f}: not a framework in force this quarter" for f in unknown]
    ranked = ranking.dropna(subset=["rank"])
    for (fid, group_name), group in ranked.groupby(["framework_id", "peer_group"], sort=True):
        where = f"{fid} / {group_name}"
        problems += _group_rank_problems(where, group, ties.get(str(fid), "shared"))
    return problems


def uncertainty_problems(uncertainty: pd.DataFrame) -> list[str]:
    """Rank intervals' defects: one row per framework and agency, ``1 <= rank_p05 <=
    rank_median <= rank_p95 <= n`` (n the agencies of its ranking group, when the table says
    which group) and every bound present."""
    if len(uncertainty) == 0:
        return []
    problems: list[str] = []
    dup = uncertainty[uncertainty.duplicated(["framework_id", "agency_code"], keep=False)]
    problems += [f"{f}: {a} has more than one interval" for f, a in
                 sorted(set(zip(dup["framework_id"], dup["agency_code"], strict=True)))]
    lo, mid, hi = (uncertainty[c].astype(float) for c in ("rank_p05", "rank_median", "rank_p95"))
    size = (uncertainty.groupby(["framework_id", "peer_group"])["agency_code"].transform("size")
            if "peer_group" in uncertainty.columns else pd.Series(np.inf, index=uncertainty.index))
    bad = lo.isna() | mid.isna() | hi.isna() | (lo < 1) | (lo > mid + TOLERANCE) | (mid > hi + TOLERANCE)
    bad |= hi > size.astype(float) + TOLERANCE
    for r, n in zip(uncertainty[bad].itertuples(), size[bad], strict=True):
        problems.append(f"{r.framework_id}: {r.agency_code} interval {r.rank_p05}..{r.rank_p95} "
                        f"(median {r.rank_median}) is not within 1..{n:g} in order")
    return problems


def ranks_outside_interval(uncertainty: pd.DataFrame) -> int:
    """Agencies whose published rank falls outside their 5–95 % interval: not a defect (the
    published rank uses the framework's own weights and tie rule, the interval alternatives),
    but a sign that their rank rests on the method; shown with the check, never blocking."""
    if "rank" not in uncertainty.columns or len(uncertainty) == 0:
        return 0
    rank = uncertainty["rank"].astype(float)
    lo, hi = uncertainty["rank_p05"].astype(float), uncertainty["rank_p95"].astype(float)
    return int(((rank < lo - TOLERANCE) | (rank > hi + TOLERANCE)).sum())


def missing_quarters(expected: Iterable[str], present: Iterable[str]) -> list[str]:
    """The quarters of a period whose KPIs are not there to combine (a period published from
    some of its quarters would be ranked on part of its time)."""
    have = set(present)
    return [f"{q}: no agency_kpis to combine" for q in expected if q not in have]
