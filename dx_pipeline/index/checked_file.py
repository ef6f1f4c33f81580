"""Checking a large Parquet long table for ``dx-pipeline score`` batch by batch, straight into the
grid the streamed engine scores (:func:`~dx_pipeline.index.streaming.score_grid_to_parquet`).

Why: :func:`~dx_pipeline.index.input_checks.check_table` reads the whole file as Python objects
and checks it row by row (1M units x 40 indicators, with the in-memory scoring: about a minute
and 12 GB). Here the same checks give the same answers (clean values, rejects with the file's
row numbers, skipped and clipped counts) without a frame of the file:

- codes are cleaned and resolved once per distinct entry of each batch's dictionaries, with
  ``check_table``'s own functions;
- values are checked by numpy where the answer is plain (a number of a rate, amount or the
  like, in range, or clipped where the framework says so); every other row (a blank or unknown
  code, an agency not in the registry, a value out of range under ``refuse``, a yes/no, level
  or count that is not plainly one, a number that may hold a thousands mark, an infinite one) goes through
  ``check_table``'s own row check;
- a repeated (unit, indicator) pair is found as the clean rows are placed; only when there was
  one, a second pass collects the rows of each repeated pair (all are refused, as in memory).

What streams (:func:`stream_problem`): a Parquet file with text codes, a numeric ``value`` and
no numerator/denominator; any other input is checked in memory.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from dx_pipeline.index.input_checks import (
    REJECT_COLUMNS,
    CheckRules,
    check_row,
    clean_text,
    drop_duplicates,
    refuse_file,
    resolve_input_code,
    rules_for,
    unit_range,
)
from dx_pipeline.index.inputs import select_units
from dx_pipeline.index.long_grid import LongGrid, batches
from dx_pipeline.reference.frameworks import Framework
from dx_pipeline.reference.quarters import Quarter

STREAM_ROWS = 1_000_000
"""Input rows from which ``dx-pipeline score`` streams a Parquet input by itself: from there the
in-memory way costs gigabytes and index_scores.csv is hundreds of megabytes."""
BATCH_ROWS = 1 << 20
_PLAIN_CODE = r"^[!-~]([ -~]*[!-~])?$"
"""A code ``clean_text`` leaves as it is: printable ASCII, no space at either end."""
# how a unit's number is checked by numpy; _SLOW: row by row with check_table's own check
_PLAIN, _WHOLE, _YES_NO, _MAYBE_GROUPED, _SLOW = range(5)
_KIND = {"count": _WHOLE, "bool": _YES_NO, "evidence": _YES_NO, "days": _MAYBE_GROUPED,
         "number": _MAYBE_GROUPED, "level": _SLOW}


def code_columns(names: list[str]) -> tuple[str | None, str | None]:
    """The agency and KPI code columns as ``check_table`` renames them (None: not streamable)."""
    agency = "agency_code" if "agency_code" in names else "unit" if "unit" in names else None
    if "kpi_code" in names:
        return agency, "kpi_code"
    aliases = [c for c in ("indicator", "indicator_code") if c in names]
    return agency, aliases[0] if len(aliases) == 1 else None


def _text(t: pa.DataType) -> bool:
    if pa.types.is_dictionary(t):
        t = t.value_type  # pyright: ignore[reportAttributeAccessIssue]
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def stream_problem(path: Path) -> str | None:
    """Why this input cannot be checked and scored streamed; None when it can."""
    if path.suffix.lower() != ".parquet" or not path.is_file():
        return "only a Parquet input is streamed"
    try:
        file = pq.ParquetFile(path)
    except (OSError, ValueError):
        return "its Parquet footer cannot be read"
    schema, names = file.schema_arrow, file.schema_arrow.names
    if file.metadata.num_rows == 0:
        return "it has no rows"
    agency, kpi = code_columns(names)
    if agency is None or kpi is None or "value" not in names:
        return "it lacks one of the columns agency_code, kpi_code, value"
    if {"numerator", "denominator"} & set(names):
        return "numerator/denominator columns are checked in memory only"
    for col in (agency, kpi, *(["quarter"] if "quarter" in names else [])):
        if not _text(schema.field(col).type):
            return f"its {col} column is not text ({schema.field(col).type})"
    value = schema.field("value").type
    if not (pa.types.is_floating(value) or pa.types.is_integer(value)):
        return f"its value column is not numeric ({value}): text values are read in memory"
    return None


def row_count(path: Path) -> int | None:
    """The rows of a Parquet file from its footer (None when it is not one)."""
    try:
        return pq.ParquetFile(path).metadata.num_rows
    except (OSError, ValueError):
        return None


@dataclass
class CheckedGrid:
    """What :func:`check_file` gave: the units to score and their values (``grid``, over the
    units), as ``check_table`` would have given them, and its rejects, skipped and clipped."""

    units: pd.DataFrame
    grid: LongGrid | None
    rejects: pd.DataFrame
    skipped: dict[str, int]
    clipped: int
    rows: int  # rows kept


@dataclass
class _Batch:
    flat: np.ndarray  # clean rows' grid positions (KPI row x axis width + agency position)
    values: np.ndarray
    rows: np.ndarray  # their file row numbers
    twice: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))  # positions named twice
    rejects: list[dict] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)
    clipped: int = 0


class _Checker:
    """One file's checks: the agencies' axis (every cleaned code of the file) and per grid row
    how its numbers are checked."""

    def __init__(self, path: Path, rules: CheckRules, codes: list[str], batch_rows: int):
        self.path, self.rules, self.batch_rows = path, rules, batch_rows
        names = pq.ParquetFile(path).schema_arrow.names
        agency, kpi = code_columns(names)
        assert agency is not None and kpi is not None
        self.columns = (agency, kpi, "value", *(["quarter"] if "quarter" in names else []))
        self.axis = _agency_axis(path, agency, batch_rows)
        self.allowed = (np.ones(len(self.axis), bool) if rules.agencies is None
                        else self.axis.isin(list(rules.agencies)))
        self.codes = {c: j for j, c in enumerate(codes)}
        specs = [rules.specs.get(c) for c in codes]
        self.kind = np.array([_KIND.get(s.unit, _PLAIN) if s else _SLOW for s in specs] + [_SLOW])
        ranges = [unit_range(s.unit) if s else (None, None, "") for s in specs]
        self.lo = np.array([-np.inf if r[0] is None else r[0] for r in ranges] + [-np.inf])
        self.hi = np.array([np.inf if r[1] is None else r[1] for r in ranges] + [np.inf])

    def batches(self):
        offset = 0
        for batch in batches(self.path, self.batch_rows, self.columns):
            yield offset, batch
            offset += len(batch)

    def check(self, batch: pa.RecordBatch, offset: int) -> _Batch:
        """A batch's clean rows (grid positions, values, row numbers) and its rejects."""
        a_col, k_col = batch.column(0), batch.column(1)
        a_dict, k_dict = a_col.dictionary, k_col.dictionary  # pyright: ignore[reportAttributeAccessIssue]
        a_idx = pc.fill_null(a_col.indices, -1).to_numpy()  # pyright: ignore[reportAttributeAccessIssue]
        k_idx = pc.fill_null(k_col.indices, -1).to_numpy()  # pyright: ignore[reportAttributeAccessIssue]
        a_pos_e = self.axis.get_indexer(pd.Index(_clean_codes(a_dict), dtype=object))
        a_ok_e = np.append(self.allowed, False)[a_pos_e]  # -1 (blank code): the appended False
        k_row_e, k_skip_e, k_codes = self._kpi_entries(k_dict)
        # one gather per row and column: -1 where the agency is refused (blank, not registered),
        # -2 where the KPI is a catalogue one the framework skips
        pos = np.append(np.where(a_ok_e, a_pos_e, -1), -1)[a_idx]
        krow = np.append(np.where(k_skip_e, -2, k_row_e), -1)[k_idx]
        a_ok = pos >= 0
        skip = a_ok & (krow == -2)
        x = pc.cast(batch.column(2), pa.float64()).to_numpy(zero_copy_only=False)  # pyright: ignore[reportAttributeAccessIssue]
        out = _Batch(np.empty(0, np.int64), np.empty(0), np.empty(0, np.int64))
        if skip.any():
            per_entry = np.bincount(k_idx[skip], minlength=len(k_codes))
            for j in np.flatnonzero(per_entry):
                out.skipped[k_codes[j]] += int(per_entry[j])
        used = np.unique(k_row_e[k_row_e >= 0])  # the grid rows this batch names
        fast = a_ok & (krow >= 0) & ~np.isinf(x)  # inf: refused by the row's own check
        if (self.kind[used] != _PLAIN).any():
            fast &= self._plain_numbers(x, krow)
        if len(set(self.lo[used])) == 1 and len(set(self.hi[used])) == 1:
            lo, hi = self.lo[used[0]], self.hi[used[0]]  # one range for the batch (all rates)
        else:
            lo, hi = self.lo[krow], self.hi[krow]
        with np.errstate(invalid="ignore"):
            outside = fast & ((x < lo) | (x > hi))
        if outside.any():
            if self.rules.clip:
                x = np.where(outside, np.clip(x, lo, hi), x)
                out.clipped = int(np.count_nonzero(outside))
            else:
                fast &= ~outside
        width = len(self.axis)
        rows = np.flatnonzero(fast)
        flat, values = krow[rows].astype(np.int64) * width + pos[rows], x[rows]
        slow = np.flatnonzero(~(fast | skip))
        if len(slow):
            more = self._row_by_row(slow, batch, a_idx, k_idx, x, pos, offset, out)
            rows = np.concatenate([rows, slow[more[0]]])
            flat, values = np.concatenate([flat, more[1]]), np.concatenate([values, more[2]])
        out.flat, out.values, out.rows = flat, values, rows.astype(np.int64) + offset + 2
        out.twice = _repeated_within(flat, rows, a_pos_e, a_idx, len(self.codes), width)
        return out

    def _kpi_entries(self, entries: pa.Array) -> tuple[np.ndarray, np.ndarray, list]:
        """Per dictionary entry: its grid row (-1: not a framework input), whether it is a
        catalogue KPI the framework skips, its cleaned code."""
        codes = [clean_text(c) for c in entries.to_pylist()]
        rows, skip = np.full(len(codes), -1, np.int64), np.zeros(len(codes), bool)
        for i, code in enumerate(codes):
            if code is None:
                continue
            resolved, why = resolve_input_code(code, self.rules)
            if resolved is not None:
                rows[i] = self.codes[resolved]
            skip[i] = resolved is None and why is None
        return rows, skip, codes

    def _plain_numbers(self, x: np.ndarray, krow: np.ndarray) -> np.ndarray:
        """Rows whose number ``parse_for_unit`` takes as it is (range aside), or blank."""
        kind = self.kind[krow]
        ok = np.isnan(x) | (kind == _PLAIN)
        with np.errstate(invalid="ignore"):
            ok |= (kind == _WHOLE) & np.isfinite(x) & (x == np.trunc(x))
            ok |= (kind == _YES_NO) & ((x == 0) | (x == 1))
            size = np.abs(x)
            # 1.234 could mean 1234 (its text has one dot and three digits): the row's own check
            maybe = (size >= 1) & (size < 1000) & (x != np.trunc(x)) & (
                np.abs(x * 1000 - np.rint(x * 1000)) < 1e-6)
            ok |= (kind == _MAYBE_GROUPED) & ~maybe
        return ok

    def _row_by_row(self, slow: np.ndarray, batch: pa.RecordBatch, a_idx: np.ndarray, k_idx: np.ndarray,
                    x: np.ndarray, pos: np.ndarray, offset: int, out: _Batch
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``check_table``'s own check of the rows numpy does not decide, as read_table gives
        them: (which of them are clean, their grid positions, their values)."""
        agencies = batch.column(0).dictionary.to_pylist()  # pyright: ignore[reportAttributeAccessIssue]
        kpis = batch.column(1).dictionary.to_pylist()  # pyright: ignore[reportAttributeAccessIssue]
        kept, flat, values = [], [], []
        width = len(self.axis)
        for n, i in enumerate(slow.tolist()):
            a, k = a_idx[i], k_idx[i]
            rec: dict[Hashable, Any] = {
                "_row": offset + i + 2, "agency_code": agencies[a] if a >= 0 else None,
                "kpi_code": kpis[k] if k >= 0 else None,
                "value": None if np.isnan(x[i]) else float(x[i]), "numerator": None, "denominator": None}
            row, bad, skipped, clipped = check_row(rec, self.rules)
            out.rejects += bad
            out.clipped += clipped
            if skipped is not None:
                out.skipped[skipped] += 1
            if row is not None:
                kept.append(n)
                flat.append(self.codes[row["kpi_code"]] * width + int(pos[i]))
                values.append(np.nan if row["value"] is None else row["value"])
        return (np.array(kept, np.int64), np.array(flat, np.int64), np.array(values, np.float64))


def _clean_codes(entries: pa.Array) -> np.ndarray:
    """``clean_text`` of each entry (object array, None where blank), Python only where needed."""
    strings = entries.cast(pa.large_string())
    plain = pc.fill_null(pc.match_substring_regex(strings, _PLAIN_CODE), False).to_numpy(  # pyright: ignore[reportAttributeAccessIssue]
        zero_copy_only=False)
    out = strings.to_numpy(zero_copy_only=False).astype(object)
    for i in np.flatnonzero(~plain):
        out[i] = clean_text(out[i])
    return out


def _agency_axis(path: Path, column: str, batch_rows: int) -> pd.Index:
    """Every cleaned agency code of the file, sorted: the grid's columns while checking."""
    seen: list[pa.Array] = []
    for batch in batches(path, batch_rows, (column,)):
        col = batch.column(0)
        used = col.dictionary.take(pc.unique(col.indices.drop_null()))  # pyright: ignore[reportAttributeAccessIssue]
        seen.append(pc.unique(used.cast(pa.large_string())))  # pyright: ignore[reportAttributeAccessIssue]
    if not seen:
        return pd.Index([], dtype=object)
    distinct = pc.unique(pa.concat_arrays(seen))  # pyright: ignore[reportAttributeAccessIssue]
    cleaned = pd.unique(pd.Series(_clean_codes(distinct), dtype=object).dropna())
    codes = pa.array(list(cleaned), type=pa.large_string())
    order = pc.sort_indices(codes).to_numpy()  # pyright: ignore[reportAttributeAccessIssue]
    return pd.Index(np.asarray(cleaned, dtype=object)[order], dtype=object)


def check_file(
    path: Path,
    fw: Framework,
    scored: Framework,
    *,
    catalogue: Mapping[str, Any],
    agencies: set[str] | None,
    registry: pd.DataFrame | None,
    quarter: Quarter | str | None,
    batch_rows: int = BATCH_ROWS,
) -> CheckedGrid:
    """Check a Parquet long table as ``check_table`` checks it under ``fw`` and read its clean
    rows into a grid over the units ``scored`` (``fw`` in force in the quarter) scores."""
    file = path.name
    rules = rules_for(fw, file, catalogue, agencies)
    inputs = [n.input_code for n in scored.indicators() if n.not_assessed is None and n.input_code]
    codes = list(dict.fromkeys([*rules.specs, *inputs]))
    checker = _Checker(path, rules, codes, batch_rows)
    grid = LongGrid.empty(codes, len(checker.axis))
    present, value = grid.present.reshape(-1), grid.value.reshape(-1)
    rejects: list[dict] = []
    skipped: Counter = Counter()
    clipped, quarters, repeated = 0, set(), []
    for offset, batch in checker.batches():
        if "quarter" in checker.columns:
            quarters |= _quarters(batch.column(3))
        part = checker.check(batch, offset)
        rejects += part.rejects
        skipped.update(part.skipped)
        clipped += part.clipped
        again = part.flat[present[part.flat]]
        present[part.flat] = True
        value[part.flat] = part.values
        if len(again) or len(part.twice):
            repeated.append(np.concatenate([again, part.twice]))
    if len(quarters) > 1:
        raise refuse_file(file, f"holds several quarters {sorted(quarters)}; score one quarter at a time",
                           "quarter")
    if repeated:
        rejects += _repeat_rejects(checker, np.unique(np.concatenate(repeated)), codes, file)
        flat = np.unique(np.concatenate(repeated))
        present[flat], value[flat] = False, np.nan
    out = pd.DataFrame(rejects, columns=REJECT_COLUMNS)
    out = out.sort_values("row", kind="stable", na_position="first").reset_index(drop=True)
    kept = int(np.count_nonzero(grid.present))
    used = np.asarray(grid.present.any(axis=0), dtype=bool)
    units = select_units(scored, checker.axis.to_numpy(dtype=object)[used], registry, quarter)
    return CheckedGrid(units, _over_units(grid, checker.axis, units) if kept else None, out,
                       dict(skipped), clipped, kept)


def _repeated_within(flat: np.ndarray, rows: np.ndarray, a_pos_e: np.ndarray, a_idx: np.ndarray, codes: int,
                     width: int) -> np.ndarray:
    """Grid positions that a batch's clean rows (``rows``: their places in the batch) name more
    than once: counted over the batch's own agencies (a bincount, not a sort of the rows)."""
    if len(flat) < 2:
        return np.empty(0, np.int64)
    ids, distinct = pd.factorize(a_pos_e)  # two dictionary entries of one cleaned code: one id
    bins = codes * len(distinct)
    if bins > 4 * len(flat) + (1 << 16):  # the batch's agencies are too many to count: sort
        s = np.sort(flat)
        return np.unique(s[1:][s[1:] == s[:-1]])
    key = (flat // width) * len(distinct) + ids[a_idx[rows]]
    counts = np.bincount(key, minlength=bins)
    if counts.max() < 2:
        return np.empty(0, np.int64)
    return np.unique(flat[counts[key] > 1])


def _repeat_rejects(checker: _Checker, flat: np.ndarray, codes: list[str], file: str) -> list[dict]:
    """Every row of each repeated (unit, indicator) pair, refused as ``check_table`` refuses them
    (a second pass over the file: a batch's clean rows again, those of the pairs kept)."""
    width = len(checker.axis)
    found = []
    for offset, batch in checker.batches():
        part = checker.check(batch, offset)
        hit = np.isin(part.flat, flat)
        found.append(pd.DataFrame({"_row": part.rows[hit], "flat": part.flat[hit]}))
    rows = pd.concat(found, ignore_index=True).sort_values("_row", kind="stable")
    rows["agency_code"] = checker.axis.to_numpy(dtype=object)[(rows["flat"] % width).to_numpy()]
    rows["kpi_code"] = np.asarray(codes, dtype=object)[(rows["flat"] // width).to_numpy()]
    return drop_duplicates(rows, file)[1]


def _quarters(col: pa.Array) -> set[str]:
    if pa.types.is_dictionary(col.type):
        col = col.dictionary.take(pc.unique(col.indices.drop_null()))  # pyright: ignore[reportAttributeAccessIssue]
    texts = (clean_text(q) for q in pc.unique(col).drop_null().to_pylist())  # pyright: ignore[reportAttributeAccessIssue]
    return {q for q in texts if q}


def _over_units(grid: LongGrid, axis: pd.Index, units: pd.DataFrame) -> LongGrid:
    """The grid over the scored units (itself when they are the file's agencies, as without a
    registry when every agency kept a row)."""
    codes = units["agency_code"].to_numpy(dtype=object)
    if len(codes) == len(axis) and (axis.to_numpy(dtype=object) == codes).all():
        return grid
    at = axis.get_indexer(pd.Index(codes, dtype=object))
    out = LongGrid.empty(list(grid.codes), len(codes))
    has = at >= 0
    out.value[:, has] = grid.value[:, at[has]]
    out.present[:, has] = grid.present[:, at[has]]
    return out

