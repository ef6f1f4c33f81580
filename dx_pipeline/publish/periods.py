"""Publication periods (quarter, half-year, year) and combining quarters' KPIs into a period.

Agencies report quarterly; the People's Committee ranks half-years and years. A period's KPI is
rebuilt from the quarters' raw parts, never averaged from quarterly ratios: ratios sum their
numerators and denominators, stock figures (a count of systems, a yes/no) take the latest
quarter's value, flows sum. How each KPI combines is the catalogue's ``aggregation`` field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from dx_pipeline.quarters import Quarter, quarter_range

_HALF = re.compile(r"^(\d{4})-H([12])$")
_YEAR = re.compile(r"^(\d{4})$")


@dataclass(frozen=True)
class Period:
    """What a publication covers: one quarter, a half-year (``2025-H1``) or a year (``2025``)."""

    kind: str  # "quarter", "half" or "year"
    label: str

    @classmethod
    def parse(cls, text: "str | Quarter | Period") -> "Period":
        if isinstance(text, Period):
            return text
        if isinstance(text, Quarter):
            return cls("quarter", text.label)
        text = str(text).strip()
        if _HALF.match(text):
            return cls("half", text)
        if _YEAR.match(text):
            return cls("year", text)
        try:
            return cls("quarter", Quarter.parse(text).label)
        except ValueError:
            raise ValueError(
                f"not a publication period: {text!r} (expected 2025-Q2, 2025-H1 or 2025)"
            ) from None

    @property
    def folder(self) -> str:
        """Folder name under ``published/ranking/``: ``quarter=2025-Q2`` or ``period=2025-H1``."""
        return f"quarter={self.label}" if self.kind == "quarter" else f"period={self.label}"

    @property
    def quarters(self) -> list[Quarter]:
        if self.kind == "quarter":
            return [Quarter.parse(self.label)]
        if self.kind == "half":
            m = _HALF.match(self.label)
            year, half = int(m.group(1)), int(m.group(2))
            return quarter_range(Quarter(year, 2 * half - 1), Quarter(year, 2 * half))
        year = int(self.label)
        return quarter_range(Quarter(year, 1), Quarter(year, 4))

    @property
    def previous(self) -> "Period":
        if self.kind == "quarter":
            return Period("quarter", Quarter.parse(self.label).previous().label)
        if self.kind == "half":
            m = _HALF.match(self.label)
            year, half = int(m.group(1)), int(m.group(2))
            return Period("half", f"{year - 1}-H2" if half == 1 else f"{year}-H1")
        return Period("year", str(int(self.label) - 1))

    @property
    def title_vi(self) -> str:
        if self.kind == "quarter":
            q = Quarter.parse(self.label)
            return f"Quý {q.q}/{q.year}"
        if self.kind == "half":
            m = _HALF.match(self.label)
            return f"{'6 tháng đầu' if m.group(2) == '1' else '6 tháng cuối'} năm {m.group(1)}"
        return f"Năm {self.label}"

    @property
    def title_en(self) -> str:
        if self.kind == "quarter":
            q = Quarter.parse(self.label)
            return f"Q{q.q} {q.year}"
        if self.kind == "half":
            m = _HALF.match(self.label)
            return f"H{m.group(2)} {m.group(1)}"
        return f"Year {self.label}"

    def __str__(self) -> str:
        return self.label


# --- combining quarters -------------------------------------------------------------------

AGGREGATIONS = {
    "ratio": "ratio",
    "sum_ratio": "ratio",
    "sum": "sum",
    "flow": "sum",
    "count": "sum",
    "latest": "latest",
    "last": "latest",
    "stock": "latest",
    "mean": "mean",
    "average": "mean",
    "avg": "mean",
    "max": "max",
    "min": "min",
}
"""Catalogue ``aggregation`` words and what they mean here."""

_HIGHER = {"higher", "up", "higher_is_better", "increase", "max", "+"}
_LOWER = {"lower", "down", "lower_is_better", "decrease", "min", "-"}


def _entry_field(entry: Any, name: str) -> Any:
    if entry is None:
        return None
    if isinstance(entry, Mapping):
        return entry.get(name)
    return getattr(entry, name, None)


def _catalogue_lookup(catalogue: Any) -> dict[str, Any]:
    """Accept the catalogue as a mapping code -> entry, a list of entries, or a DataFrame."""
    if catalogue is None:
        return {}
    if isinstance(catalogue, pd.DataFrame):
        code_col = "kpi_code" if "kpi_code" in catalogue.columns else "code"
        return {str(r[code_col]): r.to_dict() for _, r in catalogue.iterrows()}
    for attr in ("kpis", "entries", "items_by_code"):
        inner = getattr(catalogue, attr, None)
        if inner is not None and not callable(inner):
            return _catalogue_lookup(inner)
    if isinstance(catalogue, Mapping):
        return {str(k): v for k, v in catalogue.items()}
    out = {}
    for entry in catalogue:
        code = _entry_field(entry, "code") or _entry_field(entry, "kpi_code")
        out[str(code)] = entry
    return out


def _aggregation_for(code: str, entry: Any, rows: pd.DataFrame) -> str:
    word = _entry_field(entry, "aggregation")
    if word is not None and not (isinstance(word, float) and np.isnan(word)):
        key = str(getattr(word, "value", word)).strip().lower()
        if key not in AGGREGATIONS:
            raise ValueError(
                f"KPI catalogue: {code}: unknown aggregation {word!r} "
                f"(expected one of {sorted(set(AGGREGATIONS))})"
            )
        return AGGREGATIONS[key]
    # No catalogue word: a KPI reported with denominators is a ratio; anything else is a stock.
    return "ratio" if rows["denominator"].notna().any() else "latest"


def _direction_for(entry: Any) -> str | None:
    word = _entry_field(entry, "direction")
    if word is None:
        return None
    word = str(getattr(word, "value", word)).strip().lower()
    if word in _HIGHER:
        return "higher"
    if word in _LOWER:
        return "lower"
    return None


def _combine_one(code: str, agg: str, rows: pd.DataFrame) -> dict:
    rows = rows.sort_values("quarter", kind="stable")
    last = rows.iloc[-1]
    out = {"numerator": np.nan, "denominator": np.nan, "value": np.nan}
    if agg == "ratio":
        parts = rows[rows["numerator"].notna() & rows["denominator"].notna()]
        if len(parts):
            num, den = parts["numerator"].sum(), parts["denominator"].sum()
            out.update(numerator=num, denominator=den)
            if den != 0:
                out["value"] = num / den
            else:
                out["flags"] = ["zero_denominator"]
            if len(parts) < rows["value"].notna().sum():
                out.setdefault("flags", []).append("ratio_parts_missing_some_quarters")
        else:
            # Reported as a bare percentage each quarter: nothing to sum, keep the latest value
            # and say so rather than dropping the KPI.
            known = rows[rows["value"].notna()]
            if len(known):
                out["value"] = known.iloc[-1]["value"]
                out["flags"] = ["ratio_without_parts_latest_value"]
    elif agg == "sum":
        out["value"] = rows["value"].sum(min_count=1)
        out["numerator"] = rows["numerator"].sum(min_count=1)
    elif agg == "latest":
        known = rows[rows["value"].notna()]
        pick = known.iloc[-1] if len(known) else last
        out.update(numerator=pick["numerator"], denominator=pick["denominator"], value=pick["value"])
    elif agg == "mean":
        out["value"] = rows["value"].mean()
    elif agg == "max":
        out["value"] = rows["value"].max()
    elif agg == "min":
        out["value"] = rows["value"].min()
    return out


def combine_quarters(
    kpis_by_quarter: pd.DataFrame, catalogue: Any = None, *, period: str | Period | None = None
) -> pd.DataFrame:
    """Combine quarterly ``agency_kpis`` rows (with a ``quarter`` column) into one period.

    Returns the agency_kpis contract columns plus ``period``, ``quarters`` (how many quarters
    had a row) and ``aggregation``. ``period`` defaults to the half-year or year the quarters
    span. The target is the latest quarter's (plans set yearly targets); ``target_met`` is
    recomputed from the KPI's catalogue direction when it has one. Flags of the quarters are
    kept, and ``incomplete_period`` is added when a quarter of the period had no row.
    """
    if "quarter" not in kpis_by_quarter.columns:
        raise ValueError("combine_quarters: the agency_kpis rows need a 'quarter' column")
    df = kpis_by_quarter.copy()
    if df.empty:
        raise ValueError("combine_quarters: no agency_kpis rows to combine")
    df["quarter"] = df["quarter"].map(lambda q: Quarter.parse(q).label)
    for col in ("numerator", "denominator", "value", "target"):
        if col not in df.columns:
            df[col] = np.nan
        df[col] = pd.to_numeric(df[col], errors="raise").astype("float64")
    for col in ("source", "flags"):
        if col not in df.columns:
            df[col] = None
    quarters = sorted({Quarter.parse(q) for q in df["quarter"]})
    if period is None:
        years = {q.year for q in quarters}
        halves = {q.half for q in quarters}
        if len(halves) == 1:
            period = Period("half", halves.pop())
        elif len(years) == 1:
            period = Period("year", str(years.pop()))
        else:
            raise ValueError(
                f"combine_quarters: quarters {[q.label for q in quarters]} span several years; "
                "name the period"
            )
    period = Period.parse(period)
    outside = [q.label for q in quarters if q not in period.quarters]
    if outside:
        raise ValueError(f"combine_quarters: quarters {outside} are not in period {period.label}")
    n_period = len(period.quarters)

    lookup = _catalogue_lookup(catalogue)
    records = []
    for (agency, code), rows in df.groupby(["agency_code", "kpi_code"], sort=True):
        entry = lookup.get(str(code))
        agg = _aggregation_for(str(code), entry, rows)
        combined = _combine_one(str(code), agg, rows)
        rows_sorted = rows.sort_values("quarter", kind="stable")
        target = rows_sorted["target"].dropna()
        target = target.iloc[-1] if len(target) else np.nan
        direction = _direction_for(entry)
        value = combined["value"]
        if pd.isna(value) or pd.isna(target) or direction is None:
            met = pd.NA
        else:
            met = bool(value >= target) if direction == "higher" else bool(value <= target)
        flags = []
        for f in rows_sorted["flags"].dropna():
            flags.extend(x.strip() for x in str(f).split(",") if x.strip())
        flags.extend(combined.get("flags", []))
        n_rows = rows["quarter"].nunique()
        if n_rows < n_period:
            flags.append("incomplete_period")
        sources = sorted({str(s) for s in rows["source"].dropna()})
        records.append(
            {
                "agency_code": agency,
                "kpi_code": code,
                "numerator": combined["numerator"],
                "denominator": combined["denominator"],
                "value": value,
                "target": target,
                "target_met": met,
                "source": ",".join(sources) if sources else None,
                "flags": ",".join(dict.fromkeys(flags)) if flags else None,
                "period": period.label,
                "quarters": n_rows,
                "aggregation": agg,
            }
        )
    out = pd.DataFrame.from_records(records)
    out["target_met"] = out["target_met"].astype("boolean")
    for col in ("numerator", "denominator", "value", "target"):
        out[col] = out[col].astype("float64")
    out["quarters"] = out["quarters"].astype("int64")
    return out
