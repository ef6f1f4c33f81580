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
    assert target_for(plan, "online_payment_rate", "commune", 2024) == 0.60
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
