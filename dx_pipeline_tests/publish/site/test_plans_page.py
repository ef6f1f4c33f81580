"""The province against its plans on the published site: the scorecard travels with the revision
(its Parquet, a CSV download, a sheet of the workbook), and its page shows every target as it is
worded, drafts marked, linked from the home page and the navigation, every link resolving."""

from __future__ import annotations

import json

import openpyxl
import pandas as pd
import pytest

from dx_pipeline.app.quarter import publish_quarter, score_against_plans, score_quarter_kpis
from dx_pipeline.app.settings import Settings
from dx_pipeline.publish.site.build import build_site
from dx_pipeline.publish.site.links import check_links
from dx_pipeline.publish.site.pages import DATA_DIR, PLANS
from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.reference.targets import load_plans
from dx_pipeline.storage import DxHome, read_partition, write_partition

from .conftest import kpis, province


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """Two quarters scored, scored against the plans and published by the pipeline's stages."""
    home = DxHome(tmp_path_factory.mktemp("plans") / "home")
    settings, registry = Settings(home=home), province()
    publications = []
    for i, label in enumerate(("2025-Q3", "2025-Q4")):
        q = Quarter.parse(label)
        write_partition(home, "agencies", q, registry)
        write_partition(home, "agency_kpis", q, kpis(registry, label, seed=20 + i))
        score_quarter_kpis(settings, q)
        score_against_plans(settings, q)
        publications.append(publish_quarter(settings, q, {"by": "test"}).publication)
    return home, publications[-1], build_site(publications[-1].path)


def test_the_revision_carries_the_quarters_scorecard(published):
    home, publication, _ = published
    stored = read_partition(home, "plan_scorecard", Quarter.parse("2025-Q4"))
    quarter_rows = stored[stored["period"] == "2025-Q4"]
    in_revision = pd.read_parquet(publication.path / "plan_scorecard.parquet")
    assert len(in_revision) == len(quarter_rows) > 0 and set(in_revision["period"]) == {"2025-Q4"}
    manifest = json.loads((publication.path / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["row_counts"]["plan_scorecard"] == len(quarter_rows)
    assert "Kế hoạch - Plans" in openpyxl.load_workbook(publication.path / "ranking.xlsx").sheetnames


def test_the_plans_page_shows_every_target_as_it_is_worded(published):
    _, publication, site = published
    page = (site.path / PLANS).read_text(encoding="utf-8")
    plans = load_plans()
    for plan in plans.plans.values():
        assert plan.title_vi in page
    rows = pd.read_parquet(publication.path / "plan_scorecard.parquet")
    provinces = rows["province_code"].nunique()  # the two provinces of the fixture, not merged
    assert provinces == 2
    assert page.count("Dự thảo <span") == provinces  # the Đồng Nai 2019-2020 programme only
    assert page.count("<tr><td>") == len(rows)
    # a share of departments in %, the programme's budget as a number of million VND, and what
    # this small province reports nothing for said so (its KPIs are the frameworks' inputs only)
    assert '<td class="num">55%</td>' in page and '<td class="num">150.126</td>' in page
    assert "Đạt</span>" in page and "Chưa đạt</span>" in page and "Không có số liệu</span>" in page


def test_the_page_is_linked_and_its_data_downloadable(published):
    _, _, site = published
    index = (site.path / "index.html").read_text(encoding="utf-8")
    assert f'href="{PLANS}"' in index
    agency_page = next((site.path / "don-vi").glob("*.html")).read_text(encoding="utf-8")
    assert f'href="../{PLANS}"' in agency_page  # in every page's navigation
    csv = pd.read_csv(site.path / DATA_DIR / "plan_scorecard.csv")
    assert len(csv) > 0 and "plan_scorecard.csv" in index
    assert check_links(site.path) == []
