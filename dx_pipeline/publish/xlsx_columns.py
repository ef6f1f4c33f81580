"""A worksheet that writes a table's rows straight from its columns, in xlsxwriter's bytes.

Why: xlsxwriter keeps every cell as a named tuple and writes each one through several calls;
for a revision workbook's ~220k cells that was most of the publication's Excel time. This
worksheet keeps the table as columns of numbers, shared-string indices and booleans, and writes
each row's XML in one piece: the same elements, attributes, number text and style numbers
xlsxwriter writes (the export tests compare the files byte for byte). Whatever it does not
write itself (row options, comments, in-line strings, cells beside the table) it hands back
to xlsxwriter's own writer, cell by cell, as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from xlsxwriter.utility import xl_col_to_name
from xlsxwriter.worksheet import CellBooleanTuple, CellNumberTuple, CellStringTuple, Worksheet

NUMBER, TEXT, BOOL = "number", "text", "bool"


@dataclass(frozen=True)
class Column:
    """One column's cells: floats (NaN: no cell) with the number format of plain rows and of
    rate rows, text (None: no cell; already formula-safe) or booleans."""

    kind: str
    values: Sequence[Any]
    plain: Any = None
    rate: Any = None


@dataclass(frozen=True)
class _Table:
    first_row: int
    columns: list[Column]
    rate_rows: frozenset[int]
    cells: np.ndarray
    """Which cells exist: one row per column, one column per table row."""


class ColumnSheet(Worksheet):
    """An xlsxwriter worksheet with :meth:`write_table` for the data under its header."""

    def __init__(self) -> None:
        super().__init__()
        self._data: _Table | None = None

    def write_table(self, first_row: int, columns: list[Column], rate_rows: set[int]) -> None:
        """The table's cells from ``first_row`` down (row ``i`` of the columns in sheet row
        ``first_row + i``), as ``write_number``/``write_string``/``write_boolean`` row by row,
        left to right, would store them: shared strings numbered in that order."""
        texts = [c.values for c in columns if c.kind == TEXT]
        used = [v for row in zip(*texts, strict=True) for v in row if v is not None]
        table = self.str_table
        if table is None:  # the workbook gives every sheet its shared-string table
            raise RuntimeError("write_table on a worksheet outside a workbook")
        known = table.string_table
        for text in dict.fromkeys(used):
            if text not in known:
                known[text] = table.unique_count
                table.unique_count += 1
        table.count += len(used)
        stored = [Column(c.kind, [None if v is None else known[v] for v in c.values]) if c.kind == TEXT
                  else c for c in columns]
        n = len(columns[0].values) if columns else 0
        cells = np.vstack([_cells(c) for c in columns]) if columns else np.zeros((0, 0), dtype=bool)
        self._data = _Table(first_row, stored, frozenset(rate_rows), cells)
        rows = np.flatnonzero(cells.any(axis=0)) if n else np.array([], dtype=int)
        cols = np.flatnonzero(cells.any(axis=1)) if n else np.array([], dtype=int)
        if len(rows) and len(cols):  # the dimensions xlsxwriter keeps while cells are written
            self._check_dimensions(first_row + int(rows[0]), int(cols[0]))
            self._check_dimensions(first_row + int(rows[-1]), int(cols[-1]))

    def _write_rows(self) -> None:
        data, low, high = self._data, self.dim_rowmin, self.dim_rowmax
        if data is None or low is None or high is None or self.dim_colmin is None or self.dim_colmax is None:
            return super()._write_rows()
        if not self._plain_rows(data.first_row):
            self._store_cells(data)
            return super()._write_rows()
        bounds = _bounds(data.cells)
        self.row_spans = spans = self._spans(data.first_row, bounds)
        xml: list[str] | None = None
        for row_num in range(low, high + 1):
            span = spans.get(int(row_num / 16))
            if row_num < data.first_row:  # the header: xlsxwriter's own cells
                if self.table[row_num]:
                    self._write_row(row_num, span)
                    for col_num in range(self.dim_colmin, self.dim_colmax + 1):
                        if col_num in self.table[row_num]:
                            self._write_cell(row_num, col_num, self.table[row_num][col_num])
                    self._xml_end_tag("row")
                continue
            if xml is None:  # after the header, whose formats come first in the style table
                xml = self._data_rows(data)
            i = row_num - data.first_row
            if i < len(xml) and xml[i]:
                self._write_row(row_num, span)
                self.fh.write(xml[i])
                self._xml_end_tag("row")

    def _plain_rows(self, first_row: int) -> bool:
        """No row options, comments or in-line strings, and no cell of xlsxwriter's own at or
        below the table's first row: the layout :meth:`_write_rows` writes itself."""
        return (not self.row_info and not self.comments and not self.constant_memory
                and all(r < first_row for r, cells in self.table.items() if cells))

    def _column_format(self, col: int) -> Any:
        """The format of a cell without one of its own: its column's (None: none)."""
        info = self.col_info.get(col)
        return info.column_format if info is not None else None

    def _column_style(self, col: int) -> str:
        """The ``s`` attribute of a cell without a format of its own (the column's format)."""
        fmt = self._column_format(col)
        return f' s="{fmt._get_xf_index()}"' if fmt is not None else ""

    def _data_rows(self, data: _Table) -> list[str]:
        """Per table row, its cells' XML ("" for a row without cells)."""
        self._number_formats(data)
        parts = [self._cells_xml(j, c, data) for j, c in enumerate(data.columns)]
        return ["".join(row) for row in zip(*parts, strict=True)] if parts else []

    def _number_formats(self, data: _Table) -> None:
        """Give the table's formats their style numbers in the order xlsxwriter's writer first
        meets them (row by row, left to right): the number is given on first use."""
        rates = np.zeros(data.cells.shape[1] if data.cells.size else 0, dtype=bool)
        rates[[i for i in data.rate_rows if i < len(rates)]] = True
        first = []
        for j, c in enumerate(data.columns):
            own = self._column_format(j)
            uses = [(data.cells[j] & ~rates, c.plain or own), (data.cells[j] & rates, c.rate or own)]
            if c.kind != NUMBER:
                uses = [(data.cells[j], own)]
            first += [(int(np.argmax(used)), j, fmt) for used, fmt in uses if fmt is not None and used.any()]
        for *_, fmt in sorted(first, key=lambda x: x[:2]):
            fmt._get_xf_index()

    def _cells_xml(self, j: int, c: Column, data: _Table) -> list[str]:
        """Column ``j``'s ``<c>`` elements as xlsxwriter's ``_write_cell`` writes them ("": no cell)."""
        at = [f"{xl_col_to_name(j)}{data.first_row + i + 1}" for i in range(len(c.values))]
        style = self._column_style(j)
        if c.kind == NUMBER:
            plain = f' s="{c.plain._get_xf_index()}"' if c.plain else style
            rate = f' s="{c.rate._get_xf_index()}"' if c.rate else style
            rates = data.rate_rows
            return ["" if v != v else f'<c r="{r}"{rate if i in rates else plain}><v>{v:.16G}</v></c>'
                    for i, (r, v) in enumerate(zip(at, c.values, strict=True))]
        if c.kind == TEXT:
            return ["" if v is None else f'<c r="{r}"{style} t="s"><v>{v}</v></c>'
                    for r, v in zip(at, c.values, strict=True)]
        return [f'<c r="{r}"{style} t="b"><v>{1 if v else 0}</v></c>'
                for r, v in zip(at, c.values, strict=True)]

    def _spans(self, first_row: int, bounds: list[tuple[int, int]]) -> dict[int, str]:
        """The ``spans`` of each block of 16 rows: first to last column with a cell in it."""
        blocks: dict[int, list[int]] = {}
        for row_num, cells in self.table.items():
            if cells:
                _widen(blocks, int(row_num / 16), min(cells), max(cells))
        for i, (low, high) in enumerate(bounds):
            if low >= 0:
                _widen(blocks, int((first_row + i) / 16), low, high)
        return {k: f"{low + 1}:{high + 1}" for k, (low, high) in blocks.items()}

    def _store_cells(self, data: _Table) -> None:
        """The table as xlsxwriter's own cells (for a layout :meth:`_write_rows` does not write)."""
        for j, c in enumerate(data.columns):
            for i, v in enumerate(c.values):
                row = self.table[data.first_row + i]
                if c.kind == NUMBER and v == v:
                    row[j] = CellNumberTuple(v, c.rate if i in data.rate_rows else c.plain)
                elif c.kind == TEXT and v is not None:
                    row[j] = CellStringTuple(v, None)
                elif c.kind == BOOL:
                    row[j] = CellBooleanTuple(1 if v else 0, None)


def _cells(c: Column) -> np.ndarray:
    """Which rows of the column have a cell."""
    if c.kind == NUMBER:
        return ~np.isnan(np.asarray(c.values, dtype=np.float64))
    if c.kind == TEXT:
        return np.fromiter((v is not None for v in c.values), dtype=bool, count=len(c.values))
    return np.ones(len(c.values), dtype=bool)


def _bounds(cells: np.ndarray) -> list[tuple[int, int]]:
    """Per table row, its first and last column with a cell ((-1, -1): none)."""
    if not cells.size:
        return []
    some = cells.any(axis=0)
    low = np.where(some, np.argmax(cells, axis=0), -1)
    high = np.where(some, cells.shape[0] - 1 - np.argmax(cells[::-1], axis=0), -1)
    return list(zip(low.tolist(), high.tolist(), strict=True))


def _widen(bounds: dict[int, list[int]], block: int, low: int, high: int) -> None:
    if block in bounds:
        bounds[block][0], bounds[block][1] = min(bounds[block][0], low), max(bounds[block][1], high)
    else:
        bounds[block] = [low, high]
