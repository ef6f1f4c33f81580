"""Issue 14, item 3: a quarter's KPIs, scores and ranking are a function of its own inputs.

The sample province (1 % of the default volume, three quarters) goes through the app-layer
stage functions the Dagster assets call. 2025-Q4 is computed after 2025-Q2 and Q3 in order;
alone (no other quarter in the warehouse); and, in that same warehouse, again after Q3 and Q2
arrived and ran in reverse order: its ``agency_kpis`` and ``index_scores`` partitions are the
same bytes every time, and its ranking the same rows. Movement is measured against the
previous quarter's *publication* (item 4), so Q4 ranked alone shows none, and says why,
until Q3 is published, which republishes Q4; from then on its ranking equals the in-order
one too.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from dx_pipeline.app import quarter as stages
from dx_pipeline.app.settings import Settings
from dx_pipeline.index import load_builtin
from dx_pipeline.publish.snapshot import get_publication
from dx_pipeline.reference.quarters import FIRST_QUARTER, Quarter
from dx_pipeline.sample.generate import generate_sample
from dx_pipeline.storage import DxHome, read_partition, write_partition
from dx_pipeline.storage.parquet import partition_path

Q2, Q3, Q4 = (Quarter.parse(q) for q in ("2025-Q2", "2025-Q3", "2025-Q4"))
SOURCES = ("agencies", "portal_dossiers", "portal_rejects", "procedures", "agency_submissions",
           "submission_rejects")
MOVEMENT = ["previous_rank", "rank_change"]
STAMPS = ["revision", "published_at"]


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    """A DX_HOME with the three quarters' exports and submissions read into the warehouse."""
    root = tmp_path_factory.mktemp("loaded") / "home"
    home = DxHome(root).ensure()
    generate_sample(home, seed=7, scale=0.01, quarters=[Q2, Q3, Q4])
    settings = Settings(home)
    for q in (Q2, Q3, Q4):
        stages.load_agencies(settings, q)
        stages.ingest_portal(settings, q)
        stages.ingest_quarter_submissions(settings, q)
    return root


def _folder(home: DxHome, table: str, q: Quarter) -> Path:
    return Path(str(partition_path(home, table, q).parent))


def _home(loaded, tmp_path, name: str, keep: tuple[Quarter, ...]) -> Settings:
    """A copy of the loaded home holding only the source partitions of ``keep``."""
    root = tmp_path / name
    shutil.copytree(loaded, root, symlinks=True)
    home = DxHome(root)
    for table in SOURCES:
        for q in (Q2, Q3, Q4):
            if q not in keep:
                shutil.rmtree(_folder(home, table, q))
    return Settings(home)


def _arrive(loaded, settings: Settings, q: Quarter) -> None:
    """A quarter's sources reach the warehouse (as its ingestion would write them)."""
    for table in SOURCES:
        shutil.copytree(_folder(DxHome(loaded), table, q), _folder(settings.home, table, q))


def _compute(settings: Settings, q: Quarter) -> stages.QuarterPublished:
    stages.compute_quarter_kpis(settings, q)
    stages.score_quarter_kpis(settings, q)
    return stages.publish_quarter(settings, q, {"by": "test"})


def _bytes(settings: Settings, table: str, q: Quarter) -> bytes:
    return partition_path(settings.home, table, q).read_bytes()


def _ranking(settings: Settings, q: Quarter, drop: list[str]) -> pd.DataFrame:
    table = read_partition(settings.home, "ranking_snapshot", q).drop(columns=drop)
    return table.sort_values(["framework_id", "agency_code"]).reset_index(drop=True)


def test_a_quarter_gives_the_same_result_however_the_others_were_run(loaded, tmp_path):
    in_order = _home(loaded, tmp_path, "in_order", keep=(Q2, Q3, Q4))
    for q in (Q2, Q3, Q4):
        _compute(in_order, q)
    expected = _ranking(in_order, Q4, STAMPS)
    assert expected["previous_rank"].notna().any()

    # Q4 alone: nothing else in the warehouse
    reverse = _home(loaded, tmp_path, "reverse", keep=(Q4,))
    alone = _compute(reverse, Q4)
    for table in ("agency_kpis", "index_scores"):
        assert _bytes(reverse, table, Q4) == _bytes(in_order, table, Q4), table
    # the same ranks and points; no movement, since nothing of Q3 is published, and it says so
    pd.testing.assert_frame_equal(_ranking(reverse, Q4, STAMPS + MOVEMENT),
                                  _ranking(in_order, Q4, STAMPS + MOVEMENT))
    assert read_partition(reverse.home, "ranking_snapshot", Q4)[MOVEMENT].isna().all().all()
    assert alone.publication.manifest.movement_against == {"period": "2025-Q3", "revision": None}
    report = (alone.publication.path / "report.html").read_text(encoding="utf-8")
    assert "Chưa công bố kỳ trước" in report and "No previous quarter published" in report

    # then Q3 and Q2 arrive in reverse order; Q3's publication republishes Q4 against it
    _arrive(loaded, reverse, Q3)
    later = _compute(reverse, Q3)
    assert [p.publication.period for p in later.republished] == ["2025-Q4"]
    again = get_publication(reverse.home, Q4)
    assert again.revision == 2 and "2025-Q3 published (revision 1)" in again.reason
    assert again.manifest.movement_against == {"period": "2025-Q3", "revision": 1}
    pd.testing.assert_frame_equal(_ranking(reverse, Q4, STAMPS), expected)
    _arrive(loaded, reverse, Q2)
    _compute(reverse, Q2)
    # Q3 is republished against Q2; Q4's ranks against Q3 do not change, so no third revision
    assert get_publication(reverse.home, Q3).revision == 2
    pd.testing.assert_frame_equal(_ranking(reverse, Q3, STAMPS), _ranking(in_order, Q3, STAMPS))
    # and Q4 computed again after its predecessors (run in reverse order): the same bytes
    rerun = _compute(reverse, Q4)
    assert not rerun.publication.created and rerun.publication.revision == 2
    for table in ("agency_kpis", "index_scores"):
        assert _bytes(reverse, table, Q4) == _bytes(in_order, table, Q4), table
    pd.testing.assert_frame_equal(_ranking(reverse, Q4, STAMPS), expected)


def test_carrying_a_value_forward_needs_the_previous_quarter_and_says_which(tmp_path):
    """The only way a quarter's scores read another quarter: a framework whose missing-data
    policy carries last quarter's value forward. Without last quarter's KPIs it is refused,
    naming that quarter, instead of scoring 0 now and something else once it is computed."""
    home = DxHome(tmp_path / "home").ensure()
    plain = load_builtin("qd766")
    carrying = replace(plain, missing="carry_forward")
    assert carrying.carries_forward and not plain.carries_forward
    assert stages.previous_kpis_for(home, Q4, [plain]) is None
    with pytest.raises(FileNotFoundError, match=r"qd766 carries missing values forward from 2025-Q3.*"
                                                 r"run 2025-Q3 first"):
        stages.previous_kpis_for(home, Q4, [plain, carrying])
    assert stages.previous_kpis_for(home, FIRST_QUARTER, [carrying]) is None  # nothing before it
    kpis = pd.DataFrame({"agency_code": ["SO-A"], "kpi_code": ["on_time_rate"], "numerator": [9.0],
                         "denominator": [10.0], "value": [0.9], "target": [None], "target_met": [None],
                         "source": ["portal"], "flags": [None]})
    write_partition(home, "agency_kpis", Q3, kpis)
    found = stages.previous_kpis_for(home, Q4, [carrying])
    assert found is not None and found["value"].tolist() == [0.9]
