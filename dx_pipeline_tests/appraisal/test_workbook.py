"""The evaluator's workbook: what is locked, what the evaluator fills, and every problem of a
filled one named by sheet, row and column (read with openpyxl, as Excel saves it)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from openpyxl import load_workbook

from dx_pipeline.appraisal.workbook import (
    ABOUT,
    CHOICES,
    HEADER_ROWS,
    KEYS,
    SHEET,
    problems_against,
    read_workbook,
    workbook_rows,
    write_workbook,
)

COL = {k: i + 1 for i, k in enumerate(KEYS)}
NAMES = {"A": "Sở Tài chính", "B": "=HYPERLINK(\"http://x\")"}  # a name that looks like a formula
EVIDENCE = {("A", "dx_plan_evidence"): "Kế hoạch số 12/KH-STC ngày 15/3/2025"}
IN_FORCE = [{"framework_id": "mini", "agency_code": "B", "node_id": "P2.2", "verdict": "accept",
             "adjusted_value": None, "adjusted_points": None, "reason": "Đã đối chiếu"}]


def _export(scored, path):
    rows = workbook_rows(scored, NAMES, EVIDENCE, IN_FORCE)
    return write_workbook(path, scored, rows, "Phiếu thẩm định", dt.datetime(2025, 7, 20, 2, 0))


def _row(ws, agency: str, node: str) -> int:
    return next(r for r in range(HEADER_ROWS + 1, ws.max_row + 1)
                if (ws.cell(r, COL["agency_code"]).value, ws.cell(r, COL["node_id"]).value) == (agency, node))


def _set(ws, r: int, **cells) -> None:
    for key, value in cells.items():
        ws.cell(r, COL[key]).value = value


def test_only_the_evaluators_cells_are_unlocked_and_the_verdict_is_a_list(scored, tmp_path):
    wb = load_workbook(_export(scored, tmp_path / "w.xlsx"))
    ws: Any = wb[SHEET]
    assert ws.protection.sheet and wb[ABOUT].protection.sheet
    headers = ["Framework", "Reported value", "Verdict", "Reason"]
    assert [ws.cell(4, c).value for c in (1, 8, 12, 15)] == headers
    assert ws.cell(3, COL["verdict"]).value == "Kết quả thẩm định"
    assert all(ws.cell(r, c).protection.locked for r in range(1, HEADER_ROWS + 1) for c in COL.values())
    data = range(HEADER_ROWS + 1, ws.max_row + 1)
    assert len(data) == 8  # two agencies, four indicators
    for r in data:
        assert [ws.cell(r, COL[k]).protection.locked for k in KEYS] == [True] * 11 + [False] * 4
    [dv] = ws.data_validations.dataValidation
    assert dv.type == "list" and str(dv.sqref) == f"L{HEADER_ROWS + 1}:L{ws.max_row}"
    assert dv.formula1 == '"' + ",".join(CHOICES) + '"'
    a_plan = _row(ws, "A", "P2.1")
    assert ws.cell(a_plan, COL["indicator_vi"]).value == "Kế hoạch"
    assert ws.cell(a_plan, COL["evidence"]).value == "Kế hoạch số 12/KH-STC ngày 15/3/2025"
    assert ws.cell(a_plan, COL["reported_points"]).value == 10
    assert ws.cell(a_plan, COL["max_points"]).value == 10
    b_name = ws.cell(_row(ws, "B", "P1.1"), COL["agency_name"])
    assert b_name.data_type == "s" and b_name.value == NAMES["B"]  # text, never a formula
    b_training = _row(ws, "B", "P2.2")
    assert ws.cell(b_training, COL["verdict"]).value == "Chấp nhận - accept"  # the verdict in force
    about = {r[0]: r[1] for r in wb[ABOUT].iter_rows(values_only=True)}
    assert about["period"] == "2025-Q2" and about["framework"] == "mini 1"


def test_a_filled_workbook_reads_back_as_the_evaluators_verdicts(scored, tmp_path):
    path = _export(scored, tmp_path / "w.xlsx")
    wb = load_workbook(path)
    ws: Any = wb[SHEET]
    _set(ws, _row(ws, "A", "P1.1"), verdict="Điều chỉnh giá trị - adjust_value", adjusted_value="0,5",
         reason="Chỉ 50 % hồ sơ đúng hạn")
    _set(ws, _row(ws, "A", "P2.1"), verdict="reject", reason="Kế hoạch chưa ký")
    _set(ws, _row(ws, "B", "P1.2"), verdict="Điều chỉnh điểm - adjust_points", adjusted_points=5,
         reason="Một phần")
    wb.save(tmp_path / "filled.xlsx")
    read = read_workbook(tmp_path / "filled.xlsx")
    assert read.period == "2025-Q2" and read.problems == [] and problems_against(read, scored) == []
    got = {(r.agency_code, r.node_id): (r.verdict, r.value, r.points, r.reason) for r in read.requests}
    assert got == {
        ("A", "P1.1"): ("adjust_value", 0.5, None, "Chỉ 50 % hồ sơ đúng hạn"),
        ("A", "P2.1"): ("reject", None, None, "Kế hoạch chưa ký"),
        ("B", "P1.2"): ("adjust_points", None, 5.0, "Một phần"),
        ("B", "P2.2"): ("accept", None, None, "Đã đối chiếu"),  # exported in force, read back the same
    }
    assert read.requests[0].where.startswith(f"sheet '{SHEET}', row ")


def test_every_problem_is_named_by_sheet_row_and_column(scored, tmp_path):
    wb = load_workbook(_export(scored, tmp_path / "w.xlsx"))
    ws: Any = wb[SHEET]
    rows = list(range(HEADER_ROWS + 1, HEADER_ROWS + 9))
    _set(ws, rows[0], agency_code="SO-XYZ", verdict="accept", reason="ok")           # unknown agency
    _set(ws, rows[1], node_id="P9.9", verdict="accept", reason="ok")                 # unknown indicator
    _set(ws, rows[2], verdict="reject", reason=None)                                 # no reason
    _set(ws, rows[3], verdict="approve", reason="ok")                                # not in the list
    _set(ws, rows[4], verdict="adjust_value", adjusted_value=1.5, reason="x")       # out of range
    _set(ws, rows[5], verdict="adjust_value", adjusted_value="khoảng 0,5", reason="x")  # not a number
    _set(ws, rows[6], adjusted_points=3)                                             # no verdict
    ws.insert_rows(rows[7])  # the same indicator twice
    for key in KEYS:
        ws.cell(rows[7], COL[key]).value = ws.cell(rows[7] + 1, COL[key]).value
    _set(ws, rows[7], verdict="accept", reason="ok")
    _set(ws, rows[7] + 1, verdict="accept", reason="ok")
    about_sheet: Any = wb[ABOUT]
    about_sheet["B3"] = "mini 0.9"  # made for another version of the framework
    wb.save(tmp_path / "bad.xlsx")
    read = read_workbook(tmp_path / "bad.xlsx")
    found = {(p.where, p.field.split(" (")[0]): p.message for p in problems_against(read, scored)}
    at = {r: f"sheet '{SHEET}', row {r}" for r in rows + [rows[7] + 1]}
    assert "'SO-XYZ' is not scored under mini" in found[(at[rows[0]], "column B")]
    assert "'P9.9' is not an indicator of mini" in found[(at[rows[1]], "column D")]
    assert "a reason is required" in found[(at[rows[2]], "column O")]
    assert "'approve' is not in the list" in found[(at[rows[3]], "column L")]
    assert "1.5 is above 1, out of range for a rate" in found[(at[rows[4]], "column M")]
    assert "'khoảng 0,5' is not a number" in found[(at[rows[5]], "column M")]
    assert "no verdict" in found[(at[rows[6]], "column L")]
    assert "is already on " + at[rows[7]] in found[(at[rows[7] + 1], "column D")]
    about = (f"sheet '{ABOUT}', row 3", "column B")
    assert "made for mini 0.9, but 2025-Q2 is scored under mini version 1" in found[about]
    assert len(found) == 9


def test_a_file_that_is_not_an_appraisal_workbook_says_so(scored, tmp_path):
    wb = load_workbook(_export(scored, tmp_path / "w.xlsx"))
    ws: Any = wb[SHEET]
    ws.cell(HEADER_ROWS, COL["reason"]).value = "Ghi chú"
    wb.save(tmp_path / "moved.xlsx")
    [moved] = read_workbook(tmp_path / "moved.xlsx").problems
    assert moved.where == f"sheet '{SHEET}', row {HEADER_ROWS}" and moved.field.startswith("column O")
    del wb[ABOUT]
    wb.save(tmp_path / "other.xlsx")
    [other] = read_workbook(tmp_path / "other.xlsx").problems
    assert other.where == f"sheet '{ABOUT}'"
    assert "not a workbook of dx-pipeline appraisal export" in other.message
