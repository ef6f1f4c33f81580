"""Writing one quarter of portal data to the warehouse, whichever way it came in.

Export files (:mod:`portal_files`) and HTTP pulls (:mod:`portal_client`) both hand over raw
relations (portal field names, strings) and end here, so both produce the same three
partitions through the same mapping:

- ``portal_dossiers``  the contract table, good rows only, duplicates kept (the quality gate
  must see them);
- ``portal_rejects``   one row per bad value (dataset, file/page, row, keys, field, value, reason);
- ``procedures``       the procedure catalogue as of the quarter.

Writes stream from DuckDB to Parquet (no pandas in between) and replace the partition
atomically, so a rerun gives the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import duckdb
import pyarrow as pa

from dx_pipeline.quarters import Quarter
from dx_pipeline.sources.portal_mapping import REJECTS_SCHEMA, FieldMapping, load_field_mapping
from dx_pipeline.storage import DxHome, write_partition
from dx_pipeline.storage.parquet import sql_literal, write_partition_from_query

DOSSIERS_TABLE = "portal_dossiers"
REJECTS_TABLE = "portal_rejects"
PROCEDURES_TABLE = "procedures"


@dataclass(frozen=True)
class RawSource:
    """A raw relation of portal fields (strings) with ``_source_file`` and ``_row`` columns.

    ``sql`` is a FROM-able SQL expression on the connection it was made for; ``present`` the
    portal field names it actually carries; ``label`` names it in errors.
    """

    sql: str
    present: frozenset[str]
    label: str


@dataclass(frozen=True)
class PortalIngestResult:
    """What one ingestion of a quarter wrote, for Dagster metadata and the CLI."""

    quarter: str
    origin: str  # "files" or "http"
    dossiers_path: Path
    rejects_path: Path
    procedures_path: Path
    dossier_rows: int
    rejected_rows: int
    reject_count: int
    procedure_rows: int
    sources: tuple[str, ...] = ()
    landed_pages: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)

    def summary(self) -> str:
        return (
            f"{self.quarter} ({self.origin}): {self.dossier_rows} dossiers, "
            f"{self.rejected_rows} rows rejected ({self.reject_count} bad values), "
            f"{self.procedure_rows} procedures"
        )


def _union(parts: Sequence[str]) -> str:
    return " UNION ALL ".join(f"({p})" for p in parts)


def write_quarter(
    con: duckdb.DuckDBPyConnection,
    home: DxHome,
    quarter: Quarter,
    dossier_sources: Sequence[RawSource],
    procedure_sources: Sequence[RawSource],
    origin: str,
    landed_pages: int = 0,
    notes: Sequence[str] = (),
    dossier_mapping: FieldMapping | None = None,
    procedure_mapping: FieldMapping | None = None,
) -> PortalIngestResult:
    """Map the raw sources and write the quarter's three partitions; return the counts."""
    dm = dossier_mapping or load_field_mapping("dossiers")
    pm = procedure_mapping or load_field_mapping("procedures")
    for src in dossier_sources:
        dm.check_columns(src.present, src.label)
    for src in procedure_sources:
        pm.check_columns(src.present, src.label)
    notes = list(notes)

    good = [dm.good_rows_sql(s.sql, s.present, quarter) for s in dossier_sources]
    if not good:
        good = [f"SELECT * FROM ({dm.good_rows_sql(_empty(dm), set(dm.portal_names))}) LIMIT 0"]
    dossiers_path = write_partition_from_query(con, _union(good), home, DOSSIERS_TABLE, quarter)

    procs = [pm.good_rows_sql(s.sql, s.present) for s in procedure_sources]
    if not procs:
        notes.append("no procedure catalogue export found: procedures partition is empty")
        procs = [f"SELECT * FROM ({pm.good_rows_sql(_empty(pm), set(pm.portal_names))}) LIMIT 0"]
    procedures_path = write_partition_from_query(con, _union(procs), home, PROCEDURES_TABLE, quarter)

    # Building each bad value's reason is costly to plan, so it is done only for sources
    # that have bad rows at all (the common clean file costs one cheap count).
    rejects = [
        f"SELECT 'dossiers' AS dataset, * FROM ({dm.rejects_sql(s.sql, s.present, quarter)})"
        for s in dossier_sources
        if _count(con, dm.bad_count_sql(s.sql, s.present, quarter))
    ] + [
        f"SELECT 'procedures' AS dataset, * FROM ({pm.rejects_sql(s.sql, s.present)})"
        for s in procedure_sources
        if _count(con, pm.bad_count_sql(s.sql, s.present))
    ]
    if rejects:
        rejects_path = write_partition_from_query(con, _union(rejects), home, REJECTS_TABLE, quarter)
    else:
        empty = pa.schema([pa.field("dataset", pa.string())] + list(REJECTS_SCHEMA)).empty_table()
        rejects_path = write_partition(home, REJECTS_TABLE, quarter, empty)

    dossier_rows = _count(con, f"SELECT count(*) FROM read_parquet({sql_literal(dossiers_path)})")
    procedure_rows = _count(con, f"SELECT count(*) FROM read_parquet({sql_literal(procedures_path)})")
    reject_count, rejected_rows = con.execute(
        "SELECT count(*), count(DISTINCT (dataset, source_file, row_number)) "
        f"FROM read_parquet({sql_literal(rejects_path)})"
    ).fetchall()[0]
    return PortalIngestResult(
        quarter=quarter.label,
        origin=origin,
        dossiers_path=dossiers_path,
        rejects_path=rejects_path,
        procedures_path=procedures_path,
        dossier_rows=dossier_rows,
        rejected_rows=int(rejected_rows),
        reject_count=int(reject_count),
        procedure_rows=procedure_rows,
        sources=tuple(s.label for s in (*dossier_sources, *procedure_sources)),
        landed_pages=landed_pages,
        notes=tuple(notes),
    )


def _empty(mapping: FieldMapping) -> str:
    cols = ", ".join(f'CAST(NULL AS VARCHAR) AS "{n}"' for n in mapping.portal_names)
    return f"(SELECT {cols}, CAST(NULL AS VARCHAR) AS _source_file, CAST(NULL AS BIGINT) AS _row LIMIT 0)"


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    return int(con.execute(sql).fetchall()[0][0])
