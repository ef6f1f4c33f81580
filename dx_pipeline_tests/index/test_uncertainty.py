"""rank_uncertainty: intervals contain the nominal rank, are reproducible, and widen with spread."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dx_pipeline.index import load_builtin, rank_uncertainty, score
from dx_pipeline.reference import schemas


def _data(fw, n_agencies=40, seed=3):
    rng = np.random.default_rng(seed)
    codes = sorted({n.input_code for n in fw.indicators()})
    rows = [(f"U{i:03d}", c, float(rng.random())) for i in range(n_agencies) for c in codes]
    return pd.DataFrame(rows, columns=["agency_code", "kpi_code", "value"])


def test_intervals_are_ordered_reproducible_and_follow_the_contract():
    fw = load_builtin("qd766")
    data = _data(fw)
    result = score(fw, data)
    a = rank_uncertainty(fw, result=result, n=200, seed=1)
    b = rank_uncertainty(fw, data, n=200, seed=1)
    pd.testing.assert_frame_equal(a, b)
    assert list(a.columns[:5]) == schemas.RANK_UNCERTAINTY.names
    assert len(a) == 40
    assert ((a.rank_p05 <= a.rank_median) & (a.rank_median <= a.rank_p95)).all()
    assert ((a.rank_p05 >= 1) & (a.rank_p95 <= 40)).all()
    si = [c for c in a.columns if c.startswith("si_")]
    assert si == [f"si_weight_{p.id}" for p in fw.pillars] + ["si_normalisation", "si_aggregation"]
    assert ((a[si] >= 0) & (a[si] <= 1)).all().all()
    # the nominal ranking is among the alternatives: the leader is near the top
    top = a[a["rank"] == 1].iloc[0]
    assert top.rank_p05 == 1


def test_no_spread_and_a_dominant_unit():
    fw = load_builtin("qd766")
    data = _data(fw, 10)
    best = data.agency_code == "U000"
    data.loc[best, "value"] = 1.0  # dominates every other unit on every indicator
    r = rank_uncertainty(fw, data, n=100, spread=0.0).set_index("agency_code")
    assert r.loc["U000", ["rank_p05", "rank_median", "rank_p95"]].tolist() == [1, 1, 1]
    wide = rank_uncertainty(fw, data, n=100, spread=0.5)
    assert (wide.rank_p95 - wide.rank_p05).sum() >= (r.rank_p95 - r.rank_p05).sum()


def test_three_hundred_agencies_of_the_district_index():
    fw = load_builtin("dti_district")
    data = _data(fw, 300, seed=5)
    out = rank_uncertainty(fw, data, n=500, seed=0)
    assert len(out) == 300 and out.rank_median.between(1, 300).all()
