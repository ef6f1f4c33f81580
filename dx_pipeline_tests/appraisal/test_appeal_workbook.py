"""``dx-pipeline appeal export|import`` on the small scored province: an agency's workbook with its
provisional points, refused whole with every problem by sheet, row and column (unknown
indicator, a value out of range or without an argument, another quarter, the window closed),
recorded as one import when it is right."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from openpyxl import load_workbook

from dx_pipeline.app import appraisal as ap
from dx_pipeline.appraisal import appeal_workbook as aw
from dx_pipeline.appraisal import database
from dx_pipeline.cli.main import main
from dx_pipeline.storage import DxHome, read_partition
from dx_pipeline_tests.appraisal.conftest import SMALL_QUARTER as Q
from dx_pipeline_tests.appraisal.test_cli import trail

COL = {k: i + 1 for i, k in enumerate(aw.KEYS)}
ABOUT = f"sheet '{aw.ABOUT}'"


def appeal(home, *args: str) -> int:
    return main(["--home", str(home), "appeal", *args])


def test_an_agency_appeal_workbook_is_refused_whole_or_recorded(home, tmp_path, capsys, monkeypatch):
    settings = ap.Settings(DxHome(home))
    out = tmp_path / "kn.xlsx"
    assert appeal(home, "export", "--quarter", Q.label, "--agency", "so-02", "--output", str(out)) == 1
    assert "cannot export an appeal workbook while the result is Chưa tính điểm" in capsys.readouterr().err

    t0 = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0) - dt.timedelta(days=1)
    ap.open_for_appraisal(settings, Q, "test", now=t0)
    ap.publish_provisional(settings, Q, "test", days=3, now=t0, site=False)
    assert appeal(home, "export", "--quarter", Q.label, "--agency", "so-02", "--output", str(out)) == 0
    assert "indicator rows of SO-02; appeals until" in capsys.readouterr().out

    wb = load_workbook(out)
    ws: Any = wb[aw.SHEET]
    assert [ws.cell(aw.HEADER_ROWS - 1, j).value for j in (1, 11, 12)] == [
        "Bộ chỉ số", "Giá trị đề nghị", "Nội dung kiến nghị"]
    assert [ws.cell(aw.HEADER_ROWS, j).value for j in (8, 12)] == ["Provisional points", "Argument"]
    about = {r[0]: r[1] for r in wb[aw.ABOUT].iter_rows(values_only=True)}
    assert about["period"] == Q.label and about["agency"] == "SO-02" and about["provisional_revision"] == "1"
    scores: Any = read_partition(DxHome(home), "index_scores", Q)
    mine = scores[(scores["agency_code"] == "SO-02") & (scores["level"] == "indicator")]
    rows = {str(ws.cell(r, COL["node_id"]).value): r for r in range(aw.HEADER_ROWS + 1, ws.max_row + 1)}
    assert 0 < len(rows) <= len(mine)
    points = mine.set_index("node_id")["points"]
    assert all(ws.cell(r, COL["provisional_points"]).value == points[n] for n, r in rows.items())
    assert ws.protection.sheet and not ws.cell(aw.HEADER_ROWS + 1, COL["argument"]).protection.locked

    first, second, third = list(rows.values())[:3]
    ws.cell(first, COL["argument"]).value = "Kế hoạch đã ký ngày 15/3"
    ws.cell(first, COL["requested_value"]).value = 1
    ws.cell(second, COL["requested_value"]).value = 1  # no argument
    ws.cell(third, COL["argument"]).value = "Sai chỉ tiêu"
    ws.cell(third, COL["node_id"]).value = "XX.9"  # a locked cell edited all the same
    wb.save(tmp_path / "bad.xlsx")
    assert appeal(home, "import", str(tmp_path / "bad.xlsx")) == 1
    err = capsys.readouterr().err
    assert "bad.xlsx: 2 problem(s), nothing recorded" in err
    assert (f"sheet '{aw.SHEET}', row {second}, column L (Nội dung kiến nghị / Argument): the row asks "
            "for a value but gives no argument") in err
    assert f"sheet '{aw.SHEET}', row {third}, column B (Mã chỉ tiêu / Indicator code): 'XX.9'" in err
    assert trail(home)["appeals"] == 0 and trail(home)["imports"] == 0

    ws.cell(second, COL["requested_value"]).value = None
    ws.cell(third, COL["node_id"]).value = list(rows)[2]
    ws.cell(third, COL["requested_value"]).value = "abc"
    wb.save(tmp_path / "bad2.xlsx")
    assert appeal(home, "import", str(tmp_path / "bad2.xlsx")) == 1
    assert (f"row {third}, column K (Giá trị đề nghị / Requested value): 'abc' is not a number"
            in capsys.readouterr().err)

    ws.cell(third, COL["requested_value"]).value = None
    wb.save(tmp_path / "good.xlsx")
    assert appeal(home, "import", str(tmp_path / "good.xlsx"), "--quarter", "2025-Q3") == 1
    assert (f"{ABOUT}, row 2, column B: the workbook is for {Q.label}, not 2025-Q3"
            in capsys.readouterr().err)
    with pytest.MonkeyPatch.context() as late:
        late.setattr(database, "utc_now", lambda: t0 + dt.timedelta(days=4))
        assert appeal(home, "import", str(tmp_path / "good.xlsx")) == 1
    assert f"{ABOUT}, row 2, column B: the appeal window of {Q.label} closed at" in capsys.readouterr().err
    assert trail(home)["appeals"] == 0

    assert appeal(home, "import", str(tmp_path / "good.xlsx"), "--quarter", Q.label, "--by", "Sở 02") == 0
    assert f"{Q.label}: 2 kiến nghị / appeal(s) of SO-02 recorded" in capsys.readouterr().out
    filed = ap.status(settings, Q).appeals
    assert [(a["agency_code"], a["node_id"], a["requested_value"], a["filed_by"]) for a in filed] == [
        ("SO-02", list(rows)[0], 1.0, "Sở 02"), ("SO-02", list(rows)[2], None, "Sở 02")]
    assert all(a["source"] == "workbook good.xlsx" and a["import_id"] == 1 for a in filed)
    assert trail(home)["imports"] == 1
