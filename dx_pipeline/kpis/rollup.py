"""Roll-ups to parent agencies (department -> province, commune -> district -> province).

Always a ratio of sums: a parent's numerator and denominator are the sums over itself and every
agency below it in the registry's ``parent_code`` tree, and its value is their quotient. A mean
of the children's ratios would let a commune with 3 dossiers weigh as much as a department with
30,000. ``own_figures`` goes the other way: an agency's own part of a rolled-up row, for
figures over a tier of agencies (the districts' own dossiers, without their communes').
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dx_pipeline.reference.catalogue import Catalogue, load_catalogue

KPI_COLUMNS = ["agency_code", "kpi_code", "numerator", "denominator", "value", "flags"]
FLOORED_AT_ZERO = {"dossier_satisfaction_rate"}


def ancestors(registry: pd.DataFrame) -> dict[str, list[str]]:
    """agency_code -> its parents up to the root (nearest first); cycles are refused."""
    parent = {
        str(a): (None if pd.isna(p) or str(p) == "" else str(p))
        for a, p in zip(registry["agency_code"], registry["parent_code"], strict=True)
    }
    out: dict[str, list[str]] = {}
    for code in parent:
        chain, seen, cur = [], {code}, parent[code]
        while cur is not None:
            if cur in seen:
                raise ValueError(f"agency registry: parent_code cycle through {cur!r} (from {code!r})")
            chain.append(cur)
            seen.add(cur)
            cur = parent.get(cur)
        out[code] = chain
    return out


def rollup_kpis(
    own: pd.DataFrame, registry: pd.DataFrame, catalogue: Catalogue | None = None
) -> pd.DataFrame:
    """Own KPI rows (agency_code, kpi_code, numerator, denominator, flags) -> rows for every
    agency with data in its subtree, summed over the subtree.

    Only KPIs aggregated as ``ratio`` or ``sum`` roll up. Rows whose figures include a
    descendant get ``source`` "rollup" and the flag ``rollup``; an agency's own figures keep
    ``source`` "portal".
    """
    catalogue = catalogue if catalogue is not None else load_catalogue()
    if own.empty:
        return pd.DataFrame(columns=KPI_COLUMNS + ["source"])
    chains = ancestors(registry) if registry is not None and not registry.empty else {}
    agg = {c: catalogue[c].aggregation if c in catalogue else "ratio" for c in own["kpi_code"].unique()}
    grouped = _subtree_sums(own[own["kpi_code"].map(agg).isin(["ratio", "sum"])], chains)
    values, flags, sources = [], [], []
    for rec in grouped.to_dict("records"):
        value, row_flags = _rolled_value(rec, agg.get(rec["kpi_code"]))
        values.append(value)
        flags.append(row_flags)
        sources.append("rollup" if rec["descendants"] else "portal")
    grouped["value"] = pd.array(values, dtype="Float64").astype("float64")
    grouped["flags"] = flags
    grouped["source"] = sources
    return grouped[KPI_COLUMNS + ["source"]]


def _subtree_sums(summable: pd.DataFrame, chains: dict[str, list[str]]) -> pd.DataFrame:
    """Per (agency, KPI): numerator and denominator summed over the agency and every agency
    below it, how many descendants contributed, and their flags (zero_denominator dropped:
    the sums decide it again)."""
    codes = summable["agency_code"].unique()
    pairs = [(a, a, True) for a in codes]
    pairs += [(a, parent, False) for a in codes for parent in chains.get(a, [])]
    links = pd.DataFrame(pairs, columns=["agency_code", "target_agency", "is_self"])
    expanded = summable.merge(links, on="agency_code", how="inner")
    expanded["numerator"] = expanded["numerator"].astype("float64")
    expanded["denominator"] = expanded["denominator"].astype("float64")
    keys = ["target_agency", "kpi_code"]
    expanded = expanded[expanded[keys].notna().all(axis=1)]  # groupby drops missing keys
    # Rows in group order, each group's rows in their order here (groupby's stable sort).
    ordered = expanded.sort_values(keys, kind="stable")
    groups = ordered.groupby(keys, sort=True)
    sizes = groups.size()
    starts = (np.cumsum(sizes.to_numpy()) - sizes.to_numpy()).astype(np.int64)
    out = pd.DataFrame(index=sizes.index)
    for column in ("numerator", "denominator"):
        out[column] = _group_sums(ordered[column].to_numpy(dtype=np.float64), starts, sizes.to_numpy())
    out["descendants"] = (~ordered["is_self"].astype(bool)).groupby(
        [ordered[k] for k in keys], sort=True).sum().astype("int64").to_numpy()
    out["flags"] = _flag_union(ordered, keys).reindex(out.index, fill_value="")
    return out.reset_index().rename(columns={"target_agency": "agency_code"})


def _group_sums(values: np.ndarray, starts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Each group's ``Series.sum(min_count=1)``, bit for bit: missing values as 0, NumPy's own
    sum of the group's values in their order (its pairwise/SIMD order decides the last bit, so
    each group is one ``sum`` call: a loop over groups, not over rows), NaN for a group with
    no value."""
    present = ~np.isnan(values)
    filled = np.where(present, values, 0.0)
    sums = np.array([filled[a:a + n].sum() for a, n in zip(starts.tolist(), sizes.tolist(), strict=True)],
                    dtype=np.float64)
    counts = np.add.reduceat(present.astype(np.int64), starts) if len(starts) else np.array([], np.int64)
    return np.where(counts >= 1, sums, np.nan)


def _flag_union(expanded: pd.DataFrame, keys: list[str]) -> pd.Series:
    """Per group of ``keys``: the distinct flags of its rows, sorted, comma-joined
    (zero_denominator dropped); groups without flags are absent."""
    flags = expanded["flags"].astype(object).map(lambda v: str(v or ""))  # as each row was read
    has = flags != ""
    if not has.any():
        return pd.Series(dtype=object, index=pd.MultiIndex.from_arrays([[], []], names=keys))
    split = expanded.loc[has, keys].assign(flag=flags[has].str.split(",")).explode("flag")
    split = split[(split["flag"] != "") & (split["flag"] != "zero_denominator") & split["flag"].notna()]
    split = split.drop_duplicates().sort_values(keys + ["flag"], kind="stable")
    return split.groupby(keys, sort=True)["flag"].agg(",".join)


def _rolled_value(rec: dict, aggregation: str | None) -> tuple[float | None, str]:
    """(value, flags) of one rolled-up row: a sum's numerator, a ratio's quotient (floored at
    zero for FLOORED_AT_ZERO; none and flagged zero_denominator without a denominator)."""
    num, den, code = rec["numerator"], rec["denominator"], rec["kpi_code"]
    has_den = bool(pd.notna(den) and den > 0)
    if aggregation == "sum":
        value = num
    elif has_den:
        value = num / den
        if code in FLOORED_AT_ZERO:
            value = max(value, 0.0)
    else:
        value = None
    flags = [x for x in rec["flags"].split(",") if x]
    if aggregation == "ratio" and not has_den:
        flags.append("zero_denominator")
    if rec["descendants"]:
        flags.append("rollup")
    return value, ",".join(dict.fromkeys(flags))


def own_figures(kpis: pd.DataFrame, registry: pd.DataFrame) -> pd.DataFrame:
    """``agency_kpis`` rows with every rolled-up row turned back into the agency's own figures.

    A rolled-up row (``source`` "rollup") sums the agency and everything below it; its own part
    is that row less the portal rows of its direct children (each covering its own subtree),
    for the same KPI (and quarter, when there is a ``quarter`` column). Other rows pass as they
    are. An own part that comes to nothing (a province has no dossiers of its own) is dropped,
    so summing the result over any set of agencies counts every dossier once.
    """
    if kpis.empty or not kpis["source"].eq("rollup").any():
        return kpis.copy()
    keys = ["kpi_code"] + (["quarter"] if "quarter" in kpis.columns else [])
    parent = dict(zip(registry["agency_code"].astype(str), registry["parent_code"], strict=True))
    df = kpis.copy()
    df["_parent"] = df["agency_code"].astype(str).map(parent)
    children = df[df["_parent"].notna() & df["source"].isin(["portal", "rollup"])]
    below = (
        children.groupby(["_parent"] + keys)[["numerator", "denominator"]]
        .sum(min_count=1)
        .reset_index()
        .rename(columns={"_parent": "agency_code", "numerator": "_num_below", "denominator": "_den_below"})
    )
    rolled = df[df["source"].eq("rollup")].merge(below, on=["agency_code"] + keys, how="left")
    num = rolled["numerator"].astype("float64") - rolled["_num_below"].fillna(0.0)
    den = rolled["denominator"].astype("float64") - rolled["_den_below"].fillna(0.0)
    has_den = rolled["denominator"].notna()
    rolled["numerator"], rolled["denominator"] = num, den.where(has_den)
    ratio = (num / den.where(den > 0)).where(has_den, num)
    floored = rolled["kpi_code"].isin(FLOORED_AT_ZERO)
    rolled["value"] = ratio.where(~floored, ratio.clip(lower=0.0))
    rolled["source"] = "portal"
    rolled["flags"] = rolled["flags"].fillna("").map(
        lambda f: ",".join(x for x in str(f).split(",") if x and x != "rollup") or None
    )
    empty = num.fillna(0).eq(0) & den.fillna(0).eq(0)
    out = pd.concat([df[~df["source"].eq("rollup")], rolled[~empty.to_numpy()]], ignore_index=True)
    return out.drop(columns=["_parent", "_num_below", "_den_below"], errors="ignore")[list(kpis.columns)]
