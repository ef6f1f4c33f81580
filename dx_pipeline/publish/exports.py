"""Exports for people: Excel-safe CSV and XLSX (the BI DuckDB file is ``bi_database``).

CSV and Excel files are opened by people in Excel, and agency-provided text (names, notes)
ends up in them: a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return would run as a formula, so such text cells are prefixed with ``'``. Numbers stay
numbers.

Every CSV the pipeline exports has one dialect (:data:`CSV_DIALECT`): UTF-8 with a BOM (so
Excel shows Vietnamese letters), ``,`` between fields, ``"`` quoting only where needed, CRLF line
ends, ``.`` as the decimal point, ISO dates ``2025-07-10 08:30:00``, an empty field for a
missing value. (The clerk's submission template is an input form, not an export: it uses ``;``
so Excel on a Vietnamese-locale machine opens it in columns.)

Excel sheets carry number formats by column: points ``0.00``, shares of 0..1 as percentages,
ranks as integers, and a KPI's value as a percentage on the rows whose KPI is a rate.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dx_pipeline.publish.bi_database import PUBLISHED_VIEWS, build_bi_database, default_bi_path
from dx_pipeline.publish.xlsx_columns import Column, ColumnSheet
from dx_pipeline.reference import schemas
from dx_pipeline.reference.catalogue import load_catalogue
from dx_pipeline.storage import atomic_path

__all__ = [
    "CSV_DIALECT", "PUBLISHED_VIEWS", "build_bi_database", "column_label", "default_bi_path",
    "excel_safe_frame", "number_format", "safe_cell", "write_csv", "write_excel",
]

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
CSV_DIALECT = {
    "encoding": "utf-8 with BOM",
    "delimiter": ",",
    "quoting": "minimal (RFC 4180)",
    "lineterminator": "\r\n",
    "decimal": ".",
    "date_format": "%Y-%m-%d %H:%M:%S",
    "missing": "",
}
"""The one dialect of every CSV export (README, docs/data_dictionary.md say so too)."""

POINTS_FORMAT = "0.00"
PERCENT_FORMAT = "0.0%"
INTEGER_FORMAT = "0"
POINTS_COLUMNS = frozenset({"total_points", "max_points", "points", "reported_points"})
INTEGER_COLUMNS = frozenset({"rank", "previous_rank", "rank_change", "revision", "agencies",
                             "reported", "target_year", "adjustment_id"})
KPI_VALUE_COLUMNS = frozenset({"input_value", "reported_value", "value", "target",
                               "previous_value", "change"})
"""Columns holding a KPI's value: a percentage on the rows whose ``kpi_code`` is a rate."""

EXTRA_LABELS = {
    "quarter": ("Quý", "quarter"),
    "period": ("Kỳ", "period"),
}


def safe_cell(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def _text_columns(df: pd.DataFrame) -> list[str]:
    return [
        c
        for c in df.columns
        if pd.api.types.is_string_dtype(df[c]) or pd.api.types.is_object_dtype(df[c])
    ]


def excel_safe_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text cells cannot be read as formulas."""
    out = df.copy()
    for col in _text_columns(out):
        out[col] = _safe_column(out[col])
    return out


def _safe_column(col: pd.Series) -> pd.Series:
    """:func:`safe_cell` of every cell, only the formula-like ones touched (a million-row
    ranking: 0.1 s instead of 2.5 s of Python per cell)."""
    if isinstance(col.dtype, pd.CategoricalDtype):  # mapping its categories is already fast
        return col.map(safe_cell, na_action="ignore")
    try:
        starts = col.str.startswith(FORMULA_TRIGGERS)
    except (AttributeError, TypeError):  # no text in the column, or text pandas cannot test
        return col.map(safe_cell, na_action="ignore")
    hit = starts.fillna(False).to_numpy(dtype=bool)
    if not hit.any():
        return col
    out = col.copy()  # set by position: an index with repeated labels cannot be aligned
    at = np.flatnonzero(hit)
    out.iloc[at] = col.iloc[at].map(safe_cell).to_numpy(dtype=object)
    return out


def write_csv(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """UTF-8 with BOM, formula-safe, ISO timestamps, empty cells for missing values."""
    safe = excel_safe_frame(df)
    d = CSV_DIALECT
    text = safe.to_csv(index=False, sep=d["delimiter"], lineterminator=d["lineterminator"],
                       decimal=d["decimal"], date_format=d["date_format"])
    data = "\ufeff".encode("utf-8") + text.encode("utf-8")
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def column_label(table: str | None, name: str) -> str:
    """``Tổng điểm / total_points``: Vietnamese first, the stable column name beside it."""
    if name in EXTRA_LABELS:
        return f"{EXTRA_LABELS[name][0]} / {name}"
    contract = schemas.CONTRACTS.get(table) if table else None
    if contract:
        for col in contract.columns:
            if col.name == name and col.vi:
                return f"{col.vi} / {name}"
    return name


def write_excel(
    path: str | os.PathLike,
    sheets: Sequence[tuple[str, str | None, pd.DataFrame]],
    *,
    created: dt.datetime,
    title: str = "dx_pipeline",
) -> Path:
    """Write (sheet title, contract table, frame) sheets; same input gives the same bytes.

    Every text cell is written with ``write_string`` after :func:`safe_cell`, so nothing an
    agency typed becomes a formula. ``created`` is stored as the workbook's creation time
    (xlsxwriter would use the clock otherwise).
    """
    import xlsxwriter

    with atomic_path(path, suffix=".xlsx") as tmp:
        wb = xlsxwriter.Workbook(
            str(tmp),
            {"strings_to_formulas": False, "strings_to_urls": False, "in_memory": True},
        )
        wb.set_properties(
            {"title": title, "author": "dx_pipeline", "created": created.replace(tzinfo=None)}
        )
        head = wb.add_format({"bold": True, "text_wrap": True, "valign": "top", "bg_color": "#E8EEF4"})
        formats = {
            "stamp": wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"}),
            POINTS_FORMAT: wb.add_format({"num_format": POINTS_FORMAT}),
            PERCENT_FORMAT: wb.add_format({"num_format": PERCENT_FORMAT}),
            INTEGER_FORMAT: wb.add_format({"num_format": INTEGER_FORMAT}),
        }
        for sheet_title, table, df in sheets:
            sheet = wb.add_worksheet(sheet_title[:31], worksheet_class=ColumnSheet)
            _write_sheet(sheet, table, df, head, formats)
        wb.close()
    return Path(path)


def _write_sheet(ws, table: str | None, df: pd.DataFrame, head, formats: dict) -> None:
    """Header labels, then every cell with its column's number format."""
    rate_rows = _rate_rows(df)
    for j, name in enumerate(df.columns):
        ws.write_string(0, j, column_label(table, str(name)), head)
        ws.set_column(j, j, max(10, min(40, len(column_label(table, str(name))) + 2)))
    stamp = formats["stamp"]
    columns = [_column_cells(df.iloc[:, j]) for j in range(len(df.columns))]
    plain = [formats.get(number_format(str(c), False)) for c in df.columns]
    rate = [formats.get(number_format(str(c), True)) for c in df.columns]
    if isinstance(ws, ColumnSheet) and _by_columns(columns):
        # the common case: numbers, text and booleans, written from the columns
        texts: dict[str, str] = {}
        ws.write_table(1, [
            Column(kind, [None if v is None else _safe_text(v, texts) for v in values])
            if kind == _TEXT else Column(kind, values, plain[j], rate[j])
            for j, (kind, values) in enumerate(columns)
        ], rate_rows)
    else:
        _write_cells(ws, columns, rate_rows, plain, rate, stamp)
    ws.freeze_panes(1, 0)
    if len(df.columns):
        ws.autofilter(0, 0, max(len(df), 1), len(df.columns) - 1)


def _by_columns(columns: list[tuple[str, list]]) -> bool:
    """Whether :meth:`ColumnSheet.write_table` writes these columns exactly as the cell-by-cell
    writer would: numbers (no infinity, which xlsxwriter refuses), text short enough never to be
    truncated, booleans."""
    for kind, values in columns:
        if kind == _NUMBER:
            if np.isinf(np.asarray(values, dtype=np.float64)).any():
                return False
        elif kind == _TEXT:
            if any(not isinstance(v, str) or len(v) > 16_383 for v in values if v is not None):
                return False
        elif kind != _BOOL:
            return False
    return True


def _safe_text(value: str, texts: dict[str, str]) -> str:
    text = texts.get(value)
    if text is None:
        text = texts[value] = str(safe_cell(value))
    return text


def _write_cells(ws, columns: list[tuple[str, list]], rate_rows: set[int], plain: list, rate: list,
                 stamp) -> None:
    """Every cell through xlsxwriter, row by row, left to right (the shared-string table is in
    first-use order, so the bytes stay the same); what each column holds is decided once."""
    texts: dict[str, str] = {}
    write_number, write_string, write_boolean = ws.write_number, ws.write_string, ws.write_boolean
    for i in range(len(columns[0][1]) if columns else 0):
        fmts = rate if i in rate_rows else plain
        for j, (kind, values) in enumerate(columns):
            value = values[i]
            if kind == _NUMBER:
                if value == value:  # not NaN
                    write_number(i + 1, j, value, fmts[j])
            elif kind == _TEXT:
                if isinstance(value, str):
                    write_string(i + 1, j, _safe_text(value, texts))
                else:
                    _write_cell(ws, i + 1, j, value, stamp, fmts[j])
            elif kind == _BOOL:
                write_boolean(i + 1, j, value)
            else:
                _write_cell(ws, i + 1, j, value, stamp, fmts[j])


def number_format(column: str, rate_row: bool = False) -> str | None:
    """The Excel number format of a column's numbers (None: General)."""
    if column in POINTS_COLUMNS:
        return POINTS_FORMAT
    if column in INTEGER_COLUMNS:
        return INTEGER_FORMAT
    if column in KPI_VALUE_COLUMNS and rate_row:
        return PERCENT_FORMAT
    return None


def _rate_rows(df: pd.DataFrame) -> set[int]:
    """Positions of the rows whose ``kpi_code`` is a rate (values stored as 0..1)."""
    if "kpi_code" not in df.columns:
        return set()
    catalogue = load_catalogue()
    rates = {code for code, k in catalogue.items() if k.unit == "ratio"}
    return {i for i, code in enumerate(df["kpi_code"].tolist()) if code in rates}


_NUMBER, _TEXT, _BOOL, _ANY = "number", "text", "bool", "any"


def _column_cells(col: pd.Series) -> tuple[str, list]:
    """How a column's cells are written and its values as Python objects: numbers (NumPy
    integers and floats, and pandas' nullable ones with NaN for a missing value, as floats),
    text (pandas string columns), booleans (NumPy bool), or anything else, each cell then
    written by :func:`_write_cell`, as all cells once were."""
    dtype = col.dtype
    if isinstance(dtype, np.dtype):
        if dtype.kind in "iuf":
            return _NUMBER, col.to_numpy(dtype=np.float64).tolist()
        if dtype.kind == "b":
            return _BOOL, col.tolist()
    if isinstance(col.array, (pd.arrays.IntegerArray, pd.arrays.FloatingArray)):  # Int64 and kin
        return _NUMBER, col.to_numpy(dtype=np.float64, na_value=np.nan).tolist()
    if isinstance(dtype, pd.StringDtype):  # missing values: None (written as nothing)
        return _TEXT, col.array.to_numpy(dtype=object, na_value=None).tolist()
    return _ANY, list(col)


def _write_cell(ws, i: int, j: int, value: Any, stamp, num=None) -> None:
    if value is None or value is pd.NA or value is pd.NaT:
        return
    if isinstance(value, float) and math.isnan(value):
        return
    if isinstance(value, (bool,)) or type(value).__name__ == "bool_":
        ws.write_boolean(i, j, bool(value))
    elif isinstance(value, (int, float)) or hasattr(value, "dtype"):
        ws.write_number(i, j, float(value), num)
    elif isinstance(value, (pd.Timestamp, dt.datetime)):
        ws.write_datetime(i, j, pd.Timestamp(value).to_pydatetime().replace(tzinfo=None), stamp)
    else:
        ws.write_string(i, j, str(safe_cell(str(value))))
