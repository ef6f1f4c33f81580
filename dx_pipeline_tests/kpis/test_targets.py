"""Plans as data: lookup by KPI, tier and year; validation against the catalogue."""

import pytest

from dx_pipeline.reference.targets import load_plan, load_plans, target_for


def test_hai_duong_is_active_with_tiered_targets():
    plans = load_plans()
    plan = plans.active
    assert plan.plan_id == "hai_duong_2024"
    assert target_for(plan, "work_records_online_rate", "department", 2024) == 0.85
    assert target_for(plan, "work_records_online_rate", "province", 2024) == 0.85
    assert target_for(plan, "work_records_online_rate", "district", 2024) == 0.75
    assert target_for(plan, "work_records_online_rate", "commune", 2024) == 0.65
    assert target_for(plan, "payment_transaction_procedure_rate", "commune", 2024) == 0.60
    # carried into the next year, absent before the plan
    assert target_for(plan, "online_dossier_rate", "district", 2025) == 0.50
    assert target_for(plan, "online_dossier_rate", "district", 2023) is None
    assert target_for(plan, "ipv6_ready", "district", 2024) is None
    assert target_for(None, "online_dossier_rate", "district", 2024) is None


def test_ha_tinh_milestones_2025_and_2030():
    plan = load_plan("ha_tinh_2025_2030")
    assert target_for(plan, "work_records_online_rate", "district", 2025) == 0.80
    assert target_for(plan, "work_records_online_rate", "district", 2029) == 0.80
    assert target_for(plan, "work_records_online_rate", "district", 2030) == 0.95
    assert target_for(plan, "sme_dx_rate", "district", 2030) == 0.80
    assert plan.target_for("mobile_service_rate", "commune", 2025) == 0.80


def test_every_reference_plan_is_loaded():
    plans = load_plans()
    assert set(plans.plans) >= {
        "hai_duong_2024", "ha_tinh_2025_2030", "khanh_hoa_2022", "dong_nai_2019_2020", "dong_nai_2024",
    }
    assert target_for(plans["dong_nai_2024"], "online_dossier_rate", "department", 2024) == 0.80


@pytest.mark.parametrize(
    "target_line, message",
    [
        ("{kpi: no_such_kpi, year: 2024, level: all, target: 0.5}", "no_such_kpi"),
        ("{kpi: on_time_rate, year: 2024, level: all, target: 85}", "fractions 0..1"),
        ("{kpi: on_time_rate, year: 2024, level: ward, target: 0.5}", "level 'ward'"),
        # an unquoted comma splits a flow mapping: the rest of the note must not vanish silently
        ("{kpi: on_time_rate, year: 2024, level: all, target: 0.5, note: a, b}", "unknown field"),
    ],
)
def test_bad_targets_are_refused_with_the_plan_and_line(tmp_path, target_line, message):
    path = tmp_path / "plans.yaml"
    path.write_text(
        f"active_plan: p\nplans:\n  p:\n    targets:\n      - {target_line}\n", encoding="utf-8"
    )
    with pytest.raises(ValueError, match=message) as info:
        load_plans(path)
    assert "plan 'p'" in str(info.value) and "#1" in str(info.value)


def test_target_meanings_follow_the_plans_wording():
    """Procedures with online payment are not dossiers paid online; results digitised are
    electronic results; dossiers handled electronically are not dossiers submitted online;
    levels 1-2 are published information, not online services."""
    plans = load_plans()
    kpis = lambda pid: {t.kpi for t in plans[pid].targets}  # noqa: E731
    assert {"payment_transaction_procedure_rate", "electronic_result_rate"} <= kpis("hai_duong_2024")
    assert not {"online_payment_rate", "dossier_digitised_rate"} & kpis("hai_duong_2024")
    assert "dossier_handled_online_rate" in kpis("khanh_hoa_2022")
    assert "online_dossier_rate" not in kpis("khanh_hoa_2022")
    assert "procedures_full_content_rate" in kpis("dong_nai_2019_2020")
    assert "online_service_rate" not in kpis("dong_nai_2019_2020")


def test_the_hai_duong_title_and_the_dong_nai_draft():
    plans = load_plans()
    hd = plans["hai_duong_2024"]
    assert hd.title_vi.startswith("Kế hoạch ứng dụng công nghệ thông tin, chuyển đổi số")
    assert "Chính quyền số" not in hd.title_vi and hd.status == "adopted"
    draft = plans["dong_nai_2019_2020"]
    assert draft.status == "draft" and "dự thảo" in draft.title_vi and "draft" in draft.title_en
    assert {p.status for pid, p in plans.plans.items() if pid != "dong_nai_2019_2020"} == {"adopted"}


def test_province_wide_targets_are_not_held_against_each_agency():
    plans = load_plans()
    hd, dn = plans["hai_duong_2024"], plans["dong_nai_2019_2020"]
    shared_db = next(t for t in hd.targets if t.kpi == "shared_db_connected")
    assert shared_db.measure == "share_of_agencies" and shared_db.province_wide
    assert target_for(hd, "shared_db_connected", "department", 2024) is None
    budget = next(t for t in dn.targets if t.kpi == "dx_budget_amount")
    assert budget.measure == "province_total" and budget.target == 150126
    assert target_for(dn, "dx_budget_amount", "department", 2020) is None
    warehouse = next(t for t in plans["dong_nai_2024"].targets if t.kpi == "shared_data_warehouse")
    assert warehouse.measure == "province_has"
    # a rate still binds each agency as well
    assert target_for(hd, "work_records_online_rate", "department", 2024) == 0.85


@pytest.mark.parametrize(
    "target_line, message",
    [
        ("{kpi: on_time_rate, year: 2024, level: all, target: 0.5, measure: average}", "measure 'average'"),
        ("{kpi: dx_budget_amount, year: 2024, level: all, target: 5, measure: ratio_of_sums}", "ratio KPI"),
        ("{kpi: shared_db_connected, year: 2024, level: all, target: 55}", "fractions 0..1"),
    ],
)
def test_bad_measures_are_refused(tmp_path, target_line, message):
    path = tmp_path / "plans.yaml"
    path.write_text(f"active_plan: p\nplans:\n  p:\n    targets:\n      - {target_line}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_plans(path)


def test_a_plan_status_other_than_adopted_or_draft_is_refused(tmp_path):
    path = tmp_path / "plans.yaml"
    path.write_text("active_plan: p\nplans:\n  p:\n    status: maybe\n    targets: []\n", encoding="utf-8")
    with pytest.raises(ValueError, match="status 'maybe'"):
        load_plans(path)
