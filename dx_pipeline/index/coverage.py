"""Coverage: can every indicator of a framework be filled, for every level of agency it scores?

An indicator is filled by one of three sources, per agency level:

- a KPI the pipeline computes (``kpis.dossier_kpis``) whose input columns the portal field
  mapping (``config/portal_fields.yaml``) fills;
- an item of that level's submission form (the self-reported KPIs of the catalogue that apply
  to the level: exactly what ``dx-pipeline template`` writes and the readers read);
- the evaluators' appraisal, for an appraisal-only indicator (rule ``manual``: points awarded
  from evidence), when the pipeline has an appraisal step.

An indicator with none is an error when the framework loads for the pipeline, unless the
framework declares it ``not_assessed`` (with where its points go); a declaration that is no
longer true (a source now exists at every level) is an error too, so declarations stay
honest. Frameworks for units the pipeline has no data for (``country``: EGDI) take every input
from the table given to ``dx-pipeline score`` and are not checked here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from dx_pipeline.index.loader import FrameworkError
from dx_pipeline.kpis.dossier_kpis import computed_kpis
from dx_pipeline.reference.catalogue import AGENCY_LEVELS, Catalogue, load_catalogue
from dx_pipeline.reference.frameworks import Framework, Node
from dx_pipeline.sources.portal_mapping import load_field_mapping
from dx_pipeline.sources.templates import applicable_indicators

APPRAISAL_RULES = ("manual",)
"""Rules whose input is the points evaluators award from evidence."""


@dataclass(frozen=True)
class Fill:
    """How an indicator is filled for one level: ``computed``, ``form`` or ``appraisal``."""

    kind: str
    detail: str


@dataclass(frozen=True)
class FillSources:
    """What can fill an indicator's input, for agencies of each level.

    ``computed``: KPI code -> what it is computed from, for computed KPIs whose columns are
    filled; ``unfilled``: computed KPI code -> the columns it needs that nothing fills;
    ``forms``: level -> KPI codes on that level's submission form; ``appraisal``: whether an
    appraisal step fills appraisal-only indicators.
    """

    catalogue: Catalogue
    computed: Mapping[str, str]
    unfilled: Mapping[str, str]
    forms: Mapping[str, frozenset[str]]
    appraisal: bool = False

    def fill(self, node: Node, level: str) -> Fill | None:
        """The source that fills ``node`` for agencies of ``level``, or None."""
        if node.rule in APPRAISAL_RULES:
            return Fill("appraisal", "awarded by evaluators from the evidence") if self.appraisal else None
        kpi = self.catalogue.kpis.get(node.kpi or "")
        if kpi is None or level not in kpi.applies_to:
            return None
        if kpi.source == "submission":
            return Fill("form", f"item {kpi.code} of the {level} submission form") \
                if kpi.code in self.forms.get(level, ()) else None
        if kpi.code in self.computed:
            return Fill("computed", f"{kpi.code} computed from {self.computed[kpi.code]}")
        return None

    def why_not(self, node: Node, level: str) -> str:
        """Why nothing fills ``node`` for ``level``, in words (for the loader's message)."""
        if node.rule in APPRAISAL_RULES:
            return "it is appraisal-only (rule manual) and the pipeline has no appraisal step that fills it"
        if node.item:
            return (f"'{node.item}' is an input of the framework's own (item), which only a table given to "
                    "`dx-pipeline score` provides")
        kpi = self.catalogue.kpis.get(node.kpi or "")
        if kpi is None:
            return f"'{node.kpi}' is not in the KPI catalogue"
        if level not in kpi.applies_to:
            return f"the KPI catalogue says {kpi.code} applies to {', '.join(kpi.applies_to)}, not {level}"
        if kpi.source == "submission":
            return f"{kpi.code} is not on the {level} submission form"
        if kpi.code in self.unfilled:
            return (f"{kpi.code} is computed from {self.unfilled[kpi.code]}, which the portal field mapping "
                    "does not fill")
        return f"no step of the pipeline computes {kpi.code} (a {kpi.source} KPI)"


def checked_levels(fw: Framework) -> tuple[str, ...]:
    """The agency levels the pipeline has sources for that the framework scores."""
    levels = fw.applies_to.levels
    if "any" in levels:
        return AGENCY_LEVELS
    return tuple(lvl for lvl in levels if lvl in AGENCY_LEVELS)


def coverage_problems(fw: Framework, sources: FillSources) -> list[str]:
    """``node ID: ...`` for every indicator nothing fills at some level it is scored for, and
    for every not-assessed declaration that a source now makes untrue."""
    levels = checked_levels(fw)
    problems = []
    for node in fw.indicators():
        fills = {lvl: sources.fill(node, lvl) for lvl in levels}
        if node.not_assessed is not None:
            if levels and all(fills.values()):
                detail = "; ".join(sorted({f.detail for f in fills.values() if f}))
                problems.append(f"node {node.id}: declared not assessed, but it can be filled ({detail}); "
                                f"remove not_assessed")
            continue
        reasons: dict[str, list[str]] = {}
        for lvl in (lvl for lvl, f in fills.items() if f is None):
            reasons.setdefault(sources.why_not(node, lvl), []).append(lvl)
        for why, lvls in reasons.items():
            problems.append(f"node {node.id}: nothing can fill it for {_and(lvls)} units: {why}; give "
                            f"it a source, or declare it not_assessed with where its {node.max_points:g} "
                            "points go")
    return problems


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def check_coverage(fw: Framework, sources: FillSources, fname: str | None = None) -> Framework:
    """``fw`` if every indicator can be filled (or is declared not assessed); otherwise a
    :class:`FrameworkError` naming the file, each indicator and why."""
    problems = coverage_problems(fw, sources)
    if problems:
        raise FrameworkError(fname or (fw.source.name if fw.source else fw.id), problems)
    return fw


def coverage_rows(fw: Framework, sources: FillSources) -> list[tuple[str, str, str, str]]:
    """(indicator id, level, kind, detail) for every indicator and checked level: kind is
    ``computed``, ``form``, ``appraisal``, ``not assessed`` or ``none`` (with why)."""
    rows = []
    for node in fw.indicators():
        for lvl in checked_levels(fw):
            if node.not_assessed is not None:
                rows.append((node.id, lvl, "not assessed", node.not_assessed.reason.en))
                continue
            found = sources.fill(node, lvl)
            rows.append((node.id, lvl, found.kind, found.detail) if found else
                        (node.id, lvl, "none", sources.why_not(node, lvl)))
    return rows


def build_sources(
    catalogue: Catalogue, filled: Mapping[str, frozenset[str]], appraisal: bool = False
) -> FillSources:
    """Sources from a catalogue and the columns the portal mapping fills per warehouse table
    (``portal_dossiers``, ``procedures``): the KPIs computed from filled columns, the forms."""
    computed, unfilled = {}, {}
    for code, (table, columns) in computed_kpis().items():
        missing = sorted(columns - filled.get(table, frozenset()))
        if missing:
            unfilled[code] = f"{table} columns {', '.join(missing)}"
        else:
            computed[code] = table + (f" ({', '.join(sorted(columns))})" if columns else "")
    forms = {lvl: frozenset(k.code for k in applicable_indicators(catalogue, lvl)) for lvl in AGENCY_LEVELS}
    return FillSources(catalogue, computed, unfilled, forms, appraisal=appraisal)


@lru_cache(maxsize=1)
def packaged_sources() -> FillSources:
    """The sources of this installation: its KPI computations over what its portal field
    mapping fills, its submission forms (from the KPI catalogue), and no appraisal step."""
    filled = {table: load_field_mapping(kind).filled_columns()
              for table, kind in (("portal_dossiers", "dossiers"), ("procedures", "procedures"))}
    return build_sources(load_catalogue(), filled)
