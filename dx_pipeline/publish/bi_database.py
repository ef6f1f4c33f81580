"""The DuckDB file for BI tools: views over the warehouse and every published revision.

``<DX_HOME>/bi/dx_pipeline.duckdb`` holds VIEWS over the Parquet files (nothing is copied),
so Superset, Metabase or the DuckDB CLI always read the current warehouse and every published
revision, plus small tables copied in (the data dictionary, the lookups of
:mod:`dx_pipeline.publish.lookups`).

Paths in the views are relative to DX_HOME (``warehouse/agency_kpis/*.parquet``), so the home
can be copied, moved or mounted elsewhere without rebuilding. DuckDB resolves a relative path
against ``file_search_path`` if set, else the working directory, never the database file's
folder, so a reader either opens the file from DX_HOME (``cd $DX_HOME && duckdb
bi/dx_pipeline.duckdb``) or sets ``file_search_path`` to the home
(:func:`open_bi_database`, ``SET file_search_path = '/srv/dx'`` as a BI tool's init SQL).
With the warehouse in object storage the table views name absolute ``s3://`` paths, so the
connection that queries them must see the bucket (``open_bi_database(path, home)``, or DuckDB's
``httpfs`` with an S3 secret); the published views stay relative.

BI conveniences: ``published_at`` (UTC) and the portal's times (Vietnam time) are
``TIMESTAMP WITH TIME ZONE``; every view with a ``quarter`` (``period``) column has
``quarter_start`` (``period_start``), a DATE for a time axis.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from dx_pipeline.publish.lookups import LOOKUP_DESCRIPTIONS, lookup_tables, write_lookups
from dx_pipeline.reference import schemas
from dx_pipeline.storage import DxHome, atomic_path, warehouse_duckdb
from dx_pipeline.storage.home import is_remote
from dx_pipeline.storage.parquet import PARTITION_FILE, sql_literal

_DUCK_TYPES = {
    pa.string(): "VARCHAR",
    pa.float64(): "DOUBLE",
    pa.int8(): "TINYINT",
    pa.int16(): "SMALLINT",
    pa.int32(): "INTEGER",
    pa.int64(): "BIGINT",
    pa.bool_(): "BOOLEAN",
    pa.date32(): "DATE",
    pa.timestamp("us"): "TIMESTAMP",
}

VIETNAM_TIME = "Asia/Ho_Chi_Minh"
TIME_ZONES = {
    "published_at": "UTC",
    **{name: VIETNAM_TIME for name in (
        "received_at", "due_at", "finished_at", "returned_at", "stopped_at", "updated_at",
        "petition_received_at", "petition_due_at", "petition_answered_at")},
}
"""Stored (naive) timestamp column -> the zone its wall-clock time is in; the views turn them
into TIMESTAMP WITH TIME ZONE. ``published_at`` is written in UTC, the portal's times are
Vietnam time as the portal shows them. ``submitted_at`` stays a plain TIMESTAMP (the
submission's local time as the file or the reporting database gave it)."""

PUBLISHED_VIEWS = (
    "published_ranking",
    "published_ranking_latest",
    "published_index_scores",
    "published_index_scores_latest",
    "published_period_ranking",
    "published_period_ranking_latest",
    "publications",
)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def period_start_sql(column: str) -> str:
    """SQL for the first day of a ``2025-Q2``, ``2025-H1`` or ``2025`` label in ``column``."""
    c = _ident(column)
    year = f"CAST(substr({c}, 1, 4) AS INTEGER)"
    part = f"CAST(substr({c}, 7, 1) AS INTEGER)"
    return (
        f"CASE WHEN {c} LIKE '%-Q%' THEN make_date({year}, 3 * {part} - 2, 1) "
        f"WHEN {c} LIKE '%-H%' THEN make_date({year}, 6 * {part} - 5, 1) "
        f"WHEN {c} IS NOT NULL THEN make_date({year}, 1, 1) END"
    )


def _duck_type(col: schemas.Column) -> str:
    if col.name in TIME_ZONES:
        return "TIMESTAMPTZ"
    return _DUCK_TYPES[col.type]


def _empty_view_sql(contract: schemas.Contract, extra: list[tuple[str, str]]) -> str:
    cols = [f"CAST(NULL AS {t}) AS {_ident(n)}" for n, t in extra]
    cols += [f"CAST(NULL AS {_duck_type(c)}) AS {_ident(c.name)}" for c in contract.columns]
    return f"SELECT {', '.join(cols)} WHERE false"


def _zoned(columns: list[str]) -> str:
    """``REPLACE (...)`` turning the stored naive times of ``columns`` into times with zone."""
    parts = [f"timezone('{TIME_ZONES[c]}', {_ident(c)}) AS {_ident(c)}" for c in columns if c in TIME_ZONES]
    return f" REPLACE ({', '.join(parts)})" if parts else ""


def default_bi_path(home: DxHome) -> Path:
    """Where the BI DuckDB file with the published views lives: ``DX_HOME/bi/dx_pipeline.duckdb``."""
    return home.root / "bi" / "dx_pipeline.duckdb"


def open_bi_database(path: str | os.PathLike, home: DxHome | None = None,
                     read_only: bool = True) -> duckdb.DuckDBPyConnection:
    """Open a BI database file wherever its DX_HOME now is: relative paths in its views are
    resolved against the home (the folder above the file's ``bi/`` folder), whatever the
    working directory. With a warehouse in object storage pass ``home``: the connection then
    also reads the bucket (:func:`dx_pipeline.storage.warehouse_duckdb`)."""
    file = Path(path).resolve()
    root = str(file.parent.parent)
    if home is None:
        return duckdb.connect(str(file), read_only=read_only, config={"file_search_path": root})
    con = warehouse_duckdb(home, str(file))
    con.execute(f"SET file_search_path = {sql_literal(root)}")
    return con


def build_bi_database(home: DxHome, path: str | os.PathLike | None = None) -> Path:
    """Create ``<home>/bi/dx_pipeline.duckdb`` with a view per warehouse table and publication.

    Views: one per table contract (``agencies``, ``agency_kpis``, ``ranking_snapshot``, ...)
    with ``quarter`` and ``quarter_start`` first; ``published_ranking`` /
    ``published_index_scores`` over every published revision (``quarter``, ``rev`` from the
    folder names) and their ``_latest`` variants; ``published_period_ranking`` for half-year
    and annual rankings; ``publications`` (one row per revision: period, revision,
    published_at, reason, trigger); tables ``data_dictionary`` (every contract column) and the
    ``lookup_*`` tables, also written as ``<home>/bi/lookups/*.parquet``. Local paths are
    relative to the home (see the module docstring for opening the file). A table with no
    Parquet file yet gets an empty view with the contract's columns, so dashboards bind; rerun
    after the first materialisation to point it at the files.
    """
    target = Path(path) if path else default_bi_path(home)
    target.parent.mkdir(parents=True, exist_ok=True)
    lookups = lookup_tables()
    write_lookups(home.root / "bi" / "lookups", lookups)
    with atomic_path(target, suffix=".duckdb") as tmp:
        tmp.unlink()  # DuckDB refuses to open an empty file as a database
        con = warehouse_duckdb(home, str(tmp))
        try:
            con.execute(f"SET file_search_path = {sql_literal(str(home.root))}")
            _create_views(con, home)
            _lookup_tables(con, lookups)
            con.execute("CHECKPOINT")
        finally:
            con.close()
    return target


def _source(home: DxHome, path) -> str:
    """A path as the views name it: relative to the home when local, the URL when remote."""
    if is_remote(path):
        return str(path)
    return Path(os.path.relpath(Path(path), home.root)).as_posix()


def _create_views(con, home: DxHome) -> None:
    """Every view and table of the BI database: the warehouse tables, the published
    revisions (each with a ``_latest`` view), the publications and the data dictionary."""
    _warehouse_views(con, home)
    _published_views(con, home)
    _publications_view(con, home)
    _data_dictionary_table(con)


def _columns_of(con, source_sql: str) -> list[str]:
    return [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {source_sql}").fetchall()]


def _warehouse_views(con, home: DxHome) -> None:
    """One view per contract over its Parquet files (an empty typed view while it has none)."""
    for contract in schemas.CONTRACTS.values():
        folder = home.table_dir(contract.table)
        if contract.partitioned:
            files = list(folder.glob(f"quarter=*/{PARTITION_FILE}"))
            glob = _source(home, folder / "quarter=*" / PARTITION_FILE)
            src = (
                f"read_parquet({sql_literal(glob)}, hive_partitioning=true, union_by_name=true, "
                "hive_types={'quarter': 'VARCHAR'})"
            )
            lead = f"quarter, {period_start_sql('quarter')} AS quarter_start, "
            extra = [("quarter", "VARCHAR"), ("quarter_start", "DATE")]
        else:
            files = list(folder.glob("*.parquet"))
            src = f"read_parquet({sql_literal(_source(home, folder / '*.parquet'))}, union_by_name=true)"
            lead, extra = "", []
        if files:
            zoned = _zoned(_columns_of(con, src))
            exclude = " EXCLUDE (quarter)" if contract.partitioned else ""
            sql = f"SELECT {lead}*{exclude}{zoned} FROM {src}"
        else:
            sql = _empty_view_sql(contract, extra)
        con.execute(f"CREATE OR REPLACE VIEW {_ident(contract.table)} AS {sql}")
        desc = f"{contract.vi} / {contract.en}"
        con.execute(f"COMMENT ON VIEW {_ident(contract.table)} IS {sql_literal(desc)}")


def _published_views(con, home: DxHome) -> None:
    """Every published revision's ranking and scores, and the latest revision of each."""
    root = home.published / "ranking"
    hive = "hive_partitioning=true, union_by_name=true, hive_types={'quarter': 'VARCHAR', 'rev': 'INTEGER'}"
    hive_p = "hive_partitioning=true, union_by_name=true, hive_types={'period': 'VARCHAR', 'rev': 'INTEGER'}"
    ranking = schemas.RANKING_SNAPSHOT
    scores = schemas.INDEX_SCORES
    for name, pattern, contract, opts, key in (
        ("published_ranking", "quarter=*/rev=*/ranking.parquet", ranking, hive, "quarter"),
        ("published_index_scores", "quarter=*/rev=*/index_scores.parquet", scores, hive, "quarter"),
        ("published_period_ranking", "period=*/rev=*/ranking.parquet", ranking, hive_p, "period"),
    ):
        start = f"{key}_start"
        if list(root.glob(pattern)):
            src = f"read_parquet({sql_literal(_source(home, root / pattern))}, {opts})"
            sql = (
                f"SELECT {key}, {period_start_sql(key)} AS {start}, rev AS revision_folder, "
                f"* EXCLUDE ({key}, rev){_zoned(_columns_of(con, src))} FROM {src}"
            )
        else:
            sql = _empty_view_sql(
                contract, [(key, "VARCHAR"), (start, "DATE"), ("revision_folder", "INTEGER")])
        con.execute(f"CREATE OR REPLACE VIEW {name} AS {sql}")
        con.execute(
            f"CREATE OR REPLACE VIEW {name}_latest AS SELECT * FROM {name} "
            f"QUALIFY revision_folder = max(revision_folder) OVER (PARTITION BY {key})"
        )


def _publications_view(con, home: DxHome) -> None:
    """One row per published revision, from the manifests (``published_at`` in UTC)."""
    root = home.published / "ranking"
    manifests = list(root.glob("*=*/rev=*/manifest.json"))
    if manifests:
        cols = (
            "{'period': 'VARCHAR', 'kind': 'VARCHAR', 'revision': 'INTEGER', "
            "'published_at': 'VARCHAR', 'reason': 'VARCHAR', 'trigger': 'VARCHAR', "
            "'content_sha256': 'VARCHAR'}"
        )
        src = sql_literal(_source(home, root / "*=*/rev=*/manifest.json"))
        sql = (
            f"SELECT period, {period_start_sql('period')} AS period_start, kind, revision, "
            "CAST(published_at AS TIMESTAMPTZ) AS published_at, reason, trigger, content_sha256 "
            f"FROM read_json({src}, columns={cols}, format='auto')"
        )
    else:
        sql = (
            "SELECT CAST(NULL AS VARCHAR) AS period, CAST(NULL AS DATE) AS period_start, "
            "CAST(NULL AS VARCHAR) AS kind, "
            "CAST(NULL AS INTEGER) AS revision, CAST(NULL AS TIMESTAMPTZ) AS published_at, "
            "CAST(NULL AS VARCHAR) AS reason, CAST(NULL AS VARCHAR) AS trigger, "
            "CAST(NULL AS VARCHAR) AS content_sha256 WHERE false"
        )
    con.execute(f"CREATE OR REPLACE VIEW publications AS {sql}")


def _data_dictionary_table(con) -> None:
    """The contracts' columns with types and meanings, as a table beside the views."""
    con.execute(
        "CREATE OR REPLACE TABLE data_dictionary (table_name VARCHAR, column_name VARCHAR, "
        "data_type VARCHAR, nullable BOOLEAN, vi VARCHAR, en VARCHAR)"
    )
    rows = [
        (c.table, col.name, _duck_type(col), col.nullable, col.vi, col.en)
        for c in schemas.CONTRACTS.values()
        for col in c.columns
    ]
    con.executemany("INSERT INTO data_dictionary VALUES (?, ?, ?, ?, ?, ?)", rows)


def _lookup_tables(con, tables: dict[str, pd.DataFrame]) -> None:
    """The lookup tables copied into the database, each with its description."""
    for name, df in tables.items():
        con.register("_lookup", df)
        try:
            con.execute(f"CREATE OR REPLACE TABLE {_ident(name)} AS SELECT * FROM _lookup")
        finally:
            con.unregister("_lookup")
        con.execute(f"COMMENT ON TABLE {_ident(name)} IS {sql_literal(LOOKUP_DESCRIPTIONS[name])}")
