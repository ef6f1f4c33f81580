"""The built-in frameworks: load against the KPI catalogue, have the promised shape, are
effective-dated, and score a small hand-made province."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from dx_pipeline.index import builtin_paths, frameworks_for, load_builtin, score
from dx_pipeline.reference.catalogue import load_catalogue

SHAPES = {  # id: (pillars, indicators, total points)
    "dti_department": (10, 40, 1000),
    "dti_district": (8, 64, 1000),
    "dti_commune_2024": (6, 19, 1000),
    "dx_commune": (8, 30, 1000),
    "dti_department_2026": (2, 47, 1000),  # two groups holding the 8 main indices
    "dti_commune_2026": (2, 44, 1000),
    "qd766": (6, 19, 100),
    "egdi": (3, 3, 1),
}


def test_every_builtin_is_listed():
    assert set(builtin_paths()) == set(SHAPES)


@pytest.mark.parametrize("fid", sorted(SHAPES))
def test_builtin_loads_with_catalogue_kpis(fid, known_kpis):
    # the reference KPIs plus the packaged catalogue's self-reported framework inputs
    fw = load_builtin(fid, known_kpis | set(load_catalogue()))
    pillars, indicators, total = SHAPES[fid]
    assert (len(fw.pillars), len(fw.indicators()), fw.total_points) == (pillars, indicators, total)
    assert sum(p.max_points for p in fw.pillars) == total or fw.aggregation != "sum"
    assert {b.name_vi for b in fw.bands} >= ({"Tốt", "Khá", "Trung bình", "Yếu"} if fid != "egdi" else set())


def test_effective_dates_follow_the_reform():
    ids = lambda q, lvl: [f.id for f in frameworks_for(q, lvl)]  # noqa: E731
    assert ids("2025-Q2", "district") == ["dti_district", "qd766"]
    assert ids("2025-Q3", "district") == ["qd766"]
    assert ids("2025-Q2", "commune") == ["dti_commune_2024", "qd766"]
    assert ids("2025-Q3", "commune") == ["dx_commune", "qd766"]
    assert ids("2025-Q4", "department") == ["dti_department", "qd766"]
    assert ids("2025-Q4", "commune") == ["dx_commune", "qd766"]
    assert ids("2026-Q1", "department") == ["dti_department_2026", "qd766"]
    assert ids("2026-Q1", "commune") == ["dti_commune_2026", "qd766"]
    assert load_builtin("dx_commune").effective_from == dt.date(2025, 7, 1)


def _province():
    reg = pd.DataFrame([
        ("SYT", "Sở Y tế", "Department of Health", "department", "department", True),
        ("STC", "Sở Tài chính", "Department of Finance", "department", "department", True),
        ("BDT", "Ban Dân tộc", "Ethnic Affairs Board", "department", "department", False),
        ("H01", "UBND huyện A", "District A", "district", "district", True),
        ("H02", "UBND huyện B", "District B", "district", "district", True),
        ("X01", "UBND xã C", "Commune C", "commune", "H01", True),
        ("X02", "UBND xã D", "Commune D", "commune", "H01", True),
    ], columns=["agency_code", "name_vi", "name_en", "level", "peer_group", "provides_public_services"])
    return reg


def _long(frameworks, agencies, seed=1):
    rng = np.random.default_rng(seed)
    rows = []
    codes = sorted({n.input_code for fw in frameworks for n in fw.indicators()})
    for a in agencies:
        for c in codes:
            if rng.random() < 0.1:
                continue  # missing
            v = (
                float(rng.choice([0, 0.5, 1]))
                if c == "dx_steering_led_by_head"
                else round(float(rng.random()), 3)
            )
            if c in (
                "avg_processing_days",
                "digital_tech_enterprises_count",
                "security_incidents_unresolved",
            ):
                v = float(rng.integers(0, 40))
            rows.append((a, c, v))
    rows.append((agencies[0], "zero_case", None))
    df = pd.DataFrame(rows, columns=["agency_code", "kpi_code", "value"])
    df["numerator"], df["denominator"] = np.nan, np.nan
    df.loc[(df.agency_code == agencies[-1]) & (df.kpi_code == "on_time_rate"), ["value", "denominator"]] = [
        np.nan,
        0,
    ]
    return df


@pytest.mark.parametrize("fid,codes", [
    ("dti_department", ["SYT", "STC", "BDT"]),
    ("dti_district", ["H01", "H02"]),
    ("dti_commune_2024", ["X01", "X02"]),
    ("dx_commune", ["X01", "X02"]),
    ("qd766", ["SYT", "STC", "BDT", "H01", "H02", "X01", "X02"]),
])
def test_builtin_scores_a_small_province(fid, codes):
    fw = load_builtin(fid)
    reg = _province()
    r = score(fw, _long([fw], codes), reg, quarter="2025-Q2" if fid != "dx_commune" else "2025-Q3")
    expected = [c for c in codes if not (fid == "qd766" and c == "BDT")]  # qd766: public services only
    assert sorted(r.ranking.agency_code) == sorted(expected)
    tot = r.scores[r.scores.level == "total"].set_index("agency_code")
    assert ((tot.points >= 0) & (tot.points <= fw.total_points)).all()
    assert (tot.max_points == fw.total_points).all()
    ind = r.scores[r.scores.level == "indicator"]
    assert (ind.points <= ind.max_points + 1e-9).all()
    # sums hold: every pillar is the sum of its indicators, the total the sum of pillars
    for agency, rows in r.scores.groupby("agency_code"):
        pil = rows[rows.level == "pillar"]
        assert tot.loc[agency, "points"] == pytest.approx(pil.points.sum(), abs=1e-6)
        kids = rows[rows.level == "indicator"].groupby("parent_id").points.sum()
        assert np.allclose(pil.set_index("node_id").points.loc[kids.index], kids)
    assert r.ranking["rank"].notna().all()


def test_qd766_rules_as_the_portal_applies_them():
    """Spot checks of the rules; test_qd766_portal.py checks them against published figures."""
    fw = load_builtin("qd766")
    data = pd.DataFrame([
        ("A", "online_service_combined_rate", 0.5392), ("A", "dossier_satisfaction_rate", 0.9),
        ("A", "procedures_published_on_time_rate", 0.825), ("A", "digitised_reuse_rate", 0.4),
        ("B", "online_service_combined_rate", 1.0), ("B", "dossier_satisfaction_rate", 0.45),
    ], columns=["agency_code", "kpi_code", "value"])
    data["numerator"], data["denominator"] = np.nan, np.nan
    data.loc[len(data)] = ["B", "on_time_rate", np.nan, 0.0, 0.0]
    data.loc[len(data)] = ["B", "petition_on_time_rate", np.nan, 0.0, 0.0]
    r = score(fw, data).scores.set_index(["agency_code", "node_id"])
    assert r.loc[("A", "CLGQ.1"), "points"] == 6.47  # one combined ratio × 12, linear
    assert r.loc[("B", "CLGQ.1"), "points"] == 12
    assert r.loc[("A", "MDHL.1"), "points"] == 6  # at 90 %
    assert r.loc[("A", "CKMB.1"), "points"] == 4.95  # 0.825 × 6, half up to 2 decimals
    assert r.loc[("A", "MDSH.3"), "points"] == 1  # 0.4 / 0.8 × 2
    assert r.loc[("B", "MDHL.1"), "points"] == 3
    assert r.loc[("B", "TDGQ.1"), "points"] == 0  # dossiers at 0/0: 0, as the portal does
    assert "zero denominator (0/0): scored 0" in r.loc[("B", "TDGQ.1"), "note"]
    assert r.loc[("B", "MDHL.2"), "points"] == 6  # petitions at 0/0: full points, as the portal does
