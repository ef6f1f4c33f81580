"""Hand-made dossiers and registries for the KPI tests."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow as pa
import pytest

from dx_pipeline.reference import schemas
from dx_pipeline.storage import DxHome, write_partition


def ts(text: str | None) -> dt.datetime | None:
    return None if text is None else dt.datetime.fromisoformat(text)


DEFAULTS = dict(
    agency_code="SO_A", procedure_code="P1", service_level="full", channel=1,
    status="finished", supplement_requests=0, supplement_days=0.0, fee_required=False,
    paid_online=False, input_digitized=False, result_digitized=False,
    reused_digitized_data=False, citizen_data_used=False, rating=None, source_file="test",
    statutory_days=None, fee_amount=0, payment_channel=0, synced_national=False, complaint=False,
    petition_received_at=None, petition_due_at=None, petition_answered_at=None,
)


def dossier_table(rows: list[dict], prefix: str = "D") -> pa.Table:
    """Contract rows from short dicts: dates as ISO text, everything else defaulted.

    Ids are ``<prefix><n>``: dossiers of different quarters need different prefixes, since a
    dossier id is unique across the whole portal (KPIs count each id once)."""
    full = []
    for i, r in enumerate(rows):
        rec = {**DEFAULTS, "dossier_id": f"{prefix}{i}", **r}
        for col in ("received_at", "due_at", "finished_at", "returned_at", "stopped_at", "updated_at",
                    "petition_received_at", "petition_due_at", "petition_answered_at"):
            rec[col] = ts(rec.get(col))
        full.append(rec)
    return pa.Table.from_pylist(full, schema=schemas.PORTAL_DOSSIERS.arrow_schema())


@pytest.fixture
def home(tmp_path) -> DxHome:
    return DxHome(tmp_path / "home").ensure()


@pytest.fixture
def write_dossiers(home):
    def _write(quarter: str, rows: list[dict]):
        return write_partition(home, "portal_dossiers", quarter, dossier_table(rows, prefix=f"{quarter}-D"))

    return _write


def registry(rows: list[tuple[str, str, str | None]]) -> pd.DataFrame:
    """(agency_code, level, parent_code) -> a minimal agencies frame."""
    return pd.DataFrame(rows, columns=["agency_code", "level", "parent_code"])
