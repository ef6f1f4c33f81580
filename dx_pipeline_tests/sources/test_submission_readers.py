"""Submission files written the way agencies write them, read back row by row."""

import datetime as dt
import os
import unicodedata
from pathlib import Path

import openpyxl
import pytest

from dx_pipeline.reference.catalogue import load_catalogue
from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.reference.registry import registry_frame
from dx_pipeline.sources.submission_readers import decode_text, read_submission_file
from dx_pipeline.sources.submission_rows import RowRules

HEADERS = ["STT", "MaChiSo", "TenChiSo", "DonViTinh", "TuSo", "MauSo", "GiaTri", "MinhChung"]
CSV_HEADERS = ["MaDonVi", "KyBaoCao", "NgayBaoCao"] + HEADERS
ARRIVED = dt.datetime(2025, 7, 10, 14, 30, 0)


def agency(code, valid_to=None, successor=None, level="department", valid_from=dt.date(2020, 1, 1)):
    return dict(
        agency_code=code, name_vi=f"Sở {code}", name_en=f"Dept {code}", level=level,
        peer_group=level, parent_code=None, provides_public_services=True,
        valid_from=valid_from, valid_to=valid_to, successor_code=successor,
    )


REGISTRY = registry_frame(
    [
        agency("SO_YTE"),
        agency("SO_KHCN"),
        agency("SO_TTTT", valid_to=dt.date(2025, 2, 28), successor="SO_KHCN"),
        agency("HUYEN_A", valid_to=dt.date(2025, 6, 30), level="district"),
    ]
)
CATALOGUE = load_catalogue()


def rules(quarter="2025-Q2"):
    return RowRules(catalogue=CATALOGUE, registry=REGISTRY, quarter=Quarter.parse(quarter))


def touch(path: Path, when: dt.datetime = ARRIVED) -> Path:
    ts = when.timestamp()
    os.utime(path, (ts, ts))
    return path


def write_xlsx(path, rows, agency_code="SO_YTE", quarter="2025-Q2", report_date="10/07/2025",
               percent_cells=(), sheet="BaoCao", when=ARRIVED):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = sheet
    ws["A1"] = "BÁO CÁO KẾT QUẢ CHUYỂN ĐỔI SỐ / Digital transformation report"
    ws["A3"], ws["B3"] = "Mã đơn vị / Agency code:", agency_code
    ws["A4"], ws["B4"] = "Kỳ báo cáo / Reporting period:", quarter
    ws["A5"], ws["B5"] = "Ngày báo cáo / Report date:", report_date
    for c, h in enumerate(HEADERS, start=1):
        ws.cell(7, c, h)
    for r, row in enumerate(rows, start=8):
        for c, v in enumerate(row, start=1):
            ws.cell(r, c, v)
    for ref in percent_cells:
        ws[ref].number_format = "0.0%"
    wb.save(path)
    return touch(Path(path), when)


def to_cp1258(text: str) -> bytes:
    """Encode as Windows does for Vietnamese: base letters precomposed, tones as combining marks."""
    out = b""
    for ch in unicodedata.normalize("NFC", text):
        try:
            out += ch.encode("cp1258")
        except UnicodeEncodeError:
            d = unicodedata.normalize("NFD", ch)
            tones = "".join(m for m in d if m in "\u0300\u0301\u0303\u0309\u0323")
            base = unicodedata.normalize("NFC", "".join(m for m in d if m not in tones))
            out += (base + tones).encode("cp1258")
    return out


def write_csv(path, lines, encoding="utf-8-sig", delimiter=";", when=ARRIVED):
    text = "\r\n".join(delimiter.join(cells) for cells in lines) + "\r\n"
    data = to_cp1258(text) if encoding == "cp1258" else text.encode(encoding)
    Path(path).write_bytes(data)
    return touch(Path(path), when)


def by_code(read):
    return {r["indicator_code"]: r for r in read.accepted}


def test_xlsx_good_rows_all_units(tmp_path):
    rows = [
        [1, "work_records_online_rate", "Tỷ lệ hồ sơ công việc", "%", 80, 100, None, None],
        [2, "e_document_exchange_rate", "", "%", None, None, "85,5 %", None],
        [3, "staff_digital_trained_rate", "", "%", None, None, 0.5, None],  # %-formatted cell
        [4, "digital_inspection_rate", "", "%", None, None, 42.5, None],
        [5, "it_staff_qualified", "", "có/không", None, None, "Có", None],
        [6, "website_monitored", "", "có/không", None, None, "x", None],
        [7, "dx_steering_led_by_head", "", "mức", None, None, "deputy", None],
        [8, "dx_plan_issued", "", "", None, None, None, "Số 12/KH-SYT ngày 15/01/2025"],
        [9, "dx_budget_amount", "", "triệu đồng", None, None, "1.234,5", None],
        [10, "endpoint_protection_rate", "", "%", None, None, "120 %", None],
    ]
    path = write_xlsx(tmp_path / "so_yte.xlsx", rows, percent_cells=["G10"])
    read = read_submission_file(path, rules())
    # a rate above 100 % is refused, never clipped (nor kept to be clipped when scored)
    assert [(r["row"], r["field"], r["value"]) for r in read.rejects] == [(17, "GiaTri", "120 %")]
    assert "is above 100 %: a rate cannot exceed 100 %" in read.rejects[0]["reason"]
    got = by_code(read)
    assert len(got) == 9 and read.rows == 10
    assert got["work_records_online_rate"]["value"] == pytest.approx(0.8)
    assert got["work_records_online_rate"]["numerator"] == 80
    assert got["e_document_exchange_rate"]["value"] == pytest.approx(0.855)
    assert got["staff_digital_trained_rate"]["value"] == pytest.approx(0.5)
    assert got["digital_inspection_rate"]["value"] == pytest.approx(0.425)
    assert got["it_staff_qualified"]["value"] == 1.0
    assert got["website_monitored"]["value"] == 1.0
    assert got["dx_steering_led_by_head"]["value"] == 0.5
    assert got["dx_plan_issued"]["value"] == 1.0
    assert got["dx_plan_issued"]["evidence_ref"].startswith("Số 12/KH-SYT")
    assert got["dx_budget_amount"]["value"] == 1234.5
    rec = got["e_document_exchange_rate"]
    assert rec["agency_code"] == "SO_YTE" and rec["unit"] == "ratio"
    assert rec["source"] == "inbox" and rec["source_ref"] == "so_yte.xlsx [BaoCao] row 9"
    # the report date wins; the file time supplies the clock time on that same day
    assert rec["submitted_at"] == ARRIVED


def test_xlsx_bad_rows_are_rejected_with_reasons(tmp_path):
    rows = [
        [1, "work_records_online_rate", "", "%", 80, 100, "50 %", None],  # conflicts with 80/100
        [2, "e_document_exchange_rate", "", "%", None, None, "tám mươi", None],
        [3, "khong_co_ma", "", "", None, None, 1, None],
        [4, "online_dossier_rate", "", "%", None, None, 0.5, None],  # portal KPI
        [5, "it_staff_qualified", "", "", None, None, "có lẽ", None],
        [6, "digital_inspection_rate", "", "%", None, None, None, None],  # left blank
        [7, "dx_budget_amount", "", "", None, None, "-5", None],
        [8, "security_plan_rate", "", "%", 3, None, None, None],
        [9, "staff_digital_trained_rate", "", "%", 40, 50, "80", None],  # agrees: kept
    ]
    path = write_xlsx(tmp_path / "bad.xlsx", rows)
    read = read_submission_file(path, rules())
    assert [r["indicator_code"] for r in read.accepted] == ["staff_digital_trained_rate"]
    rej = {r["row"]: r for r in read.rejects}
    assert sorted(rej) == list(range(8, 16))
    assert rej[8]["field"] == "GiaTri" and "does not match TuSo/MauSo = 80/100 = 80.0%" in rej[8]["reason"]
    assert rej[8]["value"] == "50 %"
    assert rej[9]["reason"] == "value 'tám mươi' is not a number"
    assert rej[10]["field"] == "MaChiSo" and "not in the KPI catalogue" in rej[10]["reason"]
    assert "computed from the portal" in rej[11]["reason"]
    assert "not yes/no" in rej[12]["reason"]
    assert rej[13]["reason"] == "no value given"
    assert "negative" in rej[14]["reason"]
    assert rej[15]["field"] == "MauSo"
    for r in read.rejects:
        assert r["file"] == "bad.xlsx" and r["sheet"] == "BaoCao" and r["source"] == "inbox"
        assert r["source_ref"] == f"bad.xlsx [BaoCao] row {r['row']}"
        assert r["agency_code"] == "SO_YTE"


def test_agency_not_valid_in_quarter_and_wrong_period(tmp_path):
    rows = [[1, "it_staff_qualified", "", "", None, None, "Có", None]]
    merged = read_submission_file(write_xlsx(tmp_path / "a.xlsx", rows, agency_code="SO_TTTT"), rules())
    assert merged.accepted == []
    assert "ceased on 28/02/2025; its successor SO_KHCN reports for 2025-Q2" in merged.rejects[0]["reason"]
    assert merged.rejects[0]["field"] == "MaDonVi"
    unknown = read_submission_file(write_xlsx(tmp_path / "b.xlsx", rows, agency_code="SO_MA"), rules())
    assert "not in the agency registry" in unknown.rejects[0]["reason"]
    wrong_q = read_submission_file(write_xlsx(tmp_path / "c.xlsx", rows, quarter="2025-Q1"), rules())
    assert "reports period 2025-Q1 but belongs to 2025-Q2" in wrong_q.rejects[0]["reason"]
    district_q3 = read_submission_file(
        write_xlsx(tmp_path / "d.xlsx", rows, agency_code="HUYEN_A", quarter="Quý 3/2025"), rules("2025-Q3")
    )
    assert "ceased on 30/06/2025" in district_q3.rejects[0]["reason"]
    bad_date = read_submission_file(write_xlsx(tmp_path / "e.xlsx", rows, report_date="32/13/2025"), rules())
    assert bad_date.rejects[0]["field"] == "NgayBaoCao"
    assert "'32/13/2025' is not a date" in bad_date.rejects[0]["reason"]


def test_duplicate_indicator_in_one_file_rejects_both(tmp_path):
    rows = [
        [1, "it_staff_qualified", "", "", None, None, "Có", None],
        [2, "it_staff_qualified", "", "", None, None, "Không", None],
        [3, "ipv6_ready", "", "", None, None, "Không", None],
    ]
    read = read_submission_file(write_xlsx(tmp_path / "dup.xlsx", rows), rules())
    assert [r["indicator_code"] for r in read.accepted] == ["ipv6_ready"]
    assert [r["row"] for r in read.rejects] == [8, 9]
    assert "more than once in this file (2 times: rows 8 and 9)" in read.rejects[0]["reason"]


def test_xlsx_header_moved_and_other_sheet_name(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Sheet1"
    ws["A2"], ws["C2"] = "Mã đơn vị:", "SO_YTE"  # label scan, value not in B
    ws["A3"], ws["B3"] = "Kỳ báo cáo:", "2025-Q2"
    ws["A4"], ws["B4"] = "Ngày báo cáo:", dt.datetime(2025, 7, 9)
    for c, h in enumerate(["STT", "Mã chỉ số / Indicator code", "Giá trị / Value"], start=1):
        ws.cell(6, c, h)
    ws.cell(7, 1, 1), ws.cell(7, 2, "ipv6_ready"), ws.cell(7, 3, "Có")
    wb.save(tmp_path / "moved.xlsx")
    read = read_submission_file(touch(tmp_path / "moved.xlsx"), rules())
    assert read.rejects == []
    assert read.accepted[0]["agency_code"] == "SO_YTE"
    assert read.accepted[0]["submitted_at"] == dt.datetime(2025, 7, 9)


def test_csv_utf8_bom_semicolon_vietnamese_numbers(tmp_path):
    lines = [
        CSV_HEADERS,
        [
            "SO_YTE",
            "2025-Q2",
            "05/07/2025",
            "1",
            "work_records_online_rate",
            "Tỷ lệ hồ sơ",
            "%",
            "1.234",
            "1.500",
            "",
            "",
        ],
        [
            "SO_YTE",
            "2025-Q2",
            "05/07/2025",
            "2",
            "e_document_exchange_rate",
            "Tỷ lệ văn bản",
            "%",
            "",
            "",
            "85,5 %",
            "",
        ],
        [
            "SO_YTE",
            "2025-Q2",
            "05/07/2025",
            "3",
            "it_staff_qualified",
            "Cán bộ",
            "có/không",
            "",
            "",
            "Không",
            "",
        ],
    ]
    path = write_csv(tmp_path / "so_yte.csv", lines)
    read = read_submission_file(path, rules())
    assert read.rejects == [] and read.encoding == "utf-8"
    got = by_code(read)
    assert got["work_records_online_rate"]["value"] == pytest.approx(1234 / 1500)
    assert got["e_document_exchange_rate"]["value"] == pytest.approx(0.855)
    assert got["it_staff_qualified"]["value"] == 0.0
    assert got["e_document_exchange_rate"]["source_ref"] == "so_yte.csv row 3"
    assert got["e_document_exchange_rate"]["submitted_at"] == dt.datetime(2025, 7, 5)


def test_csv_cp1258_vietnamese_text(tmp_path):
    evidence = "Kế hoạch số 15/KH-UBND ngày 20/01/2025 của Ủy ban"
    lines = [
        CSV_HEADERS,
        [
            "SO_YTE",
            "2025-Q2",
            "05/07/2025",
            "1",
            "dx_plan_issued",
            "Kế hoạch chuyển đổi số",
            "",
            "",
            "",
            "Có",
            evidence,
        ],
    ]
    path = write_csv(tmp_path / "cp1258.csv", lines, encoding="cp1258")
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")
    read = read_submission_file(path, rules())
    assert read.encoding == "cp1258" and read.rejects == []
    assert read.accepted[0]["evidence_ref"] == evidence


def test_csv_cp1252_western_text_is_not_misread_as_1258(tmp_path):
    lines = [
        CSV_HEADERS,
        ["SO_YTE", "2025-Q2", "05/07/2025", "1", "dx_plan_issued", "", "", "", "", "Có", "Plan lò vì café"],
    ]
    text = "\r\n".join(",".join(c) for c in lines).replace("Có", "1")
    (tmp_path / "w.csv").write_bytes(text.encode("cp1252"))
    read = read_submission_file(touch(tmp_path / "w.csv"), rules())
    assert read.encoding == "cp1252"
    assert read.accepted[0]["evidence_ref"] == "Plan lò vì café"


def test_decode_text_order():
    assert decode_text("Tỷ lệ".encode()) == ("Tỷ lệ", "utf-8")
    assert decode_text(b"\xef\xbb\xbfabc") == ("abc", "utf-8")
    assert decode_text(to_cp1258("Tỷ lệ hồ sơ")) == ("Tỷ lệ hồ sơ", "cp1258")


def test_csv_comma_delimiter_with_unquoted_decimal_is_a_row_reject(tmp_path):
    lines = [
        CSV_HEADERS,
        ["SO_YTE", "2025-Q2", "05/07/2025", "1", "digital_inspection_rate", "", "%", "", "", '"40,5"', ""],
        ["SO_YTE", "2025-Q2", "05/07/2025", "2", "it_staff_trained_rate", "", "%", "", "", "85,5", ""],
    ]
    path = write_csv(tmp_path / "comma.csv", lines, encoding="utf-8", delimiter=",")
    read = read_submission_file(path, rules())
    assert by_code(read)["digital_inspection_rate"]["value"] == pytest.approx(0.405)
    assert len(read.rejects) == 1
    rej = read.rejects[0]
    assert rej["row"] == 3 and rej["field"] == "row" and rej["indicator_code"] == "it_staff_trained_rate"
    assert "12 fields but the header has 11" in rej["reason"]


@pytest.mark.parametrize(
    "name, content, reason",
    [
        ("empty.xlsx", b"", "the file is empty"),
        ("empty.csv", b"\xef\xbb\xbf\r\n", "the file is empty"),
        ("old.xls", b"\xd0\xcf\x11\xe0 not really", "save it as .xlsx"),
        ("notes.txt", b"hello", "not an Excel (.xlsx) or CSV file"),
        ("fake.xlsx", b"this is not a zip", "cannot open the workbook"),
        ("binary.csv", b"PK\x03\x04\x00\x00garbage", "binary content"),
        ("noheader.csv", b"a;b\r\n1;2\r\n", "no header row with the column MaChiSo"),
    ],
)
def test_unreadable_files_are_one_reject(tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)
    read = read_submission_file(touch(path), rules())
    assert read.accepted == []
    assert len(read.rejects) == 1
    rej = read.rejects[0]
    assert rej["file"] == name and rej["field"] == "file" and reason in rej["reason"]
    assert rej["submitted_at"] == ARRIVED


def test_truncated_xlsx_is_one_reject(tmp_path):
    good = write_xlsx(tmp_path / "good.xlsx", [[1, "ipv6_ready", "", "", None, None, "Có", None]])
    data = good.read_bytes()
    (tmp_path / "cut.xlsx").write_bytes(data[: len(data) // 2])
    read = read_submission_file(touch(tmp_path / "cut.xlsx"), rules())
    assert read.accepted == [] and len(read.rejects) == 1
    assert "damaged" in read.rejects[0]["reason"]


def test_template_without_values_reports_no_rows_and_blank_indicators(tmp_path):
    path = write_xlsx(tmp_path / "blank.xlsx", [])
    read = read_submission_file(path, rules())
    assert read.rejects[0]["reason"] == "the file has no indicator rows"
