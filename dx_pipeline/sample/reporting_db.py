"""The provincial reporting database (SQLite) holding some agencies' submissions.

Table and column names come from config/reporting_db.yaml (database column -> logical name),
created and filled through SQLAlchemy. Rates are stored 0..100 as that system does; yes/no as
1/0; the steering level as its credit (1 head, 0.5 deputy, 0 none).
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import sqlalchemy as sa
import yaml

from dx_pipeline.storage.atomic import atomic_path

DB_FILE = "sample/reporting.db"
LEVEL_CREDIT = {"Người đứng đầu": 1.0, "Cấp phó": 0.5, "Không": 0.0}


@lru_cache(maxsize=1)
def db_mapping() -> dict:
    """The packaged reporting-database mapping (``reporting_db.yaml``) as a dict."""
    text = resources.files("dx_pipeline.config").joinpath("reporting_db.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def _value(r: dict):
    v = r["value"]
    if isinstance(v, str):
        return LEVEL_CREDIT.get(v, 1.0 if v == "Có" else 0.0 if v == "Không" else None)
    return v


def write_reporting_db(out, rows: list[dict]) -> None:
    """Write the sample's reporting-database table at ``out`` with the given rows."""
    m = db_mapping()
    cols = m["columns"]  # database column -> logical name
    logical_to_db = {v: k for k, v in cols.items()}
    meta = sa.MetaData()
    types = {"report_id": sa.Integer, "numerator": sa.Float, "denominator": sa.Float, "value": sa.Float,
             "submitted_at": sa.DateTime}
    table = sa.Table(m["table"], meta, *[
        sa.Column(db_col, types.get(logical, sa.String), primary_key=(logical == "report_id"))
        for db_col, logical in cols.items()])
    rows = sorted(rows, key=lambda r: (r["submitted_at"], r["agency_code"], r["code"]))
    records = []
    for i, r in enumerate(rows, start=1):
        rec = dict(report_id=i, agency_code=r["agency_code"], quarter=r["quarter"], indicator_code=r["code"],
                   numerator=r["numerator"], denominator=r["denominator"],
                   value=None if (r["numerator"] is not None and i % 7 == 0) else _value(r),
                   unit=r["unit"], evidence_ref=r["evidence"], submitted_at=r["submitted_at"])
        records.append({logical_to_db[k]: v for k, v in rec.items() if k in logical_to_db})
    target = out.home.root / DB_FILE
    with atomic_path(target) as tmp:
        tmp.unlink()
        engine = sa.create_engine(f"sqlite:///{tmp}")
        try:
            meta.create_all(engine)
            with engine.begin() as con:
                if records:
                    con.execute(table.insert(), records)
        finally:
            engine.dispose()
    data = target.read_bytes()
    out.record(DB_FILE, data, len(records), "reporting_db", table=m["table"])
