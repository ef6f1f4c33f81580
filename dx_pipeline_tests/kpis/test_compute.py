"""Roll-up as a ratio of sums, and the agency_kpis table with submissions and targets."""

import pandas as pd
import pytest

from dx_pipeline.kpis.compute import compute_agency_kpis
from dx_pipeline.reference import schemas

from .conftest import registry

REG = registry([
    ("TINH", "province", None),
    ("SO_A", "department", "TINH"),
    ("HUYEN", "district", "TINH"),
    ("XA", "commune", "HUYEN"),
])


def _dossiers(agency, n, online):
    return [
        dict(agency_code=agency, received_at="2025-03-01T08:00", due_at="2025-03-10T08:00",
             finished_at="2025-03-02T08:00", channel=2 if i < online else 1)
        for i in range(n)
    ]


def test_rollup_is_ratio_of_sums(home, write_dossiers):
    write_dossiers("2025-Q1", _dossiers("SO_A", 2, 1) + _dossiers("XA", 10, 1))
    k = compute_agency_kpis(home, "2025-Q1", REG)
    online = k[k.kpi_code == "online_dossier_rate"].set_index("agency_code")
    assert online.loc["SO_A", "value"] == 0.5
    assert online.loc["XA", "value"] == pytest.approx(0.1)
    assert online.loc["HUYEN", ["numerator", "denominator"]].tolist() == [1, 10]
    assert online.loc["TINH", ["numerator", "denominator"]].tolist() == [2, 12]
    assert online.loc["TINH", "value"] == pytest.approx(2 / 12)  # a mean of ratios would be 0.3
    assert online.loc["TINH", "source"] == "rollup" and "rollup" in online.loc["TINH", "flags"]
    assert online.loc["SO_A", "source"] == "portal"
    received = k[k.kpi_code == "dossiers_received"].set_index("agency_code")
    assert received.loc["TINH", "value"] == 12


def test_agency_kpis_with_submissions_and_targets(home, write_dossiers):
    write_dossiers("2025-Q1", _dossiers("SO_A", 4, 3))
    subs = pd.DataFrame([
        dict(agency_code="SO_A", indicator_code="work_records_online_rate", value=None, numerator=80.0,
             denominator=100.0, is_effective=True, is_late=True, version=2),
        dict(agency_code="SO_A", indicator_code="work_records_online_rate", value=0.99, numerator=None,
             denominator=None, is_effective=False, is_late=False, version=1),
        dict(agency_code="XA", indicator_code="work_records_online_rate", value=0.7, numerator=None,
             denominator=None, is_effective=True, is_late=False, version=1),
    ])
    k = compute_agency_kpis(home, "2025-Q1", REG, subs, plan="hai_duong_2024")
    assert list(k.columns) == schemas.AGENCY_KPIS.names
    assert not k.duplicated(["agency_code", "kpi_code"]).any()
    k = k.set_index(["agency_code", "kpi_code"])
    wr = k.loc[("SO_A", "work_records_online_rate")]
    assert wr["value"] == 0.8 and wr["source"] == "submission" and wr["flags"] == "late"
    assert wr["target"] == 0.85 and not wr["target_met"]  # 2024 department target carried into 2025
    xa = k.loc[("XA", "work_records_online_rate")]
    assert xa["target"] == 0.65 and xa["target_met"]
    online = k.loc[("SO_A", "online_dossier_rate")]
    assert online["value"] == 0.75 and online["target"] == 0.5 and online["target_met"]


def test_works_without_submissions_or_portal_data(home):
    k = compute_agency_kpis(home, "2025-Q1", REG, None)
    assert k.empty and list(k.columns) == schemas.AGENCY_KPIS.names
    k = compute_agency_kpis(home, "2025-Q1", REG, pd.DataFrame())
    assert k.empty


def test_lower_is_better_target(home, write_dossiers, tmp_path):
    from dx_pipeline.reference.targets import Plan, Target

    write_dossiers("2025-Q1", _dossiers("SO_A", 4, 0))
    plan = Plan("p", "", "", "", (Target("overdue_rate", 2025, "all", 0.1),))
    k = compute_agency_kpis(home, "2025-Q1", REG, plan=plan).set_index(["agency_code", "kpi_code"])
    assert k.loc[("SO_A", "overdue_rate"), "value"] == 0
    assert k.loc[("SO_A", "overdue_rate"), "target_met"]


def test_a_self_reported_rate_above_100_percent_is_not_scored_but_flagged():
    import datetime as dt

    from dx_pipeline.kpis.compute import submission_kpis
    from dx_pipeline.reference.catalogue import load_catalogue
    from dx_pipeline.reference.quarters import Quarter

    subs = pd.DataFrame([
        dict(agency_code="SO_A", indicator_code="staff_digital_trained_rate", value=1.12, numerator=None,
             denominator=None, is_effective=True, is_late=False, submitted_at=dt.datetime(2025, 4, 5)),
        dict(agency_code="SO_A", indicator_code="security_plan_rate", value=0.8, numerator=None,
             denominator=None, is_effective=True, is_late=False, submitted_at=dt.datetime(2025, 4, 5)),
    ])
    out = submission_kpis(subs, load_catalogue(), Quarter.parse("2025-Q1")).set_index("kpi_code")
    assert pd.isna(out.loc["staff_digital_trained_rate", "value"])
    assert out.loc["staff_digital_trained_rate", "flags"] == "invalid_rate_above_100pct=1.12"
    assert out.loc["security_plan_rate", "value"] == 0.8
