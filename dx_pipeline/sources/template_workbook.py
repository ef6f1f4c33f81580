"""The submission workbook a clerk fills in, written so that it cannot be filled in wrongly.

Two sheets. ``Hướng dẫn`` (instructions, all in Vietnamese with the English beside it): the
agency, the quarter, the reporting deadline, how to fill in, what a blank means and how to
submit. The report sheet (``BaoCao``, the layout of ``config/submission_format.yaml``): the
header block, a table with Vietnamese headers and the English on a second line, one row per
indicator that applies to the agency, and the preparer's and approver's sign-off below.

The report sheet is protected (no password: protection guards against slips, not people) and
only the entry cells, shaded yellow, are unlocked: the report date, the value and evidence of
every row, numerator and denominator of rate rows only (a yes/no or level row has none: those
cells are grey and locked), and the sign-off cells. Lists offer Vietnamese values (Có / Không,
Người đứng đầu / Cấp phó / Không); rates take 0..100; a numerator above its denominator is
refused while typing (validation on both cells, and the pair turns red whichever came first).

The sign-off block sits in columns the readers do not read as data (the indicator's name and
unit, and the English columns), so a signed workbook reads back exactly like an unsigned one.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from typing import Any

import xlsxwriter
from xlsxwriter.utility import xl_cell_to_rowcol, xl_rowcol_to_cell

from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.sources.submission_readers import SubmissionLayout

INSTRUCTIONS_SHEET = "Hướng dẫn"
HEADERS = {
    "STT": ("STT", "No."),
    "MaChiSo": ("Mã chỉ số", "Indicator code"),
    "TenChiSo": ("Tên chỉ số", "Indicator"),
    "DonViTinh": ("Đơn vị tính", "Unit"),
    "TuSo": ("Tử số", "Numerator"),
    "MauSo": ("Mẫu số", "Denominator"),
    "GiaTri": ("Giá trị", "Value"),
    "MinhChung": ("Minh chứng", "Evidence: document number and date, or link"),
    "TenTiengAnh": ("Tên tiếng Anh", "Indicator (English)"),
    "GioiHan": ("Cách điền", "What to enter"),
}
"""Column -> (Vietnamese header, English second line). The readers match the first line."""
EXTRA_COLUMNS = ["TenTiengAnh", "GioiHan"]
SIGN_OFF_FIELDS = (("Họ và tên", "Full name"), ("Chức vụ", "Position"), ("Ngày ký", "Date signed"))
SIGN_OFF_ROLES = (("TenChiSo", "NGƯỜI LẬP BIỂU", "Prepared by"),
                  ("TenTiengAnh", "THỦ TRƯỞNG ĐƠN VỊ", "Approved by (head of the agency)"))
"""(label column, Vietnamese title, English title); the value goes in the next column."""
LEVEL_LABELS_VI = {"head": "Người đứng đầu", "deputy": "Cấp phó", "none": "Không"}
"""A level KPI's level codes as clerks say them (the readers take either)."""


def level_choices(kpi) -> list[str]:
    """The values a level KPI's list offers, in Vietnamese."""
    return [LEVEL_LABELS_VI.get(str(level), str(level)) for level in kpi.levels]


@dataclass(frozen=True)
class WorkbookText:
    """What the workbook says about the agency and the quarter."""

    agency_code: str
    name_vi: str
    name_en: str
    quarter: Quarter
    deadline: dt.date
    deadline_days: int


def workbook_bytes(text: WorkbookText, rows: list[dict], layout: SubmissionLayout) -> bytes:
    """The whole workbook: the report sheet (first, active) and the instructions sheet."""
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    fmt = _formats(wb)
    ws = wb.add_worksheet(layout.sheet)
    info = wb.add_worksheet(INSTRUCTIONS_SHEET)
    ws.write(0, 0, "BÁO CÁO KẾT QUẢ CHUYỂN ĐỔI SỐ / Digital transformation report", fmt["title"])
    ws.write(1, 0, f"{text.name_vi} / {text.name_en}")
    _write_header_block(ws, text, layout, fmt)
    ws.write(layout.header_row - 2, 0,
             f"Hạn nộp / Deadline: {text.deadline:%d/%m/%Y}. Ô màu vàng là ô nhập liệu; xem trang "
             f"'{INSTRUCTIONS_SHEET}' / Yellow cells are for input; see the instructions sheet.",
             fmt["note"])
    col = _write_table(ws, rows, layout, fmt)
    _write_sign_off(ws, layout.header_row + len(rows) + 1, col, fmt)
    _protect(ws)
    _write_instructions(info, text, layout, fmt)
    _protect(info)
    ws.activate()
    wb.close()
    return buf.getvalue()


def _formats(wb) -> dict[str, Any]:
    entry = {"border": 1, "bg_color": "#FFF2CC", "locked": False}
    return {
        "bold": wb.add_format({"bold": True}),
        "title": wb.add_format({"bold": True, "font_size": 14}),
        "note": wb.add_format({"italic": True, "font_color": "#7F6000"}),
        "head": wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True,
                               "valign": "top"}),
        "cell": wb.add_format({"border": 1, "text_wrap": True, "valign": "top"}),
        "entry": wb.add_format({**entry, "num_format": "#,##0.##"}),
        "text_entry": wb.add_format({**entry, "text_wrap": True}),
        "date": wb.add_format({**entry, "num_format": "dd/mm/yyyy"}),
        "closed": wb.add_format({"border": 1, "bg_color": "#D9D9D9"}),
        "wrong": wb.add_format({"bg_color": "#FFC7CE", "font_color": "#9C0006"}),
        "wrap": wb.add_format({"text_wrap": True, "valign": "top"}),
    }


def _protect(ws) -> None:
    """Locked cells cannot be changed; columns and rows can still be resized."""
    ws.protect("", {"select_locked_cells": True, "select_unlocked_cells": True,
                    "format_columns": True, "format_rows": True})


def _write_header_block(ws, text: WorkbookText, layout: SubmissionLayout, fmt: dict) -> None:
    """Labels and values of the agency, the quarter and a report date to fill in (a date
    from the quarter's start to a year after its end)."""
    labels = {
        "agency_code": "Mã đơn vị / Agency code:",
        "quarter": "Kỳ báo cáo / Reporting period:",
        "report_date": "Ngày báo cáo / Report date:",
    }
    q = text.quarter
    for logical, ref in layout.meta_cells.items():
        r, c = xl_cell_to_rowcol(ref)
        ws.write(r, c - 1, labels[logical], fmt["bold"])
        if logical == "agency_code":
            ws.write_string(r, c, text.agency_code)
        elif logical == "quarter":
            ws.write_string(r, c, q.label)
            ws.write_string(r, c + 1, f"Quý {q.q}/{q.year}: {q.start:%d/%m/%Y} – {q.last_day:%d/%m/%Y}")
        else:
            ws.write_blank(r, c, None, fmt["date"])
            ws.data_validation(r, c, r, c, {
                "validate": "date", "criteria": "between",
                "minimum": dt.datetime.combine(q.start, dt.time()),
                "maximum": dt.datetime.combine(q.last_day + dt.timedelta(days=366), dt.time()),
                "input_title": "Ngày báo cáo", "input_message": "dd/mm/yyyy",
                "error_message": "Ngày báo cáo phải sau ngày đầu quý / "
                                 "Report date must be after the quarter starts",
            })


def _write_table(ws, rows: list[dict], layout: SubmissionLayout, fmt: dict) -> dict[str, int]:
    """The two-line header row and one row per indicator: entry cells unlocked, shaded and
    validated for the indicator's unit; the column index of each column name."""
    hr = layout.header_row - 1
    columns = list(layout.table_columns) + EXTRA_COLUMNS
    for c, name in enumerate(columns):
        vi, en = HEADERS.get(name, (name, name))
        ws.write_string(hr, c, f"{vi}\n{en}", fmt["head"])
    ws.set_row(hr, 32)
    col = {name: i for i, name in enumerate(columns)}
    for i, r in enumerate(rows):
        rr = hr + 1 + i
        for name in ("STT", "MaChiSo", "TenChiSo", "DonViTinh", "TenTiengAnh", "GioiHan"):
            ws.write(rr, col[name], r[name], fmt["cell"])
        is_rate = r["_kpi"].unit == "ratio"
        for name in ("TuSo", "MauSo"):
            ws.write_blank(rr, col[name], None, fmt["entry"] if is_rate else fmt["closed"])
        ws.write_blank(rr, col["GiaTri"], None, fmt["entry"])
        ws.write_blank(rr, col["MinhChung"], None, fmt["text_entry"])
        _validate(ws, rr, col, r["_kpi"], fmt)
    widths = {"STT": 5, "MaChiSo": 26, "TenChiSo": 48, "DonViTinh": 14, "TuSo": 11, "MauSo": 11,
              "GiaTri": 16, "MinhChung": 40, "TenTiengAnh": 40, "GioiHan": 44}
    for name, i in col.items():
        ws.set_column(i, i, widths.get(name, 14))
    ws.freeze_panes(hr + 1, 0)
    return col


def _validate(ws, rr: int, col: dict[str, int], k, fmt: dict) -> None:
    """The value cell's validation for the KPI's unit; a rate's numerator and denominator."""
    value = col["GiaTri"]
    non_negative = {"validate": "decimal", "criteria": ">=", "value": 0,
                    "error_message": "Nhập số không âm / Enter a number ≥ 0"}
    if k.unit == "ratio":
        _validate_parts(ws, rr, col, fmt)
        ws.data_validation(rr, value, rr, value, {
            "validate": "decimal", "criteria": "between", "minimum": 0, "maximum": 100,
            "input_title": "Tỷ lệ (%)", "input_message": "Nhập 0–100, ví dụ 85,5",
            "error_message": "Tỷ lệ phải từ 0 đến 100 / Rate must be 0..100"})
    elif k.unit in ("bool", "evidence"):
        ws.data_validation(rr, value, rr, value, {
            "validate": "list", "source": ["Có", "Không"],
            "error_message": "Chọn Có hoặc Không / Choose Có or Không"})
    elif k.unit == "level":
        ws.data_validation(rr, value, rr, value, {
            "validate": "list", "source": level_choices(k),
            "error_message": "Chọn một mức trong danh sách / Choose a level from the list"})
    else:
        ws.data_validation(rr, value, rr, value, non_negative)
    if k.unit == "evidence":
        mc = col["MinhChung"]
        ws.data_validation(rr, mc, rr, mc, {
            "validate": "length", "criteria": ">", "value": 3,
            "input_title": "Minh chứng", "input_message": "Số, ngày văn bản hoặc đường dẫn",
            "error_message": "Ghi số và ngày văn bản / Give the document number and date"})


def _validate_parts(ws, rr: int, col: dict[str, int], fmt: dict) -> None:
    """Numerator and denominator: numbers ≥ 0, numerator ≤ denominator whichever is typed
    last (a custom rule on each), and both red while the numerator is the larger."""
    num = xl_rowcol_to_cell(rr, col["TuSo"])
    den = xl_rowcol_to_cell(rr, col["MauSo"])
    message = "Tử số không được lớn hơn mẫu số, và phải là số ≥ 0 / " \
              "The numerator must be a number ≥ 0 and not above the denominator"
    for cell, rule in (
        (col["TuSo"], f"=AND(ISNUMBER({num}),{num}>=0,OR(ISBLANK({den}),{num}<={den}))"),
        (col["MauSo"], f"=AND(ISNUMBER({den}),{den}>=0,OR(ISBLANK({num}),{num}<={den}))"),
    ):
        ws.data_validation(rr, cell, rr, cell, {
            "validate": "custom", "value": rule, "error_title": "Tử số > mẫu số",
            "error_message": message})
    left = xl_rowcol_to_cell(rr, col["TuSo"], col_abs=True)
    right = xl_rowcol_to_cell(rr, col["MauSo"], col_abs=True)
    ws.conditional_format(rr, col["TuSo"], rr, col["MauSo"], {
        "type": "formula", "criteria": f"=AND(ISNUMBER({left}),ISNUMBER({right}),{left}>{right})",
        "format": fmt["wrong"]})


def _write_sign_off(ws, first_row: int, col: dict[str, int], fmt: dict) -> None:
    """Preparer (left) and approver (right): name, position and date to fill in, and room
    for the signature and seal."""
    for label_name, title_vi, title_en in SIGN_OFF_ROLES:
        c = col[label_name]
        ws.write(first_row, c, f"{title_vi} / {title_en}", fmt["bold"])
        for i, (vi, en) in enumerate(SIGN_OFF_FIELDS, start=1):
            ws.write(first_row + i, c, f"{vi} / {en}:")
            entry = fmt["date"] if en == "Date signed" else fmt["text_entry"]
            ws.write_blank(first_row + i, c + 1, None, entry)
        ws.write(first_row + len(SIGN_OFF_FIELDS) + 1, c, "(Ký, ghi rõ họ tên / signature)", fmt["note"])


def sign_off_cells(layout: SubmissionLayout, rows: int) -> dict[str, str]:
    """Where the sign-off values go: ``{"preparer_name": "D17", ...}`` for ``rows`` indicators."""
    columns = list(layout.table_columns) + EXTRA_COLUMNS
    first = layout.header_row + rows + 1
    out = {}
    for role, (label_name, _, _) in zip(("preparer", "approver"), SIGN_OFF_ROLES, strict=True):
        c = columns.index(label_name) + 1
        for i, field in enumerate(("name", "position", "date"), start=1):
            out[f"{role}_{field}"] = xl_rowcol_to_cell(first + i, c)
    return out


def _write_instructions(ws, text: WorkbookText, layout: SubmissionLayout, fmt: dict) -> None:
    """The instructions sheet, one paragraph per row, Vietnamese first."""
    q = text.quarter
    lines = [
        ("HƯỚNG DẪN ĐIỀN BÁO CÁO / How to fill in this report", "title"),
        (f"Đơn vị / Agency: {text.name_vi} ({text.agency_code})", "bold"),
        (f"Kỳ báo cáo / Reporting period: Quý {q.q}/{q.year} ({q.label}), "
         f"từ {q.start:%d/%m/%Y} đến {q.last_day:%d/%m/%Y}", "bold"),
        (f"Hạn nộp / Deadline: {text.deadline:%d/%m/%Y} ({text.deadline_days} ngày sau khi kết thúc "
         f"quý). Báo cáo nộp sau hạn vẫn được nhận nhưng ghi là nộp muộn / Reports after the deadline "
         "are accepted and recorded as late.", "bold"),
        ("", None),
        ("1. Cách điền / How to fill in", "bold"),
        (f"• Điền Ngày báo cáo (ô {layout.meta_cells.get('report_date', 'B5')}) và các ô màu vàng "
         f"ở trang '{layout.sheet}'. Các ô khác đã khoá. / Fill in the report date and the yellow "
         "cells; the other cells are locked.", "wrap"),
        ("• Tỷ lệ: nhập Tử số và Mẫu số (tử số không lớn hơn mẫu số), hoặc nhập tỷ lệ % vào cột Giá "
         "trị (85,5 cho 85,5 %). / Rates: numerator and denominator, or the percentage.", "wrap"),
        ("• Có/Không và các mức: chọn trong danh sách của ô. / Yes/no and levels: pick from the "
         "cell's list.", "wrap"),
        ("• Minh chứng: số, ngày văn bản hoặc đường dẫn. / Evidence: document number and date, "
         "or a link.", "wrap"),
        ("• Ký duyệt: người lập biểu và thủ trưởng đơn vị ghi họ tên, chức vụ, ngày ký ở cuối "
         "bảng. / Sign-off: the preparer and the head of the agency, below the table.", "wrap"),
        ("", None),
        ("2. Ô để trống nghĩa là gì / What a blank means", "bold"),
        ("• Giá trị để trống = chưa báo cáo chỉ số đó: chỉ số được coi là thiếu số liệu và có thể "
         "bị tính 0 điểm. Nếu giá trị thực sự bằng 0, hãy ghi 0. / A blank value means not "
         "reported: the indicator counts as missing and may score 0 points. Write 0 for zero.",
         "wrap"),
        ("• Chỉ số ghi 'Chỉ đơn vị ngành ... báo cáo' ở cột Cách điền: đơn vị ngành khác để trống. "
         "/ An indicator for one sector only: other agencies leave it blank.", "wrap"),
        ("", None),
        ("3. Cách nộp / How to submit", "bold"),
        ("• Lưu tệp dạng Excel (.xlsx), không đổi tên trang tính, không thêm hay xoá cột, và gửi "
         "cho đầu mối tổng hợp chuyển đổi số của tỉnh. / Save as .xlsx, keep the sheets and "
         "columns, and send it to the province's digital transformation focal point.", "wrap"),
        ("• Cần sửa số liệu: gửi lại cả tệp; bản gửi sau cùng được dùng. / To correct figures, "
         "send the whole file again: the latest version counts.", "wrap"),
    ]
    ws.set_column(0, 0, 110)
    for r, (line, style) in enumerate(lines):
        if line:
            ws.write_string(r, 0, line, fmt[style] if style else None)
