"""The provincial reporting database as a second source of agency submissions.

Read through SQLAlchemy (any URL: SQLite for the sample province, PostgreSQL, SQL Server...)
with one parameterised query per quarter (``... where period = :period``), so a quarter label
can never be spliced into SQL. Table and column names come from ``config/reporting_db.yaml``;
a province whose system names them otherwise edits that mapping, not code. Rows then follow
exactly the inbox's rules (``submission_rows``), except that rates are on the 0..100 scale the
mapping declares, and the submission time is the row's own ``submitted_at``.

A database that cannot be reached, or lacks the table or a column, raises: a missing source
must fail the run loudly instead of producing a quarter with no submissions. A quarter without
a single row is one reject naming the table and the period the query asked for (usually the
period column is written otherwise), not a quiet "nobody reported".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from dx_pipeline.reference.config_files import need, read_mapping
from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.sources.duplicate_rows import DuplicateRows
from dx_pipeline.sources.submission_rows import (
    RawRow,
    RowRules,
    make_reject,
    normalise_row,
)
from dx_pipeline.storage.sql import engine_url

LOGICAL_FIELDS = (
    "report_id", "agency_code", "quarter", "indicator_code", "numerator", "denominator",
    "value", "unit", "evidence_ref", "submitted_at",
)

RATES_ARE_PERCENT = True
"""``reporting_db.yaml``: "value ... rates as 0..100 %"."""
CHUNK_ROWS = 10_000
"""Rows fetched from the database at a time (SQLAlchemy ``yield_per``: a server-side cursor on
PostgreSQL, SQLite's own stepping): each chunk is checked and normalised before the next is
fetched, so the table is never held whole (1M duplicate rows peaked at 2.3 GB read at once)."""


@dataclass(frozen=True)
class ReportingDbMapping:
    """``columns``: logical field (report_id, agency_code, quarter, ...) -> the database's
    column name. The YAML is written the other way round (database column: logical field), like
    every source mapping of the project."""

    table: str
    columns: dict[str, str]

    @property
    def schema_and_table(self) -> tuple[str | None, str]:
        if "." in self.table:
            schema, name = self.table.split(".", 1)
            return schema, name
        return None, self.table


def mapping_path() -> Path:
    """The packaged reporting database mapping (``dx_pipeline/config/reporting_db.yaml``)."""
    return Path(str(resources.files("dx_pipeline") / "config" / "reporting_db.yaml"))


@lru_cache(maxsize=4)
def load_mapping(path: str | None = None) -> ReportingDbMapping:
    """The packaged mapping (or the one at ``path``)."""
    p = Path(path) if path else mapping_path()
    doc = read_mapping(p)
    columns = {str(logical): str(db_col) for db_col, logical in need(doc, "columns", dict, p).items()}
    missing = sorted(set(LOGICAL_FIELDS) - set(columns))
    if missing:
        raise ValueError(f"{p}: columns must map a database column to each of {missing}")
    return ReportingDbMapping(table=need(doc, "table", str, p), columns=columns)


@dataclass
class DbRead:
    """What a read of the reporting database gave: accepted rows, rejects, rows read, source."""

    accepted: list[dict] = field(default_factory=list)
    rejects: list[dict] = field(default_factory=list)
    rows: int = 0
    source_label: str = ""


def quarter_query(mapping: ReportingDbMapping) -> sa.Select:
    """``select <mapped columns> from <table> where <quarter column> = :period order by <report_id>``."""
    schema, name = mapping.schema_and_table
    cols = mapping.columns
    tbl = sa.table(name, *[sa.column(c) for c in cols.values()], schema=schema)
    return (
        sa.select(*[tbl.c[c].label(logical) for logical, c in cols.items()])
        .where(tbl.c[cols["quarter"]] == sa.bindparam("period"))
        .order_by(tbl.c[cols["report_id"]])
    )


def make_engine(url: str) -> sa.Engine:
    """An engine for ``url``, with whichever PostgreSQL driver is installed."""
    return sa.create_engine(engine_url(url))


def _timestamp(value) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None) if value.tzinfo is None else value.astimezone().replace(tzinfo=None)
    ts = pd.Timestamp(str(value))
    if ts.tzinfo is not None:
        ts = ts.tz_convert(None)
    return ts.to_pydatetime()


def read_reporting_db(
    url: str | sa.Engine,
    rules: RowRules,
    mapping: ReportingDbMapping | None = None,
) -> DbRead:
    """Rows of ``rules.quarter`` from the reporting database, as accepted rows and rejects."""
    mapping = mapping or load_mapping()
    engine = url if isinstance(url, sa.Engine) else make_engine(url)
    shown = engine.url.render_as_string(hide_password=True)
    label = f"reporting_db:{mapping.table}"
    names = dict(mapping.columns)
    out = DbRead(source_label=label)
    db_rules = RowRules(
        catalogue=rules.catalogue,
        registry=rules.registry,
        quarter=rules.quarter,
        bare_is_percent=RATES_ARE_PERCENT,
        field_names=names,
        where_quarter_from="the quarter being read",
        validity=rules.validity,
    )
    duplicates = DuplicateRows("the reporting database at the same submission time")
    try:
        for rec in _quarter_records(engine, mapping, rules.quarter, shown):
            out.rows += 1
            raw, reject = _raw_row(rec, label, names)
            ok, bad = (None, reject) if reject is not None else normalise_row(raw, db_rules)
            if ok is not None:
                duplicates.add(ok)
            elif bad is not None:
                out.rejects.append(bad)
    finally:
        if not isinstance(url, sa.Engine):
            engine.dispose()
    if not out.rows:
        # an empty quarter is refused, not read as "nobody reported": the usual cause is a
        # period written otherwise than the query asks (e.g. "Q2/2025" for "2025-Q2")
        where = RawRow(source="reporting_db", source_ref=label, file=label)
        out.rejects.append(make_reject(
            where, field=names["quarter"], value=rules.quarter.label,
            reason=f"the reporting database {shown} has no rows for {rules.quarter.label} in table "
                   f"{mapping.table!r} (column {names['quarter']!r} must hold periods written "
                   f"{rules.quarter.label})"))
        return out
    keep, dups = duplicates.result()
    out.accepted = keep
    out.rejects.extend(dups)
    return out


def _quarter_records(
    engine: sa.Engine, mapping: ReportingDbMapping, quarter: Quarter, shown: str
) -> Iterator[sa.RowMapping]:
    """The table's rows of ``quarter`` by logical column name, fetched :data:`CHUNK_ROWS` at a
    time; a clear error naming the database (password hidden), table and columns when it cannot
    be read."""
    try:
        with engine.connect() as con:
            result = con.execution_options(yield_per=CHUNK_ROWS).execute(
                quarter_query(mapping), {"period": quarter.label})
            for chunk in result.mappings().partitions():
                yield from chunk
    except SQLAlchemyError as exc:
        raise ValueError(
            f"reporting database {shown}: cannot read table {mapping.table!r} with columns "
            f"{sorted(mapping.columns.values())}: {exc.__class__.__name__}: {str(exc).splitlines()[0]}"
        ) from exc


def _raw_row(rec: Mapping[Any, Any], label: str, names: Mapping[str, str]) -> tuple[RawRow, dict | None]:
    """One database row as a RawRow, with a reject when its submission time is empty or not
    a date and time (the row cannot be ordered among the versions then)."""
    rid = rec.get("report_id")
    raw = RawRow(
        source="reporting_db",
        source_ref=f"{label}#{names['report_id']}={rid}",
        agency_code=rec.get("agency_code"),
        quarter=rec.get("quarter"),
        indicator_code=rec.get("indicator_code"),
        numerator=rec.get("numerator"),
        denominator=rec.get("denominator"),
        value=rec.get("value"),
        evidence_ref=rec.get("evidence_ref"),
        row=int(rid) if isinstance(rid, int) else None,
    )
    try:
        raw.submitted_at = _timestamp(rec.get("submitted_at"))
    except (ValueError, TypeError):
        return raw, make_reject(
            raw, field=names["submitted_at"],
            reason=f"submission time {rec.get('submitted_at')!r} is not a date and time",
            value=str(rec.get("submitted_at")),
        )
    if raw.submitted_at is None:
        return raw, make_reject(
            raw, field=names["submitted_at"], reason="submission time is empty", value=None
        )
    raw.order = (raw.submitted_at, "", rid if isinstance(rid, int) else 0)
    return raw, None
