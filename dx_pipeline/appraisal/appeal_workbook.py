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
from dx_pipeline.appraisal.sheet_layout import SheetLayout
from dx_pipeline.appraisal.sheet_layout import plain as _plain
from dx_pipeline.appraisal.sheet_layout import text as _text
from dx_pipeline.appraisal.sheet_values import values_sheet
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
LAYOUT = SheetLayout(SHEET, COLUMNS, INPUTS, INSTRUCTIONS, HEADER_ROWS)
letter = LAYOUT.letter
"""The column letter of a column key (``argument`` -> ``L``)."""
column_label = LAYOUT.column_label
"""``column L (Nội dung kiến nghị / Argument)``."""
where = LAYOUT.where
"""``sheet 'Kiến nghị - Appeal', row 7``."""


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
    ws, last = LAYOUT.write_sheet(wb, title, [row.cells() for row in rows])
    LAYOUT.finish(ws, last, "indicator_vi")


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


def read_appeal_workbook(path: str | Path) -> ReadAppealWorkbook:
    """The appeals a filled workbook asks for, and every problem reading it."""
    path = Path(path)
    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds for a file that is not xlsx
        raise ValueError(f"{path}: not an Excel workbook (.xlsx) openpyxl can read: {exc}") from exc
    out = ReadAppealWorkbook(problems=LAYOUT.missing_sheets(wb.sheetnames, ABOUT,
                                                            "dx-pipeline appeal export"))
    if out.problems:
        return out
    _read_about(wb[ABOUT], out)
    ws = values_sheet(wb[SHEET])
    if LAYOUT.headers_match(ws, out.problems):
        for r, cells in LAYOUT.data_rows(ws):
            out.rows_read += 1
            value = LAYOUT.number(cells["requested_value"], r, "requested_value", out.problems)
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
    out += LAYOUT.stale_frameworks(read.frameworks, scored, ABOUT)
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
