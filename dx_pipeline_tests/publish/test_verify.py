"""``verify`` and the ``verify`` / ``publications`` commands."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from dx_pipeline.cli import publish as publish_cli
from dx_pipeline.publish.verify import verify

from .conftest import make_inputs, publish


@pytest.fixture
def two_revisions(home, inputs):
    first = publish(home, inputs)
    second = publish(home, make_inputs(seed=8), reason="Bổ sung báo cáo nộp muộn của Sở Y tế")
    return first, second


def test_every_published_revision_verifies(home, two_revisions):
    report = verify(home)
    assert report.ok, report.summary()
    assert [(r.period, r.revision) for r in report.revisions] == [("2025-Q2", 1), ("2025-Q2", 2)]
    assert all(r.files_checked == 8 for r in report.revisions)  # 5 files and 3 tables
    assert verify(home, "2025-Q2", 1).ok


def _writable(path):
    os.chmod(path, 0o644)
    return path


def test_a_tampered_file_fails(home, two_revisions):
    first, _ = two_revisions
    csv = _writable(first.path / "ranking.csv")
    csv.write_bytes(csv.read_bytes().replace(b"620.2", b"920.2").replace(b",1,", b",9,"))
    report = verify(home, "2025-Q2")
    assert not report.ok
    assert [r.revision for r in report.revisions if not r.ok] == [1]
    assert any("ranking.csv was modified" in p for p in report.problems)
    assert verify(home, "2025-Q2", 2).ok


def test_a_missing_or_extra_file_fails(home, two_revisions):
    first, second = two_revisions
    (first.path / "report.html").unlink()
    (second.path / "notes.txt").write_text("sửa tay")
    problems = verify(home).problems
    assert any("rev=1: missing file report.html" in p for p in problems)
    assert any("rev=2: unexpected file notes.txt" in p for p in problems)


def test_a_stale_latest_pointer_fails(home, two_revisions):
    latest = _writable(two_revisions[0].path.parent / "LATEST")
    latest.write_text("rev=1\n")
    report = verify(home)
    assert not report.ok and "LATEST says 'rev=1', newest is rev=2" in report.problems[0]


def test_unknown_quarter_or_revision_is_an_error(home, two_revisions):
    with pytest.raises(FileNotFoundError, match="nothing published for 2024-Q4"):
        verify(home, "2024-Q4")
    with pytest.raises(FileNotFoundError, match="no revision 7"):
        verify(home, "2025-Q2", 7)


def main(argv):
    """``dx-pipeline`` with only this room's commands (other rooms may be half-built)."""
    import argparse

    parser = argparse.ArgumentParser(prog="dx-pipeline")
    parser.add_argument("--home")
    publish_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError):
        return 1


def test_cli_verify_exit_codes_and_publications_listing(home, two_revisions, capsys):
    assert main(["--home", str(home.root), "verify"]) == 0
    assert "2 revision(s) checked, 0 failed" in capsys.readouterr().out
    assert main(["--home", str(home.root), "verify", "--quarter", "2025-Q2", "--rev", "2"]) == 0
    capsys.readouterr()

    assert main(["--home", str(home.root), "publications"]) == 0
    out = capsys.readouterr().out
    assert "first publication" in out and "Bổ sung báo cáo nộp muộn của Sở Y tế" in out
    assert "2025-Q2     2*" in out

    html = _writable(two_revisions[1].path / "report.html")
    html.write_text(html.read_text(encoding="utf-8") + "<!-- x -->", encoding="utf-8")
    assert main(["--home", str(home.root), "verify"]) == 1
    assert "FAILED 2025-Q2 rev=2" in capsys.readouterr().out
    assert main(["--home", str(home.root), "verify", "--quarter", "2023-Q1"]) == 1


KILL_AT = {
    # the instant the hidden revision folder is created: it is left empty
    "folder_created": ("snapshot.tempfile", "mkdtemp", True),
    # every file written and made read-only, the folder not yet renamed into place
    "before_rename": ("snapshot.os", "rename", False),
}


def _publish_killed_at(home, where: str) -> int:
    """A real process publishing the fixture's quarter, SIGKILLed at ``where`` (after the
    call when ``call_first``, else instead of it)."""
    target, name, call_first = KILL_AT[where]
    code = f"""
import os, signal
from dx_pipeline.publish import snapshot
from dx_pipeline.storage import DxHome
from dx_pipeline_tests.publish.conftest import make_inputs, publish
real = {target}.{name}
def killed(*args, **kwargs):
    if {call_first}:
        real(*args, **kwargs)
    os.kill(os.getpid(), signal.SIGKILL)
{target}.{name} = killed
publish(DxHome({str(home.root)!r}), make_inputs())
"""
    root = Path(__file__).resolve().parents[2]
    return subprocess.run([sys.executable, "-c", code], cwd=root, timeout=300).returncode


@pytest.mark.parametrize("where", sorted(KILL_AT))
def test_a_publication_killed_half_way_is_reported_and_cleaned_by_the_next(home, where, capsys):
    assert _publish_killed_at(home, where) == -signal.SIGKILL
    left = sorted((home.published / "ranking" / "quarter=2025-Q2").glob(".rev=*"))
    assert [p.name.startswith(".rev=1.") for p in left] == [True], left
    assert main(["--home", str(home.root), "verify"]) == 0  # no published revision is damaged
    out = capsys.readouterr().out
    assert f"LEFTOVER {left[0]} (of an interrupted publication; the next publication of 2025-Q2 " \
           "removes it)" in out

    published = publish(home, make_inputs())

    assert published.revision == 1 and not left[0].exists()
    report = verify(home)
    assert report.ok and report.leftovers == [] and len(report.revisions) == 1
    hidden = [p.name for p in published.path.parent.iterdir() if p.name.startswith(".")]
    assert hidden == [".lock"]
