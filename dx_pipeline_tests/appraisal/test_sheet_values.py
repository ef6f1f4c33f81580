"""The fast sheet reader gives exactly openpyxl's read-only values (openpyxl is the oracle), on
workbooks written by xlsxwriter, filled and re-saved by openpyxl (inline strings, rich text),
hand-edited XML (phonetic runs, cells and rows without references, rows past the dimension, rows
out of order) and hostile cells; whatever it does not take goes back to openpyxl; and the
appraisal and appeal workbooks read the same through it as through openpyxl alone."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest
import xlsxwriter
from openpyxl import load_workbook
from openpyxl.cell.rich_text import CellRichText, TextBlock
from openpyxl.cell.text import InlineFont

from dx_pipeline.appraisal import appeal_workbook, sheet_values
from dx_pipeline.appraisal import workbook as appraisal_workbook
from dx_pipeline.appraisal.sheet_values import ValuesSheet, values_sheet
from dx_pipeline.appraisal.workbook import HEADER_ROWS, KEYS, SHEET, read_workbook
from dx_pipeline_tests.appraisal.test_workbook import _export

COL = {k: i + 1 for i, k in enumerate(KEYS)}
BOUNDS: list[dict[str, Any]] = [
    {}, {"min_row": HEADER_ROWS + 1, "max_col": len(KEYS)}, {"min_row": HEADER_ROWS, "max_row": HEADER_ROWS},
    {"min_col": 1, "max_col": 2}, {"min_row": 3, "max_row": 40, "min_col": 2, "max_col": 20},
]


def _typed(rows: list) -> list:
    return [[(type(v), v) for v in row] for row in rows]


def assert_same_values(path: Path, slow: tuple[str, ...] = ()) -> None:
    """Every sheet of ``path`` read through :func:`values_sheet` gives openpyxl's values, their
    types included, for each set of bounds; and the fast reader was the one used, but for the
    sheets named in ``slow`` (``*``: all), left to openpyxl."""
    wb = load_workbook(path, read_only=True, data_only=True)
    for name in wb.sheetnames:
        ws = wb[name]
        got = values_sheet(ws)
        assert isinstance(got, ValuesSheet) is (name not in slow and "*" not in slow), name
        for bounds in BOUNDS:
            oracle = list(ws.iter_rows(values_only=True, **bounds))
            fast = list(got.iter_rows(values_only=True, **bounds))
            assert _typed(fast) == _typed(oracle), (name, bounds)
    wb.close()


def _rewrite(path: Path, out: Path, member: str, edit) -> Path:
    """``path`` with one zip member's text changed by ``edit``."""
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            dst.writestr(item, edit(data.decode()).encode() if item.filename == member else data)
    return out


@pytest.fixture
def exported(scored, tmp_path) -> Path:
    return _export(scored, tmp_path / "w.xlsx")


def _hostile_fill(path: Path, out: Path) -> Path:
    """The evaluator's workbook filled through openpyxl with every kind of cell an evaluator's
    Excel can leave: verdicts, wrong types, dates, booleans, formulas, rich text, blanks that
    are spaces, rows below the table and a hidden sheet."""
    wb = load_workbook(path)
    ws: Any = wb[SHEET]
    first = HEADER_ROWS + 1
    ws.cell(first, COL["verdict"]).value = "Điều chỉnh giá trị - adjust_value"
    ws.cell(first, COL["adjusted_value"]).value = "0,5"
    ws.cell(first, COL["reason"]).value = CellRichText(
        "Chỉ ", TextBlock(InlineFont(b=True), "50 %"), " hồ sơ đúng hạn")
    ws.cell(first + 1, COL["verdict"]).value = 3
    ws.cell(first + 1, COL["adjusted_points"]).value = dt.datetime(2025, 7, 1)
    ws.cell(first + 2, COL["verdict"]).value = True
    ws.cell(first + 2, COL["adjusted_value"]).value = "=1+1"
    ws.cell(first + 3, COL["reason"]).value = "   "
    ws.cell(first + 3, COL["adjusted_points"]).value = dt.time(6, 30)
    ws.cell(first + 4, COL["node_id"]).value = 12.5
    ws.cell(first + 4, COL["agency_name"]).value = "  Sở <Tài> & \"chính\"\r\nmới  "
    ws.cell(first + 20, 1).value = "a row below the table"
    ws.cell(first + 40, COL["reason"]).value = 0
    ws.cell(first + 41, 20).value = "past the last column"
    hidden = wb.create_sheet("Ẩn - hidden")
    hidden["B2"] = "hidden"
    hidden.sheet_state = "hidden"
    wb.save(out)
    return out


def test_values_of_workbooks_written_by_xlsxwriter_and_openpyxl_are_openpyxls(exported, tmp_path):
    assert_same_values(exported)  # xlsxwriter: shared strings, numbers, formatted blanks
    filled = _hostile_fill(exported, tmp_path / "filled.xlsx")  # openpyxl: inline strings, rich text
    assert_same_values(filled)
    wb = load_workbook(exported, rich_text=True)  # re-saved as a person's openpyxl script does
    wb.save(tmp_path / "resaved.xlsx")
    assert_same_values(tmp_path / "resaved.xlsx")


def test_hostile_cells_written_by_xlsxwriter_are_read_as_openpyxl_reads_them(tmp_path):
    """Shared rich strings, formulas' cached numbers, text, booleans and errors, dates in both
    epochs, text that looks like an escape, whitespace and line breaks."""
    for epoch in (False, True):
        path = tmp_path / f"hostile-{epoch}.xlsx"
        wb = xlsxwriter.Workbook(str(path), {"date_1904": epoch, "strings_to_numbers": False})
        ws = wb.add_worksheet("Thẩm định - Appraisal")
        bold, date = wb.add_format({"bold": True}), wb.add_format({"num_format": "dd/mm/yyyy hh:mm"})
        span = wb.add_format({"num_format": "[h]:mm:ss"})
        ws.write_rich_string(0, 0, "Chấp ", bold, "nhận", " - accept")
        ws.write_formula(0, 1, "=1+1", None, 2)
        ws.write_formula(0, 2, '="a"&"b"', None, "ab")  # type: ignore[arg-type]
        ws.write_formula(0, 3, "=TRUE()", None, True)
        ws.write_formula(0, 4, "=1/0", None, "#DIV/0!")  # type: ignore[arg-type]
        ws.write_formula(0, 5, "=A1")  # no cached value
        ws.write_boolean(1, 0, False)
        ws.write_datetime(1, 1, dt.datetime(2025, 7, 16, 8, 30), date)
        ws.write_number(1, 2, 1.25, span)
        ws.write_number(1, 3, 45000, date)
        ws.write_string(2, 0, "_x005F_ and _x000D_ literally")
        ws.write_string(2, 1, "  lề  \r\n dòng mới ")
        ws.write_string(2, 2, "")
        ws.write_blank(2, 3, None, bold)
        ws.write_number(2, 4, -0.0)
        ws.write_number(2, 5, 1e-12)
        ws.write_number(2, 6, 12345678901234567890.0)
        ws.write_string(9, 9, "far")
        hidden = wb.add_worksheet("hidden")
        hidden.hide()
        hidden.write_string(0, 0, "x")
        wb.close()
        assert_same_values(path)


def _sheet_xml(path: Path) -> str:
    with zipfile.ZipFile(path) as z:
        return z.read("xl/worksheets/sheet1.xml").decode()


def test_hand_edited_sheet_xml_is_read_as_openpyxl_reads_it(exported, tmp_path):
    """What other writers do: phonetic runs and empty text in inline strings, cells and rows
    without references, an empty value, an ISO date cell, rows past the dimension and out of
    order, a cell twice, a namespace prefix."""
    filled = _hostile_fill(exported, tmp_path / "filled.xlsx")
    member = "xl/worksheets/sheet1.xml"

    def edit(xml: str) -> str:
        extra = (
            '<row r="7000"><c r="A7000" t="inlineStr"><is><t>base</t><rPh sb="0" eb="1"><t>ふ</t></rPh>'
            '<phoneticPr fontId="1"/></is></c><c t="inlineStr"><is><t/></is></c><c t="inlineStr"><is/></c>'
            '<c r="E7000" t="inlineStr"><is><r><t xml:space="preserve"> run one </t></r><r><rPr><b/></rPr>'
            '<t>two</t></r></is></c><c r="F7000"><v></v></c><c r="G7000" t="d"><v>2025-07-16T08:30:00</v></c>'
            '<c r="H7000" t="e"><v>#N/A</v></c><c r="B7000" t="str"><v>again &amp; &lt;b&gt;</v></c></row>'
            '<row><c r="A7001"><v>1</v></c></row><row r="6990"><c r="C6990"><v>2.50</v></c></row>'
        )
        return xml.replace("</sheetData>", extra + "</sheetData>")

    edited = _rewrite(filled, tmp_path / "edited.xlsx", member, edit)
    assert_same_values(edited)
    smaller = _rewrite(edited, tmp_path / "dimension.xlsx", member,
                       lambda x: re.sub(r'<dimension ref="[^"]*"', '<dimension ref="A1:O9"', x))
    assert_same_values(smaller)
    prefixed = _rewrite(filled, tmp_path / "prefixed.xlsx", member, lambda x: re.sub(
        r"<(/?)(worksheet|sheetData|row|c|v|is|t)\b", r"<\1x:\2", x).replace(
        'xmlns="http://schemas', 'xmlns:x="http://schemas', 1))
    assert_same_values(prefixed, slow=(SHEET,))  # a namespace prefix: left to openpyxl


def test_cells_in_unusual_forms_are_read_alone_as_openpyxl_reads_them(exported, tmp_path):
    """Forms the scan does not read itself (attributes in another order, single quotes, extra
    attributes, entities in a value, spaces between elements, another attribute on ``<t>``),
    raw line breaks, rows without attributes or empty, an encoding declaration."""
    member = "xl/worksheets/sheet1.xml"
    rows = (
        "<row><c t=\"inlineStr\" r='A8000'><is><t>single &amp; quoted</t></is></c>"
        '<c s="0" r="B8000" t="n"><v>7</v></c><c r="C8000" t="str" cm="1"><v>a &lt; b</v></c>'
        '<c r="D8000">\r\n  <v> 3.5 </v>\r\n</c><c r="E8000" t="inlineStr"><is><t foo="x">t attr</t></is></c>'
        '<c r="F8000" t="inlineStr"><is><t>line\r\nbreak &#233;&#x1EA1;</t></is></c>'
        '<c r="G8000" t="s"><v>0</v></c><c r="H8000" t="b"><v>0</v></c><c r="I8000" t="inlineStr"/>'
        '<c r="L8000" t="inlineStr"><is><t>lone\rcarriage return</t></is></c>'
        '<c r="J8000" t="inlineStr"><v>9</v></c><c r="K8000" t="n"><is><t>x</t></is></c></row>'
        '<row r="8001" spans="1:3"/><row r="8003" ht="20" customHeight="1"></row>'
        '<row spans="1:2"><c r="B8004" s="0"><v>1E3</v></c></row>'
    )
    edited = _rewrite(exported, tmp_path / "unusual.xlsx", member, lambda x: x.replace(
        "</sheetData>", rows + "</sheetData>").replace(
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>', '<?xml version="1.0" encoding="utf-8"?>'))
    assert "\r\n" in _sheet_xml(edited)
    assert_same_values(edited)
    commented = _rewrite(exported, tmp_path / "commented.xlsx", member,
                         lambda x: x.replace("</sheetData>", "<!-- a note --></sheetData>"))
    assert_same_values(commented, slow=(SHEET,))


def test_what_the_fast_reader_does_not_take_is_left_to_openpyxl(exported, tmp_path, monkeypatch):
    member = "xl/worksheets/sheet1.xml"
    odd = _rewrite(exported, tmp_path / "odd.xlsx", member, lambda x: x.replace(
        "</row>", '<extLst><ext uri="x"/></extLst></row>', 1))
    wb = load_workbook(odd, read_only=True, data_only=True)
    ws = wb[SHEET]
    assert values_sheet(ws) is ws
    wb.close()
    declared = _rewrite(exported, tmp_path / "entity.xlsx", member, lambda x: x.replace(
        "<worksheet", '<!DOCTYPE worksheet [<!ENTITY e "x">]><worksheet', 1))
    wb = load_workbook(declared, read_only=True, data_only=True)
    ws = wb[SHEET]
    assert values_sheet(ws) is ws  # defusedxml's refusal is openpyxl's to raise
    wb.close()
    monkeypatch.setattr(sheet_values, "MAX_SHEET_BYTES", 100)
    assert_same_values(exported, slow=("*",))


def _read_both(reader, path: Path, monkeypatch) -> tuple[Any, Any]:
    fast = reader(path)
    with monkeypatch.context() as m:
        for module in (appraisal_workbook, appeal_workbook):
            m.setattr(module, "values_sheet", lambda ws: ws)
        oracle = reader(path)
    return fast, oracle


def test_the_appraisal_workbook_reads_the_same_as_through_openpyxl(exported, scored, tmp_path, monkeypatch):
    filled = _hostile_fill(exported, tmp_path / "filled.xlsx")
    for path in (exported, filled):
        fast, oracle = _read_both(read_workbook, path, monkeypatch)
        assert fast == oracle
    # the two rows below the table with a cell in columns A-O count; the one past column O does not
    assert fast.rows_read == 8 + 2 and len(fast.problems) >= 4


def test_the_appeal_workbook_reads_the_same_as_through_openpyxl(tmp_path, monkeypatch):
    wb = xlsxwriter.Workbook(str(tmp_path / "appeal.xlsx"))
    about = wb.add_worksheet(appeal_workbook.ABOUT)
    for r, (key, value) in enumerate([("workbook", appeal_workbook.SCHEMA), ("period", "2025-Q2"),
                                      ("agency", "A"), ("framework", "mini 1")]):
        about.write_string(r, 0, key)
        about.write_string(r, 1, value)
    sheet = wb.add_worksheet(appeal_workbook.SHEET)
    layout = appeal_workbook.LAYOUT
    for j, (_, vi, en, _) in enumerate(layout.columns):
        sheet.write_string(layout.header_rows - 2, j, vi)
        sheet.write_string(layout.header_rows - 1, j, en)
    keys = layout.keys
    sheet.write_row(layout.header_rows, 0, ["mini", "A", "P1.1"])
    sheet.write_string(layout.header_rows, keys.index("argument"), "Số liệu đã cập nhật")
    sheet.write_string(layout.header_rows, keys.index("requested_value"), "0,8")
    sheet.write_string(layout.header_rows + 1, keys.index("requested_value"), "nhiều")
    sheet.write_number(layout.header_rows + 2, keys.index("requested_value"), 0.5)
    wb.close()
    fast, oracle = _read_both(appeal_workbook.read_appeal_workbook, tmp_path / "appeal.xlsx", monkeypatch)
    assert fast == oracle and fast.rows_read == 3 and fast.requests


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) is not installed")
def test_a_workbook_saved_again_by_libreoffice_reads_as_openpyxl_reads_it(exported, tmp_path):
    filled = _hostile_fill(exported, tmp_path / "filled.xlsx")
    out = tmp_path / "lo"
    subprocess.run(["soffice", "--headless", "--convert-to", "xlsx", "--outdir", str(out), str(filled)],
                   check=True, capture_output=True, timeout=120)
    assert_same_values(out / "filled.xlsx")
