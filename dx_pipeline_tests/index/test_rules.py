"""Every scoring rule at its edges: exactly at the threshold, below, above, ties, one unit."""

from __future__ import annotations

import numpy as np
import pytest

from dx_pipeline.index.rounding import half_up
from dx_pipeline.index.rules import RULES, shares


def s(rule, values, params=None, direction="higher", mx=10.0):
    return shares(rule, np.array(values, dtype=float), params or {}, direction, mx).round(12).tolist()


def test_half_up_rounding_beats_float_noise():
    assert half_up(0.825 * 6, 2) == 4.95  # 4.949999… in binary
    assert half_up(2.675, 2) == 2.68  # round() gives 2.67
    assert half_up(0.125, 2) == 0.13 and half_up(-0.125, 2) == -0.13
    assert half_up([0.5, 1.5, 2.5], 0).tolist() == [1.0, 2.0, 3.0]


def test_linear():
    assert s("linear", [0, 0.5, 1, 1.2]) == [0, 0.5, 1, 1]
    assert s("linear", [50, 100], {"scale": 100}) == [0.5, 1]
    assert s("linear", [0, 0.25, 1], direction="lower") == [1, 0.75, 0]


def test_goalpost_exactly_at_threshold_and_lower_post():
    assert s("goalpost", [0.8, 0.79999, 0.4, 0, 1], {"threshold": 0.8}) == pytest.approx(
        [1, 0.9999875, 0.5, 0, 1])
    assert s("goalpost", [0.2, 0.2001, 0.5, 0.8], {"threshold": 0.8, "lower": 0.2}) == pytest.approx(
        [0, 0.0001 / 0.6, 0.5, 1])
    # lower is better: full at or below 5 days, nothing at 15 days or more
    assert s("goalpost", [5, 4, 10, 15, 20], {"threshold": 5, "upper": 15}, "lower") == [1, 1, 0.5, 0, 0]


def test_distance_to_target():
    assert s("distance_to_target", [0.8, 0.6, 0, 1.0], {"target": 0.8}) == pytest.approx([1, 0.75, 0, 1])
    assert s(
        "distance_to_target", [0.02, 0.03, 0.01], {"target": 0.02, "tolerance": 0.02, "two_sided": True}
    ) == pytest.approx([1, 0.5, 0.5])
    assert s("distance_to_target", [10, 12], {"target": 10, "tolerance": 4}, "lower") == pytest.approx(
        [1, 0.5]
    )


def test_categorical_boolean_half_credit_manual():
    levels = {"levels": {2: 1.0, 1: 0.5, 0: 0.0}}
    assert s("categorical", [2, 1, 0, 7], levels) == [1, 0.5, 0, 0]
    assert s("boolean", [1, 0, 0.5, 0.49]) == [1, 0, 1, 0]
    assert s("boolean", [1, 0], direction="lower") == [0, 1]
    assert s("half_credit", [1, 0.5, 0.49, 0.75]) == [1, 0.5, 0, 0.5]
    assert s("manual", [0, 7.5, 10, 12, -1], mx=10) == [0, 0.75, 1, 1, 0]


def test_relative_rules_edges():
    assert s("minmax", [1, 2, 3]) == [0, 0.5, 1]
    assert s("minmax", [1, 2, 3], direction="lower") == [1, 0.5, 0]
    assert s("minmax", [4, 4]) == [1, 1]  # nothing separates the units: all full
    assert s("minmax", [4]) == [1]
    z = s("zscore", [1, 2, 3], {"clip": 3})
    assert z[1] == 0.5 and z[0] < 0.5 < z[2]
    assert s("zscore", [5, 5]) == [0.5, 0.5]
    assert s("rank", [10, 30, 30, 20]) == pytest.approx([0, 1, 1, 1 / 3])  # competition ranks 4,1,1,3
    assert s("percentile_rank", [10, 20, 30]) == [0, 0.5, 1]
    assert s("percentile_rank", [10, 10]) == [0.5, 0.5]
    assert s("rank", [7]) == [1]


def test_next_step_reports_the_threshold():
    r = RULES["goalpost"]
    assert r.next_step(0.6, np.array([0.6]), {"threshold": 0.8}, True, 2.0) == (0.8, 1.0)
    cat = RULES["categorical"]
    levels = {"levels": {2: 1.0, 1: 0.5, 0: 0.0}}
    assert cat.next_step(0, np.array([0.0]), levels, True, 2.0) == (1.0, 0.5)
    assert cat.next_step(2, np.array([0.0]), levels, True, 2.0) is None
    assert RULES["half_credit"].next_step(0.6, np.array([]), {}, True, 2.0) == (1.0, 1.0)
    assert RULES["minmax"].next_step(1, np.array([1.0, 3.0]), {}, True, 2.0) == (3.0, 1.0)


@pytest.mark.parametrize("name", sorted(RULES))
def test_every_rule_stays_in_unit_interval(name):
    params = {"goalpost": {"threshold": 0.8}, "distance_to_target": {"target": 0.5},
              "categorical": {"levels": {1: 1.0, 0: 0.0}}}.get(name, {})
    vals = np.array([-1, 0, 0.3, 0.8, 1, 5.0])
    out = shares(name, vals, params, "higher", 10.0)
    assert ((out >= 0) & (out <= 1)).all()
