"""Issue 17, item 2: a late submission republishes the quarter without reading its dossiers again,
and the result is the one a full run gives.

The sample province (1 % of the default volume, one quarter) is run whole. Then a late report
lands in the inbox: republished incrementally (the portal partitions untouched, the dossier
scan reused), and, in a fresh copy of the inputs with the same file, run whole from nothing.
``agency_kpis``, ``index_scores``, ``plan_scorecard`` and ``rank_uncertainty`` are the same
bytes, the ranking the same rows but for its revision stamps. And the stored scan is not reused
once the dossier partition holds other bytes: the KPIs then follow the new dossiers.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from benchmarks.incremental import land_late_submission, run_full_quarter
from dx_pipeline.app import quarter as stages
from dx_pipeline.app.republish import BlockedByQuality, republish_after_submissions
from dx_pipeline.app.settings import Settings
from dx_pipeline.kpis.dossier_kpis import portal_kpis
from dx_pipeline.kpis.portal_cache import cache_folder, cached_portal_kpis
from dx_pipeline.publish.snapshot import get_publication
from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.sample.generate import generate_sample
from dx_pipeline.storage import DxHome, read_partition, write_partition
from dx_pipeline.storage.parquet import partition_path

Q = Quarter.parse("2025-Q2")
SAME_BYTES = ("agency_kpis", "index_scores", "plan_scorecard", "rank_uncertainty")
STAMPS = ["revision", "published_at"]


@pytest.fixture(scope="module")
def homes(tmp_path_factory) -> tuple[Path, Path]:
    """(the sample's inputs alone, a copy with the whole quarter run)."""
    base = tmp_path_factory.mktemp("republish")
    inputs = base / "inputs"
    generate_sample(DxHome(inputs).ensure(), seed=7, scale=0.01, quarters=[Q])
    ran = base / "ran"
    shutil.copytree(inputs, ran, symlinks=True)
    facts = run_full_quarter(Settings(DxHome(ran)), Q, {"by": "test"})
    assert facts["revision"] == 1 and not facts["portal_kpis_reused"]
    return inputs, ran


def _copy(src: Path, dst: Path) -> Settings:
    shutil.copytree(src, dst, symlinks=True)
    return Settings(DxHome(dst))


def _bytes(settings: Settings, table: str) -> bytes:
    return partition_path(settings.home, table, Q).read_bytes()


def _ranking(settings: Settings) -> pd.DataFrame:
    table = read_partition(settings.home, "ranking_snapshot", Q).drop(columns=STAMPS)
    return table.sort_values(["framework_id", "agency_code"]).reset_index(drop=True)


def test_a_late_submission_republished_incrementally_equals_a_full_rerun(homes, tmp_path):
    inputs, ran = homes
    incremental = _copy(ran, tmp_path / "incremental")
    dossiers = Path(str(partition_path(incremental.home, "portal_dossiers", Q)))
    dossiers_stat = dossiers.stat().st_mtime_ns
    kpis_before = _bytes(incremental, "agency_kpis")
    late, agency = land_late_submission(incremental.home, Q)

    done = republish_after_submissions(incremental, Q, {"by": "test"})

    assert done.kpis.portal_kpis_reused  # the dossier scan was not run again
    assert dossiers.stat().st_mtime_ns == dossiers_stat  # nor the portal ingest
    assert done.published.publication.revision == 2 and done.published.publication.created
    subs = read_partition(incremental.home, "agency_submissions", Q)
    assert subs.loc[subs["agency_code"] == agency, "is_late"].fillna(False).astype(bool).all()
    assert (subs["agency_code"] == agency).any()
    assert _bytes(incremental, "agency_kpis") != kpis_before  # the late file did change the result

    # the same inputs, the late file among them, run whole in a fresh home
    full = _copy(inputs, tmp_path / "full")
    shutil.copy2(late, full.home.inbox_for(Q) / late.name)
    facts = run_full_quarter(full, Q, {"by": "test"})
    assert facts["revision"] == 1 and not facts["portal_kpis_reused"]
    for table in SAME_BYTES:
        assert _bytes(incremental, table) == _bytes(full, table), table
    pd.testing.assert_frame_equal(_ranking(incremental), _ranking(full))


def test_the_stored_scan_is_what_a_fresh_scan_gives(homes, tmp_path):
    _, ran = homes
    settings = _copy(ran, tmp_path / "hit")
    stored = cached_portal_kpis(settings.home, Q)
    assert stored.hit
    pd.testing.assert_frame_equal(stored.table, portal_kpis(settings.home, Q), check_exact=True)


def test_other_dossier_bytes_are_scanned_again(homes, tmp_path):
    _, ran = homes
    settings = _copy(ran, tmp_path / "changed")
    home = settings.home
    first = cached_portal_kpis(home, Q)
    assert first.hit
    # one agency's dossiers of the quarter go missing (a re-ingest of a corrected export)
    dossiers = read_partition(home, "portal_dossiers", Q).drop(columns="quarter")
    agency = dossiers["agency_code"].value_counts().index[0]
    write_partition(home, "portal_dossiers", Q, dossiers[dossiers["agency_code"] != agency])

    again = stages.compute_quarter_kpis(settings, Q)

    assert not again.portal_kpis_reused
    fresh = portal_kpis(home, Q)
    assert not fresh.equals(first.table)
    stored = cached_portal_kpis(home, Q)
    assert stored.hit and stored.key != first.key
    pd.testing.assert_frame_equal(stored.table, fresh, check_exact=True)
    assert [p.name for p in cache_folder(home, Q).glob("*.parquet")] == [f"{stored.key}.parquet"]


def test_an_unchanged_export_ingested_again_keeps_the_stored_scan(homes, tmp_path):
    _, ran = homes
    settings = _copy(ran, tmp_path / "reingest")
    before = _bytes(settings, "portal_dossiers")
    stages.ingest_portal(settings, Q)
    assert _bytes(settings, "portal_dossiers") == before
    assert stages.compute_quarter_kpis(settings, Q).portal_kpis_reused


def test_a_quarter_never_ingested_is_refused_naming_the_command(tmp_path):
    settings = Settings(DxHome(tmp_path / "empty").ensure())
    with pytest.raises(FileNotFoundError, match=r"no agencies partition.*dx-pipeline run --quarter 2025-Q2"):
        republish_after_submissions(settings, Q, {"by": "test"})
    assert not os.listdir(settings.home.root / "warehouse")


def test_a_late_file_that_fails_a_blocking_check_is_not_republished(homes, tmp_path):
    """A late workbook whose rows are unreadable (over the 1 % the intake tolerates) stops the
    republication at the submissions' quality suite, as the blocking check stops the quarter
    job: the published revision stays the one before."""
    _, ran = homes
    settings = _copy(ran, tmp_path / "blocked")
    late, _ = land_late_submission(settings.home, Q)
    header, first = late.read_text(encoding="utf-8-sig").splitlines()[:2]
    sep = ";" if header.count(";") > header.count(",") else ","
    columns, cells = header.split(sep), first.split(sep)
    bad = []
    for i in range(400):  # every numerator unreadable
        row = list(cells)
        row[columns.index("STT")] = str(i + 1)
        row[columns.index("TuSo")] = "không rõ"
        bad.append(sep.join(row))
    late.write_text("\n".join([header, *bad]) + "\n", encoding="utf-8")

    blocked = r"not republished: agency_submissions failed .*no_rejected_submission_rows"
    with pytest.raises(BlockedByQuality, match=blocked):
        republish_after_submissions(settings, Q, {"by": "test"})
    assert get_publication(settings.home, Q).revision == 1
