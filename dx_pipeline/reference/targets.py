"""Plan targets as data: what each provincial plan expects, by KPI, agency tier and year.

A plan (``config/plan_targets.yaml``) is a list of targets; one plan is marked active and is
the one ``agency_kpis.target`` is filled from. Agencies are matched by tier: the registry's
``department`` and ``province`` levels read the plan's ``province`` tier (cấp tỉnh), districts
the ``district`` tier, communes the ``commune`` tier; a target for ``all`` binds every tier
that has no target of its own.

Each target says how the province-level figure it is worded on is computed (``measure``): a
ratio of sums across the tier's agencies ("85 % of work records processed online"), the share
of the tier's agencies that have something ("55 % of departments with a shared database"), a
province total ("a budget of 150,126 million VND") or whether the province has something at
all ("a shared data warehouse"). Only ratio targets also bind each agency; the others are
province-wide and are never held against one agency's own figure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from dx_pipeline.reference.catalogue import KPI, Catalogue, load_catalogue

PLAN_LEVELS = ("province", "district", "commune", "all")
TIER_OF_LEVEL = {
    "province": "province",
    "department": "province",
    "district": "district",
    "commune": "commune",
}
MEASURES = ("ratio_of_sums", "share_of_agencies", "province_total", "province_has")
"""How a target's province-level figure is computed (see the module docstring)."""
PLAN_STATUSES = ("adopted", "draft")
TARGET_FIELDS = ("kpi", "year", "level", "target", "note", "measure")


@dataclass(frozen=True)
class Target:
    """One line of a plan: the figure a KPI should reach for a tier of agencies by a year."""

    kpi: str
    year: int
    level: str
    target: float
    note: str = ""
    measure: str = "ratio_of_sums"

    @property
    def province_wide(self) -> bool:
        """A target on the province as a whole (a share, a total, a yes/no), not on each agency."""
        return self.measure != "ratio_of_sums"


@dataclass(frozen=True)
class Plan:
    """A provincial plan or resolution and its targets; ``status`` says whether it was adopted."""

    plan_id: str
    province: str
    title_vi: str
    title_en: str
    targets: tuple[Target, ...]
    status: str = "adopted"
    note: str = ""

    def target_for(self, kpi_code: str, level: str, year: int) -> float | None:
        return target_for(self, kpi_code, level, year)


@dataclass(frozen=True)
class PlanSet:
    """Every plan of the file, and which one is active."""

    plans: Mapping[str, Plan]
    active_id: str
    path: str = ""

    @property
    def active(self) -> Plan:
        return self.plans[self.active_id]

    def __getitem__(self, plan_id: str) -> Plan:
        try:
            return self.plans[plan_id]
        except KeyError:
            raise KeyError(
                f"plan {plan_id!r} is not in {self.path} (plans: {', '.join(self.plans)})"
            ) from None


def default_measure(kpi: KPI) -> str:
    """The measure a target on ``kpi`` has unless it says otherwise: rates are ratios of sums,
    yes/no and evidence items shares of agencies, amounts and counts province totals."""
    if kpi.unit in ("bool", "evidence", "level"):
        return "share_of_agencies"
    if kpi.unit in ("amount", "count"):
        return "province_total"
    return "ratio_of_sums"


def default_targets_path() -> Path:
    """The packaged plan targets (``dx_pipeline/config/plan_targets.yaml``)."""
    return Path(str(resources.files("dx_pipeline") / "config" / "plan_targets.yaml"))


def load_plans(path: str | Path | None = None, catalogue: Catalogue | None = None) -> PlanSet:
    """Load and validate the plans; every KPI code must be in the catalogue."""
    path = Path(path) if path else default_targets_path()
    catalogue = catalogue if catalogue is not None else load_catalogue()
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("plans"), dict):
        raise ValueError(f"{path}: expected a mapping with a 'plans' mapping at the top")
    plans = {str(pid): _parse_plan(path, str(pid), spec, catalogue) for pid, spec in doc["plans"].items()}
    active = str(doc.get("active_plan") or "")
    if active not in plans:
        raise ValueError(f"{path}: active_plan {active!r} is not one of the plans {sorted(plans)}")
    return PlanSet(plans, active, str(path))


def load_plan(plan_id: str | None = None, path: str | Path | None = None) -> Plan:
    """One plan by id, or the active plan when ``plan_id`` is None."""
    plans = load_plans(path)
    return plans.active if plan_id is None else plans[plan_id]


def _parse_plan(path: Path, plan_id: str, spec: object, catalogue: Catalogue) -> Plan:
    where = f"{path}: plan {plan_id!r}"
    if not isinstance(spec, dict) or not isinstance(spec.get("targets"), list):
        raise ValueError(f"{where}: expected a mapping with a 'targets' list")
    status = str(spec.get("status") or "adopted")
    if status not in PLAN_STATUSES:
        raise ValueError(f"{where}: status {status!r} is not one of {', '.join(PLAN_STATUSES)}")
    targets = []
    seen = set()
    for i, t in enumerate(spec["targets"], start=1):
        target = _parse_target(f"{where}, target #{i}", t, catalogue)
        key = (target.kpi, target.year, target.level)
        if key in seen:
            raise ValueError(f"{where}, target #{i}: duplicate target for {', '.join(map(str, key))}")
        seen.add(key)
        targets.append(target)
    return Plan(
        plan_id=plan_id,
        province=str(spec.get("province") or ""),
        title_vi=str(spec.get("title_vi") or ""),
        title_en=str(spec.get("title_en") or ""),
        targets=tuple(targets),
        status=status,
        note=str(spec.get("note") or ""),
    )


def _parse_target(at: str, t: object, catalogue: Catalogue) -> Target:
    if not isinstance(t, dict):
        raise ValueError(f"{at}: expected a mapping {{kpi, year, level, target}}")
    unknown = sorted(str(k) for k in t if k not in TARGET_FIELDS)
    if unknown:
        raise ValueError(
            f"{at}: unknown field(s) {', '.join(unknown)} (fields: {', '.join(TARGET_FIELDS)}; "
            "a note with a comma needs quotes)"
        )
    kpi = str(t.get("kpi") or "")
    if kpi not in catalogue:
        raise ValueError(f"{at}: KPI {kpi!r} is not in the KPI catalogue")
    level = str(t.get("level") or "all")
    if level not in PLAN_LEVELS:
        raise ValueError(f"{at} ({kpi}): level {level!r} is not one of {', '.join(PLAN_LEVELS)}")
    year, value = t.get("year"), t.get("target")
    if not isinstance(year, int) or not 1990 <= year <= 2100:
        raise ValueError(f"{at} ({kpi}): year must be a year like 2025, got {year!r}")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{at} ({kpi}): target must be a number, got {value!r}")
    measure = str(t.get("measure") or default_measure(catalogue[kpi]))
    if measure not in MEASURES:
        raise ValueError(f"{at} ({kpi}): measure {measure!r} is not one of {', '.join(MEASURES)}")
    if measure == "ratio_of_sums" and catalogue[kpi].aggregation != "ratio":
        raise ValueError(f"{at} ({kpi}): a ratio of sums needs a ratio KPI; {kpi} is a {catalogue[kpi].unit}")
    fraction = catalogue[kpi].unit == "ratio" or measure in ("share_of_agencies", "province_has")
    if fraction and not 0 <= value <= 1:
        raise ValueError(
            f"{at} ({kpi}): ratio targets are fractions 0..1 (0.85 = 85 %), got {value!r}"
        )
    return Target(kpi, year, level, float(value), str(t.get("note") or ""), measure)


def target_for(plan: Plan | None, kpi_code: str, level: str, year: int) -> float | None:
    """The plan's target for an agency of ``level`` (registry or plan level) in ``year``.

    The agency's own tier wins over ``all``; a year without its own target keeps the latest
    earlier year's (a target stays in force until the plan sets a new one); None when the plan
    sets nothing, and for province-wide targets (a share of agencies, a province total), which
    no single agency's figure can be held against.
    """
    if plan is None:
        return None
    tier = TIER_OF_LEVEL.get(level, level)
    for wanted in (tier, "all"):
        best: Target | None = None
        for t in plan.targets:
            if t.province_wide:
                continue
            if t.kpi == kpi_code and t.level == wanted and t.year <= year:
                if best is None or t.year > best.year:
                    best = t
        if best is not None:
            return best.target
    return None
