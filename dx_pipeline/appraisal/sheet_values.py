"""The cell values of one sheet of a workbook that openpyxl opened read-only, from one parse of
the sheet's XML: what openpyxl's ``iter_rows(values_only=True)`` gives, several times faster.

Why: openpyxl's read-only parser makes a dict per cell and reads every inline string through its
descriptor classes: 0.9 CPU s for the evaluator's 11k-row workbook, a third of the appraisal
import. Here the sheet is parsed whole by the same XML parser openpyxl uses (defusedxml over
ElementTree), and a plain loop turns each cell into openpyxl's value by openpyxl's own rules:
shared strings as openpyxl read them, numbers (int or float as openpyxl casts them), booleans,
dates by the cell's number format (openpyxl's date styles and epoch), formulas' cached values
(the workbook is opened ``data_only``), inline strings; an inline string with runs, phonetic
text or attributes goes through openpyxl's own text class. The rows and columns asked for are
filled as openpyxl fills them (missing cells and rows as None, the sheet's dimension as bounds).

Anything the loop does not take as openpyxl would (an element in a row that is not a cell, a
row number openpyxl reads as a float, a date out of range that openpyxl warns about, a value
that cannot be read, a sheet over :data:`MAX_SHEET_BYTES`, openpyxl's internals moved) makes
:func:`values_sheet` hand back openpyxl's own worksheet: the values are openpyxl's, only slower.
What this does not parse are the sheet's other parts (column widths, protection, formats):
openpyxl reads those in iterating, nothing here uses them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from openpyxl.cell.text import Text
from openpyxl.utils.cell import coordinate_to_tuple
from openpyxl.utils.datetime import from_excel, from_ISO8601
from openpyxl.xml.functions import fromstring

MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
SHEET_DATA, ROW, CELL, VALUE, INLINE, TEXT = (MAIN + t for t in ("sheetData", "row", "c", "v", "is", "t"))
MAX_SHEET_BYTES = 48 * 1024 * 1024
"""A sheet's XML above this (about 60,000 rows of the appraisal workbook) is left to openpyxl's
streaming parser: the parsed tree takes about 12 bytes a byte of XML."""

Cells = list[tuple[int, Any]]
"""(column, value) of a row's cells in the order of the file."""


class Unsupported(Exception):
    """The sheet has something this reader does not take as openpyxl would."""


def _inline(node: Any) -> str:
    """An inline string's text: one plain ``<t>`` directly, anything else by openpyxl's class."""
    if len(node) == 1 and not node.attrib and node[0].tag == TEXT:
        return node[0].text or ""
    return Text.from_tree(node).content  # type: ignore[union-attr]  # from_tree gives a Text


class _Cells:
    """openpyxl's ``WorkSheetParser.parse_row`` and ``parse_cell`` (read-only, ``data_only``)
    for one sheet, with the column letters and style ids looked up once."""

    def __init__(self, ws: Any) -> None:
        wb = ws.parent
        self.strings, self.epoch = ws._shared_strings, wb.epoch
        self.dates, self.deltas = wb._date_formats, wb._timedelta_formats
        self.columns: dict[str, int] = {}
        self.styles: dict[str | None, Any] = {None: 0}

    def column(self, ref: str) -> int:
        letters = ref.rstrip("0123456789")
        column = self.columns.get(letters, 0) if len(letters) < len(ref) else 0
        if not column:  # openpyxl's own reading decides (and raises for a reference it refuses)
            column = self.columns[letters] = coordinate_to_tuple(ref)[1]
        return column

    def value(self, c: Any, kind: str) -> Any:
        s = c.get("s")
        style = self.styles.get(s)
        if style is None:
            style = self.styles[s] = int(s) if s else s  # openpyxl: element.get('s', 0), int if truthy
        if kind == "inlineStr":
            node = c.find(INLINE)
            return None if node is None else _inline(node)
        value = c.findtext(VALUE) or None
        if value is None:
            return None
        if kind == "n":
            value = float(value) if "." in value or "E" in value or "e" in value else int(value)
            if style in self.dates:
                try:
                    return from_excel(value, self.epoch, timedelta=style in self.deltas)
                except (OverflowError, ValueError) as exc:  # openpyxl warns and reads #VALUE!
                    raise Unsupported("date out of range") from exc
            return value
        if kind == "s":
            return self.strings[int(value)]
        if kind == "b":
            return bool(int(value))
        if kind == "d":
            return from_ISO8601(value)
        return value  # "str" (a formula's text), "e" (an error) and any other kind: the text

    def row(self, row: Any) -> Cells:
        cells: Cells = []
        column = 0
        for c in row:
            if c.tag != CELL:
                raise Unsupported(f"{c.tag} in a row")
            ref = c.get("r")
            value = self.value(c, c.get("t", "n"))
            column = self.column(ref) if ref else column + 1
            cells.append((column, value))
        return cells


def parse_rows(ws: Any) -> list[tuple[int, Cells]]:
    """(row number, cells) of every row of a read-only openpyxl worksheet, each value as openpyxl's
    read-only parser makes it; :class:`Unsupported` when not sure to."""
    if not ws.parent.data_only:
        raise Unsupported("formulas are read as text only by openpyxl")
    if ws.parent._archive.getinfo(ws._worksheet_path).file_size > MAX_SHEET_BYTES:
        raise Unsupported("sheet too large to parse whole")
    parser = _Cells(ws)
    with ws._get_source() as src:
        root = fromstring(src.read())
    data = root.find(SHEET_DATA)
    rows = [] if data is None else list(data)
    if any(r.tag != ROW for r in rows) or sum(1 for _ in root.iter(ROW)) != len(rows):
        raise Unsupported("rows outside the sheet data")
    out: list[tuple[int, Cells]] = []
    number = 0
    for row in rows:
        r = row.get("r")
        number = number + 1 if r is None else int(r)  # "5.0": ValueError, openpyxl's reading decides
        out.append((number, parser.row(row)))
    return out


class ValuesSheet:
    """A read-only worksheet's values parsed once; ``iter_rows(..., values_only=True)`` as openpyxl."""

    def __init__(self, ws: Any) -> None:
        self.title: str = ws.title
        self.max_row: int | None = ws.max_row
        self.max_column: int | None = ws.max_column
        self._rows = parse_rows(ws)

    def iter_rows(self, min_row: int | None = None, max_row: int | None = None, min_col: int | None = None,
                  max_col: int | None = None, values_only: bool = False) -> Iterator[Any]:
        """Rows of values between the bounds (the sheet's dimension when not given), as openpyxl's
        ``ReadOnlyWorksheet.iter_rows(values_only=True)``: missing rows and cells as None."""
        if not values_only:
            raise TypeError("ValuesSheet gives values only: iter_rows(..., values_only=True)")
        return self._cells_by_row(min_col or 1, min_row or 1, max_col or self.max_column,
                                  max_row or self.max_row)

    def _cells_by_row(self, min_col: int, min_row: int, max_col: int | None,
                      max_row: int | None) -> Iterator[Any]:
        # openpyxl.worksheet._read_only.ReadOnlyWorksheet._cells_by_row, step for step
        empty_row: Any = [] if max_col is None else (None,) * (max_col + 1 - min_col)
        counter, idx = min_row, 1
        for idx, cells in self._rows:
            if max_row is not None and idx > max_row:
                break
            for _ in range(counter, idx):
                counter += 1
                yield empty_row
            if counter <= idx:
                counter += 1
                yield self._row(cells, min_col, max_col)
        if max_row is not None and max_row < idx:
            for _ in range(counter, max_row + 1):
                yield empty_row

    @staticmethod
    def _row(cells: Cells, min_col: int, max_col: int | None) -> tuple[Any, ...]:
        # openpyxl.worksheet._read_only.ReadOnlyWorksheet._get_row with values_only
        if not cells and not max_col:
            return ()
        last = max_col or cells[-1][0]
        values: list[Any] = [None] * (last + 1 - min_col)
        for column, value in cells:
            if min_col <= column <= last:
                values[column - min_col] = value
        return tuple(values)


def values_sheet(ws: Any) -> Any:
    """``ws`` (a worksheet of a workbook openpyxl opened ``read_only``, ``data_only``) as a
    :class:`ValuesSheet`, or ``ws`` itself when the fast parse is not sure to give openpyxl's
    values (openpyxl then reads it, and raises or warns as it does)."""
    try:
        return ValuesSheet(ws)
    except Exception:  # noqa: BLE001 - whatever the surprise, openpyxl's own reading decides
        return ws
