"""Excel-safe CSV/XLSX exports and the DuckDB database of views for BI tools."""

from __future__ import annotations

import datetime as dt
import zipfile

import openpyxl
import pandas as pd
import pytest

from dx_pipeline.publish.bi_database import open_bi_database
from dx_pipeline.publish.exports import (
    build_bi_database,
    safe_cell,
    write_csv,
    write_excel,
)
from dx_pipeline.publish.verify import verify
from dx_pipeline.reference import schemas
from dx_pipeline.storage import write_partition

from .conftest import make_inputs, publish

NASTY = {
    "STC": "=cmd|' /C calc'!A0",
    "SYT": "+Sở Y tế",
    "SXD": "-2+3",
    "SGDDT": "@SUM(1,2)",
    "SNNMT": "\tSở Nông nghiệp và Môi trường",
}


@pytest.mark.parametrize(
    "text, expected",
    [
        ("=1+1", "'=1+1"),
        ("+84 912 345 678", "'+84 912 345 678"),
        ("-1", "'-1"),
        ("@A1", "'@A1"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("Sở Tài chính", "Sở Tài chính"),
        ("a=b", "a=b"),
        ("", ""),
    ],
)
def test_safe_cell_neutralises_formula_starts(text, expected):
    assert safe_cell(text) == expected


def test_safe_cell_leaves_numbers_alone():
    assert safe_cell(-3) == -3 and safe_cell(1.5) == 1.5 and safe_cell(None) is None


def test_published_csv_is_utf8_bom_and_formula_safe(home):
    pub = publish(home, make_inputs(names=NASTY))
    data = (pub.path / "ranking.csv").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    back = pd.read_csv(pub.path / "ranking.csv", encoding="utf-8-sig", dtype={"agency_name": str})
    names = dict(zip(back["agency_code"], back["agency_name"], strict=True))
    assert names["STC"] == "'=cmd|' /C calc'!A0"
    assert names["SYT"] == "'+Sở Y tế" and names["SXD"] == "'-2+3" and names["SGDDT"] == "'@SUM(1,2)"
    assert names["SNNMT"] == "'\tSở Nông nghiệp và Môi trường"
    assert names["XTANTHANH"] == "UBND xã Tân Thành"
    # numbers stay numbers, negative rank changes included
    assert back["rank_change"].min() < 0 and pd.api.types.is_numeric_dtype(back["rank_change"])
    assert list(back.columns) == ["quarter"] + schemas.RANKING_SNAPSHOT.names


def test_published_excel_has_no_formulas_and_vietnamese_headers(home):
    pub = publish(home, make_inputs(names=NASTY), published_at=dt.datetime(2025, 7, 10, 8, 30))
    wb = openpyxl.load_workbook(pub.path / "ranking.xlsx")
    assert wb.sheetnames == ["Xếp hạng - Ranking", "Điểm chi tiết - Scores"]
    ws = wb["Xếp hạng - Ranking"]
    header = [c.value for c in ws[1]]
    assert header[0] == "Quý / quarter" and "Tổng điểm / total_points" in header
    cells = [c for row in ws.iter_rows(min_row=2) for c in row if c.value is not None]
    assert all(c.data_type != "f" for c in cells)
    names = {ws.cell(r, 4).value: ws.cell(r, 5).value for r in range(2, ws.max_row + 1)}
    assert names["STC"] == "'=cmd|' /C calc'!A0" and names["SXD"] == "'-2+3"
    changes = [
        ws.cell(r, header.index("Thay đổi hạng / rank_change") + 1).value for r in range(2, ws.max_row + 1)
    ]
    assert any(isinstance(v, (int, float)) and v < 0 for v in changes)
    with zipfile.ZipFile(pub.path / "ranking.xlsx") as z:
        assert "2025-07-10T08:30:00Z" in z.read("docProps/core.xml").decode()
        assert {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_write_csv_and_excel_directly(tmp_path):
    df = pd.DataFrame({"agency_name": ["=1+1", "Sở Y tế", None], "points": [1.5, -2.0, None]})
    write_csv(df, tmp_path / "x.csv")
    assert (tmp_path / "x.csv").read_text(encoding="utf-8-sig").splitlines() == [
        "agency_name,points", "'=1+1,1.5", "Sở Y tế,-2.0", ",",
    ]
    when = dt.datetime(2025, 1, 1)
    write_excel(tmp_path / "a.xlsx", [("S", None, df)], created=when)
    write_excel(tmp_path / "b.xlsx", [("S", None, df)], created=when)
    assert (tmp_path / "a.xlsx").read_bytes() == (tmp_path / "b.xlsx").read_bytes()


def test_bi_database_has_views_over_the_warehouse_and_publications(home):
    q1, q2 = make_inputs("2025-Q1", seed=3), make_inputs("2025-Q2")
    for q, inp in (("2025-Q1", q1), ("2025-Q2", q2)):
        write_partition(home, "agency_kpis", q, inp["kpis"])
        write_partition(home, "index_scores", q, inp["index_scores"])
    publish(home, q1)
    publish(home, q2)
    second = publish(home, make_inputs("2025-Q2", seed=8), reason="Bổ sung số liệu nộp muộn")
    write_partition(home, "ranking_snapshot", "2025-Q2", second.ranking())
    publish(home, q2, quarter=None, period="2025-H1")

    path = build_bi_database(home)
    assert path == home.root / "bi" / "dx_pipeline.duckdb"
    con = open_bi_database(path)
    try:
        views = {
            r[0] for r in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()
        }
        assert set(schemas.CONTRACTS) <= views
        assert {"published_ranking", "published_ranking_latest", "published_index_scores",
                "published_period_ranking", "publications"} <= views
        assert con.execute("SELECT quarter, count(*) FROM agency_kpis GROUP BY 1 ORDER BY 1").fetchall() == [
            ("2025-Q1", 48), ("2025-Q2", 48)
        ]
        assert con.execute("SELECT DISTINCT revision FROM ranking_snapshot").fetchall() == [(2,)]
        cols = [r[0] for r in con.execute("DESCRIBE agency_kpis").fetchall()]
        assert cols[:2] == ["quarter", "quarter_start"] and cols[2:] == schemas.AGENCY_KPIS.names
        # a table with no files yet: an empty view with the contract's columns
        cols = [r[0] for r in con.execute("DESCRIBE portal_dossiers").fetchall()]
        assert cols == ["quarter", "quarter_start"] + schemas.PORTAL_DOSSIERS.names
        assert con.execute("SELECT count(*) FROM portal_dossiers").fetchone() == (0,)

        assert con.execute(
            "SELECT quarter, revision, count(*) FROM published_ranking GROUP BY ALL ORDER BY ALL"
        ).fetchall() == [("2025-Q1", 1, 8), ("2025-Q2", 1, 8), ("2025-Q2", 2, 8)]
        assert con.execute(
            "SELECT quarter, max(revision), count(*) FROM published_ranking_latest GROUP BY ALL ORDER BY ALL"
        ).fetchall() == [("2025-Q1", 1, 8), ("2025-Q2", 2, 8)]
        assert con.execute(
            "SELECT agency_name FROM published_ranking_latest "
            "WHERE agency_code = 'SYT' AND quarter = '2025-Q2'"
        ).fetchone() == ("Sở Y tế",)
        assert con.execute("SELECT count(*) FROM published_index_scores_latest").fetchone() == (144,)
        assert con.execute("SELECT DISTINCT period FROM published_period_ranking").fetchall() == [
            ("2025-H1",)
        ]
        pubs = con.execute(
            "SELECT period, revision, reason FROM publications ORDER BY period, revision"
        ).fetchall()
        assert pubs[:3] == [
            ("2025-H1", 1, "first publication (công bố lần đầu)"),
            ("2025-Q1", 1, "first publication (công bố lần đầu)"),
            ("2025-Q2", 1, "first publication (công bố lần đầu)"),
        ]
        assert pubs[3] == ("2025-Q2", 2, "Bổ sung số liệu nộp muộn")
        assert con.execute(
            "SELECT vi FROM data_dictionary WHERE table_name = 'ranking_snapshot' AND column_name = 'band'"
        ).fetchone() == ("Xếp loại",)
    finally:
        con.close()
    assert verify(home).ok  # the database lives outside published/
    # rebuilding replaces the file in place
    assert build_bi_database(home) == path


def test_published_excel_number_formats(home):
    """Points 0.00, ranks whole numbers, a rate KPI's value as a percentage (not General)."""
    pub = publish(home, make_inputs())
    wb = openpyxl.load_workbook(pub.path / "ranking.xlsx")
    ws = wb["Xếp hạng - Ranking"]
    header = [c.value for c in ws[1]]
    total = header.index("Tổng điểm / total_points") + 1
    rank = header.index("Xếp hạng / rank") + 1
    assert {ws.cell(r, total).number_format for r in range(2, ws.max_row + 1)} == {"0.00"}
    ranks = [ws.cell(r, rank) for r in range(2, ws.max_row + 1) if ws.cell(r, rank).value is not None]
    assert ranks and {c.number_format for c in ranks} == {"0"}
    ws = wb["Điểm chi tiết - Scores"]
    header = [c.value for c in ws[1]]
    kpi = header.index("Mã KPI / kpi_code") + 1
    value = [i for i, h in enumerate(header, start=1) if h.endswith("/ input_value")][0]
    points = [i for i, h in enumerate(header, start=1) if h.endswith("/ points")][0]
    rows = range(2, ws.max_row + 1)
    rate_rows = [r for r in rows if ws.cell(r, kpi).value == "online_dossier_rate"]
    assert rate_rows and {ws.cell(r, value).number_format for r in rate_rows} == {"0.0%"}
    assert {ws.cell(r, points).number_format for r in rows} == {"0.00"}


def test_every_csv_export_has_one_dialect(tmp_path):
    df = pd.DataFrame({"name": ["Sở Y tế", "a,b"], "share": [0.5, 1.25],
                       "at": pd.to_datetime(["2025-07-10 08:30", None])})
    data = write_csv(df, tmp_path / "x.csv").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    assert data.decode("utf-8-sig").split("\r\n") == [
        "name,share,at", "Sở Y tế,0.5,2025-07-10 08:30:00", '"a,b",1.25,', ""]


def test_excel_column_writers_give_the_bytes_of_the_cell_by_cell_writer(tmp_path, monkeypatch):
    """Numbers, text and booleans are written per column type; the file must be the one that
    writing every cell through ``_write_cell`` gives (missing values, formula-like text,
    nullable integers, dates, a KPI rate row's percent format included)."""
    from dx_pipeline.publish import exports

    df = pd.DataFrame({
        "agency_code": ["=1+1", None, "x", "x"], "total_points": [1.5, float("nan"), 3, -0.0],
        "rank": pd.array([1, None, 3, 4], dtype="Int64"), "n": [1, 2, 3, 4],
        "flag": [True, False, True, False],
        "at": pd.to_datetime(["2025-01-01", None, "2025-02-01", "2025-03-01"]),
        "kpi_code": ["dossiers_received", "online_ratio", None, "x"], "value": [0.5, 0.25, None, 7.0],
        "note": pd.array(["a", None, "+c", "@d"], dtype="string"), "any": ["a", 1, None, 2.5],
    })
    created = dt.datetime(2025, 7, 1, 12)
    fast = exports.write_excel(tmp_path / "fast.xlsx", [("s", "index_scores", df)], created=created)
    monkeypatch.setattr(exports, "_column_cells", lambda col: (exports._ANY, list(col)))
    slow = exports.write_excel(tmp_path / "slow.xlsx", [("s", "index_scores", df)], created=created)
    assert fast.read_bytes() == slow.read_bytes()
    sheet = openpyxl.load_workbook(fast).active
    assert sheet is not None
    assert [c.value for c in sheet[2]][:4] == ["'=1+1", 1.5, 1, 1]


def test_excel_sheets_written_from_columns_are_the_cell_by_cell_bytes(tmp_path, monkeypatch):
    """Sheets of numbers, text and booleans are written from their columns
    (:class:`ColumnSheet`); the file must be the one the cell-by-cell writer gives: shared
    strings across sheets, spans of 16-row blocks, rows without cells, missing values at a
    sheet's edges, nullable integers, rate rows' percent format, formula-like text."""
    from dx_pipeline.publish import exports, xlsx_columns

    n = 40
    codes = ["dossiers_received", "online_dossier_rate", "on_time_rate", None]
    big = pd.DataFrame({
        "agency_code": pd.array([None if i % 7 == 0 else f"A{i % 5}" for i in range(n)], dtype="string"),
        "kpi_code": pd.array([codes[i % 4] for i in range(n)], dtype="string"),
        "value": [float("nan") if i % 3 == 0 else i / 7 for i in range(n)],
        "rank": pd.array([None if i % 4 == 0 else i for i in range(n)], dtype="Int64"),
        "total_points": [float("nan") if i in (0, 17, 18, 19, n - 1) else -i * 1e-17 for i in range(n)],
        "note": pd.array(["=SUM(A1)" if i % 9 == 0 else "+x" if i % 11 == 0 else None
                          for i in range(n)], dtype="string"),
        "flag": [i % 2 == 0 for i in range(n)],
    })
    big.loc[[17, 18, 19], ["agency_code", "kpi_code", "value", "rank", "note"]] = None
    big["flag"] = big["flag"].astype(bool)
    small = pd.DataFrame({"agency_code": pd.array(["A1", "zz", None], dtype="string"),
                          "points": [1.0, float("nan"), 3e300], "n": [1, 2, 3]})
    sheets = [("Big", "agency_kpis", big), ("Small", "index_scores", small)]
    created = dt.datetime(2025, 7, 1, 12)
    used = []
    original = xlsx_columns.ColumnSheet.write_table

    def spy(self, *args):
        used.append(args[0])
        return original(self, *args)

    monkeypatch.setattr(xlsx_columns.ColumnSheet, "write_table", spy)
    fast = exports.write_excel(tmp_path / "fast.xlsx", sheets, created=created)
    assert used == [1, 1]  # both sheets were written from their columns
    monkeypatch.setattr(exports, "_by_columns", lambda columns: False)
    slow = exports.write_excel(tmp_path / "slow.xlsx", sheets, created=created)
    assert fast.read_bytes() == slow.read_bytes()
    monkeypatch.setattr(exports, "ColumnSheet", xlsx_columns.Worksheet)  # xlsxwriter's own sheet
    stock = exports.write_excel(tmp_path / "stock.xlsx", sheets, created=created)
    assert fast.read_bytes() == stock.read_bytes()


def test_column_sheet_hands_other_layouts_back_to_xlsxwriter(tmp_path):
    """A row option (here a row height) is not written by :class:`ColumnSheet` itself: its
    table goes back to xlsxwriter's cells, and the file is xlsxwriter's own."""
    import xlsxwriter

    from dx_pipeline.publish.xlsx_columns import BOOL, NUMBER, TEXT, Column, ColumnSheet

    def book(name: str, by_columns: bool) -> bytes:
        wb = xlsxwriter.Workbook(str(tmp_path / name), {"in_memory": True})
        wb.set_properties({"created": dt.datetime(2025, 7, 1)})
        ws = wb.add_worksheet("s", worksheet_class=ColumnSheet)
        pct = wb.add_format({"num_format": "0.0%"})
        ws.write_string(0, 0, "head")
        ws.set_row(2, 30)
        if by_columns:
            ws.write_table(1, [Column(NUMBER, [0.5, float("nan"), 2.0], None, pct),
                               Column(TEXT, ["a", None, "b"]), Column(BOOL, [True, False, True])], {0})
        else:
            ws.write_number(1, 0, 0.5, pct)
            ws.write_string(1, 1, "a")
            ws.write_boolean(1, 2, True)
            ws.write_boolean(2, 2, False)
            ws.write_number(3, 0, 2.0)
            ws.write_string(3, 1, "b")
            ws.write_boolean(3, 2, True)
        wb.close()
        return (tmp_path / name).read_bytes()

    assert book("columns.xlsx", True) == book("cells.xlsx", False)


def test_csv_formula_guard_keeps_repeated_index_labels_and_categories(tmp_path):
    """A frame from a concat (repeated index labels) or with a categorical text column is
    still written, every formula-like cell neutralised exactly as :func:`safe_cell` does."""
    df = pd.concat([pd.DataFrame({"note": ["=1+1", "ok"]}), pd.DataFrame({"note": ["@x", " =y"]})])
    df["kind"] = pd.Series(["-3", "a", "+b", "\tc"], index=df.index).astype("category")
    out = write_csv(df, tmp_path / "t.csv")
    back = pd.read_csv(out, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert back["note"].tolist() == ["'=1+1", "ok", "'@x", " =y"]
    assert back["kind"].tolist() == ["'-3", "a", "'+b", "'\tc"]
