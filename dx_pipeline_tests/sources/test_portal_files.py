"""Export files through the mapping: CSV with/without BOM, JSON, Excel; rejects; idempotence."""

import json

import pandas as pd
import pytest

from dx_pipeline.sources.portal_files import ingest_portal_files, read_portal_file
from dx_pipeline.sources.portal_mapping import map_table
from dx_pipeline.storage import DxHome, read_partition

from .portal_fixtures import HEADER, dossier_rows, write_exports


@pytest.fixture
def home(tmp_path):
    return DxHome(tmp_path / "home")


def test_csv_ingest_keeps_duplicates_rejects_bad_rows_and_is_idempotent(home):
    write_exports(home.root)
    first = ingest_portal_files(home, "2025-Q2")
    assert first.dossier_rows == 61 and first.rejected_rows == 1 and first.reject_count == 2
    assert first.procedure_rows == 12
    data = read_partition(home, "portal_dossiers", "2025-Q2")
    assert data["dossier_id"].duplicated().sum() == 1
    assert data["paid_online"].equals(data["payment_channel"].isin([1, 2]))
    rejects = read_partition(home, "portal_rejects", "2025-Q2").set_index("field")
    assert rejects.loc["KenhThucHien", "value"] == "9"
    assert rejects.loc["NgayTiepNhan", "row_number"] == 62  # header is line 1
    assert "not a date-time" in rejects.loc["NgayTiepNhan", "reason"]
    assert rejects.loc["KenhThucHien", "source_file"] == "portal_exports/quarter=2025-Q2/dossiers.csv"
    before = first.dossiers_path.read_bytes(), first.rejects_path.read_bytes()
    again = ingest_portal_files(home, "2025-Q2")
    assert (again.dossiers_path.read_bytes(), again.rejects_path.read_bytes()) == before


def test_bom_json_and_excel_read_alike(tmp_path, home):
    rows = dossier_rows(12)
    write_exports(home.root, rows=rows, bom=False, bad_rows=False)
    csv_rows = read_portal_file(
        home.portal_exports / "quarter=2025-Q2" / "dossiers.csv", quarter="2025-Q2"
    ).rows
    records = [dict(zip(HEADER, r, strict=True)) for r in rows]
    jpath = tmp_path / "dossiers.json"
    jpath.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8-sig")
    xpath = tmp_path / "dossiers.xlsx"
    pd.DataFrame(records).to_excel(xpath, index=False)
    for path in (jpath, xpath):
        other = read_portal_file(path, quarter="2025-Q2").rows
        assert other.drop_columns(["source_file"]).equals(csv_rows.drop_columns(["source_file"])), path


def test_missing_required_column_names_the_file(home):
    folder = home.portal_exports / "quarter=2025-Q2"
    folder.mkdir(parents=True)
    (folder / "dossiers.csv").write_text("MaHoSo,KenhThucHien\nA,1\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"dossiers.csv: required portal field\(s\) MaCoQuan, NgayTiepNhan"):
        ingest_portal_files(home, "2025-Q2")


def test_mapping_codes_and_booleans():
    m = map_table([
        {"MaHoSo": "A", "MaCoQuan": "X", "NgayTiepNhan": "20250405083000", "MucDoDVC": "toan_trinh",
         "TrangThaiHoSo": "3", "CoNghiaVuTaiChinh": "có", "DuocThanhToanTrucTuyen": "2"},
        {"MaHoSo": "B", "MaCoQuan": "X", "NgayTiepNhan": "05/04/2025", "TrangThaiHoSo": "99",
         "CoNghiaVuTaiChinh": "maybe", "SoLanBoSung": "1.5"},
    ], quarter="2025-Q2")
    row = m.rows.to_pylist()[0]
    assert (row["service_level"], row["status"], row["fee_required"], row["paid_online"]) == (
        "full",
        "supplement",
        True,
        True,
    )
    reasons = {r["field"]: r["reason"] for r in m.rejects.to_pylist()}
    assert set(reasons) == {"TrangThaiHoSo", "CoNghiaVuTaiChinh", "SoLanBoSung"}
    assert reasons["SoLanBoSung"] == "not a whole number"
    assert m.rejected_rows == 1


def test_mapping_reads_untidy_values_like_clean_ones():
    """Clean values take a fast path (no trim); padded and alternative forms must still read
    the same, and values that fail every form must still be rejected with their reason."""
    base = {"MaHoSo": "A", "MaCoQuan": "X", "NgayTiepNhan": "05/04/2025 08:30:00", "MucDoDVC": "toan_trinh",
            "KenhThucHien": "2", "CoNghiaVuTaiChinh": "1", "SoNgayBoSung": "1.5", "TrangThaiHoSo": "4"}
    untidy = {
        "MaHoSo": " B ",
        "MaCoQuan": "X ",
        "NgayTiepNhan": " 05/04/2025 08:30:00 ",
        "MucDoDVC": " toan_trinh",
        "KenhThucHien": " 2.0 ",
        "CoNghiaVuTaiChinh": " Có ",
        "SoNgayBoSung": " 1,5",
        "TrangThaiHoSo": " 4 ",
    }
    bad = {
        "MaHoSo": "C",
        "MaCoQuan": "  ",
        "NgayTiepNhan": "2025-04-05",
        "SoLanBoSung": "99999999999999999999",
        "KenhThucHien": "4",
        "CoNghiaVuTaiChinh": "maybe",
        "NgayHenTra": "31/02/2025",
    }
    m = map_table([base, untidy, bad], quarter="2025-Q2")
    rows = m.rows.to_pylist()
    assert [r["dossier_id"] for r in rows] == ["A", "B"]
    keep = [
        "agency_code",
        "received_at",
        "service_level",
        "channel",
        "fee_required",
        "supplement_days",
        "status",
    ]
    assert {k: rows[0][k] for k in keep} == {k: rows[1][k] for k in keep}
    assert (rows[0]["channel"], rows[0]["fee_required"], rows[0]["supplement_days"]) == (2, True, 1.5)
    reasons = {r["field"]: r["reason"] for r in m.rejects.to_pylist()}
    assert reasons == {
        "MaCoQuan": "required field is empty",
        "SoLanBoSung": "not a whole number",
        "KenhThucHien": "not one of the allowed codes 1, 2, 3",
        "CoNghiaVuTaiChinh": "not a yes/no value (expected 1 or 0)",
        "NgayHenTra": "not a date-time (expected dd/mm/yyyy HH:MM:SS, dd/mm/yyyy or yyyyMMddHHmmss)",
    }
    assert {r["row_number"] for r in m.rejects.to_pylist()} == {3}
