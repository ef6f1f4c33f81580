"""``restate_to_successors`` gives exactly what the per-group implementation it replaced gave.

The old implementation combined one (quarter, successor, KPI) group at a time in Python; it is
kept here, unchanged, as the oracle ``_reference_restate``. Every case compares the whole
frame with ``check_exact=True`` (rows, order, dtypes, bit-identical floats, ``flags``,
``restated_from``), on the sample province's real inputs (the KPI step's own portal KPIs of a
quarter with a department merger, and a quarter's ``agency_kpis`` restated across the 2025
province merger as the period combination does) and on hand-made edge cases.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd
import pytest

from dx_pipeline.app import quarter as stages
from dx_pipeline.app.settings import Settings
from dx_pipeline.kpis.compute import compute_agency_kpis
from dx_pipeline.kpis.dossier_kpis import portal_kpis
from dx_pipeline.reference.catalogue import load_catalogue
from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.reference.registry import registry_frame, restate_to_successors, successors_in
from dx_pipeline.sample.generate import generate_sample
from dx_pipeline.storage import DxHome, read_partition

Q2 = Quarter.parse("2025-Q2")


def _reference_restated_row(base: dict, grp: pd.DataFrame, units: Mapping[str, str]) -> dict:
    """The old ``_restated_row``, verbatim."""
    rec = grp.drop(columns=["original_agency_code"]).iloc[0].to_dict()
    rec.update(base)
    den = pd.to_numeric(grp["denominator"], errors="coerce") if "denominator" in grp else None
    num = pd.to_numeric(grp["numerator"], errors="coerce") if "numerator" in grp else None
    unit = units.get(str(base.get("kpi_code")))
    if den is not None and den.notna().all() and num is not None and num.notna().all():
        rec["numerator"], rec["denominator"] = float(num.sum()), float(den.sum())
        rec["value"] = rec["numerator"] / rec["denominator"] if rec["denominator"] else None
    elif unit in ("count", "amount"):
        rec["value"] = float(pd.to_numeric(grp["value"], errors="coerce").sum())
        if num is not None:
            rec["numerator"] = float(num.sum()) if num.notna().any() else None
    else:
        own = grp[grp["original_agency_code"] == base["agency_code"]]
        pick = own if len(own) else grp
        rec["value"] = float(pd.to_numeric(pick["value"], errors="coerce").mean())
    for col in ("target", "target_met"):
        if col in rec:
            rec[col] = None
    if "flags" in rec:
        flags = {x for f in grp["flags"].dropna() for x in str(f).split(",") if x}
        rec["flags"] = ",".join(sorted(flags | {"restated"}))
    originals = sorted(set(grp["original_agency_code"]))
    rec["restated_from"] = ",".join(c for c in originals if c != base["agency_code"]) or None
    return rec


def _reference_restate(kpis_df, registry, as_of_quarter, units=None) -> pd.DataFrame:
    """The old ``restate_to_successors``, verbatim (one group at a time)."""
    units = dict(units or {})
    df = kpis_df.copy()
    df["original_agency_code"] = df["agency_code"]
    codes = df["agency_code"].dropna().unique().tolist()
    mapping = successors_in(registry, codes, as_of_quarter)
    df["agency_code"] = df["agency_code"].map(mapping)
    keys = [k for k in ("quarter", "agency_code", "kpi_code") if k in df.columns]
    moved = df["original_agency_code"] != df["agency_code"]
    touched = df.loc[moved, keys].drop_duplicates()
    in_touched = (
        df[keys].merge(touched.assign(_t=True), on=keys, how="left")["_t"].fillna(False).to_numpy(dtype=bool)
    )
    untouched = df[~in_touched].drop(columns=["original_agency_code"])
    untouched["restated_from"] = None
    out_rows = [
        _reference_restated_row(
            dict(zip(keys, key if isinstance(key, tuple) else (key,), strict=True)), grp, units
        )
        for key, grp in df[in_touched].groupby(keys, sort=True, dropna=False)
    ]
    columns = [c for c in kpis_df.columns] + ["restated_from"]
    combined = pd.DataFrame(out_rows, columns=columns)
    frames = [f for f in (untouched[columns], combined) if len(f)]
    if not frames:
        return pd.DataFrame(columns=columns)
    out = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    return out.sort_values(keys, kind="stable").reset_index(drop=True)


def assert_same(kpis, registry, as_of, units=None) -> pd.DataFrame:
    """New == old, exactly; returns the new frame for further checks."""
    before = kpis.copy()
    new = restate_to_successors(kpis, registry, as_of, units=units)
    old = _reference_restate(kpis, registry, as_of, units=units)
    pd.testing.assert_frame_equal(new, old, check_exact=True)
    # bit-identical, not merely equal (0.0 vs -0.0, NaN payloads aside)
    for i, col in enumerate(new.columns):
        if new.iloc[:, i].dtype == "float64":
            bits = (frame_.iloc[:, i].to_numpy().view("int64") for frame_ in (new, old))
            assert np.array_equal(*bits), col
    pd.testing.assert_frame_equal(kpis, before)  # the input is left alone
    return new


# ---------------------------------------------------------------- the sample province's real inputs


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """2025-Q2 of the sample province (after the 2025-03-01 department mergers, before the
    2025-07-01 province merger): registry, the KPI step's own portal KPIs and its agency_kpis."""
    home = DxHome(tmp_path_factory.mktemp("restate") / "home").ensure()
    generate_sample(home, seed=7, scale=0.01, quarters=[Q2])
    settings = Settings(home)
    stages.load_agencies(settings, Q2)
    stages.ingest_portal(settings, Q2)
    stages.ingest_quarter_submissions(settings, Q2)
    registry = read_partition(home, "agencies", Q2)
    catalogue = load_catalogue()
    own = portal_kpis(home, Q2)
    own = own[own["agency_code"].astype(str).isin(set(registry["agency_code"].astype(str)))]
    kpis = compute_agency_kpis(home, Q2, registry, read_partition(home, "agency_submissions", Q2),
                               catalogue=catalogue)
    units = {code: kpi.unit for code, kpi in catalogue.kpis.items()}
    return registry, own.reset_index(drop=True), kpis, units


def test_sample_kpi_step_input(sample):
    """The frame the KPI step restates: own portal KPIs under the department mergers."""
    registry, own, _, units = sample
    out = assert_same(own, registry, Q2, units)
    assert out["restated_from"].notna().sum() > 0


def test_sample_agency_kpis_across_the_province_merger(sample):
    """A quarter's agency_kpis (every unit kind, targets, submissions' flags) restated under
    the agencies after the province merger, as the half-year and annual combination does."""
    registry, _, kpis, units = sample
    rows = kpis.assign(quarter=Q2.label)
    kinds = {units.get(k) for k in rows["kpi_code"].unique()}
    assert {"ratio", "count", "amount", "bool", "level", "evidence"} <= kinds
    # two KPIs of each unit kind keep the old implementation's running time short
    codes = pd.Series(rows["kpi_code"].unique())
    keep = codes.groupby(codes.map(units)).head(2)
    rows = rows[rows["kpi_code"].isin(keep)]
    out = assert_same(rows.reset_index(drop=True), registry, "2025-Q4", units)
    assert out["restated_from"].notna().sum() > 50


# ---------------------------------------------------------------- hand-made edge cases

def _day(text: str | None) -> dt.date | None:
    return None if text is None else dt.date.fromisoformat(text)


REG = registry_frame([
    dict(agency_code=code, name_vi=code, name_en=code, level=level, peer_group=level, parent_code=parent,
         provides_public_services=True, valid_from=_day(dt_from), valid_to=_day(dt_to), successor_code=succ)
    for code, level, parent, dt_from, dt_to, succ in [
        ("TINH", "province", None, "2020-01-01", None, None),
        ("SO_A", "department", "TINH", "2020-01-01", "2025-02-28", "SO_B"),
        ("SO_B", "department", "TINH", "2020-01-01", "2025-06-30", "SO_C"),  # a chain A -> B -> C
        ("SO_C", "department", "TINH", "2020-01-01", None, None),
        ("SO_D", "department", "TINH", "2020-01-01", "2025-06-30", "SO_C"),
        ("SO_E", "department", "TINH", "2020-01-01", "2025-06-30", "SO_NEW"),
        ("SO_F", "department", "TINH", "2020-01-01", "2025-06-30", "SO_NEW"),
        ("SO_NEW", "department", "TINH", "2025-07-01", None, None),  # no row of its own before
        ("SO_X", "department", "TINH", "2020-01-01", None, None),  # never merged
    ]
])

UNITS = {"r": "ratio", "n": "count", "amt": "amount", "b": "bool", "lvl": "level", "ev": "evidence",
         "d": "days"}
COLUMNS = ["quarter", "agency_code", "kpi_code", "numerator", "denominator", "value", "target",
           "target_met", "source", "flags"]


def frame(rows) -> pd.DataFrame:
    """agency_kpis-like rows with the contract's dtypes."""
    df = pd.DataFrame(rows, columns=COLUMNS)
    for c in ("numerator", "denominator", "value", "target"):
        df[c] = df[c].astype("float64")
    df["target_met"] = df["target_met"].astype("boolean")
    return df


EDGE_ROWS = [
    # ratio, successor with its own row; several predecessors incl. a chain
    ("2025-Q1", "SO_A", "r", 3.0, 7.0, 3 / 7, 0.5, False, "portal", "late"),
    ("2025-Q1", "SO_B", "r", 0.1, 0.3, 1 / 3, 0.5, False, "portal", None),
    ("2025-Q1", "SO_C", "r", 0.7, 0.9, 0.7 / 0.9, 0.5, True, "portal", "b,a"),
    ("2025-Q1", "SO_D", "r", 1e16, 1.0, 1e16, None, None, "portal", ""),
    # ratio with a NaN numerator -> falls back by unit (ratio: the successor's own value)
    ("2025-Q1", "SO_D", "r2", np.nan, 4.0, np.nan, None, None, "portal", None),
    ("2025-Q1", "SO_C", "r2", 2.0, 4.0, 0.5, None, None, "portal", None),
    # zero denominators -> value None
    ("2025-Q1", "SO_E", "r", 0.0, 0.0, np.nan, None, None, "portal", None),
    ("2025-Q1", "SO_F", "r", 0.0, 0.0, np.nan, None, None, "portal", None),
    # counts: NaN numerators, one present
    ("2025-Q1", "SO_E", "n", np.nan, np.nan, 5.0, 1.0, True, "submission", "x,late"),
    ("2025-Q1", "SO_F", "n", 2.0, np.nan, np.nan, 1.0, True, "submission", "late"),
    ("2025-Q1", "SO_E", "amt", np.nan, np.nan, 1.5, None, None, "submission", None),
    ("2025-Q1", "SO_F", "amt", np.nan, np.nan, 0.1, None, None, "submission", None),
    # bool/level/evidence: the successor's own value wins; without one the mean
    ("2025-Q1", "SO_C", "b", np.nan, np.nan, 1.0, 1.0, True, "submission", None),
    ("2025-Q1", "SO_D", "b", np.nan, np.nan, 0.0, 1.0, False, "submission", None),
    ("2025-Q1", "SO_E", "lvl", np.nan, np.nan, 2.0, None, None, "submission", None),
    ("2025-Q1", "SO_F", "lvl", np.nan, np.nan, 3.0, None, None, "submission", None),
    ("2025-Q1", "SO_E", "ev", np.nan, np.nan, np.nan, None, None, "submission", None),
    ("2025-Q1", "SO_F", "ev", np.nan, np.nan, np.nan, None, None, "submission", None),
    ("2025-Q1", "SO_C", "d", 10.5, 3.0, 3.5, None, None, "portal", None),
    ("2025-Q1", "SO_B", "d", 7.25, 2.0, 3.625, None, None, "portal", None),
    # another quarter: untouched rows and a successor already carrying the work
    ("2025-Q3", "SO_C", "r", 5.0, 10.0, 0.5, 0.5, True, "portal", None),
    ("2025-Q3", "SO_X", "r", 1.0, 2.0, 0.5, 0.5, True, "portal", None),
    ("2025-Q3", "TINH", "n", np.nan, np.nan, 4.0, None, None, "portal", None),
    ("2025-Q3", "SO_NEW", "b", np.nan, np.nan, 1.0, None, None, "submission", None),
]


def test_edge_cases_every_unit_kind():
    out = assert_same(frame(EDGE_ROWS), REG, "2025-Q3", UNITS)
    assert (out["agency_code"].isin(["SO_C", "SO_NEW", "SO_X", "TINH"])).all()
    assert out["restated_from"].notna().any() and out["restated_from"].isna().any()


def test_edge_cases_shuffled_and_under_an_earlier_quarter():
    rows = frame(EDGE_ROWS).sample(frac=1.0, random_state=3).reset_index(drop=True)
    assert_same(rows, REG, "2025-Q3", UNITS)
    assert_same(rows, REG, "2025-Q1", UNITS)  # only SO_A has moved (to SO_B)


def test_no_merger_at_all():
    rows = frame([r for r in EDGE_ROWS if r[1] in ("SO_X", "TINH", "SO_C")])
    out = assert_same(rows, REG, "2025-Q3", UNITS)
    assert out["restated_from"].isna().all()


def test_everything_moved():
    rows = frame([r for r in EDGE_ROWS if r[1] in ("SO_E", "SO_F")])
    out = assert_same(rows, REG, "2025-Q3", UNITS)
    assert out["restated_from"].notna().all()


def test_all_zero_denominators_only():
    """Every combined value is None: the column's dtype follows from that, as before."""
    rows = frame([r for r in EDGE_ROWS if r[1] in ("SO_E", "SO_F") and r[2] == "r"])
    assert_same(rows, REG, "2025-Q3", UNITS)


def test_empty_input():
    assert_same(frame([]), REG, "2025-Q3", UNITS)


def test_without_quarter_target_or_flags_columns():
    rows = frame(EDGE_ROWS).drop(columns=["quarter", "target", "target_met", "flags"])
    rows = rows.drop_duplicates(["agency_code", "kpi_code"]).reset_index(drop=True)
    assert_same(rows, REG, "2025-Q3", UNITS)
    assert_same(rows, REG, "2025-Q3")  # no units: nothing is summed as a count


def test_random_groups_bit_identical():
    """Random magnitudes, group sizes from 1 to 300 (numpy sums 8 and more values pairwise),
    NaNs, duplicate rows, several quarters: sums must come out bit for bit as pandas summed them."""
    rng = np.random.default_rng(11)
    olds = [f"OLD{i}" for i in range(40)]
    reg = registry_frame(
        [dict(agency_code=c, name_vi=c, name_en=c, level="commune", peer_group="commune", parent_code=None,
              provides_public_services=True, valid_from=pd.Timestamp("2020-01-01").date(),
              valid_to=pd.Timestamp("2025-06-30").date(), successor_code=f"NEW{i % 4}")
         for i, c in enumerate(olds)]
        + [dict(agency_code=f"NEW{i}", name_vi="n", name_en="n", level="commune", peer_group="commune",
                parent_code=None, provides_public_services=True,
                valid_from=pd.Timestamp("2020-01-01").date(), valid_to=None, successor_code=None)
           for i in range(4)]
    )
    rows = []
    for i in range(1840):
        big = 1500 <= i < 1800  # one group of 300; the last 40 rows make small groups of 2025-Q3
        q = "2025-Q4" if big else rng.choice(["2025-Q1", "2025-Q2"]) if i < 1500 else "2025-Q3"
        code = f"OLD{4 * (i % 10)}" if big else rng.choice(olds + ["NEW0", "NEW1", "NEW2", "NEW3"])
        kpi = "n" if big else rng.choice(list(UNITS))
        num, den = (rng.standard_normal(2) * 10.0 ** rng.integers(-6, 17, size=2)).tolist()
        val = float(rng.standard_normal() * 10.0 ** rng.integers(-3, 12))
        num, den, val = (np.nan if rng.random() < 0.08 else x for x in (num, den, val))
        flags = [None, "", "late", "b,a", "late,zz"][int(rng.integers(5))]
        rows.append((q, code, kpi, num, den, val, 0.5, True, "portal", flags))
    df = frame(rows)
    out = assert_same(df, reg, "2025-Q3", UNITS)
    successor = [f"NEW{int(c[3:]) % 4}" if c.startswith("OLD") else c for c in map(str, df["agency_code"])]
    sizes = df.assign(s=successor)
    # groups below 8, from 8 to 128 and above 128 rows: numpy sums each range differently
    group_sizes = sizes.groupby(["quarter", "s", "kpi_code"]).size()
    assert group_sizes.min() < 8 and group_sizes.max() > 128
    assert ((group_sizes >= 8) & (group_sizes <= 128)).any()
    assert len(out) < len(df)


def test_float64_extension_and_object_columns():
    """Numbers read back as nullable Float64 or as object still combine exactly as before."""
    df = frame(EDGE_ROWS)
    assert_same(df.astype({"numerator": "Float64", "denominator": "Float64"}), REG, "2025-Q3", UNITS)
    assert_same(df.astype({"value": object, "source": object}), REG, "2025-Q3", UNITS)


def test_a_row_without_agency_code_is_refused_by_name():
    """The old code failed here with a TypeError deep in a string join; now a clear error."""
    rows = frame(EDGE_ROWS)
    rows.loc[3, "agency_code"] = None
    with pytest.raises(TypeError):
        _reference_restate(rows, REG, "2025-Q3", UNITS)
    with pytest.raises(ValueError, match=r"KPI row 3 \(kpi_code 'r'\): agency_code is empty"):
        restate_to_successors(rows, REG, "2025-Q3", UNITS)


def test_input_that_already_has_restated_from():
    """Restating a restated frame again (the column comes in and goes out doubled, as before)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = assert_same(frame(EDGE_ROWS).assign(restated_from="X"), REG, "2025-Q3", UNITS)
    assert list(out.columns).count("restated_from") == 2
