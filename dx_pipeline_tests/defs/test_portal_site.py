"""The site in the asset graph: ``portal_site`` builds the quarter's published site, and its
ERROR check ``portal_site_links_resolve`` fails when a page links to nothing."""

from __future__ import annotations

from dagster import AssetCheckSeverity, DagsterInstance, materialize

from dx_pipeline.defs.assets import portal_site
from dx_pipeline.defs.checks import portal_site_links_resolve
from dx_pipeline.defs.resources import DxResource
from dx_pipeline.publish.site import pages as site_pages
from dx_pipeline.storage import DxHome
from dx_pipeline_tests.publish.site.conftest import province, publish_province

KEY = "2025-10"  # 2025-Q4


def _run(home: DxHome):
    return materialize(
        [portal_site, portal_site_links_resolve],
        partition_key=KEY,
        instance=DagsterInstance.ephemeral(),
        resources={"dx": DxResource(home=str(home.root))},
        raise_on_error=False,
    )


def test_the_site_asset_builds_the_quarters_site_and_its_check_fails_on_a_broken_link(tmp_path, monkeypatch):
    home = DxHome(tmp_path / "home")
    publish_province(home, province(departments=3, departments_ps=2, communes=4), quarters=("2025-Q4",))
    result = _run(home)
    assert result.success
    (materialization,) = result.asset_materializations_for_node("portal_site")
    sites = materialization.metadata["sites"].value
    assert sites["2025-Q4"]["revision"] == 1 and sites["2025-Q4"]["agencies"] == 9
    assert materialization.metadata["broken_links"].value == 0
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.passed and evaluation.metadata["sites_checked"].value == 1

    # a build that forgets an agency's page: every link to it leads nowhere
    every_page = site_pages.agency_pages
    monkeypatch.setattr(site_pages, "agency_pages",
                        lambda rev, past: [p for p in every_page(rev, past) if p.code != "X-001"])
    broken = _run(home)
    (evaluation,) = broken.get_asset_check_evaluations()
    assert not evaluation.passed and evaluation.severity == AssetCheckSeverity.ERROR
    assert evaluation.metadata["broken_links"].value >= 3  # home page, ranking pages, summary
    assert "don-vi/X-001.html" in evaluation.metadata["first_broken"].value
