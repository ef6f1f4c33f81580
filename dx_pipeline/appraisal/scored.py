"""What an appraisal request is checked against: the period's scored indicators.

A verdict or an appeal names a framework, an agency and an indicator; each must have been
scored in the period (an agency the framework does not score, or an indicator it does not
assess, cannot be appraised), an adjusted value must lie in its unit's range and adjusted
points within what the indicator is worth to that agency. Every problem names the field it is
about, so the command line can name its option and a workbook its sheet, row and column.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import pandas as pd

from dx_pipeline.index.input_checks import InputSpec, input_specs, unit_range
from dx_pipeline.reference.catalogue import Catalogue
from dx_pipeline.reference.frameworks import Framework, Node

KEY = ["framework_id", "agency_code", "node_id"]
SHOWN = 8
"""At most this many known codes are suggested in a problem."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a request: where it was written, which field, what is wrong."""

    where: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}, {self.field}: {self.message}"


class AppraisalRefused(ValueError):
    """Requests refused as a whole: nothing was recorded. ``problems`` lists every one."""

    def __init__(self, what: str, problems: Sequence[Problem], shown: int = 30):
        self.problems = list(problems)
        lines = [str(p) for p in self.problems[:shown]]
        more = len(self.problems) - shown
        tail = [f"... and {more} more"] if more > 0 else []
        super().__init__(f"{what}: {len(self.problems)} problem(s), nothing recorded:\n  "
                         + "\n  ".join(lines + tail))


def _suggest(code: str, known: Iterable[str]) -> str:
    known = sorted(set(known))
    close = difflib.get_close_matches(code, known, n=3, cutoff=0.6)
    if close:
        return "did you mean " + " or ".join(repr(c) for c in close) + "?"
    listed = ", ".join(known[:SHOWN]) + (f", ... ({len(known)} in all)" if len(known) > SHOWN else "")
    return f"known: {listed}"


def _number(x: Any) -> str:
    return f"{float(x):g}"


@dataclass(frozen=True)
class ScoredResult:
    """A period's scored indicator rows, keyed by (framework, agency, indicator), with the
    frameworks that scored them and their inputs' units."""

    period: str
    indicators: pd.DataFrame
    frameworks: Mapping[str, Framework]
    specs: Mapping[str, Mapping[str, InputSpec]]

    @classmethod
    def from_scores(
        cls, period: str, index_scores: pd.DataFrame, frameworks: Sequence[Framework], catalogue: Catalogue
    ) -> ScoredResult:
        """From the period's ``index_scores`` and the frameworks that produced them."""
        rows = index_scores[index_scores["level"] == "indicator"].copy()
        rows[KEY] = rows[KEY].astype(str)
        by_id = {fw.id: fw for fw in frameworks}
        kpis = dict(catalogue.kpis)
        return cls(
            period=period,
            indicators=rows.set_index(KEY).sort_index(),
            frameworks=by_id,
            specs={fid: input_specs(fw, kpis) for fid, fw in by_id.items()},
        )

    def has(self, framework_id: str, agency_code: str, node_id: str) -> bool:
        """Whether that agency's indicator was scored in the period."""
        return (framework_id, agency_code, node_id) in self.indicators.index

    def row(self, framework_id: str, agency_code: str, node_id: str) -> pd.Series:
        """The scored row of that agency's indicator."""
        # a full key of the unique (framework, agency, node) index selects one row, a Series;
        # pandas-stubs has no .loc overload for a tuple of scalars on a MultiIndex
        key: Any = (framework_id, agency_code, node_id)
        return cast(pd.Series, self.indicators.loc[key])

    def node(self, framework_id: str, node_id: str) -> Node:
        """The framework's node."""
        return self.frameworks[framework_id].node(node_id)

    def agencies(self, framework_id: str) -> list[str]:
        """The agencies a framework scored in the period."""
        idx = self.indicators.index
        return sorted(set(idx[idx.get_level_values(0) == framework_id].get_level_values(1)))

    def key_problems(self, framework_id: str, agency_code: str, node_id: str, where: str) -> list[Problem]:
        """Why (framework, agency, indicator) cannot be appraised: unknown or not scored."""
        if framework_id not in self.frameworks:
            known = _suggest(framework_id, self.frameworks)
            return [Problem(where, "framework", f"{framework_id!r} was not scored in {self.period} "
                            f"({known})")]
        fw = self.frameworks[framework_id]
        out = []
        indicators = {n.id: n for n in fw.indicators()}
        if node_id not in indicators:
            known = _suggest(node_id, [n for n, x in indicators.items() if x.not_assessed is None])
            out.append(Problem(where, "indicator", f"{node_id!r} is not an indicator of {framework_id} "
                               f"({known})"))
        elif indicators[node_id].not_assessed is not None:
            out.append(Problem(where, "indicator", f"{node_id} is not assessed by {framework_id} "
                               f"{fw.version}: there is nothing to appraise"))
        agencies = self.agencies(framework_id)
        if agency_code not in agencies:
            known = _suggest(agency_code, agencies)
            out.append(Problem(where, "agency", f"{agency_code!r} is not scored under {framework_id} in "
                               f"{self.period} ({known})"))
        return out

    def value_problem(self, framework_id: str, node_id: str, value: float) -> str | None:
        """Why ``value`` cannot be the indicator's value (its unit's range), or None."""
        code = self.node(framework_id, node_id).input_code
        spec = self.specs[framework_id].get(str(code))
        lo, hi, what = unit_range(spec.unit if spec else "number")
        if lo is not None and value < lo:
            return f"{_number(value)} is below {_number(lo)}, out of range for {what}"
        if hi is not None and value > hi:
            return f"{_number(value)} is above {_number(hi)}, out of range for {what}"
        return None

    def points_problem(self, framework_id: str, agency_code: str, node_id: str, points: float) -> str | None:
        """Why ``points`` cannot be given to that agency's indicator, or None."""
        if points < 0:
            return f"{_number(points)} points: points cannot be negative"
        most = float(self.row(framework_id, agency_code, node_id)["max_points"])
        if points > most + 1e-9:
            return (f"{_number(points)} points are above what {node_id} is worth to {agency_code} "
                    f"({_number(most)})")
        return None
