"""The DX portal site built from a published revision: a page for every agency, every
indicator told in plain Vietnamese, nothing from elsewhere, and the old report's defects gone
(units counted twice, untranslated peer groups, UTC times, English reasons, 0,00/1,00)."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import shutil

import duckdb
import pandas as pd
import pytest

from dx_pipeline.index.appraised import APPRAISAL_COLUMNS
from dx_pipeline.index.builtins import load_builtin
from dx_pipeline.index.engine import score
from dx_pipeline.index.quarter_scoring import kpi_long
from dx_pipeline.publish.site.build import build_site
from dx_pipeline.publish.site.links import check_links
from dx_pipeline.publish.site.pages import DATA_DIR, agency_href, group_href
from dx_pipeline.publish.site.revision import Revision
from dx_pipeline.publish.snapshot import PublicationInput, publish_ranking
from dx_pipeline.reference.quarters import Period
from dx_pipeline.storage import DxHome

from .conftest import HOSTILE, kpis, province

RULE_CODES = ("linear", "goalpost", "categorical", "half_credit", "boolean", "minmax", "zscore",
              "percentile_rank", "distance_to_target", "policy", "(max=")


def text(path) -> str:
    """What a reader sees of a page: the text without tags, entities decoded."""
    raw = path.read_text(encoding="utf-8")
    raw = re.sub(r"<(style|script)[^>]*>.*?</\1>", " ", raw, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", raw)).split())


@pytest.fixture(scope="module")
def revision(province_home) -> Revision:
    return Revision.read(province_home[1][-1].path)


def test_every_agency_has_a_page_linked_from_the_home_page(site, revision):
    home = (site.path / "index.html").read_text(encoding="utf-8")
    codes = sorted(revision.ranking["agency_code"].unique())
    assert site.agencies == len(codes) == 32
    for code in codes:
        page = site.path / agency_href(code)
        assert page.is_file(), code
        assert f'href="{agency_href(code)}"' in home, code
    for (fid, group), part in revision.ranking.groupby(["framework_id", "peer_group"]):
        listing = (site.path / group_href(fid, group)).read_text(encoding="utf-8")
        assert all(f'href="../../{agency_href(c)}"' in listing for c in part["agency_code"]), (fid, group)


def test_units_are_counted_once_however_many_frameworks_score_them(site, revision):
    assert len(revision.ranking) > revision.ranking["agency_code"].nunique()  # communes: two frameworks
    words = text(site.path / "index.html")
    assert f"{revision.ranking['agency_code'].nunique()} đơn vị được đánh giá" in words
    summary = text(site.path / "tom-tat.html")
    assert f"{revision.ranking['agency_code'].nunique()} đơn vị được đánh giá" in summary


def test_peer_groups_have_vietnamese_names(site):
    pages = {"department": ("dti_department", "department"),
             "department-ps": ("dti_department", "department-ps"), "commune": ("dx_commune", "commune")}
    titles = {g: re.search(r"<h1>(.*?)</h1>", (site.path / group_href(*where)).read_text(encoding="utf-8"))[1]
              for g, where in pages.items()}
    assert titles == {"department": "Sở, ban, ngành – Tỉnh Mẫu",
                      "department-ps": "Sở, ban, ngành – Tỉnh Phước Sơn", "commune": "Ủy ban nhân dân cấp xã"}
    for page in site.path.rglob("*.html"):
        assert not re.search(r"nhóm (department|commune|province)", text(page)), page


def test_times_are_vietnam_time_and_say_so(site, revision):
    utc = dt.datetime.fromisoformat(revision.manifest["published_at"].replace("Z", "+00:00"))
    local = utc + dt.timedelta(hours=7)
    for name in ("index.html", "tom-tat.html", agency_href("SO-TC")):
        words = text(site.path / name)
        assert f"{local:%d/%m/%Y %H:%M} (giờ Việt Nam, UTC+7)" in words, name
        assert f"{utc:%H:%M} UTC" not in words


def test_reasons_are_told_in_vietnamese(site, revision, tmp_path):
    assert "Lý do công bố lần này: Công bố lần đầu" in text(site.path / "index.html")
    # a revision written before reasons were stored in both languages is told again from its content
    old = tmp_path / "ranking" / "quarter=2025-Q4" / "rev=1"
    shutil.copytree(revision.path, old)
    manifest = json.loads((old / "manifest.json").read_text(encoding="utf-8"))
    del manifest["reason_vi"]
    (old / "manifest.json").chmod(0o644)
    (old / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    assert Revision.read(old).reason.vi == "Công bố lần đầu"


def test_yes_no_values_are_words_not_numbers(site):
    page = (site.path / agency_href("SO-01")).read_text(encoding="utf-8")
    block = page.split('id="dti_department-NT.2"')[1].split("</dl>")[0]  # plan issued: yes or no
    value = re.search(r"Giá trị <span[^>]*>/ value</span></dt><dd>([^<]*)", block)[1].strip()
    assert value in ("Có", "Không"), value
    for page in site.path.rglob("*.html"):
        assert not re.search(r"<dd>[01],00\b", page.read_text(encoding="utf-8")), page


def test_every_indicator_is_told_in_plain_words_without_rule_codes(site, revision):
    for code in revision.ranking["agency_code"].unique():
        page = site.path / agency_href(code)
        raw = page.read_text(encoding="utf-8")
        words = text(page)
        for rule in RULE_CODES:
            assert rule not in words, (code, rule)
        assert "Ghi chú" not in words, code  # no engine note left unread
        mine = revision.scores[revision.scores["agency_code"] == code]
        scored = mine[mine["level"] == "indicator"]
        assert raw.count('<div class="indicator') == len(scored), code
        assessed = raw.count("Để thêm điểm <span")
        assert assessed == raw.count("Cách tính điểm <span") > 0, code
        assert raw.count("Đo lường gì <span") == len(scored), code


def test_the_site_is_self_contained_and_every_link_resolves(site):
    assert check_links(site.path) == []
    for path in [site.path, *site.path.rglob("*")]:  # a web server runs as another user
        assert path.stat().st_mode & 0o777 == (0o755 if path.is_dir() else 0o644), path
    for path in site.path.rglob("*"):
        if path.suffix in (".html", ".css"):
            content = path.read_text(encoding="utf-8")
            assert "<script" not in content.replace("&lt;script", ""), path
            assert "http://" not in content and "https://" not in content, path
            assert "@import" not in content, path
            assert "<svg" not in content, path  # no chart text to clip: bars are plain HTML


def test_agency_names_are_escaped(site):
    page = (site.path / agency_href("SO-TC")).read_text(encoding="utf-8")
    assert "<script>alert" not in page
    assert html.escape(HOSTILE, quote=True).replace("&#x27;", "&#39;") in page
    assert text(site.path / agency_href("SO-TC")).count(HOSTILE) >= 1


def test_agency_pages_show_the_trend_pillars_and_plan(site):
    words = text(site.path / agency_href("X-001"))
    assert "Kết quả qua các kỳ" in words and "Quý 3/2025" in words and "Quý 4/2025" in words
    assert "Điểm theo chỉ số chính" in words and "Chỉ tiêu kế hoạch" in words
    assert "Không có điều chỉnh nào của thẩm định" in words  # no appraisal in these revisions
    assert "đánh giá theo 2 bộ chỉ số" in words  # dx_commune and qd766


def test_the_provisional_banner_is_on_every_page(site):
    for page in site.path.rglob("*.html"):
        assert "KẾT QUẢ TẠM THỜI – CHƯA ĐƯỢC PHÊ DUYỆT" in text(page), page


def test_data_files_are_linked_and_readable(site, revision):
    home = (site.path / "index.html").read_text(encoding="utf-8")
    for name in ("ranking.csv", "ranking.xlsx", "ranking.parquet", "index_scores.csv", "index_scores.parquet",
                 "agency_kpis.csv", "agency_kpis.parquet", "manifest.json"):
        assert (site.path / DATA_DIR / name).is_file() and f'href="{DATA_DIR}/{name}"' in home, name
    csv = pd.read_csv(site.path / DATA_DIR / "ranking.csv", encoding="utf-8-sig")
    assert len(csv) == len(revision.ranking)
    parquet = site.path / DATA_DIR / "index_scores.parquet"
    rows = len(revision.scores)
    assert duckdb.sql(f"SELECT count(*) FROM read_parquet('{parquet}')").fetchall() == [(rows,)]
    assert len(pd.read_csv(site.path / DATA_DIR / "index_scores.csv", encoding="utf-8-sig")) == rows


def test_building_again_gives_the_same_files(site, revision, tmp_path):
    again = build_site(revision.path, tmp_path / "again")
    first = json.loads((site.path / "site.json").read_text(encoding="utf-8"))
    second = json.loads((again.path / "site.json").read_text(encoding="utf-8"))
    assert first == second and len(first["files"]) == site.files - 1


def test_the_revisions_report_is_the_printable_summary(revision):
    report = (revision.path / "report.html").read_text(encoding="utf-8")
    assert len(report.encode("utf-8")) < 200_000
    assert "Tóm tắt kết quả đánh giá, xếp hạng chuyển đổi số Quý 4/2025" in report
    assert "href=" not in report  # it stands alone, outside the site
    assert check_links(revision.path) == []


def _final_copy(revision: Revision, root) -> Revision:
    """The revision as the appraisal workflow publishes a final result (status, approval,
    adjustments and appeals in the manifest), in a copy of the published folders."""
    ranking = root / "ranking"
    shutil.copytree(revision.path.parent.parent, ranking)
    folder = ranking / revision.path.parent.name / revision.path.name
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    manifest.update(
        status="final",
        approval={"decision_number": "123/QĐ-UBND", "decision_date": "2026-01-20",
                  "approved_by": "Ủy ban nhân dân tỉnh"},
        adjustments=[{"framework_id": "dti_department", "agency_code": "SO-01", "node_id": "NT.2",
                      "verdict_vi": "Không chấp nhận minh chứng", "verdict_en": "Evidence rejected",
                      "value_before_text": "Có", "value_after_text": "", "points_before": 30.0,
                      "points_after": 0.0, "reason": "Kế hoạch chưa được ký ban hành"}],
        appeals=[{"framework_id": "dti_department", "agency_code": "SO-01", "node_id": "NT.2",
                  "argument": "Kế hoạch đã ký ngày 15/3", "decision_vi": "Không chấp nhận",
                  "decision_en": "Rejected", "reason": "Văn bản ký sau kỳ đánh giá"}],
    )
    (folder / "manifest.json").chmod(0o644)
    (folder / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    return Revision.read(folder)


def test_a_final_result_names_its_approval_and_the_adjustments_that_touched_an_agency(revision, tmp_path):
    final = _final_copy(revision, tmp_path)
    built = build_site(final.path)
    assert built.final and built.path == tmp_path / "site" / "quarter=2025-Q4" / "rev=1"
    for page in built.path.rglob("*.html"):
        words = text(page)
        assert "TẠM THỜI" not in words, page
        assert "KẾT QUẢ CHÍNH THỨC" in words and "Quyết định số 123/QĐ-UBND ngày 20/01/2026" in words, page
    agency = text(built.path / agency_href("SO-01"))
    assert "Không chấp nhận minh chứng" in agency and "Kế hoạch chưa được ký ban hành" in agency
    assert "30,00 → 0,00" in agency
    assert "Kế hoạch đã ký ngày 15/3" in agency and "Văn bản ký sau kỳ đánh giá" in agency
    assert "Không có điều chỉnh nào" in text(built.path / agency_href("SO-02"))
    summary = text(built.path / "tom-tat.html")  # the printable summary has a section for them
    section = summary.split("Điều chỉnh khi thẩm định và kiến nghị")[1]
    assert "Không chấp nhận minh chứng" in section and "30,00 → 0,00" in section
    assert "Kế hoạch chưa được ký ban hành" in section and "Kế hoạch đã ký ngày 15/3" in section
    assert "Điều chỉnh khi thẩm định" not in text(revision.path / "report.html")  # none in the revision


def test_a_provisional_result_says_until_when_agencies_may_appeal(revision, tmp_path):
    final = _final_copy(revision, tmp_path)
    manifest = dict(final.manifest, status="provisional", approval=None,
                    appeal_window={"opens": "2026-01-05", "closes": "2026-01-19"})
    provisional = Revision(final.period, final.number, manifest, final.ranking, final.scores, path=final.path)
    assert provisional.public and not provisional.is_final and provisional.approval is None
    (final.path / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    words = text(build_site(final.path).path / "index.html")
    assert "KẾT QUẢ TẠM THỜI" in words and "CHÍNH THỨC" not in words
    assert "Đơn vị có ý kiến về kết quả gửi Sở Khoa học và Công nghệ đến hết ngày 19/01/2026." in words


def test_a_result_under_appraisal_is_not_public(revision, tmp_path):
    final = _final_copy(revision, tmp_path)
    assert final.public
    manifest = dict(final.manifest, status="under_appraisal")
    assert not Revision(final.period, final.number, manifest, final.ranking, final.scores).public


def test_every_adjusted_point_traces_to_its_verdict_and_record(tmp_path):
    """Scores with evaluators' verdicts, published and built: each agency page lists the
    verdicts that changed its points, with the record number, the figure before and after, and
    the reason; the indicator shows the agency's own figure beside the appraised one."""
    registry = province(departments=4, departments_ps=1, communes=0)  # one ends: valid_to not all empty
    fw = load_builtin("dti_department")
    reason = "Chưa có quyết định ban hành kế hoạch; bản nháp chưa ký (xem biên bản)"
    verdicts = pd.DataFrame([
        {"framework_id": fw.id, "agency_code": "SO-01", "node_id": "NT.2", "verdict": "reject", "value": None,
         "points": None, "adjustment_id": 41, "reason": reason},
        {"framework_id": fw.id, "agency_code": "SO-02", "node_id": "NT.3", "verdict": "adjust_points",
         "value": None, "points": 5.0, "adjustment_id": 42, "reason": "Chỉ có 2 bài viết"},
        {"framework_id": fw.id, "agency_code": "SO-03", "node_id": "NT.2", "verdict": "accept", "value": None,
         "points": None, "adjustment_id": 43, "reason": "Đúng"},
    ], columns=APPRAISAL_COLUMNS)
    kpi_rows = kpis(registry, "2025-Q4", seed=5)
    kpi_rows.loc[(kpi_rows["kpi_code"] == "dx_plan_issued"), "value"] = 1.0  # every plan reported issued
    result = score(fw, kpi_long(kpi_rows), registry, quarter="2025-Q4", appraisal=verdicts)
    pub = publish_ranking(DxHome(tmp_path), PublicationInput(
        period=Period.parse("2025-Q4"), ranking=result.ranking, index_scores=result.scores, kpis=kpi_rows,
        registry=registry, frameworks=[fw], inputs=[], trigger="test"))
    site = build_site(pub.path)
    rejected = text(site.path / agency_href("SO-01"))
    adjustments = rejected.split("Điều chỉnh khi thẩm định")[1].split("Kết quả qua các kỳ")[0]
    assert "NT.2 Ban hành kế hoạch CĐS năm" in adjustments and "Không chấp nhận minh chứng" in adjustments
    assert "hồ sơ thẩm định số / record 41" in adjustments and reason in adjustments
    assert "Có 30,00 → 0,00" in adjustments  # the value the evidence was for, the points before and after
    assert f"Thẩm định (hồ sơ số 41): không chấp nhận minh chứng, không có điểm. Lý do: {reason}" in rejected
    assert "Đơn vị tự báo cáo / self-reported Có (30 điểm)" in rejected
    points_set = text(site.path / agency_href("SO-02"))
    assert "hồ sơ thẩm định số / record 42" in points_set and "→ 5,00" in points_set
    accepted = text(site.path / agency_href("SO-03"))  # an accepted figure changes no point
    assert "Không có điều chỉnh nào của thẩm định" in accepted
    assert "Thẩm định (hồ sơ số 43): chấp nhận giá trị đơn vị báo cáo. Lý do: Đúng" in accepted
