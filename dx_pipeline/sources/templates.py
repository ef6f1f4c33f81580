"""Submission templates: the workbook (or CSV) an agency fills in for one quarter.

Pre-filled with the agency, the quarter and the self-reported indicators of the KPI catalogue
that apply to the agency's level, in exactly the layout the readers expect
(``config/submission_format.yaml``), so a filled-in template always reads back. The Excel
workbook (``template_workbook``) is written for the clerk: Vietnamese headers, an instructions
sheet with the deadline, protected cells, lists in Vietnamese and validation while typing.

Rates are entered as percentages (85,5 for 85.5 %), or as numerator and denominator.
The CSV version is UTF-8 with BOM and ";" between fields: Excel on a Vietnamese-locale
machine opens that correctly and writes decimal commas back without breaking the columns.
A template is refused for a quarter that has not begun: nobody can report on it yet.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from dx_pipeline.reference.catalogue import UNIT_LABELS, load_catalogue
from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.reference.registry import validity_problem
from dx_pipeline.sources.submission_readers import SubmissionLayout, load_layout
from dx_pipeline.sources.submission_versions import DEFAULT_DEADLINE_DAYS, deadline
from dx_pipeline.sources.template_workbook import WorkbookText, level_choices, workbook_bytes
from dx_pipeline.storage import atomic_write_bytes

SECTOR_LABELS_VI = {
    "health": "y tế", "economy": "kinh tế", "education": "giáo dục", "admin": "hành chính",
    "justice": "tư pháp", "agriculture": "nông nghiệp", "transport": "giao thông",
    "construction": "xây dựng", "environment": "môi trường", "ict": "thông tin và truyền thông",
    "social": "lao động, xã hội", "culture": "văn hóa", "science": "khoa học và công nghệ",
}


def applicable_indicators(catalogue: Mapping[str, Any], level: str) -> list:
    """Self-reported KPIs that apply to agencies of ``level``, in catalogue order."""
    return [k for k in catalogue.values() if k.source == "submission" and level in k.applies_to]


def allowed_text(kpi) -> str:
    """What a template cell accepts for ``kpi``, in Vietnamese, for the clerk filling it in;
    a sector's indicator says which sector reports it and that others leave it blank."""
    if kpi.unit == "ratio":
        text = "Tử số và Mẫu số (tử số ≤ mẫu số), hoặc Giá trị 0–100 % (nhập 85,5 cho 85,5 %)"
    elif kpi.unit in ("bool", "evidence"):
        text = "Có / Không" + ("; ghi số, ngày văn bản ở cột Minh chứng" if kpi.unit == "evidence" else "")
    elif kpi.unit == "level":
        text = " / ".join(level_choices(kpi))
    else:
        text = "số ≥ 0"
    if kpi.sectors:
        sectors = ", ".join(SECTOR_LABELS_VI.get(str(s), str(s)) for s in kpi.sectors)
        text += f". Chỉ đơn vị ngành {sectors} báo cáo; đơn vị khác để trống"
    return text


def refuse_future_quarter(q: Quarter, today: dt.date) -> None:
    """A ValueError when ``q`` has not begun on ``today``: no one can report on it yet."""
    if q.start > today:
        current = Quarter.containing(today)
        raise ValueError(
            f"{q.label} has not begun (it starts on {q.start:%d/%m/%Y}); a template can be written "
            f"for {current.label} or an earlier quarter"
        )


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
        name_vi = k.name_vi
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
    *,
    today: dt.date | None = None,
    deadline_days: int = DEFAULT_DEADLINE_DAYS,
) -> Path:
    """Write the agency's template for ``quarter`` to ``output`` (``fmt`` xlsx or csv); a
    ValueError for a quarter that has not begun on ``today`` (default: the clock's date)."""
    q = quarter if isinstance(quarter, Quarter) else Quarter.parse(quarter)
    refuse_future_quarter(q, today or dt.date.today())
    layout = layout or load_layout()
    agency, rows = template_rows(registry, agency_code, q, catalogue)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        data = _csv_bytes(agency, q, rows, layout)
    elif fmt == "xlsx":
        text = WorkbookText(
            agency_code=str(agency["agency_code"]), name_vi=str(agency["name_vi"]),
            name_en=str(agency["name_en"]), quarter=q, deadline=deadline(q, deadline_days),
            deadline_days=deadline_days)
        data = workbook_bytes(text, rows, layout)
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
