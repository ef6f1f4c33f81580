"""Submission templates: the workbook (or CSV) an agency fills in for one quarter.

Pre-filled with the agency, the quarter and the self-reported indicators of the KPI catalogue
that apply to the agency's level, in exactly the layout the readers expect
(``config/submission_format.yaml``), so a filled-in template always reads back. The Excel
version carries data validation in the value cells (numbers 0..100 for rates, Có/Không lists,
level lists, non-negative counts) so most mistakes are stopped while typing, not at ingestion.

Rates are entered as percentages (85,5 for 85.5 %), or as numerator and denominator.
The CSV version is UTF-8 with BOM and ";" between fields: Excel on a Vietnamese-locale
machine opens that correctly and writes decimal commas back without breaking the columns.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from dx_pipeline.reference.catalogue import load_catalogue
from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.reference.registry import validity_problem
from dx_pipeline.sources.submission_readers import SubmissionLayout, load_layout
from dx_pipeline.storage import atomic_write_bytes

UNIT_LABELS = {
    "ratio": "%",
    "count": "số lượng",
    "days": "ngày",
    "bool": "có/không",
    "level": "mức",
    "evidence": "có/không + minh chứng",
    "amount": "triệu đồng",
}
"""DonViTinh as clerks know it, per catalogue unit."""

HEADER_EN = {
    "STT": "No.",
    "MaChiSo": "Indicator code",
    "TenChiSo": "Indicator (Vietnamese)",
    "DonViTinh": "Unit",
    "TuSo": "Numerator",
    "MauSo": "Denominator",
    "GiaTri": "Value",
    "MinhChung": "Evidence: document number and date, or link",
}
EXTRA_COLUMNS = [("TenTiengAnh", "Indicator (English)"), ("GioiHan", "Allowed values")]


def applicable_indicators(catalogue: Mapping[str, Any], level: str) -> list:
    """Self-reported KPIs that apply to agencies of ``level``, in catalogue order."""
    return [k for k in catalogue.values() if k.source == "submission" and level in k.applies_to]


def allowed_text(kpi) -> str:
    """What a template cell accepts for ``kpi``, in Vietnamese, for the clerk filling it in."""
    if kpi.unit == "ratio":
        return "0–100 % (nhập 85,5 cho 85,5 %; hoặc Tử số/Mẫu số)"
    if kpi.unit in ("bool", "evidence"):
        return "Có / Không" + ("; ghi số, ngày văn bản ở cột Minh chứng" if kpi.unit == "evidence" else "")
    if kpi.unit == "level":
        return " / ".join(kpi.levels)
    return "≥ 0"


def _agency_row(registry: pd.DataFrame, agency_code: str, quarter: Quarter) -> pd.Series:
    why = validity_problem(registry, agency_code, quarter)
    if why:
        raise ValueError(why)
    return registry[registry["agency_code"] == agency_code].iloc[0]


def _catalogue(catalogue):
    if catalogue is not None:
        return catalogue

    return load_catalogue()


def template_rows(registry, agency_code, quarter, catalogue=None) -> tuple[pd.Series, list[dict]]:
    """The agency's registry row and one dict per indicator line of its template."""
    q = quarter if isinstance(quarter, Quarter) else Quarter.parse(quarter)
    agency = _agency_row(registry, agency_code, q)
    kpis = applicable_indicators(_catalogue(catalogue), agency["level"])
    rows = []
    for n, k in enumerate(kpis, start=1):
        name_vi = k.name_vi + (f" (chỉ ngành: {', '.join(k.sectors)})" if k.sectors else "")
        rows.append(
            dict(STT=n, MaChiSo=k.code, TenChiSo=name_vi, DonViTinh=UNIT_LABELS.get(k.unit, k.unit),
                 TuSo=None, MauSo=None, GiaTri=None, MinhChung=None,
                 TenTiengAnh=k.name_en, GioiHan=allowed_text(k), _kpi=k)
        )
    return agency, rows


def write_template(
    registry: pd.DataFrame,
    agency_code: str,
    quarter: Quarter | str,
    output: str | Path,
    fmt: str = "xlsx",
    catalogue: Mapping[str, Any] | None = None,
    layout: SubmissionLayout | None = None,
) -> Path:
    """Write the agency's template for ``quarter`` to ``output`` (``fmt`` xlsx or csv)."""
    q = quarter if isinstance(quarter, Quarter) else Quarter.parse(quarter)
    layout = layout or load_layout()
    agency, rows = template_rows(registry, agency_code, q, catalogue)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        data = _csv_bytes(agency, q, rows, layout)
    elif fmt == "xlsx":
        data = _xlsx_bytes(agency, q, rows, layout)
    else:
        raise ValueError(f"template format must be xlsx or csv, got {fmt!r}")
    atomic_write_bytes(output, data)
    return output


def _csv_bytes(agency, q: Quarter, rows: list[dict], layout: SubmissionLayout) -> bytes:
    meta = list(layout.csv_meta_columns)  # MaDonVi, KyBaoCao, NgayBaoCao
    table = list(layout.table_columns)
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=";", lineterminator="\r\n")
    writer.writerow(meta + table)
    values = {"agency_code": agency["agency_code"], "quarter": q.label, "report_date": ""}
    for r in rows:
        writer.writerow([values[layout.csv_meta_columns[m]] for m in meta] + [r[c] or "" for c in table])
    return buf.getvalue().encode("utf-8-sig")


def _xlsx_bytes(agency, q: Quarter, rows: list[dict], layout: SubmissionLayout) -> bytes:
    """The submission workbook: title, the header block (agency, quarter, report date) and
    the table of indicators with entry cells and their validation."""
    import xlsxwriter

    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    ws = wb.add_worksheet(layout.sheet)
    fmt = {
        "bold": wb.add_format({"bold": True}),
        "title": wb.add_format({"bold": True, "font_size": 14}),
        "head": wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True}),
        "cell": wb.add_format({"border": 1, "text_wrap": True, "valign": "top"}),
        "entry": wb.add_format({"border": 1, "bg_color": "#FFF2CC", "num_format": "#,##0.##"}),
        "text_entry": wb.add_format({"border": 1, "bg_color": "#FFF2CC"}),
        "date": wb.add_format({"num_format": "dd/mm/yyyy", "bg_color": "#FFF2CC", "border": 1}),
    }
    ws.write(0, 0, "BÁO CÁO KẾT QUẢ CHUYỂN ĐỔI SỐ / Digital transformation report", fmt["title"])
    ws.write(1, 0, f"{agency['name_vi']} / {agency['name_en']}")
    _write_header_block(ws, agency, q, layout, fmt)
    _write_table(ws, rows, layout, fmt)
    wb.close()
    return buf.getvalue()


def _write_header_block(ws, agency, q: Quarter, layout: SubmissionLayout, fmt: dict) -> None:
    """Labels and values of the agency, the quarter and a report date to fill in (a date
    from the quarter's start to a year after its end)."""
    from xlsxwriter.utility import xl_cell_to_rowcol

    labels = {
        "agency_code": "Mã đơn vị / Agency code:",
        "quarter": "Kỳ báo cáo / Reporting period:",
        "report_date": "Ngày báo cáo / Report date:",
    }
    for logical, ref in layout.meta_cells.items():
        r, c = xl_cell_to_rowcol(ref)
        ws.write(r, c - 1, labels[logical], fmt["bold"])
        if logical == "agency_code":
            ws.write_string(r, c, agency["agency_code"])
        elif logical == "quarter":
            ws.write_string(r, c, q.label)
        else:
            ws.write_blank(r, c, None, fmt["date"])
            ws.data_validation(r, c, r, c, {
                "validate": "date", "criteria": "between",
                "minimum": dt.datetime.combine(q.start, dt.time()),
                "maximum": dt.datetime.combine(q.end + dt.timedelta(days=366), dt.time()),
                "input_title": "Ngày báo cáo", "input_message": "dd/mm/yyyy",
                "error_message": "Ngày báo cáo phải sau ngày đầu quý / "
                                 "Report date must be after the quarter starts",
            })


def _write_table(ws, rows: list[dict], layout: SubmissionLayout, fmt: dict) -> None:
    """The header row (English names as comments) and one row per indicator, entry cells
    shaded and validated for the indicator's unit."""
    hr = layout.header_row - 1
    columns = list(layout.table_columns) + [c for c, _ in EXTRA_COLUMNS]
    english = dict(HEADER_EN, **dict(EXTRA_COLUMNS))
    for c, name in enumerate(columns):
        ws.write_string(hr, c, name, fmt["head"])
        ws.write_comment(hr, c, english.get(name, name))
    col = {name: i for i, name in enumerate(columns)}
    for i, r in enumerate(rows):
        rr = hr + 1 + i
        for name in ("STT", "MaChiSo", "TenChiSo", "DonViTinh", "TenTiengAnh", "GioiHan"):
            ws.write(rr, col[name], r[name], fmt["cell"])
        for name in ("TuSo", "MauSo", "GiaTri"):
            ws.write_blank(rr, col[name], None, fmt["entry"])
        ws.write_blank(rr, col["MinhChung"], None, fmt["text_entry"])
        _validate(ws, rr, col, r["_kpi"])
    widths = {"STT": 5, "MaChiSo": 30, "TenChiSo": 48, "DonViTinh": 14, "TuSo": 11, "MauSo": 11,
              "GiaTri": 12, "MinhChung": 40, "TenTiengAnh": 40, "GioiHan": 36}
    for name, i in col.items():
        ws.set_column(i, i, widths.get(name, 14))
    ws.freeze_panes(hr + 1, 0)


def _validate(ws, rr: int, col: dict[str, int], k) -> None:
    value = col["GiaTri"]
    non_negative = {"validate": "decimal", "criteria": ">=", "value": 0,
                    "error_message": "Nhập số không âm / Enter a number ≥ 0"}
    for name in ("TuSo", "MauSo"):
        ws.data_validation(rr, col[name], rr, col[name], non_negative)
    if k.unit == "ratio":
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
            "validate": "list", "source": list(k.levels),
            "error_message": "Chọn một mức trong danh sách / Choose a level from the list"})
    else:
        ws.data_validation(rr, value, rr, value, non_negative)
    if k.unit == "evidence":
        mc = col["MinhChung"]
        ws.data_validation(rr, mc, rr, mc, {
            "validate": "length", "criteria": ">", "value": 3,
            "input_title": "Minh chứng", "input_message": "Số, ngày văn bản hoặc đường dẫn",
            "error_message": "Ghi số và ngày văn bản / Give the document number and date"})
