"""Exports for people and BI tools: Excel-safe CSV and XLSX, and a DuckDB file of views.

CSV and Excel files are opened by people in Excel, and agency-provided text (names, notes)
ends up in them: a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return would run as a formula, so such text cells are prefixed with ``'``. Numbers stay
numbers. CSV is UTF-8 with a BOM so Excel shows Vietnamese letters.

The DuckDB file holds only VIEWS over the Parquet files (nothing is copied), so Superset,
Metabase or the DuckDB CLI always read the current warehouse and every published revision.
The file itself is local (``<DX_HOME>/bi``); with the warehouse in object storage its table
views name ``s3://`` paths, so the connection that queries them must see the bucket
(:func:`dx_pipeline.storage.warehouse_duckdb`, or DuckDB's ``httpfs`` with an S3 secret).
"""

from __future__ import annotations

import datetime as dt
import math
import os
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from dx_pipeline.reference import schemas
from dx_pipeline.storage import DxHome, atomic_path, warehouse_duckdb
from dx_pipeline.storage.parquet import PARTITION_FILE, sql_literal

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

EXTRA_LABELS = {
    "quarter": ("Quý", "quarter"),
    "period": ("Kỳ", "period"),
}


def safe_cell(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def _text_columns(df: pd.DataFrame) -> list[str]:
    return [
        c
        for c in df.columns
        if pd.api.types.is_string_dtype(df[c]) or pd.api.types.is_object_dtype(df[c])
    ]


def excel_safe_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text cells cannot be read as formulas."""
    out = df.copy()
    for col in _text_columns(out):
        out[col] = out[col].map(safe_cell, na_action="ignore")
    return out


def write_csv(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """UTF-8 with BOM, formula-safe, ISO timestamps, empty cells for missing values."""
    safe = excel_safe_frame(df)
    text = safe.to_csv(index=False, lineterminator="\r\n", date_format="%Y-%m-%d %H:%M:%S")
    data = "\ufeff".encode("utf-8") + text.encode("utf-8")
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def column_label(table: str | None, name: str) -> str:
    """``Tổng điểm / total_points``: Vietnamese first, the stable column name beside it."""
    if name in EXTRA_LABELS:
        return f"{EXTRA_LABELS[name][0]} / {name}"
    contract = schemas.CONTRACTS.get(table) if table else None
    if contract:
        for col in contract.columns:
            if col.name == name and col.vi:
                return f"{col.vi} / {name}"
    return name


def write_excel(
    path: str | os.PathLike,
    sheets: list[tuple[str, str | None, pd.DataFrame]],
    *,
    created: dt.datetime,
    title: str = "dx_pipeline",
) -> Path:
    """Write (sheet title, contract table, frame) sheets; same input gives the same bytes.

    Every text cell is written with ``write_string`` after :func:`safe_cell`, so nothing an
    agency typed becomes a formula. ``created`` is stored as the workbook's creation time
    (xlsxwriter would use the clock otherwise).
    """
    import xlsxwriter

    with atomic_path(path, suffix=".xlsx") as tmp:
        wb = xlsxwriter.Workbook(
            str(tmp),
            {"strings_to_formulas": False, "strings_to_urls": False, "in_memory": True},
        )
        wb.set_properties(
            {"title": title, "author": "dx_pipeline", "created": created.replace(tzinfo=None)}
        )
        head = wb.add_format({"bold": True, "text_wrap": True, "valign": "top", "bg_color": "#E8EEF4"})
        stamp = wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        for sheet_title, table, df in sheets:
            ws = wb.add_worksheet(sheet_title[:31])
            for j, name in enumerate(df.columns):
                ws.write_string(0, j, column_label(table, str(name)), head)
                ws.set_column(j, j, max(10, min(40, len(column_label(table, str(name))) + 2)))
            for i, row in enumerate(df.itertuples(index=False, name=None), start=1):
                for j, value in enumerate(row):
                    _write_cell(ws, i, j, value, stamp)
            ws.freeze_panes(1, 0)
            if len(df.columns):
                ws.autofilter(0, 0, max(len(df), 1), len(df.columns) - 1)
        wb.close()
    return Path(path)


def _write_cell(ws, i: int, j: int, value: Any, stamp) -> None:
    if value is None or value is pd.NA or value is pd.NaT:
        return
    if isinstance(value, float) and math.isnan(value):
        return
    if isinstance(value, (bool,)) or type(value).__name__ == "bool_":
        ws.write_boolean(i, j, bool(value))
    elif isinstance(value, (int, float)) or hasattr(value, "dtype"):
        ws.write_number(i, j, float(value))
    elif isinstance(value, (pd.Timestamp, dt.datetime)):
        ws.write_datetime(i, j, pd.Timestamp(value).to_pydatetime().replace(tzinfo=None), stamp)
    else:
        ws.write_string(i, j, str(safe_cell(str(value))))


# --- DuckDB database of views ---------------------------------------------------------------

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


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _empty_view_sql(contract: schemas.Contract, extra: list[tuple[str, str]]) -> str:
    cols = [f"CAST(NULL AS {t}) AS {_ident(n)}" for n, t in extra]
    cols += [f"CAST(NULL AS {_DUCK_TYPES[c.type]}) AS {_ident(c.name)}" for c in contract.columns]
    return f"SELECT {', '.join(cols)} WHERE false"


def default_bi_path(home: DxHome) -> Path:
    """Where the BI DuckDB file with the published views lives: ``DX_HOME/bi/dx_pipeline.duckdb``."""
    return home.root / "bi" / "dx_pipeline.duckdb"


PUBLISHED_VIEWS = (
    "published_ranking",
    "published_ranking_latest",
    "published_index_scores",
    "published_index_scores_latest",
    "published_period_ranking",
    "published_period_ranking_latest",
    "publications",
)


def build_bi_database(home: DxHome, path: str | os.PathLike | None = None) -> Path:
    """Create ``<home>/bi/dx_pipeline.duckdb`` with a view per warehouse table and publication.

    Views: one per table contract (``agencies``, ``agency_kpis``, ``ranking_snapshot``, ...)
    with ``quarter`` first; ``published_ranking`` / ``published_index_scores`` over every
    published revision (``quarter``, ``rev`` from the folder names) and their ``_latest``
    variants; ``published_period_ranking`` for half-year and annual rankings; ``publications``
    (one row per revision: period, revision, published_at, reason, trigger); and a table
    ``data_dictionary`` of every contract column. Paths are absolute: rebuild after moving the
    home. A table with no Parquet file yet gets an empty view with the contract's columns, so
    dashboards bind; rerun after the first materialisation to point it at the files.
    """
    target = Path(path) if path else default_bi_path(home)
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target, suffix=".duckdb") as tmp:
        tmp.unlink()  # DuckDB refuses to open an empty file as a database
        con = warehouse_duckdb(home, str(tmp))
        try:
            _create_views(con, home)
            con.execute("CHECKPOINT")
        finally:
            con.close()
    return target


def _create_views(con, home: DxHome) -> None:
    """Every view and table of the BI database: the warehouse tables, the published
    revisions (each with a ``_latest`` view), the publications and the data dictionary."""
    _warehouse_views(con, home)
    root = home.published / "ranking"
    _published_views(con, root)
    _publications_view(con, root)
    _data_dictionary_table(con)


def _warehouse_views(con, home: DxHome) -> None:
    """One view per contract over its Parquet files (an empty typed view while it has none)."""
    for contract in schemas.CONTRACTS.values():
        folder = home.table_dir(contract.table)
        if contract.partitioned:
            files = list(folder.glob(f"quarter=*/{PARTITION_FILE}"))
            glob = folder / "quarter=*" / PARTITION_FILE
            src = (
                f"read_parquet({sql_literal(glob)}, hive_partitioning=true, union_by_name=true, "
                "hive_types={'quarter': 'VARCHAR'})"
            )
            select = f"SELECT quarter, * EXCLUDE (quarter) FROM {src}"
            extra = [("quarter", "VARCHAR")]
        else:
            files = list(folder.glob("*.parquet"))
            select = f"SELECT * FROM read_parquet({sql_literal(folder / '*.parquet')}, union_by_name=true)"
            extra = []
        sql = select if files else _empty_view_sql(contract, extra)
        con.execute(f"CREATE OR REPLACE VIEW {_ident(contract.table)} AS {sql}")
        desc = f"{contract.vi} / {contract.en}"
        con.execute(f"COMMENT ON VIEW {_ident(contract.table)} IS {sql_literal(desc)}")


def _published_views(con, root: Path) -> None:
    """Every published revision's ranking and scores, and the latest revision of each."""
    hive = "hive_partitioning=true, union_by_name=true, hive_types={'quarter': 'VARCHAR', 'rev': 'INTEGER'}"
    hive_p = "hive_partitioning=true, union_by_name=true, hive_types={'period': 'VARCHAR', 'rev': 'INTEGER'}"
    ranking = schemas.RANKING_SNAPSHOT
    scores = schemas.INDEX_SCORES
    for name, pattern, contract, opts, key in (
        ("published_ranking", "quarter=*/rev=*/ranking.parquet", ranking, hive, "quarter"),
        ("published_index_scores", "quarter=*/rev=*/index_scores.parquet", scores, hive, "quarter"),
        ("published_period_ranking", "period=*/rev=*/ranking.parquet", ranking, hive_p, "period"),
    ):
        if list(root.glob(pattern)):
            sql = (
                f"SELECT {key}, rev AS revision_folder, * EXCLUDE ({key}, rev) "
                f"FROM read_parquet({sql_literal(root / pattern)}, {opts})"
            )
        else:
            sql = _empty_view_sql(contract, [(key, "VARCHAR"), ("revision_folder", "INTEGER")])
        con.execute(f"CREATE OR REPLACE VIEW {name} AS {sql}")
        con.execute(
            f"CREATE OR REPLACE VIEW {name}_latest AS SELECT * FROM {name} "
            f"QUALIFY revision_folder = max(revision_folder) OVER (PARTITION BY {key})"
        )


def _publications_view(con, root: Path) -> None:
    """One row per published revision, from the manifests."""
    manifests = list(root.glob("*=*/rev=*/manifest.json"))
    if manifests:
        cols = (
            "{'period': 'VARCHAR', 'kind': 'VARCHAR', 'revision': 'INTEGER', "
            "'published_at': 'VARCHAR', 'reason': 'VARCHAR', 'trigger': 'VARCHAR', "
            "'content_sha256': 'VARCHAR'}"
        )
        sql = (
            "SELECT period, kind, revision, CAST(published_at AS TIMESTAMP) AS published_at, "
            "reason, trigger, content_sha256 "
            f"FROM read_json({sql_literal(root / '*=*/rev=*/manifest.json')}, "
            f"columns={cols}, format='auto')"
        )
    else:
        sql = (
            "SELECT CAST(NULL AS VARCHAR) AS period, CAST(NULL AS VARCHAR) AS kind, "
            "CAST(NULL AS INTEGER) AS revision, CAST(NULL AS TIMESTAMP) AS published_at, "
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
        (c.table, col.name, _DUCK_TYPES[col.type], col.nullable, col.vi, col.en)
        for c in schemas.CONTRACTS.values()
        for col in c.columns
    ]
    con.executemany("INSERT INTO data_dictionary VALUES (?, ?, ?, ?, ?, ?)", rows)
