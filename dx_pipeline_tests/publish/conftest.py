"""Small, realistic inputs for publishing: a province's departments and communes scored on a
1,000-point framework, as the index engine hands them over."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from dx_pipeline.index.appraised import unappraised
from dx_pipeline.reference.quarters import Period
from dx_pipeline.storage import DxHome

AGENCIES = [
    # code, name_vi, name_en, level, peer_group
    ("STC", "Sở Tài chính", "Department of Finance", "department", "so_nganh"),
    ("SYT", "Sở Y tế", "Department of Health", "department", "so_nganh"),
    ("SGDDT", "Sở Giáo dục và Đào tạo", "Department of Education and Training", "department", "so_nganh"),
    ("SXD", "Sở Xây dựng", "Department of Construction", "department", "so_nganh"),
    (
        "SNNMT",
        "Sở Nông nghiệp và Môi trường",
        "Department of Agriculture and Environment",
        "department",
        "so_nganh",
    ),
    ("XTANTHANH", "UBND xã Tân Thành", "Tan Thanh Commune People's Committee", "commune", "cap_xa"),
    ("XPHUOCLOC", "UBND xã Phước Lộc", "Phuoc Loc Commune People's Committee", "commune", "cap_xa"),
    ("XDAKROSA", "UBND xã Đắk Rơ Sa", "Dak Ro Sa Commune People's Committee", "commune", "cap_xa"),
]

PILLARS = [
    ("P1", "Hạ tầng số", "Digital infrastructure", 300.0),
    ("P2", "Chính quyền số", "Digital government", 450.0),
    ("P3", "Nhân lực số", "Digital workforce", 250.0),
]
INDICATORS = [
    # id, pillar, kpi, max, name_vi, name_en
    ("P1.1", "P1", "network_connected", 100.0, "Kết nối mạng chuyên dùng", "Dedicated network"),
    (
        "P1.2",
        "P1",
        "endpoint_protection_rate",
        200.0,
        "Thiết bị có phòng chống mã độc",
        "Endpoints with anti-malware",
    ),
    ("P2.1", "P2", "online_dossier_rate", 200.0, "Hồ sơ trực tuyến", "Online dossiers"),
    ("P2.2", "P2", "on_time_rate", 150.0, "Hồ sơ đúng hạn", "On-time dossiers"),
    ("P2.3", "P2", "work_records_online_rate", 100.0, "Hồ sơ công việc trên mạng", "Work records online"),
    (
        "P3.1",
        "P3",
        "staff_digital_trained_rate",
        250.0,
        "CBCCVC được bồi dưỡng kỹ năng số",
        "Officials trained",
    ),
]
TARGETS = {
    "endpoint_protection_rate": 0.9,
    "online_dossier_rate": 0.5,
    "on_time_rate": 0.95,
    "work_records_online_rate": 0.85,
    "staff_digital_trained_rate": 0.3,
}

FRAMEWORK = {
    "id": "dx_tinh_2025",
    "version": "2025.1",
    "sha256": "a" * 64,
    "title_vi": "Bộ chỉ số chuyển đổi số cấp tỉnh 2025",
    "title_en": "Provincial DX index 2025",
    "pillars": [{"id": p, "name_vi": vi, "name_en": en} for p, vi, en, _ in PILLARS],
    "indicators": [{"id": i, "name_vi": vi, "name_en": en} for i, _, _, _, vi, en in INDICATORS],
}


def registry() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "agency_code": [a[0] for a in AGENCIES],
            "name_vi": [a[1] for a in AGENCIES],
            "name_en": [a[2] for a in AGENCIES],
            "level": [a[3] for a in AGENCIES],
            "peer_group": [a[4] for a in AGENCIES],
            "parent_code": [None] * len(AGENCIES),
            "provides_public_services": [True] * len(AGENCIES),
            "valid_from": [dt.date(2020, 1, 1)] * len(AGENCIES),
            "valid_to": [None] * len(AGENCIES),
            "successor_code": [None] * len(AGENCIES),
        }
    )


def make_inputs(quarter: str = "2025-Q2", seed: int = 7, names: dict | None = None) -> dict:
    """Everything publish_ranking takes, for one quarter; ``seed`` changes the values."""
    rng = np.random.default_rng(seed)
    names = names or {}
    kpi_rows, score_rows = [], []
    totals = {}
    for code, *_ in AGENCIES:
        pillar_points = {p: 0.0 for p, *_ in PILLARS}
        for node, pillar, kpi, mx, _, _ in INDICATORS:
            if kpi == "network_connected":
                value = float(rng.random() > 0.2)
                num, den = value, np.nan
            else:
                den = float(rng.integers(50, 400))
                num = float(np.floor(den * rng.uniform(0.35, 1.0)))
                value = num / den
            pts = round(mx * min(1.0, value), 1)
            pillar_points[pillar] += pts
            target = TARGETS.get(kpi)
            kpi_rows.append(
                {
                    "agency_code": code,
                    "kpi_code": kpi,
                    "numerator": num,
                    "denominator": den,
                    "value": value,
                    "target": target,
                    "target_met": None if target is None else bool(value >= target),
                    "source": "portal" if kpi in ("online_dossier_rate", "on_time_rate") else "submission",
                    "flags": None,
                }
            )
            score_rows.append(
                {
                    "framework_id": FRAMEWORK["id"],
                    "framework_version": FRAMEWORK["version"],
                    "agency_code": code,
                    "node_id": node,
                    "parent_id": pillar,
                    "level": "indicator",
                    "kpi_code": kpi,
                    "input_value": value,
                    "rule": f"linear(max={mx:g})",
                    "points": pts,
                    "max_points": mx,
                    "note": None if pts == mx else f"thiếu {mx - pts:.1f} điểm",
                }
            )
        for pillar, _, _, mx in PILLARS:
            score_rows.append(
                {
                    "framework_id": FRAMEWORK["id"],
                    "framework_version": FRAMEWORK["version"],
                    "agency_code": code,
                    "node_id": pillar,
                    "parent_id": "total",
                    "level": "pillar",
                    "kpi_code": None,
                    "input_value": None,
                    "rule": "sum",
                    "points": round(pillar_points[pillar], 1),
                    "max_points": mx,
                    "note": None,
                }
            )
        totals[code] = round(sum(pillar_points.values()), 1)

    reg = registry()
    rows = []
    for pg, part in reg.groupby("peer_group", sort=True):
        ordered = sorted(part["agency_code"], key=lambda c: -totals[c])
        for i, code in enumerate(ordered):
            rank = i + 1
            prev = None if code == "XDAKROSA" else ((rank + 1) % len(ordered)) + 1
            share = totals[code] / 1000
            band = (
                "Tốt" if share >= 0.8 else "Khá" if share >= 0.65 else "Trung bình" if share >= 0.5 else "Yếu"
            )
            name = names.get(code, reg.set_index("agency_code").loc[code, "name_vi"])
            rows.append(
                {
                    "framework_id": FRAMEWORK["id"],
                    "peer_group": pg,
                    "agency_code": code,
                    "agency_name": name,
                    "total_points": totals[code],
                    "max_points": 1000.0,
                    "rank": rank if code != "SNNMT" else None,
                    "band": band,
                    "previous_rank": prev,
                    "rank_change": None if prev is None else prev - rank,
                }
            )
    ranking = pd.DataFrame(rows)
    for col in ("rank", "previous_rank", "rank_change"):
        ranking[col] = ranking[col].astype("Int64")
    uncertainty = pd.DataFrame(
        {
            "framework_id": FRAMEWORK["id"],
            "agency_code": ranking["agency_code"],
            "rank_p05": ranking["rank"].fillna(3).astype(float).clip(lower=1) - 0.0,
            "rank_median": ranking["rank"].fillna(3).astype(float),
            "rank_p95": ranking["rank"].fillna(3).astype(float) + 1.0,
        }
    )
    dq = pd.DataFrame(
        {
            "dataset": ["portal_dossiers", "portal_dossiers", "agency_submissions", "agency_kpis"],
            "check": ["dossier_id_unique", "received_before_finished", "value_in_range", "ratio_0_1"],
            "severity": ["ERROR", "WARN", "ERROR", "ERROR"],
            "passed": [True, False, True, True],
            "observed": ["0 duplicates", "3 rows", "0 rows", "0 rows"],
            "expected": ["0", "0", "0", "0"],
            "failing_rows": [0, 3, 0, 0],
        }
    )
    return {
        "quarter": quarter,
        "ranking": ranking,
        "index_scores": unappraised(pd.DataFrame(score_rows)),
        "kpis": pd.DataFrame(kpi_rows),
        "dq": dq,
        "uncertainty": uncertainty,
        "registry": reg,
        "frameworks": [FRAMEWORK],
        "inputs": [
            {"path": f"inbox/{quarter}/STC_baocao.xlsx", "sha256": "1" * 64, "rows": 24},
            {"path": f"portal_exports/{quarter}/hoso.csv", "sha256": "2" * 64, "rows": 5120},
        ],
        "trigger": "cli:test",
    }


def publish(home: DxHome, inputs: dict, **overrides):
    from dx_pipeline.publish.snapshot import PublicationInput, publish_ranking

    args = {"code_version": {"package": "0.1.0", "git_commit": "deadbeef"}, **inputs, **overrides}
    quarter, period = args.pop("quarter"), args.pop("period", None)
    return publish_ranking(home, PublicationInput(period=Period.parse(period or quarter), **args))


@pytest.fixture
def home(tmp_path) -> DxHome:
    return DxHome(tmp_path / "home").ensure()


@pytest.fixture
def inputs() -> dict:
    return make_inputs()
