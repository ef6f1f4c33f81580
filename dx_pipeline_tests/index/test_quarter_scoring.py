"""score_quarter: every framework in force for the registry's levels, stacked into one table."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from dx_pipeline.index.quarter_scoring import (
    kpi_long,
    provincial_frameworks,
    rank_scored,
    score_quarter,
)
from dx_pipeline.reference import schemas


def _registry():
    rows = [
        ("SYT", "Sở Y tế", "Health", "department", "department", None, True, dt.date(2020, 1, 1), None, None),
        (
            "H01",
            "UBND huyện A",
            "District A",
            "district",
            "district",
            None,
            True,
            dt.date(2020, 1, 1),
            dt.date(2025, 6, 30),
            "X10",
        ),
        (
            "X01",
            "UBND xã B",
            "Commune B",
            "commune",
            "H01",
            "H01",
            True,
            dt.date(2020, 1, 1),
            dt.date(2025, 6, 30),
            "X10",
        ),
        (
            "X10",
            "UBND xã mới",
            "New commune",
            "commune",
            "commune",
            None,
            True,
            dt.date(2025, 7, 1),
            None,
            None,
        ),
    ]
    return pd.DataFrame(rows, columns=schemas.AGENCIES.names)


def test_frameworks_follow_the_registry_and_the_quarter():
    reg = _registry()
    assert [f.id for f in provincial_frameworks("2025-Q2", reg)] == [
        "dti_commune_2024", "dti_department", "dti_district", "qd766"]
    assert [f.id for f in provincial_frameworks("2025-Q3", reg)] == ["dti_department", "dx_commune", "qd766"]


def _kpis():
    return pd.DataFrame({"quarter": "2025-Q3", "agency_code": ["SYT", "X10", "X10"],
                         "kpi_code": ["on_time_rate", "on_time_rate", "online_dossier_rate"],
                         "numerator": [9, 0, 1], "denominator": [10, 0, 2], "value": [0.9, None, 0.5],
                         "target": None, "target_met": None, "source": "portal", "flags": None})


def test_score_quarter_stacks_frameworks():
    kpis = _kpis()
    prev_rank = pd.DataFrame({"framework_id": ["qd766"], "agency_code": ["SYT"], "rank": [3]})
    out = score_quarter("2025-Q3", kpis, _registry().assign(quarter="2025-Q3"), previous_ranking=prev_rank)
    assert [f.id for f in out.frameworks] == ["dti_department", "dx_commune", "qd766"]
    assert set(out.ranking.framework_id) == {"dti_department", "dx_commune", "qd766"}
    assert not out.scores.duplicated(["framework_id", "agency_code", "node_id"]).any()
    q = out.ranking.set_index(["framework_id", "agency_code"])
    assert q.loc[("qd766", "SYT"), "previous_rank"] == 3 and q.loc[("qd766", "SYT"), "rank_change"] == 2
    assert "H01" not in set(out.ranking.agency_code)  # abolished before 2025-Q3
    assert list(kpi_long(kpis).columns) == ["agency_code", "kpi_code", "value", "numerator", "denominator"]


def test_ranking_the_stored_scores_gives_the_engines_ranking():
    """The publication ranks index_scores as stored; that must be the ranking the engine
    gives when it scores, movement included."""
    kpis = _kpis()
    registry = _registry().assign(quarter="2025-Q3")
    prev_rank = pd.DataFrame({"framework_id": ["qd766"], "agency_code": ["SYT"], "rank": [3]})
    out = score_quarter("2025-Q3", kpis, registry, previous_ranking=prev_rank)
    ranked = rank_scored(out.frameworks, out.scores, registry, "2025-Q3", previous_ranking=prev_rank)
    pd.testing.assert_frame_equal(ranked, out.ranking)
    with pytest.raises(ValueError, match="do not cover"):
        rank_scored(out.frameworks, out.scores[out.scores.agency_code != "SYT"], registry, "2025-Q3")


def test_same_points_sees_a_changed_point_a_missing_row_and_ignores_row_order():
    import pandas as pd

    from dx_pipeline.index.quarter_scoring import same_points

    scores = pd.DataFrame({
        "framework_id": ["qd766"] * 3, "agency_code": ["A", "A", "B"],
        "node_id": ["TOTAL", "TDGQ", "TOTAL"], "points": [80.0, 20.0, 75.5],
    })
    assert same_points(scores, scores.iloc[::-1])
    changed = scores.assign(points=[80.0, 19.99, 75.5])
    assert not same_points(scores, changed)
    assert not same_points(scores, scores.iloc[:2])
