"""The 2026 department and commune frameworks: the national DTI 2025's structure (Decision
405/QĐ-BKHCN: a foundation group of five main indices and an activity group of three), marked
illustrative below the main indices, in force from 2026-01-01 when the 2025 ones end."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from dx_pipeline.index import load_builtin, score

IDS = ("dti_department_2026", "dti_commune_2026")
MAIN = {
    "NEN": {"NT": 100, "TC": 100, "HT": 100, "NL": 100, "AT": 100},
    "HD": {"CQ": 200, "KT": 150, "XH": 150},
}


@pytest.mark.parametrize("fid", IDS)
def test_structured_on_the_national_dti_2025(fid):
    fw = load_builtin(fid)
    assert {g.id: {m.id: m.max_points for m in g.children} for g in fw.pillars} == MAIN
    assert [g.name.en for g in fw.pillars] == ["Foundation group", "Activity group"]
    assert [m.name.vi for g in fw.pillars for m in g.children] == [
        "Nhận thức số", "Thể chế số", "Hạ tầng số", "Nhân lực số", "An toàn thông tin mạng",
        "Hoạt động chính quyền số", "Hoạt động kinh tế số", "Hoạt động xã hội số"]
    # main indices: names and points as Decision 922 gives them (405's points were not published)
    for main in (m for g in fw.pillars for m in g.children):
        assert (main.origin.name, main.origin.points) == ("dti922", "dti922"), main.id
    # every component is this project's illustration, and the framework says so
    assert all(n.origin.illustrated() == ("name", "points", "rule") for n in fw.indicators())
    statement = fw.provenance_statement().en
    n = len(fw.indicators())
    assert statement.startswith(f"Illustrative framework: the name, points or rule of {n} of {n} indicators")
    assert "not the text of Decision 405/QĐ-BKHCN of 03/04/2025" in statement
    assert fw.effective_from == dt.date(2026, 1, 1) and fw.effective_to is None


def test_the_2025_frameworks_end_when_the_2026_ones_begin():
    assert load_builtin("dti_department").effective_to == dt.date(2025, 12, 31)
    assert load_builtin("dx_commune").effective_to == dt.date(2025, 12, 31)


@pytest.mark.parametrize("fid,level", [("dti_department_2026", "department"),
                                       ("dti_commune_2026", "commune")])
def test_scores_add_up_through_both_groups(fid, level):
    fw = load_builtin(fid)
    codes = ["A", "B", "C"]
    reg = pd.DataFrame({"agency_code": codes, "name_vi": codes, "name_en": codes, "level": level,
                        "peer_group": level, "provides_public_services": True})
    rng = np.random.default_rng(3)
    steps = ("categorical", "half_credit", "boolean")
    rows = [(a, n.input_code, float(rng.choice([0.0, 0.5, 1.0]) if n.rule in steps else rng.random()))
            for a in codes for n in fw.indicators()]
    r = score(fw, pd.DataFrame(rows, columns=["agency_code", "kpi_code", "value"]), reg, quarter="2026-Q1")
    s = r.scores
    for agency, rows_ in s.groupby("agency_code"):
        by_parent = rows_[rows_.level != "total"].groupby("parent_id").points.sum()
        nodes = rows_.set_index("node_id").points
        for parent, total in by_parent.items():
            assert nodes[parent] == pytest.approx(total, abs=0.011), (agency, parent)
        assert 0 < nodes["total"] <= 1000
    assert r.ranking["rank"].notna().all() and len(r.ranking) == 3
