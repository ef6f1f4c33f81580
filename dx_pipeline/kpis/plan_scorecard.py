"""The province against its plans: every target of every plan (``config/plan_targets.yaml``) with
the province-level value computed the way the target is worded, whether it is met, and the trend.

Computed from a period's ``agency_kpis`` rows (one quarter, or the quarters of a year) and the
registry; nothing here reads or writes storage. A target's ``measure`` says how its value is
computed (see :mod:`dx_pipeline.reference.targets`):

- ``ratio_of_sums``: the sum of numerators over the sum of denominators of the tier's agencies,
  over the period's quarters, on each agency's own figures (a district's dossiers without its
  communes'). Agencies that gave a rate without its parts are left out when others gave parts
  (and counted in the note); when none gave parts, the value is the plain mean of their rates.
- ``share_of_agencies``: of the tier's agencies existing at the end of the period (or at the end
  of a province that ended in it), those whose latest figure in the period is 1; an agency that
  did not report counts as not having it.
- ``province_total``: the sum over the province's agencies (over the tier's, for a district or
  commune target) across the period; a total is judged on a year, a quarter only shows it.
- ``province_has``: 1 when the latest figure of any agency of the tier is 1.

Provinces merged in 2025: a province-level value of a period that began before a merger is the
plain mean of its predecessor provinces' values for that period (a total: their sum), each over
the units that were that province's - the national rule for merged provinces (DTI, Decision
405/QĐ-BKHCN). A quarter before the merger shows each province as it was; the trend compares
with the previous period restated the same way.

Not here: storing or publishing the table (app and publish), scoring agencies (index).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dx_pipeline.kpis.rollup import own_figures
from dx_pipeline.reference import schemas
from dx_pipeline.reference.catalogue import Catalogue, load_catalogue
from dx_pipeline.reference.quarters import Period, Quarter
from dx_pipeline.reference.targets import Plan, PlanSet, Target

COLUMNS = schemas.PLAN_SCORECARD.names
TIER_LEVELS = {
    "province": ("department",),
    "district": ("district",),
    "commune": ("commune",),
    "all": ("department", "district", "commune"),
}
"""Registry levels a target's tier counts for rates and shares (cấp tỉnh = the departments)."""
WHOLE_PROVINCE = ("province", "department", "district", "commune")
"""Levels a province-wide total or yes/no counts when the target is on the province or all."""
_LEVEL_SETS = tuple(dict.fromkeys((*TIER_LEVELS.values(), WHOLE_PROVINCE)))
_ROW_COLUMNS = ["quarter", "agency_code", "kpi_code", "numerator", "denominator", "value"]
_EPS = 1e-9


@dataclass(frozen=True)
class Figure:
    """One province's value for one target and period, with what it was computed over."""

    value: float | None
    numerator: float | None = None
    denominator: float | None = None
    agencies: int = 0
    reported: int = 0
    note: str = ""


@dataclass(frozen=True)
class _Unit:
    """A province as it stood during the period, and the agencies that were its own."""

    code: str
    agencies: pd.DataFrame  # registry rows of the province's tree, with ``alive`` in the period

    def tier(self, levels: tuple[str, ...]) -> tuple[frozenset[str], frozenset[str]]:
        """(agencies of these levels alive in the period, those existing at its end)."""
        rows = self.agencies[self.agencies["level"].isin(levels) & self.agencies["alive"]]
        return frozenset(rows["agency_code"]), frozenset(rows.loc[rows["valid_on_end"], "agency_code"])


def plan_scorecard(
    kpis: pd.DataFrame,
    registry: pd.DataFrame,
    plans: PlanSet,
    period: Period | Quarter | str,
    catalogue: Catalogue | None = None,
    previous: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every target of every plan against the province, for one quarter or year.

    ``kpis``: agency_kpis rows of the period (a ``quarter`` column is needed for a year);
    ``registry``: the agencies table; ``previous``: this function's result for the period
    before, for the trend (None: no trend). One row per province existing at the end of the
    period and plan target, columns of the ``plan_scorecard`` contract, in the plans' order.
    """
    per = Period.parse(period)
    catalogue = catalogue if catalogue is not None else load_catalogue()
    rows = own_figures(_period_rows(kpis, per), registry)[_ROW_COLUMNS]
    rows = rows.assign(agency_code=rows["agency_code"].astype(object))
    by_kpi = {code: part for code, part in rows.groupby("kpi_code", sort=False)}
    out = []
    for final, units in _province_groups(registry, per).items():
        name = str(registry.loc[registry["agency_code"] == final, "name_vi"].iloc[0])
        tiers = {(u.code, levels): u.tier(levels) for u in units for levels in _LEVEL_SETS}
        for plan in plans.plans.values():
            for target in plan.targets:
                kpi_rows = by_kpi.get(target.kpi, rows.iloc[0:0])
                levels = _levels(target)
                figures = [
                    (u.code, target_figure(kpi_rows, *tiers[(u.code, levels)], target, per)) for u in units
                ]
                out.append(_row(per, final, name, plan, target, figures, catalogue))
    table = pd.DataFrame(out, columns=COLUMNS)
    return _with_trend(table, previous, registry, per, catalogue)


def _levels(target: Target) -> tuple[str, ...]:
    if target.measure in ("province_total", "province_has") and target.level in ("province", "all"):
        return WHOLE_PROVINCE
    return TIER_LEVELS[target.level]


def target_figure(kpi_rows: pd.DataFrame, alive: frozenset[str], at_end: frozenset[str], target: Target,
                  per: Period) -> Figure:
    """One province's value for ``target`` from the own figures of its tier's agencies
    (``alive``: existing at some time in the period; ``at_end``: at its end)."""
    if not alive:
        return Figure(None, note=f"no {target.level} units in {per.label}")
    mine = kpi_rows[kpi_rows["agency_code"].isin(alive)]
    if target.measure == "ratio_of_sums":
        return _ratio_of_sums(mine, len(alive))
    if target.measure == "share_of_agencies":
        return _share_of_agencies(_latest(mine), len(at_end), at_end)
    if target.measure == "province_total":
        return _province_total(mine, len(alive))
    return _province_has(_latest(mine), len(alive))


def _ratio_of_sums(rows: pd.DataFrame, agencies: int) -> Figure:
    rows = rows[rows["value"].notna() | rows["numerator"].notna()]
    reported = rows["agency_code"].nunique()
    parts = rows["numerator"].notna() & rows["denominator"].notna()
    if parts.any():
        num, den = float(rows.loc[parts, "numerator"].sum()), float(rows.loc[parts, "denominator"].sum())
        bare = rows.loc[~parts, "agency_code"].nunique()
        note = f"{bare} agencies gave a rate without its numerator and denominator: left out" if bare else ""
        if den <= 0:
            return Figure(None, num, den, agencies, reported, _join(note, "nothing to judge (denominator 0)"))
        return Figure(num / den, num, den, agencies, reported, note)
    if reported:
        note = "no agency gave numerator and denominator: the plain mean of the agencies' rates"
        return Figure(float(rows["value"].mean()), None, None, agencies, reported, note)
    return Figure(None, None, None, agencies, 0)


def _share_of_agencies(latest: pd.Series, agencies: int, eligible: frozenset[str]) -> Figure:
    latest = latest[latest.index.isin(eligible)]
    has = int((latest >= 1 - _EPS).sum())
    if not len(latest):
        return Figure(None, None, float(agencies), agencies, 0)
    missing = agencies - len(latest)
    note = f"{missing} agencies did not report: counted as not having it" if missing else ""
    return Figure(has / agencies, float(has), float(agencies), agencies, len(latest), note)


def _province_total(rows: pd.DataFrame, agencies: int) -> Figure:
    values = rows["value"].dropna()
    if values.empty:
        return Figure(None, agencies=agencies)
    total = float(values.sum())
    return Figure(total, total, None, agencies, rows.loc[values.index, "agency_code"].nunique())


def _province_has(latest: pd.Series, agencies: int) -> Figure:
    if latest.empty:
        return Figure(None, agencies=agencies)
    has = bool((latest >= 1 - _EPS).any())
    who = ", ".join(sorted(latest.index[latest >= 1 - _EPS]))
    note = f"reported by {who}" if who else ""
    return Figure(1.0 if has else 0.0, float(has), None, agencies, len(latest), note)


def _latest(rows: pd.DataFrame) -> pd.Series:
    """Each agency's latest value in the period (stock figures: yes/no, evidence, levels)."""
    known = rows[rows["value"].notna()]
    if known.empty:
        return pd.Series(dtype="float64")
    return known.sort_values("quarter", kind="stable").groupby("agency_code")["value"].last()


def _row(per: Period, final: str, name: str, plan: Plan, target: Target,
         figures: list[tuple[str, Figure]], catalogue: Catalogue) -> dict:
    """The scorecard row of one target for one province from its predecessors' figures."""
    fig, predecessors = _combine(figures, target.measure)
    kpi = catalogue.get(target.kpi)
    met = kpi.meets(fig.value, target.target) if kpi is not None and fig.value is not None else None
    if not fig.agencies:
        status = "no_agencies"
    elif fig.value is None:
        status = "no_data"
    elif target.measure == "province_total" and per.kind != "year":
        status, met = "year_figure", None
    else:
        status = "met" if met else "not_met"
    return {
        "period": per.label, "period_kind": per.kind, "province_code": final, "province_name": name,
        "plan_id": plan.plan_id, "plan_title": plan.title_vi, "plan_status": plan.status,
        "kpi_code": target.kpi, "kpi_name": kpi.name_vi if kpi is not None else target.kpi,
        "level": target.level, "target_year": target.year, "target": target.target,
        "measure": target.measure, "in_force": _in_force(plan, target, _year(per)),
        "numerator": fig.numerator, "denominator": fig.denominator, "value": fig.value,
        "agencies": fig.agencies, "reported": fig.reported, "met": met, "status": status,
        "previous_value": None, "change": None, "trend": None, "predecessors": predecessors,
        "note": _join(target.note, fig.note),
    }


def _combine(figures: list[tuple[str, Figure]], measure: str) -> tuple[Figure, str | None]:
    """One province's figure; across a merger, the mean (a total: the sum) of its predecessors'."""
    if len(figures) == 1:
        return figures[0][1], None
    known = [f.value for _, f in figures if f.value is not None]
    value = None
    if known:
        value = float(np.sum(known)) if measure == "province_total" else float(np.mean(known))
    how = "sum" if measure == "province_total" else "mean"
    note = f"{how} of the predecessor provinces' values (national rule for merged provinces)"
    listed = "; ".join(f"{code}={_fmt(f.value)}" for code, f in figures)
    return Figure(
        value,
        agencies=sum(f.agencies for _, f in figures),
        reported=sum(f.reported for _, f in figures),
        note=_join(note, *(f"{code}: {f.note}" for code, f in figures if f.note)),
    ), listed


def _with_trend(table: pd.DataFrame, previous: pd.DataFrame | None, registry: pd.DataFrame,
                per: Period, catalogue: Catalogue) -> pd.DataFrame:
    """previous_value, change and trend against the previous period, restated across mergers."""
    table["trend"] = "no_previous"
    if previous is None or previous.empty or table.empty:
        return _typed(table)
    last_day = per.quarters[-1].last_day
    successor = _successor_on(registry, last_day)
    prev = previous.assign(province_code=previous["province_code"].map(
        lambda c: successor.get(c, c) if isinstance(c, str) else c
    ))
    keys = ["province_code", "plan_id", "kpi_code", "level", "target_year"]
    grouped = prev.groupby(keys, sort=False).agg(
        _mean=("value", "mean"), _sum=("value", lambda s: s.sum(min_count=1)),
        _n=("value", "size"), measure=("measure", "first"),
    ).reset_index()
    grouped["_prev"] = np.where(grouped["measure"] == "province_total", grouped["_sum"], grouped["_mean"])
    merged = table.merge(grouped[keys + ["_prev", "_n"]], on=keys, how="left")
    merged["previous_value"] = merged["_prev"]
    merged["change"] = merged["value"] - merged["previous_value"]
    higher = merged["kpi_code"].map(
        lambda c: catalogue[c].higher_is_better if isinstance(c, str) and c in catalogue else True
    )
    better = np.where(higher, merged["change"], -merged["change"])
    trend = np.select([better > _EPS, better < -_EPS], ["improving", "worsening"], "unchanged")
    known = merged["change"].notna()
    merged["trend"] = np.where(known, trend, "no_previous")
    restated = known & (merged["_n"] > 1)
    merged.loc[restated, "note"] = merged.loc[restated, "note"].map(_restated)
    return _typed(merged.drop(columns=["_prev", "_n"]))


def _restated(note: str | None) -> str:
    return _join(note, "previous value restated over the predecessor provinces (national rule)")


def _typed(table: pd.DataFrame) -> pd.DataFrame:
    out = table[COLUMNS].copy()
    for col in ("numerator", "denominator", "value", "target", "previous_value", "change"):
        out[col] = pd.to_numeric(out[col], errors="coerce").astype("float64")
    for col in ("agencies", "reported", "target_year"):
        out[col] = out[col].astype("int32")
    for col in ("met", "in_force"):
        out[col] = out[col].astype("boolean")
    for col in ("note", "predecessors"):
        out[col] = out[col].map(lambda v: v if isinstance(v, str) and v else None)
    return out


# ---------------------------------------------------------------------------- provinces and periods
def _period_rows(kpis: pd.DataFrame, per: Period) -> pd.DataFrame:
    labels = [q.label for q in per.quarters]
    if "quarter" not in kpis.columns:
        if len(labels) > 1:
            raise ValueError(f"plan scorecard for {per.label}: the agency_kpis rows need a 'quarter' column")
        kpis = kpis.assign(quarter=labels[0])
    return kpis[kpis["quarter"].astype(str).isin(labels)].reset_index(drop=True)


def _province_groups(registry: pd.DataFrame, per: Period) -> dict[str, list[_Unit]]:
    """Province existing at the period's end -> the provinces that were its own during the
    period (itself and any merged into it then), each with its tree of agencies."""
    start, end = per.quarters[0].start, per.quarters[-1].last_day
    reg = registry.assign(
        from_day=registry["valid_from"].map(_day),
        to_day=registry["valid_to"].map(lambda d: _day(d) or dt.date.max),
    )
    province = province_of(registry)
    successor = _successor_on(registry, end)
    groups: dict[str, list[_Unit]] = {}
    provinces = reg[(reg["level"] == "province") & (reg["from_day"] <= end) & (reg["to_day"] >= start)]
    ordered = provinces.sort_values("agency_code")
    for code, to_day in zip(ordered["agency_code"], ordered["to_day"], strict=True):
        assert isinstance(code, str)  # the registry's agency codes are text
        ends = min(end, to_day)
        tree = reg[reg["agency_code"].map(province) == code]
        agencies = tree.assign(
            alive=(tree["from_day"] <= ends) & (tree["to_day"] >= start),
            valid_on_end=(tree["from_day"] <= ends) & (tree["to_day"] >= ends),
        )
        final = successor.get(code, code)
        groups.setdefault(final, []).append(_Unit(code, agencies))
    return groups


def province_of(registry: pd.DataFrame) -> dict[str, str]:
    """Agency code -> the province it belongs to (following ``parent_code`` up); a province
    maps to itself, an agency whose chain reaches no province is left out."""
    parent = dict(zip(registry["agency_code"], registry["parent_code"], strict=True))
    level = dict(zip(registry["agency_code"], registry["level"], strict=True))
    out = {}
    for code in parent:
        cur, seen = code, set()
        while isinstance(cur, str) and level.get(cur) != "province" and cur not in seen:
            seen.add(cur)
            cur = parent.get(cur)
        if isinstance(cur, str) and level.get(cur) == "province":
            out[code] = cur
    return out


def _successor_on(registry: pd.DataFrame, day: dt.date) -> dict[str, str]:
    """Code -> the agency carrying its work on ``day`` (itself while it exists)."""
    to = {
        code: _day(valid_to) or dt.date.max
        for code, valid_to in zip(registry["agency_code"], registry["valid_to"], strict=True)
    }
    succ = {
        r.agency_code: r.successor_code for r in registry.itertuples() if isinstance(r.successor_code, str)
    }
    out = {}
    for code in to:
        cur, seen = code, {code}
        while to.get(cur, dt.date.max) < day and cur in succ and succ[cur] not in seen:
            cur = succ[cur]
            seen.add(cur)
        out[code] = cur
    return out


def _in_force(plan: Plan, target: Target, year: int) -> bool:
    """The target is the latest one of its KPI and tier set for a year up to ``year``."""
    same = [t.year for t in plan.targets if (t.kpi, t.level) == (target.kpi, target.level)]
    years = [y for y in same if y <= year]
    return bool(years) and max(years) == target.year


def _year(per: Period) -> int:
    return per.quarters[-1].year


def _day(value) -> dt.date | None:
    if value is None or (not isinstance(value, dt.date) and pd.isna(value)):
        return None
    return value.date() if isinstance(value, dt.datetime) else value


def _fmt(value: float | None) -> str:
    return "no data" if value is None else f"{value:.4f}".rstrip("0").rstrip(".")


def _join(*parts: str | None) -> str:
    return "; ".join(p for p in parts if p)
