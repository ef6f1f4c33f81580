"""Scoring a province's quarter: every built-in framework in force, against the quarter's KPIs.

The pipeline's index and ranking steps both call :func:`score_quarter`, so what is ranked is
exactly what was scored and checked. Frameworks whose units are not in the registry (the EGDI,
which scores countries) are left out.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pandas as pd

from dx_pipeline.index.builtins import frameworks_for
from dx_pipeline.index.engine import ScoreResult, score
from dx_pipeline.index.model import Framework
from dx_pipeline.quarters import Quarter

KPI_COLUMNS = ["agency_code", "kpi_code", "value", "numerator", "denominator"]


@dataclass(frozen=True)
class QuarterScores:
    quarter: Quarter
    results: tuple[ScoreResult, ...]

    @property
    def scores(self) -> pd.DataFrame:
        return _concat([r.scores for r in self.results])

    @property
    def ranking(self) -> pd.DataFrame:
        return _concat([r.ranking for r in self.results])

    @property
    def frameworks(self) -> list[Framework]:
        return [r.framework for r in self.results]


def provincial_frameworks(quarter: Quarter, registry: pd.DataFrame) -> list[Framework]:
    """Built-in frameworks in force in ``quarter`` whose levels occur in the registry."""
    levels = set(registry["level"].dropna().astype(str))
    return [
        fw
        for fw in frameworks_for(quarter)
        if "any" in fw.applies_to.levels or levels & set(fw.applies_to.levels)
    ]


def kpi_long(kpis: pd.DataFrame | None) -> pd.DataFrame | None:
    """The engine's long input (agency, KPI, value, numerator, denominator) from agency_kpis."""
    if kpis is None:
        return None
    return kpis[KPI_COLUMNS].reset_index(drop=True)


def score_quarter(
    quarter: Quarter,
    kpis: pd.DataFrame,
    registry: pd.DataFrame,
    previous_kpis: pd.DataFrame | None = None,
    previous_ranking: pd.DataFrame | None = None,
) -> QuarterScores:
    """Score ``kpis`` (agency_kpis rows of one quarter) under every framework in force."""
    data, previous = kpi_long(kpis), kpi_long(previous_kpis)
    results = tuple(
        score(fw, data, registry, previous, previous_ranking=previous_ranking, quarter=quarter)
        for fw in provincial_frameworks(quarter, registry)
    )
    return QuarterScores(quarter, results)


def framework_metadata(fw: Framework) -> dict:
    """What a publication's manifest records of a framework: id, version, file hash, names."""
    digest = hashlib.sha256(fw.source.read_bytes()).hexdigest() if fw.source else None
    return {
        "id": fw.id,
        "version": fw.version,
        "sha256": digest,
        "title_vi": fw.title.vi,
        "title_en": fw.title.en,
        "pillars": [
            {"id": p.id, "name_vi": p.name.vi, "name_en": p.name.en, "max_points": p.max_points}
            for p in fw.pillars
        ],
    }


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True)
