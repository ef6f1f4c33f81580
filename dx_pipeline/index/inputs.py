"""The engine's inputs: the long table of values and the agency registry, as the engine reads them.

The long table is one row per (agency, KPI): ``agency_code, kpi_code, value`` and optionally
``numerator, denominator``. Any long table of (unit, indicator, value) works too: ``unit`` and
``indicator`` are accepted as column names. Values that are not numbers are not dropped: they
are scored by the missing-data policy and the raw text is kept in the note.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dx_pipeline.reference.frameworks import Framework
from dx_pipeline.reference.quarters import Quarter

ALIASES = {"unit": "agency_code", "indicator": "kpi_code", "indicator_code": "kpi_code"}
ALL_GROUP = "all"


def normalise_long(data: pd.DataFrame, source: str = "input") -> pd.DataFrame:
    """Columns agency_code, kpi_code, value, numerator, denominator (floats), raw_value (text)."""
    df = data.rename(
        columns={k: v for k, v in ALIASES.items() if k in data.columns and v not in data.columns}
    )
    missing = [c for c in ("agency_code", "kpi_code") if c not in df.columns]
    if missing:
        raise ValueError(f"{source}: missing column(s) {missing}; expected agency_code (or unit), "
                         f"kpi_code (or indicator), value")
    if "value" not in df.columns and not {"numerator", "denominator"} <= set(df.columns):
        raise ValueError(f"{source}: needs a 'value' column (or 'numerator' and 'denominator')")
    if "quarter" in df.columns and df["quarter"].nunique(dropna=True) > 1:
        raise ValueError(f"{source}: holds several quarters {sorted(df['quarter'].dropna().unique())}; "
                         f"score one quarter at a time")
    out = pd.DataFrame({
        "agency_code": df["agency_code"].astype("string").str.strip(),
        "kpi_code": df["kpi_code"].astype("string").str.strip(),
    })
    for col in ("value", "numerator", "denominator"):
        raw = df[col] if col in df.columns else pd.Series([None] * len(df), index=df.index)
        out[col] = pd.to_numeric(raw, errors="coerce").astype(float).to_numpy()
        if col == "value":
            text = raw.astype("string").str.strip()
            bad = out[col].isna().to_numpy() & text.notna().to_numpy() & (text.fillna("") != "").to_numpy()
            raw_value = text.fillna("").to_numpy(dtype=object)
            raw_value[~bad] = None  # the text only where it did not read as a number
            out["raw_value"] = raw_value
    blank = (
        out["agency_code"].isna()
        | out["kpi_code"].isna()
        | (out["agency_code"] == "")
        | (out["kpi_code"] == "")
    )
    if blank.any():
        rows = [int(i) + 2 for i in np.flatnonzero(blank.to_numpy())[:5]]
        raise ValueError(f"{source}: rows {rows} (file line numbers) have an empty agency_code or kpi_code")
    dup = out.duplicated(["agency_code", "kpi_code"], keep=False)
    if dup.any():
        first = out.loc[dup, ["agency_code", "kpi_code"]].drop_duplicates().head(5)
        pairs = ", ".join(f"{a}/{k}" for a, k in first.itertuples(index=False))
        raise ValueError(f"{source}: {int(dup.sum())} rows repeat an (agency_code, kpi_code) pair, "
                         f"e.g. {pairs}; keep one value per agency and KPI")
    # a value given only as numerator/denominator
    derive = out["value"].isna() & out["numerator"].notna() & (out["denominator"] > 0)
    out.loc[derive, "value"] = out.loc[derive, "numerator"] / out.loc[derive, "denominator"]
    return out.reset_index(drop=True)


def select_units(
    fw: Framework, data: pd.DataFrame, registry: pd.DataFrame | None, quarter: Quarter | str | None
) -> pd.DataFrame:
    """The agencies the framework scores, with name, peer group, ranking group and ranked flag.

    Without a registry every unit in the data is scored, in one ranking group.
    """
    if registry is None:
        codes = sorted(set(data["agency_code"]))
        units = pd.DataFrame({"agency_code": codes, "agency_name": codes, "peer_group": ALL_GROUP})
        units["ranked"] = True
    else:
        units = _registry_units(fw, registry, quarter)
    return _with_rank_groups(fw, units)


def _applicable(fw: Framework, reg: pd.DataFrame, quarter: Quarter | str | None) -> pd.Series:
    """Registry rows the framework applies to (level, peer group, public services) and, for a
    quarter, valid during it."""
    keep = pd.Series(True, index=reg.index)
    levels = fw.applies_to.levels
    if "any" not in levels and "level" in reg.columns:
        keep &= reg["level"].isin(levels)
    if fw.applies_to.peer_groups and "peer_group" in reg.columns:
        keep &= reg["peer_group"].isin(fw.applies_to.peer_groups)
    if fw.applies_to.requires_public_services and "provides_public_services" in reg.columns:
        keep &= reg["provides_public_services"].fillna(False).astype(bool)
    if quarter is not None:
        q = quarter if isinstance(quarter, Quarter) else Quarter.parse(quarter)
        if "valid_from" in reg.columns:
            vf = pd.to_datetime(reg["valid_from"]).dt.date
            keep &= vf.isna() | (vf <= q.last_day)
        if "valid_to" in reg.columns:
            vt = pd.to_datetime(reg["valid_to"]).dt.date
            keep &= vt.isna() | (vt >= q.start)
    return keep


def _unranked(fw: Framework, reg: pd.DataFrame) -> np.ndarray:
    """Rows matching every registry condition of the framework's ``unranked`` (scored, not
    ranked); none when it names no condition, all conditions on a missing column fail."""
    if not fw.ranking.unranked:
        return np.zeros(len(reg), dtype=bool)
    match = np.ones(len(reg), dtype=bool)
    for col, val in fw.ranking.unranked.items():
        if col not in reg.columns:
            match &= False
            continue
        col_vals = reg[col]
        if isinstance(val, bool):
            col_vals = col_vals.fillna(False).astype(bool)
        match &= (col_vals == val).fillna(False).to_numpy(dtype=bool)
    return match


def _registry_units(fw: Framework, registry: pd.DataFrame, quarter: Quarter | str | None) -> pd.DataFrame:
    """The registry's agencies the framework scores, sorted by code, each listed once."""
    reg = registry.copy()
    reg["agency_code"] = reg["agency_code"].astype("string").str.strip()
    reg = reg[_applicable(fw, reg, quarter)]
    if reg["agency_code"].duplicated().any():
        dups = sorted(reg.loc[reg["agency_code"].duplicated(), "agency_code"].unique())[:5]
        raise ValueError(f"registry: agency codes listed twice for the same period: {dups}")
    name = reg["name_vi"] if "name_vi" in reg.columns else reg["agency_code"]
    peer = reg["peer_group"] if "peer_group" in reg.columns else pd.Series(ALL_GROUP, index=reg.index)
    units = pd.DataFrame({
        "agency_code": reg["agency_code"].to_numpy(dtype=object),
        "agency_name": name.astype("string").fillna(reg["agency_code"]).to_numpy(dtype=object),
        "peer_group": peer.astype("string").fillna(ALL_GROUP).to_numpy(dtype=object),
    })
    units["ranked"] = ~_unranked(fw, reg)
    return units.sort_values("agency_code", kind="stable").reset_index(drop=True)


def _with_rank_groups(fw: Framework, units: pd.DataFrame) -> pd.DataFrame:
    """The ranking group of each unit: all in one, the framework's explicit lists (a unit in
    none is not ranked), or the peer group."""
    spec = fw.ranking
    if spec.groups == "all":
        units["rank_group"] = ALL_GROUP
    elif spec.groups == "explicit":
        lookup = {code: group for group, codes in spec.explicit.items() for code in codes}
        units["rank_group"] = units["agency_code"].map(lookup)
        units.loc[units["rank_group"].isna(), "ranked"] = False
        units["rank_group"] = units["rank_group"].fillna(units["peer_group"])
    else:
        units["rank_group"] = units["peer_group"]
    return units
