"""dq_results: one row per check, dataset and quarter, as a Parquet table for BI.

One file per quarter (``warehouse/dq_results/quarter=YYYY-Qn/data.parquet``) holding the
latest run of every check of every dataset. ``severity`` is the one that applied (a failure
within the check's tolerance is WARN, beyond it ERROR; a passed check shows the severity it
would fail with) and ``expected`` ends with the tolerance and the rows it allowed. A run of
one dataset replaces that dataset's rows and keeps the others. Several check steps may finish
at once (multiprocess executor), so the read-merge-write is serialised with a file lock. Each
run's full outcomes (with the GX validation results and failing-row samples) are also kept as
JSON beside the HTML report, see
:mod:`dx_pipeline.quality.report`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
from collections.abc import Iterable, Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa

from dx_pipeline.quality.report import write_report
from dx_pipeline.quality.runner import CheckOutcome
from dx_pipeline.reference import schemas
from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.storage import DxHome, atomic_write_text, write_partition
from dx_pipeline.storage.home import WarehousePath, is_remote
from dx_pipeline.storage.parquet import partition_path, read_arrow

TABLE = "dq_results"
EXTRA_COLUMNS = ("description", "engine", "checked_at", "run_id")
"""Columns after the contract's: what the check means, who evaluated it, when, and which run."""


def lock_path(home: DxHome) -> Path:
    """The lock file of the read-merge-write: in the table's folder on a local (or NFS)
    warehouse, so every process sharing the folder is serialised; under ``DX_HOME/locks`` when
    the warehouse is in object storage, which has no locks (processes of one machine are
    serialised; see docs/scale_out.md for several machines)."""
    folder = home.table_dir(TABLE)
    if is_remote(folder):
        return home.root / "locks" / f"{TABLE}.lock"
    return folder / ".lock"


@contextlib.contextmanager
def _locked(home: DxHome) -> Iterator[None]:
    lock = lock_path(home)
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def outcomes_frame(outcomes: Iterable[CheckOutcome], checked_at: dt.datetime, run_id: str) -> pd.DataFrame:
    """Check outcomes as rows of the dq_results contract."""
    rows = [
        {
            "dataset": o.dataset, "check": o.check, "severity": o.severity, "passed": bool(o.passed),
            "observed": o.observed, "expected": o.expected, "failing_rows": int(o.failing_rows),
            "description": o.description, "engine": o.engine, "checked_at": checked_at, "run_id": run_id,
        }
        for o in outcomes
    ]
    columns = schemas.DQ_RESULTS.names + list(EXTRA_COLUMNS)
    return pd.DataFrame(rows, columns=columns)


def read_dq_results(home: DxHome, quarter: Quarter | str) -> pd.DataFrame:
    """The quarter's dq_results rows (empty frame with the columns if none yet)."""
    path = partition_path(home, TABLE, quarter)
    if not path.exists():
        return pd.DataFrame(columns=schemas.DQ_RESULTS.names + list(EXTRA_COLUMNS))
    return read_arrow(path).to_pandas()


def write_dq_results(
    home: DxHome,
    quarter: Quarter | str,
    outcomes: list[CheckOutcome],
    *,
    run_id: str | None = None,
    report: bool = True,
) -> WarehousePath:
    """Replace the rows of the outcomes' datasets in the quarter's dq_results, keep the rest,
    keep this run's full outcomes as JSON and refresh the quarter's HTML report.

    Returns the dq_results partition file.
    """
    q = quarter if isinstance(quarter, Quarter) else Quarter.parse(quarter)
    checked_at = dt.datetime.now().replace(microsecond=0)
    run_id = run_id or checked_at.strftime("%Y%m%dT%H%M%S")
    new = outcomes_frame(outcomes, checked_at, run_id)
    datasets = set(new["dataset"])
    with _locked(home):
        old = read_dq_results(home, q)
        kept = old[~old["dataset"].isin(datasets)]
        merged = pd.concat([kept, new], ignore_index=True) if len(kept) else new
        merged = merged.sort_values(["dataset", "check"], kind="stable").reset_index(drop=True)
        table = pa.Table.from_pandas(merged, preserve_index=False)
        path = write_partition(home, TABLE, q, table)
        folder = home.dq_reports_for(q)
        for dataset in sorted(datasets):
            payload = {
                "dataset": dataset,
                "quarter": q.label,
                "run_id": run_id,
                "checked_at": checked_at.isoformat(),
                "outcomes": [o.to_json_dict() for o in outcomes if o.dataset == dataset],
            }
            text = json.dumps(payload, ensure_ascii=False, indent=1)
            atomic_write_text(folder / "runs" / f"{run_id}_{dataset}.json", text)
            atomic_write_text(folder / f"{dataset}.json", text)
        if report:

            write_report(home, q)
    return path
