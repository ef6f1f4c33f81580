"""The engine's whole-table shortcuts against the per-unit work they replace (hypothesis).

The engine builds notes per distinct text, asks a rule for its next step once per distinct
thing the step depends on, and reads the long table's codes once per distinct code. Each
shortcut must give exactly what the per-unit way gives.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dx_pipeline.index import score
from dx_pipeline.index.engine import _tiled
from dx_pipeline.index.loader import build_framework
from dx_pipeline.index.notes import Notes
from dx_pipeline.index.rules import RULES, next_steps
from dx_pipeline_tests.index.conftest import MINIMAL, reference_kpis

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PARAMS = {"goalpost": {"threshold": 0.8, "lower": 0.1}, "distance_to_target": {"target": 0.6},
          "categorical": {"levels": {0: 0.0, 0.5: 0.5, 1: 1.0}}, "half_credit": {}, "zscore": {"clip": 2},
          "manual": {}}
values = st.lists(st.sampled_from([0.0, -0.0, 0.5, 1.0, 0.25, 0.49, 0.75, 1.2, -0.3]) | st.floats(-2, 2),
                  min_size=1, max_size=30)


@SETTINGS
@given(st.sampled_from(sorted(RULES)), st.booleans(), values)
def test_next_steps_equal_one_call_per_unit(rule, higher, xs):
    r, p = RULES[rule], PARAMS.get(rule, {})
    if rule == "goalpost" and not higher:
        p = {"threshold": 0.2, "upper": 0.9}
    if rule in ("categorical", "manual", "half_credit") and not higher:
        higher = True
    arr = np.array(xs, dtype=float)
    target, share, found = next_steps(r, arr, arr, p, higher, 5.0)
    for i, v in enumerate(arr):
        step = r.next_step(float(v), arr, p, higher, 5.0)
        assert found[i] == (step is not None)
        if step is not None:
            assert (target[i], share[i]) == (float(step[0]), float(step[1]))


parts = st.lists(
    st.tuples(st.sets(st.integers(0, 11)), st.sampled_from(["a", "b", "c; d", ""]),
              st.lists(st.sampled_from([0.0, -0.0, 0.5, 1.0, float("nan")]), min_size=12, max_size=12)),
    max_size=5)


@SETTINGS
@given(parts)
def test_notes_equal_a_join_per_unit(spec):
    n = 12
    notes, naive = Notes(n), [[] for _ in range(n)]
    for rows, word, vals in spec:
        idx = np.array(sorted(rows), dtype=np.int64)
        v = np.array(vals)[idx]
        if word == "a":
            notes.add(idx, "fixed")
        else:
            notes.add(idx, lambda x, w=word: f"{w} {x:g}", v)
        for i, x in zip(idx, v, strict=True):
            naive[i].append("fixed" if word == "a" else f"{word} {x:g}")
    codes, texts = notes.encode()
    got = [texts[c] if c >= 0 else None for c in codes]
    assert got == ["; ".join(x) if x else None for x in naive]


def _framework(missing: str, zero: str):
    doc = copy.deepcopy(MINIMAL)
    doc["policies"] = {**doc["policies"], "missing": missing, "zero_denominator": zero}
    return build_framework(doc, "v.yaml", reference_kpis())


cell = st.one_of(st.none(), st.floats(0, 1.3, allow_nan=False), st.just("n/a"), st.just(" 0.5 "),
                 st.tuples(st.floats(0, 50, allow_nan=False), st.just(0.0)))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(cell, min_size=3, max_size=3), min_size=1, max_size=6),
       st.sampled_from(["zero", "exclude", "group_mean"]),
       st.sampled_from(["full", "zero", "not_applicable"]),
       st.randoms(use_true_random=False))
def test_categorical_padded_shuffled_input_scores_the_same(rows, missing, zero, rnd):
    fw = _framework(missing, zero)
    codes = [n.input_code for n in fw.indicators()][:3]
    recs = []
    for i, vals in enumerate(rows):
        for code, v in zip(codes, vals, strict=True):
            if isinstance(v, tuple):
                recs.append((f"A{i}", code, None, v[0], v[1]))
            elif v is not None:
                recs.append((f"A{i}", code, v, None, None))
    plain = pd.DataFrame(recs or [("A0", codes[0], None, None, None)],
                         columns=["agency_code", "kpi_code", "value", "numerator", "denominator"])
    plain["value"] = plain["value"].astype(object)
    odd = plain.sample(frac=1.0, random_state=rnd.randint(0, 10**6)).reset_index(drop=True)
    padded = " " + odd["agency_code"] + "  "
    odd["agency_code"] = pd.Categorical(padded, categories=sorted({*padded, "unused"}))
    odd["kpi_code"] = odd["kpi_code"].astype("category")
    a, b = score(fw, plain), score(fw, odd)
    pd.testing.assert_frame_equal(a.scores, b.scores)
    pd.testing.assert_frame_equal(a.ranking, b.ranking)


@SETTINGS
@given(st.lists(st.none() | st.text(max_size=6), min_size=1, max_size=6), st.integers(0, 5))
def test_tiled_text_column_equals_the_texts_repeated(texts, units):
    got = pd.Series(_tiled(texts, units))
    want = pd.Series(pd.array(np.array(texts * units, dtype=object), dtype="string"))
    pd.testing.assert_series_equal(got, want)
