"""Versions of agency submissions: every version kept, the latest effective, late ones flagged.

A resubmission supersedes the earlier one only for the indicators it covers: versions are
numbered per (agency, indicator), so an agency that resends just one corrected indicator keeps
its other indicators from the first file.

When a file was submitted (``submission_time``): the **report date written in the file**
(NgayBaoCao) wins, and the file's modification time only supplies the clock time when it falls
on that same day. Why: file times are reset whenever a clerk copies attachments out of e-mail
or a generator writes a whole inbox at once, so they would make every file "late" and order
resubmissions at random; the report date is what the agency signed. The mtime still breaks ties
between two files dated the same day. A file without a report date falls back to its mtime.
The reporting database carries its own ``submitted_at`` and uses it as is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import pandas as pd

from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.reference.schemas import AGENCY_SUBMISSIONS

DEFAULT_DEADLINE_DAYS = 15
"""Submissions are due this many days after the quarter's last day (inclusive)."""

ACCEPTED_COLUMNS = AGENCY_SUBMISSIONS.names
_SOURCE_ORDER = {"reporting_db": 0, "inbox": 1}


def submission_time(report_date: dt.date | None, arrived_at: dt.datetime | None) -> dt.datetime | None:
    """When a file counts as submitted (see the module docstring for why the report date wins)."""
    if report_date is None:
        return arrived_at
    if arrived_at is not None and arrived_at.date() == report_date:
        return arrived_at
    return dt.datetime.combine(report_date, dt.time())


def deadline(quarter: Quarter | str, deadline_days: int = DEFAULT_DEADLINE_DAYS) -> dt.date:
    """Last day a submission for ``quarter`` is on time."""
    q = quarter if isinstance(quarter, Quarter) else Quarter.parse(quarter)
    return q.last_day + dt.timedelta(days=deadline_days)


def is_late(
    submitted_at: dt.datetime | None,
    quarter: Quarter | str,
    deadline_days: int = DEFAULT_DEADLINE_DAYS,
) -> bool | None:
    """Whether a submission came after the quarter's deadline (None when its time is unknown)."""
    if submitted_at is None or pd.isna(submitted_at):
        return None
    return pd.Timestamp(submitted_at).date() > deadline(quarter, deadline_days)


def _sort_key(rec: dict) -> tuple:
    submitted = rec.get("submitted_at")
    ts = pd.Timestamp(submitted) if submitted is not None and not pd.isna(submitted) else pd.Timestamp.min
    return (
        ts,
        rec.get("_order") or (),
        _SOURCE_ORDER.get(str(rec.get("source")), 9),
        rec.get("source_ref") or "",
    )


def assign_versions(
    records: Iterable[dict],
    quarter: Quarter | str,
    deadline_days: int = DEFAULT_DEADLINE_DAYS,
) -> pd.DataFrame:
    """Accepted rows from every source -> ``agency_submissions`` columns (without quarter).

    Versions count per (agency, indicator) in submission order (time, then arrival, then
    source and reference, so the result is deterministic); the highest is effective.
    """
    rows = sorted(records, key=lambda r: (r["agency_code"], r["indicator_code"], _sort_key(r)))
    counter: dict[tuple[str, str], int] = {}
    for rec in rows:
        key = (rec["agency_code"], rec["indicator_code"])
        counter[key] = counter.get(key, 0) + 1
        rec["version"] = counter[key]
    out = []
    for rec in rows:
        key = (rec["agency_code"], rec["indicator_code"])
        clean = {c: rec.get(c) for c in ACCEPTED_COLUMNS}
        clean["is_effective"] = rec["version"] == counter[key]
        clean["is_late"] = is_late(rec.get("submitted_at"), quarter, deadline_days)
        out.append(clean)
    df = pd.DataFrame(out, columns=ACCEPTED_COLUMNS)
    return conform_accepted(df)


def conform_accepted(df: pd.DataFrame) -> pd.DataFrame:
    """Stable dtypes for the accepted table, also when it is empty."""
    df = df.copy()
    for col in ("agency_code", "indicator_code", "unit", "evidence_ref", "source", "source_ref"):
        df[col] = df[col].astype("str").where(df[col].notna(), None) if len(df) else df[col].astype(object)
    for col in ("value", "numerator", "denominator"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
    df["submitted_at"] = pd.to_datetime(df["submitted_at"]).astype("datetime64[us]")
    df["version"] = df["version"].astype("int32") if len(df) else df["version"].astype("int32")
    df["is_effective"] = df["is_effective"].astype(bool)
    df["is_late"] = df["is_late"].astype("boolean")
    return df.reset_index(drop=True)
