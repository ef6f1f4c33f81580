"""framework diff: what changed between two versions, in words."""

from __future__ import annotations

import copy

from dx_pipeline.index import load_builtin
from dx_pipeline.index.framework_diff import framework_diff
from dx_pipeline.index.framework_document import framework_document
from dx_pipeline.index.loader import build_framework


def _indicator(doc: dict, node_id: str) -> dict:
    for pillar in doc["pillars"]:
        for ind in pillar.get("indicators", []):
            if ind["id"] == node_id:
                return ind
    raise KeyError(node_id)


def _next_version():
    old = load_builtin("dti_department")
    doc = copy.deepcopy(framework_document(old))
    doc["version"] = "2026.1"
    doc["effective"] = {"from": "2026-01-01", "to": None}
    _indicator(doc, "CQ.1")["max_points"] = 35
    _indicator(doc, "CQ.2")["max_points"] = 35
    cq = next(p for p in doc["pillars"] if p["id"] == "CQ")
    cq["indicators"] = [i for i in cq["indicators"] if i["id"] != "CQ.4"]
    cq["indicators"].append(
        {
            "id": "CQ.5",
            "name": {"vi": "Tỷ lệ hồ sơ trực tuyến", "en": "Online dossiers"},
            "kpi": "online_dossier_rate",
            "max_points": 25,
            "rule": "goalpost",
            "params": {"threshold": 0.5},
        }
    )
    _indicator(doc, "DV.2")["params"] = {"threshold": 0.9}
    _indicator(doc, "HL.4")["name"] = {"vi": "Hồ sơ đồng bộ Cổng DVCQG", "en": "Dossiers synced"}
    _indicator(doc, "CQ.3")["not_assessed"] = {
        "reason": {"vi": "Chưa có số liệu", "en": "no data yet"},
        "redistribute": {"CQ.1": 25},
    }
    _indicator(doc, "CQ.3")["origin"] = {"points": "dn3473"}
    doc["bands"][0]["min_share"] = 0.85
    return old, build_framework(doc, "dti_department_2026.yaml")


def test_diff_lists_points_moved_indicators_added_and_dropped_in_words():
    old, new = _next_version()
    lines = framework_diff(old, new)
    assert lines[0] == f"{old.label} → dti_department v2026.1"
    text = "\n".join(lines)
    sections = [line for line in lines if line and not line.startswith("  ")]
    assert sections == [
        lines[0],
        "Framework:",
        "Provenance:",
        "Added:",
        "Dropped:",
        "Points moved:",
        "Moved or renamed:",
        "Scoring changed:",
        "Not assessed:",
        "Bands:",
    ]
    assert "  effective.from: '2024-01-01' → '2026-01-01'" in text
    assert "  effective.to: '2025-12-31' → null" in text
    assert (
        "  + indicator CQ.5 Tỷ lệ hồ sơ trực tuyến (under CQ): 25 points, online_dossier_rate, "
        "goalpost {threshold: 0.5}"
    ) in text
    assert (
        "  − indicator CQ.4 Tỷ lệ giao dịch xác thực điện tử (under CQ): 25 points, e_authenticated_rate, "
        "linear" in text
    )
    assert "  indicator CQ.1 Tỷ lệ hồ sơ công việc xử lý trên môi trường mạng: 40 → 35 (-5)" in text
    assert "  indicator CQ.2 Tỷ lệ văn bản trao đổi dưới dạng điện tử: 30 → 35 (+5)" in text
    assert (
        "  HL.4: renamed “Tỷ lệ hồ sơ đồng bộ lên Cổng DVC quốc gia (Dossiers synchronised to the national "
        "portal)” → “Hồ sơ đồng bộ Cổng DVCQG (Dossiers synced)”" in text
    )
    assert "  DV.2 params: {threshold: 0.8} → {threshold: 0.9}" in text
    assert "  now CQ.3 (25 points) is not assessed: no data yet; its points go to CQ.1 +25" in text
    assert "  CQ.3 points taken from: illustration → dn3473" in text
    assert "  tot: Tốt from 0.8 → Tốt from 0.85" in text
    assert "total:" not in text  # the total did not change


def test_the_same_framework_has_no_differences_whatever_its_layout():
    fw = load_builtin("qd766")
    again = build_framework(copy.deepcopy(framework_document(fw)), "qd766.yaml")
    assert framework_diff(fw, again) == [f"{fw.label} → {fw.label}: no differences"]
