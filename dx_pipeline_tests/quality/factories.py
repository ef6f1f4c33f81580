"""Small, valid partitions of every checked dataset; tests break one rule at a time."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from dx_pipeline.index.appraised import unappraised
from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.storage import DxHome, write_partition

Q = Quarter.parse("2025-Q2")
AGENCY_CODES = ["SO_TTTT", "SO_TC", "UBND_HX"]


def agencies() -> pd.DataFrame:
    return pd.DataFrame({
        "agency_code": AGENCY_CODES + ["SO_OLD"],
        "name_vi": ["Sở Thông tin", "Sở Tài chính", "UBND huyện X", "Sở cũ"],
        "name_en": ["Dept of Information", "Dept of Finance", "District X", "Old dept"],
        "level": ["department", "department", "district", "department"],
        "peer_group": ["department", "department", "district", "department"],
        "parent_code": ["TINH", "TINH", "TINH", "TINH"],
        "provides_public_services": [True, True, True, True],
        "valid_from": [dt.date(2020, 1, 1)] * 4,
        "valid_to": [None, None, None, dt.date(2024, 12, 31)],
        "successor_code": [None, None, None, "SO_TC"],
    })


def dossiers(n_per_agency: int = 30, prefix: str = "HS") -> pd.DataFrame:
    rows = []
    start = dt.datetime(2025, 4, 2, 8, 0)
    for code in AGENCY_CODES:
        for i in range(n_per_agency):
            received = start + dt.timedelta(hours=i)
            rows.append({
                "dossier_id": f"{prefix}-{code}-{i:04d}",
                "agency_code": code,
                "procedure_code": "1.001",
                "service_level": "full",
                "channel": 1 + i % 3,
                "received_at": received,
                "due_at": received + dt.timedelta(days=5),
                "finished_at": received + dt.timedelta(days=3) if i % 2 else None,
                "status": "finished" if i % 2 else "processing",
                "supplement_requests": 0,
                "supplement_days": 0.0,
                "fee_required": False,
                "paid_online": False,
                "input_digitized": True,
                "result_digitized": True,
                "reused_digitized_data": False,
                "citizen_data_used": True,
                "rating": 2,
                "source_file": "export.csv",
                "returned_at": None,
                "stopped_at": None,
                "statutory_days": 5.0,
                "fee_amount": 0,
                "payment_channel": 0,
                "synced_national": True,
                "complaint": False,
                "updated_at": received,
                "vneid_authenticated": i % 3 == 0,
                "personal_store_component": False,
                "personal_store_result": False,
                "certified_copy": False,
                "certified_copy_electronic": False,
                "inter_agency": False,
                "inter_agency_online": False,
                "petition_received_at": None,
                "petition_due_at": None,
                "petition_answered_at": None,
                "petition_rating": None,
            })
    df = pd.DataFrame(rows)
    for col in ("finished_at", "returned_at", "stopped_at", "petition_received_at", "petition_due_at",
                "petition_answered_at"):
        df[col] = pd.to_datetime(df[col])
    return df


def submissions() -> pd.DataFrame:
    rows = []
    for code in AGENCY_CODES:
        rows.append(dict(agency_code=code, indicator_code="work_records_online_rate", value=0.8, unit="ratio",
                         numerator=80.0, denominator=100.0, version=1))
        rows.append(dict(agency_code=code, indicator_code="it_staff_qualified", value=1.0, unit="bool",
                         numerator=None, denominator=None, version=1))
    df = pd.DataFrame(rows)
    df["evidence_ref"] = "CV 12/2025"
    df["submitted_at"] = pd.Timestamp("2025-07-05 09:00")
    df["source"] = "inbox"
    df["source_ref"] = "file.xlsx!Sheet1"
    df["is_effective"] = True
    df["is_late"] = False
    return df


def kpis() -> pd.DataFrame:
    rows = []
    for code in AGENCY_CODES:
        rows.append(dict(agency_code=code, kpi_code="online_dossier_rate", numerator=10.0, denominator=30.0,
                         value=10 / 30, target=0.8, target_met=False, source="portal", flags=None))
        rows.append(dict(agency_code=code, kpi_code="dossiers_received", numerator=30.0, denominator=None,
                         value=30.0, target=None, target_met=None, source="portal", flags=None))
    return pd.DataFrame(rows)


def index_scores() -> pd.DataFrame:
    rows = []
    for code in AGENCY_CODES:
        rows.append(
            dict(
                framework_id="dti",
                framework_version="1",
                agency_code=code,
                node_id="total",
                parent_id=None,
                level="total",
                kpi_code=None,
                input_value=None,
                rule="sum",
                points=50.0,
                max_points=100.0,
                note=None,
            )
        )
        rows.append(
            dict(
                framework_id="dti",
                framework_version="1",
                agency_code=code,
                node_id="p1.i1",
                parent_id="total",
                level="indicator",
                kpi_code="online_dossier_rate",
                input_value=0.33,
                rule="linear",
                points=50.0,
                max_points=100.0,
                note=None,
            )
        )
    return unappraised(pd.DataFrame(rows))


BUILDERS = {
    "agencies": agencies,
    "portal_dossiers": dossiers,
    "agency_submissions": submissions,
    "agency_kpis": kpis,
    "index_scores": index_scores,
}


def write_valid_quarter(home: DxHome, quarter: Quarter = Q) -> None:
    for table, build in BUILDERS.items():
        write_partition(home, table, quarter, build())
