"""The appraisal database: its tables, the triggers that make them append-only, and connections.

Six tables, each a log that only grows (SQLAlchemy Core, the same schema on SQLite and
PostgreSQL):

- ``state_transitions``: a period's result moving from one state to the next (who, when, why);
- ``imports``: an evaluator's workbook taken in (file name, SHA-256, rows applied);
- ``appeals``: an agency's appeal against a provisional result;
- ``adjustments``: an evaluator's verdict on one (period, framework, agency, indicator), from
  the command line, a workbook, or the decision on an appeal;
- ``appeal_decisions``: the evaluator's answer to an appeal (one per appeal);
- ``approvals``: the approving decision (number, date, authority) and what it approved.

The database refuses every UPDATE and DELETE (and on PostgreSQL TRUNCATE) with a trigger,
whoever connects: a correction is a new row, and the latest row of a key is the one in force.
Check constraints refuse a row without a reason or an actor, an unknown state or verdict, and
a verdict without the value or points it needs. Writers take a per-period lock (PostgreSQL
advisory lock; SQLite ``BEGIN IMMEDIATE``) so two evaluators cannot interleave a check of the
current state with the row that depends on it.

In production, grant the application's role only SELECT and INSERT on these tables (and USAGE
on their sequences): a superuser can still disable a trigger, a role without ownership cannot.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from dx_pipeline.index.appraised import VERDICTS
from dx_pipeline.storage.sql import engine_url

STATES = ("computed", "under_appraisal", "provisional", "appeal_window", "final", "published")
"""Every state a period's result can be in, in the order it normally passes through them."""
DECISIONS = ("accepted", "rejected")
"""What an evaluator can answer to an appeal."""
APPEND_ONLY = "is append-only: history is never updated or deleted (record a correction as a new row)"
_LOCK_NAMESPACE = 1919
"""First key of the PostgreSQL advisory locks taken by the appraisal database."""

metadata = sa.MetaData()
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _said(column: str) -> sa.CheckConstraint:
    """A text column that must say something (not empty, not only spaces)."""
    return sa.CheckConstraint(f"length(trim({column})) > 0", name=f"{column}_not_blank")


def _one_of(column: str, values: Sequence[str]) -> sa.CheckConstraint:
    listed = ", ".join(f"'{v}'" for v in values)
    return sa.CheckConstraint(f"{column} IN ({listed})", name=f"{column}_known")


def _key_columns() -> list[sa.Column]:
    """The (period, framework, agency, indicator) an adjustment or appeal is about."""
    return [
        sa.Column("period", sa.String(16), nullable=False),
        sa.Column("framework_id", sa.String(64), nullable=False),
        sa.Column("agency_code", sa.String(64), nullable=False),
        sa.Column("node_id", sa.String(64), nullable=False),
    ]


state_transitions = sa.Table(
    "state_transitions",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("period", sa.String(16), nullable=False, index=True),
    sa.Column("from_state", sa.String(20)),
    sa.Column("to_state", sa.String(20), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("reason", sa.Text(), nullable=False),
    sa.Column("recorded_at", sa.DateTime(), nullable=False),
    sa.Column("details", sa.JSON(), nullable=False),
    _one_of("to_state", STATES),
    _said("actor"),
    _said("reason"),
    sqlite_autoincrement=True,
)

imports = sa.Table(
    "imports",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("period", sa.String(16), nullable=False, index=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("file_name", sa.String(500), nullable=False),
    sa.Column("file_sha256", sa.String(64), nullable=False),
    sa.Column("rows_read", sa.Integer(), nullable=False),
    sa.Column("rows_applied", sa.Integer(), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("recorded_at", sa.DateTime(), nullable=False),
    _one_of("kind", ("appraisal", "appeals")),
    _said("actor"),
    sqlite_autoincrement=True,
)

appeals = sa.Table(
    "appeals",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    *_key_columns(),
    sa.Column("argument", sa.Text(), nullable=False),
    sa.Column("requested_value", sa.Float()),
    sa.Column("filed_by", sa.String(200), nullable=False),
    sa.Column("filed_at", sa.DateTime(), nullable=False),
    sa.Column("source", sa.String(500), nullable=False),
    sa.Column("import_id", _ID, sa.ForeignKey("imports.id")),
    _said("argument"),
    _said("filed_by"),
    sqlite_autoincrement=True,
)

adjustments = sa.Table(
    "adjustments",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    *_key_columns(),
    sa.Column("kpi_code", sa.String(64)),
    sa.Column("verdict", sa.String(20), nullable=False),
    sa.Column("adjusted_value", sa.Float()),
    sa.Column("adjusted_points", sa.Float()),
    sa.Column("reported_value", sa.Float()),
    sa.Column("reported_points", sa.Float()),
    sa.Column("reason", sa.Text(), nullable=False),
    sa.Column("evaluator", sa.String(200), nullable=False),
    sa.Column("recorded_at", sa.DateTime(), nullable=False),
    sa.Column("source", sa.String(500), nullable=False),
    sa.Column("late", sa.Boolean(), nullable=False),
    sa.Column("import_id", _ID, sa.ForeignKey("imports.id")),
    sa.Column("appeal_id", _ID, sa.ForeignKey("appeals.id")),
    _one_of("verdict", VERDICTS),
    sa.CheckConstraint(
        "(verdict = 'adjust_value') = (adjusted_value IS NOT NULL)", name="value_with_adjust_value"
    ),
    sa.CheckConstraint(
        "(verdict = 'adjust_points') = (adjusted_points IS NOT NULL)", name="points_with_adjust_points"
    ),
    sa.CheckConstraint("adjusted_points IS NULL OR adjusted_points >= 0", name="points_not_negative"),
    _said("reason"),
    _said("evaluator"),
    sa.Index("ix_adjustments_key", "period", "framework_id", "agency_code", "node_id"),
    sqlite_autoincrement=True,
)

appeal_decisions = sa.Table(
    "appeal_decisions",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("appeal_id", _ID, sa.ForeignKey("appeals.id"), nullable=False, unique=True),
    sa.Column("decision", sa.String(20), nullable=False),
    sa.Column("reason", sa.Text(), nullable=False),
    sa.Column("decided_by", sa.String(200), nullable=False),
    sa.Column("decided_at", sa.DateTime(), nullable=False),
    sa.Column("adjustment_id", _ID, sa.ForeignKey("adjustments.id")),
    _one_of("decision", DECISIONS),
    sa.CheckConstraint("decision = 'accepted' OR adjustment_id IS NULL", name="only_accepted_adjusts"),
    _said("reason"),
    _said("decided_by"),
    sqlite_autoincrement=True,
)

approvals = sa.Table(
    "approvals",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("period", sa.String(16), nullable=False, index=True),
    sa.Column("decision_number", sa.String(100), nullable=False),
    sa.Column("decision_date", sa.Date(), nullable=False),
    sa.Column("approved_by", sa.String(300), nullable=False),
    sa.Column("recorded_by", sa.String(200), nullable=False),
    sa.Column("recorded_at", sa.DateTime(), nullable=False),
    sa.Column("provisional_revision", sa.Integer(), nullable=False),
    sa.Column("scores_sha256", sa.String(64), nullable=False),
    sa.Column("last_adjustment_id", _ID),
    sa.Column("note", sa.Text()),
    _said("decision_number"),
    _said("approved_by"),
    _said("recorded_by"),
    sqlite_autoincrement=True,
)

TABLES = (state_transitions, imports, appeals, adjustments, appeal_decisions, approvals)
"""Every table of the appraisal database, in the order they are created."""


def default_url(root: Path) -> str:
    """The SQLite file under a DX_HOME: ``<root>/appraisal/appraisal.db``."""
    return f"sqlite:///{Path(root) / 'appraisal' / 'appraisal.db'}"


def _sqlite_triggers(table: str) -> list[str]:
    return [
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} {APPEND_ONLY}: {op} refused'); END"
        for op in ("UPDATE", "DELETE")
    ]


_PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION dx_appraisal_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% {APPEND_ONLY}: % refused', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$"""


def _postgres_triggers(table: str) -> list[str]:
    return [
        f"CREATE OR REPLACE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION dx_appraisal_append_only()",
        f"CREATE OR REPLACE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION dx_appraisal_append_only()",
    ]


def _make_engine(url: str) -> Engine:
    """An engine; on SQLite with foreign keys on and writers serialised by BEGIN IMMEDIATE."""
    parsed = engine_url(url)
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(parsed, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(parsed, connect_args={"timeout": 60})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):  # SQLAlchemy's recipe for real SQLite transactions
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


@dataclass(frozen=True)
class AppraisalDb:
    """An open appraisal database. ``begin(period)`` is a transaction holding that period's
    lock (use it for every check-then-write); ``read()`` a connection for queries."""

    engine: Engine

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def url(self) -> str:
        """The URL with any password hidden (safe to print and to record)."""
        return self.engine.url.render_as_string(hide_password=True)

    @contextlib.contextmanager
    def begin(self, period: str | None = None) -> Iterator[Connection]:
        """A transaction; with ``period``, serialised against every other writer of it."""
        with self.engine.begin() as conn:
            if period is not None and self.dialect == "postgresql":
                conn.execute(
                    sa.text("SELECT pg_advisory_xact_lock(:ns, hashtext(:period))"),
                    {"ns": _LOCK_NAMESPACE, "period": period},
                )
            yield conn

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for reading."""
        with self.engine.connect() as conn:
            yield conn

    def dispose(self) -> None:
        """Close the pooled connections."""
        self.engine.dispose()


def open_appraisal_db(url: str) -> AppraisalDb:
    """Open (and on first use create) the appraisal database at ``url``: its tables, and the
    triggers refusing UPDATE and DELETE. Safe to call from several processes at once."""
    db = AppraisalDb(_make_engine(url))
    with db.begin() as conn:
        if db.dialect == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:ns, 0)"), {"ns": _LOCK_NAMESPACE})
        metadata.create_all(conn, checkfirst=True)
        if db.dialect == "postgresql":
            conn.execute(sa.text(_PG_FUNCTION))  # text(): its '%' are not parameter markers
            statements = [s for t in TABLES for s in _postgres_triggers(t.name)]
        elif db.dialect == "sqlite":
            statements = [s for t in TABLES for s in _sqlite_triggers(t.name)]
        else:
            raise ValueError(
                "the appraisal database must be SQLite or PostgreSQL (the append-only triggers), "
                f"got {db.dialect}"
            )
        for statement in statements:
            conn.exec_driver_sql(statement)
    return db


def utc_now() -> dt.datetime:
    """The current time in UTC, naive, to the second: how every row's time is stored."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


def as_utc(when: dt.datetime | None) -> dt.datetime:
    """``when`` (aware or naive UTC; None for now) as naive UTC to the second."""
    if when is None:
        return utc_now()
    if when.tzinfo is not None:
        when = when.astimezone(dt.UTC).replace(tzinfo=None)
    return when.replace(microsecond=0)


def said(text: str | None, what: str) -> str:
    """``text`` without surrounding spaces; a ValueError when it says nothing (a reason, an
    actor, an argument is always required)."""
    cleaned = (text or "").strip()
    if not cleaned:
        raise ValueError(f"{what} is required")
    return cleaned


def insert(conn: Connection, table: sa.Table, row: Mapping[str, Any]) -> int:
    """Insert one row and return its id."""
    result = conn.execute(table.insert().values(**row))
    key = result.inserted_primary_key
    if key is None or key[0] is None:
        raise RuntimeError(f"{table.name}: the database returned no id for the new row")
    return int(key[0])


def rows_of(conn: Connection, table: sa.Table, period: str) -> list[dict[str, Any]]:
    """Every row of ``table`` about ``period``, oldest first (appeal decisions through their
    appeal)."""
    if "period" in table.c:
        query = sa.select(table).where(table.c.period == period)
    else:
        query = sa.select(table).join(appeals, appeals.c.id == table.c.appeal_id).where(
            appeals.c.period == period
        )
    return [dict(r) for r in conn.execute(query.order_by(table.c.id)).mappings()]


def audit_sha256(records: Mapping[str, Sequence[Mapping[str, Any]]]) -> str:
    """The SHA-256 of a period's audit trail (every row of every table, canonical JSON): what a
    signed printout and a published manifest quote, so either can be checked against the
    database later."""
    text = json.dumps(records, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
