"""The quarter's ``agency_kpis`` table: portal and procedure KPIs (rolled up to parents),
agencies' effective self-reported values, and the active plan's targets.

This is the one function the pipeline calls; it reads the portal Parquet with DuckDB (streamed)
and only handles per-agency rows in pandas. The dossier scan is done once per set of portal
partition bytes (:mod:`dx_pipeline.kpis.portal_cache`): a re-run after a late submission or an
appraisal reuses it.
"""

from __future__ import annotations

import pandas as pd

from dx_pipeline.kpis.dossier_kpis import KPI_COLUMNS
from dx_pipeline.kpis.portal_cache import cached_portal_kpis
from dx_pipeline.kpis.rollup import rollup_kpis
from dx_pipeline.reference import schemas
from dx_pipeline.reference.catalogue import Catalogue, load_catalogue
from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.reference.registry import active_agencies, restate_to_successors
from dx_pipeline.reference.targets import Plan, load_plans, target_for
from dx_pipeline.storage import DxHome

OUTPUT_COLUMNS = schemas.AGENCY_KPIS.names


def submission_kpis(submissions: pd.DataFrame | None, catalogue: Catalogue, quarter: Quarter) -> pd.DataFrame:
    """Effective self-reported rows as KPI rows (source "submission", flag "late" if late).

    The value is taken as reported; when only numerator and denominator are given it is their
    quotient. Codes outside the catalogue pass through flagged ``not_in_catalogue``. A rate
    above 100 % cannot be true: it stays as reported in agency_submissions (the quality gate
    names it), but is not scored here: the KPI value is empty and flagged
    ``invalid_rate_above_100pct=<reported>``, so the framework's missing-data policy applies
    and the explanation says why.
    """
    cols = ["agency_code", "kpi_code", "numerator", "denominator", "value", "flags", "source"]
    if submissions is None or len(submissions) == 0:
        return pd.DataFrame(columns=cols)
    sub = submissions
    if "quarter" in sub.columns:
        sub = sub[sub["quarter"].astype(str) == quarter.label]
    if "is_effective" in sub.columns:
        sub = sub[sub["is_effective"].fillna(False).astype(bool)]
    rows = []
    for rec in sub.to_dict("records"):
        num = _num(rec.get("numerator"))
        den = _num(rec.get("denominator"))
        value = _num(rec.get("value"))
        flags = []
        if value is None and num is not None and den:
            value = num / den
        if rec.get("is_late") is True or (pd.notna(rec.get("is_late")) and bool(rec.get("is_late"))):
            flags.append("late")
        code = str(rec["indicator_code"])
        if code not in catalogue:
            flags.append("not_in_catalogue")
        elif catalogue[code].unit == "ratio" and value is not None and value > 1 + 1e-9:
            flags.append(f"invalid_rate_above_100pct={value:g}")
            value = None
        rows.append((str(rec["agency_code"]), code, num, den, value, ",".join(flags), "submission"))
    out = pd.DataFrame(rows, columns=cols)
    return out.drop_duplicates(["agency_code", "kpi_code"], keep="last")


def _num(v) -> float | None:
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return None
    return float(v)


def compute_agency_kpis(
    home: DxHome,
    quarter: Quarter | str,
    registry: pd.DataFrame,
    submissions: pd.DataFrame | None = None,
    plan: Plan | str | None = None,
    catalogue: Catalogue | None = None,
    own_portal: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every agency's KPIs for the quarter, with targets; columns of the agency_kpis contract.

    ``registry``: the agencies table (agency_code, level, parent_code, ...).
    ``submissions``: agency_submissions rows (only ``is_effective`` ones are used); None or
    empty is fine. ``plan``: a Plan, a plan id, or None for the active plan.
    Portal figures win over a self-reported value for the same agency and KPI (flagged
    ``self_reported_ignored``). ``own_portal``: the quarter's own portal KPIs when the caller
    has them already (:func:`cached_portal_kpis`); by default they are read or computed here.
    """
    q = quarter if isinstance(quarter, Quarter) else Quarter.parse(quarter)
    catalogue = catalogue if catalogue is not None else load_catalogue()
    if plan is None or isinstance(plan, str):
        plans = load_plans(catalogue=catalogue)
        plan = plans.active if plan is None else plans[plan]

    if own_portal is None:
        own_portal = cached_portal_kpis(home, q).table
    own = _registered(own_portal, registry, q, catalogue)
    portal = rollup_kpis(own, registry, catalogue)
    portal, subs = _portal_wins(portal, submission_kpis(submissions, catalogue, q))
    frames = [f for f in (portal, subs) if not f.empty]
    if not frames:
        return _empty()
    out = pd.concat(frames, ignore_index=True)

    level_of = (
        dict(zip(registry["agency_code"].astype(str), registry["level"].astype(str), strict=True))
        if registry is not None and len(registry)
        else {}
    )
    targets, met = [], []
    for rec in out[["agency_code", "kpi_code", "value"]].to_dict("records"):
        level = level_of.get(rec["agency_code"])
        t = target_for(plan, rec["kpi_code"], level, q.year) if level else None
        v = None if pd.isna(rec["value"]) else float(rec["value"])
        kpi = catalogue.kpis.get(rec["kpi_code"])
        targets.append(t)
        met.append(kpi.meets(v, t) if kpi is not None else None)
    out["target"] = pd.array(targets, dtype="Float64").astype("float64")
    out["target_met"] = pd.array(met, dtype="boolean")
    for c in ("numerator", "denominator", "value"):
        out[c] = pd.to_numeric(out[c]).astype("float64")
    out["flags"] = out["flags"].fillna("").map(lambda f: f or None)
    out = out.sort_values(["agency_code", "kpi_code"], kind="stable").reset_index(drop=True)
    return out[OUTPUT_COLUMNS]


def _portal_wins(portal: pd.DataFrame, subs: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A self-reported row an agency also has a portal figure for is dropped, and the portal
    row flagged ``self_reported_ignored``: the portal's count is the evidence."""
    if subs.empty or portal.empty:
        return portal, subs
    clash = subs.merge(portal[["agency_code", "kpi_code"]], on=["agency_code", "kpi_code"])
    if clash.empty:
        return portal, subs
    keys = set(zip(clash["agency_code"], clash["kpi_code"], strict=True))
    subs = subs[[k not in keys for k in zip(subs["agency_code"], subs["kpi_code"], strict=True)]]
    hit = [k in keys for k in zip(portal["agency_code"], portal["kpi_code"], strict=True)]
    portal.loc[hit, "flags"] = portal.loc[hit, "flags"].map(
        lambda f: ",".join(str(x) for x in (f, "self_reported_ignored") if x)
    )
    return portal, subs


def _registered(own: pd.DataFrame, registry: pd.DataFrame, q: Quarter, catalogue: Catalogue) -> pd.DataFrame:
    """Own portal KPIs under the agencies of the registry as they stand in the quarter.

    Dossiers of an agency that merged during the quarter (e.g. Sở TT&TT into Sở KH&CN on
    2025-03-01) are restated under its successor as a ratio of sums; codes the registry does
    not know, or units not valid in the quarter, are left out here (the portal's
    ``agency_valid_in_quarter`` quality check reports them).
    """
    if own.empty or registry is None or not len(registry):
        return own
    known = set(registry["agency_code"].astype(str))
    own = own[own["agency_code"].astype(str).isin(known)]
    if "successor_code" not in registry.columns:
        return own.reset_index(drop=True)
    units = {code: kpi.unit for code, kpi in catalogue.kpis.items()}
    restated = restate_to_successors(own, registry, q, units=units)
    # the procedure catalogue also lists units that only exist before or after this quarter
    valid = set(active_agencies(registry, q)["agency_code"].astype(str))
    restated = restated[restated["agency_code"].astype(str).isin(valid)]
    return restated[KPI_COLUMNS].reset_index(drop=True)


def _empty() -> pd.DataFrame:
    return schemas.AGENCY_KPIS.arrow_schema().empty_table().to_pandas()
