"""The province against its plans: each target's province-level value computed the way the target
is worded, met or not, the trend, and the national rule for provinces merged in 2025.

Hand-made registry: province P absorbs province Q on 2025-07-01 (Q's department E1 passes to P's
D1); P's district H1 and its commune C1 end on 2025-06-30, C1 passes to the new commune C9."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from dx_pipeline.app.settings import Settings
from dx_pipeline.kpis.compute import compute_agency_kpis
from dx_pipeline.kpis.plan_scorecard import plan_scorecard, province_of
from dx_pipeline.kpis.rollup import own_figures
from dx_pipeline.reference import schemas
from dx_pipeline.reference.quarters import quarter_range
from dx_pipeline.reference.registry import load_registry
from dx_pipeline.reference.targets import Plan, PlanSet, Target, load_plans
from dx_pipeline.sample.generate import generate_sample
from dx_pipeline.sources.portal_files import ingest_portal_files
from dx_pipeline.sources.submissions import ingest_submissions
from dx_pipeline.storage.home import DxHome

D = dt.date
MERGER = D(2025, 7, 1)
END = MERGER - dt.timedelta(days=1)
START = D(2020, 1, 1)

REGISTRY = pd.DataFrame(
    [
        # code, level, parent, valid_from, valid_to, successor
        ("P", "province", None, START, None, None),
        ("Q", "province", None, START, END, "P"),
        ("D1", "department", "P", START, None, None),
        ("D2", "department", "P", START, None, None),
        ("D3", "department", "P", START, None, None),
        ("E1", "department", "Q", START, END, "D1"),
        ("H1", "district", "P", START, END, None),
        ("C1", "commune", "H1", START, END, "C9"),
        ("C9", "commune", "P", MERGER, None, None),
    ],
    columns=["agency_code", "level", "parent_code", "valid_from", "valid_to", "successor_code"],
)
REGISTRY["name_vi"] = REGISTRY["agency_code"].map({"P": "Tỉnh P", "Q": "Tỉnh Q"}).fillna("Đơn vị")


def kpi(quarter, agency, code, num=None, den=None, value=None, source="submission"):
    if value is None and num is not None and den:
        value = num / den
    return dict(quarter=quarter, agency_code=agency, kpi_code=code, numerator=num, denominator=den,
                value=value, target=None, target_met=None, source=source, flags=None)


def plans(*targets: Target, status="adopted") -> PlanSet:
    return PlanSet({"p": Plan("p", "Tỉnh P", "Kế hoạch", "Plan", tuple(targets), status)}, "p")


def row(table, kpi_code, level=None, province="P"):
    hit = table[(table["kpi_code"] == kpi_code) & (table["province_code"] == province)]
    if level is not None:
        hit = hit[hit["level"] == level]
    assert len(hit) == 1, hit
    return hit.iloc[0]


Q2 = [
    # P: work records, departments 80/100 and 40/50; district 30/60 (and a commune, not a department)
    kpi("2025-Q2", "D1", "work_records_online_rate", 80, 100),
    kpi("2025-Q2", "D2", "work_records_online_rate", 40, 50),
    kpi("2025-Q2", "H1", "work_records_online_rate", 30, 60),
    # the portal's rolled-up district row covers its commune: H1's own dossiers are 10 of 40
    kpi("2025-Q2", "H1", "online_dossier_rate", 30, 100, source="rollup"),
    kpi("2025-Q2", "C1", "online_dossier_rate", 20, 60, source="portal"),
    kpi("2025-Q2", "D1", "online_dossier_rate", 50, 100, source="portal"),
    kpi("2025-Q2", "P", "online_dossier_rate", 80, 200, source="rollup"),
    # shares, totals, has: D1 has a shared database, D2 has none, D3 did not report
    kpi("2025-Q2", "D1", "shared_db_connected", value=1.0),
    kpi("2025-Q2", "D2", "shared_db_connected", value=0.0),
    kpi("2025-Q2", "D1", "dx_budget_amount", value=100.0),
    kpi("2025-Q2", "H1", "dx_budget_amount", value=40.0),
    kpi("2025-Q2", "D2", "shared_data_warehouse", value=1.0),
    # Q: one department
    kpi("2025-Q2", "E1", "work_records_online_rate", 10, 100),
    kpi("2025-Q2", "E1", "shared_db_connected", value=1.0),
    kpi("2025-Q2", "E1", "dx_budget_amount", value=30.0),
    kpi("2025-Q2", "E1", "online_dossier_rate", 5, 50, source="portal"),
]
Q3 = [
    kpi("2025-Q3", "D1", "work_records_online_rate", 90, 100),
    kpi("2025-Q3", "D2", "work_records_online_rate", 45, 50),
    kpi("2025-Q3", "D1", "shared_db_connected", value=1.0),
    kpi("2025-Q3", "D2", "shared_db_connected", value=1.0),
    kpi("2025-Q3", "D1", "dx_budget_amount", value=120.0),
    kpi("2025-Q3", "C9", "online_dossier_rate", 30, 60, source="portal"),
    kpi("2025-Q3", "D1", "online_dossier_rate", 70, 140, source="portal"),
]
KPIS = pd.DataFrame(Q2 + Q3)

WORK = Target("work_records_online_rate", 2024, "province", 0.85)
WORK_DISTRICT = Target("work_records_online_rate", 2024, "district", 0.75)
ONLINE = {
    lvl: Target("online_dossier_rate", 2024, lvl, 0.4) for lvl in ("province", "district", "commune", "all")
}
SHARED_DB = Target("shared_db_connected", 2024, "province", 0.55, measure="share_of_agencies")
BUDGET = Target("dx_budget_amount", 2024, "province", 250.0, measure="province_total")
WAREHOUSE = Target("shared_data_warehouse", 2024, "province", 1.0, measure="province_has")
ALL = plans(WORK, WORK_DISTRICT, *ONLINE.values(), SHARED_DB, BUDGET, WAREHOUSE)


@pytest.fixture(scope="module")
def q2():
    return plan_scorecard(KPIS, REGISTRY, ALL, "2025-Q2")


def test_columns_are_the_contract(q2):
    assert list(q2.columns) == schemas.PLAN_SCORECARD.names
    assert not q2.duplicated(list(schemas.PLAN_SCORECARD.key)).any()


def test_before_the_merger_each_province_is_shown_as_it_was(q2):
    assert sorted(q2["province_code"].unique()) == ["P", "Q"]
    assert q2["predecessors"].isna().all()
    assert row(q2, "work_records_online_rate", "province", "Q")["value"] == pytest.approx(0.1)


def test_a_ratio_target_is_the_ratio_of_sums_over_the_tier(q2):
    r = row(q2, "work_records_online_rate", "province")
    # departments only (cấp tỉnh): (80 + 40) / (100 + 50), not the mean of 0.8 and 0.8, not H1's
    assert (r["numerator"], r["denominator"], r["value"]) == (120, 150, pytest.approx(0.8))
    assert r["status"] == "not_met" and not r["met"] and r["agencies"] == 3 and r["reported"] == 2
    assert row(q2, "work_records_online_rate", "district")["value"] == pytest.approx(0.5)


def test_a_tier_counts_each_agency_s_own_dossiers_once(q2):
    # H1's row is rolled up over C1: the district tier gets H1's own 10 of 40
    assert row(q2, "online_dossier_rate", "district")[["numerator", "denominator"]].tolist() == [10, 40]
    assert row(q2, "online_dossier_rate", "commune")[["numerator", "denominator"]].tolist() == [20, 60]
    assert row(q2, "online_dossier_rate", "province")[["numerator", "denominator"]].tolist() == [50, 100]
    # every tier together: the province's 200 dossiers, each counted once
    assert row(q2, "online_dossier_rate", "all")[["numerator", "denominator"]].tolist() == [80, 200]


def test_a_share_target_counts_departments_that_have_it_over_all_departments(q2):
    r = row(q2, "shared_db_connected", "province")
    # D1 yes, D2 no, D3 silent: 1 of 3, not D1's own 1.0 held against 55 %
    assert (r["numerator"], r["denominator"]) == (1, 3) and r["value"] == pytest.approx(1 / 3)
    assert r["status"] == "not_met" and "1 agencies did not report" in r["note"]


def test_a_total_is_the_province_sum_and_is_judged_on_the_year(q2):
    r = row(q2, "dx_budget_amount", "province")
    assert r["value"] == 140 and r["status"] == "year_figure" and pd.isna(r["met"])
    year = plan_scorecard(KPIS, REGISTRY, ALL, "2025")
    # the year after the merger: P's 100 + 40 + 120, plus Q's 30 (a total's predecessors add up)
    y = row(year, "dx_budget_amount", "province")
    assert y["value"] == 290 and y["status"] == "met" and y["predecessors"] == "P=260; Q=30"


def test_the_province_has_it_when_any_agency_reports_it(q2):
    r = row(q2, "shared_data_warehouse", "province")
    assert r["value"] == 1.0 and r["status"] == "met" and "D2" in r["note"]
    assert row(q2, "shared_data_warehouse", "province", "Q")["status"] == "no_data"


def test_after_the_merger_one_province_and_the_abolished_tier_has_no_units():
    q3 = plan_scorecard(KPIS, REGISTRY, ALL, "2025-Q3")
    assert set(q3["province_code"]) == {"P"}
    district = row(q3, "work_records_online_rate", "district")
    assert district["status"] == "no_agencies" and pd.isna(district["value"])
    assert "no district units in 2025-Q3" in district["note"]
    assert row(q3, "online_dossier_rate", "commune")["value"] == pytest.approx(0.5)


def test_a_year_spanning_the_merger_is_the_mean_of_the_predecessors_values():
    year = plan_scorecard(KPIS, REGISTRY, ALL, "2025")
    assert set(year["province_code"]) == {"P"}
    r = row(year, "work_records_online_rate", "province")
    p_value = (80 + 40 + 90 + 45) / (100 + 50 + 100 + 50)  # P's departments over the year
    q_value = 10 / 100  # Q's department until the merger
    assert r["value"] == pytest.approx((p_value + q_value) / 2)
    assert r["predecessors"] == "P=0.85; Q=0.1"
    assert pd.isna(r["numerator"]) and "national rule for merged provinces" in r["note"]
    share = row(year, "shared_db_connected", "province")
    # P: 2 of its 3 departments at the year's end; Q: its department at the merger
    assert share["value"] == pytest.approx((2 / 3 + 1.0) / 2)


def test_the_trend_restates_the_previous_period_over_the_predecessors(q2):
    q3 = plan_scorecard(KPIS, REGISTRY, ALL, "2025-Q3", previous=q2)
    r = row(q3, "work_records_online_rate", "province")
    assert r["value"] == pytest.approx(135 / 150)
    assert r["previous_value"] == pytest.approx((0.8 + 0.1) / 2)
    assert r["change"] == pytest.approx(135 / 150 - 0.45) and r["trend"] == "improving"
    assert "previous value restated" in r["note"]
    budget = row(q3, "dx_budget_amount", "province")
    assert budget["previous_value"] == 170 and budget["trend"] == "worsening"  # P 140 + Q 30
    assert plan_scorecard(KPIS, REGISTRY, ALL, "2025-Q3")["trend"].eq("no_previous").all()


def test_a_lower_is_better_kpi_improves_when_it_falls():
    target = Target("overdue_rate", 2024, "province", 0.05)
    rows = pd.DataFrame([kpi("2025-Q2", "D1", "overdue_rate", 10, 100, source="portal"),
                         kpi("2025-Q3", "D1", "overdue_rate", 4, 100, source="portal")])
    before = plan_scorecard(rows, REGISTRY, plans(target), "2025-Q2")
    after = row(plan_scorecard(rows, REGISTRY, plans(target), "2025-Q3", previous=before), "overdue_rate")
    assert after["trend"] == "improving" and after["status"] == "met"


def test_rates_without_their_parts(q2):
    target = Target("reporting_system_rate", 2024, "province", 0.9)
    only_values = pd.DataFrame([kpi("2025-Q2", "D1", "reporting_system_rate", value=1.0),
                                kpi("2025-Q2", "D2", "reporting_system_rate", value=0.5)])
    r = row(plan_scorecard(only_values, REGISTRY, plans(target), "2025-Q2"), "reporting_system_rate")
    assert r["value"] == pytest.approx(0.75) and "plain mean" in r["note"]
    mixed = pd.concat([only_values, pd.DataFrame([kpi("2025-Q2", "D3", "reporting_system_rate", 9, 10)])])
    r = row(plan_scorecard(mixed, REGISTRY, plans(target), "2025-Q2"), "reporting_system_rate")
    assert r["value"] == pytest.approx(0.9) and "2 agencies gave a rate without" in r["note"]


def test_targets_in_force_and_the_plan_status():
    later = Target("work_records_online_rate", 2030, "province", 1.0)
    table = plan_scorecard(KPIS, REGISTRY, plans(WORK, later, status="draft"), "2025-Q3")
    by_year = table.set_index("target_year")
    assert bool(by_year.loc[2024, "in_force"]) and not bool(by_year.loc[2030, "in_force"])
    assert by_year.loc[2030, "value"] == by_year.loc[2024, "value"]  # progress towards 2030, shown
    assert set(table["plan_status"]) == {"draft"}


def test_nothing_reported_is_no_data_not_zero():
    r = row(plan_scorecard(KPIS, REGISTRY, plans(Target("it_staff_trained_rate", 2024, "all", 1.0)),
                           "2025-Q2"), "it_staff_trained_rate")
    assert r["status"] == "no_data" and pd.isna(r["value"]) and pd.isna(r["met"])


def test_own_figures_take_the_children_out_of_a_rolled_up_row():
    own = own_figures(KPIS[KPIS["kpi_code"] == "online_dossier_rate"], REGISTRY).set_index(
        ["quarter", "agency_code"])
    assert own.loc[("2025-Q2", "H1"), ["numerator", "denominator"]].tolist() == [10, 40]
    assert own.loc[("2025-Q2", "H1"), "value"] == pytest.approx(0.25)
    # P's rolled-up row holds nothing of its own beyond H1 and D1: it is dropped
    assert ("2025-Q2", "P") not in own.index


def test_every_agency_belongs_to_its_province():
    province = province_of(REGISTRY)
    assert province["C1"] == "P" and province["E1"] == "Q" and province["C9"] == "P" and province["P"] == "P"


# ---------------------------------------------------------------------------- the sample province
@pytest.fixture(scope="module")
def sample_year(tmp_path_factory):
    """The sample province's 2025 - the year of the merger - through the real path: export
    files and inbox generated, ingested, KPIs computed per quarter."""
    home = DxHome(tmp_path_factory.mktemp("scorecard_home"))
    quarters = quarter_range("2025-Q1", "2025-Q4")
    generate_sample(home, seed=9, scale=0.01, quarters=quarters)
    registry = load_registry(home.registry_file)
    frames = []
    for q in quarters:
        ingest_portal_files(home, q)
        subs = ingest_submissions(home, q, registry, reporting_db_url=Settings(home).reporting_db())
        frames.append(compute_agency_kpis(home, q, registry, subs.accepted).assign(quarter=q.label))
    return registry, pd.concat(frames, ignore_index=True)


def test_the_sample_province_has_a_value_for_every_target_of_every_plan(sample_year):
    registry, kpis = sample_year
    plans = load_plans()
    year = plan_scorecard(kpis, registry, plans, "2025")
    assert set(year["province_code"]) == {"UBND-TINH"}  # the merged province
    assert len(year) == sum(len(p.targets) for p in plans.plans.values())
    missing = year.loc[year["value"].isna(), ["plan_id", "kpi_code", "level", "status"]]
    assert missing.empty, missing.to_string()
    assert year["predecessors"].str.fullmatch(r"UBND-PS=[^;]+; UBND-TINH=.+").all()
    assert year["status"].isin(["met", "not_met"]).all() and year["status"].eq("met").any()
    assert set(year.loc[year["plan_id"] == "dong_nai_2019_2020", "plan_status"]) == {"draft"}


def test_the_sample_quarters_around_the_merger(sample_year):
    registry, kpis = sample_year
    plans = load_plans()
    q2 = plan_scorecard(kpis, registry, plans, "2025-Q2")
    q3 = plan_scorecard(kpis, registry, plans, "2025-Q3", previous=q2)
    assert set(q2["province_code"]) == {"UBND-TINH", "UBND-PS"} and set(q3["province_code"]) == {"UBND-TINH"}
    gone = q3["level"].eq("district")
    assert q3.loc[gone, "status"].eq("no_agencies").all()  # the districts were abolished with the merger
    assert q3.loc[~gone & q3["value"].notna(), "trend"].ne("no_previous").all()
    # the merged province's previous value is the mean of both predecessors' 2025-Q2 values
    key = (q3["plan_id"] == "hai_duong_2024") & (q3["kpi_code"] == "online_dossier_rate")
    before = q2[(q2["plan_id"] == "hai_duong_2024") & (q2["kpi_code"] == "online_dossier_rate")]
    assert q3.loc[key, "previous_value"].iloc[0] == pytest.approx(before["value"].mean())
