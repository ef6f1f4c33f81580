"""Issue 14, item 4: rank movement only against a *published* previous quarter.

A small province (the site tests' registry, KPIs written straight into the warehouse) is scored
and published through the app-layer stages, 2025-Q2 before 2025-Q1: Q2 shows no movement and
says why (manifest, printable report, website); publishing Q1 then republishes Q2 as revision 2,
with a reason naming Q1's publication and every agency's previous rank from Q1's ranking.
"""

from __future__ import annotations

import pandas as pd

from dx_pipeline.app.quarter import publish_quarter, score_quarter_kpis
from dx_pipeline.app.settings import Settings
from dx_pipeline.publish.site.build import build_site
from dx_pipeline.publish.snapshot import get_publication
from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.storage import DxHome, read_partition, write_partition
from dx_pipeline_tests.publish.site.conftest import kpis, province

Q1, Q2 = Quarter.parse("2025-Q1"), Quarter.parse("2025-Q2")
NO_PREVIOUS = ("Chưa công bố kỳ trước", "No previous quarter published")


def _scored(tmp_path) -> Settings:
    settings = Settings(home=DxHome(tmp_path / "home").ensure())
    registry = province()
    for i, q in enumerate((Q1, Q2)):
        write_partition(settings.home, "agencies", q, registry)
        write_partition(settings.home, "agency_kpis", q, kpis(registry, q.label, seed=40 + i))
        score_quarter_kpis(settings, q)
    return settings


def _site_text(folder) -> str:
    site = build_site(folder, folder.parent.parent / f"site-{folder.name}")
    return "\n".join(p.read_text(encoding="utf-8") for p in site.path.rglob("*.html"))


def test_q2_before_q1_shows_no_movement_and_says_why_then_q1_republishes_it(tmp_path):
    settings = _scored(tmp_path)
    first = publish_quarter(settings, Q2, {"by": "test"}).publication
    ranking = first.ranking()
    assert ranking["rank"].notna().any()
    assert ranking["previous_rank"].isna().all() and ranking["rank_change"].isna().all()
    assert first.manifest.movement_against == {"period": "2025-Q1", "revision": None}
    report = (first.path / "report.html").read_text(encoding="utf-8")
    site = _site_text(first.path)
    for text in (report, site):
        assert all(words in text for words in NO_PREVIOUS)
        assert 'move new"' not in text and 'move same"' not in text  # nobody "new", nobody "kept"
        assert 'move none"' in text
    assert "không so sánh" in site

    published = publish_quarter(settings, Q1, {"by": "test"})
    assert published.publication.revision == 1
    assert [p.publication.period for p in published.republished] == ["2025-Q2"]
    second = get_publication(settings.home, Q2)
    assert second.revision == 2 and second.manifest.previous_revision == 1
    assert "2025-Q1 published (revision 1)" in second.reason
    assert "Quý 1/2025" in second.manifest.reason_vi
    assert second.manifest.movement_against == {"period": "2025-Q1", "revision": 1}
    q1 = get_publication(settings.home, Q1).ranking()
    now = second.ranking().merge(q1[["framework_id", "agency_code", "rank"]], how="left",
                                 on=["framework_id", "agency_code"], suffixes=("", "_q1"))
    assert now["previous_rank"].notna().any()
    pd.testing.assert_series_equal(now["previous_rank"].astype("Int64"), now["rank_q1"].astype("Int64"),
                                   check_names=False)
    moved = now.dropna(subset=["rank", "previous_rank"])
    assert (moved["rank_change"] == moved["previous_rank"] - moved["rank"]).all()
    # the warehouse mirrors the new revision, and its report no longer says nothing was published
    assert set(read_partition(settings.home, "ranking_snapshot", Q2)["revision"]) == {2}
    for text in ((second.path / "report.html").read_text(encoding="utf-8"), _site_text(second.path)):
        assert not any(words in text for words in NO_PREVIOUS)
        assert 'move none"' not in text

    # a rerun of Q1 changes nothing: Q2 was ranked against this very publication
    assert publish_quarter(settings, Q1, {"by": "test"}).republished == []
    assert get_publication(settings.home, Q2).revision == 2
