"""The evaluator's workbook: a period's scored indicators out to Excel, the verdicts back in.

One long sheet, not a sheet per agency. An evaluator checks one indicator across every agency
(is 100 % online payment plausible for this commune when its neighbours report 20 %?) at least
as often as one agency across its indicators, and Excel's filter and sort on a single table
serve both; a commune framework scores a hundred or more units, and a hundred sheets cannot be
filtered, searched or compared at once. The framework and agency columns keep every row
self-describing, so a filtered or sorted sheet still imports.

``Thẩm định - Appraisal``: a title, an instruction line, the column headers in Vietnamese and in
English (all locked), then one row per scored indicator of every agency: framework, agency code
and name, indicator code, its Vietnamese and English names, unit, reported value, evidence
reference, the points the reported value earns and the indicator's maximum (locked), and the
evaluator's columns (unlocked): verdict (a drop-down list), adjusted value, adjusted points and
reason, filled with the verdict in force when there is one. ``Thông tin - About`` (locked) says
which period and framework versions the workbook was made for.

:func:`read_workbook` reads it back into verdict requests, with every problem it finds (a sheet
or header that is not ours, a verdict not in the list, a number that is not one, a row twice,
verdict columns filled without a verdict) located by sheet, row and column;
:func:`locate` gives the problems of the appraisal's own checks the same location.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import xlsxwriter
from openpyxl import load_workbook

from dx_pipeline.appraisal.adjustments import VerdictRequest, verdict_problems
from dx_pipeline.appraisal.scored import Problem, ScoredResult
from dx_pipeline.appraisal.sheet_layout import SheetLayout
from dx_pipeline.appraisal.sheet_layout import plain as _plain
from dx_pipeline.appraisal.sheet_layout import text as _text
from dx_pipeline.appraisal.sheet_values import values_sheet
from dx_pipeline.index.appraised import VERDICT_NAMES, VERDICTS
from dx_pipeline.storage import atomic_path

SCHEMA = "dx_pipeline.appraisal_workbook/1"
SHEET = "Thẩm định - Appraisal"
ABOUT = "Thông tin - About"
HEADER_ROWS = 4
"""Title, instructions, Vietnamese headers, English headers; data from the row after."""
COLUMNS: tuple[tuple[str, str, str, int], ...] = (
    ("framework_id", "Bộ chỉ số", "Framework", 16),
    ("agency_code", "Mã đơn vị", "Agency code", 12),
    ("agency_name", "Tên đơn vị", "Agency", 30),
    ("node_id", "Mã chỉ tiêu", "Indicator code", 10),
    ("indicator_vi", "Chỉ tiêu", "Indicator (Vietnamese)", 40),
    ("indicator_en", "Tên tiếng Anh", "Indicator (English)", 34),
    ("unit", "Đơn vị tính", "Unit", 10),
    ("reported_value", "Giá trị tự báo cáo", "Reported value", 12),
    ("evidence", "Minh chứng", "Evidence reference", 28),
    ("reported_points", "Điểm tính", "Computed points", 10),
    ("max_points", "Điểm tối đa", "Maximum points", 10),
    ("verdict", "Kết quả thẩm định", "Verdict", 30),
    ("adjusted_value", "Giá trị điều chỉnh", "Adjusted value", 12),
    ("adjusted_points", "Điểm điều chỉnh", "Adjusted points", 12),
    ("reason", "Lý do", "Reason", 40),
)
"""(key, Vietnamese header, English header, width) of every column, in order."""
KEYS = [c[0] for c in COLUMNS]
INPUTS = ("verdict", "adjusted_value", "adjusted_points", "reason")
"""The evaluator's columns: the only cells left unlocked."""
FIELD_COLUMN = {"framework": "framework_id", "agency": "agency_code", "indicator": "node_id",
                "verdict": "verdict", "value": "adjusted_value", "points": "adjusted_points",
                "reason": "reason"}
"""A problem's field (:class:`~dx_pipeline.appraisal.scored.Problem`) -> the column it is in."""
CHOICES = {f"{VERDICT_NAMES[v].vi} - {v}": v for v in VERDICTS}
"""The drop-down's entries (Vietnamese name - verdict) -> the verdict."""
INSTRUCTIONS = (
    "Chọn kết quả thẩm định (cột L); nhập giá trị điều chỉnh (M) hoặc điểm điều chỉnh (N) khi "
    "điều chỉnh; lý do (O) là bắt buộc. Dòng để trống cột L: chưa thẩm định. / Choose a verdict "
    "(column L); give the adjusted value (M) or points (N) when adjusting; a reason (O) is required. "
    "Rows with L empty are not appraised."
)
LAYOUT = SheetLayout(SHEET, COLUMNS, INPUTS, INSTRUCTIONS, HEADER_ROWS)
letter = LAYOUT.letter
"""The column letter of a column key (``verdict`` -> ``L``)."""
column_label = LAYOUT.column_label
"""``column L (Kết quả thẩm định / Verdict)``."""
where = LAYOUT.where
"""``sheet 'Thẩm định - Appraisal', row 12``."""


def locate(problem: Problem) -> Problem:
    """A problem of the appraisal's checks with its field told as the workbook's column."""
    key = FIELD_COLUMN.get(problem.field)
    return Problem(problem.where, column_label(key), problem.message) if key else problem


def choice_of(verdict: str | None) -> str | None:
    """The drop-down entry of a verdict (None for none)."""
    return None if verdict is None else next((c for c, v in CHOICES.items() if v == verdict), verdict)


@dataclass(frozen=True)
class WorkbookRow:
    """One scored indicator of one agency as the workbook shows it."""

    framework_id: str
    agency_code: str
    agency_name: str
    node_id: str
    indicator_vi: str
    indicator_en: str
    unit: str
    reported_value: float | None
    evidence: str
    reported_points: float
    max_points: float
    verdict: str | None = None
    adjusted_value: float | None = None
    adjusted_points: float | None = None
    reason: str | None = None

    def cells(self) -> list[Any]:
        """The row's values in column order (the verdict as its drop-down entry)."""
        values = [getattr(self, k) for k in KEYS]
        values[KEYS.index("verdict")] = choice_of(self.verdict)
        return values


def workbook_rows(
    scored: ScoredResult,
    names: Mapping[str, str],
    evidence: Mapping[tuple[str, str], str],
    in_force: Sequence[Mapping[str, Any]] = (),
) -> list[WorkbookRow]:
    """Every scored, assessed indicator of every agency, by framework, agency and indicator,
    with the verdict in force (``adjustments`` rows) filled in. ``names``: agency code ->
    name; ``evidence``: (agency, KPI or item code) -> where the reported value came from."""
    current = {(r["framework_id"], r["agency_code"], r["node_id"]): r for r in in_force}
    out = []
    for (fid, agency, node_id), row in scored.indicators.iterrows():  # type: ignore[misc]
        node = scored.node(str(fid), str(node_id))
        if node.not_assessed is not None:
            continue
        spec = scored.specs[str(fid)].get(str(node.input_code))
        verdict = current.get((fid, agency, node_id), {})
        out.append(WorkbookRow(
            framework_id=str(fid), agency_code=str(agency), agency_name=names.get(str(agency), ""),
            node_id=str(node_id), indicator_vi=node.name.vi, indicator_en=node.name.en,
            unit=spec.unit if spec else "number", reported_value=_plain(row.get("reported_value")),
            evidence=evidence.get((str(agency), str(node.input_code)), ""),
            reported_points=float(row["reported_points"]), max_points=float(row["max_points"]),
            verdict=verdict.get("verdict"), adjusted_value=_plain(verdict.get("adjusted_value")),
            adjusted_points=_plain(verdict.get("adjusted_points")), reason=verdict.get("reason"),
        ))
    return out


def _sheet(wb: xlsxwriter.Workbook, title: str, rows: Sequence[WorkbookRow]) -> None:
    """The appraisal sheet: headers, rows, the verdict list, locked but the evaluator's cells
    (filtering and sorting stay allowed)."""
    ws, last = LAYOUT.write_sheet(wb, title, [row.cells() for row in rows])
    col = KEYS.index("verdict")
    ws.data_validation(HEADER_ROWS, col, last, col, {
        "validate": "list", "source": list(CHOICES), "ignore_blank": True,
        "error_title": "Kết quả thẩm định / Verdict",
        "error_message": "Chọn trong danh sách / choose from the list",
    })
    LAYOUT.finish(ws, last, "agency_name")


def _about(
    wb: xlsxwriter.Workbook, period: str, frameworks: Mapping[str, str], generated_at: dt.datetime
) -> None:
    ws = wb.add_worksheet(ABOUT)
    rows = [("workbook", SCHEMA), ("period", period)]
    rows += [("framework", f"{fid} {version}") for fid, version in sorted(frameworks.items())]
    rows.append(("generated_at", generated_at.isoformat() + "Z"))
    for i, (key, value) in enumerate(rows):
        ws.write_string(i, 0, key)
        ws.write_string(i, 1, value)
    ws.set_column(0, 0, 14)
    ws.set_column(1, 1, 40)
    ws.protect()


def write_workbook(
    path: str | Path, scored: ScoredResult, rows: Sequence[WorkbookRow], title: str,
    generated_at: dt.datetime,
) -> Path:
    """Write the evaluator's workbook of ``scored``'s period with ``rows`` (atomically).

    The temporary file has a name of its own (``atomic_path``): two runs of one quarter at once
    each write theirs, where one shared ``.name.tmp`` was renamed away under the other run."""
    path = Path(path)
    with atomic_path(path) as tmp:
        wb = xlsxwriter.Workbook(str(tmp), {"strings_to_formulas": False, "strings_to_urls": False,
                                            "in_memory": True})
        wb.set_properties({"title": title, "author": "dx_pipeline", "created": generated_at})
        _sheet(wb, title, rows)
        _about(wb, scored.period, {fid: str(fw.version) for fid, fw in scored.frameworks.items()},
               generated_at)
        wb.close()
    return path


@dataclass
class ReadWorkbook:
    """What a filled workbook says: its period and framework versions (with the row of the
    About sheet each is on), the verdicts asked, and every problem found reading it."""

    period: str | None = None
    period_row: int = 0
    frameworks: dict[str, tuple[str, int]] = field(default_factory=dict)
    requests: list[VerdictRequest] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    rows_read: int = 0


def _choice(text: str) -> str | None:
    """The verdict a cell names: a drop-down entry, or the verdict itself (any case)."""
    folded = text.strip().casefold()
    for choice, verdict in CHOICES.items():
        if folded in (choice.casefold(), verdict):
            return verdict
    return None


def _row_request(r: int, cells: Mapping[str, Any], problems: list[Problem]) -> VerdictRequest | None:
    """The verdict one data row asks for (None when it asks for none or its verdict is unknown)."""
    text = _text(cells["verdict"])
    before = len(problems)
    value = LAYOUT.number(cells["adjusted_value"], r, "adjusted_value", problems)
    points = LAYOUT.number(cells["adjusted_points"], r, "adjusted_points", problems)
    reason = _text(cells["reason"])
    if len(problems) > before:  # a figure that cannot be read: the row asks for nothing yet
        return None
    if not text:
        if value is not None or points is not None or reason:
            problems.append(Problem(where(r), column_label("verdict"), "the row gives an adjusted value, "
                                    "points or a reason but no verdict: choose one from the list"))
        return None
    verdict = _choice(text)
    if verdict is None:
        listed = "; ".join(CHOICES)
        problems.append(Problem(where(r), column_label("verdict"), f"{text!r} is not in the list ({listed})"))
        return None
    return VerdictRequest(_text(cells["framework_id"]), _text(cells["agency_code"]), _text(cells["node_id"]),
                          verdict, reason, value, points, where=where(r))


def _read_about(ws: Any, out: ReadWorkbook) -> None:
    for r, (key, value) in enumerate(ws.iter_rows(min_col=1, max_col=2, values_only=True), start=1):
        key, value = _text(key), _text(value)
        if key == "workbook" and value != SCHEMA:
            out.problems.append(Problem(where(r, ABOUT), "column B", f"{value!r} is not an appraisal "
                                        f"workbook ({SCHEMA}): export one with dx-pipeline appraisal export"))
        elif key == "period":
            out.period, out.period_row = value, r
        elif key == "framework" and " " in value:
            fid, version = value.split(" ", 1)
            out.frameworks[fid] = (version, r)
    if out.period is None:
        out.problems.append(Problem(f"sheet '{ABOUT}'", "row 'period'", "the workbook does not say which "
                                    "period it is for: export one with dx-pipeline appraisal export"))


def read_workbook(path: str | Path) -> ReadWorkbook:
    """The verdicts a filled workbook asks for, and every problem reading it (nothing is
    checked against the scores here: :func:`problems_against`)."""
    path = Path(path)
    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds for a file that is not xlsx
        raise ValueError(f"{path}: not an Excel workbook (.xlsx) openpyxl can read: {exc}") from exc
    out = ReadWorkbook(problems=LAYOUT.missing_sheets(wb.sheetnames, ABOUT, "dx-pipeline appraisal export"))
    if out.problems:
        return out
    _read_about(wb[ABOUT], out)
    ws = values_sheet(wb[SHEET])
    if not LAYOUT.headers_match(ws, out.problems):
        return out
    for r, cells in LAYOUT.data_rows(ws):
        out.rows_read += 1
        request = _row_request(r, cells, out.problems)
        if request is not None:
            out.requests.append(request)
    wb.close()
    return out


def problems_against(read: ReadWorkbook, scored: ScoredResult) -> list[Problem]:
    """Every problem of a read workbook against the period's scores: framework versions that
    are not the ones scored, each request's key, verdict, value, points and reason, and an
    indicator asked twice. Reading problems come first."""
    out = list(read.problems)
    out += LAYOUT.stale_frameworks(read.frameworks, scored, ABOUT)
    seen: dict[tuple[str, str, str], str] = {}
    for request in read.requests:
        out += [locate(p) for p in verdict_problems(request, scored)]
        if request.key in seen:
            out.append(Problem(request.where, column_label("node_id"),
                               f"{'/'.join(request.key)} is already on {seen[request.key]}"))
        seen.setdefault(request.key, request.where)
    return out
