"""The rules a ranking must satisfy before it is published: sound tables pass, each kind of
broken table is named."""

import pandas as pd

from dx_pipeline.quality.ranking_rules import (
    missing_quarters,
    ranking_problems,
    ranks_outside_interval,
    uncertainty_problems,
)

TIES = {"fw_shared": "shared", "fw_consecutive": "consecutive"}


def _ranking(framework: str, points: list[float], ranks: list[int | None], group: str = "g") -> pd.DataFrame:
    return pd.DataFrame({
        "framework_id": framework,
        "peer_group": group,
        "agency_code": [f"A{i:02d}" for i in range(len(points))],
        "total_points": points,
        "max_points": 100.0,
        "rank": pd.array(ranks, dtype="Int32"),
    })


def test_sound_rankings_pass_under_either_tie_rule():
    shared = _ranking("fw_shared", [90, 80, 80, 70], [1, 2, 2, 4])
    consecutive = _ranking("fw_consecutive", [90, 80, 80, 70], [1, 2, 3, 4])
    unranked = _ranking("fw_shared", [50], [None], group="other")
    unranked["agency_code"] = "B01"
    assert ranking_problems(pd.concat([shared, consecutive, unranked], ignore_index=True), TIES) == []


def test_a_gap_a_wrong_tie_and_a_total_above_its_maximum_are_named():
    gap = _ranking("fw_shared", [90, 80, 70], [1, 2, 4])
    assert any("A02 has rank 4" in p for p in ranking_problems(gap, TIES))
    wrong_tie = _ranking("fw_consecutive", [90, 80, 80], [1, 2, 2])
    assert any("A02 has rank 2" in p and "expected 3" in p for p in ranking_problems(wrong_tie, TIES))
    inverted = _ranking("fw_shared", [70, 90], [1, 2])
    assert len(ranking_problems(inverted, TIES)) == 2
    over = _ranking("fw_shared", [120, 80], [1, 2])
    assert any("A00 has 120 of 100.0 points" in p for p in ranking_problems(over, TIES))


def test_a_duplicate_agency_and_an_unknown_framework_are_named():
    dup = _ranking("fw_shared", [90, 80], [1, 2])
    dup.loc[1, "agency_code"] = "A00"
    assert "fw_shared: A00 has more than one row" in ranking_problems(dup, TIES)
    other = _ranking("fw_gone", [90], [1])
    assert "fw_gone: not a framework in force this quarter" in ranking_problems(other, TIES)
    assert ranking_problems(other.iloc[0:0], TIES) == ["the ranking has no rows"]


def _intervals(lo: list[float], mid: list[float], hi: list[float], rank: list[int]) -> pd.DataFrame:
    return pd.DataFrame({
        "framework_id": "fw", "agency_code": [f"A{i}" for i in range(len(lo))],
        "rank_p05": lo, "rank_median": mid, "rank_p95": hi, "peer_group": "g", "rank": rank,
    })


def test_ordered_intervals_within_the_group_pass_and_ranks_outside_are_counted():
    ok = _intervals([1, 1, 2], [1, 2, 3], [2, 3, 3], [1, 3, 3])
    assert uncertainty_problems(ok) == []
    assert ranks_outside_interval(ok) == 0
    assert ranks_outside_interval(_intervals([1, 2], [1, 2], [1, 2], [2, 1])) == 2


def test_unordered_or_out_of_group_intervals_fail():
    unordered = _intervals([2, 1], [1, 2], [2, 2], [1, 2])  # p05 above the median
    assert any("A0 interval 2..2" in p for p in uncertainty_problems(unordered))
    beyond = _intervals([1, 1], [1, 2], [2, 3], [1, 2])  # rank 3 in a group of two
    assert any("A1" in p and "1..2" in p for p in uncertainty_problems(beyond))
    zero = _intervals([0, 1], [1, 2], [1, 2], [1, 2])
    assert len(uncertainty_problems(zero)) == 1


def test_a_period_names_the_quarters_it_lacks():
    assert missing_quarters(["2025-Q1", "2025-Q2"], ["2025-Q2"]) == ["2025-Q1: no agency_kpis to combine"]
    assert missing_quarters(["2025-Q1"], ["2025-Q1"]) == []
