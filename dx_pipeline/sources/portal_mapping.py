"""The portal's field names -> the portal_dossiers contract (and the procedure catalogue).

The one place raw portal records become typed rows, for every way in: export files (CSV, JSON,
Excel), the HTTP API's landed pages, and in-memory records. The mapping itself is data,
``config/portal_fields.yaml``; this module turns it into DuckDB SQL so that millions of rows
are mapped vectorised and streamed, never one Python call per good row.

Input relations hold the portal's fields as strings plus two bookkeeping columns,
``_source_file`` (file or landed page) and ``_row`` (line number in the file, or item number in
a page). A value that cannot be read makes its whole row a reject; every bad value of that row
becomes one reject entry naming file, row, field, value and reason. Good rows go on.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from dx_pipeline.reference import schemas
from dx_pipeline.reference.config_files import need, read_mapping
from dx_pipeline.reference.quarters import Quarter

KINDS = ("dossiers", "procedures")
_SECTION = {"dossiers": "fields", "procedures": "procedure_fields"}
FIELD_TYPES = ("string", "int", "float", "bool", "datetime", "code")

_DUCK_TYPES = {
    pa.string(): "VARCHAR",
    pa.int8(): "TINYINT",
    pa.int16(): "SMALLINT",
    pa.int32(): "INTEGER",
    pa.int64(): "BIGINT",
    pa.float64(): "DOUBLE",
    pa.bool_(): "BOOLEAN",
    schemas.TS: "TIMESTAMP",
}

DERIVED_COLUMNS = {"paid_online": ("payment_channel", "v_payment_channel IN (1, 2)")}
"""Output column -> (the mapped column it is derived from, its SQL)."""
END_COLUMNS = ("finished_at", "returned_at", "stopped_at")
"""The dates on which a dossier's processing ends (a withdrawal is dated in stopped_at)."""
ENDED_STATUSES = ("finished", "returned", "stopped", "withdrawn")


def outside_quarter_sql(quarter: Quarter, col: Callable[[str], str]) -> str:
    """SQL, TRUE for a dossier that does not belong in ``quarter``'s export.

    A quarter's export holds the dossiers received in it and, with their state at this export,
    those received earlier and still open at its start: the judged KPIs (on time, overdue,
    satisfaction) count dossiers still being processed in the quarter, whenever received
    (:mod:`dx_pipeline.kpis.dossier_kpis`). Outside: received on or after the quarter's end;
    received before its start and ended before it (any end date before the start, or an ended
    status with no end date, which cannot show it was still open). ``col`` gives the SQL of a
    contract column (``received_at``, ``status`` and :data:`END_COLUMNS`), NULL when not exported.
    """
    start, end = _ts(quarter.start), _ts(quarter.end)
    received = col("received_at")
    ended = " OR ".join(f"{col(c)} < {start}" for c in END_COLUMNS)
    undated = " AND ".join(f"{col(c)} IS NULL" for c in END_COLUMNS)
    return (f"coalesce({received} >= {end} OR ({received} < {start} AND ({ended} OR ({undated} AND "
            f"{col('status')} IN ({_sql_list(ENDED_STATUSES)})))), FALSE)")


def _ts(day) -> str:
    return f"TIMESTAMP '{day.isoformat()}'"


REJECT_COLUMNS = tuple((c.name, c.type) for c in schemas.PORTAL_REJECTS.columns if c.name != "dataset")
REJECTS_SCHEMA = pa.schema([pa.field(n, t) for n, t in REJECT_COLUMNS])
"""One row per bad value of one export (``portal_rejects`` adds the ``dataset`` it came from)."""

PROCEDURE_TYPES = {
    "string": pa.string(),
    "float": pa.float64(),
    "int": pa.int64(),
    "bool": pa.bool_(),
    "datetime": schemas.TS,
    "code": pa.string(),
}


@dataclass(frozen=True)
class FieldSpec:
    """One portal field and how it is read."""

    name: str
    column: str
    type: str
    required: bool = False
    codes: Mapping[str, str] = field(default_factory=dict)
    allowed: tuple[Any, ...] = ()
    empty: Any = None


@dataclass(frozen=True)
class FieldMapping:
    """The fields of one portal export kind (``dossiers`` or ``procedures``)."""

    kind: str
    fields: tuple[FieldSpec, ...]
    datetime_formats: tuple[str, ...]
    bool_true: tuple[str, ...]
    bool_false: tuple[str, ...]
    source: str = ""

    @property
    def portal_names(self) -> list[str]:
        return [f.name for f in self.fields]

    @property
    def required(self) -> list[str]:
        return [f.name for f in self.fields if f.required]

    def output_columns(self) -> list[tuple[str, pa.DataType]]:
        """Columns of the mapped table, in order: the contract's for dossiers."""
        if self.kind == "dossiers":
            return [(c.name, c.type) for c in schemas.PORTAL_DOSSIERS.columns]
        cols = [(f.column, PROCEDURE_TYPES[f.type]) for f in self.fields]
        return cols + [("source_file", pa.string())]

    def output_schema(self) -> pa.Schema:
        return pa.schema([pa.field(n, t) for n, t in self.output_columns()])

    # ---------------------------------------------------------------- SQL generation
    def check_columns(self, present: Collection[str], where: str) -> None:
        """A file without a required field cannot be read at all: say so, naming the file."""
        missing = [n for n in self.required if n not in present]
        if missing:
            raise ValueError(
                f"{where}: required portal field(s) {', '.join(missing)} missing "
                f"(columns found: {', '.join(sorted(present)) or 'none'})"
            )

    def _field_sql(self, spec: FieldSpec, x: str, present: Collection[str]) -> tuple[str, str, str, str]:
        """SQL for one field of raw text ``x``: (parsed value, bad when parsed, bad when the
        parse gave NULL, reason for a bad value).

        Clean values (the export's own date format, ``1``/``0``, exact codes) are parsed
        straight from the raw text; only values that fail are trimmed and tried again in every
        accepted form - trimming every cell of 10M rows costs more than all the parsing. The
        checks read the parsed value (placeholder ``{p}``) computed once in an inner SELECT, so
        no parse runs twice, and the two halves of the check are picked by a CASE so the text
        is only looked at again for values that did not parse.
        """
        typ = spec.type
        t = f"NULLIF(TRIM({x}), '')"
        nonempty = f"coalesce(TRIM({x}) <> '', FALSE)"
        reason_sql = ""
        if spec.name not in present and not spec.required and typ == "bool":
            # A yes/no field the export does not carry at all is unknown, not "no": the KPIs
            # built on it are then missing rather than zero.
            return "CAST(NULL AS BOOLEAN)", "FALSE", "FALSE", "''"
        if_value = "FALSE"
        empty_maps = False  # an empty cell has a value (bools: no; codes with an "" entry)
        if typ == "string":
            value, if_null, reason = t, "FALSE", ""
        elif typ == "int":
            pattern = "'[-+]?[0-9]+(\\.0*)?'"
            # TRY_CAST: a whole number too large for BIGINT is a reject, not a crash
            value = (
                f"CASE WHEN regexp_full_match({x}, {pattern}) THEN TRY_CAST(CAST({x} AS DOUBLE) AS BIGINT) "
                f"WHEN regexp_full_match({t}, {pattern}) THEN TRY_CAST(CAST({t} AS DOUBLE) AS BIGINT) END"
            )
            if_null = nonempty
            reason = "not a whole number"
            if spec.allowed:
                allowed = ", ".join(str(int(a)) for a in spec.allowed)
                if_value = f"NOT list_contains([{allowed}], {{p}})"
                reason = f"not one of the allowed codes {allowed}"
                reason_sql = f"CASE WHEN {{p}} IS NULL THEN 'not a whole number' ELSE {_sql_str(reason)} END"
        elif typ == "float":
            value = f"coalesce(TRY_CAST({x} AS DOUBLE), TRY_CAST(REPLACE({t}, ',', '.') AS DOUBLE))"
            if_null = nonempty
            reason = "not a number"
        elif typ == "bool":
            low = f"LOWER(COALESCE(TRIM({x}), ''))"
            # CASE chains, not IN lists: DuckDB plans an IN list as a join evaluated for every
            # row, outside the CASE that should limit it to the rare values needing a trim
            whens = " ".join(
                [f"WHEN {_sql_str(w)} THEN TRUE" for w in self.bool_true]
                + [f"WHEN {_sql_str(w)} THEN FALSE" for w in self.bool_false]
            )
            on_null = "FALSE" if "" in self.bool_false else ("TRUE" if "" in self.bool_true else "NULL")
            value = (
                f"CASE WHEN {x} IS NULL THEN {on_null} ELSE CASE {x} {whens} ELSE "
                f"CASE {low} {whens} END END END"
            )
            if_null, empty_maps = "TRUE", True
            reason = "not a yes/no value (expected 1 or 0)"
        elif typ == "datetime":
            # the export's own format first (nearly every value), the others only when it fails
            fmts = ", ".join(_sql_str(f) for f in self.datetime_formats)
            first = _sql_str(self.datetime_formats[0])
            value = f"coalesce(try_strptime({x}, {first}), try_strptime({t}, [{fmts}]))"
            if_null = nonempty
            reason = "not a date-time (expected dd/mm/yyyy HH:MM:SS, dd/mm/yyyy or yyyyMMddHHmmss)"
        elif typ == "code":
            pairs = dict(spec.codes)
            for target in dict.fromkeys(spec.codes.values()):
                pairs.setdefault(target, target)
            whens = " ".join(f"WHEN {_sql_str(k)} THEN {_sql_str(val)}" for k, val in pairs.items())
            value = f"CASE {x} {whens} ELSE CASE COALESCE({t}, '') {whens} END END"
            empty_maps = "" in spec.codes
            if_null = "TRUE" if empty_maps else nonempty
            codes = ", ".join(repr(k) for k in spec.codes if k)
            reason = f"unknown code (expected one of {codes})"
        else:  # pragma: no cover - validated on load
            raise ValueError(f"unknown field type {typ}")
        reason_sql = reason_sql or _sql_str(reason)
        if spec.required:
            if_null = "TRUE"
            if empty_maps:
                if_value = f"(NOT {nonempty} OR {if_value})"
            reason_sql = f"CASE WHEN NOT {nonempty} THEN 'required field is empty' ELSE {reason_sql} END"
        return value, if_value, if_null, reason_sql

    def value_sql(self, spec: FieldSpec, x: str, present: Collection[str]) -> str:
        """The value the mapping reads from raw text ``x`` for one field, before an empty
        cell's default (``empty:``): NULL for an empty or unreadable value."""
        return self._field_sql(spec, x, present)[0]

    def typed_value_sql(self, spec: FieldSpec, x: str, present: Collection[str]) -> str:
        """The field's typed value (the ``v_`` column of :meth:`mapped_sql`) from raw text ``x``."""
        default = _empty_default(spec)
        value = self.value_sql(spec, x, present)
        return f"COALESCE({value}, {default})" if default else value

    def mapped_sql(
        self, relation: str, present: Collection[str], quarter: Quarter | None = None
    ) -> str:
        """ONE pass of the whole mapping over a raw relation, for materialising once.

        Columns: every field typed as ``v_<column>``, the keys ``k_dossier_id``/``k_agency_code``
        as sent (bad rows only), ``_source_file``, ``_row``, ``_bad`` (the row has a bad value)
        and ``_errors`` (list of {field, column, value, reason}; built only for bad rows).
        Nested SELECTs make each step run once per value: parse, then check, then explain.
        """
        raws, values, typed, checks, errors = [], [], [], [], []
        for i, spec in enumerate(self.fields):
            raw = _ident(spec.name) if spec.name in present else "CAST(NULL AS VARCHAR)"
            raws.append(f"CAST({raw} AS VARCHAR) AS _r{i}")
            value, if_value, if_null, reason = self._field_sql(spec, f"_r{i}", present)
            if (if_value, if_null) == ("FALSE", "FALSE"):
                bad = "FALSE"
            elif if_value == "FALSE":
                bad = f"CASE WHEN {{p}} IS NULL THEN {if_null} ELSE FALSE END"
            else:
                bad = f"CASE WHEN {{p}} IS NULL THEN {if_null} ELSE coalesce({if_value}, FALSE) END"
            values.append(f"{value} AS _p{i}")
            default = _empty_default(spec)
            typed.append(
                f"COALESCE(_p{i}, {default}) AS {_ident('v_' + spec.column)}" if default
                else f"_p{i} AS {_ident('v_' + spec.column)}"
            )
            bad = bad.replace("{p}", f"_p{i}")
            reason = reason.replace("{p}", f"_p{i}")
            checks.append(f"coalesce({bad}, FALSE) AS _b{i}" if bad != "FALSE" else f"FALSE AS _b{i}")
            errors.append(
                f"CASE WHEN _b{i} THEN {{'field': {_sql_str(spec.name)}, 'column': "
                f"{_sql_str(spec.column)}, 'value': _r{i}, 'reason': {reason}}} END"
            )
        bads = [f"_b{i}" for i in range(len(self.fields))]
        by_column = {f.column: i for i, f in enumerate(self.fields)}
        if quarter is not None and "received_at" in by_column:
            checks.append(f"{self._outside_quarter_sql(quarter, by_column, '_p')} AS _bq")
            bads.append("_bq")
            i = by_column["received_at"]
            errors.append(
                f"CASE WHEN _bq THEN {{'field': {_sql_str(self.fields[i].name)}, 'column': "
                f"'received_at', 'value': _r{i}, 'reason': "
                f"{self._outside_reason_sql(quarter, by_column)}}} END"
            )
        keys = []
        for col in ("dossier_id", "agency_code"):
            i = by_column.get(col)
            # kept for bad rows only: the rejects name them as sent, good rows carry v_ columns
            keys.append(
                f"CASE WHEN _bad THEN _r{i} END AS {_ident('k_' + col)}"
                if i is not None
                else f"CAST(NULL AS VARCHAR) AS {_ident('k_' + col)}"
            )
        v_cols = ", ".join(_ident("v_" + f.column) for f in self.fields)
        book = "_source_file, _row"
        raw_sel = (
            f"SELECT {', '.join(raws)}, CAST(_source_file AS VARCHAR) AS _source_file, "
            f"CAST(_row AS BIGINT) AS _row FROM {relation}"
        )
        parsed_sel = f"SELECT *, {', '.join(values)} FROM ({raw_sel})"
        checked_sel = f"SELECT *, {', '.join(typed)}, {', '.join(checks)} FROM ({parsed_sel})"
        flagged_sel = f"SELECT *, {' OR '.join(bads)} AS _bad FROM ({checked_sel})"
        return (
            f"SELECT {v_cols}, {', '.join(keys)}, {book}, _bad, CASE WHEN _bad THEN "
            f"list_filter([{', '.join(errors)}], lambda e: e IS NOT NULL) END AS _errors "
            f"FROM ({flagged_sel})"
        )

    def _outside_quarter_sql(self, quarter: Quarter, by_column: Mapping[str, int], prefix: str) -> str:
        """:func:`outside_quarter_sql` over the parsed values (``_p<i>``) of :meth:`mapped_sql`."""
        return outside_quarter_sql(
            quarter, lambda c: f"{prefix}{by_column[c]}" if c in by_column else "NULL"
        )

    def _outside_reason_sql(self, quarter: Quarter, by_column: Mapping[str, int]) -> str:
        """Why a row is outside ``quarter``'s export (see :func:`outside_quarter_sql`), as SQL text
        naming the date or status that places it elsewhere."""
        start, label = quarter.start.strftime("%d/%m/%Y"), quarter.label
        received = f"_p{by_column['received_at']}"
        whens = [f"WHEN {received} >= {_ts(quarter.end)} THEN "
                 + _sql_str(f"received after {label} ended: it belongs to a later quarter's export")]
        ends = [c for c in END_COLUMNS if c in by_column]
        for c in ends:
            i = by_column[c]
            whens.append(
                f"WHEN _p{i} < {_ts(quarter.start)} THEN "
                + _sql_str(f"received before {label} and ended before it began ({self.fields[i].name} ")
                + f" || _r{i} || "
                + _sql_str(f"): only dossiers still open on {start} are carried over into {label}")
            )
        names = ", ".join(self.fields[by_column[c]].name for c in ends) or "no end date exported"
        status = f"_p{by_column['status']}" if "status" in by_column else "''"
        other = (_sql_str(f"received before {label} with status ") + f" || {status} || "
                 + _sql_str(f" and no end date ({names} empty): cannot tell whether it was still "
                            f"open on {start}"))
        return f"CASE {' '.join(whens)} ELSE {other} END"

    def _column_expr(self, name: str, mapped: set[str]) -> str | None:
        """SQL filling output column ``name`` from the mapped fields, or None: left empty."""
        if name in mapped:
            return _ident("v_" + name)
        source, expr = DERIVED_COLUMNS.get(name, (None, None))
        if source in mapped:
            return expr
        return "_source_file" if name == "source_file" else None

    def filled_columns(self) -> frozenset[str]:
        """The output columns this mapping fills: mapped fields and what is derived from them
        (the others are written empty, and KPIs reading them are missing data)."""
        mapped = {f.column for f in self.fields}
        return frozenset(n for n, _ in self.output_columns() if self._column_expr(n, mapped) is not None)

    def output_sql(self, mapped: str, where: str = "NOT _bad") -> str:
        """SELECT of the output columns (contract types) from a :meth:`mapped_sql` relation."""
        fields = {f.column for f in self.fields}
        cols = []
        for name, typ in self.output_columns():
            expr = self._column_expr(name, fields) or "NULL"
            cols.append(f"CAST({expr} AS {_DUCK_TYPES[typ]}) AS {_ident(name)}")
        return f"SELECT {', '.join(cols)} FROM {mapped} WHERE {where}"

    @staticmethod
    def rejects_from_sql(mapped: str) -> str:
        """SELECT of one row per bad value from a :meth:`mapped_sql` relation, in row order."""
        return (
            "SELECT _source_file AS source_file, _row AS row_number, k_dossier_id AS dossier_id, "
            "k_agency_code AS agency_code, e.field AS field, e.column AS \"column\", "
            "e.value AS value, e.reason AS reason "
            f"FROM (SELECT _source_file, _row, k_dossier_id, k_agency_code, unnest(_errors) AS e "
            f"FROM {mapped} WHERE _bad)"
        )

    def good_rows_sql(
        self, relation: str, present: Collection[str], quarter: Quarter | None = None
    ) -> str:
        """SELECT of the rows without any bad value, cast to the output columns, in input order."""
        return self.output_sql(f"({self.mapped_sql(relation, present, quarter)})")

    def bad_count_sql(
        self, relation: str, present: Collection[str], quarter: Quarter | None = None
    ) -> str:
        """SELECT count(*) of the rows with at least one bad value."""
        return f"SELECT count(*) FROM ({self.mapped_sql(relation, present, quarter)}) WHERE _bad"

    def rejects_sql(
        self, relation: str, present: Collection[str], quarter: Quarter | None = None
    ) -> str:
        """SELECT of one row per bad value: file, row, keys, field, column, value, reason."""
        return self.rejects_from_sql(f"({self.mapped_sql(relation, present, quarter)})")


@dataclass(frozen=True)
class MappedTable:
    """Good rows (typed) and rejects (one per bad value) of one mapping run."""

    rows: pa.Table
    rejects: pa.Table

    @property
    def rejected_rows(self) -> int:
        """How many input rows were rejected (a row may have several bad values)."""
        if self.rejects.num_rows == 0:
            return 0
        keys = self.rejects.select(["source_file", "row_number"]).to_pylist()
        return len({(k["source_file"], k["row_number"]) for k in keys})


def default_fields_path() -> Path:
    """The packaged portal field mapping (``dx_pipeline/config/portal_fields.yaml``)."""
    return Path(str(resources.files("dx_pipeline") / "config" / "portal_fields.yaml"))


def load_field_mapping(kind: str = "dossiers", path: str | Path | None = None) -> FieldMapping:
    """Read and validate the field mapping for ``dossiers`` or ``procedures``."""
    if kind not in KINDS:
        raise ValueError(f"unknown portal export kind {kind!r} (expected one of {KINDS})")
    path = Path(path) if path else default_fields_path()
    doc = read_mapping(path)
    section = need(doc, _SECTION[kind], dict, path)
    specs = []
    for name, spec in section.items():
        where = f"{path}: {_SECTION[kind]}.{name}"
        if not isinstance(spec, dict) or "column" not in spec:
            raise ValueError(f"{where}: expected {{column: ..., type: ...}}")
        ftype = spec.get("type", "string")
        if ftype not in FIELD_TYPES:
            raise ValueError(f"{where}: type {ftype!r} is not one of {', '.join(FIELD_TYPES)}")
        if ftype == "code" and not spec.get("codes"):
            raise ValueError(f"{where}: a code field needs 'codes'")
        if kind == "dossiers" and spec["column"] not in schemas.PORTAL_DOSSIERS.names:
            raise ValueError(f"{where}: column {spec['column']!r} is not in the portal_dossiers contract")
        specs.append(
            FieldSpec(
                name=str(name),
                column=str(spec["column"]),
                type=ftype,
                required=bool(spec.get("required", False)),
                codes={str(k): str(v) for k, v in (spec.get("codes") or {}).items()},
                allowed=tuple(spec.get("allowed") or ()),
                empty=spec.get("empty"),
            )
        )
    return FieldMapping(
        kind=kind,
        fields=tuple(specs),
        datetime_formats=tuple(doc.get("datetime_formats") or ()),
        bool_true=tuple(str(s).lower() for s in doc.get("bool_true") or ()),
        bool_false=tuple(str(s).lower() for s in doc.get("bool_false") or ()),
        source=str(path),
    )


def records_to_table(
    records: Iterable[Mapping[str, Any]], names: Iterable[str], source_file: str, first_row: int = 1
) -> pa.Table:
    """Portal records (dicts, e.g. a JSON page) -> an all-string Arrow table with bookkeeping.

    Every value is kept as the text the portal sent (numbers via ``str``; ``None`` stays null),
    so the typed reading happens once, in the SQL mapping. Fields the records never carry are
    left out (and read as empty).
    """
    records = list(records)
    wanted = list(names)
    seen = set()
    for rec in records:
        seen.update(rec.keys())
    cols = [n for n in wanted if n in seen]
    arrays = {n: pa.array([_text(r.get(n)) for r in records], pa.string()) for n in cols}
    arrays["_source_file"] = pa.array([source_file] * len(records), pa.string())
    arrays["_row"] = pa.array(range(first_row, first_row + len(records)), pa.int64())
    return pa.table(arrays)


def map_table(
    data: "pa.Table | Any",
    kind: str = "dossiers",
    quarter: Quarter | str | None = None,
    mapping: FieldMapping | None = None,
    source_file: str = "records",
    con: duckdb.DuckDBPyConnection | None = None,
) -> MappedTable:
    """Map an in-memory table (Arrow, pandas or a list of dicts) of portal fields.

    For tables without ``_source_file``/``_row`` the given ``source_file`` and 1-based item
    numbers are used. Large inputs should go through the file readers, which stream.
    """
    mapping = mapping or load_field_mapping(kind)
    q = Quarter.parse(quarter) if isinstance(quarter, str) else quarter
    if isinstance(data, list):
        table = records_to_table(data, mapping.portal_names, source_file)
    else:
        table = data if isinstance(data, pa.Table) else pa.Table.from_pandas(data, preserve_index=False)
        if "_source_file" not in table.column_names:
            table = table.append_column("_source_file", pa.array([source_file] * table.num_rows, pa.string()))
        if "_row" not in table.column_names:
            table = table.append_column("_row", pa.array(range(1, table.num_rows + 1), pa.int64()))
    own = con is None
    con = con or duckdb.connect()
    try:
        con.register("_portal_raw", table)
        present = set(table.column_names)
        mapping.check_columns(present, source_file)
        rows = con.sql(mapping.good_rows_sql("_portal_raw", present, q)).to_arrow_table()
        rejects = con.sql(mapping.rejects_sql("_portal_raw", present, q)).to_arrow_table()
        con.unregister("_portal_raw")
    finally:
        if own:
            con.close()
    return MappedTable(rows.cast(mapping.output_schema()), rejects.cast(REJECTS_SCHEMA))


def empty_rejects() -> pa.Table:
    """An empty portal_rejects table with its contract's columns."""
    return REJECTS_SCHEMA.empty_table()


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _empty_default(spec: FieldSpec) -> str:
    """SQL of the value an empty int/float cell reads as (``empty:`` in the mapping), or ''."""
    if spec.empty is None or spec.type not in ("int", "float"):
        return ""
    return str(int(spec.empty)) if spec.type == "int" else repr(float(spec.empty))


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_str(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def _sql_list(items: Iterable[str]) -> str:
    return ", ".join(_sql_str(i) for i in items)
