"""The annex workbook: export and import give the same framework back, a province's own annex
table imports, and a malformed one gets the sheet, row and column of each problem."""

from __future__ import annotations

import argparse
import dataclasses

import openpyxl
import pytest
import yaml

from dx_pipeline.cli.framework import register
from dx_pipeline.index import builtin_frameworks, load_framework
from dx_pipeline.index.annex import AnnexError, import_annex, read_annex, write_annex
from dx_pipeline.index.annex_format import INDICATOR_COLUMNS, method_text, parse_method
from dx_pipeline.index.builtins import FRAMEWORKS_DIR

VARIANTS = sorted((FRAMEWORKS_DIR / "variants").glob("*.yaml"))


def _same(a, b) -> bool:
    return dataclasses.replace(a, source=None) == dataclasses.replace(b, source=None)


@pytest.mark.parametrize(
    "fw", builtin_frameworks() + [load_framework(p) for p in VARIANTS], ids=lambda f: f.id
)
def test_export_then_import_gives_the_same_framework(fw, tmp_path):
    book = write_annex(fw, tmp_path / "review.xlsx")
    back = import_annex(book, tmp_path / "back.yaml")
    assert _same(back, fw)
    # and the file written is an ordinary framework file
    assert _same(load_framework(tmp_path / "back.yaml"), fw)


def test_the_review_workbook_shows_a_council_what_is_illustrative(tmp_path):
    fw = next(f for f in builtin_frameworks() if f.id == "dti_department")
    wb = openpyxl.load_workbook(write_annex(fw, tmp_path / "dti.xlsx"))
    assert wb.sheetnames == ["TomTat", "ThongTin", "VanBan", "ChiSo", "XepLoai"]
    summary = {r[0]: r[1] for r in wb["TomTat"].iter_rows(values_only=True) if r[0]}
    assert summary["Nguồn gốc / Provenance"].startswith(
        "Bộ chỉ số minh họa: tên, điểm hoặc cách tính của 40/40"
    )
    chiso = wb["ChiSo"]
    header = [c.value for c in chiso[1]]
    assert header[:8] == [
        "Mã / Code",
        "Thuộc / Parent",
        "Tên chỉ số / Name (Vietnamese)",
        "Tên tiếng Anh / Name (English)",
        "Điểm tối đa / Max points",
        "Cách tính điểm / Scoring method",
        "Nguồn số liệu / Data source",
        "Minh chứng / Evidence required",
    ]
    rows = {r[0]: dict(zip(header, r, strict=True)) for r in chiso.iter_rows(min_row=2, values_only=True)}
    assert rows["CQ.1"]["Thuộc / Parent"] == "CQ" and rows["CQ.1"]["Điểm tối đa / Max points"] == 40
    assert rows["CQ.1"]["Cách tính điểm / Scoring method"] == "goalpost {threshold: 0.85}"
    assert (
        rows["NT.1"]["Cách tính điểm / Scoring method"]
        == "categorical {levels: {1.0: 1.0, 0.5: 0.5, 0.0: 0.0}}"
    )
    # the default origin is illustration: a pillar whose name comes from Decision 922 says so
    assert rows["NT"]["Nguồn gốc / Origin"] == "name=dti922"
    origin_cell = chiso.cell(row=list(rows).index("CQ.1") + 2, column=header.index("Nguồn gốc / Origin") + 1)
    assert origin_cell.fill.fgColor.rgb.endswith("FCE4D6")  # shaded: illustration


def _write_annex(path, info, documents, rows, bands=None):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "ThongTin"
    ws.append(["Khóa / Key", "Giá trị / Value"])
    for row in info:
        ws.append(list(row))
    ws = wb.create_sheet("VanBan")
    ws.append(
        [
            "Mã văn bản",
            "Loại",
            "Số hiệu",
            "Ngày ban hành",
            "Cơ quan ban hành",
            "Issuer (English)",
            "Trích yếu",
            "Title (English)",
            "Đã đọc",
        ]
    )
    for row in documents:
        ws.append(list(row))
    ws = wb.create_sheet("ChiSo")
    ws.append(
        [
            "Mã",
            "Thuộc",
            "Tên chỉ số",
            "Tên tiếng Anh",
            "Điểm tối đa",
            "Cách tính điểm",
            "Nguồn số liệu",
            "Minh chứng",
        ]
    )
    for row in rows:
        ws.append(list(row))
    if bands is not None:
        ws = wb.create_sheet("XepLoai")
        ws.append(["Mã", "Xếp loại", "Band (English)", "Tỷ lệ điểm tối thiểu"])
        for row in bands:
            ws.append(list(row))
    wb.save(path)
    return path


INFO = [
    ("id", "dti_tinh_mau"),
    ("version", "2026.1"),
    ("title.vi", "Bộ chỉ số CĐS các sở"),
    ("title.en", "DX index of departments"),
    ("effective.from", "2026-01-01"),
    ("applies_to.levels", "[department]"),
    ("total_points", 100),
    ("provenance.origin.name", "qd12"),
    ("provenance.origin.points", "qd12"),
    ("provenance.origin.rule", "qd12"),
    ("provenance.bands", "qd12"),
]
DOCUMENTS = [
    (
        "qd12",
        "decision",
        "12/QĐ-UBND",
        "15/01/2026",
        "Ủy ban nhân dân Tỉnh Mẫu",
        "People's Committee of Sample Province",
        "Bộ chỉ số đánh giá CĐS",
        "DX assessment index",
        "text",
    )
]
ROWS = [
    ("CQ", None, "Chính quyền số", "Digital government", 60, "sum", None, None),
    (
        "CQ.1",
        "CQ",
        "Tỷ lệ hồ sơ trực tuyến",
        "Online dossier rate",
        "37,5",
        "goalpost {threshold: 0.8}",
        "online_dossier_rate",
        None,
    ),
    ("CQ.2", "CQ", "Tỷ lệ hồ sơ đúng hạn", "On-time rate", 22.5, "linear", "on_time_rate", None),
    ("NT", None, "Nhận thức số", "Digital awareness", 40, None, None, None),
    (
        "NT.1",
        "NT",
        "Ban hành kế hoạch CĐS năm",
        "Annual DX plan",
        40,
        "boolean",
        "dx_plan_issued",
        "Số, ngày văn bản",
    ),
]
BANDS = [("tot", "Tốt", "Good", 0.8), ("yeu", "Yếu", "Weak", 0)]


def test_a_provinces_own_annex_table_imports(tmp_path):
    book = _write_annex(tmp_path / "annex.xlsx", INFO, DOCUMENTS, ROWS, BANDS)
    fw = import_annex(book, tmp_path / "dti_tinh_mau.yaml")
    assert (fw.id, fw.version, fw.total_points, fw.applies_to.levels) == (
        "dti_tinh_mau",
        "2026.1",
        100,
        ("department",),
    )
    assert fw.node("CQ.1").max_points == 37.5 and fw.node("CQ.1").params == {"threshold": 0.8}
    assert fw.node("NT").max_points == 40 and fw.node("NT.1").evidence == "Số, ngày văn bản"
    assert not fw.illustrative  # every name, point and rule from the decision, and its bands
    doc = fw.provenance.primary
    assert (doc.number, doc.date.isoformat()) == ("12/QĐ-UBND", "2026-01-15")
    assert (
        fw.provenance_statement().vi
        == "Theo Quyết định 12/QĐ-UBND ngày 15/01/2026 (Ủy ban nhân dân Tỉnh Mẫu)."
    )
    text = (tmp_path / "dti_tinh_mau.yaml").read_text(encoding="utf-8")
    assert text.startswith("# Written by `dx-pipeline framework import` from annex.xlsx.")
    assert list(yaml.safe_load(text))[:5] == ["id", "version", "title", "provenance", "effective"]


def test_a_malformed_annex_gets_sheet_row_and_column_of_every_problem(tmp_path):
    rows = [list(r) for r in ROWS]
    rows[1][4] = "ba mươi"  # CQ.1 points
    rows[2][5] = "goalpst {threshold: 0.8}"  # CQ.2 rule
    rows[4][6] = None  # NT.1 data source
    rows.append(
        ["NT.2", "NX", "Tuyên truyền", "Communication", 10, "linear", "dx_communication_activities", None]
    )
    rows.append(["CQ.1", "CQ", "Lặp", "Repeated", 5, "linear", "on_time_rate", None])
    docs = [list(DOCUMENTS[0])]
    docs[0][3] = "31/02/2026"
    book = _write_annex(tmp_path / "bad.xlsx", INFO, docs, rows, BANDS)
    with pytest.raises(AnnexError) as err:
        read_annex(book)
    assert err.value.problems == [
        "sheet VanBan, row 2, column D (Ngày ban hành / Date): " + _date_message("31/02/2026"),
        "sheet ChiSo, row 8, column A (Mã / Code): 'CQ.1' is already the code of row 3",
        "sheet ChiSo, row 7, column B (Thuộc / Parent): 'NX' is not the code of any row",
        "sheet ChiSo, row 3, column E (Điểm tối đa / Max points): value 'ba mươi' is not a number",
        "sheet ChiSo, row 4, column F (Cách tính điểm / Scoring method): 'goalpst' is not a scoring rule "
        "(use linear, goalpost, distance_to_target, categorical, boolean, half_credit, manual, minmax, "
        "zscore, rank, percentile_rank)",
        "sheet ChiSo, row 6, column G (Nguồn số liệu / Data source): empty; give the KPI code it is scored "
        "on, or item:CODE",
    ]
    assert str(err.value).startswith("bad.xlsx: sheet VanBan, row 2, column D")
    assert not (tmp_path / "bad.yaml").exists()


def _date_message(text):
    from dx_pipeline.sources.submission_numbers import parse_date

    try:
        parse_date(text)
    except ValueError as exc:
        return str(exc)
    raise AssertionError("31/02 parsed")


def test_framework_rules_are_reported_at_the_row_and_column_they_come_from(tmp_path):
    rows = [list(r) for r in ROWS]
    rows[2][4] = 20  # CQ: 37.5 + 20 is not 60
    rows[4][6] = "no_such_kpi"
    info = [r for r in INFO if r[0] != "total_points"] + [("total_points", "một trăm")]
    book = _write_annex(tmp_path / "sums.xlsx", info, DOCUMENTS, rows, BANDS)
    with pytest.raises(AnnexError) as err:
        import_annex(book, tmp_path / "sums.yaml")
    assert err.value.problems == ["sheet ThongTin: total_points: 'một trăm' is not of type 'number'"]
    book = _write_annex(tmp_path / "sums.xlsx", INFO, DOCUMENTS, rows, BANDS)
    with pytest.raises(AnnexError) as err:
        import_annex(book, tmp_path / "sums.yaml")
    assert err.value.problems == [
        "sheet ChiSo, row 2, column E (Điểm tối đa / Max points) [CQ]: points do not add up: max_points is "
        "60 but the children sum to 57.5 (CQ.1 37.5 + CQ.2 20)",
        "sheet ChiSo, row 6, column G (Nguồn số liệu / Data source) [NT.1]: KPI 'no_such_kpi' is not in the "
        "KPI catalogue",
    ]
    assert not (tmp_path / "sums.yaml").exists()


def test_missing_sheets_and_unknown_columns_are_named(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "ChiSo"
    ws.append(["Mã", "Tên chỉ số", "Ghi chú riêng"])
    ws.append(["CQ", "Chính quyền số", "x"])
    wb.save(tmp_path / "thin.xlsx")
    with pytest.raises(AnnexError) as err:
        read_annex(tmp_path / "thin.xlsx")
    problems = err.value.problems
    assert "sheet ThongTin: the workbook has no sheet ThongTin (sheets: ChiSo)" in problems
    assert "sheet VanBan: the workbook has no sheet VanBan (sheets: ChiSo)" in problems
    assert any(
        p.startswith("sheet ChiSo, row 1, column C: 'Ghi chú riêng' is not a column of this sheet")
        for p in problems
    )
    assert "sheet ChiSo, row 1: no column 'Điểm tối đa / Max points'" in problems


def test_scoring_method_text_round_trips_every_setting():
    fields = {
        "rule": "goalpost",
        "params": {"threshold": 0.2, "upper": 0.6},
        "direction": "lower",
        "missing": "exclude",
        "zero_denominator": "full",
        "weight": 2,
    }
    text = method_text(fields, pillar=False)
    assert (
        text == "goalpost {threshold: 0.2, upper: 0.6}; direction=lower; zero_denominator=full; "
        "missing=exclude; weight=2"
    )
    assert parse_method(text, pillar=False) == fields
    assert parse_method("arithmetic; weight=2", pillar=True) == {"aggregation": "arithmetic", "weight": 2}
    with pytest.raises(ValueError, match="setting 'colour=red' is not key=value with key one of"):
        parse_method("linear; colour=red", pillar=False)
    assert {c.key for c in INDICATOR_COLUMNS} >= {
        "code",
        "parent",
        "name_vi",
        "name_en",
        "max_points",
        "scoring_method",
        "data_source",
        "evidence",
    }


def test_cli_import_export_diff(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))

    def run(*argv):
        args = parser.parse_args(list(argv))
        return args.func(args)

    assert run("framework", "export", "qd766", "--output", str(tmp_path / "qd766.xlsx")) == 0
    assert (
        run("framework", "import", str(tmp_path / "qd766.xlsx"), "--output", str(tmp_path / "qd.yaml")) == 0
    )
    out = capsys.readouterr().out
    assert (
        "qd766 v" in out
        and "Partly illustrative framework: the bands are this project's illustration." in out
    )
    assert "warning" not in out  # every indicator of qd766 has a source
    assert run("framework", "diff", "qd766", str(tmp_path / "qd.yaml")) == 0
    assert capsys.readouterr().out.strip().endswith(": no differences")
    with pytest.raises(ValueError, match="--output .*x.csv: the file must end in .yaml"):
        run("framework", "import", str(tmp_path / "qd766.xlsx"), "--output", str(tmp_path / "x.csv"))


def test_cli_import_warns_of_indicators_the_pipeline_cannot_fill(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    rows = [list(r) for r in ROWS]
    rows[4][6] = "ehealth_record_rate"  # NT.1: a health-sector item, on no commune form
    info = [r if r[0] != "applies_to.levels" else ("applies_to.levels", "[commune]") for r in INFO]
    book = _write_annex(tmp_path / "annex.xlsx", info, DOCUMENTS, rows, BANDS)
    args = parser.parse_args(["framework", "import", str(book), "--output", str(tmp_path / "c.yaml")])
    assert args.func(args) == 0  # a valid framework file is written ...
    out = capsys.readouterr().out
    assert "  warning: node NT.1: nothing can fill it for commune units" in out  # ... and the gap named
    assert f"dx-pipeline framework check {tmp_path / 'c.yaml'} --detail" in out
