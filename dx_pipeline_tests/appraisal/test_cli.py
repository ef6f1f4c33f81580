"""``dx-pipeline appraisal ...`` on a small scored province (the site tests' registry and KPIs,
one quarter), through the command line's ``main``: the workbook refused whole or recorded and
re-scored, single verdicts, the provisional result, appeals, approval and the status."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from openpyxl import load_workbook

from dx_pipeline.app import appraisal as ap
from dx_pipeline.app.appraisal_db import appraisal_db
from dx_pipeline.app.settings import Settings
from dx_pipeline.appraisal.audit import audit_trail
from dx_pipeline.appraisal.workbook import HEADER_ROWS, KEYS, SHEET
from dx_pipeline.cli.main import main
from dx_pipeline.storage import DxHome, read_partition
from dx_pipeline_tests.appraisal.conftest import SMALL_QUARTER as Q

COL = {k: i + 1 for i, k in enumerate(KEYS)}


def run(home, *args: str) -> int:
    return main(["--home", str(home), "appraisal", *args, "--by", "Nguyễn Văn An"])


def trail(home) -> dict[str, int]:
    with appraisal_db(Settings(DxHome(home))) as db, db.read() as conn:
        return {name: len(rows) for name, rows in audit_trail(conn, Q.label).items()}


def scores(home):
    return read_partition(DxHome(home), "index_scores", Q)


def _rows(ws, agency: str) -> list[int]:
    return [r for r in range(HEADER_ROWS + 1, ws.max_row + 1)
            if ws.cell(r, COL["agency_code"]).value == agency]


def test_a_bad_workbook_records_nothing_and_a_good_one_is_recorded_and_rescored(home, tmp_path, capsys):
    assert run(home, "export", "--quarter", Q.label, "--output", str(tmp_path / "w.xlsx")) == 0
    assert "indicator rows" in capsys.readouterr().out
    wb = load_workbook(tmp_path / "w.xlsx")
    ws: Any = wb[SHEET]
    good, bad = _rows(ws, "SO-01")[:2]
    ws.cell(good, COL["verdict"]).value = "Không chấp nhận minh chứng - reject"
    ws.cell(good, COL["reason"]).value = "Minh chứng không hợp lệ"
    ws.cell(bad, COL["verdict"]).value = "phê duyệt"
    ws.cell(bad, COL["reason"]).value = "?"
    wb.save(tmp_path / "bad.xlsx")
    before = trail(home)
    assert run(home, "import", str(tmp_path / "bad.xlsx")) == 1
    err = capsys.readouterr().err
    assert "bad.xlsx: 1 problem(s), nothing recorded" in err
    assert (f"sheet '{SHEET}', row {bad}, column L (Kết quả thẩm định / Verdict): 'phê duyệt' is not in "
            "the list") in err
    assert trail(home) == before and before["adjustments"] == 0 and before["imports"] == 0

    ws.cell(bad, COL["verdict"]).value = None
    ws.cell(bad, COL["reason"]).value = None
    wb.save(tmp_path / "good.xlsx")
    assert run(home, "import", str(tmp_path / "good.xlsx"), "--quarter", Q.label) == 0
    assert "1 verdict(s) recorded, 0 unchanged" in capsys.readouterr().out
    key = (str(ws.cell(good, COL["framework_id"]).value), "SO-01", str(ws.cell(good, COL["node_id"]).value))
    table: Any = scores(home).set_index(["framework_id", "agency_code", "node_id"])
    row = table.loc[key]
    assert row["appraisal"] == "reject" and row["adjustment_id"] == 1 and row["points"] == 0
    assert run(home, "import", str(tmp_path / "good.xlsx")) == 0  # the same file again records nothing new
    assert "0 verdict(s) recorded, 1 unchanged" in capsys.readouterr().out
    assert run(home, "import", str(tmp_path / "good.xlsx"), "--quarter", "2025-Q3") == 1
    assert "the workbook is for 2025-Q4, not 2025-Q3" in capsys.readouterr().err
    assert trail(home)["adjustments"] == 1 and trail(home)["imports"] == 2


def test_a_single_verdict_from_the_command_line(home, capsys):
    assert run(home, "adjust", "--quarter", Q.label, "--agency", "so-01", "--indicator", "nt.2",
               "--reject", "--reason", "Kế hoạch chưa ký") == 1
    assert "cannot record a verdict while the result is Chưa tính điểm" in capsys.readouterr().err
    ap.open_for_appraisal(Settings(DxHome(home)), Q, "test")
    assert run(home, "adjust", "--quarter", Q.label, "--agency", "so-01", "--indicator", "nt.2",
               "--points", "7.5", "--reason", "Kế hoạch chưa đủ nội dung") == 0
    assert "1 verdict(s) recorded" in capsys.readouterr().out
    row: Any = scores(home).set_index(["agency_code", "node_id"]).loc[("SO-01", "NT.2")]
    assert row["appraisal"] == "adjust_points" and row["points"] == 7.5
    assert run(home, "adjust", "--quarter", Q.label, "--agency", "SO-011", "--indicator", "NT.2",
               "--accept", "--reason", "x") == 1
    err = capsys.readouterr().err
    assert "no agency 'SO-011'" in err and "did you mean SO-01" in err


def test_appeals_during_the_window_and_their_decisions(home, capsys):
    ap.open_for_appraisal(Settings(DxHome(home)), Q, "test")
    assert run(home, "provisional", "--quarter", Q.label, "--appeal-days", "5") == 0
    out = capsys.readouterr().out
    assert "rev=1: kết quả tạm thời / provisional result published" in out and "site:" in out
    manifest = json.loads((DxHome(home).published / "ranking" / f"quarter={Q.label}" / "rev=1" /
                           "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "provisional" and manifest["appeal_window"]["closes"]
    assert run(home, "appeal", "--quarter", Q.label, "--agency", "SO-02", "--indicator", "NT.2",
               "--argument", "Kế hoạch đã ký ngày 15/3", "--value", "1") == 0
    assert "appeal #1 filed" in capsys.readouterr().out
    assert run(home, "decide-appeal", "1", "--accept", "--reason", "Văn bản hợp lệ") == 0
    assert "adjustment #1 recorded, re-scored" in capsys.readouterr().out
    row: Any = scores(home).set_index(["agency_code", "node_id"]).loc[("SO-02", "NT.2")]
    assert row["appraisal"] == "adjust_value" and row["input_value"] == 1 and row["adjustment_id"] == 1
    assert run(home, "decide-appeal", "1", "--reject", "--reason", "Đổi ý") == 1
    assert "appeal #1 was already accepted" in capsys.readouterr().err
    assert run(home, "approve", "--quarter", Q.label, "--decision", "5/QĐ-UBND", "--date",
               dt.date.today().isoformat()) == 1
    assert "the appeal window is open until" in capsys.readouterr().err
    assert run(home, "status", "--quarter", Q.label) == 0
    out = capsys.readouterr().out
    assert "Đang nhận kiến nghị (Appeal window open); 1 verdict(s) in force, 1 appeal(s)" in out
    assert "appeal #1 SO-02" in out and "accepted by Nguyễn Văn An: Văn bản hợp lệ" in out


def test_approval_once_the_window_closed_publishes_the_final_result(home, capsys):
    settings = Settings(DxHome(home))
    t0 = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(days=10)
    ap.open_for_appraisal(settings, Q, "test", now=t0)
    ap.publish_provisional(settings, Q, "test", days=3, now=t0 + dt.timedelta(days=1))
    assert run(home, "appeal", "--quarter", Q.label, "--agency", "SO-02", "--indicator", "NT.2",
               "--argument", "Muộn") == 1
    assert "the appeal window closed at" in capsys.readouterr().err
    assert run(home, "approve", "--quarter", Q.label, "--decision", "12/QĐ-UBND", "--date", "20/1/2026") == 1
    assert "--date '20/1/2026' is not a date: write YYYY-MM-DD" in capsys.readouterr().err
    assert run(home, "approve", "--quarter", Q.label, "--decision", "12/QĐ-UBND", "--date",
               dt.date.today().isoformat()) == 0
    out = capsys.readouterr().out
    assert "approval #1 (12/QĐ-UBND" in out and "final rev=2 published" in out and "site:" in out
    assert run(home, "status", "--quarter", Q.label) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{Q.label}: Đã công bố (Published)")
    assert ("Đang nhận kiến nghị (Appeal window open) -> Đã phê duyệt (Final (approved))  "
            "by Nguyễn Văn An") in out
