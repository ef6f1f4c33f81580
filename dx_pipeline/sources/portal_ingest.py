"""Writing one quarter of portal data to the warehouse, whichever way it came in.

Export files (:mod:`portal_files`) and HTTP pulls (:mod:`portal_client`) both hand over raw
relations (portal field names, strings) and end here, so both produce the same three
partitions through the same mapping:

- ``portal_dossiers``  the contract table, good rows only, duplicates kept (the quality gate
  must see them): the dossiers received in the quarter and those carried over (received
  earlier, still open at its start), which its judged KPIs count and its received ones do not;
- ``portal_rejects``   one row per bad value (dataset, file/page, row, keys, field, value, reason);
- ``procedures``       the procedure catalogue as of the quarter.

Writes stream from DuckDB to Parquet (no pandas in between) and replace the partition
atomically, so a rerun gives the same bytes.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.sources.portal_mapping import (
    REJECTS_SCHEMA,
    FieldMapping,
    load_field_mapping,
)
from dx_pipeline.sources.portal_typed import TypedDossiers
from dx_pipeline.storage import DxHome, attach_warehouse, parquet_file, write_partition
from dx_pipeline.storage.duck import configure
from dx_pipeline.storage.home import WarehousePath
from dx_pipeline.storage.parquet import sql_literal, write_partition_from_query

DOSSIERS_TABLE = "portal_dossiers"
REJECTS_TABLE = "portal_rejects"
PROCEDURES_TABLE = "procedures"


@dataclass(frozen=True)
class RawSource:
    """A raw relation of portal fields (strings) with ``_source_file`` and ``_row`` columns.

    ``sql`` is a FROM-able SQL expression on the connection it was made for; ``present`` the
    portal field names it actually carries; ``label`` names it in errors. With ``row_offset``
    set, ``_row`` is left NULL in ``sql`` and rows are numbered by position after mapping
    (first row = ``row_offset + 1``): numbering inside the scan (``row_number() OVER ()``)
    would make DuckDB read and map the whole file on one thread.
    """

    sql: str
    present: frozenset[str]
    label: str
    row_offset: int | None = None


@dataclass(frozen=True)
class PortalIngestResult:
    """What one ingestion of a quarter wrote, for Dagster metadata and the CLI."""

    quarter: str
    origin: str  # "files" or "http"
    dossiers_path: WarehousePath
    rejects_path: WarehousePath
    procedures_path: WarehousePath
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


INGEST_MEMORY = "1.5GB"
"""DuckDB memory budget of the portal mapping; beyond it the mapping spills to disk."""


def _map_once(
    con: duckdb.DuckDBPyConnection,
    mapping: FieldMapping,
    sources: Sequence[RawSource],
    quarter: Quarter | None,
    scratch: Path,
    kind: str,
) -> str | None:
    """Map every source in ONE pass each, to a scratch Parquet of typed values, ``_bad`` and the
    bad rows' errors; return a FROM-able relation over them in source order (None: no source).

    The raw export is read and typed exactly once; good rows and rejects are then cheap scans
    of the typed file instead of two more passes of the whole mapping over the CSV.
    """
    files = []
    for n, src in enumerate(sources):
        path = scratch / f"{kind}_{n}.parquet"
        con.execute(
            f"COPY ({mapping.mapped_sql(src.sql, src.present, quarter)}) TO {sql_literal(path)} "
            "(FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE 500000)"
        )
        if src.row_offset is None:
            files.append(f"(SELECT * FROM read_parquet({sql_literal(path)}))")
        else:
            # the scratch file keeps the source's order, so its row number is the row's position
            files.append(
                f"(SELECT * EXCLUDE (file_row_number) REPLACE "
                f"(CAST(file_row_number AS BIGINT) + {int(src.row_offset) + 1} AS _row) "
                f"FROM read_parquet({sql_literal(path)}, file_row_number = true))"
            )
    if not files:
        return None
    return "(" + " UNION ALL ".join(files) + ")"


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
    typed: TypedDossiers | None = None,
) -> PortalIngestResult:
    """Map the raw sources and write the quarter's three partitions; return the counts.

    ``typed``: portal_dossiers already written by the typed scan (:mod:`portal_typed`); its
    rejected lines, already mapped, join the rejects (``dossier_sources`` is then empty).
    Sets the connection's threads, memory budget and spill directory (:func:`configure`).
    """
    dm = _checked(dossier_mapping or load_field_mapping("dossiers"), dossier_sources if typed is None else ())
    pm = _checked(procedure_mapping or load_field_mapping("procedures"), procedure_sources)
    notes = list(notes)

    with tempfile.TemporaryDirectory(prefix="dx_portal_ingest_") as tmp:
        scratch = Path(tmp)
        configure(con, scratch / "spill", home.memory_for(INGEST_MEMORY))
        if typed is None:
            mapped_d = _map_once(con, dm, dossier_sources, quarter, scratch, "dossiers")
            dossiers_path = _write_mapped(con, dm, mapped_d, home, DOSSIERS_TABLE, quarter)
        else:
            mapped_d, dossiers_path = typed.mapped_rejects, typed.path
        mapped_p = _map_once(con, pm, procedure_sources, None, scratch, "procedures")
        if mapped_p is None:
            notes.append("no procedure catalogue export found: procedures partition is empty")
        procedures_path = _write_mapped(con, pm, mapped_p, home, PROCEDURES_TABLE, quarter)
        rejects_path = _write_rejects(
            con, home, quarter, (("dossiers", dm, mapped_d), ("procedures", pm, mapped_p))
        )
        # the spill directory is about to be removed: the caller's connection must not use it
        con.execute("RESET temp_directory")

    reject_count, rejected_rows = attach_warehouse(con, home).execute(
        "SELECT count(*), count(DISTINCT (dataset, source_file, row_number)) "
        f"FROM read_parquet({sql_literal(rejects_path)})"
    ).fetchall()[0]
    return PortalIngestResult(
        quarter=quarter.label,
        origin=origin,
        dossiers_path=dossiers_path,
        rejects_path=rejects_path,
        procedures_path=procedures_path,
        dossier_rows=parquet_file(dossiers_path).metadata.num_rows,
        rejected_rows=int(rejected_rows),
        reject_count=int(reject_count),
        procedure_rows=parquet_file(procedures_path).metadata.num_rows,
        sources=_source_labels(dossier_sources, typed, procedure_sources),
        landed_pages=landed_pages,
        notes=tuple(notes),
    )


def _source_labels(
    dossier_sources: Sequence[RawSource], typed: TypedDossiers | None, procedure_sources: Sequence[RawSource]
) -> tuple[str, ...]:
    """What was read, in order: the dossier sources (or the typed scan's), the procedures'."""
    return (
        *(s.label for s in dossier_sources),
        *((typed.label,) if typed else ()),
        *(s.label for s in procedure_sources),
    )


def _checked(mapping: FieldMapping, sources: Sequence[RawSource]) -> FieldMapping:
    """``mapping`` once every source has the columns it requires (else a clear error)."""
    for src in sources:
        mapping.check_columns(src.present, src.label)
    return mapping


def _write_mapped(
    con: duckdb.DuckDBPyConnection,
    mapping: FieldMapping,
    mapped: str | None,
    home: DxHome,
    table: str,
    quarter: Quarter,
) -> WarehousePath:
    """The good rows of a mapped relation as the quarter's partition of ``table`` (an empty
    partition with the contract's columns when there was no source)."""
    if mapped is None:
        sql = f"SELECT * FROM ({mapping.good_rows_sql(_empty(mapping), set(mapping.portal_names))}) LIMIT 0"
    else:
        sql = mapping.output_sql(mapped)
    return write_partition_from_query(con, sql, home, table, quarter)


def _write_rejects(
    con: duckdb.DuckDBPyConnection,
    home: DxHome,
    quarter: Quarter,
    mapped: Sequence[tuple[str, FieldMapping, str | None]],
) -> WarehousePath:
    """Every rejected line of the mapped relations, with its dataset, as the quarter's
    portal_rejects partition (empty, with its columns, when nothing was rejected)."""
    rejects = [
        f"SELECT {_sql_str(kind)} AS dataset, * FROM ({m.rejects_from_sql(rel)})"
        for kind, m, rel in mapped
        if rel is not None and _count(con, f"SELECT count(*) FROM {rel} WHERE _bad")
    ]
    if rejects:
        return write_partition_from_query(con, _union(rejects), home, REJECTS_TABLE, quarter)
    empty = pa.schema([pa.field("dataset", pa.string())] + list(REJECTS_SCHEMA)).empty_table()
    return write_partition(home, REJECTS_TABLE, quarter, empty)


def _sql_str(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def _empty(mapping: FieldMapping) -> str:
    cols = ", ".join(f'CAST(NULL AS VARCHAR) AS "{n}"' for n in mapping.portal_names)
    return f"(SELECT {cols}, CAST(NULL AS VARCHAR) AS _source_file, CAST(NULL AS BIGINT) AS _row LIMIT 0)"


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    return int(con.execute(sql).fetchall()[0][0])
