"""Indicators told in plain words for the published site: every note the engine writes is read
back into Vietnamese and English (none left as the engine wrote it), every rule has its
sentence, values are said as a reader says them, and an evaluator's verdict keeps its reason."""

from __future__ import annotations

import copy
import json

import pandas as pd
import pytest

from dx_pipeline.index import score
from dx_pipeline.index.appraised import APPRAISAL_COLUMNS
from dx_pipeline.index.explain import (
    RULE_WORDS,
    IndicatorSpec,
    account,
    rule_words,
    value_words,
)
from dx_pipeline.index.rules import RULES
from dx_pipeline.reference.catalogue import load_catalogue
from dx_pipeline.reference.frameworks import Name
from dx_pipeline_tests.index.conftest import MINIMAL
from dx_pipeline_tests.index.test_engine import FULL, fw_from, long, registry

REG = registry([("A", "Sở A", "Dept A", "department", "g1", True),
                ("B", "Sở B", "Dept B", "department", "g1", True),
                ("C", "Sở C", "Dept C", "department", "g1", True)])


def accounts(fw, result) -> dict[tuple[str, str], object]:
    """Every indicator row's account, through the manifest record of its spec (as the site
    reads it); fails on any note fragment no pattern reads."""
    catalogue = load_catalogue()
    specs = {n.id: IndicatorSpec.from_record(json.loads(json.dumps(IndicatorSpec.of(n, catalogue).record())))
             for n in fw.indicators()}
    out = {}
    for row in result.scores[result.scores["level"] == "indicator"].to_dict("records"):
        a = account(specs[row["node_id"]], row)
        assert not a.unread, (row["agency_code"], row["node_id"], row["note"], a.unread)
        out[(row["agency_code"], row["node_id"])] = a
    return out


def vi(a) -> str:
    """Everything an agency reads about an indicator, in Vietnamese."""
    parts = [a.measured.vi, a.value.vi, a.rule.vi if a.rule else "", *(w.vi for w in a.why),
             a.to_gain.vi if a.to_gain else ""]
    return " | ".join(parts)


def test_values_points_rule_and_what_it_takes_in_plain_vietnamese():
    fw = fw_from(MINIMAL)
    got = accounts(fw, score(fw, long(FULL)))
    b_online = got[("B", "P1.2")]  # 30 % against a 50 % goalpost: 12 of 20 points
    assert b_online.value.vi == "30%" and (b_online.points, b_online.max_points) == (12.0, 20.0)
    assert b_online.rule.vi == "Đạt từ 50% trở lên được đủ 20 điểm; thấp hơn thì điểm giảm theo tỷ lệ."
    assert b_online.to_gain.vi == "Đạt 50% sẽ được thêm 8 điểm."
    assert b_online.to_gain.en == "Reaching 50% would add 8 points."
    assert b_online.measured.vi.startswith("Tỷ lệ hồ sơ trực tuyến (tỷ lệ phần trăm); nguồn: số liệu hồ sơ")
    a_plan, b_plan = got[("A", "P2.1")], got[("B", "P2.1")]  # yes/no, never 1,00 / 0,00
    assert (a_plan.value.vi, b_plan.value.vi) == ("Có", "Không")
    assert a_plan.full and a_plan.to_gain.vi == "Đã đạt điểm tối đa."
    assert b_plan.rule.vi == "Có: 10 điểm; không: 0 điểm."
    assert b_plan.to_gain.vi == "Đáp ứng yêu cầu của chỉ số sẽ được thêm 10 điểm."
    for a in got.values():
        text = vi(a)
        assert "linear" not in text and "goalpost" not in text and "boolean" not in text, text


@pytest.mark.parametrize("policy, expected", [
    ("full", "Kỳ này không có trường hợp nào để đánh giá (mẫu số bằng 0): được đủ điểm."),
    ("zero", "Kỳ này không có trường hợp nào để đánh giá (mẫu số bằng 0): không có điểm."),
    ("not_applicable", "Kỳ này không có trường hợp nào để đánh giá (mẫu số bằng 0): chỉ số không áp dụng, "
                       "điểm của nó được chia cho các chỉ số còn lại."),
])
def test_zero_denominators_are_explained(policy, expected):
    doc = copy.deepcopy(MINIMAL)
    doc["policies"]["zero_denominator"] = policy
    fw = fw_from(doc)
    data = long([("B", "on_time_rate", None, 0, 0), ("B", "online_dossier_rate", 0.5),
                 ("B", "dx_plan_evidence", 1), ("B", "staff_digital_trained_rate", 1)])
    got = accounts(fw, score(fw, data))
    assert [w.vi for w in got[("B", "P1.1")].why] == [expected]
    if policy == "not_applicable":  # the other indicator of the pillar carries its points
        assert got[("B", "P1.2")].why[0].vi == ("Điểm tối đa được điều chỉnh từ 20 điểm thành 60 điểm vì có "
                                                "chỉ số không áp dụng với đơn vị.")


@pytest.mark.parametrize("policy, node, expected", [
    ("zero", "P1.1", "Giá trị báo cáo 'n/a' không phải là số: không có điểm."),
    ("zero", "P1.2", "Không có số liệu: không có điểm."),
    ("group_mean", "P1.1", "Giá trị báo cáo 'n/a' không phải là số: dùng giá trị trung bình của nhóm (75%)."),
    ("carry_forward", "P1.1", "Giá trị báo cáo 'n/a' không phải là số: dùng giá trị quý trước (60%)."),
    ("carry_forward", "P1.2", "Không có số liệu: không có điểm."),
    ("exclude", "P1.1", "Giá trị báo cáo 'n/a' không phải là số: chỉ số không được tính, điểm của nó được "
                        "chia cho các chỉ số còn lại."),
])
def test_missing_values_are_explained(policy, node, expected):
    doc = copy.deepcopy(MINIMAL)
    doc["policies"]["missing"] = policy
    fw = fw_from(doc)
    data = long([("A", "on_time_rate", 0.5), ("B", "on_time_rate", 1.0), ("C", "on_time_rate", "n/a")])
    got = accounts(fw, score(fw, data, REG, long([("C", "on_time_rate", 0.6)])))
    assert expected in [w.vi for w in got[("C", node)].why]
    if policy == "zero":
        gain = got[("C", "P1.2")].to_gain.vi
        assert gain == "Báo cáo số liệu của chỉ số này có thể được thêm tối đa 20 điểm."


def test_caps_and_indicators_not_assessed_are_explained():
    doc = copy.deepcopy(MINIMAL)
    doc["pillars"][0]["indicators"][0]["params"] = {"cap": 30}
    reason = {"vi": "Biểu mẫu của cấp sở không hỏi chỉ số này",
              "en": "The department form never asked for it"}
    doc["pillars"][1]["indicators"][0]["not_assessed"] = {"reason": reason, "redistribute": {"P2.2": 10}}
    fw = fw_from(doc)
    got = accounts(fw, score(fw, long(FULL)))
    capped = got[("A", "P1.1")]
    assert "Điểm được giới hạn ở 30 điểm." in [w.vi for w in capped.why]
    assert capped.rule.vi.endswith("Không vượt quá 30 điểm.")
    na = got[("A", "P2.1")]
    assert not na.assessed and na.value.vi == "không đánh giá" and na.to_gain is None and na.rule is None
    assert [w.vi for w in na.why] == [reason["vi"]]
    assert got[("A", "P2.2")].why[0].vi == ("Điểm tối đa là 40 điểm, gồm cả 10 điểm của P2.1 "
                                            "(chỉ số không đánh giá).")


def test_relative_rules_name_the_best_result():
    doc = copy.deepcopy(MINIMAL)
    doc["pillars"][0]["indicators"][0].update(rule="minmax")
    fw = fw_from(doc)
    got = accounts(fw, score(fw, long(FULL + [("C", "on_time_rate", 0.7)]), REG))
    b = got[("B", "P1.1")]
    assert b.rule.vi.startswith("So sánh giữa các đơn vị: đơn vị có kết quả tốt nhất được đủ 40 điểm")
    assert b.to_gain.vi.startswith("Đạt 90% (kết quả tốt nhất hiện nay) sẽ được thêm")


def test_an_evaluators_verdict_is_told_with_its_reason_and_the_reported_figure():
    fw = fw_from(MINIMAL)
    reason = "Minh chứng chỉ có 5/10 hồ sơ; xem công văn 12/SKHCN (bản chụp)"  # '; ' and ')' inside
    verdicts = pd.DataFrame([
        {"framework_id": "mini", "agency_code": "A", "node_id": "P1.1", "verdict": "adjust_value",
         "value": 0.5, "points": None, "adjustment_id": 7, "reason": reason},
        {"framework_id": "mini", "agency_code": "B", "node_id": "P1.2", "verdict": "reject", "value": None,
         "points": None, "adjustment_id": 8, "reason": "Không có minh chứng"},
        {"framework_id": "mini", "agency_code": "A", "node_id": "P2.2", "verdict": "adjust_points",
         "value": None, "points": 12.0, "adjustment_id": 9, "reason": "Chấm lại"},
        {"framework_id": "mini", "agency_code": "A", "node_id": "P1.2", "verdict": "accept", "value": None,
         "points": None, "adjustment_id": 10, "reason": "Đúng"},
    ], columns=APPRAISAL_COLUMNS)
    got = accounts(fw, score(fw, long(FULL), appraisal=verdicts))
    adjusted = got[("A", "P1.1")]
    assert adjusted.why[0].vi == ("Thẩm định (hồ sơ số 7): điều chỉnh giá trị thành 50% "
                                  f"(đơn vị báo cáo: 90%). Lý do: {reason}")
    assert adjusted.value.vi == "50%" and adjusted.reported.vi == "90% (36 điểm)"
    assert adjusted.to_gain.vi == "Đạt 100% sẽ được thêm 20 điểm."  # read after the verdict
    assert got[("B", "P1.2")].why[0].vi.startswith("Thẩm định (hồ sơ số 8): không chấp nhận minh chứng")
    points_set = got[("A", "P2.2")].why[0].vi
    assert points_set == "Thẩm định (hồ sơ số 9): điều chỉnh điểm thành 12 điểm. Lý do: Chấm lại"
    assert got[("A", "P1.2")].why[0].vi.startswith("Thẩm định (hồ sơ số 10): chấp nhận giá trị")
    assert got[("B", "P1.1")].reported is None  # no verdict: nothing to set beside the value


def test_every_rule_has_its_sentence():
    assert set(RULE_WORDS) == set(RULES)
    params = {"goalpost": {"threshold": 0.8}, "distance_to_target": {"target": 0.9},
              "categorical": {"levels": {1.0: 1.0, 0.5: 0.5, 0.0: 0.0}}}
    for name in RULES:
        spec = IndicatorSpec(id="X.1", name=Name("Chỉ số", "Indicator"), measured=Name("Tỷ lệ", "Rate"),
                             source="submission", unit="ratio", rule=name, max_points=20,
                             params=params.get(name, {}))
        said = rule_words(spec)
        assert "20 điểm" in said.vi and "20 points" in said.en, name
        assert name not in said.vi, name


def test_values_are_said_as_a_reader_says_them():
    levels = {"head": 1.0, "deputy": 0.5, "none": 0.0}
    assert value_words(0.725, "ratio").vi == "72,5%" and value_words(0.725, "ratio").en == "72.5%"
    assert [value_words(v, "bool").vi for v in (1.0, 0.0)] == ["Có", "Không"]
    assert [value_words(v, "evidence").en for v in (1.0, 0.0)] == ["Yes", "No"]
    assert value_words(0.55, "bool").vi == "55%"  # a plan target: the share of agencies saying yes
    assert value_words(0.5, "level", levels).vi == "Cấp phó"
    assert value_words(1234.5, "amount").vi == "1.234,5 triệu đồng"
    assert value_words(3.5, "days").vi == "3,5 ngày"
    assert value_words(None, "ratio").vi == "không có số liệu"
    assert value_words(float("nan"), "count").en == "no value"
