"""Workbooks already read are not parsed again; what an ingest returns does not change."""

from __future__ import annotations

import datetime as dt
import pickle

import openpyxl
import pandas as pd
import pytest

from dx_pipeline.sources import grid_cache
from dx_pipeline.sources.submissions import ingest_submissions
from dx_pipeline.storage import DxHome
from dx_pipeline_tests.sources.test_submission_readers import REGISTRY, touch, write_xlsx

Q = "2025-Q2"


def row(n, code, value=None, num=None, den=None):
    return [n, code, "", "", num, den, value, None]


@pytest.fixture()
def home(tmp_path):
    home = DxHome(tmp_path / "home")
    folder = home.inbox_for(Q)
    folder.mkdir(parents=True)
    write_xlsx(folder / "so_yte.xlsx", [row(1, "work_records_online_rate", num=70, den=100),
                                         row(2, "ipv6_ready", "Có")], percent_cells=("G8",))
    write_xlsx(folder / "so_khcn.xlsx", [row(1, "ipv6_ready", "Không")], agency_code="SO_KHCN",
               report_date="12/07/2025", when=dt.datetime(2025, 7, 12, 9, 30))
    good = (folder / "so_yte.xlsx").read_bytes()
    (folder / "hong.xlsx").write_bytes(good[:700])  # truncated: unreadable, a reject
    touch(folder / "hong.xlsx")
    return home


@pytest.fixture()
def opened(monkeypatch):
    """Counts the workbooks openpyxl opens."""
    calls: list[int] = []
    real = openpyxl.load_workbook

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(openpyxl, "load_workbook", counting)
    return calls


def _same(a, b) -> None:
    pd.testing.assert_frame_equal(a.accepted, b.accepted)
    pd.testing.assert_frame_equal(a.rejects, b.rejects)
    assert a.files == b.files and a.versions == b.versions


def test_a_second_ingest_reads_no_workbook_and_gives_the_same_result(home, opened):
    first = ingest_submissions(home, Q, REGISTRY)
    assert len(opened) == 2  # the truncated one fails in the zip check, before openpyxl
    assert len(first.accepted) == 3
    assert any("damaged" in r or "zip" in r for r in first.rejects["reason"].astype(str))
    assert len(list((home.root / grid_cache.CACHE_DIR).glob("*.pickle"))) == 3
    again = ingest_submissions(home, Q, REGISTRY)
    assert len(opened) == 2
    _same(first, again)


def test_a_changed_workbook_is_read_again(home, opened):
    ingest_submissions(home, Q, REGISTRY)
    path = home.inbox_for(Q) / "so_khcn.xlsx"
    write_xlsx(path, [row(1, "ipv6_ready", "Có")], agency_code="SO_KHCN", report_date="12/07/2025",
               when=dt.datetime(2025, 7, 12, 9, 30))
    changed = ingest_submissions(home, Q, REGISTRY)
    assert len(opened) == 3
    khcn = changed.accepted[changed.accepted["agency_code"] == "SO_KHCN"]
    assert khcn["value"].tolist() == [1.0]  # "Có" now, "Không" (0) before
    cached_files = list((home.root / grid_cache.CACHE_DIR).glob("*.pickle"))
    for f in cached_files:
        f.unlink()
    _same(changed, ingest_submissions(home, Q, REGISTRY))


def test_other_reading_code_reads_again(home, opened, monkeypatch):
    ingest_submissions(home, Q, REGISTRY)
    monkeypatch.setattr(grid_cache, "code_version", lambda: "another version of the readers")
    ingest_submissions(home, Q, REGISTRY)
    assert len(opened) == 4


@pytest.mark.parametrize("damage", [b"", b"not a pickle", pickle.dumps(("ok", ("BaoCao", [pd.Timestamp(0)]))),
                                    pickle.dumps(("ok", "BaoCao"))])
def test_a_damaged_or_foreign_entry_is_a_miss(home, opened, damage):
    first = ingest_submissions(home, Q, REGISTRY)
    for f in (home.root / grid_cache.CACHE_DIR).glob("*.pickle"):
        f.write_bytes(damage)
    _same(first, ingest_submissions(home, Q, REGISTRY))
    assert len(opened) == 4
