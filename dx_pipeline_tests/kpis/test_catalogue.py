"""The KPI catalogue covers the reference list and the qd766 codes, and rejects bad entries."""

import pytest

from dx_pipeline.reference.catalogue import load_catalogue

REFERENCE_CODES = {
    "portal": [
        "dossiers_received", "online_dossier_rate", "on_time_rate", "overdue_rate",
        "avg_processing_days", "online_payment_rate", "electronic_result_rate",
        "dossier_digitised_rate", "digitised_reuse_rate", "population_data_rate",
        "dossier_satisfaction_rate", "interagency_online_rate", "e_authenticated_rate",
    ],
    "procedure": [
        "full_online_service_rate", "online_service_rate", "mobile_service_rate",
        "portal_integrated_rate", "payment_integrated_rate",
    ],
    "submission": [
        "work_records_online_rate", "e_document_exchange_rate", "reporting_system_rate",
        "shared_db_connected", "digital_inspection_rate", "staff_digital_trained_rate",
        "it_staff_qualified", "it_staff_trained_rate", "security_plan_rate",
        "security_level_assigned_rate", "endpoint_protection_rate", "website_monitored",
        "network_connected", "ipv6_ready", "dx_plan_issued", "dx_steering_led_by_head",
        "dx_budget_share", "ehealth_record_rate", "sme_dx_rate",
    ],
}
QD766_CODES = [
    "procedures_published_on_time_rate", "procedures_updated_on_time_rate",
    "procedures_full_content_rate", "dossier_synced_rate", "payment_transaction_procedure_rate",
    "fee_procedure_with_dossiers_rate", "personal_store_shared_rate",
    "population_connected_procedure_rate", "e_certified_copy_rate", "petition_on_time_rate",
    "petition_satisfaction_rate",
]


def test_covers_every_reference_row_with_its_source():
    cat = load_catalogue()
    for source, codes in REFERENCE_CODES.items():
        for code in codes:
            assert code in cat, code
            assert cat[code].source == source, code
    for code in QD766_CODES:
        assert cat[code].source in ("portal", "procedure")


def test_entries_are_complete():
    cat = load_catalogue()
    for kpi in cat.values():
        assert kpi.name_vi and kpi.name_en and kpi.definition_en
        if kpi.aggregation == "ratio":
            assert kpi.numerator and kpi.denominator, kpi.code
    assert cat["overdue_rate"].direction == "lower"
    assert cat["avg_processing_days"].unit == "days"
    assert cat["dx_steering_led_by_head"].levels == {"head": 1.0, "deputy": 0.5, "none": 0.0}
    assert cat["overdue_rate"].meets(0.05, 0.1) is True
    assert cat["on_time_rate"].meets(0.05, 0.1) is False


@pytest.mark.parametrize(
    "body, message",
    [
        ("kpis:\n  x: {name_vi: a, name_en: b, source: web, unit: ratio, direction: higher, "
         "aggregation: ratio, definition_en: d}\n", "source 'web'"),
        ("kpis:\n  x: {name_vi: a, name_en: b, source: portal, unit: level, direction: higher, "
         "aggregation: latest, definition_en: d}\n", "needs 'levels'"),
        ("kpis:\n  x: {name_vi: a, source: portal, unit: ratio, direction: up, "
         "aggregation: ratio, definition_en: d}\n", "'name_en'"),
    ],
)
def test_bad_entries_name_file_kpi_and_field(tmp_path, body, message):
    path = tmp_path / "cat.yaml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ValueError, match=message) as info:
        load_catalogue(path)
    assert str(path) in str(info.value) and "'x'" in str(info.value)
