"""The submission workbook as a clerk meets it: Vietnamese headers and lists, an instructions
sheet with the deadline, only the entry cells open, only the indicators that apply, numerator
≤ denominator checked while typing, a sign-off; and what the clerk fills in is ingested."""

from __future__ import annotations

import datetime as dt

import openpyxl
import pytest

from dx_pipeline.reference.catalogue import load_catalogue
from dx_pipeline.reference.registry import registry_frame
from dx_pipeline.sources.submission_readers import load_layout
from dx_pipeline.sources.submissions import ingest_submissions
from dx_pipeline.sources.template_workbook import INSTRUCTIONS_SHEET, sign_off_cells
from dx_pipeline.sources.templates import applicable_indicators, write_template
from dx_pipeline.storage import DxHome
from dx_pipeline_tests.sources.test_submission_readers import agency, touch

CATALOGUE = load_catalogue()
REGISTRY = registry_frame([agency("SO_YTE"), agency("XA_B", level="commune")])
HEAD = 7  # the header row of config/submission_format.yaml
VI_HEADERS = ["STT", "Mã chỉ số", "Tên chỉ số", "Đơn vị tính", "Tử số", "Mẫu số", "Giá trị", "Minh chứng"]
EN_HEADERS = ["No.", "Indicator code", "Indicator", "Unit", "Numerator", "Denominator", "Value"]


@pytest.fixture
def workbook(tmp_path):
    path = write_template(REGISTRY, "SO_YTE", "2025-Q2", tmp_path / "t.xlsx")
    return path, openpyxl.load_workbook(path)


def _rows(ws) -> dict[str, int]:
    """Indicator code -> its row."""
    return {ws.cell(r, 2).value: r for r in range(HEAD + 1, ws.max_row + 1)
            if ws.cell(r, 2).value in CATALOGUE}


def _validations(ws, cell: str) -> list:
    return [dv for dv in ws.data_validations.dataValidation if cell in dv.sqref]


def test_headers_are_vietnamese_with_english_below(workbook):
    ws = workbook[1]["BaoCao"]
    cells = [ws.cell(HEAD, c).value for c in range(1, 9)]
    assert [c.split("\n")[0] for c in cells] == VI_HEADERS
    assert [c.split("\n")[1] for c in cells][:7] == EN_HEADERS
    assert not any(c.split("\n")[0] in ("MaChiSo", "TuSo", "MauSo", "GiaTri") for c in cells)


def test_sheet_is_protected_and_only_entry_cells_are_open(workbook):
    wb = workbook[1]
    ws = wb["BaoCao"]
    assert ws.protection.sheet and wb[INSTRUCTIONS_SHEET].protection.sheet
    rows = _rows(ws)
    expected = {"B5"}
    for code, r in rows.items():
        expected |= {f"G{r}", f"H{r}"}
        if CATALOGUE[code].unit == "ratio":
            expected |= {f"E{r}", f"F{r}"}
    expected |= set(sign_off_cells_for(ws, len(rows)).values())
    unlocked = {c.coordinate for row in ws.iter_rows(min_row=1, max_row=ws.max_row + 5, max_col=12)
                for c in row if not c.protection.locked}
    assert unlocked == expected
    info = wb[INSTRUCTIONS_SHEET]
    assert not [c for row in info.iter_rows() for c in row if not c.protection.locked]
    # the codes, names and agency cannot be overwritten
    assert ws["B3"].protection.locked and ws[f"B{HEAD + 1}"].protection.locked


def sign_off_cells_for(ws, n_rows: int) -> dict[str, str]:
    return sign_off_cells(load_layout(), n_rows)


def test_yes_no_rows_have_no_numerator_or_denominator(workbook):
    ws = workbook[1]["BaoCao"]
    rows = _rows(ws)
    yes_no = [r for code, r in rows.items() if CATALOGUE[code].unit in ("bool", "evidence", "level")]
    assert yes_no
    for r in yes_no:
        assert ws[f"E{r}"].protection.locked and ws[f"F{r}"].protection.locked
        assert not _validations(ws, f"E{r}") and not _validations(ws, f"F{r}")


def test_numerator_above_denominator_is_refused_while_typing(workbook):
    ws = workbook[1]["BaoCao"]
    r = _rows(ws)["work_records_online_rate"]
    for cell in (f"E{r}", f"F{r}"):
        (dv,) = _validations(ws, cell)
        assert dv.type == "custom" and f"E{r}<=F{r}" in dv.formula1 and dv.showErrorMessage
    assert "mẫu số" in dv.error


def test_lists_are_vietnamese(workbook):
    ws = workbook[1]["BaoCao"]
    r = _rows(ws)["dx_steering_led_by_head"]
    (dv,) = _validations(ws, f"G{r}")
    assert dv.type == "list" and dv.formula1 == '"Người đứng đầu,Cấp phó,Không"'
    lists = " ".join(d.formula1 for d in ws.data_validations.dataValidation if d.type == "list")
    assert "head" not in lists and "deputy" not in lists and '"Có,Không"' in lists
    assert ws[f"J{r}"].value == "Người đứng đầu / Cấp phó / Không"


def test_instructions_sheet_has_the_deadline_and_what_a_blank_means(workbook):
    wb = workbook[1]
    assert wb.sheetnames == ["BaoCao", INSTRUCTIONS_SHEET]
    text = "\n".join(str(c.value) for row in wb[INSTRUCTIONS_SHEET].iter_rows() for c in row if c.value)
    assert "Hạn nộp / Deadline: 15/07/2025" in text  # 15 days after 30/06/2025
    assert "Ô để trống" in text and "Cách nộp" in text and "SO_YTE" in text
    assert "Hạn nộp / Deadline: 15/07/2025" in wb["BaoCao"]["A6"].value


def test_only_indicators_that_apply_to_the_unit(tmp_path):
    for code, level in (("SO_YTE", "department"), ("XA_B", "commune")):
        path = write_template(REGISTRY, code, "2025-Q2", tmp_path / f"{code}.xlsx")
        ws = openpyxl.load_workbook(path)["BaoCao"]
        codes = list(_rows(ws))
        assert codes == [k.code for k in applicable_indicators(CATALOGUE, level)]
        assert all(level in CATALOGUE[c].applies_to for c in codes)
    assert "ehealth_record_rate" not in codes  # a department's (health) indicator, not a commune's
    ws = openpyxl.load_workbook(tmp_path / "SO_YTE.xlsx")["BaoCao"]
    r = _rows(ws)["ehealth_record_rate"]
    assert "Chỉ đơn vị ngành y tế báo cáo; đơn vị khác để trống" in ws[f"J{r}"].value


def test_a_quarter_that_has_not_begun_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"^2030-Q1 has not begun \(it starts on 01/01/2030\); a template "
                                         r"can be written for 2026-Q4 or an earlier quarter$"):
        write_template(REGISTRY, "SO_YTE", "2030-Q1", tmp_path / "x.xlsx", today=dt.date(2026, 12, 2))
    assert not (tmp_path / "x.xlsx").exists()
    assert write_template(REGISTRY, "SO_YTE", "2026-Q4", tmp_path / "y.xlsx", today=dt.date(2026, 10, 1))


VALUES = {"ratio": None, "bool": "Có", "evidence": "Có", "count": 3, "days": 4, "amount": 1500}


def test_filled_workbook_is_ingested(workbook, tmp_path):
    """Template -> filled in with openpyxl (rates as numerator/denominator, Vietnamese list
    values, sign-off) -> the quarter's inbox -> ingest: every row accepted, nothing rejected."""
    path, wb = workbook
    ws = wb["BaoCao"]
    ws["B5"] = dt.datetime(2025, 7, 12)
    rows = _rows(ws)
    for code, r in rows.items():
        k = CATALOGUE[code]
        if k.unit == "ratio":
            ws[f"E{r}"], ws[f"F{r}"] = 171, 200
        elif k.unit == "level":
            ws[f"G{r}"] = "Cấp phó" if "deputy" in k.levels else list(k.levels)[1]
        else:
            ws[f"G{r}"] = VALUES[k.unit]
        if k.unit == "evidence":
            ws[f"H{r}"] = "Kế hoạch số 1/KH ngày 2/1/2025"
    cells = sign_off_cells_for(ws, len(rows))
    ws[cells["preparer_name"]], ws[cells["preparer_position"]] = "Nguyễn Văn A", "Chuyên viên"
    ws[cells["approver_name"]], ws[cells["approver_date"]] = "Trần Thị B", dt.datetime(2025, 7, 12)
    home = DxHome.local(tmp_path / "home").ensure()
    inbox = home.inbox_for("2025-Q2")
    inbox.mkdir(parents=True, exist_ok=True)
    wb.save(inbox / "so_yte.xlsx")
    touch(inbox / "so_yte.xlsx")
    result = ingest_submissions(home, "2025-Q2", REGISTRY, catalogue=CATALOGUE)
    assert result.rejects.empty, result.rejects[["source_ref", "field", "reason"]].to_string()
    got = dict(zip(result.accepted["indicator_code"], result.accepted["value"], strict=True))
    assert sorted(got) == sorted(rows)
    assert got["work_records_online_rate"] == pytest.approx(0.855)
    assert got["dx_steering_led_by_head"] == 0.5
    assert set(result.accepted["agency_code"]) == {"SO_YTE"}
