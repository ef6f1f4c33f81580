"""The one-table sheet layout the evaluator's appraisal workbook and an agency's appeal workbook
share: a title, an instruction line, the column headers in Vietnamese and in English (locked),
then one data row per indicator with only the input columns unlocked.

:class:`SheetLayout` is parametrised by the sheet's name and its columns; each workbook module
keeps its own layout, About sheet and row meaning, and uses this for the column letters and
labels, the locations of problems, writing the sheet, checking the headers and reading the cells.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import xlsxwriter

from dx_pipeline.appraisal.scored import Problem, ScoredResult

LOCKED_COLOUR, INPUT_COLOUR = "#E8EEF4", "#FFF8DC"
Column = tuple[str, str, str, int]
"""(key, Vietnamese header, English header, width) of a column."""


def plain(x: Any) -> Any:
    """A value with NaN read as missing (None)."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return None
    return x


def text(x: Any) -> str:
    """A cell as stripped text ("" when empty)."""
    return "" if x is None else str(x).strip()


def write_cell(ws: Any, row: int, col: int, value: Any, fmt: Any = None) -> None:
    """One cell as data: text is always text (nothing an agency typed becomes a formula)."""
    if value is None:
        if fmt is not None:
            ws.write_blank(row, col, None, fmt)
    elif isinstance(value, bool | int | float):
        ws.write_number(row, col, float(value), fmt)
    else:
        ws.write_string(row, col, str(value), fmt)


def formats(wb: xlsxwriter.Workbook) -> dict[str, Any]:
    """The title, instruction, header and input-cell formats of a layout sheet."""
    head = {"bold": True, "text_wrap": True, "valign": "top", "border": 1}
    return {
        "title": wb.add_format({"bold": True, "font_size": 13}),
        "wrap": wb.add_format({"text_wrap": True, "valign": "top"}),
        "head": wb.add_format({**head, "bg_color": LOCKED_COLOUR}),
        "input_head": wb.add_format({**head, "bg_color": INPUT_COLOUR}),
        "input": wb.add_format({"locked": False, "bg_color": INPUT_COLOUR}),
    }


@dataclass(frozen=True)
class SheetLayout:
    """A sheet's name, its columns in order, the unlocked input columns and the instructions."""

    sheet: str
    columns: tuple[Column, ...]
    inputs: tuple[str, ...]
    instructions: str
    header_rows: int = 4
    """Title, instructions, Vietnamese headers, English headers; data from the row after."""

    @property
    def keys(self) -> list[str]:
        return [c[0] for c in self.columns]

    def letter(self, key: str) -> str:
        """The column letter of a column key."""
        return chr(ord("A") + self.keys.index(key))

    def column_label(self, key: str) -> str:
        """``column L (Kết quả thẩm định / Verdict)``."""
        _, vi, en, _ = self.columns[self.keys.index(key)]
        return f"column {self.letter(key)} ({vi} / {en})"

    def where(self, row: int, sheet: str | None = None) -> str:
        """``sheet '<sheet>', row 12`` (this layout's sheet unless told)."""
        return f"sheet '{self.sheet if sheet is None else sheet}', row {row}"

    def write_sheet(self, wb: xlsxwriter.Workbook, title: str,
                    rows: Sequence[Sequence[Any]]) -> tuple[Any, int]:
        """The sheet with its title, instructions, headers and data rows (input cells unlocked);
        the worksheet and its last data row, to be finished with :meth:`finish`."""
        f = formats(wb)
        ws = wb.add_worksheet(self.sheet)
        ws.write_string(0, 0, title, f["title"])
        ws.merge_range(1, 0, 1, len(self.columns) - 1, self.instructions, f["wrap"])
        ws.set_row(1, 45)
        keys = self.keys
        inputs = {keys.index(k) for k in self.inputs}
        for j, (key, vi, en, width) in enumerate(self.columns):
            fmt = f["input_head"] if key in self.inputs else f["head"]
            ws.write_string(self.header_rows - 2, j, vi, fmt)
            ws.write_string(self.header_rows - 1, j, en, fmt)
            ws.set_column(j, j, width)
        for i, cells in enumerate(rows, start=self.header_rows):
            for j, value in enumerate(cells):
                write_cell(ws, i, j, value, f["input"] if j in inputs else None)
        return ws, self.header_rows + max(len(rows), 1) - 1

    def finish(self, ws: Any, last: int, freeze_after: str) -> None:
        """Freeze the headers and the columns up to ``freeze_after``, filter the table, lock the
        sheet (filtering and sorting stay allowed)."""
        ws.freeze_panes(self.header_rows, self.keys.index(freeze_after) + 1)
        ws.autofilter(self.header_rows - 1, 0, last, len(self.columns) - 1)
        ws.protect("", {"autofilter": True, "sort": True, "format_columns": True})

    def missing_sheets(self, sheetnames: Sequence[str], about: str, export: str) -> list[Problem]:
        """A problem for each of the About and layout sheets a workbook lacks."""
        return [Problem(f"sheet '{name}'", "sheet", "is missing: this is not a workbook of "
                        f"{export} (sheets: {', '.join(sheetnames)})")
                for name in (about, self.sheet) if name not in sheetnames]

    def headers_match(self, ws: Any, problems: list[Problem]) -> bool:
        """Whether the English header row is this layout's (a problem per column that is not)."""
        found = next(ws.iter_rows(min_row=self.header_rows, max_row=self.header_rows, values_only=True), ())
        ok = True
        for j, (key, _, en, _) in enumerate(self.columns):
            got = text(found[j]) if j < len(found) else ""
            if got != en:
                ok = False
                problems.append(Problem(self.where(self.header_rows), self.column_label(key),
                                        f"the header is {got!r}, not {en!r}: columns were moved or "
                                        "removed; export a new workbook"))
        return ok

    def data_rows(self, ws: Any) -> Iterator[tuple[int, dict[str, Any]]]:
        """(sheet row, column key -> cell) of every data row that is not all empty."""
        keys = self.keys
        for r, values in enumerate(ws.iter_rows(min_row=self.header_rows + 1, max_col=len(keys),
                                                values_only=True), start=self.header_rows + 1):
            cells = dict(zip(keys, list(values) + [None] * (len(keys) - len(values)), strict=True))
            if any(text(v) != "" for v in cells.values()):
                yield r, cells

    def number(self, x: Any, r: int, key: str, problems: list[Problem]) -> float | None:
        """A number cell (a decimal comma and a percent sign are read too); None when empty; a
        problem located at row ``r``, column ``key`` when it is not a number."""
        if x is None or (isinstance(x, str) and not x.strip()):
            return None
        if isinstance(x, bool | int | float):
            return float(x)
        try:
            cell = str(x).strip().replace(" ", "").replace(",", ".")
            return float(cell.rstrip("%")) / (100 if cell.endswith("%") else 1)
        except ValueError:
            problems.append(Problem(self.where(r), self.column_label(key), f"{x!r} is not a number"))
            return None

    def stale_frameworks(self, frameworks: Mapping[str, tuple[str, int]], scored: ScoredResult,
                         about: str) -> list[Problem]:
        """A problem for each framework version (with its About row) the period is no longer
        scored under."""
        out = []
        for fid, (version, r) in sorted(frameworks.items()):
            fw = scored.frameworks.get(fid)
            if fw is None or str(fw.version) != version:
                now = f"version {fw.version}" if fw is not None else "not at all"
                out.append(Problem(self.where(r, about), "column B", f"the workbook was made for {fid} "
                                   f"{version}, but {scored.period} is scored under {fid} {now}: export a "
                                   "new workbook"))
        return out
