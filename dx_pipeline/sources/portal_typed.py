"""The fast way in for a CSV dossier export: one typed, parallel scan straight to portal_dossiers.

What belongs here: reading one CSV export of dossiers with DuckDB's typed CSV reader, deciding
whether that reading is exactly what the reference mapping (:mod:`portal_mapping`) would give,
and writing the partition when it is. What does not: the mapping's rules and reasons (those stay
in ``portal_mapping``, the one place they live), other formats, the procedure catalogue.

How. DuckDB's CSV reader types each column inside its parallel scan: date-times with the
export's own format (the mapping's first), yes/no fields, codes and coded whole numbers as ENUMs
of exactly the texts the mapping reads without trimming, decimals as DOUBLE; other whole numbers
are read as text and put through the mapping's own expression. ``store_rejects`` keeps every
line holding a value the reader cannot type, whole, with its line number; the good rows go
straight into the partition file. The few rejected lines are then read again as text and put
through the reference mapping, which gives every bad value its reason exactly as before.

When this is not the reference's result, the scan is abandoned (:func:`write_typed_dossiers`
says why and nothing is written) and the caller runs the reference mapping:

- a rejected line the mapping accepts (an untidy but valid value: `` Có``, ``2.0``, an ISO date)
  - its row belongs in portal_dossiers, in file order;
- a row the reader accepts but the mapping rejects on a rule no column type expresses (an empty
  dossier id or agency code, a whole number with decimals, received after the quarter): such a
  value is written as NULL or out of range, so the written file's own statistics (null counts,
  min and max per row group) show it without another pass; a receipt before the quarter (a
  dossier carried over, still open at its start) is checked on the written rows, and one that
  had ended before the quarter sends the file to the mapping;
- a line the reader cannot split into fields (too many or too few, bad UTF-8), a blank line in
  a file with rejects (the reader counts blank lines in its line numbers, the mapping does not),
  an unusual dialect (rows to skip, comments), any reader or conversion error.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.sources.portal_mapping import FieldMapping, FieldSpec, outside_quarter_sql
from dx_pipeline.storage import DxHome
from dx_pipeline.storage.atomic import atomic_path
from dx_pipeline.storage.home import WarehousePath
from dx_pipeline.storage.parquet import PARTITION_FILE, QUERY_COPY_OPTIONS, sql_literal

DOSSIERS_TABLE = "portal_dossiers"
REJECTS_LIMIT = 100_000
"""Rejected values kept in memory from one scan; beyond it the reference mapping reads the file."""


class _NotReference(Exception):
    """The typed scan would not give the reference mapping's result: use the mapping instead."""


@dataclass(frozen=True)
class TypedDossiers:
    """What the typed scan wrote: the partition, and the rejected lines as mapped by the reference
    mapping (a FROM-able relation of :meth:`FieldMapping.mapped_sql` rows, all bad; None: none)."""

    path: WarehousePath
    label: str
    mapped_rejects: str | None
    typed_rows: int
    rejected_lines: int


@dataclass(frozen=True)
class _Column:
    """One export column in the typed scan: the reader's type and the value read from it."""

    name: str
    csv_type: str
    value: str  # SQL over the typed column, the mapping's v_<column> value


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _str(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def _enum(values: Collection[str]) -> str:
    return "ENUM(" + ", ".join(_str(v) for v in dict.fromkeys(values)) + ")"


def _default(spec: FieldSpec) -> str | None:
    """The mapping's value for an empty cell of an int/float field (``empty:``), as SQL."""
    if spec.empty is None:
        return None
    return str(int(spec.empty)) if spec.type == "int" else repr(float(spec.empty))


def _case(x: str, pairs: dict[str, str], on_null: str) -> str:
    whens = " ".join(f"WHEN {_str(k)} THEN {v}" for k, v in pairs.items())
    return f"CASE WHEN {x} IS NULL THEN {on_null} ELSE CASE CAST({x} AS VARCHAR) {whens} END END"


def _typed_column(mapping: FieldMapping, spec: FieldSpec, present: Collection[str]) -> _Column | None:
    """The typed reading of one field, or None when no reading is exactly the mapping's."""
    x = _ident(spec.name)
    if spec.type == "string":
        # required and empty after trimming: NULL, seen in the file's null count
        return _Column(spec.name, "VARCHAR", f"NULLIF(TRIM({x}), '')")
    if spec.required and spec.type != "datetime":
        return None  # an empty required code/number/yes-no cannot be told from the statistics
    if spec.type == "datetime":
        return _Column(spec.name, "TIMESTAMP", x)
    if spec.type == "float":
        return _Column(spec.name, "DOUBLE", f"coalesce({x}, {_default(spec)})" if _default(spec) else x)
    if spec.type == "bool":
        # the ENUM lists the yes words, then the no words; a word is yes when the mapping (which
        # tries the yes words first) reads it so: its place in the ENUM says which, an integer
        # comparison instead of a text CASE per value (about 0.2 CPU s per 1M rows)
        yes = list(dict.fromkeys(w for w in mapping.bool_true if w))
        words = list(dict.fromkeys([*yes, *(w for w in mapping.bool_false if w)]))
        on_null = "FALSE" if "" in mapping.bool_false else ("TRUE" if "" in mapping.bool_true else "NULL")
        value = f"CASE WHEN {x} IS NULL THEN {on_null} ELSE enum_code({x}) < {len(yes)} END"
        return _Column(spec.name, _enum(words), value)
    if spec.type == "code":
        pairs = {k: _str(v) for k, v in spec.codes.items() if k}
        pairs |= {v: _str(v) for v in spec.codes.values() if v not in pairs}
        on_null = _str(spec.codes[""]) if "" in spec.codes else "NULL"
        return _Column(spec.name, _enum(pairs), _case(x, pairs, on_null))
    default = _default(spec)
    if spec.allowed:
        pairs = {str(int(a)): str(int(a)) for a in spec.allowed}
        return _Column(spec.name, _enum(pairs), _case(x, pairs, default or "NULL"))
    if default is None:
        return None  # a bad whole number would be NULL like an empty cell: not visible afterwards
    # whole numbers as text, read by the mapping's own expression: a bad one is NULL (empty is the default)
    value = mapping.value_sql(spec, x, present)
    return _Column(spec.name, "VARCHAR", f"CASE WHEN {x} IS NULL THEN {default} ELSE {value} END")


@dataclass(frozen=True)
class _Dialect:
    """How the reference reader splits the file (DuckDB's sniffer with every column as text)."""

    delim: str
    quote: str
    escape: str
    new_line: str  # as the sniffer spells it (``\\n``, ``\\r\\n``), the reader's option
    columns: tuple[str, ...]  # as in the header
    usable: bool

    @property
    def line_end(self) -> str:
        """The line ending itself, for writing a file the reader splits alike."""
        return self.new_line.replace("\\r", "\r").replace("\\n", "\n") or "\n"

    def options(self) -> str:
        return (f"header = true, auto_detect = false, delim = {_str(self.delim)}, "
                f"quote = {_str(self.quote)}, escape = {_str(self.escape)}, "
                f"new_line = {_str(self.new_line)}, encoding = 'utf-8'")


def _sniff(con: duckdb.DuckDBPyConnection, path: Path) -> _Dialect:
    """The dialect :func:`portal_files.csv_source` reads the file with (the same sniffer call)."""
    try:
        rows = con.execute(
            "SELECT Delimiter, Quote, Escape, NewLineDelimiter, SkipRows, Comment, Columns "
            "FROM sniff_csv(?, all_varchar = true, header = true, encoding = 'utf-8')", [str(path)]
        ).fetchall()
    except duckdb.Error:
        rows = []
    if len(rows) != 1:
        return _Dialect("", "", "", "", (), False)
    delim, quote, escape, new_line, skip, comment, columns = rows[0]

    def text(v: str) -> str:
        return "" if v == "(empty)" else v

    names = tuple(str(c["name"]) for c in columns)
    usable = int(skip) == 0 and text(comment) == "" and len(text(delim)) == 1
    return _Dialect(text(delim), text(quote), text(escape), text(new_line), names, usable)


def _scan_sql(path: Path, dialect: _Dialect, mapping: FieldMapping, label: str, rejects: str) -> str | None:
    """SELECT of the output columns over the typed reader, every row it accepts (rejected lines
    go to the ``rejects`` table); None: the mapping has a field no typed reading matches."""
    clean = {c: c.strip().lstrip("\ufeff") for c in dialect.columns}
    present = set(clean.values())
    if len(present) != len(clean):
        return None  # two columns named alike: the reference picks by its own renaming
    typed = {}
    for spec in mapping.fields:
        if spec.name in present:
            col = _typed_column(mapping, spec, present)
            if col is None:
                return None
            typed[spec.name] = col
    types = {clean[c]: typed[clean[c]].csv_type if clean[c] in typed else "VARCHAR" for c in dialect.columns}
    columns = ", ".join(f"{_str(name)}: {_str(t)}" for name, t in types.items())
    not_null = ", ".join(_str(s.name) for s in mapping.fields if s.required and s.name in typed
                         and typed[s.name].csv_type == "TIMESTAMP")
    reader = (f"read_csv({sql_literal(path)}, {dialect.options()}, columns = {{{columns}}}, "
              f"timestampformat = {_str(mapping.datetime_formats[0])}, store_rejects = true, "
              f"rejects_table = {_str(rejects)}, rejects_scan = {_str(rejects + '_scan')}, "
              f"rejects_limit = {REJECTS_LIMIT}, force_not_null = [{not_null}])")
    values = []
    for spec in mapping.fields:
        value = (typed[spec.name].value if spec.name in typed
                 else mapping.typed_value_sql(spec, "CAST(NULL AS VARCHAR)", present))
        values.append(f"{value} AS {_ident('v_' + spec.column)}")
    relation = f"(SELECT {', '.join(values)}, {_str(label)} AS _source_file FROM {reader})"
    return mapping.output_sql(relation, where="TRUE")


def _check_statistics(con: duckdb.DuckDBPyConnection, written: Path, mapping: FieldMapping,
                      quarter: Quarter | None) -> None:
    """Raise :class:`_NotReference` when the file holds a row the mapping would reject: a NULL
    where the typed reading writes NULL only for a bad value, a receipt after the quarter, or a
    receipt before it (a carried-over dossier, :func:`outside_quarter_sql`) that had ended before
    it. Only the last needs a look at the rows, and only when the statistics show an earlier
    receipt: a scan of the few date columns of the file just written."""
    by_name = {s.column: s for s in mapping.fields}
    never_null = [c for c, s in by_name.items()
                  if (s.type == "string" and s.required) or (s.type == "int" and not s.allowed)]
    meta = pq.ParquetFile(written).metadata
    index = {meta.schema.column(i).name: i for i in range(meta.num_columns)}
    earlier = False
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        for name in never_null:
            stats = group.column(index[name]).statistics
            if stats is None or not stats.has_null_count or stats.null_count:
                raise _NotReference(f"{name}: empty or unreadable values")
        if quarter is not None and "received_at" in index:
            stats = group.column(index["received_at"]).statistics
            if stats is None or not stats.has_min_max:
                raise _NotReference("received_at: no statistics")
            start, end = (dt.datetime.combine(d, dt.time()) for d in (quarter.start, quarter.end))
            if stats.max >= end:
                raise _NotReference("received_at: outside the quarter")
            earlier = earlier or stats.min < start
    if earlier and quarter is not None:
        mapped = {s.column for s in mapping.fields}
        outside = outside_quarter_sql(quarter, lambda c: _ident(c) if c in mapped else "NULL")
        [(n,)] = con.execute(f"SELECT count(*) FROM read_parquet({sql_literal(written)}) "
                             f"WHERE {outside}").fetchall()
        if n:
            raise _NotReference("received_at: received before the quarter and ended before it")


class _BlankLines(threading.Thread):
    """Finds whether a file has a blank line, reading it in chunks beside the typed scan.

    The reader skips blank lines, but its line numbers then drift from the records' (it counts
    them, and with ``\\r\\n`` line ends it miscounts lines before them too); the reference
    numbers records. So rejected lines in a file with a blank line go through the reference.
    Searching costs a read of the file from the page cache (about 1 s per GB on one core),
    done while DuckDB's threads parse it; a blank line inside a quoted value counts too (then
    the reference reads the file: slower, never wrong).
    """

    CHUNK = 16 << 20

    def __init__(self, path: Path, line_end: str):
        super().__init__(name="dx-blank-lines", daemon=True)
        self.path = path
        self.patterns = {"\r": [b"\r\r"], "\r\n": [b"\n\n", b"\n\r\n"]}.get(line_end, [b"\n\n"])
        self.first: int | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.first = self._find()
        except BaseException as exc:  # reported to the caller, which then reads the reference way
            self.error = exc

    def _find(self) -> int | None:
        keep = max(len(p) for p in self.patterns) - 1  # a pattern may straddle two chunks
        buf = bytearray(keep + self.CHUNK)  # buf[:keep]: the previous chunk's last bytes
        view = np.frombuffer(buf, dtype=np.uint8)
        pos = 0  # file offset of buf[keep]
        first = True
        with open(self.path, "rb", buffering=0) as fh:
            while n := fh.readinto(memoryview(buf)[keep:]):
                start = keep if first else 0  # no previous chunk: buf[:keep] is not the file's
                hits = [i for i in (_first_match(view[start:keep + n], p) for p in self.patterns) if i >= 0]
                if hits:
                    return pos - keep + start + min(hits)
                buf[:keep] = buf[n:keep + n]
                pos += n
                first = False
        return None

    def found(self) -> bool:
        """Whether the file has a blank line (True when the search itself failed)."""
        self.join()
        return self.error is not None or self.first is not None


def _first_match(data: np.ndarray, pattern: bytes) -> int:
    """Offset of the first ``pattern`` in ``data`` (bytes as uint8), or -1.

    Vectorised byte comparisons: ``bytes.find`` stops at every line end when the pattern is
    two line ends (about 3.4 CPU s for a 2 GB export, against 1 s this way).
    """
    k = len(pattern)
    if len(data) < k:
        return -1
    m = len(data) - k + 1
    hit = data[:m] == pattern[0]
    for j in range(1, k):
        hit &= data[j:j + m] == pattern[j]
    found = np.flatnonzero(hit)
    return int(found[0]) if len(found) else -1


def _rejected_lines(con: duckdb.DuckDBPyConnection, rejects: str) -> list[tuple[int, str]]:
    """(line, text) of each line the reader rejected, in order; raises
    :class:`_NotReference` unless every error is a value it could not type."""
    rows = con.execute(
        f"SELECT line, bool_and(error_type = 'CAST'), any_value(csv_line), count(*) "
        f"FROM {_ident(rejects)} GROUP BY line ORDER BY line"
    ).fetchall()
    if sum(r[3] for r in rows) >= REJECTS_LIMIT:
        raise _NotReference("too many rejected lines to keep in memory")
    if not all(r[1] for r in rows):
        raise _NotReference("a line the reader could not split into fields")
    # the reader's text of a line may start with the line ending before it
    return [(int(line), str(text).lstrip("\r\n")) for line, _, text, _ in rows]


def _map_rejected_lines(con: duckdb.DuckDBPyConnection, lines: list[tuple[int, str]], dialect: _Dialect,
                        mapping: FieldMapping, quarter: Quarter | None, label: str, scratch: Path) -> str:
    """Read the rejected lines again as text, through the reference mapping, to a scratch file;
    return a relation over it. Raises :class:`_NotReference` if the mapping accepts one of them."""
    q = dialect.quote

    def quoted(name: str) -> str:
        return q + name.replace(q, q + q) + q if q else name

    text = scratch / "rejected_lines.csv"
    with open(text, "w", encoding="utf-8", newline="") as fh:
        fh.write(dialect.delim.join(quoted(c) for c in dialect.columns) + dialect.line_end)
        for _, line in lines:
            fh.write(line + dialect.line_end)
    renamed = ", ".join(f"{_ident(c)} AS {_ident(c.strip().lstrip(chr(0xFEFF)))}" for c in dialect.columns)
    as_text = ", ".join(f"{_str(c)}: 'VARCHAR'" for c in dialect.columns)
    numbers = pa.table({"_i": range(1, len(lines) + 1), "_row": [n for n, _ in lines]})
    con.register("_dx_rejected_lines", numbers)
    raw = (f"(SELECT {renamed}, {_str(label)} AS _source_file, l._row FROM "
           f"(SELECT *, row_number() OVER () AS _i FROM read_csv({sql_literal(text)}, {dialect.options()}, "
           f"columns = {{{as_text}}})) JOIN _dx_rejected_lines AS l USING (_i))")
    present = {c.strip().lstrip("\ufeff") for c in dialect.columns}
    mapped = scratch / "rejected_lines.parquet"
    con.execute(f"COPY ({mapping.mapped_sql(raw, present, quarter)} ORDER BY _row) TO {sql_literal(mapped)} "
                "(FORMAT parquet)")
    con.unregister("_dx_rejected_lines")
    relation = f"(SELECT * FROM read_parquet({sql_literal(mapped)}))"
    [(total, good)] = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE NOT _bad) FROM {relation}").fetchall()
    if total != len(lines):
        raise _NotReference("the rejected lines do not read back one record each")
    if good:
        raise _NotReference("a rejected line holds an untidy but valid row")
    return relation


def write_typed_dossiers(
    con: duckdb.DuckDBPyConnection, home: DxHome, quarter: Quarter, path: Path, label: str,
    mapping: FieldMapping, scratch: Path,
) -> TypedDossiers | str:
    """Write ``quarter``'s portal_dossiers partition from one CSV export in one typed scan, when
    that gives exactly the reference mapping's rows; return what was written, or why not (then
    nothing was written: map the file the reference way). ``scratch`` must outlive the result."""
    dialect = _sniff(con, path)
    present = {c.strip().lstrip("\ufeff") for c in dialect.columns}
    if not dialect.usable or any(n not in present for n in mapping.required):
        return "an unusual dialect or a required column missing"
    rejects = "_dx_csv_rejects"
    drop = f"DROP TABLE IF EXISTS {_ident(rejects)}; DROP TABLE IF EXISTS {_ident(rejects + '_scan')}"
    con.execute(drop)
    sql = _scan_sql(path, dialect, mapping, label, rejects)
    if sql is None:
        return "a field of the mapping has no typed reading"
    target = home.partition_dir(DOSSIERS_TABLE, quarter) / PARTITION_FILE
    blank = _BlankLines(path, dialect.line_end)
    blank.start()
    try:
        with atomic_path(target) as tmp:
            written = con.execute(f"COPY ({sql}) TO {sql_literal(tmp)} ({QUERY_COPY_OPTIONS})").fetchall()
            _check_statistics(con, tmp, mapping, quarter)
            lines = _rejected_lines(con, rejects)
            if lines and blank.found():
                raise _NotReference("a blank line in a file with rejected lines: line numbers would differ")
            if lines and lines[-1][0] > written[0][0] + len(lines) + 1:
                raise _NotReference("rejected line numbers beyond the file's records")
            mapped = (_map_rejected_lines(con, lines, dialect, mapping, quarter, label, scratch)
                      if lines else None)
    except _NotReference as exc:
        return str(exc)
    except duckdb.Error as exc:
        return f"the typed reader failed: {str(exc).splitlines()[0]}"
    finally:
        con.execute(drop)
        blank.join()
    return TypedDossiers(target, label, mapped, int(written[0][0]) if written else 0, len(lines))
