"""The HTML report: every section, escaping, self-containment, and a real render in Chromium."""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import zlib

import pytest

from dx_pipeline.publish.report import SECTIONS

from .conftest import make_inputs, publish

HOSTILE = {
    "STC": "<script>alert('pwn')</script>Sở Tài chính",
    "SYT": '=HYPERLINK("x","Sở Y tế")',
}


@pytest.fixture
def report_html(home):
    pub = publish(home, make_inputs(names=HOSTILE))
    return pub.path / "report.html"


def test_every_section_is_there_vietnamese_first(report_html):
    html = report_html.read_text(encoding="utf-8")
    for anchor, vi, en in SECTIONS:
        m = re.search(rf'<h2 id="{anchor}">(.*?)</h2>', html, re.S)
        assert m, anchor
        assert m.group(1).index(vi) < m.group(1).index(en)
    assert html.startswith("<!DOCTYPE html>") and '<html lang="vi">' in html
    for text in ("▲", "▼", "★", "Trung bình", "Hạ tầng số / Digital infrastructure",
                 "Sở Giáo dục và Đào tạo", "Department of Education and Training",
                 "received_before_finished", "thiếu", "inbox/2025-Q2/STC_baocao.xlsx"):
        assert text in html, text


def test_agency_text_is_escaped(report_html):
    html = report_html.read_text(encoding="utf-8")
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#39;pwn&#39;)&lt;/script&gt;Sở Tài chính" in html
    assert '=HYPERLINK(&#34;x&#34;,&#34;Sở Y tế&#34;)' in html


def test_the_report_is_self_contained(report_html):
    html = report_html.read_text(encoding="utf-8")
    assert "<script" not in html.lower().replace("&lt;script", "")
    assert not re.search(r'(src|href)\s*=\s*"(https?:|//)', html)
    assert "http://" not in html and "https://" not in html
    assert "@import" not in html and "url(" not in html
    assert html.count("<svg") >= 4  # bars per peer group, pillar distribution, intervals


def _png_pixels(data: bytes) -> tuple[int, int, int, bytes]:
    """Decode an 8-bit, non-interlaced RGB(A) PNG into raw pixel bytes (no pillow needed)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        chunk = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunk)
            assert depth == 8 and colour in (2, 6) and interlace == 0
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    out = bytearray()
    prev = bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 0xFF
            elif f == 2:
                line[i] = (line[i] + b) & 0xFF
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif f == 4:
                line[i] = (line[i] + _paeth(a, b, c)) & 0xFF
        out += line
        prev = line
    return width, height, bpp, bytes(out)


def _samples(png) -> tuple[int, int, list[bytes]]:
    """Every 7th pixel as RGB bytes; pillow when installed (test extras), else plain zlib."""
    try:
        from PIL import Image
    except ImportError:
        width, height, bpp, pixels = _png_pixels(png.read_bytes())
        return width, height, [pixels[i : i + 3] for i in range(0, len(pixels) - 3, bpp * 7)]
    with Image.open(png) as img:
        rgb = img.convert("RGB").tobytes()
        return img.width, img.height, [rgb[i : i + 3] for i in range(0, len(rgb) - 3, 21)]


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def test_the_fallback_png_decoder_undoes_all_five_filters():
    """Rows encoded with filters None, Sub, Up, Average and Paeth decode to the same pixels."""
    bpp, width = 3, 4
    rows = [bytes((17 * y + 31 * i) % 256 for i in range(width * bpp)) for y in range(5)]
    raw, prev = b"", bytes(width * bpp)
    for f, row in enumerate(rows):
        enc = bytearray()
        for i, x in enumerate(row):
            a = row[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            pred = (0, a, b, (a + b) // 2, _paeth(a, b, c))[f]
            enc.append((x - pred) & 0xFF)
        raw += bytes([f]) + bytes(enc)
        prev = row

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    png = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, len(rows), 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )
    assert _png_pixels(png) == (width, len(rows), bpp, b"".join(rows))


def _browser() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    return None


@pytest.mark.browser
def test_the_report_renders_in_headless_chromium(report_html, tmp_path):
    browser = _browser()
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("CI is set but no Chromium is installed (apt-get install chromium)")
        pytest.skip("no Chromium installed")
    shot = tmp_path / "report.png"
    common = [
        browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    url = report_html.as_uri()
    subprocess.run(
        [*common, f"--screenshot={shot}", "--window-size=1400,3000", url],
        check=True, capture_output=True, timeout=180,
    )
    width, height, samples = _samples(shot)
    assert (width, height) == (1400, 3000)
    # Non-blank: many pixels differ from white, and the page has colours (bands, charts).
    non_white = sum(1 for s in samples if s != b"\xff\xff\xff")
    assert non_white / len(samples) > 0.05
    assert len(set(samples)) > 50
    lum = [sum(s) / 3 for s in samples]
    mean = sum(lum) / len(lum)
    assert sum((v - mean) ** 2 for v in lum) / len(lum) > 100

    dom = subprocess.run(
        [*common, "--dump-dom", url], check=True, capture_output=True, timeout=180
    ).stdout.decode("utf-8")
    for _, vi, en in SECTIONS:
        assert vi in dom and en in dom, vi
    assert "<script>alert" not in dom
    if os.environ.get("DX_KEEP_SCREENSHOT"):
        shutil.copy(shot, os.environ["DX_KEEP_SCREENSHOT"])


def test_framework_notices_flag_illustrative_and_unstated_provenance_only():
    from dx_pipeline.publish.report import framework_notices

    official = {"id": "a", "title_vi": "A", "provenance": {"illustrative": False, "not_assessed": []}}
    illustrative = {"id": "b", "title_vi": "B", "provenance": {
        "illustrative": True, "statement_vi": "Bộ chỉ số minh họa: …", "statement_en": "Illustrative …",
        "not_assessed": []}}
    unstated = {"id": "c", "title_vi": "C"}
    notices = framework_notices([official, illustrative, unstated])
    assert [n["id"] for n in notices] == ["b", "c"]
    assert notices[1]["statement_en"] == "The framework states no provenance."


def test_report_without_framework_provenance_says_so(report_html):
    banner = report_html.read_text(encoding="utf-8").split('<aside class="banner"')[1].split("</aside>")[0]
    assert "Không nêu nguồn gốc của bộ chỉ số." in banner and "The framework states no provenance." in banner
