"""Property-based tests of the engine's invariants (hypothesis)."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dx_pipeline.index import competition_rank, score
from dx_pipeline.index.loader import build_framework
from dx_pipeline.index.rules import RULES, shares
from dx_pipeline_tests.index.conftest import MINIMAL, reference_kpis

FW = build_framework(copy.deepcopy(MINIMAL), "mini.yaml", reference_kpis())
CODES = [n.input_code for n in FW.indicators()]
PARAMS = {"goalpost": {"threshold": 0.8, "lower": 0.1}, "distance_to_target": {"target": 0.6},
          "categorical": {"levels": {0: 0.0, 0.5: 0.5, 1: 1.0}}, "half_credit": {}, "zscore": {"clip": 2}}
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])

value = st.one_of(st.none(), st.floats(0, 1, allow_nan=False))
table = st.lists(st.tuples(*[value] * len(CODES)), min_size=1, max_size=8)


def _long(rows) -> pd.DataFrame:
    recs = [
        (f"A{i}", c, v)
        for i, vals in enumerate(rows)
        for c, v in zip(CODES, vals, strict=True)
        if v is not None
    ]
    return pd.DataFrame(recs or [("A0", "on_time_rate", None)], columns=["agency_code", "kpi_code", "value"])


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    table,
    st.sampled_from(["zero", "exclude", "group_mean"]),
    st.sampled_from(["sum", "arithmetic", "geometric", "harmonic"]),
)
def test_points_within_bounds_and_sums_hold(rows, missing, agg):
    doc = copy.deepcopy(MINIMAL)
    doc["policies"]["missing"] = missing
    doc["aggregation"] = {"total": agg, "pillar": "sum"}
    fw = build_framework(doc, "p.yaml", reference_kpis())
    r = score(fw, _long(rows))
    s = r.scores
    assert ((s.points >= 0) & (s.points <= s.max_points + 1e-9)).all()
    for _, g in s.groupby("agency_code"):
        pillars = g[g.level == "pillar"].set_index("node_id")
        kids = g[g.level == "indicator"].groupby("parent_id").points.sum()
        assert np.allclose(pillars.points.loc[kids.index], kids, atol=1e-6)
        total = g[g.level == "total"].iloc[0]
        if agg == "sum":
            assert abs(total.points - pillars.points.sum()) < 1e-6
        assert total.max_points in (0, 100)


@SETTINGS
@given(table)
def test_ranks_consistent_with_scores(rows):
    rk = score(FW, _long(rows)).ranking
    pts, ranks = rk.total_points.to_numpy(), rk["rank"].to_numpy(dtype=float)
    for i in range(len(rk)):
        ahead = (pts > pts[i]).sum()
        assert ranks[i] == ahead + 1  # competition rank: ties share the best
    assert (np.diff(pts) <= 1e-12).all()  # listed best first


@SETTINGS
@given(st.sampled_from(sorted(RULES)), st.sampled_from(["higher", "lower"]),
       st.lists(st.floats(0, 1, allow_nan=False), min_size=2, max_size=8), st.integers(0, 7),
       st.floats(0, 0.5, allow_nan=False))
def test_rules_monotone_in_own_value(rule, direction, others, who, bump):
    if rule in ("categorical", "manual"):
        direction = "higher"  # these read their levels / points as given: no direction
    if rule == "goalpost" and direction == "lower":
        params = {"threshold": 0.2, "upper": 0.9}
    else:
        params = PARAMS.get(rule, {})
    if rule == "categorical":
        others = [round(x * 2) / 2 for x in others]
        bump = 0.5 if bump > 0.25 else 0.0
    i = who % len(others)
    before = np.array(others, dtype=float)
    after = before.copy()
    after[i] = before[i] + (bump if direction == "higher" else -bump)
    if rule == "categorical":
        after[i] = min(max(after[i], 0), 1)
    a = shares(rule, before, params, direction, 10.0)[i]
    b = shares(rule, after, params, direction, 10.0)[i]
    assert 0 <= a <= 1 and 0 <= b <= 1
    assert b >= a - 1e-12


@SETTINGS
@given(st.lists(st.integers(0, 5), min_size=1, max_size=12))
def test_competition_rank(values):
    r = competition_rank(np.array(values, dtype=float))
    for v, k in zip(values, r, strict=True):
        assert k == 1 + sum(x > v for x in values)


@SETTINGS
@given(st.lists(st.sampled_from([0.0, -0.0, 1.5, 2.25, 80.0, 1e-300]) | st.floats(-1e6, 1e6), max_size=40),
       st.booleans())
def test_competition_rank_by_one_sort_equals_the_binary_search(values, with_nan):
    arr = np.array(values + ([float("nan")] if with_nan else []), dtype=float)
    ordered = np.sort(arr)[::-1]
    expected = 1 + np.searchsorted(-ordered, -arr, side="left")  # the way it was computed before
    got = competition_rank(arr)
    np.testing.assert_array_equal(got, expected)
    assert got.dtype == expected.dtype
