"""The index_scores Parquet file written chunk by chunk: its schema, a chunk's rows as Arrow
columns, the column encodings, and a writer that encodes one chunk while the next is scored.

Why its own module: at a million units x 40 indicators the file is 45 million rows x 16
columns, and writing it cost about as much as scoring. What keeps it cheap, each measured on a
chunk of the bench (100k units x 40):

- text columns as dictionaries (each distinct node text or note once per chunk); the per-node
  texts, the constant columns and the agency codes' positions are the same for every chunk of
  one size, so they are built once per run (:class:`ChunkRows`), not per chunk;
- per-column encodings: the input values (random doubles) byte-stream-split, which snappy then
  compresses better and faster than plain doubles (0.029 CPU s, 32.6 MB against 0.048 s,
  33.2 MB); the points (few distinct rounded values) dictionary-encoded (0.041 s, 6.8 MB
  against 0.071 s, 14.1 MB); statistics only on agency_code;
- the table built and encoded on a background thread (:class:`RowGroupWriter`): numpy's
  copies and pyarrow's writer release the GIL, so on two cores chunk N is laid out and encoded
  while chunk N+1 is scored; one chunk at most waits, so memory holds two chunks' rows, not
  all of them.

Whatever the encodings, readers see the frame ``score().scores`` (the footer carries its Arrow
schema and pandas metadata): pandas reads plain strings, DuckDB VARCHAR and DOUBLE.
"""

from __future__ import annotations

import base64
import functools
import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from dx_pipeline.index.engine import SCORE_COLUMNS, _ScoreColumns
from dx_pipeline.reference.frameworks import Framework

TEXT_COLUMNS = ("framework_id", "framework_version", "agency_code", "node_id", "parent_id", "level",
                "kpi_code", "rule", "note", "appraisal")
STATISTICS = ("agency_code",)
"""Columns whose min/max each row group records: a chunk's row group holds a range of agency
codes, so a reader looking for one agency skips the others. Statistics on every column cost
about a fifth of the writing (node_id, level and the like are in every row group anyway)."""
DICTIONARY_NUMBERS = ("points", "reported_points")
"""Rounded points: a few hundred distinct values in millions of rows."""
SPLIT_NUMBERS = ("input_value", "reported_value")
"""Reported values: nearly all distinct; their bytes split by position compress."""
_EMPTY = pa.array([""], pa.large_string())
"""The dictionary of a column with no text (an Arrow dictionary is never empty)."""


def writer_options() -> dict[str, Any]:
    """The ``pq.ParquetWriter`` keywords of the index_scores file."""
    # values handed to a column's encoder 64Ki at a time, not 1,024: 6 % less writing CPU
    return {"store_schema": False, "use_dictionary": [*TEXT_COLUMNS, *DICTIONARY_NUMBERS],
            "use_byte_stream_split": list(SPLIT_NUMBERS), "write_statistics": list(STATISTICS),
            "write_batch_size": 1 << 16}


@functools.cache
def schema(with_metadata: bool = True) -> pa.Schema:
    """The Arrow schema ``pa.Schema.from_pandas`` gives ``score().scores`` (large strings,
    doubles, a nullable int64), with its pandas metadata; without: the texts as the dictionary
    arrays they are written from."""
    def column(c: str) -> pd.Series:
        if c in TEXT_COLUMNS:
            return pd.Series(dtype=pd.StringDtype("pyarrow"))
        return pd.Series(dtype=pd.Int64Dtype() if c == "adjustment_id" else np.float64)

    empty = pd.DataFrame({c: column(c) for c in SCORE_COLUMNS})
    frame_schema = pa.Schema.from_pandas(empty, preserve_index=False)
    if with_metadata:
        return frame_schema
    fields = [pa.field(f.name, pa.dictionary(pa.int32(), pa.large_string())) if f.name in TEXT_COLUMNS
              else f for f in frame_schema]
    return pa.schema(fields)


def footer() -> dict[bytes, bytes]:
    """Key-value metadata making readers see the file as ``DataFrame.to_parquet`` of the scores
    frame would be: plain (large) strings, not the dictionaries it was written from."""
    full = schema()
    assert full.metadata is not None
    return {b"ARROW:schema": base64.b64encode(full.serialize().to_pybytes()),
            b"pandas": full.metadata[b"pandas"]}


class RowGroupWriter:
    """A ``ParquetWriter`` whose row groups are encoded on a background thread, one at a time:
    :meth:`write` returns once the previous chunk is written and this one handed over.

    A context manager: on leaving, the last chunk is waited for and the file closed (with the
    footer on success); an error in the writing thread is raised in the caller."""

    def __init__(self, path: str | os.PathLike, file_schema: pa.Schema, **options: Any):
        self._writer = pq.ParquetWriter(path, file_schema, **options)
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="index-scores-writer")
        self._pending: Future | None = None

    def write(self, table: pa.Table | Callable[[], pa.Table]) -> None:
        """Hand a chunk over as one row group (after the previous one is written): a table, or
        a function making it, called on the writing thread (so that building the table, numpy
        and Arrow work that releases the GIL too, runs beside the next chunk's scoring)."""
        self.wait()
        self._pending = self._pool.submit(self._write, table)

    def _write(self, table: pa.Table | Callable[[], pa.Table]) -> None:
        made: pa.Table = table() if callable(table) else table
        self._writer.write_table(made, row_group_size=len(made) or None)

    def wait(self) -> None:
        """Until the chunk handed over is written; its error, if any, raised here."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def __enter__(self) -> RowGroupWriter:
        return self

    def __exit__(self, kind, error, trace) -> None:
        try:
            if kind is None:
                self.wait()
                self._writer.add_key_value_metadata(footer())
            elif self._pending is not None:  # the file is discarded: only stop using it
                self._pending.exception()
        finally:
            self._pool.shutdown(wait=True)
            self._writer.close()


class _Layout:
    """The columns every chunk of ``a`` units shares: the per-node texts repeated for each unit,
    the constant and all-missing columns, the agency codes' positions (one per unit, repeated
    for each node; the chunk's codes are the dictionary)."""

    def __init__(self, fw: Framework, node_texts: tuple[tuple, ...], a: int):
        b = len(node_texts)
        n = a * b
        zeros = np.zeros(n, dtype=np.int32)
        self.columns = {
            "framework_id": _dict_array(zeros, [fw.id]),
            "framework_version": _dict_array(zeros, [fw.version]),
            **{name: _per_node([t[j] for t in node_texts], a)
               for j, name in enumerate(("node_id", "parent_id", "level", "kpi_code", "rule"))},
            "appraisal": pa.DictionaryArray.from_arrays(pa.nulls(n, pa.int32()), _EMPTY),
            "adjustment_id": pa.nulls(n, pa.int64()),
        }
        self.agency_index = pa.array(np.repeat(np.arange(a, dtype=np.int32), b))


class ChunkRows:
    """One scoring run's chunks as Arrow tables; the layout of each chunk size built once
    (chunks come in one size and a last, smaller one)."""

    def __init__(self, fw: Framework):
        self.fw = fw
        self._layouts: dict[tuple, _Layout] = {}

    def table(self, cols: _ScoreColumns, agencies: np.ndarray) -> pa.Table:
        """A chunk's rows as ``_ScoreColumns.frame`` lays them out (unit by unit, node by node),
        texts as dictionary indices: one text per node tiled over the units, each distinct note
        once, the chunk's agency codes as the agency column's dictionary."""
        blocks = cols.blocks
        key = (cols.a, tuple(tuple(blk[:5]) for blk in blocks))
        layout = self._layouts.get(key)
        if layout is None:
            layout = self._layouts[key] = _Layout(self.fw, key[1], cols.a)
        texts: list[str | None] = []
        note_codes = []
        for blk in blocks:
            code, said = blk[8]
            note_codes.append(np.where(code >= 0, code + len(texts), -1))
            texts += said
        note_dict, note_index = _distinct(texts)
        note_index = np.append(note_index, np.int32(-1))  # code -1 (no note) stays -1
        notes = _by_unit([note_index[c] for c in note_codes], np.int32)
        inputs = pa.array(_by_unit([blk[5] for blk in blocks]))
        points = pa.array(_by_unit([blk[6] for blk in blocks]))
        codes = pa.array(agencies, type=pa.large_string()) if len(agencies) else _EMPTY
        data = {
            **layout.columns,
            "agency_code": pa.DictionaryArray.from_arrays(layout.agency_index, codes),
            "input_value": inputs,
            "points": points,
            "max_points": pa.array(_by_unit([blk[7] for blk in blocks])),
            "note": _dict_array(notes, note_dict),
            "reported_value": inputs,
            "reported_points": points,
        }
        return pa.Table.from_pydict({c: data[c] for c in SCORE_COLUMNS}, schema=schema(with_metadata=False))


def _by_unit(blocks: list[np.ndarray], dtype: type = np.float64) -> np.ndarray:
    """Per-node arrays (one value per unit each) laid out unit by unit, node by node: stacked
    node by node, then transposed in one copy (twice as fast as stacking into columns)."""
    if not blocks:
        return np.zeros(0, dtype=dtype)
    return np.ascontiguousarray(np.stack(blocks, axis=0).T).reshape(-1)


def _distinct(texts: list) -> tuple[list[str], np.ndarray]:
    """(distinct texts, per text its index among them, -1 for None). Distinct because Parquet's
    writer maps a dictionary given to it by value: a repeated value would shift later indices."""
    seen: dict[str, int] = {}
    index = [-1 if t is None else seen.setdefault(str(t), len(seen)) for t in texts]
    return list(seen), np.array(index, dtype=np.int32)


def _per_node(texts: list, units: int) -> pa.DictionaryArray:
    """One text per node (None: missing), repeated for every unit in turn."""
    dictionary, index = _distinct(texts)
    return _dict_array(np.tile(index, units), dictionary)


def _dict_array(indices: np.ndarray, dictionary: list) -> pa.DictionaryArray:
    """A dictionary array of distinct texts; index -1 is a missing value."""
    missing = indices < 0
    arr = pa.array(indices, mask=missing) if missing.any() else pa.array(indices)
    texts = pa.array(dictionary, type=pa.large_string()) if dictionary else _EMPTY
    return pa.DictionaryArray.from_arrays(arr, texts)
