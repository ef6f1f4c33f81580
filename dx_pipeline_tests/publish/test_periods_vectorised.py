"""combine_quarters, vectorised: every aggregation kind against figures worked out by hand, and
random inputs against a plain per-group loop (the rules written the slow, obvious way)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dx_pipeline.kpis.periods import combine_quarters

COLUMNS = [
    "agency_code", "kpi_code", "numerator", "denominator", "value", "target", "target_met",
    "source", "flags", "period", "quarters", "aggregation",
]

CATALOGUE = {
    "ratio_k": {"aggregation": "ratio", "direction": "higher"},
    "sum_k": {"aggregation": "sum", "direction": "higher"},
    "latest_k": {"aggregation": "latest", "direction": "higher"},
    "mean_k": {"aggregation": "mean", "direction": "lower"},
    "max_k": {"aggregation": "max", "direction": "lower"},
    "min_k": {"aggregation": "min"},
}


def _row(q, agency, kpi, num=np.nan, den=np.nan, value=np.nan, target=np.nan, source="portal", flags=None):
    return dict(quarter=q, agency_code=agency, kpi_code=kpi, numerator=num, denominator=den,
                value=value, target=target, target_met=None, source=source, flags=flags)


def _hand_frame() -> pd.DataFrame:
    """A year (2025) of rows, input order shuffled on purpose, one case per aggregation rule."""
    return pd.DataFrame(
        [
            # ratio with parts: (3+5+2+10)/(10+10+20+40) = 20/80 = 0.25; Q3 has a bare value only.
            _row("2025-Q4", "A", "ratio_k", 10, 40, 0.25, target=0.3, flags="late"),
            _row("2025-Q1", "A", "ratio_k", 3, 10, 0.3, target=0.2, source="submission"),
            _row("2025-Q2", "A", "ratio_k", 5, 10, 0.5, flags="rollup, late"),
            _row("2025-Q2", "A", "ratio_k", 2, 20, 0.1),  # a second row in Q2 (a merged unit)
            _row("2025-Q3", "A", "ratio_k", value=0.9),
            # ratio whose denominators add up to zero
            _row("2025-Q1", "B", "ratio_k", 0, 0, target=0.5),
            _row("2025-Q2", "B", "ratio_k", 0, 0),
            # ratio reported as bare values only: the latest known value (Q3; Q4 is empty)
            _row("2025-Q1", "C", "ratio_k", value=0.6),
            _row("2025-Q3", "C", "ratio_k", value=0.7, target=0.65),
            _row("2025-Q4", "C", "ratio_k"),
            # sum: value 4+6+NaN = 10, numerator 4+NaN = 4
            _row("2025-Q1", "A", "sum_k", num=4, value=4, target=12),
            _row("2025-Q2", "A", "sum_k", value=6),
            _row("2025-Q3", "A", "sum_k"),
            # sum with no value at all stays empty
            _row("2025-Q1", "B", "sum_k"),
            # latest: Q3's value (Q4 is empty), with Q3's parts
            _row("2025-Q3", "A", "latest_k", 1, 2, 0.5, target=0.4),
            _row("2025-Q4", "A", "latest_k", 7, 8),
            _row("2025-Q1", "A", "latest_k", value=1.0),
            # latest without any value: the last row's parts
            _row("2025-Q1", "B", "latest_k", 1, 3),
            _row("2025-Q2", "B", "latest_k", 2, 5),
            # mean of known values: (0.2 + 0.4) / 2 = 0.3, lower is better, target 0.25
            _row("2025-Q1", "A", "mean_k", value=0.2, target=0.25),
            _row("2025-Q2", "A", "mean_k", value=0.4),
            _row("2025-Q3", "A", "mean_k"),
            _row("2025-Q4", "A", "mean_k", value=np.nan),
            # max 9, lower is better against 10 -> met; min 2 without a direction -> unknown
            _row("2025-Q1", "A", "max_k", value=9, target=10),
            _row("2025-Q2", "A", "max_k", value=3),
            _row("2025-Q1", "A", "min_k", value=5, target=1),
            _row("2025-Q4", "A", "min_k", value=2),
        ]
    )


def test_every_aggregation_kind_against_figures_worked_out_by_hand():
    out = combine_quarters(_hand_frame(), CATALOGUE, period="2025")
    assert list(out.columns) == COLUMNS
    keys = list(zip(out["agency_code"], out["kpi_code"], strict=True))
    assert keys == sorted(keys) and len(keys) == 10
    r = out.set_index(["agency_code", "kpi_code"])

    def check(key, num, den, value, target, met, flags, quarters, agg, source="portal"):
        row = r.loc[key]
        for name, want in (("numerator", num), ("denominator", den), ("value", value), ("target", target)):
            got = row[name]
            assert (math.isnan(got) and math.isnan(want)) or got == pytest.approx(want), (key, name, got)
        assert pd.isna(row["target_met"]) if met is None else row["target_met"] == met, (
            key,
            row["target_met"],
        )
        assert row["flags"] == flags or (flags is None and pd.isna(row["flags"])), (key, row["flags"])
        assert (row["quarters"], row["aggregation"], row["source"]) == (quarters, agg, source), key
        assert row["period"] == "2025"

    nan = math.nan
    check(("A", "ratio_k"), 20, 80, 0.25, 0.3, False,
          "rollup,late,ratio_parts_missing_some_quarters", 4, "ratio", "portal,submission")
    check(("B", "ratio_k"), 0, 0, nan, 0.5, None, "zero_denominator,incomplete_period", 2, "ratio")
    check(("C", "ratio_k"), nan, nan, 0.7, 0.65, True,
          "ratio_without_parts_latest_value,incomplete_period", 3, "ratio")
    check(("A", "sum_k"), 4, nan, 10, 12, False, "incomplete_period", 3, "sum")
    check(("B", "sum_k"), nan, nan, nan, nan, None, "incomplete_period", 1, "sum")
    check(("A", "latest_k"), 1, 2, 0.5, 0.4, True, "incomplete_period", 3, "latest")
    check(("B", "latest_k"), 2, 5, nan, nan, None, "incomplete_period", 2, "latest")
    check(("A", "mean_k"), nan, nan, 0.3, 0.25, False, None, 4, "mean")
    check(("A", "max_k"), nan, nan, 9, 10, True, "incomplete_period", 2, "max")
    check(("A", "min_k"), nan, nan, 2, 1, None, "incomplete_period", 2, "min")


def test_output_types_follow_the_contract():
    out = combine_quarters(_hand_frame(), CATALOGUE, period="2025")
    for col in ("numerator", "denominator", "value", "target"):
        assert out[col].dtype == "float64", col
    assert out["target_met"].dtype == "boolean" and out["quarters"].dtype == "int64"


def test_rows_without_agency_or_kpi_code_are_left_out_and_none_at_all_is_an_error():
    df = _hand_frame()
    df.loc[0, "agency_code"] = None
    out = combine_quarters(df, CATALOGUE, period="2025").set_index(["agency_code", "kpi_code"])
    assert out.loc[("A", "ratio_k"), "denominator"] == 40  # the Q4 row without an agency is out
    df["kpi_code"] = None
    with pytest.raises(ValueError, match="no agency_kpis row has both agency_code and kpi_code"):
        combine_quarters(df, CATALOGUE, period="2025")


# --- random inputs against the rules written as a plain loop --------------------------------

_AGG = {"ratio": "ratio", "sum": "sum", "latest": "latest", "mean": "mean", "max": "max", "min": "min"}


def _loop_ratio(rows: pd.DataFrame, known: pd.DataFrame) -> tuple[float, float, float, list[str]]:
    """(numerator, denominator, value, flags) of one ratio group, the obvious way."""
    parts = rows[rows["numerator"].notna() & rows["denominator"].notna()]
    if len(parts):
        num, den = parts["numerator"].sum(), parts["denominator"].sum()
        extra = [] if den != 0 else ["zero_denominator"]
        if len(parts) < len(known):
            extra.append("ratio_parts_missing_some_quarters")
        return num, den, (num / den if den != 0 else np.nan), extra
    if len(known):
        return np.nan, np.nan, known["value"].iloc[-1], ["ratio_without_parts_latest_value"]
    return np.nan, np.nan, np.nan, []


def _loop_values(rows: pd.DataFrame, agg: str) -> tuple[float, float, float, list[str]]:
    """(numerator, denominator, value, flags) of one group under ``agg``."""
    known = rows[rows["value"].notna()]
    if agg == "ratio":
        return _loop_ratio(rows, known)
    if agg == "sum":
        return rows["numerator"].sum(min_count=1), np.nan, rows["value"].sum(min_count=1), []
    if agg == "latest":
        pick = known.iloc[-1] if len(known) else rows.iloc[-1]
        return pick["numerator"], pick["denominator"], pick["value"], []
    return np.nan, np.nan, getattr(rows["value"], agg)(), []


def _loop_met(rows: pd.DataFrame, value: float, direction: str | None) -> tuple[float, object]:
    """(the latest target, whether the value meets it or NA)."""
    targets = rows["target"].dropna()
    target = targets.iloc[-1] if len(targets) else np.nan
    if pd.isna(value) or pd.isna(target) or direction is None:
        return target, pd.NA
    return target, bool(value >= target) if direction == "higher" else bool(value <= target)


def _loop_reference(df: pd.DataFrame, catalogue: dict, period: str, n_period: int) -> pd.DataFrame:
    """The combination rules, one (agency, KPI) group at a time, the obvious way."""
    records = []
    df = df[df["agency_code"].notna() & df["kpi_code"].notna()]
    for (agency, code), rows in df.groupby(["agency_code", "kpi_code"], sort=True):
        rows = rows.sort_values("quarter", kind="stable")
        entry = catalogue.get(code) or {}
        agg = _AGG.get(entry.get("aggregation"))
        if agg is None:
            agg = "ratio" if rows["denominator"].notna().any() else "latest"
        num, den, value, extra = _loop_values(rows, agg)
        target, met = _loop_met(rows, value, entry.get("direction"))
        flags = [t.strip() for f in rows["flags"].dropna() for t in str(f).split(",") if t.strip()]
        flags += extra
        if rows["quarter"].nunique() < n_period:
            flags.append("incomplete_period")
        sources = sorted({str(s) for s in rows["source"].dropna()})
        records.append(dict(
            agency_code=agency, kpi_code=code, numerator=num, denominator=den, value=value,
            target=target, target_met=met, source=",".join(sources) if sources else None,
            flags=",".join(dict.fromkeys(flags)) if flags else None, period=period,
            quarters=rows["quarter"].nunique(), aggregation=agg,
        ))
    out = pd.DataFrame.from_records(records)
    out["target_met"] = out["target_met"].astype("boolean")
    for col in ("numerator", "denominator", "value", "target"):
        out[col] = out[col].astype("float64")
    out["quarters"] = out["quarters"].astype("int64")
    return out


def _maybe(values: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(st.just(np.nan), values)


_numbers = st.floats(-1e6, 1e6, allow_nan=False).map(lambda x: round(x, 3))
_rows = st.fixed_dictionaries(
    {
        "quarter": st.sampled_from(["2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4"]),
        "agency_code": st.sampled_from(["A", "B", "Đ", "a"]),
        "kpi_code": st.sampled_from(["ratio_k", "sum_k", "latest_k", "mean_k", "max_k", "min_k", "free_k"]),
        "numerator": _maybe(_numbers),
        "denominator": _maybe(st.one_of(st.just(0.0), _numbers)),
        "value": _maybe(_numbers),
        "target": _maybe(_numbers),
        "source": st.sampled_from(["portal", "submission", "db", None]),
        "flags": st.sampled_from([None, "late", "rollup, late", "", " x ,,y", "restated"]),
    }
)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(_rows, min_size=1, max_size=40), year=st.booleans())
def test_random_inputs_match_the_plain_loop(rows, year):
    df = pd.DataFrame(rows)
    period, n_period = ("2025", 4) if year else ("2025-H2", 2)
    if not year:
        df["quarter"] = df["quarter"].map({"2025-Q1": "2025-Q3", "2025-Q2": "2025-Q4"}).fillna(df["quarter"])
    got = combine_quarters(df, CATALOGUE, period=period)
    pd.testing.assert_frame_equal(got, _loop_reference(df, CATALOGUE, period, n_period), check_exact=True)


def test_a_long_group_sums_like_the_loop():
    """A group of many rows (duplicates per quarter) sums as numpy's own sum does."""
    rng = np.random.default_rng(3)
    n = 23
    df = pd.DataFrame(
        {
            "quarter": rng.choice(["2025-Q1", "2025-Q2"], n),
            "agency_code": "A",
            "kpi_code": rng.choice(["ratio_k", "sum_k", "mean_k"], n, p=[0.6, 0.3, 0.1]),
            "numerator": rng.uniform(0, 1000, n).round(3),
            "denominator": rng.uniform(1, 1000, n).round(3),
            "value": rng.uniform(0, 1, n).round(5),
            "target": 0.5,
            "source": "portal",
            "flags": None,
        }
    )
    got = combine_quarters(df, CATALOGUE, period="2025-H1")
    pd.testing.assert_frame_equal(got, _loop_reference(df, CATALOGUE, "2025-H1", 2), check_exact=True)
    ratio_rows = df[df["kpi_code"] == "ratio_k"]
    assert len(ratio_rows) >= 8  # past numpy's sequential sum
    assert got.set_index("kpi_code").loc["ratio_k", "numerator"] == ratio_rows["numerator"].sum()
