"""One quarter of the pipeline: every framework in force, scored on the quarter's agency_kpis.

The thin layer the Dagster assets call: it picks the built-in frameworks effective in the
quarter for the levels present in the registry, turns ``agency_kpis`` into the engine's long
table, and stacks the per-framework results into one ``index_scores`` and one ranking table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from dx_pipeline.index.builtins import frameworks_for
from dx_pipeline.index.engine import SCORE_COLUMNS, ScoreResult, score
from dx_pipeline.index.inputs import select_units
from dx_pipeline.index.ranking import RANKING_COLUMNS, rank_units
from dx_pipeline.reference.frameworks import Framework
from dx_pipeline.reference.quarters import Quarter

LONG_COLUMNS = ["agency_code", "kpi_code", "value", "numerator", "denominator"]


@dataclass(frozen=True)
class QuarterScores:
    """``scores``: index_scores rows of every framework; ``ranking``: ranking rows of every
    framework (no quarter, revision or published_at); ``results``: per framework id."""

    frameworks: list[Framework]
    scores: pd.DataFrame
    ranking: pd.DataFrame
    results: dict[str, ScoreResult] = field(default_factory=dict)


def kpi_long(agency_kpis: pd.DataFrame | None) -> pd.DataFrame:
    """agency_kpis rows as the engine's long table (agency_code, kpi_code, value, num, den)."""
    if agency_kpis is None:
        return pd.DataFrame(columns=LONG_COLUMNS)
    df = agency_kpis.drop(columns=["quarter"], errors="ignore")
    for col in LONG_COLUMNS:
        if col not in df.columns:
            df = df.assign(**{col: None})
    return df[LONG_COLUMNS].reset_index(drop=True)


def _levels_in(registry: pd.DataFrame, quarter: Quarter) -> set[str]:
    reg = registry
    if "valid_from" in reg.columns:
        vf = pd.to_datetime(reg["valid_from"]).dt.date
        reg = reg[vf.isna() | (vf <= quarter.last_day)]
    if "valid_to" in reg.columns:
        vt = pd.to_datetime(reg["valid_to"]).dt.date
        reg = reg[vt.isna() | (vt >= quarter.start)]
    return set(reg["level"].dropna().astype(str)) if "level" in reg.columns else set()


def provincial_frameworks(quarter: Quarter | str, registry: pd.DataFrame) -> list[Framework]:
    """Built-in frameworks in force in the quarter that apply to a level the registry has."""
    q = quarter if isinstance(quarter, Quarter) else Quarter.parse(quarter)
    levels = _levels_in(registry, q)
    return [fw for fw in frameworks_for(q) if levels & set(fw.applies_to.levels)]


def score_quarter(
    quarter: Quarter | str,
    agency_kpis: pd.DataFrame,
    agencies: pd.DataFrame,
    previous_kpis: pd.DataFrame | None = None,
    previous_ranking: pd.DataFrame | None = None,
    frameworks: list[Framework] | None = None,
    appraisal: pd.DataFrame | None = None,
) -> QuarterScores:
    """Score the quarter under every framework in force (or the given ones), with the
    evaluators' verdicts in force (``appraisal``, see :mod:`dx_pipeline.index.appraised`)."""
    q = quarter if isinstance(quarter, Quarter) else Quarter.parse(quarter)
    fws = frameworks if frameworks is not None else provincial_frameworks(q, agencies)
    data = kpi_long(agency_kpis)
    prev = kpi_long(previous_kpis) if previous_kpis is not None else None
    registry = agencies.drop(columns=["quarter"], errors="ignore")
    results: dict[str, ScoreResult] = {}
    for fw in fws:
        result = score(fw, data, registry, prev, previous_ranking=previous_ranking, quarter=q,
                       appraisal=appraisal)
        if len(result.ranking):
            results[fw.id] = result
    used = [results[fw.id].framework for fw in fws if fw.id in results]  # the versions in force
    scores = (pd.concat([r.scores for r in results.values()], ignore_index=True) if results
              else pd.DataFrame(columns=SCORE_COLUMNS))
    ranking = (pd.concat([r.ranking for r in results.values()], ignore_index=True) if results
               else pd.DataFrame(columns=RANKING_COLUMNS))
    return QuarterScores(used, scores, ranking, results)


def rank_scored(
    frameworks: list[Framework],
    scores: pd.DataFrame,
    registry: pd.DataFrame,
    quarter: Quarter | str,
    previous_ranking: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Rank stored ``index_scores`` (their total rows) under each framework, without scoring
    again: what is published is exactly what was scored and quality-checked.

    The units, their names, peer and ranking groups come from the registry as the engine chose
    them; a scored agency the registry no longer selects (or the reverse) is an error.
    """
    q = quarter if isinstance(quarter, Quarter) else Quarter.parse(quarter)
    registry = registry.drop(columns=["quarter"], errors="ignore")
    frames = []
    for fw in frameworks:
        totals = scores[(scores["framework_id"] == fw.id) & (scores["level"] == "total")]
        totals = totals.set_index(totals["agency_code"].astype(str))
        units = select_units(fw, pd.DataFrame({"agency_code": []}), registry, q)
        codes = units["agency_code"].astype(str)
        if set(codes) != set(totals.index):
            extra = sorted(set(totals.index) ^ set(codes))[:5]
            raise ValueError(
                f"index_scores of {q.label} under {fw.id} do not cover the agencies the registry "
                f"selects (e.g. {extra}): rematerialize index_scores"
            )
        frames.append(rank_units(
            fw,
            units,
            totals["points"].reindex(codes).astype(float),
            totals["max_points"].reindex(codes).astype(float),
            previous_ranking,
        ))
    if not frames:
        return pd.DataFrame(columns=RANKING_COLUMNS)
    return pd.concat(frames, ignore_index=True)


def same_points(stored: pd.DataFrame, fresh: pd.DataFrame, tolerance: float = 1e-9) -> bool:
    """Whether two index_scores tables give every (framework, agency, node) the same points,
    the same points before appraisal and the same verdict behind them: the ranking step checks
    that what it ranks is what was scored and quality-checked."""
    keys = ["framework_id", "agency_code", "node_id"]
    numbers = [c for c in ("points", "reported_points") if c in stored.columns and c in fresh.columns]
    a = stored.sort_values(keys).reset_index(drop=True)
    b = fresh.sort_values(keys).reset_index(drop=True)
    if len(a) != len(b) or not a[keys].astype(str).equals(b[keys].astype(str)):
        return False
    if "adjustment_id" in a.columns and "adjustment_id" in b.columns:
        if not a["adjustment_id"].astype("Int64").equals(b["adjustment_id"].astype("Int64")):
            return False
    if len(a) == 0:
        return True
    diff = (a[numbers].astype(float) - b[numbers].astype(float)).abs().fillna(0.0)
    return bool(diff.to_numpy().max() <= tolerance)
