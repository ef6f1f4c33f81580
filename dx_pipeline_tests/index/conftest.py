"""Shared fixtures: the KPI codes of the reference catalogue and small framework builders."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from dx_pipeline.index.builtins import resolve_framework
from dx_pipeline.index.input_checks import check_table, read_table
from dx_pipeline.reference.catalogue import load_catalogue

PUBLISHED = Path(__file__).resolve().parents[1] / "reference_tables"
"""Published tables copied into the test folder (see reference_tables/README.md for their sources)."""

# qd766 codes the KPI catalogue adds beyond reference/kpi_catalogue.md
EXTRA_QD766_KPIS = {
    "procedures_published_on_time_rate", "procedures_updated_on_time_rate",
    "procedures_full_content_rate", "dossier_synced_rate", "payment_transaction_procedure_rate",
    "fee_procedure_with_dossiers_rate", "personal_store_shared_rate",
    "population_connected_procedure_rate", "e_certified_copy_rate", "petition_on_time_rate",
    "petition_satisfaction_rate", "online_service_combined_rate",
}


def read_checked(path, framework) -> pd.DataFrame:
    """A long table file read the way ``dx-pipeline score`` reads it, every row accepted."""
    fw = resolve_framework(framework)
    checked = check_table(read_table(path), fw, Path(path).name, catalogue=load_catalogue())
    assert checked.rejects.empty, checked.rejects
    return checked.data


def reference_kpis() -> set[str]:
    text = (PUBLISHED / "kpi_catalogue.md").read_text(encoding="utf-8")
    codes = set(re.findall(r"^\| ([a-z][a-z0-9_]+) \|", text, flags=re.M))
    codes.discard("code")
    return codes | EXTRA_QD766_KPIS


@pytest.fixture(scope="session")
def known_kpis() -> set[str]:
    codes = reference_kpis()
    assert len(codes) == 49, sorted(codes)
    return codes


MINIMAL = {
    "id": "mini",
    "version": "1",
    "title": {"vi": "Bộ chỉ số thử", "en": "Test index"},
    "effective": {"from": "2024-01-01", "to": "2025-06-30"},
    "applies_to": {"levels": ["department"]},
    "total_points": 100,
    "provenance": {
        "documents": [{"id": "qd1", "kind": "decision", "number": "1/QĐ-UBND", "date": "2023-12-29",
                       "issuer": {"vi": "Ủy ban nhân dân tỉnh Mẫu", "en": "Sample People's Committee"},
                       "title": {"vi": "Bộ chỉ số thử", "en": "Test index"}}],
        "origin": {"name": "qd1", "points": "qd1", "rule": "qd1"},
        "bands": "qd1",
    },
    "rounding": {"decimals": 2, "mode": "half_up"},
    "policies": {"zero_denominator": "full", "missing": "zero"},
    "bands": [
        {"code": "tot", "name_vi": "Tốt", "name_en": "Good", "min_share": 0.8},
        {"code": "kha", "name_vi": "Khá", "name_en": "Fair", "min_share": 0.65},
        {"code": "tb", "name_vi": "Trung bình", "name_en": "Average", "min_share": 0.5},
        {"code": "yeu", "name_vi": "Yếu", "name_en": "Weak", "min_share": 0},
    ],
    "pillars": [
        {"id": "P1", "name": {"vi": "Trụ cột 1", "en": "Pillar 1"}, "max_points": 60, "indicators": [
            {"id": "P1.1", "name": {"vi": "Đúng hạn", "en": "On time"}, "kpi": "on_time_rate",
             "max_points": 40, "rule": "linear"},
            {"id": "P1.2", "name": {"vi": "Trực tuyến", "en": "Online"}, "kpi": "online_dossier_rate",
             "max_points": 20, "rule": "goalpost", "params": {"threshold": 0.5}},
        ]},
        {"id": "P2", "name": {"vi": "Trụ cột 2", "en": "Pillar 2"}, "max_points": 40, "indicators": [
            {"id": "P2.1", "name": {"vi": "Kế hoạch", "en": "Plan"}, "item": "dx_plan_evidence",
             "max_points": 10, "rule": "boolean"},
            {"id": "P2.2", "name": {"vi": "Đào tạo", "en": "Training"}, "kpi": "staff_digital_trained_rate",
             "max_points": 30, "rule": "linear"},
        ]},
    ],
}


@pytest.fixture
def mini_doc() -> dict:
    return copy.deepcopy(MINIMAL)


def write_yaml(path: Path, doc: dict) -> Path:
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path
