"""Portal export files as a way in: CSV, JSON and Excel, as the portals produce them.

Layout read by :func:`ingest_portal_files` (``source_dir`` defaults to ``DX_HOME/portal_exports``)::

    portal_exports/quarter=2025-Q2/dossiers*.csv|json|xlsx   the quarter's dossier export (1)
    portal_exports/quarter=2025-Q2/procedures.csv|json|xlsx  (optional) catalogue as of the quarter
    portal_exports/procedures.csv|json|xlsx                  the catalogue otherwise

(1) the dossiers received in the quarter and those received earlier and still open at its start,
with their state at the export (the portal exports open dossiers with their history): the judged
KPIs count them. Any other earlier dossier, and any received after the quarter, is rejected
with its reason (:func:`portal_mapping.outside_quarter_sql`).

CSV: UTF-8 with or without BOM, delimiter sniffed ("," or ";"), read by DuckDB as text and
streamed through the SQL mapping, so 10M-row files never pass through pandas or Python loops.
``row_number`` of a reject is the line in the file (the header is line 1).
JSON: a list of records, or an API page ``{"items": [...]}``; read by DuckDB too.
Excel: the first sheet, header in the first row; ``row_number`` is the sheet row.
"""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path

import duckdb
import pyarrow as pa

from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.sources.portal_ingest import (
    INGEST_MEMORY,
    PortalIngestResult,
    RawSource,
    write_quarter,
)
from dx_pipeline.sources.portal_mapping import (
    REJECTS_SCHEMA,
    FieldMapping,
    MappedTable,
    load_field_mapping,
    records_to_table,
)
from dx_pipeline.sources.portal_typed import TypedDossiers, write_typed_dossiers
from dx_pipeline.storage import DxHome
from dx_pipeline.storage.duck import configure

EXPORT_SUFFIXES = (".csv", ".json", ".xlsx")
_names = itertools.count(1)


def _sql_str(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def csv_source(
    con: duckdb.DuckDBPyConnection, path: Path, label: str, numbered: bool = True
) -> RawSource:
    """A streaming relation over a CSV export (every column read as text).

    ``numbered=False`` leaves ``_row`` to :func:`write_quarter`, which numbers rows by position
    after mapping, so the scan and the mapping run on every core.
    """
    reader = f"read_csv({_sql_str(str(path))}, all_varchar = true, header = true, encoding = 'utf-8')"
    try:
        cols = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()]
    except duckdb.Error as exc:
        raise ValueError(f"{label}: cannot read as CSV: {exc}") from exc
    renamed = ", ".join(f"{_ident(c)} AS {_ident(c.strip().lstrip(chr(0xFEFF)))}" for c in cols)
    row = "row_number() OVER () + 1" if numbered else "CAST(NULL AS BIGINT)"
    sql = f"(SELECT {renamed}, {_sql_str(label)} AS _source_file, {row} AS _row FROM {reader})"
    present = frozenset(c.strip().lstrip("\ufeff") for c in cols)
    # line numbers: the header is line 1, so the first record is line 2
    return RawSource(sql, present, label, row_offset=None if numbered else 1)


def json_source(
    con: duckdb.DuckDBPyConnection, paths: list[Path], labels: list[str], mapping: FieldMapping
) -> RawSource:
    """A relation over JSON exports or landed API pages; every mapped field read as text.

    Pages (``{"items": [...]}``) and plain arrays of records are both accepted; ``_row`` is
    the item's position in its page or array.
    """
    struct = "STRUCT(" + ", ".join(f"{_ident(n)} VARCHAR" for n in mapping.portal_names) + ")"
    fields = ", ".join(f"{_ident(n)}" for n in mapping.portal_names)
    columns = ", ".join(f"{_sql_str(n)}: 'VARCHAR'" for n in mapping.portal_names)
    parts = []
    for path, label in zip(paths, labels, strict=True):
        head = path.read_bytes()[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
        if head.startswith(b"["):
            reader = (
                f"read_json({_sql_str(str(path))}, format = 'array', "
                f"columns = {{{columns}}})"
            )
            parts.append(
                f"SELECT {fields}, {_sql_str(label)} AS _source_file, "
                f"row_number() OVER () AS _row FROM {reader}"
            )
        elif head.startswith(b"{"):
            reader = (
                f"read_json({_sql_str(str(path))}, format = 'unstructured', "
                f"columns = {{'items': {_sql_str(struct + '[]')}}})"
            )
            parts.append(
                f"SELECT {fields}, {_sql_str(label)} AS _source_file, _row FROM ("
                f"SELECT unnest(items, recursive := true), generate_subscripts(items, 1) AS _row "
                f"FROM {reader})"
            )
        else:
            raise ValueError(f'{label}: not a JSON export (expected a list of records or {{"items": [...]}})')
    for p, label in zip(parts, labels, strict=True):
        try:
            con.execute(f"DESCRIBE {p}").fetchall()
        except duckdb.Error as exc:
            raise ValueError(f"{label}: cannot read as JSON: {exc}") from exc
    sql = "(" + " UNION ALL ".join(f"({p})" for p in parts) + ")"
    # A field no record carries is absent (as a CSV column would be), not "empty everywhere":
    # yes/no fields the export lacks then stay unknown instead of reading as "no".
    counts = con.execute(
        "SELECT " + ", ".join(f"count({_ident(n)})" for n in mapping.portal_names) + f" FROM {sql}"
    ).fetchall()[0]
    present = {n for n, c in zip(mapping.portal_names, counts, strict=True) if c} | set(mapping.required)
    return RawSource(sql, frozenset(present), ", ".join(labels))


def excel_table(path: Path, label: str) -> pa.Table:
    """The first sheet of a workbook as text, as the portal wrote it (dates to dd/mm/yyyy)."""
    import datetime as dt

    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a bad file
        raise ValueError(f"{label}: cannot open as an Excel workbook: {exc}") from exc
    try:
        rows = wb.worksheets[0].iter_rows(values_only=True)
        header = next(rows, None)
        if header is None:
            raise ValueError(f"{label}: the first sheet is empty")
        names = [str(h).strip() if h is not None else "" for h in header]
        records = []
        for values in rows:
            if values is None or all(v is None for v in values):
                records.append(None)
                continue
            rec = {}
            for name, v in zip(names, values, strict=True):
                if isinstance(v, dt.datetime):
                    v = v.strftime("%d/%m/%Y %H:%M:%S")
                elif isinstance(v, dt.date):
                    v = v.strftime("%d/%m/%Y")
                rec[name] = v
            records.append(rec)
    finally:
        wb.close()
    numbered = [(i, r) for i, r in enumerate(records, start=2) if r is not None]
    table = records_to_table([r for _, r in numbered], [n for n in names if n], label)
    return table.set_column(
        table.schema.get_field_index("_row"), "_row", pa.array([i for i, _ in numbered], pa.int64())
    )


def file_source(
    con: duckdb.DuckDBPyConnection, path: Path, label: str, mapping: FieldMapping, numbered: bool = True
) -> RawSource:
    """The right reader for an export file, by its suffix (``numbered``: see :func:`csv_source`)."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return csv_source(con, path, label, numbered)
    if suffix == ".json":
        return json_source(con, [path], [label], mapping)
    if suffix == ".xlsx":
        table = excel_table(path, label)
        name = f"_xlsx_{next(_names)}"
        con.register(name, table)
        return RawSource(name, frozenset(table.column_names) - {"_source_file", "_row"}, label)
    raise ValueError(f"{label}: unsupported export file type {suffix!r} (use .csv, .json or .xlsx)")


def find_export_files(source_dir: Path, quarter: Quarter) -> tuple[list[Path], list[Path]]:
    """(dossier files of the quarter, procedure catalogue file) under ``source_dir``. An export
    that is a symbolic link is refused (``ValueError`` naming it): links are never followed."""
    qdir = source_dir / f"quarter={quarter.label}"
    dossiers = _exports(qdir, "dossiers*")
    procedures: list[Path] = []
    for folder in (qdir, source_dir):
        found = _exports(folder, "procedures*")
        if found:
            procedures = found[:1]
            break
    return dossiers, procedures


def _exports(folder: Path, pattern: str) -> list[Path]:
    """Export files matching ``pattern`` in ``folder``, judged by ``lstat`` (never resolved)."""
    found = sorted(p for p in folder.glob(pattern) if p.suffix.lower() in EXPORT_SUFFIXES)
    for p in found:
        if p.is_symlink():
            raise ValueError(
                f"{p}: the portal export is a symbolic link, and links are never followed (one "
                "could point anywhere on the server); copy or move the export itself there"
            )
    return [p for p in found if p.is_file()]


def _label(path: Path, home: DxHome) -> str:
    """The file's name in rows and notes: relative to DX_HOME as written (never resolved)."""
    try:
        return path.relative_to(home.root).as_posix()
    except ValueError:
        return path.as_posix()


def _typed_scan(
    con: duckdb.DuckDBPyConnection, home: DxHome, q: Quarter, files: list[Path], mapping: FieldMapping,
    scratch: Path,
) -> tuple[TypedDossiers | None, list[str]]:
    """portal_dossiers by the typed scan when there is one CSV export and the scan gives the
    mapping's result; else None, with a note saying why the mapping reads the file instead."""
    if len(files) != 1 or files[0].suffix.lower() != ".csv":
        return None, []
    configure(con, scratch / "spill", home.memory_for(INGEST_MEMORY))
    typed = write_typed_dossiers(con, home, q, files[0], _label(files[0], home), mapping, scratch)
    if isinstance(typed, str):
        label = _label(files[0], home)
        return None, [f"{label}: read through the field mapping, not the typed scan ({typed})"]
    return typed, []


def ingest_portal_files(
    home: DxHome, quarter: Quarter | str, source_dir: str | Path | None = None, *, typed_scan: bool = True
) -> PortalIngestResult:
    """Read a quarter's portal export files and write portal_dossiers, portal_rejects, procedures.

    A single CSV dossier export is read by the typed scan (:mod:`portal_typed`) when that gives
    the mapping's result, else (and with ``typed_scan=False``) through the mapping. Rerunning on
    the same files writes the same bytes. Raises ``FileNotFoundError`` naming the folder when
    the quarter has no dossier export.
    """
    q = quarter if isinstance(quarter, Quarter) else Quarter.parse(quarter)
    src_dir = Path(source_dir) if source_dir else home.portal_exports
    dossier_files, procedure_files = find_export_files(src_dir, q)
    if not dossier_files:
        raise FileNotFoundError(
            f"no portal dossier export for {q.label}: expected "
            f"{src_dir / f'quarter={q.label}'}/dossiers.csv (or .json, .xlsx)"
        )
    dm, pm = load_field_mapping("dossiers"), load_field_mapping("procedures")
    con = duckdb.connect()
    try:
        with tempfile.TemporaryDirectory(prefix="dx_portal_typed_") as tmp:
            typed, notes = (_typed_scan(con, home, q, dossier_files, dm, Path(tmp)) if typed_scan
                            else (None, []))
            d_sources = [] if typed else [file_source(con, p, _label(p, home), dm, numbered=False)
                                          for p in dossier_files]
            p_sources = [file_source(con, p, _label(p, home), pm, numbered=False) for p in procedure_files]
            return write_quarter(
                con, home, q, d_sources, p_sources, "files", notes=notes, dossier_mapping=dm,
                procedure_mapping=pm, typed=typed,
            )
    finally:
        con.close()


def read_portal_file(
    path: str | Path, kind: str = "dossiers", quarter: Quarter | str | None = None
) -> MappedTable:
    """Map one export file in memory (small files, tools and tests)."""
    path = Path(path)
    mapping = load_field_mapping(kind)
    q = Quarter.parse(quarter) if isinstance(quarter, str) else quarter
    con = duckdb.connect()
    try:
        src = file_source(con, path, path.name, mapping)
        mapping.check_columns(src.present, src.label)
        rows = con.sql(mapping.good_rows_sql(src.sql, src.present, q)).to_arrow_table()
        rejects = con.sql(mapping.rejects_sql(src.sql, src.present, q)).to_arrow_table()
        return MappedTable(rows.cast(mapping.output_schema()), rejects.cast(REJECTS_SCHEMA))
    finally:
        con.close()
