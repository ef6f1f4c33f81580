"""Run a dataset's expectation suite on one quarter: DuckDB counts, Great Expectations judges.

Who evaluates what (so nobody is misled about what "GX validated" means here):

- **DuckDB, over the whole Parquet partition**, evaluates every check. Each GX expectation used
  in the suites is translated into SQL with the same semantics (nulls ignored by value checks,
  ``ignore_row_if="either_value_is_missing"`` for column pairs, the same ``where`` filter):
  all row-level predicates are counted in ONE scan (``count(*) FILTER (WHERE ...)``),
  uniqueness with one GROUP BY per key, and the few sample rows of every failing check are
  then read in one query by their position in the file.
  The custom rules (:mod:`dx_pipeline.quality.rules`) are DuckDB only. This is what keeps
  10 million dossiers well inside the issue's 15 s budget; GX on a 10M-row pandas frame does not.
- **Great Expectations 1.x** (ephemeral context, pandas datasource, whole-dataframe batch
  definition, one ValidationDefinition per dataset) runs the very same expectation objects on
  a bounded batch: the whole partition when it has at most ``gx_max_rows`` rows (registry,
  submissions, KPIs and index scores always do), otherwise ``gx_sample_rows`` rows taken from
  the start of two evenly spaced row groups. On a full batch GX is an independent second
  evaluation; on a sample it checks schema and types fully (they are column properties) and
  value rules only on the sample. A check passes only when DuckDB finds no failing row AND GX
  (if run) succeeds, so a disagreement can only make a check stricter, never hide a failure.
  The GX validation result of each check is kept on the outcome for the HTML report.

**Severity** is decided here, per run, from the counts: a failed check whose failing rows are
within its tolerance (:class:`dx_pipeline.quality.suites.Tolerance`, a share of the rows checked
and/or a count) gets severity WARN; beyond it, the check's declared severity (ERROR). The
outcome carries the rows checked and the rows allowed, and its ``expected`` text the tolerance,
so ``dq_results`` shows which severity applied and why.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import threading
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import duckdb
import pyarrow as pa

from dx_pipeline.quality import rules
from dx_pipeline.quality.suites import (
    Check,
    DatasetSuite,
    Severity,
    Where,
    gx_type_name,
)
from dx_pipeline.quality.suites import (
    suite as get_suite,
)
from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.storage import DxHome, parquet_file
from dx_pipeline.storage.duck import budgeted_connection
from dx_pipeline.storage.parquet import partition_path, sql_literal

log = logging.getLogger(__name__)

GX_MAX_ROWS = 200_000
GX_SAMPLE_ROWS = 20_000
SAMPLE_SIZE = 5
QUALITY_MEMORY = "1GB"
"""DuckDB memory budget of a suite (duplicate keys over every dossier id spill beyond it)."""


@dataclass
class CheckOutcome:
    """The result of one check on one dataset and quarter."""

    dataset: str
    check: str
    severity: str
    passed: bool
    observed: str
    expected: str
    failing_rows: int
    sample: list[dict[str, Any]] = field(default_factory=list)
    description: str = ""
    engine: str = ""
    gx: list[dict[str, Any]] | None = None
    """GX validation results (one per expectation) when GX ran this check."""
    checked: int = 0
    """Rows (or groups, for the custom rules) the check judged: the base of its tolerance."""
    allowed: int = 0
    """Failing rows the tolerance accepts as WARN out of ``checked``."""

    @property
    def blocking(self) -> bool:
        """A failed ERROR: Dagster stops the assets below (the check spec is blocking)."""
        return not self.passed and self.severity == "ERROR"

    def to_json_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self), default=_json_default))


def _json_default(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, float) and math.isnan(value):
        return None
    return str(value)


# --- SQL translation of the GX expectations the suites use ------------------------------------

def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def where_sql(where: Where | None) -> str:
    """A check's ``where`` filter as a DuckDB predicate (TRUE when there is none)."""
    if where is None:
        return "TRUE"
    col = _q(where.column)
    if where.op == "in":
        return f"{col} IN ({', '.join(_lit(v) for v in where.value)})"
    if where.op not in ("==", "!=", "<", "<=", ">", ">="):
        raise ValueError(f"unsupported where operator {where.op!r}")
    op = {"==": "=", "!=": "<>"}.get(where.op, where.op)
    return f"coalesce({col} {op} {_lit(where.value)}, FALSE)"


def _gx_condition(where: Where | None):
    if where is None:
        return None
    from great_expectations.expectations.row_conditions import Column

    col = Column(where.column)
    ops = {
        "==": col.__eq__, "!=": col.__ne__, "<": col.__lt__, "<=": col.__le__,
        ">": col.__gt__, ">=": col.__ge__, "in": col.is_in,
    }
    return ops[where.op](where.value)


@dataclass
class _Plan:
    """How DuckDB evaluates one expectation check."""

    check: Check
    predicates: list[str] = field(default_factory=list)  # row fails if any holds
    unique_keys: list[list[str]] = field(default_factory=list)
    table_problems: list[str] = field(default_factory=list)  # whole-table failures (schema)


def _column_set_problems(kw: dict[str, Any], schema: pa.Schema) -> list[str]:
    present = set(schema.names)
    absent = [c for c in kw["column_set"] if c not in present]
    extra = [c for c in schema.names if c not in kw["column_set"]] if kw.get("exact_match") else []
    return ([f"missing columns {absent}"] if absent else []) + (
        [f"unexpected columns {extra}"] if extra else []
    )


def _type_problems(kw: dict[str, Any], schema: pa.Schema) -> list[str]:
    actual = gx_type_name(schema.field(kw["column"]).type)
    return [] if actual == kw["type_"] else [f"{kw['column']} is {actual} (expected {kw['type_']})"]


def _not_null_fails(kw: dict[str, Any]) -> str:
    return f"{_q(kw['column'])} IS NULL"


def _between_fails(kw: dict[str, Any]) -> str:
    col, parts = _q(kw["column"]), []
    if kw.get("min_value") is not None:
        parts.append(f"{col} {'>' if kw.get('strict_min') else '>='} {_lit(kw['min_value'])}")
    if kw.get("max_value") is not None:
        parts.append(f"{col} {'<' if kw.get('strict_max') else '<='} {_lit(kw['max_value'])}")
    return f"{col} IS NOT NULL AND NOT ({' AND '.join(parts) or 'TRUE'})"


def _in_set_fails(kw: dict[str, Any]) -> str:
    col = _q(kw["column"])
    return f"{col} IS NOT NULL AND {col} NOT IN ({', '.join(_lit(v) for v in kw['value_set'])})"


def _pair_fails(kw: dict[str, Any]) -> str:
    a, b = _q(kw["column_A"]), _q(kw["column_B"])
    op = ">=" if kw.get("or_equal") else ">"
    return f"{a} IS NOT NULL AND {b} IS NOT NULL AND NOT ({a} {op} {b})"


_TABLE_CHECKS: dict[str, Callable[[dict[str, Any], pa.Schema], list[str]]] = {
    "ExpectTableColumnsToMatchSet": _column_set_problems,
    "ExpectColumnValuesToBeOfType": _type_problems,
}
"""Expectations about the table's schema: problems, not failing rows."""

_ROW_FAILS: dict[str, Callable[[dict[str, Any]], str]] = {
    "ExpectColumnValuesToNotBeNull": _not_null_fails,
    "ExpectColumnValuesToBeBetween": _between_fails,
    "ExpectColumnValuesToBeInSet": _in_set_fails,
    "ExpectColumnPairValuesAToBeGreaterThanB": _pair_fails,
}
"""Expectations on each row: the DuckDB condition under which a row fails (nulls ignored)."""

_UNIQUE_KEYS: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "ExpectColumnValuesToBeUnique": lambda kw: [kw["column"]],
    "ExpectCompoundColumnsToBeUnique": lambda kw: list(kw["column_list"]),
}
"""Uniqueness expectations: the key whose values must not repeat."""


def _plan(check: Check, schema: pa.Schema) -> _Plan:
    """How DuckDB evaluates ``check``'s expectations on a batch of ``schema`` (the same
    semantics as GX: nulls ignored by value checks, the check's ``where`` filter applied)."""
    plan = _Plan(check)
    present = set(schema.names)
    cond = where_sql(check.where)
    for exp in check.expectations:
        kw = dict(exp.kwargs)
        cols = [kw[k] for k in ("column", "column_A", "column_B") if k in kw]
        missing = [c for c in [*cols, *kw.get("column_list", [])] if c not in present]
        if missing:
            plan.table_problems.append(f"missing column {', '.join(missing)}")
        elif exp.gx_class in _TABLE_CHECKS:
            plan.table_problems += _TABLE_CHECKS[exp.gx_class](kw, schema)
        elif exp.gx_class in _ROW_FAILS:
            plan.predicates.append(f"({cond}) AND {_ROW_FAILS[exp.gx_class](kw)}")
        elif exp.gx_class in _UNIQUE_KEYS:
            plan.unique_keys.append(_UNIQUE_KEYS[exp.gx_class](kw))
        else:
            raise ValueError(f"check {check.name}: no DuckDB translation for {exp.gx_class}")
    return plan


def _records(cur: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _duplicated_values(con, keys: list[str], cond: str, table: str) -> str:
    """Materialise the duplicated values of ``keys`` (rows where ``cond`` holds and a key is
    set), each with its row count ``n``, into the temporary table ``table``; return its columns.

    Repeated key hashes are found first (8-byte keys: a far smaller aggregate than the text
    keys of every dossier), then the exact GROUP BY runs only over the rows carrying one of
    them - a hash collision costs a few more rows there, never a wrong answer. Materialised
    once, the result serves both the counts and the sample.
    """
    cols = ", ".join(_q(k) for k in keys)
    keyed = f"({cond}) AND ({' OR '.join(f'{_q(k)} IS NOT NULL' for k in keys)})"
    value = f"hash({cols})"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {table} AS "
        f"WITH repeated AS (SELECT {value} AS h FROM batch WHERE {keyed} GROUP BY h HAVING count(*) > 1) "
        f"SELECT {cols}, count(*) AS n FROM batch WHERE {keyed} AND {value} IN (SELECT h FROM repeated) "
        "GROUP BY ALL HAVING count(*) > 1"
    )
    return cols


ROW = "file_row_number"
"""The row's position in the partition file (DuckDB's ``file_row_number``), in view ``numbered``."""


_Duplicates = tuple[list[str], int, int, list[int]]
"""Per uniqueness key: (key, duplicated values, rows carrying them, sample positions)."""


@dataclass
class _Found:
    """What the scans found for one check, before its sample rows are read."""

    failing: int = 0
    at: list[int] = field(default_factory=list)
    """File positions of the first failing rows of the row predicates."""
    duplicates: list[_Duplicates] = field(default_factory=list)

    def positions(self) -> set[int]:
        return {*self.at, *(n for *_, at in self.duplicates for n in at)}


def _evaluate_plans(
    con, plans: list[_Plan], n_rows: int, sample_size: int, row_label: tuple[str, ...] = ()
) -> dict[str, tuple[int, int, str, list]]:
    """check name -> (failing rows, checked rows, observed text, sample rows).

    One scan counts every row predicate and notes the file positions of each check's first
    failing rows; each uniqueness key then costs one aggregate over key hashes
    (:func:`_duplicated_values`), which finds the duplicated values themselves, and a scan of
    the key columns for the positions of their rows. The sample rows of every check are then
    read in one query by position (:func:`_rows_at`): a sample query per failing check read
    every column of every row, a full scan per failed check.
    """
    live = [p for p in plans if not p.table_problems]
    checked, found = _count(con, live, n_rows, sample_size)
    for p in live:
        for keys in p.unique_keys:
            found[p.check.name].duplicates.append(_duplicates(con, keys, p.check.where, sample_size))
    rows_at = _rows_at(con, {n for f in found.values() for n in f.positions()})
    out = {}
    for p in plans:
        name = p.check.name
        if p.table_problems:
            out[name] = (n_rows, n_rows, "; ".join(p.table_problems), [])
        else:
            out[name] = _judged(p, found[name], checked[name], rows_at, sample_size, row_label)
    return out


def _count(
    con, plans: list[_Plan], n_rows: int, sample_size: int
) -> tuple[dict[str, int], dict[str, _Found]]:
    """(rows checked, what the row predicates found) per check, in one scan of ``numbered``."""
    exprs, slots = [], {}
    for p in plans:
        if p.check.where is not None:
            slots[(p.check.name, "checked")] = len(exprs)
            exprs.append(f"count(*) FILTER (WHERE {where_sql(p.check.where)})")
        if p.predicates:
            fails = " OR ".join(f"({x})" for x in p.predicates)
            slots[(p.check.name, "rows")] = len(exprs)
            # the count, and the first failing rows in file order (what "WHERE ... LIMIT n" gave)
            exprs += [f"count(*) FILTER (WHERE {fails})",
                      f"min({ROW}, {int(sample_size)}) FILTER (WHERE {fails})"]
    row = con.execute(f"SELECT {', '.join(exprs)} FROM numbered").fetchone() if exprs else None
    values: list[Any] = list(row) if row else []
    checked, found = {}, {}
    for p in plans:
        name = p.check.name
        checked[name] = int(values[slots[(name, "checked")]]) if (name, "checked") in slots else n_rows
        found[name] = _Found()
        if p.predicates:
            slot = slots[(name, "rows")]
            found[name] = _Found(int(values[slot]), sorted(values[slot + 1] or []))
    return checked, found


def _duplicates(con, keys: list[str], where: Where | None, sample_size: int) -> _Duplicates:
    """(key, duplicated values, rows carrying them, positions of the rows of the first values)."""
    cols = _duplicated_values(con, keys, where_sql(where), "_duplicated")
    groups, rows = con.execute("SELECT count(*), coalesce(sum(n), 0) FROM _duplicated").fetchall()[0]
    at = []
    if groups:  # only the key columns are read here; the rows themselves by position later
        at = [r[0] for r in con.execute(
            f"SELECT b.{ROW} FROM numbered b JOIN (SELECT {cols} FROM _duplicated ORDER BY {cols} "
            f"LIMIT {int(sample_size)}) d USING ({cols}) ORDER BY {cols}, b.{ROW} "
            f"LIMIT {2 * int(sample_size)}"
        ).fetchall()]
    return keys, int(groups), int(rows), at


def _judged(p: _Plan, found: _Found, checked: int, rows_at: dict[int, dict[str, Any]], sample_size: int,
            row_label: tuple[str, ...]) -> tuple[int, int, str, list]:
    """One check's (failing rows, checked rows, observed text, sample rows)."""
    failing, observed, sample = found.failing, [], []
    if p.predicates:
        observed.append(f"{failing} of {checked} rows fail")
        if failing:
            sample = [dict(rows_at[n]) for n in found.at]
            named = _row_names(sample, row_label)
            if named:
                observed[-1] += f": {named}" + (", ..." if failing > len(sample) else "")
    for keys, groups, rows, at in found.duplicates:
        sample += [dict(rows_at[n]) for n in at]
        failing += rows
        observed.append(f"{groups} duplicated ({', '.join(keys)}) values on {rows} of {checked} rows")
        if groups:
            dups = list(dict.fromkeys("/".join(str(r.get(k)) for k in keys) for r in sample))
            observed[-1] += ": " + ", ".join(dups[:sample_size]) + (", ..." if groups > len(dups) else "")
    return failing, checked, "; ".join(observed), sample


def _rows_at(con, positions: set[int]) -> dict[int, dict[str, Any]]:
    """The rows of ``batch`` at these file positions (one query, whatever the checks)."""
    if not positions:
        return {}
    listed = ", ".join(str(int(n)) for n in sorted(positions))
    cur = con.execute(
        f'SELECT {ROW} AS "__dq_row", * EXCLUDE ({ROW}) FROM numbered WHERE {ROW} IN ({listed})'
    )
    return {int(r.pop("__dq_row")): r for r in _records(cur)}


def _row_names(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> str:
    """``agency/indicator value=1.26``-style names of failing rows for the observed text, so the
    reader (and the KPI stage) sees which figures are suspect without opening the sample."""
    if not columns or not rows:
        return ""
    names = []
    for r in rows:
        keys = [str(r[c]) for c in columns if c in r and c != "value" and c != "points" and r[c] is not None]
        extra = [f"{c}={_short(r[c])}" for c in ("value", "points") if c in columns and c in r]
        names.append(" ".join(["/".join(keys)] + extra))
    return ", ".join(names)


def _short(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def _gx_batch(con, path, spec: DatasetSuite, n_rows: int, gx_max_rows: int, gx_sample_rows: int):
    """The rows GX sees: the whole partition, or the first rows of two evenly spaced row
    groups (decoding a few pages is cheap; a random sample over 10M rows is not). Enough for
    schema and types; value rules are counted on every row by DuckDB anyway.
    Returns (pandas frame, is_full)."""
    import numpy as np

    derived = "".join(f", {sql} AS {_q(name)}" for name, sql in spec.derived.items())
    if n_rows <= gx_max_rows:
        return _to_pandas(con.sql("SELECT * FROM batch").to_arrow_table()), True
    pf = parquet_file(path)
    groups = sorted({int(i) for i in np.linspace(0, pf.num_row_groups - 1, min(2, pf.num_row_groups))})
    parts = []
    for g in groups:
        batches = pf.iter_batches(batch_size=max(1, gx_sample_rows // len(groups)), row_groups=[g])
        parts.append(pa.Table.from_batches([next(batches)]))
    sample = pa.concat_tables(parts)
    con.register("gx_sample", sample)
    try:
        frame = _to_pandas(con.sql(f"SELECT *{derived} FROM gx_sample").to_arrow_table())
    finally:
        con.unregister("gx_sample")
    return frame, False


# --- Great Expectations on a bounded batch ----------------------------------------------------

_PANDAS_TYPES: dict[pa.DataType, Any] = {}


def _pandas_types_mapper(arrow_type: pa.DataType):
    """Nullable pandas dtypes, so an int8 column with nulls stays int8 for the GX type check."""
    import pandas as pd

    if not _PANDAS_TYPES:
        _PANDAS_TYPES.update({
            pa.int8(): pd.Int8Dtype(), pa.int16(): pd.Int16Dtype(), pa.int32(): pd.Int32Dtype(),
            pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype(),
        })
    return _PANDAS_TYPES.get(arrow_type)


def _to_pandas(table: pa.Table):
    return table.to_pandas(types_mapper=_pandas_types_mapper, date_as_object=False)


class _GxCache:
    """One ephemeral GX context per process and one validation definition per (dataset,
    selected checks), built on first use and reused by every later run in the process.

    Building is what costs: ``ExpectationSuite.add_expectation`` re-serialises the suite in the
    context's store on each call, about a second for the 39 expectations of the dossier suite
    (quadratic in the suite's size). Here the suite is built whole and added once. A lock keeps
    threads (e.g. an in-process executor running check steps concurrently) from sharing a GX
    run, which is not thread-safe.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._context = None
        self._batch_definition = None
        self._validations: dict[str, Any] = {}

    def _batch(self):
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        if self._context is None:
            context = gx.get_context(mode="ephemeral")
            context.variables.progress_bars = ProgressBarsConfig(globally=False)
            self._batch_definition = (
                context.data_sources.add_pandas("dx")
                .add_dataframe_asset("partition")
                .add_batch_definition_whole_dataframe("whole")
            )
            self._context = context
        return self._batch_definition

    def validation(self, dataset: str, checks: list[Check]):
        import great_expectations as gx

        key = repr((dataset, [(c.name, c.expectations, c.where) for c in checks]))
        found = self._validations.get(key)
        if found is not None:
            return found
        batch_definition = self._batch()
        expectations = []
        for check in checks:
            condition = _gx_condition(check.where)
            for exp in check.expectations:
                kwargs = dict(exp.kwargs)
                if condition is not None:
                    kwargs["row_condition"] = condition
                expectations.append(
                    getattr(gx.expectations, exp.gx_class)(**kwargs, meta={"check": check.name})
                )
        context = self._context
        if context is None:  # _batch() creates it; a None here is a bug, not bad input
            raise RuntimeError("the Great Expectations context was not created")
        name = f"dx_{dataset}_{len(self._validations)}"
        gx_suite = context.suites.add(gx.ExpectationSuite(name=name, expectations=expectations))
        validation = context.validation_definitions.add(
            gx.ValidationDefinition(name=name, data=batch_definition, suite=gx_suite)
        )
        self._validations[key] = validation
        return validation

    @property
    def contexts_created(self) -> int:
        return int(self._context is not None)


_GX = _GxCache()


def _gx_validate(dataset: str, checks: list[Check], frame) -> dict[str, list[dict[str, Any]]]:
    """Run the checks' expectations with GX on ``frame``; check name -> list of results."""
    with _GX.lock:
        validation = _GX.validation(dataset, checks)
        result = validation.run(batch_parameters={"dataframe": frame}, result_format="SUMMARY")
    by_check: dict[str, list[dict[str, Any]]] = {}
    for r in result.results:
        config = r.expectation_config
        if config is None:
            raise RuntimeError(f"GX returned a result of {dataset} without its expectation: {r}")
        meta = config.meta or {}
        item = {
            "expectation": config.type,
            "kwargs": {k: v for k, v in config.kwargs.items() if k not in ("batch_id", "row_condition")},
            "success": bool(r.success),
            "result": {
                k: v
                for k, v in (r.result or {}).items()
                if k
                in (
                    "observed_value",
                    "element_count",
                    "unexpected_count",
                    "unexpected_percent",
                    "missing_count",
                    "partial_unexpected_list",
                )
            },
        }
        if r.exception_info and r.exception_info.get("raised_exception"):
            item["exception"] = r.exception_info.get("exception_message")
        by_check.setdefault(meta.get("check", "?"), []).append(
            json.loads(json.dumps(item, default=_json_default))
        )
    return by_check


# --- the runner -------------------------------------------------------------------------------

def run_suite(
    dataset: str,
    home: DxHome,
    quarter: Quarter | str,
    *,
    checks: Iterable[str] | None = None,
    run_gx: bool = True,
    gx_max_rows: int = GX_MAX_ROWS,
    gx_sample_rows: int = GX_SAMPLE_ROWS,
    sample_size: int = SAMPLE_SIZE,
    threads: int | None = None,
) -> list[CheckOutcome]:
    """Run ``dataset``'s suite (or only the named ``checks``) on the quarter's partition.

    Raises ``FileNotFoundError`` naming the file when the partition does not exist.
    """
    q = quarter if isinstance(quarter, Quarter) else Quarter.parse(quarter)
    spec: DatasetSuite = get_suite(dataset)
    selected = _selected_checks(spec, dataset, checks)
    path = partition_path(home, dataset, q)
    if not path.exists():
        raise FileNotFoundError(f"{dataset} has no partition for {q.label} (looked for {path})")
    meta = parquet_file(path)
    n_rows = meta.metadata.num_rows
    derived = "".join(f", {sql} AS {_q(name)}" for name, sql in spec.derived.items())
    with budgeted_connection(QUALITY_MEMORY, home, prefix="dx_quality_") as con:
        if threads:
            con.execute(f"SET threads TO {int(threads)}")
        con.execute(
            f"CREATE VIEW batch AS SELECT *{derived} "
            f"FROM read_parquet({sql_literal(path)}, hive_partitioning = false)"
        )
        con.execute(  # the same rows with their position in the file, to read samples by
            f"CREATE VIEW numbered AS SELECT *{derived} "
            f"FROM read_parquet({sql_literal(path)}, hive_partitioning = false, file_row_number = true)"
        )
        gx_checks = [c for c in selected if c.expectations]
        plans = [_plan(c, meta.schema_arrow) for c in gx_checks]
        evaluated = _evaluate_plans(con, plans, n_rows, sample_size, spec.row_label)
        gx_results, engine = {}, "duckdb"
        if run_gx and gx_checks:
            frame, full = _gx_batch(con, path, spec, n_rows, gx_max_rows, gx_sample_rows)
            gx_results, engine = _second_opinion(dataset, q, gx_checks, frame, full)
        outcomes: list[CheckOutcome] = []
        for check in selected:
            if check.rule:
                ctx = rules.RuleContext(con, home, q, dataset, sample_size)
                outcomes.append(_rule_outcome(dataset, check, check.rule, ctx, n_rows))
            else:
                outcomes.append(
                    _expectation_outcome(dataset, check, evaluated[check.name], gx_results, engine)
                )
        return outcomes


def _selected_checks(spec: DatasetSuite, dataset: str, names: Iterable[str] | None) -> list[Check]:
    """The suite's checks, or those named (every name must be a check of the suite)."""
    wanted = set(names) if names is not None else None
    selected = [c for c in spec.checks if wanted is None or c.name in wanted]
    if wanted is not None and len(selected) != len(wanted):
        unknown = sorted(wanted - {c.name for c in selected})
        raise KeyError(f"{dataset} has no checks {unknown}")
    return selected


def _second_opinion(
    dataset: str, q: Quarter, checks: list[Check], frame: Any, full: bool
) -> tuple[dict[str, list[dict]], str]:
    """GX's results per check on ``frame`` and the engine text; when GX fails to run, no
    results and the reason in the engine text (DuckDB's verdict still stands)."""
    try:
        results = _gx_validate(dataset, checks, frame)
    except Exception as exc:  # GX is the second opinion; DuckDB's verdict still stands
        log.warning("GX validation of %s %s failed to run: %s", dataset, q.label, exc)
        return {}, f"duckdb (gx did not run: {exc})"
    return results, "duckdb + gx (all rows)" if full else f"duckdb + gx ({len(frame)}-row sample)"


def _rule_outcome(
    dataset: str, check: Check, rule: str, ctx: rules.RuleContext, n_rows: int
) -> CheckOutcome:
    """The verdict of ``check``'s custom ``rule`` (DuckDB only)."""
    res = rules.RULES[rule](ctx, **dict(check.params))
    checked = n_rows if res.checked is None else int(res.checked)
    return _outcome(
        dataset, check, res.passed, res.observed, res.failing_rows, checked,
        _clean(res.sample), "duckdb", None, counted=res.passed or res.failing_rows > 0,
    )


def _expectation_outcome(
    dataset: str, check: Check, evaluated: tuple, gx_results: dict[str, list[dict]], engine: str
) -> CheckOutcome:
    """An expectation check's verdict: DuckDB's count, made stricter (never looser) by GX."""
    failing, checked, observed, sample = evaluated
    gx = gx_results.get(check.name)
    gx_ok = gx is None or all(r["success"] for r in gx)
    if gx is not None and not gx_ok and failing == 0:
        observed += "; GX found failures DuckDB did not: " + _gx_summary(gx)
    return _outcome(
        dataset, check, failing == 0 and gx_ok, observed, failing, checked, _clean(sample),
        engine if gx is not None else "duckdb", gx, counted=failing > 0 or gx_ok,
    )


def _outcome(dataset: str, check: Check, passed: bool, observed: str, failing: int, checked: int,
             sample: list[dict], engine: str, gx: list[dict] | None, *, counted: bool) -> CheckOutcome:
    """The outcome with the severity that applied: a passed check keeps its declared severity
    (what it would block with); a failure within tolerance is a WARN, beyond it the declared
    severity. A failure that could not be counted (a rule that could not judge, GX finding
    what DuckDB did not) is not tolerated: nobody knows how bad it is."""
    allowed = check.tolerance.allowed(checked)
    if passed:
        severity = check.severity
    elif not counted:
        severity = check.severity
        observed += f"; failure not counted, so not tolerated: {check.severity}"
    else:
        severity = check.applied_severity(int(failing), checked)
        share = f"{failing / checked:.3%}" if checked else "n/a"
        if severity is Severity.WARN and check.severity is not Severity.WARN:
            observed += (
                f"; {failing} failing ({share}) within tolerance ({allowed} of {checked} allowed): WARN"
            )
        elif severity is not Severity.WARN:
            observed += (
                f"; {failing} failing ({share}) beyond tolerance ({allowed} of {checked} allowed): {severity}"
            )
    return CheckOutcome(
        dataset, check.name, str(severity), bool(passed), observed,
        f"{check.expected} (allowed {allowed} of {checked})", int(failing), sample, check.description,
        engine, gx, int(checked), int(allowed),
    )


def _gx_summary(results: list[dict]) -> str:
    bad = [r for r in results if not r["success"]]
    def observed(r: dict) -> object:
        return r["result"].get("observed_value", r["result"].get("unexpected_count"))

    return ", ".join(f"{r['expectation']}({r['kwargs'].get('column', '')}): {observed(r)}" for r in bad[:3])


def _clean(rows: list[dict]) -> list[dict]:
    """JSON-friendly sample rows (dates as ISO text, NaN as None)."""
    return [json.loads(json.dumps(r, default=_json_default)) for r in rows]
