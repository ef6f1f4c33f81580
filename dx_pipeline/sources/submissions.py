"""Ingest one quarter of agency submissions: the inbox folder plus the reporting database.

Returns DataFrames and never writes the warehouse (the Dagster asset does that), so the same
function serves the asset, the CLI and the tests. Every version of every row is kept; the
effective one and lateness are flagged (``submission_versions``); every row that cannot be
read is in ``rejects`` with its reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from dx_pipeline.reference.catalogue import load_catalogue
from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.reference.schemas import SUBMISSION_REJECTS
from dx_pipeline.sources import grid_cache
from dx_pipeline.sources.inbox import file_stat
from dx_pipeline.sources.reporting_db import read_reporting_db
from dx_pipeline.sources.submission_readers import (
    list_inbox_files,
    read_submission_file,
)
from dx_pipeline.sources.submission_rows import REJECT_EXTRA_COLUMNS, RowRules
from dx_pipeline.sources.submission_versions import (
    DEFAULT_DEADLINE_DAYS,
    assign_versions,
)
from dx_pipeline.storage import DxHome

REJECT_COLUMNS = SUBMISSION_REJECTS.names + REJECT_EXTRA_COLUMNS
"""The ``submission_rejects`` contract, then file, sheet and row for the clerk."""


@dataclass
class SubmissionIngestResult:
    """``accepted``: agency_submissions columns (no quarter); ``rejects``: submission_rejects
    columns plus file/sheet/row; ``files``: (path, sha256, rows read) per inbox file."""

    quarter: Quarter
    accepted: pd.DataFrame
    rejects: pd.DataFrame
    files: list[tuple[Path, str, int]] = field(default_factory=list)
    db_rows: int = 0
    versions: list[tuple[str, str, tuple[int, int, int] | None]] = field(default_factory=list)
    """(path under the inbox, sha256, (size, mtime_ns, ctime_ns) just before the read) of each
    inbox file read: what the quarter's ledger records (``sources.inbox.record_taken_in``)."""


def _catalogue(catalogue: Mapping | None):
    if catalogue is not None:
        return catalogue

    return load_catalogue()


def rejects_frame(rows: list[dict]) -> pd.DataFrame:
    """Rejects in a stable column order and row order."""
    df = pd.DataFrame(rows, columns=REJECT_COLUMNS)
    df["submitted_at"] = pd.to_datetime(df["submitted_at"]).astype("datetime64[us]")
    df["row"] = df["row"].astype("Int64")
    for col in ("agency_code", "indicator_code", "value", "source_ref", "field", "reason",
                "source", "file", "sheet"):
        df[col] = df[col].astype(object).where(df[col].notna(), None)
    df = df.sort_values(["source", "file", "row", "source_ref"], kind="stable", na_position="first")
    return df.reset_index(drop=True)


def ingest_submissions(
    home: DxHome,
    quarter: Quarter | str,
    registry: pd.DataFrame,
    reporting_db_url: str | None = None,
    deadline_days: int = DEFAULT_DEADLINE_DAYS,
    catalogue: Mapping | None = None,
) -> SubmissionIngestResult:
    """Read ``home.inbox_for(quarter)`` (all files, recursively) and, if ``reporting_db_url``
    is given, the reporting database; version, flag and return everything, writing nothing."""
    q = quarter if isinstance(quarter, Quarter) else Quarter.parse(quarter)
    rules = RowRules(catalogue=_catalogue(catalogue), registry=registry, quarter=q)
    accepted: list[dict] = []
    rejects: list[dict] = []
    files: list[tuple[Path, str, int]] = []
    versions: list[tuple[str, str, tuple[int, int, int] | None]] = []
    folder = home.inbox_for(q)
    for path in list_inbox_files(folder):
        rel = path.relative_to(home.inbox).as_posix()
        stat = file_stat(path)  # before the read: a change during it shows as a newer ctime
        with grid_cache.using(home.root):  # workbooks read before are not parsed again
            read = read_submission_file(path, rules, relpath=rel, root=home.inbox)
        files.append((path, read.sha256, read.rows))
        versions.append((rel, read.sha256, stat))
        accepted.extend(read.accepted)
        rejects.extend(read.rejects)
    db_rows = 0
    if reporting_db_url:
        db = read_reporting_db(reporting_db_url, rules)
        accepted.extend(db.accepted)
        rejects.extend(db.rejects)
        db_rows = db.rows
    return SubmissionIngestResult(
        quarter=q,
        accepted=assign_versions(accepted, q, deadline_days),
        rejects=rejects_frame(rejects),
        files=files,
        db_rows=db_rows,
        versions=versions,
    )
