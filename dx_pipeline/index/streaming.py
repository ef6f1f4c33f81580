"""Scoring a large run into a Parquet file, chunk of units after chunk: never every row at once.

``score()`` answers with ``index_scores`` as one frame: units x nodes rows (45 million at a
million units under 40 indicators, 12 GB). :func:`score_to_parquet` gives the same rows as a
Parquet file instead and keeps in memory only the inputs pivoted per KPI
(:mod:`dx_pipeline.index.long_grid`), per-unit totals and the ranking:

1. a **global pre-pass** evaluates, over every scored unit at once, each indicator whose result
   for one unit depends on the others: a relative rule (minmax, zscore, rank, percentile rank,
   and the next step they name: the best value of all units) or the ``group_mean`` missing-data
   policy (the peer group's mean). Chunks take their slice of these;
2. every other indicator is evaluated, and every unit aggregated, **chunk by chunk**
   (``chunk_units`` at a time): nothing there looks beyond the unit itself; a note text made
   in one chunk is reused by the next (:func:`~dx_pipeline.index.notes.shared_texts`);
3. each chunk's rows are handed to the file as soon as they are made and encoded on a
   background thread while the next chunk is scored (:mod:`dx_pipeline.index.scores_file`);
4. ranking and bands from the totals of all units, at the end.

The file holds exactly the rows and values of ``score(...).scores`` for the same inputs, in
the same order, and reads back in pandas with the same dtypes (the footer carries the Arrow
schema and pandas metadata ``DataFrame.to_parquet`` would write for that frame: plain strings,
not categoricals) and in DuckDB as VARCHAR. The file appears whole or not at all
(:func:`~dx_pipeline.storage.atomic.atomic_path`).

Not here: evaluators' verdicts (the quarter pipeline's appraisal re-scores with ``score()``)
and ``indicator_shares`` (units x indicators, the sensitivity analysis' input).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from dx_pipeline.index.builtins import resolve_framework
from dx_pipeline.index.engine import (
    _Aggregation,
    _evaluate,
    _Indicator,
    _Rows,
)
from dx_pipeline.index.inputs import read_long, select_units
from dx_pipeline.index.long_grid import LongGrid, agency_codes_of_file, grid_of_file, grid_of_table
from dx_pipeline.index.notes import Notes, shared_texts
from dx_pipeline.index.ranking import rank_units, units_for_ranking
from dx_pipeline.index.rules import get_rule
from dx_pipeline.index.scores_file import ChunkRows, RowGroupWriter, schema, writer_options
from dx_pipeline.reference.frameworks import Framework, Node
from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.storage.atomic import atomic_path

CHUNK_UNITS = 25_000
"""Units scored and written at a time: at 40 indicators about 1.1 million rows a chunk (at 1M x 40
25k units cost the same CPU as 50k and 0.16 GB less peak)."""
Source = pd.DataFrame | str | os.PathLike


@dataclass(frozen=True)
class StreamedScores:
    """What :func:`score_to_parquet` wrote and kept: ``path`` holds the index_scores rows
    (no quarter column); ``ranking`` and ``units`` as in :class:`~dx_pipeline.index.ScoreResult`;
    ``totals``: each unit's total points, in the units' order (indexed by agency code)."""

    framework: Framework
    path: Path
    rows: int
    ranking: pd.DataFrame
    units: pd.DataFrame
    totals: pd.Series


def score_to_parquet(
    framework: "Framework | str | Path",
    data: Source,
    target: str | os.PathLike,
    registry: pd.DataFrame | None = None,
    previous: Source | None = None,
    *,
    previous_ranking: pd.DataFrame | None = None,
    quarter: "Quarter | str | None" = None,
    chunk_units: int = CHUNK_UNITS,
) -> StreamedScores:
    """Score one quarter's long table (a frame, or a Parquet file read row group by row group)
    under a framework and write its index_scores rows to ``target`` (Parquet), ``chunk_units``
    units at a time; arguments as :func:`~dx_pipeline.index.score`."""
    if chunk_units < 1:
        raise ValueError("chunk_units must be at least 1")
    fw = resolve_framework(framework)
    if quarter is not None:
        fw = fw.at(quarter)
    units, grid = _read_inputs(fw, data, registry, quarter)
    _give_back()
    grids = Grids(grid, _read_previous(fw, previous, units))
    del grid  # held by ``grids`` alone: the scoring lets it go before the ranking
    return score_grid_to_parquet(fw, units, grids, target, previous_ranking=previous_ranking,
                                 chunk_units=chunk_units)


@dataclass
class Grids:
    """A run's input grids handed to :func:`score_grid_to_parquet`, which takes them out (the
    holder keeps no reference), so the value grid is freed before the ranking."""

    value: LongGrid | None
    previous: LongGrid | None = None

    def take(self) -> tuple[LongGrid, LongGrid | None]:
        grid, prev = self.value, self.previous
        if grid is None:
            raise ValueError("the grids were already taken")
        self.value = self.previous = None
        return grid, prev


def score_grid_to_parquet(
    fw: Framework,
    units: pd.DataFrame,
    grids: Grids,
    target: str | os.PathLike,
    *,
    previous_ranking: pd.DataFrame | None = None,
    chunk_units: int = CHUNK_UNITS,
) -> StreamedScores:
    """The scoring and writing of :func:`score_to_parquet` from inputs already read into grids
    over ``units`` (``fw`` the version in force): for a caller that read and checked the file
    itself (``dx-pipeline score`` through :mod:`dx_pipeline.index.checked_file`)."""
    if chunk_units < 1:
        raise ValueError("chunk_units must be at least 1")
    grid, prev = grids.take()
    shared = _global_pass(fw, grid, prev, units)
    a = len(units)
    totals, total_max = np.zeros(a), np.zeros(a)
    rows = 0
    chunk_rows = ChunkRows(fw)
    for_ranking = None
    with atomic_path(target, suffix=".parquet") as tmp, shared_texts(), \
            RowGroupWriter(tmp, schema(with_metadata=False), **writer_options()) as writer:
        for start in range(0, a, chunk_units):
            stop = min(start + chunk_units, a)
            chunk = units.iloc[start:stop].reset_index(drop=True)
            ev = {n.id: (_slice(shared[n.id], start, stop) if n.id in shared else
                         _evaluate(fw, n, _GridRows(grid, start, stop), _previous(prev, start, stop), chunk))
                  for n in fw.indicators()}
            cols, totals[start:stop], total_max[start:stop] = _Aggregation(fw, chunk, ev).columns()
            agencies = chunk["agency_code"].to_numpy(dtype=object)
            writer.write(functools.partial(chunk_rows.table, cols, agencies))
            rows += cols.a * len(cols.blocks)
            if for_ranking is None:  # the writer is the slower: made while it writes, not after
                for_ranking = units_for_ranking(fw, units)
        del grid, prev, shared  # the ranking needs only the totals: the value grid goes first
        _give_back()
        # ranked while the last chunk is written (an error leaves no file, as any other)
        index = units["agency_code"]
        points = pd.Series(totals, index=index)
        ranking = rank_units(fw, units, points, pd.Series(total_max, index=index), previous_ranking,
                             for_ranking)
    return StreamedScores(fw, Path(target), rows, ranking, units, points)


def _read_inputs(fw: Framework, data: Source, registry: pd.DataFrame | None,
                 quarter: Quarter | str | None) -> tuple[pd.DataFrame, LongGrid]:
    """The scored units and the framework's KPIs pivoted over them."""
    codes = _input_codes(fw.indicators())
    if isinstance(data, pd.DataFrame):
        table = read_long(data, "data")
        units = select_units(fw, table, registry, quarter)
        return units, grid_of_table(table, _index(units), codes, "data")
    used = agency_codes_of_file(data) if registry is None else None
    _give_back()
    units = select_units(fw, used if used is not None else pd.DataFrame(), registry, quarter)
    return units, grid_of_file(data, _index(units), codes, Path(data).name)


def _read_previous(fw: Framework, previous: Source | None, units: pd.DataFrame) -> LongGrid | None:
    """Last quarter's values of the KPIs scored under ``carry_forward``, if any."""
    carried = [n for n in fw.indicators() if (n.missing or fw.missing) == "carry_forward"]
    codes = _input_codes(carried)
    if previous is None or not codes:
        return None
    if isinstance(previous, pd.DataFrame):
        return grid_of_table(read_long(previous, "previous"), _index(units), codes, "previous")
    return grid_of_file(previous, _index(units), codes, Path(previous).name)


def _input_codes(nodes: list[Node]) -> list[str]:
    return list(dict.fromkeys(n.input_code for n in nodes if n.not_assessed is None and n.input_code))


def _index(units: pd.DataFrame) -> pd.Index:
    return pd.Index(units["agency_code"].to_numpy(dtype=object), dtype=object)


def needs_all_units(fw: Framework, n: Node) -> bool:
    """Whether one unit's result under the indicator depends on other units: a relative rule
    (and its next step, the best of all values) or the peer-group mean missing-data policy."""
    if n.not_assessed is not None or n.rule is None:
        return False
    return get_rule(n.rule).relative or (n.missing or fw.missing) == "group_mean"


def _global_pass(fw: Framework, grid: LongGrid, prev: LongGrid | None, units: pd.DataFrame
                 ) -> dict[str, _Indicator]:
    """The indicators that look across units, evaluated over every unit at once."""
    a = len(units)
    out = {}
    for n in fw.indicators():
        if needs_all_units(fw, n):
            ind = _evaluate(fw, n, _GridRows(grid, 0, a), _previous(prev, 0, a), units)
            out[n.id] = replace(ind, xs=ind.value[ind.evaluated])
    return out


def _slice(ind: _Indicator, start: int, stop: int) -> _Indicator:
    """Units ``start:stop`` of an indicator evaluated over all units (its notes so far too)."""
    notes = Notes(stop - start)
    for rows, codes, texts in ind.notes.parts:
        inside = (rows >= start) & (rows < stop)
        if inside.any():
            notes.parts.append((rows[inside] - start, codes[inside], texts))
    points = ind.points_set[start:stop] if ind.points_set is not None else None
    return _Indicator(ind.node, ind.value[start:stop].copy(), ind.share[start:stop].copy(),
                      ind.applicable[start:stop], notes, ind.evaluated[start:stop], points, ind.xs)


def _previous(prev: LongGrid | None, start: int, stop: int) -> _GridRows | None:
    return _GridRows(prev, start, stop) if prev is not None else None


class _GridRows:
    """A grid's KPI values for units ``start:stop``, as the engine's lookup gives them."""

    def __init__(self, grid: LongGrid, start: int, stop: int):
        self.grid, self.start, self.stop = grid, start, stop

    def rows(self, code: str) -> _Rows:
        g, s, e = self.grid, self.start, self.stop
        j = g.codes.get(code)
        if j is None:
            a = e - s
            return _Rows(np.full(a, np.nan), np.full(a, np.nan), np.full(a, np.nan), None, np.zeros(a, bool))
        nothing = _nothing(e - s)
        return _Rows(g.value[j, s:e], nothing if g.numerator is None else g.numerator[j, s:e],
                     nothing if g.denominator is None else g.denominator[j, s:e],
                     g.raw_values(j, s, e), g.present[j, s:e])


def _nothing(n: int) -> np.ndarray:
    """A read-only array of ``n`` NaN: the numerators or denominators of a grid without them
    (the engine only reads them), one per chunk size rather than one per indicator and chunk
    (kept only up to a chunk's size: the global pass's arrays of every unit are not kept)."""
    return _nothing_kept(n) if n <= CHUNK_UNITS else np.full(n, np.nan)


@functools.lru_cache(maxsize=4)
def _nothing_kept(n: int) -> np.ndarray:
    out = np.full(n, np.nan)
    out.flags.writeable = False
    return out


def _give_back() -> None:
    """Return the memory Arrow's allocator keeps after a phase to the system. Its pool keeps
    freed pages for reuse: after reading 40M rows it held ~100 MB more than the grid, and the
    next phase's peak stood on top of them."""
    pa.default_memory_pool().release_unused()
