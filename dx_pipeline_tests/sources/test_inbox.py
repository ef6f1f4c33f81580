"""The inbox as the sensor sees it: what an ingestion read is settled, what arrived after it is
a run, a new instance starts from what is there, and the cursor stays small."""

import os
import shutil

from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.sources.inbox import (
    InboxCursor,
    inbox_tick,
    quarter_from_path,
    read_taken_in,
    record_taken_in,
    scan_inbox,
)
from dx_pipeline.sources.submissions import ingest_submissions
from dx_pipeline.storage import DxHome
from dx_pipeline_tests.sources.test_submission_readers import (
    CSV_HEADERS,
    REGISTRY,
    write_csv,
    write_xlsx,
)

Q1, Q2, Q3 = Quarter.parse("2025-Q1"), Quarter.parse("2025-Q2"), Quarter.parse("2025-Q3")
YES = [1, "ipv6_ready", "", "", None, None, "Có", None]
NO = [1, "ipv6_ready", "", "", None, None, "Không", None]


def closed(quarter: Quarter) -> bool:
    return quarter <= Q3


def taken_in(home: DxHome, quarter: Quarter) -> None:
    """What a run's ingestion of the quarter records (the same call app.quarter makes)."""
    result = ingest_submissions(home, quarter, REGISTRY)
    record_taken_in(home, quarter, result.versions)


def inbox_with_two_quarters(root) -> DxHome:
    """Q1 read by a run; Q2's files there but never read by a run."""
    home = DxHome(root).ensure()
    for quarter, agencies in ((Q1, ("SO_YTE", "SO_KHCN")), (Q2, ("SO_YTE",))):
        folder = home.inbox_for(quarter)
        folder.mkdir(parents=True)
        for code in agencies:
            write_xlsx(folder / f"{code.lower()}.xlsx", [YES], agency_code=code, quarter=quarter.label)
    taken_in(home, Q1)
    return home


def test_a_first_tick_starts_from_what_is_there(tmp_path):
    home = inbox_with_two_quarters(tmp_path)
    assert set(read_taken_in(home, Q1) or ()) == {"2025-Q1/so_yte.xlsx", "2025-Q1/so_khcn.xlsx"}
    assert read_taken_in(home, Q2) is None

    tick = inbox_tick(home, None, closed)
    assert tick.changes == [] and tick.loose == [] and tick.waiting == {}
    text = tick.cursor.to_cursor()
    assert set(tick.cursor.settled) == {"2025-Q1", "2025-Q2"}
    assert len(text) < 200, text  # a line per quarter folder, whatever it holds
    # the next tick reads nothing and finds nothing
    again = inbox_tick(home, InboxCursor.from_cursor(text), closed)
    assert again.changes == [] and again.cursor == tick.cursor


def test_files_that_arrive_later_run_their_quarter_once_per_version(tmp_path):
    home = inbox_with_two_quarters(tmp_path)
    cursor = inbox_tick(home, None, closed).cursor
    late = home.inbox_for(Q1) / "so_ct.xlsx"
    write_xlsx(late, [YES], agency_code="SO_CT", quarter=Q1.label)
    write_xlsx(home.inbox_for(Q2) / "so_khcn.xlsx", [YES], agency_code="SO_KHCN", quarter=Q2.label)

    tick = inbox_tick(home, cursor, closed)
    assert [c.quarter for c in tick.changes] == [Q1, Q2]  # oldest first
    q1, q2 = tick.changes
    assert [f.relpath for f in q1.files] == ["2025-Q1/so_ct.xlsx"]  # only what no run read
    assert q1.run_key.startswith("2025-Q1:2025-Q1/so_ct.xlsx:")
    assert sorted(f.relpath for f in q2.files) == ["2025-Q2/so_khcn.xlsx", "2025-Q2/so_yte.xlsx"]
    assert q2.run_key.startswith("2025-Q2:inbox:")
    # until a run reads them, every tick asks for the same runs (Dagster refuses a repeat key)
    assert [c.run_key for c in inbox_tick(home, tick.cursor, closed).changes] == [q1.run_key, q2.run_key]

    taken_in(home, Q1)
    taken_in(home, Q2)
    after = inbox_tick(home, tick.cursor, closed)
    assert after.changes == [] and set(after.cursor.settled) == {"2025-Q1", "2025-Q2"}


def test_touched_is_not_new_but_an_edit_with_the_same_size_and_mtime_is(tmp_path):
    home = inbox_with_two_quarters(tmp_path)
    cursor = inbox_tick(home, None, closed).cursor
    path = home.inbox_for(Q1) / "so_yte.xlsx"
    os.utime(path, None)  # touched, same content
    tick = inbox_tick(home, cursor, closed)
    assert tick.changes == []
    cursor = tick.cursor

    csv = home.inbox_for(Q1) / "so_tttt.csv"
    write_csv(csv, [CSV_HEADERS, ["SO_YTE", "Quý 1/2025", "", "1", "ipv6_ready", "", "", "", "", "Có", ""]])
    taken_in(home, Q1)
    cursor = inbox_tick(home, cursor, closed).cursor
    st = csv.stat()
    csv.write_bytes(csv.read_bytes().replace("Có".encode(), "Cò".encode()))  # as many bytes
    os.utime(csv, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert csv.stat().st_size == st.st_size and csv.stat().st_mtime_ns == st.st_mtime_ns
    tick = inbox_tick(home, cursor, closed)
    assert [f.relpath for c in tick.changes for f in c.files] == ["2025-Q1/so_tttt.csv"]


def test_a_home_copied_elsewhere_is_not_new(tmp_path):
    home = inbox_with_two_quarters(tmp_path / "a")
    copy = DxHome(shutil.copytree(home.root, tmp_path / "b"))  # new times on every file
    tick = inbox_tick(copy, None, closed)
    assert tick.changes == []
    # and once settled, an edited file of the copy is seen
    write_xlsx(copy.inbox_for(Q1) / "so_yte.xlsx", [NO], quarter=Q1.label)
    assert [c.quarter for c in inbox_tick(copy, tick.cursor, closed).changes] == [Q1]


def test_files_outside_quarter_folders_and_of_open_quarters_wait_with_a_reason(tmp_path):
    home = inbox_with_two_quarters(tmp_path)
    cursor = inbox_tick(home, None, closed).cursor
    write_xlsx(home.inbox / "so_yte_q1.xlsx", [YES], quarter=Q1.label)
    (home.inbox / "2025-q2").mkdir()
    write_xlsx(home.inbox / "2025-q2" / "a.xlsx", [YES], quarter=Q2.label)
    (home.inbox / "notes.txt").write_text("?")
    later = home.inbox_for("2026-Q1")
    later.mkdir()
    write_xlsx(later / "so_yte.xlsx", [YES], quarter="2026-Q1")

    tick = inbox_tick(home, cursor, closed)
    assert tick.changes == []
    assert dict(tick.loose) == {"so_yte_q1.xlsx": Q1, "2025-q2/a.xlsx": Q2, "notes.txt": None}
    assert tick.waiting == {"2026-Q1": 1}
    assert "2026-Q1" not in tick.cursor.settled  # looked at again until it can run


def test_quarter_from_folder_or_content(tmp_path):
    inbox = tmp_path / "inbox"
    (inbox / "loose").mkdir(parents=True)
    write_csv(
        inbox / "loose" / "x.csv",
        [CSV_HEADERS, ["SO_YTE", "Quý 3/2025", "", "1", "ipv6_ready", "", "", "", "", "Có", ""]],
    )
    write_xlsx(inbox / "y.xlsx", [], quarter="2024-Q4")
    (inbox / "z.txt").write_text("?")
    files = {f.relpath: f for f in scan_inbox(inbox)}
    assert files["loose/x.csv"].quarter == Quarter(2025, 3)
    assert files["y.xlsx"].quarter == Quarter(2024, 4)
    assert files["z.txt"].quarter is None and files["z.txt"].run_key.startswith("unknown:")
    assert quarter_from_path("2025-Q1/sub/a.xlsx") == Quarter(2025, 1)


def test_an_unreadable_or_older_cursor_is_a_first_tick():
    assert InboxCursor.from_cursor(None) is None
    assert InboxCursor.from_cursor('{"files": {"2025-Q1/a.xlsx": [1, 2, "ab", 3]}}') is None
    assert InboxCursor.from_cursor("not json") is None
    cursor = InboxCursor({"2025-Q1": ("a" * 16, "b" * 16)})
    assert InboxCursor.from_cursor(cursor.to_cursor()) == cursor
