"""Scoring: policies, re-weighting, aggregation, ranking, bands, movement, rows and notes."""

from __future__ import annotations

import copy

import pandas as pd
import pytest

from dx_pipeline.index import score
from dx_pipeline.index.loader import build_framework
from dx_pipeline.reference import schemas
from dx_pipeline_tests.index.conftest import MINIMAL, reference_kpis


def fw_from(doc, known=None):
    return build_framework(copy.deepcopy(doc), "test.yaml", known or reference_kpis())


def long(rows):
    cols = ["agency_code", "kpi_code", "value", "numerator", "denominator"]
    return pd.DataFrame([r + (None,) * (5 - len(r)) for r in rows], columns=cols)


def registry(rows):
    return pd.DataFrame(rows, columns=["agency_code", "name_vi", "name_en", "level", "peer_group",
                                       "provides_public_services"])


FULL = [("A", "on_time_rate", 0.9), ("A", "online_dossier_rate", 0.6), ("A", "dx_plan_evidence", 1),
        ("A", "staff_digital_trained_rate", 0.5),
        ("B", "on_time_rate", 0.825), ("B", "online_dossier_rate", 0.3), ("B", "dx_plan_evidence", 0),
        ("B", "staff_digital_trained_rate", 1.0)]


def pts(result, agency, node):
    row = result.scores[(result.scores.agency_code == agency) & (result.scores.node_id == node)]
    assert len(row) == 1
    return row.iloc[0]


def test_points_rows_and_contract_columns():
    r = score(fw_from(MINIMAL), long(FULL))
    assert list(r.scores.columns) == [c for c in schemas.INDEX_SCORES.names]
    assert pts(r, "A", "P1.1").points == 36.0
    assert pts(r, "A", "P1.2").points == 20.0
    assert pts(r, "B", "P1.1").points == 33.0  # 0.825 × 40
    assert pts(r, "B", "P1.2").points == 12.0  # 0.3 / 0.5 × 20
    assert pts(r, "A", "total").points == 36 + 20 + 10 + 15
    assert pts(r, "A", "P1").parent_id == "total" and pts(r, "A", "P1.1").parent_id == "P1"
    # deterministic order: agency, then total, pillar, its indicators
    assert r.scores.node_id.tolist()[:4] == ["total", "P1", "P1.1", "P1.2"]
    assert r.scores.agency_code.is_monotonic_increasing
    schemas.conform("index_scores", __import__("pyarrow").Table.from_pandas(r.scores, preserve_index=False))
    assert "reaching 0.5 (50 %) would add +8.00 points" in pts(r, "B", "P1.2").note
    assert list(r.ranking.columns)[:10] == [c for c in schemas.RANKING_SNAPSHOT.names][:10]


def test_numerator_denominator_and_zero_denominator_policies():
    doc = copy.deepcopy(MINIMAL)
    data = long([("A", "on_time_rate", None, 3, 4), ("B", "on_time_rate", None, 0, 0)])
    r = score(fw_from(doc), data)
    assert pts(r, "A", "P1.1").input_value == 0.75 and pts(r, "A", "P1.1").points == 30
    assert pts(r, "B", "P1.1").points == 40 and "zero denominator (0/0)" in pts(r, "B", "P1.1").note
    doc["policies"]["zero_denominator"] = "zero"
    r = score(fw_from(doc), data)
    assert pts(r, "B", "P1.1").points == 0 and "policy zero" in pts(r, "B", "P1.1").note
    doc["policies"]["zero_denominator"] = "not_applicable"
    data = long([("B", "on_time_rate", None, 0, 0), ("B", "online_dossier_rate", 0.5),
                 ("B", "dx_plan_evidence", 1), ("B", "staff_digital_trained_rate", 1)])
    r = score(fw_from(doc), data)
    row = pts(r, "B", "P1.1")
    assert row.points == 0 and row.max_points == 0 and "not applicable" in row.note
    # P1.2's 20 points now carry the pillar's 60
    assert pts(r, "B", "P1.2").max_points == 60 and pts(r, "B", "P1.2").points == 60
    assert "re-weighted" in pts(r, "B", "P1.2").note
    assert pts(r, "B", "total").points == 100 and pts(r, "B", "total").max_points == 100


def test_missing_policies():
    doc = copy.deepcopy(MINIMAL)
    reg = registry([("A", "Sở A", "Dept A", "department", "g1", True),
                    ("B", "Sở B", "Dept B", "department", "g1", True),
                    ("C", "Sở C", "Dept C", "department", "g1", True)])
    data = long([("A", "on_time_rate", 0.5), ("B", "on_time_rate", 1.0), ("C", "on_time_rate", "n/a")])
    r = score(fw_from(doc), data, reg)
    assert pts(r, "C", "P1.1").points == 0
    assert "value 'n/a' is not a number: scored 0" in pts(r, "C", "P1.1").note
    assert "no data: scored 0" in pts(r, "C", "P1.2").note
    doc["policies"]["missing"] = "group_mean"
    r = score(fw_from(doc), data, reg)
    assert pts(r, "C", "P1.1").points == 30 and "peer-group mean 0.75" in pts(r, "C", "P1.1").note
    doc["policies"]["missing"] = "carry_forward"
    prev = long([("C", "on_time_rate", 0.6)])
    r = score(fw_from(doc), data, reg, prev)
    assert pts(r, "C", "P1.1").points == 24 and "carried forward" in pts(r, "C", "P1.1").note
    assert "no value to carry forward either" in pts(r, "C", "P1.2").note
    doc["policies"]["missing"] = "exclude"
    r = score(fw_from(doc), data, reg)
    assert pts(r, "C", "P1.1").max_points == 0 and "excluded" in pts(r, "C", "P1.1").note
    assert pts(r, "A", "P2").max_points == 0  # only P1.1 reported: its 40 → 100 points
    assert pts(r, "A", "P1.1").max_points == 100 and pts(r, "A", "P1.1").points == 50


def test_indicator_overrides_framework_policy():
    doc = copy.deepcopy(MINIMAL)
    doc["pillars"][1]["indicators"][0]["missing"] = "exclude"
    r = score(fw_from(doc), long([("A", "on_time_rate", 1)]))
    assert pts(r, "A", "P2.1").max_points == 0 and pts(r, "A", "P2.2").max_points == 40


def test_mean_aggregations():
    doc = copy.deepcopy(MINIMAL)
    doc["aggregation"] = {"total": "geometric", "pillar": "sum"}
    r = score(fw_from(doc), long(FULL))
    a = r.ranking.set_index("agency_code")
    # geometric mean of pillar shares, weighted by max points 60/40
    p1, p2 = 56 / 60, 25 / 40
    assert a.loc["A", "total_points"] == pytest.approx(round(100 * p1**0.6 * p2**0.4, 2))
    doc["aggregation"]["total"] = "harmonic"
    r = score(fw_from(doc), long(FULL))
    assert r.ranking.set_index("agency_code").loc["A", "total_points"] == pytest.approx(
        round(100 / (0.6 / p1 + 0.4 / p2), 2))
    # a zero share makes geometric and harmonic means zero
    r = score(fw_from(doc), long([("Z", "on_time_rate", 1)]))
    assert r.ranking.total_points.tolist() == [0.0]


def test_ranking_groups_ties_bands_unranked_and_movement():
    doc = copy.deepcopy(MINIMAL)
    doc["ranking"] = {"groups": "peer_group", "unranked": {"provides_public_services": False}}
    reg = registry([
        ("A", "Sở A", "A", "department", "g1", True), ("B", "Sở B", "B", "department", "g1", True),
        ("C", "Sở C", "C", "department", "g1", True), ("D", "Sở D", "D", "department", "g1", False),
        ("E", "Sở E", "E", "department", "g2", True), ("X", "Huyện X", "X", "district", "g1", True),
    ])
    data = long(
        [(a, "on_time_rate", v) for a, v in [("A", 1), ("B", 0.5), ("C", 1), ("D", 1), ("E", 0.1), ("X", 1)]]
    )
    prev = pd.DataFrame({"framework_id": ["mini"] * 3, "agency_code": ["A", "B", "C"], "rank": [3, 1, 2]})
    r = score(fw_from(doc), data, reg, previous_ranking=prev)
    rk = r.ranking.set_index("agency_code")
    assert "X" not in rk.index  # framework applies to departments only
    assert rk.loc["A", "rank"] == 1 and rk.loc["C", "rank"] == 1 and rk.loc["B", "rank"] == 3
    assert pd.isna(rk.loc["D", "rank"]) and rk.loc["D", "band"] == "Yếu"  # assessed, not ranked
    assert rk.loc["E", "rank"] == 1 and rk.loc["E", "peer_group"] == "g2"
    assert rk.loc["A", "rank_change"] == 2 and rk.loc["B", "rank_change"] == -2
    assert pd.isna(rk.loc["E", "previous_rank"])
    assert rk.loc["A", "agency_name"] == "Sở A"
    assert r.ranking.agency_code.tolist() == ["A", "C", "B", "D", "E"]


def test_bands_follow_share_of_max():
    doc = copy.deepcopy(MINIMAL)
    data = long(
        [
            ("A", "on_time_rate", 1),
            ("A", "online_dossier_rate", 1),
            ("A", "staff_digital_trained_rate", 1 / 3),
            ("B", "on_time_rate", 1),
            ("B", "online_dossier_rate", 0.25),
        ]
    )
    r = score(fw_from(doc), data).ranking.set_index("agency_code")
    assert r.loc["A", "total_points"] == 70 and r.loc["A", "band"] == "Khá"
    assert r.loc["B", "total_points"] == 50 and r.loc["B", "band"] == "Trung bình"


def test_bad_inputs_are_named():
    fw = fw_from(MINIMAL)
    with pytest.raises(ValueError, match="repeat an \\(agency_code, kpi_code\\) pair, e.g. A/on_time_rate"):
        score(fw, long([("A", "on_time_rate", 1), ("A", "on_time_rate", 0.5)]))
    with pytest.raises(ValueError, match="missing column"):
        score(fw, pd.DataFrame({"x": [1]}))
    data = long([("A", "on_time_rate", 1)])
    data["quarter"] = ["2024-Q1"]
    assert score(fw, data).ranking.total_points.tolist() == [40]


def test_unit_indicator_aliases_and_cap():
    doc = copy.deepcopy(MINIMAL)
    doc["pillars"][0]["indicators"][0]["params"] = {"cap": 30}
    r = score(fw_from(doc), pd.DataFrame({"unit": ["A"], "indicator": ["on_time_rate"], "value": [0.9]}))
    assert pts(r, "A", "P1.1").points == 30 and "capped at 30.00" in pts(r, "A", "P1.1").note
