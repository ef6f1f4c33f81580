"""Indicators a framework declares not assessed: never scored, their points where the framework
says, and every agency told why."""

from __future__ import annotations

import copy

import pandas as pd
import pytest

from dx_pipeline.index import FrameworkError, explain, score
from dx_pipeline.index.loader import build_framework
from dx_pipeline.index.uncertainty import _top_pillar_of, rank_uncertainty

from .conftest import MINIMAL, reference_kpis

REASON = {"vi": "Không có nguồn số liệu", "en": "nothing reports it"}
DECLARED = "P2.1 (10 points) is not assessed: nothing reports it; its points go to P2.2 +10"


def _framework(declare: dict, node: str = "P2.1", **pillar_over):
    doc = copy.deepcopy(MINIMAL)
    for pillar in doc["pillars"]:
        pillar.update(pillar_over.get(pillar["id"], {}))
        for ind in pillar["indicators"]:
            if ind["id"] == node:
                ind["not_assessed"] = declare
    return build_framework(doc, "mini.yaml", reference_kpis())


def _data(rows):
    df = pd.DataFrame(rows, columns=["agency_code", "kpi_code", "value", "numerator", "denominator"])
    return df


ROWS = [
    ("A", "on_time_rate", 0.5, None, None), ("A", "online_dossier_rate", 0.5, None, None),
    ("A", "dx_plan_evidence", 1.0, None, None),  # reported, but the framework does not assess it
    ("A", "staff_digital_trained_rate", 0.5, None, None),
    ("B", "on_time_rate", None, 0.0, 0.0), ("B", "online_dossier_rate", 1.0, None, None),
    ("B", "staff_digital_trained_rate", 1.0, None, None),
]


def _rows(result, agency):
    return result.scores[result.scores.agency_code == agency].set_index("node_id")


def test_points_go_to_the_named_sibling_and_the_total_keeps_its_maximum():
    fw = _framework({"reason": REASON, "redistribute": {"P2.2": 10}})
    assert [n.id for n in fw.not_assessed()] == ["P2.1"] and fw.received_points() == {"P2.2": 10.0}
    r = score(fw, _data(ROWS))
    a = _rows(r, "A")
    assert a.loc["P2.1", ["points", "max_points"]].tolist() == [0.0, 0.0]
    assert a.loc["P2.1", "note"] == DECLARED
    assert a.loc["P2.2", ["points", "max_points"]].tolist() == [20.0, 40.0]  # 0.5 of 30 + 10
    assert "max 30 +10 from P2.1 (not assessed) = 40" in a.loc["P2.2", "note"]
    assert a.loc["total", ["points", "max_points"]].tolist() == [20.0 + 20.0 + 20.0, 100.0]
    # B's on-time rate has nothing to judge (policy full): still every point in place
    b = _rows(r, "B")
    assert b.loc["P2.2", ["points", "max_points"]].tolist() == [40.0, 40.0]
    assert b.loc["total", "points"] == 100.0


def test_proportional_redistribution_shares_among_the_assessed_siblings():
    fw = _framework({"reason": REASON, "redistribute": "proportional"}, node="P1.2")
    r = score(fw, _data(ROWS))
    a = _rows(r, "A")
    assert a.loc["P1.2", "max_points"] == 0 and a.loc["P1.1", "max_points"] == 60
    assert a.loc["P1.1", "points"] == 30.0
    assert a.loc["P1.2", "note"].endswith(
        "its points go to the other indicators of P1, in proportion to their points")


def test_a_sibling_not_applicable_to_one_unit_shares_the_received_points_too():
    doc_policy = {"policies": {"zero_denominator": "not_applicable", "missing": "zero"}}
    doc = copy.deepcopy(MINIMAL)
    doc.update(doc_policy)
    doc["pillars"][0]["indicators"][1]["not_assessed"] = {"reason": REASON, "redistribute": {"P1.1": 20}}
    doc["pillars"][0]["indicators"].append(
        {"id": "P1.3", "name": {"vi": "Số hóa", "en": "Digitised"}, "kpi": "dossier_digitised_rate",
         "max_points": 0.0001, "rule": "linear"})
    doc["pillars"][0]["max_points"] = 60.0001
    doc["total_points"] = 100.0001
    fw = build_framework(doc, "mini.yaml", reference_kpis())
    r = score(fw, _data(ROWS + [("B", "dossier_digitised_rate", 1.0, None, None)]))
    b = _rows(r, "B")  # B's on-time rate is 0/0, not applicable: P1's 60 go to P1.3
    assert b.loc["P1.1", "max_points"] == 0 and b.loc["P1.3", "max_points"] == pytest.approx(60.0001)
    assert "re-weighted" in b.loc["P1.3", "note"]


def test_explain_names_what_is_not_assessed_and_where_its_points_went():
    fw = _framework({"reason": REASON, "redistribute": {"P2.2": 10}})
    r = score(fw, _data(ROWS))
    text = explain(r.scores, r.ranking, "A", framework=fw)
    assert f"  not assessed: {DECLARED}" in text
    losses = text.split("Where points were lost")[1].split("By pillar:")[0]
    assert not [line for line in losses.splitlines() if line.strip().startswith("P2.1")]  # nothing lost there
    assert "+10 from P2.1 (not assessed) = 40" in losses  # P2.2's line says where its extra points came from


def test_sensitivity_weights_count_the_received_points():
    fw = _framework({"reason": REASON, "redistribute": {"P2.2": 10}})
    ids, weights, _, _ = _top_pillar_of(fw)
    assert dict(zip(ids, weights, strict=True))["P2.2"] == 40.0
    r = score(fw, _data(ROWS))
    unc = rank_uncertainty(fw, n=20, seed=1, result=r)
    assert set(unc["agency_code"]) == {"A", "B"}


@pytest.mark.parametrize("declare,node,pillars,problem", [
    ({"reason": REASON, "redistribute": {"P1.1": 10}}, "P2.1", {},
     "node P2.1: not_assessed: redistribute names P1.1, which are not assessed indicators of P2 (P2.2)"),
    ({"reason": REASON, "redistribute": {"P2.2": 7}}, "P2.1", {},
     "node P2.1: not_assessed: redistribute gives 7 points but the indicator has 10"),
    ({"reason": REASON, "redistribute": {"P2.2": 10}}, "P2.1", {"P2": {"aggregation": "arithmetic"}},
     "node P2.1: not_assessed: points can be given to named indicators only under a 'sum' pillar; "
     "P2 is aggregated by 'arithmetic' (use redistribute: proportional)"),
])
def test_a_redistribution_that_does_not_hold_is_refused(declare, node, pillars, problem):
    with pytest.raises(FrameworkError) as err:
        _framework(declare, node, **pillars)
    assert problem in err.value.problems


def test_every_indicator_of_a_pillar_not_assessed_is_refused():
    doc = copy.deepcopy(MINIMAL)
    for ind in doc["pillars"][1]["indicators"]:
        ind["not_assessed"] = {"reason": REASON, "redistribute": "proportional"}
    with pytest.raises(FrameworkError, match="every indicator of P2 is not assessed; nothing is left"):
        build_framework(doc, "mini.yaml", reference_kpis())
