"""The long table pivoted once into one array per KPI over the scored units, for scoring in chunks.

Why: a million units x 40 indicators is 40 million long rows; the in-memory engine keeps them
as a :class:`~dx_pipeline.index.inputs.LongTable` (ids and values per row) and finds each KPI's
rows per call. Scoring chunk after chunk of units wants each KPI's values at the units'
positions instead: ``value[kpi]`` is one float64 array over all units (8 bytes x units x KPIs,
320 MB at 1M x 40), a chunk of units is a slice of it. A Parquet long table is read row group
by row group (each batch read, checked and cleaned by :func:`~dx_pipeline.index.inputs.read_long`
as the in-memory engine reads the whole table), so the 40 million rows are never held at once.
A batch of the plain kind (codes as dictionaries, numbers in ``value``) skips the frame: its
dictionaries are cleaned once per entry and its rows placed by integer positions (at 200k x 40
the read went from 1.5 to 0.6 s); any other batch, or one with a fault, goes through
``read_long``, which says what is wrong. Batches are decoded, and a plain batch's positions
found, on reading threads one batch ahead of the placing (main-thread CPU of the read at 200k
x 40: 0.42 -> 0.15 s).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from dx_pipeline.index.inputs import ALIASES, LongTable, read_long

T = TypeVar("T")

CODE_COLUMNS = ("agency_code", "kpi_code", *ALIASES)
"""Columns of a long table holding codes (read as dictionaries: each distinct code once)."""
READ_COLUMNS = (*CODE_COLUMNS, "value", "numerator", "denominator", "quarter")
"""The columns the engine reads from a long table file; others are not read."""


@dataclass
class LongGrid:
    """Each KPI's rows of a long table at the scored units' positions (NaN / False where a
    unit has no row); text values that are not numbers kept sparse, per KPI."""

    codes: dict[str, int]  # KPI code -> row of the arrays below
    value: np.ndarray  # (KPIs, units) float64
    present: np.ndarray  # (KPIs, units) bool: the unit has a row for the KPI
    numerator: np.ndarray | None = None  # (KPIs, units), None when no row had the column
    denominator: np.ndarray | None = None
    raw_value: dict[int, list[tuple[np.ndarray, np.ndarray]]] = field(default_factory=dict)

    @classmethod
    def empty(cls, codes: list[str], units: int) -> LongGrid:
        k = len(codes)
        return cls({c: j for j, c in enumerate(codes)}, np.full((k, units), np.nan),
                   np.zeros((k, units), dtype=bool))

    def add(self, table: LongTable, unit_of: np.ndarray, source: str) -> None:
        """Place a long table's rows (``unit_of``: unit position per table agency, -1 where not
        scored); a pair already placed by an earlier part of the same input is refused."""
        col_of = np.array([self.codes.get(str(c), -1) for c in table.kpis] + [-1], dtype=np.int64)
        col = col_of[table.kpi_id]
        pos = unit_of[table.agency_id] if len(unit_of) else np.full(len(table), -1, dtype=np.int64)
        keep = np.flatnonzero((col >= 0) & (pos >= 0))
        col, pos = col[keep], pos[keep]
        again = self.present[col, pos]
        if again.any():
            first = keep[np.flatnonzero(again)[:5]]
            pairs = ", ".join(f"{table.agencies[table.agency_id[i]]}/{table.kpis[table.kpi_id[i]]}"
                              for i in first)
            raise ValueError(f"{source}: {int(again.sum())} rows repeat an (agency_code, kpi_code) pair, "
                             f"e.g. {pairs}; keep one value per agency and KPI")
        self.present[col, pos] = True
        self.value[col, pos] = table.value[keep]
        for name in ("numerator", "denominator"):
            given = getattr(table, name)
            if given is None:
                continue
            if getattr(self, name) is None:
                setattr(self, name, np.full(self.value.shape, np.nan))
            getattr(self, name)[col, pos] = given[keep]
        if table.raw_value is not None:
            raw = table.raw_value[keep]
            text = np.flatnonzero(pd.notna(raw))
            for j in np.unique(col[text]):
                here = text[col[text] == j]
                self.raw_value.setdefault(int(j), []).append((pos[here], raw[here]))

    def raw_values(self, j: int, start: int, stop: int) -> np.ndarray | None:
        """The texts that are not numbers of KPI row ``j`` for units ``start:stop`` (object
        array, None where a number or nothing), or None when the KPI has none there."""
        parts = self.raw_value.get(j)
        if not parts:
            return None
        out = np.full(stop - start, None, dtype=object)
        for pos, texts in parts:
            inside = (pos >= start) & (pos < stop)
            out[pos[inside] - start] = texts[inside]
        return out


def unit_positions(agencies: np.ndarray, units: pd.Index) -> np.ndarray:
    """Position among the scored units of each distinct agency code of a table, -1 if not scored."""
    return units.get_indexer(pd.Index(agencies, dtype=object)).astype(np.int64)


def grid_of_table(table: LongTable, units: pd.Index, codes: list[str], source: str) -> LongGrid:
    """A long table already read (a frame given by the caller) as a grid."""
    grid = LongGrid.empty(codes, len(units))
    grid.add(table, unit_positions(table.agencies, units), source)
    return grid


def grid_of_file(path: str | os.PathLike, units: pd.Index, codes: list[str], source: str,
                 batch_rows: int = 1 << 20) -> LongGrid:
    """A Parquet long table read ``batch_rows`` at a time into a grid."""
    grid = LongGrid.empty(codes, len(units))
    quarters: set[str] = set()
    width = grid.value.shape[1]
    # a plain batch's positions are found on the reading thread, beside the placing of the last
    read = ((batch, _plain_rows(batch, grid.codes, width, units)) for batch in batches(path, batch_rows))
    for batch, plain in _ahead(read):
        if plain is not None and _place(grid, *plain, quarters, source):
            # the reading threads' freed batches back to the system: Arrow's allocator keeps
            # them per thread, ~50 MB more at the peak of a 1M x 40 read without this
            pa.default_memory_pool().release_unused()
            continue
        frame = batch.to_pandas()
        if "quarter" in frame.columns:
            quarters |= {str(q) for q in frame["quarter"].dropna().unique()}
            if len(quarters) > 1:
                raise ValueError(f"{source}: holds several quarters {sorted(quarters)}; "
                                 f"score one quarter at a time")
        table = read_long(frame, source)
        grid.add(table, unit_positions(table.agencies, units), source)
    return grid


def _plain_rows(batch: pa.RecordBatch, codes: dict[str, int], width: int, units: pd.Index
                ) -> tuple[np.ndarray, np.ndarray, set[str]] | None:
    """A batch of the plain kind (agency and KPI codes as dictionaries of text, ``value``
    numbers, no numerator or denominator) as (flat grid position per row kept, its number, the
    batch's quarters), straight from its Arrow columns: codes cleaned once per dictionary entry,
    no frame of the batch. None for any other batch or one with a fault (a blank code, a pair
    repeated within it): :func:`~dx_pipeline.index.inputs.read_long` then reads it and says what
    is wrong.

    The same cleaning as ``read_long``: codes stripped (two entries may become one code), a
    repeated pair refused, unknown KPIs and units skipped."""
    names = batch.schema.names
    if not {"agency_code", "kpi_code", "value"} <= set(names) or {"numerator", "denominator"} & set(names):
        return None
    agency, kpi, value = (batch.column(c) for c in ("agency_code", "kpi_code", "value"))
    numeric = pa.types.is_floating(value.type) or pa.types.is_integer(value.type)
    if not (numeric and _text_dictionary(agency) and _text_dictionary(kpi)
            and agency.null_count == 0 and kpi.null_count == 0):
        return None
    seen = _quarters(batch) if "quarter" in names else set()
    if seen is None:
        return None
    a_code, a_id, a_blank = _entries(agency.dictionary)  # pyright: ignore[reportAttributeAccessIssue]
    k_code, k_id, k_blank = _entries(kpi.dictionary)  # pyright: ignore[reportAttributeAccessIssue]
    a_idx = agency.indices.to_numpy()  # pyright: ignore[reportAttributeAccessIssue]
    k_idx = kpi.indices.to_numpy()  # pyright: ignore[reportAttributeAccessIssue]
    if (a_blank.any() and a_blank[a_idx].any()) or (k_blank.any() and k_blank[k_idx].any()):
        return None
    n_a, n_k = int(a_id.max(initial=-1)) + 1, int(k_id.max(initial=-1)) + 1
    if n_a * n_k > 4 * max(len(batch), 1 << 16):
        return None  # too many pairs to count cheaply
    # int32 per row where it holds (a batch's pairs are at most 4x its rows): a row costs less
    pairs = k_id.astype(np.int32)[k_idx] * np.int32(n_a) + a_id.astype(np.int32)[a_idx]
    if len(batch) and np.bincount(pairs, minlength=n_a * n_k).max() > 1:
        return None
    del pairs
    col = np.array([codes.get(c, -1) for c in k_code], dtype=np.int32)[k_id][k_idx]
    pos = unit_positions(a_code, units).astype(np.int32)[a_id][a_idx]
    keep = (col >= 0) & (pos >= 0)
    flat = col.astype(np.int64) * width + pos
    del col, pos
    numbers = pc.cast(value, pa.float64()).to_numpy(zero_copy_only=False)  # pyright: ignore[reportAttributeAccessIssue]
    if not keep.all():
        flat, numbers = flat[keep], numbers[keep]
    return flat, numbers, seen


def _place(grid: LongGrid, flat: np.ndarray, numbers: np.ndarray, seen: set[str], quarters: set[str],
           source: str) -> bool:
    """Put a plain batch's numbers at their flat positions; False, the grid untouched, when a
    pair was placed by an earlier batch (``read_long``'s path then names it)."""
    present, values = grid.present.reshape(-1), grid.value.reshape(-1)  # views: the arrays are contiguous
    if present[flat].any():
        return False
    quarters |= seen
    if len(quarters) > 1:
        raise ValueError(f"{source}: holds several quarters {sorted(quarters)}; score one quarter at a time")
    present[flat] = True
    values[flat] = numbers
    return True


def _text_dictionary(col: pa.Array) -> bool:
    return pa.types.is_dictionary(col.type) and (pa.types.is_string(col.type.value_type)  # pyright: ignore[reportAttributeAccessIssue]
                                                 or pa.types.is_large_string(col.type.value_type))  # pyright: ignore[reportAttributeAccessIssue]


def _entries(dictionary: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A code dictionary's entries cleaned as ``read_long`` cleans codes: (distinct stripped
    codes, per entry its index among them, per entry whether it is blank or missing)."""
    stripped = pd.Series(dictionary.to_pandas(), dtype="string").str.strip()
    blank = (stripped.isna() | (stripped == "")).to_numpy(dtype=bool)
    ids, distinct = pd.factorize(stripped)
    return np.asarray(distinct, dtype=object), ids.astype(np.int64), blank


def _quarters(batch: pa.RecordBatch) -> set[str] | None:
    """The batch's distinct quarters as texts (None: not a text column, read the slow way)."""
    col = batch.column("quarter")
    if pa.types.is_dictionary(col.type):
        col = col.dictionary.take(pc.unique(col.indices.drop_null()))  # pyright: ignore[reportAttributeAccessIssue]
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        return None
    return {str(q) for q in pc.unique(col).drop_null().to_pylist()}  # pyright: ignore[reportAttributeAccessIssue]


def batches(path: str | os.PathLike, batch_rows: int = 1 << 20, columns: tuple[str, ...] = READ_COLUMNS
            ) -> Iterator[pa.RecordBatch]:
    """The file's batches of the columns the engine reads, codes as dictionaries."""
    file = pq.ParquetFile(path)
    names = file.schema_arrow.names
    codes = [c for c in CODE_COLUMNS if c in names]
    file = pq.ParquetFile(path, read_dictionary=codes)
    wanted = [c for c in columns if c in names]
    # one row group at a time: asked for all at once, the reader buffers every row group's
    # column chunks (the whole file) until the iteration ends
    read = (batch for group in range(file.num_row_groups)
            for batch in file.iter_batches(batch_size=batch_rows, row_groups=[group], columns=wanted))
    yield from _ahead(read)


def _ahead(items: Iterator[T]) -> Iterator[T]:
    """The items, the next one read on a background thread while the caller works on this one
    (decoding Parquet releases the GIL): one item ahead, never more."""
    with ThreadPoolExecutor(1, thread_name_prefix="long-table-reader") as pool:
        pending = pool.submit(next, items, None)
        while (item := pending.result()) is not None:
            pending = pool.submit(next, items, None)
            yield item


def agency_codes_of_file(path: str | os.PathLike, batch_rows: int = 1 << 20) -> np.ndarray:
    """The distinct agency codes (stripped, none empty) the file's rows carry: a first pass over
    its agency column alone, for scoring without a registry."""
    names = pq.ParquetFile(path).schema_arrow.names
    column = "agency_code" if "agency_code" in names else "unit" if "unit" in names else None
    if column is None:
        raise ValueError(f"{Path(path).name}: missing column(s) ['agency_code']; expected agency_code "
                         "(or unit), kpi_code (or indicator), value")
    seen: list[pa.Array] = []
    for batch in batches(path, batch_rows, (column,)):
        col = batch.column(0)
        if pa.types.is_dictionary(col.type):
            used = pc.unique(col.indices.drop_null())  # pyright: ignore[reportAttributeAccessIssue]
            col = col.dictionary.take(used)
        seen.append(pc.unique(col.cast(pa.large_string())))  # pyright: ignore[reportAttributeAccessIssue]
    if not seen:
        return np.array([], dtype=object)
    distinct = pc.unique(pa.concat_arrays(seen)).drop_null()  # pyright: ignore[reportAttributeAccessIssue]
    stripped = pd.Series(distinct.to_pandas(), dtype="string").str.strip()
    codes = stripped[stripped != ""].unique()
    return np.asarray(codes, dtype=object)
