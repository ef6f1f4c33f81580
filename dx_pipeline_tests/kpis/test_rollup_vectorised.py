"""The vectorised subtree sums equal the per-group Python aggregate they replaced."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dx_pipeline.kpis.rollup import _subtree_sums


def _reference(summable: pd.DataFrame, chains: dict[str, list[str]]) -> pd.DataFrame:
    """The implementation before vectorising (per-group lambdas), kept as the oracle."""
    codes = summable["agency_code"].unique()
    pairs = [(a, a, True) for a in codes]
    pairs += [(a, parent, False) for a in codes for parent in chains.get(a, [])]
    links = pd.DataFrame(pairs, columns=["agency_code", "target_agency", "is_self"])
    expanded = summable.merge(links, on="agency_code", how="inner")
    expanded["numerator"] = expanded["numerator"].astype("float64")
    expanded["denominator"] = expanded["denominator"].astype("float64")
    return (
        expanded.groupby(["target_agency", "kpi_code"], sort=True)
        .agg(
            numerator=("numerator", lambda s: s.sum(min_count=1)),
            denominator=("denominator", lambda s: s.sum(min_count=1)),
            descendants=("is_self", lambda s: int((~s).sum())),
            flags=(
                "flags",
                lambda s: ",".join(
                    sorted({f for v in s for f in str(v or "").split(",") if f and f != "zero_denominator"})
                ),
            ),
        )
        .reset_index()
        .rename(columns={"target_agency": "agency_code"})
    )


@pytest.mark.parametrize("seed", range(6))
def test_subtree_sums_equal_the_per_group_aggregate(seed):
    rng = np.random.default_rng(seed)
    agencies = [f"A{i}" for i in range(30)]
    chains = {a: ([agencies[i // 3]] if i >= 3 else []) + (["A0"] if i >= 9 else [])
              for i, a in enumerate(agencies)}
    flag_choices = ["", None, float("nan"), "late", "zero_denominator", "late,rollup", "b,a,late", "a,,b"]
    n = 400
    own = pd.DataFrame({
        "agency_code": rng.choice(agencies, n),
        "kpi_code": rng.choice(["k1", "k2", "k3", "k4"], n),
        "numerator": np.where(rng.random(n) < 0.2, np.nan, rng.integers(0, 50, n) + rng.random(n).round(2)),
        "denominator": np.where(rng.random(n) < 0.3, np.nan, rng.integers(0, 100, n).astype(float)),
        "flags": pd.Series([flag_choices[i] for i in rng.integers(0, len(flag_choices), n)], dtype=object),
    })
    if seed == 0:
        own["flags"] = ""
    if seed == 1:
        own["numerator"] = np.nan
    got, want = _subtree_sums(own, chains), _reference(own, chains)
    # flags: the same text (the old aggregate's dtype was pandas' guess; rollup_kpis rebuilds it)
    assert got["flags"].tolist() == want["flags"].tolist()
    pd.testing.assert_frame_equal(got.drop(columns="flags"), want.drop(columns="flags"),
                                  check_exact=True)


def test_no_rows_give_no_groups():
    own = pd.DataFrame({"agency_code": pd.Series([], dtype=object), "kpi_code": pd.Series([], dtype=object),
                        "numerator": pd.Series([], dtype=float), "denominator": pd.Series([], dtype=float),
                        "flags": pd.Series([], dtype=object)})
    got = _subtree_sums(own, {})
    assert got.empty
    assert list(got.columns) == ["agency_code", "kpi_code", "numerator", "denominator", "descendants",
                                 "flags"]
