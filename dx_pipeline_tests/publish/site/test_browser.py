"""The site in a real headless Chromium, served by a real HTTP server on 127.0.0.1: its pages
render (not blank, in colour) with Vietnamese text, every link a rendered page holds answers,
and the printable summary prints to a PDF within its page budget."""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import threading
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urldefrag, urljoin

import pytest
from PIL import Image

from dx_pipeline.publish.site.build import build_site, summary_page_budget
from dx_pipeline.publish.site.pages import SUMMARY, agency_href, group_href
from dx_pipeline.publish.site.serve import site_server
from dx_pipeline.storage import DxHome

from .conftest import province, publish_province

pytestmark = pytest.mark.browser

VIETNAMESE = set("àáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵđ")
ENGLISH = {"the", "and", "of", "points", "rank", "agency", "agencies", "revision", "published", "reason"}


@pytest.fixture(scope="module")
def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    if os.environ.get("CI"):
        pytest.fail("CI is set but no Chromium is installed (apt-get install chromium)")
    pytest.skip("no Chromium installed")


def _run(chromium: str, profile: Path, *args: str) -> bytes:
    common = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              "--hide-scrollbars", f"--user-data-dir={profile}"]
    return subprocess.run([*common, *args], check=True, capture_output=True, timeout=180).stdout


@pytest.fixture(scope="module")
def served(site):
    """The published sites on a real HTTP server; the base URL of this revision's site."""
    server = site_server(site.path.parent.parent, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host, port = server.server_address[:2]
    yield f"http://{host}:{port}/{site.path.parent.name}/{site.path.name}/"
    server.shutdown()
    server.server_close()


def reading_text(dom: str) -> str:
    """What a Vietnamese reader reads: the page's text without its English companions."""
    body = dom.split("<body", 1)[1]
    body = re.sub(r"<(style|script)[^>]*>.*?</\1>", " ", body, flags=re.S)
    body = re.sub(r'<span class="en" lang="en">[^<]*</span>', " ", body)
    body = re.sub(r'<p class="en" lang="en">.*?</p>', " ", body, flags=re.S)
    words = html.unescape(re.sub(r"<[^>]+>", " ", body))
    return re.sub(r"\S+\.(csv|parquet|xlsx|json)\b", " ", words)  # the data files keep their names


def _is_vietnamese(dom: str) -> None:
    words = [w.lower() for w in re.findall(r"[^\W\d_]+", reading_text(dom))]
    marked = sum(1 for w in words if set(w) & VIETNAMESE)
    assert len(words) > 40 and marked / len(words) > 0.5, (marked, len(words))
    assert not ENGLISH & set(words), ENGLISH & set(words)


def _not_blank(png: Path) -> None:
    with Image.open(png) as img:
        rgb = img.convert("RGB")
        samples = [rgb.getpixel((x, y)) for x in range(0, rgb.width, 17) for y in range(0, rgb.height, 17)]
    non_white = sum(1 for s in samples if s != (255, 255, 255))
    assert non_white / len(samples) > 0.05 and len(set(samples)) > 30, png


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            r.read()
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code


PAGES = ("index.html", group_href("dti_department", "department"), agency_href("SO-01"),
         agency_href("X-001"), SUMMARY)


@pytest.mark.parametrize("page", PAGES)
def test_each_kind_of_page_renders_in_vietnamese_and_its_links_answer(page, chromium, served, tmp_path):
    url = served + page
    dom = _run(chromium, tmp_path / "profile", "--dump-dom", url).decode("utf-8")
    assert '<html lang="vi">' in dom and "KẾT QUẢ TẠM THỜI" in dom
    assert dom.count('class="en"') == dom.count('class="en" lang="en"') > 0  # read out as English
    _is_vietnamese(dom)
    links = {urldefrag(urljoin(url, html.unescape(h)))[0] for h in re.findall(r'href="([^"]*)"', dom)}
    assert links and all(link.startswith(served.split("/quarter=")[0]) for link in links), links
    bad = sorted(link for link in links if _get(link) != 200)
    assert not bad, bad
    shot = tmp_path / "page.png"
    _run(chromium, tmp_path / "profile", f"--screenshot={shot}", "--window-size=1280,1600", url)
    _not_blank(shot)
    if keep := os.environ.get("DX_KEEP_SCREENSHOTS"):
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep) / (page.replace("/", "_") + ".png"))


def pdf_pages(pdf: bytes) -> int:
    """The page count of a PDF: its page tree's /Count (the largest, the root's)."""
    counts = [int(n) for n in re.findall(rb"/Count (\d+)", pdf)]
    assert counts, "not a PDF with a page tree"
    return max(counts)


@pytest.fixture(scope="module")
def large_province(tmp_path_factory):
    """300 communes and 40 departments under three frameworks: a summary of realistic length."""
    home = DxHome(tmp_path_factory.mktemp("large") / "home")
    (publication,) = publish_province(home, province(departments=30, departments_ps=10, communes=300),
                                      quarters=("2025-Q4",))
    return publication


def test_the_summary_prints_within_its_page_budget(chromium, large_province, tmp_path):
    frameworks = large_province.manifest.frameworks
    assert len(frameworks) == 3
    site = build_site(large_province.path)
    for name, page in (("report", large_province.path / "report.html"), ("site", site.path / SUMMARY)):
        pdf = tmp_path / f"{name}.pdf"
        _run(chromium, tmp_path / "profile", "--no-pdf-header-footer", f"--print-to-pdf={pdf}", page.as_uri())
        pages = pdf_pages(pdf.read_bytes())
        assert 3 <= pages <= summary_page_budget(len(frameworks)), (name, pages)
