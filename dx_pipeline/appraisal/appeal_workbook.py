"""An agency's appeal workbook: its provisional points per indicator out to Excel, its appeals back in.

One workbook per agency and period (an agency appeals its own result only): the sheet
``Kiến nghị - Appeal`` has a title, an instruction line, the column headers in Vietnamese and in
English (locked), then one row per assessed indicator of the agency under every framework that
scores it: framework, indicator code and names, unit, the reported value, the provisional
value and points (after appraisal), the maximum points and the evaluator's verdict with its
reason (locked), and the agency's two columns (unlocked): the value it asks for and its
argument. A row with the argument empty asks for nothing; a requested value without an
argument is refused. ``Thông tin - About`` (locked) names the period, the agency, the
provisional revision, the appeal window's end and the framework versions.

:func:`read_appeal_workbook` reads it back into appeal requests with every problem located by
sheet, row and column; :func:`appeal_problems_against` adds the checks against the period's
scores (unknown agency or indicator, a row of another agency, a value out of range, an
indicator twice, framework versions no longer scored). Whether the window is open is checked
by the application against the appraisal database, located on the About sheet's row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import xlsxwriter
from openpyxl import load_workbook

from dx_pipeline.appraisal.appeals import AppealRequest, appeal_problems
from dx_pipeline.appraisal.scored import Problem, ScoredResult
from dx_pipeline.appraisal.workbook import _plain, _text, _write
from dx_pipeline.index.appraised import VERDICT_NAMES
from dx_pipeline.storage import atomic_path

SCHEMA = "dx_pipeline.appeal_workbook/1"
SHEET = "Kiến nghị - Appeal"
ABOUT = "Thông tin - About"
HEADER_ROWS = 4
"""Title, instructions, Vietnamese headers, English headers; data from the row after."""
COLUMNS: tuple[tuple[str, str, str, int], ...] = (
    ("framework_id", "Bộ chỉ số", "Framework", 16),
    ("node_id", "Mã chỉ tiêu", "Indicator code", 10),
    ("indicator_vi", "Chỉ tiêu", "Indicator (Vietnamese)", 40),
    ("indicator_en", "Tên tiếng Anh", "Indicator (English)", 34),
    ("unit", "Đơn vị tính", "Unit", 10),
    ("reported_value", "Giá trị tự báo cáo", "Reported value", 12),
    ("provisional_value", "Giá trị tạm thời", "Provisional value", 12),
    ("provisional_points", "Điểm tạm thời", "Provisional points", 10),
    ("max_points", "Điểm tối đa", "Maximum points", 10),
    ("appraisal", "Kết quả thẩm định", "Appraisal verdict and reason", 36),
    ("requested_value", "Giá trị đề nghị", "Requested value", 12),
    ("argument", "Nội dung kiến nghị", "Argument", 48),
)
"""(key, Vietnamese header, English header, width) of every column, in order."""
KEYS = [c[0] for c in COLUMNS]
INPUTS = ("requested_value", "argument")
"""The agency's columns: the only cells left unlocked."""
FIELD_COLUMN = {"framework": "framework_id", "indicator": "node_id", "value": "requested_value",
                "argument": "argument"}
"""A problem's field -> the column it is in (the agency is the About sheet's)."""
INSTRUCTIONS = (
    "Ghi nội dung kiến nghị (cột L) cho chỉ tiêu đơn vị không đồng ý, kèm giá trị đề nghị (K) nếu có. "
    "Dòng để trống cột L: không kiến nghị. / Write the argument (column L) on each indicator the agency "
    "disputes, with the value it asks for (K) if any. Rows with L empty ask for nothing."
)
LOCKED_COLOUR, INPUT_COLOUR = "#E8EEF4", "#FFF8DC"


def letter(key: str) -> str:
    """The column letter of a column key (``argument`` -> ``L``)."""
    return chr(ord("A") + KEYS.index(key))


def column_label(key: str) -> str:
    """``column L (Nội dung kiến nghị / Argument)``."""
    _, vi, en, _ = COLUMNS[KEYS.index(key)]
    return f"column {letter(key)} ({vi} / {en})"


def where(row: int, sheet: str = SHEET) -> str:
    """``sheet 'Kiến nghị - Appeal', row 7``."""
    return f"sheet '{sheet}', row {row}"


@dataclass(frozen=True)
class AppealRow:
    """One assessed indicator of the agency as the appeal workbook shows it."""

    framework_id: str
    node_id: str
    indicator_vi: str
    indicator_en: str
    unit: str
    reported_value: float | None
    provisional_value: float | None
    provisional_points: float
    max_points: float
    appraisal: str = ""
    requested_value: float | None = None
    argument: str | None = None

    def cells(self) -> list[Any]:
        return [getattr(self, k) for k in KEYS]


def appeal_rows(scored: ScoredResult, agency: str, reasons: Mapping[tuple[str, str], str]) -> list[AppealRow]:
    """Every assessed indicator ``agency`` is scored on, with its provisional value and points
    (after appraisal) and the verdict in force; ``reasons``: (framework, indicator) -> the
    verdict's reason."""
    out = []
    for (fid, code, node_id), row in scored.indicators.iterrows():  # type: ignore[misc]
        if str(code) != agency:
            continue
        node = scored.node(str(fid), str(node_id))
        if node.not_assessed is not None:
            continue
        spec = scored.specs[str(fid)].get(str(node.input_code))
        verdict = _text(row.get("appraisal")) if _plain(row.get("appraisal")) is not None else ""
        said = ""
        if verdict:
            name = VERDICT_NAMES[verdict] if verdict in VERDICT_NAMES else verdict
            said = f"{name}: {reasons.get((str(fid), str(node_id)), '')}".rstrip(": ")
        out.append(AppealRow(
            framework_id=str(fid), node_id=str(node_id), indicator_vi=node.name.vi, indicator_en=node.name.en,
            unit=spec.unit if spec else "number", reported_value=_plain(row.get("reported_value")),
            provisional_value=_plain(row.get("input_value")), provisional_points=float(row["points"]),
            max_points=float(row["max_points"]), appraisal=said,
        ))
    return out


def _sheet(wb: xlsxwriter.Workbook, title: str, rows: Sequence[AppealRow]) -> None:
    bold = {"bold": True, "text_wrap": True, "valign": "top", "border": 1}
    head = wb.add_format({**bold, "bg_color": LOCKED_COLOUR})
    input_head = wb.add_format({**bold, "bg_color": INPUT_COLOUR})
    cell = wb.add_format({"locked": False, "bg_color": INPUT_COLOUR})
    ws = wb.add_worksheet(SHEET)
    ws.write_string(0, 0, title, wb.add_format({"bold": True, "font_size": 13}))
    wrap = wb.add_format({"text_wrap": True, "valign": "top"})
    ws.merge_range(1, 0, 1, len(COLUMNS) - 1, INSTRUCTIONS, wrap)
    ws.set_row(1, 45)
    inputs = {KEYS.index(k) for k in INPUTS}
    for j, (key, vi, en, width) in enumerate(COLUMNS):
        fmt = input_head if key in INPUTS else head
        ws.write_string(HEADER_ROWS - 2, j, vi, fmt)
        ws.write_string(HEADER_ROWS - 1, j, en, fmt)
        ws.set_column(j, j, width)
    for i, row in enumerate(rows, start=HEADER_ROWS):
        for j, value in enumerate(row.cells()):
            _write(ws, i, j, value, cell if j in inputs else None)
    last = HEADER_ROWS + max(len(rows), 1) - 1
    ws.freeze_panes(HEADER_ROWS, KEYS.index("indicator_vi") + 1)
    ws.autofilter(HEADER_ROWS - 1, 0, last, len(COLUMNS) - 1)
    ws.protect("", {"autofilter": True, "sort": True, "format_columns": True})


@dataclass(frozen=True)
class AppealWorkbookAbout:
    """What the About sheet says: the period, the agency, the revision and window."""

    period: str
    agency: str
    revision: int | None
    closes_at: dt.datetime | None
    frameworks: Mapping[str, str]


def write_appeal_workbook(path: str | Path, about: AppealWorkbookAbout, rows: Sequence[AppealRow],
                          title: str, generated_at: dt.datetime) -> Path:
    """Write the agency's appeal workbook (atomically)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        wb = xlsxwriter.Workbook(str(tmp), {"strings_to_formulas": False, "strings_to_urls": False,
                                            "in_memory": True})
        wb.set_properties({"title": title, "author": "dx_pipeline", "created": generated_at})
        _sheet(wb, title, rows)
        ws = wb.add_worksheet(ABOUT)
        info = [("workbook", SCHEMA), ("period", about.period), ("agency", about.agency),
                ("provisional_revision", "" if about.revision is None else str(about.revision)),
                ("appeals_close_at", about.closes_at.isoformat() + "Z" if about.closes_at else "")]
        info += [("framework", f"{fid} {version}") for fid, version in sorted(about.frameworks.items())]
        info.append(("generated_at", generated_at.isoformat() + "Z"))
        for i, (key, value) in enumerate(info):
            ws.write_string(i, 0, key)
            ws.write_string(i, 1, value)
        ws.set_column(0, 0, 20)
        ws.set_column(1, 1, 40)
        ws.protect()
        wb.close()
    return path


@dataclass
class ReadAppealWorkbook:
    """What a filled appeal workbook says (with the About row of each fact), the appeals it
    asks for and every problem found reading it."""

    period: str | None = None
    period_row: int = 0
    agency: str | None = None
    agency_row: int = 0
    frameworks: dict[str, tuple[str, int]] = field(default_factory=dict)
    requests: list[AppealRequest] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    rows_read: int = 0


def _read_about(ws: Any, out: ReadAppealWorkbook) -> None:
    for r, (key, value) in enumerate(ws.iter_rows(min_col=1, max_col=2, values_only=True), start=1):
        key, value = _text(key), _text(value)
        if key == "workbook" and value != SCHEMA:
            out.problems.append(Problem(where(r, ABOUT), "column B", f"{value!r} is not an appeal workbook "
                                        f"({SCHEMA}): export one with dx-pipeline appeal export"))
        elif key == "period":
            out.period, out.period_row = value, r
        elif key == "agency":
            out.agency, out.agency_row = value, r
        elif key == "framework" and " " in value:
            fid, version = value.split(" ", 1)
            out.frameworks[fid] = (version, r)
    for fact, known in (("period", out.period), ("agency", out.agency)):
        if not known:
            out.problems.append(Problem(f"sheet '{ABOUT}'", f"row '{fact}'", f"the workbook does not say "
                                        f"which {fact} it is for: export one with dx-pipeline appeal export"))


def _headers_match(ws: Any, out: ReadAppealWorkbook) -> bool:
    found = next(ws.iter_rows(min_row=HEADER_ROWS, max_row=HEADER_ROWS, values_only=True), ())
    ok = True
    for j, (key, _, en, _) in enumerate(COLUMNS):
        got = _text(found[j]) if j < len(found) else ""
        if got != en:
            ok = False
            out.problems.append(Problem(where(HEADER_ROWS), column_label(key), f"the header is {got!r}, not "
                                        f"{en!r}: columns were moved or removed; export a new workbook"))
    return ok


def _number_at(x: Any, r: int, key: str, problems: list[Problem]) -> float | None:
    """A number cell (a decimal comma and a percent sign are read too); None when empty."""
    if x is None or (isinstance(x, str) and not x.strip()):
        return None
    if isinstance(x, bool | int | float):
        return float(x)
    try:
        text = str(x).strip().replace(" ", "").replace(",", ".")
        return float(text.rstrip("%")) / (100 if text.endswith("%") else 1)
    except ValueError:
        problems.append(Problem(where(r), column_label(key), f"{x!r} is not a number"))
        return None


def read_appeal_workbook(path: str | Path) -> ReadAppealWorkbook:
    """The appeals a filled workbook asks for, and every problem reading it."""
    path = Path(path)
    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds for a file that is not xlsx
        raise ValueError(f"{path}: not an Excel workbook (.xlsx) openpyxl can read: {exc}") from exc
    out = ReadAppealWorkbook()
    for name in (ABOUT, SHEET):
        if name not in wb.sheetnames:
            out.problems.append(Problem(f"sheet '{name}'", "sheet", "is missing: this is not a workbook of "
                                        f"dx-pipeline appeal export (sheets: {', '.join(wb.sheetnames)})"))
    if out.problems:
        return out
    _read_about(wb[ABOUT], out)
    ws = wb[SHEET]
    if _headers_match(ws, out):
        for r, values in enumerate(ws.iter_rows(min_row=HEADER_ROWS + 1, max_col=len(KEYS), values_only=True),
                                   start=HEADER_ROWS + 1):
            cells = dict(zip(KEYS, list(values) + [None] * (len(KEYS) - len(values)), strict=True))
            if all(_text(v) == "" for v in cells.values()):
                continue
            out.rows_read += 1
            value = _number_at(cells["requested_value"], r, "requested_value", out.problems)
            argument = _text(cells["argument"])
            if not argument:
                if value is not None:
                    out.problems.append(Problem(where(r), column_label("argument"), "the row asks for a "
                                                "value but gives no argument: an appeal must say why"))
                continue
            out.requests.append(AppealRequest(_text(cells["framework_id"]), out.agency or "",
                                              _text(cells["node_id"]), argument, value, where=where(r)))
    wb.close()
    return out


def _locate(problem: Problem, read: ReadAppealWorkbook) -> Problem:
    if problem.field == "agency":
        return Problem(where(read.agency_row, ABOUT), "column B", problem.message)
    key = FIELD_COLUMN.get(problem.field)
    return Problem(problem.where, column_label(key), problem.message) if key else problem


def appeal_problems_against(read: ReadAppealWorkbook, scored: ScoredResult) -> list[Problem]:
    """Every problem of a read appeal workbook against the period's scores; reading problems
    first."""
    out = list(read.problems)
    for fid, (version, r) in sorted(read.frameworks.items()):
        fw = scored.frameworks.get(fid)
        if fw is None or str(fw.version) != version:
            now = f"version {fw.version}" if fw is not None else "not at all"
            out.append(Problem(where(r, ABOUT), "column B", f"the workbook was made for {fid} {version}, "
                               f"but {scored.period} is scored under {fid} {now}: export a new workbook"))
    seen: dict[tuple[str, str, str], str] = {}
    agency_told = False
    for request in read.requests:
        for p in appeal_problems(request, scored):
            if p.field == "agency":
                if agency_told:
                    continue
                agency_told = True
            out.append(_locate(p, read))
        if request.key in seen:
            out.append(Problem(request.where, column_label("node_id"),
                               f"{'/'.join(request.key)} is already on {seen[request.key]}"))
        seen.setdefault(request.key, request.where)
    return out
