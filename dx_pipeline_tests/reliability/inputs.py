"""Small submission files and a tiny registry for the reliability tests (no sample generation)."""

from __future__ import annotations

import datetime as dt
import io
import os
import zipfile
from pathlib import Path

import openpyxl

from dx_pipeline.reference import schemas
from dx_pipeline.reference.catalogue import load_catalogue
from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.reference.registry import registry_frame
from dx_pipeline.sources.submission_rows import RowRules

Q = "2025-Q2"
HEADERS = ["STT", "MaChiSo", "TenChiSo", "DonViTinh", "TuSo", "MauSo", "GiaTri", "MinhChung"]
CSV_HEADERS = ["MaDonVi", "KyBaoCao", "NgayBaoCao"] + HEADERS
ARRIVED = dt.datetime(2025, 7, 10, 14, 30, 0)


def _agency(code: str) -> dict:
    return dict(
        agency_code=code, name_vi=f"Sở {code}", name_en=f"Dept {code}", level="department",
        peer_group="department", parent_code=None, provides_public_services=True,
        valid_from=dt.date(2020, 1, 1), valid_to=None, successor_code=None,
    )


REGISTRY = registry_frame([_agency("SO_YTE"), _agency("SO_KHCN")])
CATALOGUE = load_catalogue()


def write_registry(path: Path) -> Path:
    """REGISTRY as the registry CSV the command line reads."""
    reg = REGISTRY.copy()
    reg["valid_from"] = reg["valid_from"].map(str)
    reg["valid_to"] = reg["valid_to"].map(lambda d: "" if d is None else str(d))
    reg["provides_public_services"] = reg["provides_public_services"].map(lambda b: "true" if b else "false")
    path.parent.mkdir(parents=True, exist_ok=True)
    reg[schemas.AGENCIES.names].to_csv(path, index=False)
    return path


def rules(quarter: str = Q) -> RowRules:
    return RowRules(catalogue=CATALOGUE, registry=REGISTRY, quarter=Quarter.parse(quarter))


def touch(path: Path) -> Path:
    ts = ARRIVED.timestamp()
    os.utime(path, (ts, ts))
    return path


GOOD_ROWS = [
    [1, "e_document_exchange_rate", "Tỷ lệ văn bản điện tử", "%", None, None, "85,5 %", None],
    [2, "it_staff_qualified", "Cán bộ CNTT", "", None, None, "Có", None],
]


def xlsx_bytes(rows=GOOD_ROWS, agency_code: str = "SO_YTE") -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "BaoCao"
    ws["A3"], ws["B3"] = "Mã đơn vị / Agency code:", agency_code
    ws["A4"], ws["B4"] = "Kỳ báo cáo / Reporting period:", Q
    ws["A5"], ws["B5"] = "Ngày báo cáo / Report date:", "10/07/2025"
    for c, h in enumerate(HEADERS, start=1):
        ws.cell(7, c, h)
    for r, row in enumerate(rows, start=8):
        for c, v in enumerate(row, start=1):
            ws.cell(r, c, v)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def csv_bytes(rows, agency_code: str = "SO_KHCN") -> bytes:
    lines = [CSV_HEADERS] + [[agency_code, Q, "14/07/2025", *map(_text, r)] for r in rows]
    return ("\r\n".join(";".join(cells) for cells in lines) + "\r\n").encode("utf-8")


def _text(v) -> str:
    return "" if v is None else str(v)


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return touch(path)


def with_members(xlsx: bytes, extra: dict[str, bytes]) -> bytes:
    """A copy of a workbook with extra zip members (macros, external links...)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(xlsx)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        for name, data in extra.items():
            dst.writestr(name, data)
    return out.getvalue()


def zip_of(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=(2025, 7, 10, 8, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return out.getvalue()


def replace_text(xlsx: bytes, old: str, new: str) -> bytes:
    """A copy of a workbook with ``old`` replaced in its XML (openpyxl itself cuts cells at
    32,767 characters when writing, so a hostile workbook has to be made by hand)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(xlsx)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith(".xml"):
                data = data.replace(old.encode(), new.encode())
            dst.writestr(info, data)
    return out.getvalue()
