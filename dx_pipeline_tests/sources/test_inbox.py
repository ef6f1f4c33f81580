"""Inbox change detection: stable run keys, one per file version."""

import os

from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.sources.inbox import (
    InboxState,
    changed_files,
    quarter_from_path,
    scan_inbox,
)
from dx_pipeline_tests.sources.test_submission_readers import (
    CSV_HEADERS,
    write_csv,
    write_xlsx,
)


def test_new_same_changed(tmp_path):
    inbox = tmp_path / "inbox"
    (inbox / "2025-Q2").mkdir(parents=True)
    write_xlsx(inbox / "2025-Q2" / "a.xlsx", [[1, "ipv6_ready", "", "", None, None, "Có", None]])
    changed, state = changed_files(inbox, InboxState({}))
    assert [f.relpath for f in changed] == ["2025-Q2/a.xlsx"]
    f = changed[0]
    assert f.quarter == Quarter(2025, 2)
    assert f.run_key == f"2025-Q2:2025-Q2/a.xlsx:{f.sha256[:12]}"
    state = InboxState.from_cursor(state.to_cursor())  # survives the cursor round trip
    again, state2 = changed_files(inbox, state)
    assert again == []
    # touched but identical content: not a new version
    os.utime(inbox / "2025-Q2" / "a.xlsx", None)
    assert changed_files(inbox, state2)[0] == []
    write_xlsx(inbox / "2025-Q2" / "a.xlsx", [[1, "ipv6_ready", "", "", None, None, "Không", None]])
    changed3, _ = changed_files(inbox, state2)
    assert len(changed3) == 1 and changed3[0].run_key != f.run_key


def test_edit_with_same_size_and_preserved_mtime_is_seen(tmp_path):
    inbox = tmp_path / "inbox"
    (inbox / "2025-Q2").mkdir(parents=True)
    p = inbox / "2025-Q2" / "a.csv"
    p.write_bytes(b"MaChiSo;GiaTri\r\nipv6_ready;1\r\n")
    st = p.stat()
    changed, state = changed_files(inbox, InboxState({}))
    p.write_bytes(b"MaChiSo;GiaTri\r\nipv6_ready;0\r\n")
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert p.stat().st_size == st.st_size and p.stat().st_mtime_ns == st.st_mtime_ns
    changed2, _ = changed_files(inbox, InboxState.from_cursor(state.to_cursor()))
    assert len(changed2) == 1 and changed2[0].sha256 != changed[0].sha256


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
