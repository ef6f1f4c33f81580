"""An evaluator's verdicts as the scoring engine applies them.

The appraisal database (:mod:`dx_pipeline.appraisal`) keeps every verdict ever given; the
engine receives only the one in force per (framework, agency, indicator), as a table with
:data:`APPRAISAL_COLUMNS`:

- ``accept``: the reported value stands (recorded, so the score says it was checked);
- ``adjust_value``: the rule is applied to the evaluator's value instead of the reported one;
- ``adjust_points``: the indicator gets the evaluator's points (at most its maximum);
- ``reject``: the evidence is not accepted, the indicator scores 0 (no missing-data policy).

Every verdict needs its reason; each one becomes part of the indicator's ``note``. Rows for an
agency the framework does not score, or a node that is not an assessed indicator, change
nothing here: the appraisal's check in the pipeline reports them as errors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from dx_pipeline.index.notes import Notes
from dx_pipeline.reference.frameworks import Name

VERDICTS = ("accept", "adjust_value", "adjust_points", "reject")
"""What an evaluator can decide about one agency's indicator."""
VERDICT_NAMES = {
    "accept": Name("Chấp nhận", "Accepted"),
    "adjust_value": Name("Điều chỉnh giá trị", "Value adjusted"),
    "adjust_points": Name("Điều chỉnh điểm", "Points adjusted"),
    "reject": Name("Không chấp nhận minh chứng", "Evidence rejected"),
}
APPRAISAL_COLUMNS = [
    "framework_id", "agency_code", "node_id", "verdict", "value", "points", "adjustment_id", "reason",
]
"""The verdicts in force, one row per (framework, agency, indicator)."""


def empty_appraisal() -> pd.DataFrame:
    """No verdicts: what a quarter nobody has appraised yet gives the engine."""
    return pd.DataFrame({c: pd.Series(dtype=float if c in ("value", "points") else object)
                         for c in APPRAISAL_COLUMNS})


def unappraised(scores: pd.DataFrame) -> pd.DataFrame:
    """Scores nobody appraised: the reported value and points are the scored ones, no verdict."""
    n = len(scores)
    return scores.assign(
        reported_value=scores["input_value"],
        reported_points=scores["points"],
        # built as missing values directly: a list of n Nones costs seconds at 45M rows
        appraisal=pd.arrays.ArrowStringArray(pa.nulls(n, pa.large_string())),
        adjustment_id=pd.arrays.IntegerArray(np.zeros(n, dtype=np.int64), np.ones(n, dtype=bool)),
    )


def appraisal_by_node(appraisal: pd.DataFrame | None, framework_id: str) -> dict[str, pd.DataFrame]:
    """The verdicts of one framework, per node, indexed by agency code."""
    if appraisal is None or appraisal.empty:
        return {}
    missing = [c for c in APPRAISAL_COLUMNS if c not in appraisal.columns]
    if missing:
        raise ValueError(f"appraisal table lacks columns {missing}")
    bad = sorted(set(appraisal["verdict"].dropna()) - set(VERDICTS))
    if bad:
        raise ValueError(f"appraisal table: unknown verdicts {bad} (known: {', '.join(VERDICTS)})")
    rows = appraisal[appraisal["framework_id"].astype(str) == framework_id]
    if rows.duplicated(["agency_code", "node_id"]).any():
        raise ValueError(f"appraisal table has two verdicts in force for one indicator of {framework_id}")
    return {str(node): g.set_index(g["agency_code"].astype(str)) for node, g in rows.groupby("node_id")}


def _fmt(x: float) -> str:
    return f"{x:g}"


@dataclass(frozen=True)
class NodeAppraisal:
    """The verdicts on one indicator, aligned with the scored units (None: not appraised)."""

    verdict: np.ndarray
    value: np.ndarray
    points: np.ndarray
    adjustment_id: np.ndarray
    reason: np.ndarray

    @classmethod
    def of(cls, rows: pd.DataFrame | None, agencies: pd.Series) -> NodeAppraisal | None:
        """``rows`` (indexed by agency) aligned with ``agencies``; None when nobody is appraised."""
        if rows is None or rows.empty:
            return None
        aligned = rows.reindex(agencies.astype(str).to_numpy())
        if aligned["verdict"].isna().all():
            return None
        return cls(
            verdict=aligned["verdict"].to_numpy(dtype=object),
            value=aligned["value"].to_numpy(dtype=float, na_value=np.nan),
            points=aligned["points"].to_numpy(dtype=float, na_value=np.nan),
            adjustment_id=aligned["adjustment_id"].to_numpy(dtype=object),
            reason=aligned["reason"].to_numpy(dtype=object),
        )

    def _is(self, verdict: str) -> np.ndarray:
        return self.verdict == verdict

    def apply_values(self, value: np.ndarray, denominator: np.ndarray, notes: Notes) -> np.ndarray:
        """Put adjusted values in place of the reported ones (in ``value``; the denominator no
        longer counts), note every verdict, and return where the evidence was rejected."""
        rows, texts = [], []
        for i in np.flatnonzero(pd.notna(self.verdict)):
            ref = self.adjustment_id[i]
            head = "appraisal" if pd.isna(ref) else f"appraisal #{int(ref)}"
            verdict = self.verdict[i]
            if verdict == "adjust_value":
                reported = "no value" if np.isnan(value[i]) else _fmt(value[i])
                text = f"{head} set the value to {_fmt(self.value[i])} (reported: {reported})"
                value[i], denominator[i] = self.value[i], np.nan
            elif verdict == "reject":
                text = f"{head} rejected the evidence: scored 0"
                value[i] = np.nan
            elif verdict == "adjust_points":
                text = f"{head} set the points to {_fmt(self.points[i])}"
            else:
                text = f"{head} accepted the reported value"
            rows.append(int(i))
            texts.append(f"{text} ({self.reason[i]})")
        notes.add_each(rows, texts)
        return self._is("reject")

    def points_set(self) -> np.ndarray:
        """The evaluator's points where the verdict sets them, NaN elsewhere."""
        return np.where(self._is("adjust_points"), self.points, np.nan)
