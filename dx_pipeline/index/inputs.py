"""The engine's inputs: the long table of values and the agency registry, as the engine reads them.

The long table is one row per (agency, KPI): ``agency_code, kpi_code, value`` and optionally
``numerator, denominator``. Any long table of (unit, indicator, value) works too: ``unit`` and
``indicator`` are accepted as column names. Values that are not numbers are not dropped: they
are scored by the missing-data policy and the raw text is kept in the note.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from dx_pipeline.reference.frameworks import Framework
from dx_pipeline.reference.quarters import Quarter

ALIASES = {"unit": "agency_code", "indicator": "kpi_code", "indicator_code": "kpi_code"}
ALL_GROUP = "all"


@dataclass(frozen=True)
class LongTable:
    """The long table as the engine reads it: codes factorised once, values as float arrays.

    Why not a frame of strings: at a million units x 40 indicators, stripping, grouping and
    re-indexing 40 million code strings cost most of the engine's time; the distinct codes are
    few (units + indicators), so they are cleaned once and rows carry integer ids.
    """

    agencies: np.ndarray  # distinct agency codes (object, stripped)
    agency_id: np.ndarray  # per row, index into ``agencies``
    kpis: np.ndarray  # distinct KPI codes (object, stripped)
    kpi_id: np.ndarray  # per row, index into ``kpis``
    value: np.ndarray
    numerator: np.ndarray | None  # None: the table has no such column (saves 8 bytes a row)
    denominator: np.ndarray | None
    raw_value: np.ndarray | None  # per row the text that did not read as a number, else None
    rows: dict[str, np.ndarray]  # KPI code -> its rows, ascending

    def __len__(self) -> int:
        return len(self.value)


    def used_agencies(self) -> np.ndarray:
        """The distinct agency codes that some row carries."""
        return self.agencies[np.bincount(self.agency_id, minlength=len(self.agencies)) > 0]

    def frame(self) -> pd.DataFrame:
        """The table as a frame of text codes (what :func:`normalise_long` returns)."""
        return pd.DataFrame({
            "agency_code": pd.array(self.agencies[self.agency_id], dtype="string"),
            "kpi_code": pd.array(self.kpis[self.kpi_id], dtype="string"),
            "value": self.value, "numerator": _or_nan(self.numerator, len(self)),
            "denominator": _or_nan(self.denominator, len(self)),
            "raw_value": (self.raw_value if self.raw_value is not None
                          else np.full(len(self.value), None, dtype=object)),
        })


def _or_nan(values: np.ndarray | None, n: int) -> np.ndarray:
    return np.full(n, np.nan) if values is None else values


def normalise_long(data: pd.DataFrame, source: str = "input") -> pd.DataFrame:
    """Columns agency_code, kpi_code, value, numerator, denominator (floats), raw_value (text)."""
    return read_long(data, source).frame()


def _codes(col: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(distinct stripped codes as text, per row an index into them, -1 where missing)."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        ids, uniq = col.cat.codes.to_numpy(dtype=np.int64), pd.Series(col.cat.categories)
    else:
        ids, uniq_arr = pd.factorize(col.astype("string"))
        uniq = pd.Series(uniq_arr)
    stripped = uniq.astype("string").str.strip()
    sid, suniq = pd.factorize(stripped)  # two codes may be equal once stripped
    sid = np.append(sid, -1)  # a missing code (-1) stays missing
    return np.asarray(suniq, dtype=object), _compact(sid[ids])


def _compact(ids: np.ndarray) -> np.ndarray:
    """Ids in the smallest signed integer type that holds them (a row costs 1-4 bytes, not 8)."""
    top = int(ids.max()) if len(ids) else 0
    for t in (np.int8, np.int16, np.int32):
        if top <= np.iinfo(t).max:
            return ids.astype(t)
    return ids


def _rows_of(kpis: np.ndarray, kpi_id: np.ndarray) -> dict[str, np.ndarray]:
    """KPI code -> its rows, ascending (one stable sort of the small KPI ids)."""
    order = np.argsort(kpi_id, kind="stable")
    bounds = np.searchsorted(kpi_id[order], np.arange(len(kpis) + 1))
    return {str(code): order[bounds[j]:bounds[j + 1]] for j, code in enumerate(kpis)
            if bounds[j + 1] > bounds[j]}


def read_long(data: pd.DataFrame, source: str = "input") -> LongTable:
    """Check and read a long table: agency and KPI codes stripped, values as floats, the text of
    values that are not numbers kept for the note, a value derived from numerator/denominator."""
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
    agencies, agency_id = _codes(df["agency_code"])
    kpis, kpi_id = _codes(df["kpi_code"])
    blank = (agency_id < 0) | (kpi_id < 0)
    blank |= np.append(agencies == "", False)[agency_id] | np.append(kpis == "", False)[kpi_id]
    if blank.any():
        rows = [int(i) + 2 for i in np.flatnonzero(blank)[:5]]
        raise ValueError(f"{source}: rows {rows} (file line numbers) have an empty agency_code or kpi_code")
    numbers: dict[str, np.ndarray | None] = {"numerator": None, "denominator": None}
    numbers["value"], raw_value = np.full(len(df), np.nan), None
    for col in ("value", "numerator", "denominator"):
        if col not in df.columns:
            continue
        raw = df[col]
        got = pd.to_numeric(raw, errors="coerce").astype(float).to_numpy(dtype=float, copy=True)
        numbers[col] = got
        if col == "value" and not (isinstance(raw.dtype, np.dtype) and raw.dtype.kind in "fiub"):
            # numpy numbers all read as numbers (NaN is empty): only other columns can hold text
            text = raw.astype("string").str.strip()
            bad = np.isnan(got) & text.notna().to_numpy() & (text.fillna("") != "").to_numpy()
            if bad.any():
                raw_value = np.full(len(df), None, dtype=object)
                raw_value[bad] = text[bad].to_numpy(dtype=object)
    value = numbers["value"]
    assert value is not None
    table = LongTable(agencies, agency_id, kpis, kpi_id, value, numbers["numerator"],
                      numbers["denominator"], raw_value, _rows_of(kpis, kpi_id))
    _check_repeats(table, source)
    # a value given only as numerator/denominator
    num, den = table.numerator, table.denominator
    if num is None or den is None:
        return table
    with np.errstate(invalid="ignore", divide="ignore"):
        derive = np.isnan(value) & ~np.isnan(num) & (den > 0)
        value[derive] = num[derive] / den[derive]
    return table


def _check_repeats(t: LongTable, source: str) -> None:
    """Every (agency, KPI) pair at most once, or an error naming the first repeated pairs."""
    if len(t) == 0:
        return
    for rows in t.rows.values():
        if np.bincount(t.agency_id[rows], minlength=len(t.agencies)).max() > 1:
            break
    else:
        return
    out = pd.DataFrame({"agency_code": t.agencies[t.agency_id], "kpi_code": t.kpis[t.kpi_id]})
    dup = out.duplicated(["agency_code", "kpi_code"], keep=False)
    first = out.loc[dup, ["agency_code", "kpi_code"]].drop_duplicates().head(5)
    pairs = ", ".join(f"{a}/{k}" for a, k in first.itertuples(index=False))
    raise ValueError(f"{source}: {int(dup.sum())} rows repeat an (agency_code, kpi_code) pair, "
                     f"e.g. {pairs}; keep one value per agency and KPI")


def select_units(
    fw: Framework, data: pd.DataFrame | LongTable | np.ndarray, registry: pd.DataFrame | None,
    quarter: Quarter | str | None,
) -> pd.DataFrame:
    """The agencies the framework scores, with name, peer group, ranking group and ranked flag.

    Without a registry every unit in the data is scored, in one ranking group (``data`` may
    also be the distinct agency codes of the data, stripped).
    """
    if registry is None:
        if isinstance(data, LongTable):
            codes = _sorted_text(data.used_agencies())
        elif isinstance(data, np.ndarray):
            codes = _sorted_text(data)
        else:
            codes = sorted(set(data["agency_code"]))
        units = pd.DataFrame({"agency_code": codes, "agency_name": codes, "peer_group": ALL_GROUP})
        units["ranked"] = True
    else:
        units = _registry_units(fw, registry, quarter)
    return _with_rank_groups(fw, units)


def _sorted_text(codes: np.ndarray) -> np.ndarray:
    """Distinct texts in Python's order (code points), sorted by Arrow: UTF-8 bytes sort in
    code point order, so it is the order ``sorted`` gives, without a Python comparison each."""
    order = pc.sort_indices(pa.array(codes, type=pa.string())).to_numpy()  # pyright: ignore[reportAttributeAccessIssue]
    return codes[order]


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
