"""Hostile input: each bad file or row is refused with a reason naming it; nothing else is lost."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import random
import string
import zipfile
from pathlib import Path

import duckdb
import openpyxl
import pandas as pd
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from dx_pipeline.cli.main import main
from dx_pipeline.index.loader import FrameworkError, load_framework
from dx_pipeline.kpis.compute import submission_kpis
from dx_pipeline.publish.exports import write_csv, write_excel
from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.sources import grid_cache
from dx_pipeline.sources.file_safety import (
    LINK_REASON,
    SPECIAL_REASON,
    FileLimits,
    UnsafeFileError,
    safe_member_name,
)
from dx_pipeline.sources.inbox import scan_inbox
from dx_pipeline.sources.quarter_inputs import quarter_input_files
from dx_pipeline.sources.reporting_db import load_mapping, read_reporting_db
from dx_pipeline.sources.submission_readers import read_submission_file, sha256_of
from dx_pipeline.sources.submissions import ingest_submissions
from dx_pipeline.storage import DxHome, read_partition, write_partition
from dx_pipeline.storage.inputs import NotARegularFile, read_beneath
from dx_pipeline.storage.parquet import write_partition_from_query
from dx_pipeline_tests.publish.conftest import make_inputs, publish
from dx_pipeline_tests.reliability.inputs import (
    CATALOGUE,
    GOOD_ROWS,
    REGISTRY,
    Q,
    csv_bytes,
    replace_text,
    rules,
    with_members,
    write,
    write_registry,
    xlsx_bytes,
    zip_of,
)

CSV_ROWS = [
    [1, "e_document_exchange_rate", "", "%", None, None, "70", None],
    [2, "dx_plan_issued", "", "", None, None, "Có", "KH 7/KH-SKHCN"],
]


def only_reject(read):
    assert len(read.rejects) == 1, read.rejects
    return read.rejects[0]


def codes(read):
    return sorted((r["agency_code"], r["indicator_code"]) for r in read.accepted)


def codes_of(accepted: pd.DataFrame) -> list[tuple[str, str]]:
    return list(zip(accepted["agency_code"], accepted["indicator_code"], strict=True))


@pytest.fixture(autouse=True)
def no_openpyxl_on_refused(monkeypatch):
    """Refused workbooks must be refused from the zip directory, before openpyxl inflates them."""
    real = openpyxl.load_workbook

    def guarded(source, *args, **kwargs):
        data = source.getvalue() if isinstance(source, io.BytesIO) else Path(source).read_bytes()
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = zf.namelist()
            assert not any("vbaProject" in n or "externalLinks" in n for n in names)
            assert sum(i.file_size for i in zf.infolist()) < 50 * 1024 * 1024
        return real(source, *args, **kwargs)

    monkeypatch.setattr(openpyxl, "load_workbook", guarded)


# --- paths -------------------------------------------------------------------------------------

def _plant_links(tmp_path: Path, home: DxHome) -> Path:
    """An inbox with two good files (one oddly named), links to a file and a folder outside,
    a link to a file inside, a FIFO and an office lock file; returns the secret file."""
    folder = home.inbox_for(Q)
    write(folder / "so_yte.xlsx", xlsx_bytes())
    write(folder / ODD_NAME, csv_bytes(CSV_ROWS))
    secret = write(tmp_path / "outside" / "secret.csv", csv_bytes(CSV_ROWS, agency_code="SO_YTE") + b"x")
    (folder / "link.csv").symlink_to(secret)
    (folder / "inside_link.xlsx").symlink_to(folder / "so_yte.xlsx")
    (folder / "sub").mkdir()
    (folder / "sub" / "dir_link").symlink_to(tmp_path / "outside", target_is_directory=True)
    os.mkfifo(folder / "pipe.csv")  # a reader that opened it would wait forever
    write(folder / "~$so_yte.xlsx", b"lock")  # Excel's lock file: not a submission
    return secret


ODD_NAME = "..\\..\\evil_name.csv"


def test_links_and_special_files_are_refused_unread_each_with_a_reject(tmp_path):
    home = DxHome(tmp_path / "home")
    secret = _plant_links(tmp_path, home)

    result = ingest_submissions(home, Q, REGISTRY)

    reasons = dict(zip(result.rejects["file"], result.rejects["reason"], strict=True))
    assert reasons == {f"{Q}/link.csv": LINK_REASON, f"{Q}/inside_link.xlsx": LINK_REASON,
                       f"{Q}/sub/dir_link": LINK_REASON, f"{Q}/pipe.csv": SPECIAL_REASON}
    assert "outside" not in result.rejects.to_csv()  # a link's target is never named
    assert sorted(codes_of(result.accepted)) == [  # the odd name is read, nothing of the secret is
        ("SO_KHCN", "dx_plan_issued"), ("SO_KHCN", "e_document_exchange_rate"),
        ("SO_YTE", "e_document_exchange_rate"), ("SO_YTE", "it_staff_qualified")]
    assert set(result.accepted.loc[result.accepted["agency_code"] == "SO_KHCN", "source_ref"]
               .str.split(" row ").str[0]) == {f"{Q}/{ODD_NAME}"}
    # the sensor sees every entry, identifies links and the FIFO without reading them
    seen = {f.relpath: f for f in scan_inbox(home.inbox)}
    assert set(seen) == {f"{Q}/{n}" for n in ("so_yte.xlsx", ODD_NAME, "link.csv", "inside_link.xlsx",
                                              "sub/dir_link", "pipe.csv")}
    assert seen[f"{Q}/link.csv"].sha256 != sha256_of(secret)
    assert seen[f"{Q}/link.csv"].quarter.label == Q


def test_the_manifest_lists_exactly_the_files_read_and_never_a_links_target(tmp_path):
    home = DxHome(tmp_path / "home").ensure()
    secret = _plant_links(tmp_path, home)
    ingest_submissions(home, Q, REGISTRY)

    published = publish(home, {**make_inputs(Q), "inputs": quarter_input_files(home, Quarter.parse(Q))})

    text = (published.path / "manifest.json").read_text(encoding="utf-8")
    listed = json.loads(text)["inputs"]
    folder = home.inbox_for(Q)
    assert listed == [{"path": f"inbox/{Q}/{name}", "sha256": sha256_of(folder / name),
                       "bytes": (folder / name).stat().st_size} for name in sorted([ODD_NAME, "so_yte.xlsx"])]
    assert str(tmp_path / "outside") not in text and "secret.csv" not in text
    assert sha256_of(secret) not in text


def test_a_link_anywhere_on_the_way_is_not_followed(tmp_path):
    """Even a folder swapped for a link after the walk: every component is opened O_NOFOLLOW."""
    inbox = tmp_path / "inbox"
    write(tmp_path / "outside" / "secret.csv", b"secret")
    write(inbox / Q / "real" / "a.csv", b"report")
    assert read_beneath(inbox, f"{Q}/real/a.csv", 100)[0] == b"report"
    (inbox / Q / "swapped").symlink_to(tmp_path / "outside", target_is_directory=True)
    for rel in (f"{Q}/swapped/secret.csv", f"{Q}/../outside/secret.csv", "/etc/passwd"):
        with pytest.raises(NotARegularFile):
            read_beneath(inbox, rel, 100)
    (inbox / "linked_root").symlink_to(inbox / Q, target_is_directory=True)  # the root is the operator's
    assert read_beneath(inbox / "linked_root", "real/a.csv", 100)[0] == b"report"


def test_backslash_dotdot_name_is_just_a_name(tmp_path):
    home = DxHome(tmp_path / "home")
    name = "..\\..\\x.csv"
    write(home.inbox_for(Q) / name, csv_bytes(CSV_ROWS))
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    result = ingest_submissions(home, Q, REGISTRY)
    assert len(result.accepted) == 2 and result.rejects.empty
    assert set(result.accepted["source_ref"].str.split(" row ").str[0]) == {f"{Q}/{name}"}
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


@pytest.mark.parametrize("name", ["../evil.csv", "/etc/evil.csv", "a/../../evil.csv", "..\\..\\evil.csv",
                                  "C:/Windows/evil.csv", ""])
def test_member_names_climbing_out_are_refused(name):
    with pytest.raises(UnsafeFileError, match="absolute or climbs out"):
        safe_member_name(name, "bundle.zip")


def test_member_names_inside_are_normalised():
    assert safe_member_name("so_yte\\q2.xlsx", "b.zip") == "so_yte/q2.xlsx"
    assert safe_member_name("./a/./b.csv", "b.zip") == "a/b.csv"


# --- volume: rejects and printouts stay linear and bounded -------------------------------------

DUPLICATES = 10_000


def _duplicates_csv(path: Path) -> Path:
    rows = [[i, "it_staff_qualified", "", "", None, None, "Có", None] for i in range(DUPLICATES)]
    return write(path, csv_bytes(rows + [[0, "ipv6_ready", "", "", None, None, "Không", None]]))


def test_duplicate_rows_get_one_short_reason_naming_a_few_rows_and_a_count(tmp_path):
    read = read_submission_file(_duplicates_csv(tmp_path / "dups.csv"), rules())
    assert codes(read) == [("SO_KHCN", "ipv6_ready")]  # the good row goes on
    assert len(read.rejects) == DUPLICATES and [r["row"] for r in read.rejects] == list(range(2, 10_002))
    assert {r["reason"] for r in read.rejects} == {
        "indicator it_staff_qualified is reported more than once in this file "
        "(10,000 times: rows 2, 3, 4 and 9,997 others); send it once"
    }


def test_ingest_submissions_prints_at_most_max_rows(tmp_path, capsys, monkeypatch):
    home = DxHome(tmp_path / "home")
    write_registry(home.registry_file)
    _duplicates_csv(home.inbox_for(Q) / "dups.csv")
    monkeypatch.delenv("DX_REGISTRY", raising=False)
    assert main(["--home", str(home.root), "ingest-submissions", "--quarter", Q, "--no-db",
                 "--max-rows", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "rejected 10,000 row(s)" in lines[0].replace("10000", "10,000")
    assert len(lines) == 4, lines  # summary, header, one reject, how many are not shown
    assert lines[2].startswith(f"{Q}/dups.csv row 2") and len(lines[2]) < 300
    assert lines[3] == "... and 9,999 more rejected row(s) not shown (--max-rows)"


MILLION = 1_000_000


def _million_rows_csv() -> bytes:
    """A report header block, then one indicator pasted a million times (23 MB: under the
    25 MB a file may be)."""
    head = f"Mã đơn vị / Agency code:;SO_KHCN\r\nKỳ báo cáo / Reporting period:;{Q}\r\nMaChiSo;GiaTri\r\n"
    return head.encode() + b"it_staff_qualified;C\xc3\xb3\r\n" * MILLION


def _million_rows_xlsx() -> bytes:
    """A workbook whose sheet holds a million rows (12 MB on disk, inside the zip-bomb limits)."""
    rows = b"".join(b'<row r="%d"><c r="A%d" t="inlineStr"><is><t>it_staff_qualified</t></is></c></row>'
                    % (i, i) for i in range(8, 8 + MILLION))
    sheet = (b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
             b'spreadsheetml/2006/main"><sheetData>' + rows + b"</sheetData></worksheet>")
    out = io.BytesIO()
    with (zipfile.ZipFile(io.BytesIO(xlsx_bytes())) as src,
          zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst):
        for info in src.infolist():
            dst.writestr(info, sheet if info.filename == "xl/worksheets/sheet1.xml" else src.read(info))
    return out.getvalue()


def test_a_million_pasted_rows_refuse_their_file_and_the_rest_goes_on(tmp_path):
    home = DxHome(tmp_path / "home")
    folder = home.inbox_for(Q)
    write(folder / "so_yte.xlsx", xlsx_bytes())
    write(folder / "million.csv", _million_rows_csv())
    workbook = write(folder / "million.xlsx", _million_rows_xlsx())
    assert (folder / "million.csv").stat().st_size < 25 * 1024 * 1024 > workbook.stat().st_size

    result = ingest_submissions(home, Q, REGISTRY)

    reasons = dict(zip(result.rejects["file"], result.rejects["reason"], strict=True))
    assert len(result.rejects) == 2, reasons  # one per file, not a million
    assert reasons[f"{Q}/million.csv"].startswith(
        "refused: the file has more than 20,000 filled rows (reading stopped at row 20,001)")
    assert reasons[f"{Q}/million.xlsx"].startswith(  # from the zip directory: openpyxl never sees it
        "refused: the sheet xl/worksheets/sheet1.xml unpacks to ")
    assert set(result.accepted["agency_code"]) == {"SO_YTE"} and len(result.accepted) == 2


def test_rows_up_to_the_limit_are_each_read_and_a_bundle_shares_one_limit(tmp_path):
    limits = FileLimits(max_rows=100)
    rows = [[i, "it_staff_qualified", "", "", None, None, "Có", None] for i in range(99)]
    read = read_submission_file(write(tmp_path / "a.csv", csv_bytes(rows)), rules(), limits=limits)
    assert len(read.rejects) == 99 and read.rows == 99  # 99 rows and the header: at the limit
    over = read_submission_file(write(tmp_path / "b.csv", csv_bytes(rows * 2)), rules(), limits=limits)
    assert "more than 100 filled rows (reading stopped at row 101)" in only_reject(over)["reason"]
    bundle = write(tmp_path / "c.zip", zip_of({f"{n}.csv": csv_bytes(rows[:60]) for n in "xyz"}))
    read = read_submission_file(bundle, rules(), limits=limits)
    by_file = pd.Series([r["file"] for r in read.rejects]).value_counts().to_dict()
    assert by_file == {"c.zip::x.csv": 60, "c.zip::y.csv": 1, "c.zip::z.csv": 1}
    assert all(r["reason"].startswith("refused: with the 61 filled rows of the files before it, the zip has "
                                      "more than 100 filled rows (reading stopped at row 40)")
               for r in read.rejects[60:])


# --- a later value never replaces a valid earlier one unless it is valid itself ---------------

def test_an_invalid_later_value_is_a_reject_and_the_earlier_version_stays_in_force(tmp_path):
    home = DxHome(tmp_path / "home")
    first = [[1, "e_document_exchange_rate", "", "%", None, None, "43 %", None],
             [2, "staff_digital_trained_rate", "", "%", None, None, "60 %", None],
             [3, "dx_budget_amount", "", "", None, None, "120", None]]
    write(home.inbox_for(Q) / "so_yte_lan1.xlsx", xlsx_bytes(first))  # reported 10/07/2025
    later = [[1, "e_document_exchange_rate", "", "%", None, None, "185 %", None],
             [2, "staff_digital_trained_rate", "", "%", None, None, "٨٥", None],  # Arabic-Indic 85
             [3, "dx_budget_amount", "", "", None, None, "１２０", None],  # full-width 120
             [4, "it_staff_qualified", "", "", None, None, "Có", None]]
    write(home.inbox_for(Q) / "so_yte_lan2.csv", csv_bytes(later, agency_code="SO_YTE"))  # 14/07/2025

    result = ingest_submissions(home, Q, REGISTRY)

    rejects = result.rejects.set_index("indicator_code")
    assert list(rejects["file"]) == [f"{Q}/so_yte_lan2.csv"] * 3 and list(rejects["row"]) == [2, 3, 4]
    assert set(rejects["field"]) == {"GiaTri"}
    assert rejects.loc["e_document_exchange_rate", "value"] == "185 %"
    assert "above 100 %" in rejects.loc["e_document_exchange_rate", "reason"]
    assert rejects.loc["staff_digital_trained_rate", "value"] == "٨٥"
    assert "ARABIC-INDIC DIGIT EIGHT" in rejects.loc["staff_digital_trained_rate", "reason"]
    assert "FULLWIDTH DIGIT ONE" in rejects.loc["dx_budget_amount", "reason"]
    effective = result.accepted[result.accepted["is_effective"]].set_index("indicator_code")
    assert effective["value"].to_dict() == {
        "e_document_exchange_rate": 0.43, "staff_digital_trained_rate": 0.6, "dx_budget_amount": 120.0,
        "it_staff_qualified": 1.0}
    assert effective.loc["e_document_exchange_rate", "source_ref"].startswith(f"{Q}/so_yte_lan1.xlsx")
    kpis = submission_kpis(result.accepted, CATALOGUE, Quarter.parse(Q)).set_index("kpi_code")
    assert kpis.loc["e_document_exchange_rate", "value"] == 0.43  # what is scored: the valid one
    assert not kpis["flags"].str.contains("invalid").any()


# --- zip bundles ---------------------------------------------------------------------------------

def test_zip_bundle_reads_good_members_and_refuses_bad_ones_in_memory(tmp_path):
    home = DxHome(tmp_path / "home")
    bundle = zip_of({
        "so_yte/bao_cao.xlsx": xlsx_bytes(),
        "so_khcn.csv": csv_bytes(CSV_ROWS),
        "../evil.csv": csv_bytes(CSV_ROWS, agency_code="SO_YTE"),
        "/abs.csv": csv_bytes(CSV_ROWS, agency_code="SO_YTE"),
        "nested.zip": zip_of({"x.csv": csv_bytes(CSV_ROWS)}),
        "macro.xlsm": xlsx_bytes(),
        "ghi_chu.txt": b"notes",
        "__MACOSX/._so_khcn.csv": b"\x00\x05",
        "so_yte/": b"",
    })
    write(home.inbox_for(Q) / "gui_so.zip", bundle)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))

    result = ingest_submissions(home, Q, REGISTRY)

    # Nothing extracted: the only new files are the parsed-sheet cache's entries (a grid of
    # plain values per workbook read, sources/grid_cache.py), never a member's bytes.
    cache = home.root / "cache"
    grids = home.root / grid_cache.CACHE_DIR
    after = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if cache not in (p, *p.parents))
    assert after == before
    assert all(p.suffix == ".pickle" for p in grids.iterdir())
    refs = set(result.accepted["source_ref"].str.replace(r"( \[\w+\])? row \d+$", "", regex=True))
    assert refs == {f"{Q}/gui_so.zip::so_yte/bao_cao.xlsx", f"{Q}/gui_so.zip::so_khcn.csv"}
    assert len(result.accepted) == 4
    reasons = dict(zip(result.rejects["file"], result.rejects["reason"], strict=True))
    assert "climbs out" in reasons[f"{Q}/gui_so.zip::../evil.csv"]
    assert "climbs out" in reasons[f"{Q}/gui_so.zip::/abs.csv"]
    assert "zip inside a zip" in reasons[f"{Q}/gui_so.zip::nested.zip"]
    assert "macro" in reasons[f"{Q}/gui_so.zip::macro.xlsm"]
    assert "not an Excel" in reasons[f"{Q}/gui_so.zip::ghi_chu.txt"]
    assert len(result.rejects) == 5
    write_partition(home, "submission_rejects", Q, result.rejects[[
        c for c in result.rejects.columns if c not in ("file", "sheet", "row")]])


def test_damaged_zip_is_one_reject(tmp_path):
    path = write(tmp_path / "cut.zip", zip_of({"a.xlsx": xlsx_bytes()})[:100])
    assert "cannot open the zip" in only_reject(read_submission_file(path, rules()))["reason"]


# --- zip bombs, oversized files ------------------------------------------------------------------

def _bomb(megabytes: int) -> bytes:
    """A workbook whose sheet XML inflates to ``megabytes`` MB of zeros (a few KB on disk)."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(xlsx_bytes())) as src,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for info in src.infolist():
            if info.filename != "xl/worksheets/sheet1.xml":
                dst.writestr(info, src.read(info))
        with dst.open("xl/worksheets/sheet1.xml", "w") as fh:
            chunk = b"\0" * (1 << 20)
            for _ in range(megabytes):
                fh.write(chunk)
    return out.getvalue()


def test_zip_bomb_workbook_is_refused_before_opening(tmp_path):
    bomb = write(tmp_path / "bomb.xlsx", _bomb(20))
    assert bomb.stat().st_size < 100_000
    rej = only_reject(read_submission_file(bomb, rules()))
    assert rej["field"] == "file" and rej["file"] == "bomb.xlsx"
    assert "zip bomb" in rej["reason"] and "compressed" in rej["reason"]


def test_workbook_unpacking_too_large_is_refused(tmp_path):
    path = write(tmp_path / "big.xlsx", _bomb(3))
    limits = FileLimits(max_uncompressed_bytes=2 * 1024 * 1024, max_ratio=1e9)
    rej = only_reject(read_submission_file(path, rules(), limits=limits))
    assert "unpacks to more than 2.0 MB" in rej["reason"]


def test_workbook_with_too_many_members_is_refused(tmp_path):
    path = write(
        tmp_path / "many.xlsx", with_members(xlsx_bytes(), {f"xl/media/p{i}.bin": b"x" for i in range(1001)})
    )
    assert "members" in only_reject(read_submission_file(path, rules()))["reason"]


def test_oversized_file_is_refused_unread_and_others_go_on(tmp_path):
    home = DxHome(tmp_path / "home")
    folder = home.inbox_for(Q)
    write(folder / "so_yte.xlsx", xlsx_bytes())
    big = folder / "so_khcn_big.csv"
    write(big, csv_bytes(CSV_ROWS) + b"\r\n" * (26 * 1024 * 1024))
    result = ingest_submissions(home, Q, REGISTRY)
    (reason,) = result.rejects.loc[result.rejects["file"] == f"{Q}/so_khcn_big.csv", "reason"]
    assert "more than the 25.0 MB" in reason
    assert set(result.accepted["agency_code"]) == {"SO_YTE"} and len(result.accepted) == 2


# --- active content --------------------------------------------------------------------------------

def test_macro_workbooks_are_refused_with_the_reason(tmp_path):
    hidden = write(
        tmp_path / "vba.xlsx", with_members(xlsx_bytes(), {"xl/vbaProject.bin": b"\xd0\xcf\x11\xe0"})
    )
    assert (
        "contains macros (xl/vbaProject.bin)" in only_reject(read_submission_file(hidden, rules()))["reason"]
    )
    xlsm = write(tmp_path / "bao_cao.xlsm", xlsx_bytes())
    assert "macro-enabled workbook (.xlsm)" in only_reject(read_submission_file(xlsm, rules()))["reason"]


def test_external_links_are_refused_with_the_reason(tmp_path):
    linked = write(tmp_path / "linked.xlsx", with_members(
        xlsx_bytes(), {"xl/externalLinks/externalLink1.xml": b"<externalLink/>"}))
    reason = only_reject(read_submission_file(linked, rules()))["reason"]
    assert "links to other files (xl/externalLinks/externalLink1.xml)" in reason


# --- cell content ---------------------------------------------------------------------------------

FORMULAS = ["=cmd|' /C calc'!A0", "+1+cmd|' /C calc'!A0", "@SUM(1+1)*cmd|' /C calc'!A0", "-2+3"]


def test_formula_text_is_kept_as_text_and_neutralised_on_every_export(tmp_path):
    rows = [[i + 1, "dx_plan_issued", "", "", None, None, "Có", f] for i, f in enumerate(FORMULAS[:1])]
    rows += [[2, "e_document_exchange_rate", "", "%", None, None, "70", FORMULAS[1]],
             [3, "it_staff_qualified", "", "", None, None, "Có", FORMULAS[2]],
             [4, "ipv6_ready", "", "", None, None, "Có", FORMULAS[3]]]
    path = write(tmp_path / "f.csv", csv_bytes(rows))
    read = read_submission_file(path, rules())
    assert not read.rejects
    assert sorted(r["evidence_ref"] for r in read.accepted) == sorted(FORMULAS)  # stored unchanged
    df = pd.DataFrame({"evidence_ref": FORMULAS, "n": range(4)})
    text = write_csv(df, tmp_path / "out.csv").read_text(encoding="utf-8-sig")
    for f in FORMULAS:
        assert f"'{f}" in text.replace('""', '"')
    write_excel(tmp_path / "out.xlsx", [("s", None, df)], created=dt.datetime(2025, 7, 16))
    ws = openpyxl.load_workbook(tmp_path / "out.xlsx").active
    cells = [ws.cell(i, 1) for i in range(2, 6)]
    assert all(c.data_type == "s" for c in cells)  # strings, never formulas
    assert [c.value for c in cells] == [f"'{f}" for f in FORMULAS]


def test_one_megabyte_cell_rejects_its_row_only(tmp_path):
    huge = "A" * (1 << 20)
    rows = [CSV_ROWS[0], [2, "dx_plan_issued", "", "", None, None, "Có", huge],
            [3, "it_staff_qualified", "", "", None, None, "Có", None]]
    read = read_submission_file(write(tmp_path / "long.csv", csv_bytes(rows)), rules())
    assert codes(read) == [("SO_KHCN", "e_document_exchange_rate"), ("SO_KHCN", "it_staff_qualified")]
    rej = only_reject(read)
    assert rej["row"] == 3 and rej["field"] == "MinhChung" and rej["indicator_code"] == "dx_plan_issued"
    assert "1,048,576 characters" in rej["reason"] and len(rej["value"]) < 300


def test_one_megabyte_cell_in_a_workbook_rejects_its_row_only(tmp_path):
    rows = GOOD_ROWS + [[3, "dx_plan_issued", "", "", None, None, "Có", "LONG_CELL"]]
    text = "".join(random.Random(1).choices(string.ascii_letters, k=1 << 20))  # not a zip bomb
    data = replace_text(xlsx_bytes(rows), "LONG_CELL", text)
    read = read_submission_file(write(tmp_path / "long.xlsx", data), rules())
    assert len(read.accepted) == 2
    rej = only_reject(read)
    assert rej["row"] == 10 and rej["field"] == "MinhChung" and "1,048,576 characters" in rej["reason"]


def test_invalid_utf8_bytes_reject_their_row_only(tmp_path):
    data = csv_bytes([CSV_ROWS[0], [2, "dx_plan_issued", "", "", None, None, "Có", "Kế hoạch XYZ"],
                      [3, "it_staff_qualified", "Cán bộ", "", None, None, "Có", None]])
    data = data.replace(b"XYZ", b"\xff\xfe")
    home = DxHome(tmp_path / "home")
    write(home.inbox_for(Q) / "bad_bytes.csv", data)
    result = ingest_submissions(home, Q, REGISTRY)
    assert sorted(result.accepted["indicator_code"]) == ["e_document_exchange_rate", "it_staff_qualified"]
    assert len(result.rejects) == 1
    rej = result.rejects.iloc[0]
    assert rej["row"] == 3 and rej["field"] == "MinhChung" and "0xFF" in rej["reason"]
    assert rej["value"] == "Kế hoạch \ufffd\ufffd"
    # both tables are storable (no lone surrogates reach Arrow)
    write_partition(home, "agency_submissions", Q, result.accepted)
    write_partition(home, "submission_rejects", Q, result.rejects[[
        c for c in result.rejects.columns if c not in ("file", "sheet", "row")]])
    assert read_partition(home, "submission_rejects", Q)["value"].iloc[0] == "Kế hoạch \ufffd\ufffd"


# --- SQL ------------------------------------------------------------------------------------------

DROP = "x'; DROP TABLE dx_indicator_reports; --"


def test_sql_metacharacters_from_the_reporting_db_stay_text(tmp_path):
    from dx_pipeline_tests.sources.test_reporting_db import make_table

    url = f"sqlite:///{tmp_path / 'reporting.db'}"
    engine = sa.create_engine(url)
    mapping = load_mapping()
    table = make_table(engine, mapping)  # with the reader tests' rows 1..8
    c = mapping.columns
    rows = [
        (101, "SO_YTE", "dx_plan_issued", "Có", DROP),
        (102, "SO_YTE'); DELETE FROM dx_indicator_reports; --", "ipv6_ready", "1", "ok"),
        (103, "SO_KHCN", "it_staff_qualified", "1", "Robert'); DROP TABLE students;--"),
    ]
    with engine.begin() as con:
        for rid, agency, code, value, evidence in rows:
            con.execute(table.insert().values({
                c["report_id"]: rid, c["agency_code"]: agency, c["quarter"]: Q, c["indicator_code"]: code,
                c["value"]: 1 if value != "Có" else None, c["evidence_ref"]: evidence, c["unit"]: "",
                c["submitted_at"]: pd.Timestamp("2025-07-08 09:00").to_pydatetime(),
            }))
    read = read_reporting_db(url, rules())
    assert {r["evidence_ref"] for r in read.accepted} >= {DROP, "Robert'); DROP TABLE students;--"}
    (bad,) = [r for r in read.rejects if r["agency_code"] and "DELETE" in r["agency_code"]]
    assert "'); DELETE" in bad["agency_code"]
    with engine.connect() as con:  # the table survived, with every row
        assert con.execute(sa.text("select count(*) from dx_indicator_reports")).scalar() == 11
        assert (
            con.execute(
                sa.text("select evidence_ref from dx_indicator_reports where report_id = 101")
            ).scalar()
            == DROP
        )
    engine.dispose()


def test_dx_home_with_a_quote_works_for_duckdb_writes_and_portal_ingest(tmp_path):
    home = DxHome(tmp_path / "tinh's home; DROP TABLE x; --")
    con = duckdb.connect()
    path = write_partition_from_query(con, "SELECT 'a''b' AS agency_code", home, "scratch", Q)
    assert pq.read_table(path).column("agency_code").to_pylist() == ["a'b"]
    con.close()

    from dx_pipeline.kpis.dossier_kpis import portal_kpis
    from dx_pipeline.sources.portal_files import ingest_portal_files
    from dx_pipeline_tests.sources.portal_fixtures import write_exports

    write_exports(home.root, Q)
    result = ingest_portal_files(home, Q)
    assert result.dossier_rows > 0
    assert len(read_partition(home, "portal_dossiers", Q)) == result.dossier_rows
    kpis = portal_kpis(home, Q)
    assert not kpis.empty


# --- YAML -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("payload", [
    '!!python/object/apply:os.system ["touch {marker}"]',
    "!!python/name:os.system",
    '!!python/object/new:subprocess.Popen [["touch", "{marker}"]]',
])
def test_framework_yaml_with_unsafe_tags_is_refused(tmp_path, payload):
    marker = tmp_path / "pwned"
    fw = tmp_path / "evil.yaml"
    fw.write_text("id: evil\nname:\n  vi: x\n  en: " + payload.format(marker=marker) + "\n", encoding="utf-8")
    with pytest.raises(FrameworkError, match=r"evil.yaml: refused the YAML tag .*python.* \(line 4\)"):
        load_framework(fw)
    assert not marker.exists()


def test_framework_file_not_utf8_is_a_clear_error(tmp_path):
    fw = tmp_path / "latin.yaml"
    fw.write_bytes("id: x\nname: Đánh giá\n".encode("utf-16"))
    with pytest.raises(FrameworkError, match="latin.yaml: not UTF-8 text"):
        load_framework(fw)
