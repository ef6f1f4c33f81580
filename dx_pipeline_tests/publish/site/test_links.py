"""The link checker: it finds every kind of link that would leave a reader on an error page or
fetch something from elsewhere, and passes a site whose links all resolve."""

from __future__ import annotations

from dx_pipeline.publish.site.links import check_links


def _site(tmp_path, pages: dict[str, str]):
    for name, body in pages.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f'<!DOCTYPE html><html lang="vi"><body>{body}</body></html>', encoding="utf-8")
    (tmp_path / "site.css").write_text("body{}", encoding="utf-8")
    return tmp_path


def test_links_that_resolve_pass(tmp_path):
    site = _site(tmp_path, {
        "index.html": '<link rel="stylesheet" href="site.css"><a href="don-vi/a.html#fw-x">A</a>'
                      '<a href="#top" id="top">top</a><a href="du-lieu/x.csv" download>x</a>',
        "don-vi/a.html": '<h2 id="fw-x">x</h2><a href="../index.html">home</a>'
                         '<a href="../index.html#top">t</a>',
        "du-lieu/x.csv": "",
    })
    (site / "du-lieu" / "x.csv").write_text("a,b\n", encoding="utf-8")
    assert check_links(site) == []


def test_every_kind_of_broken_link_is_named(tmp_path):
    site = _site(tmp_path, {
        "index.html": '<a href="don-vi/missing.html">gone</a>'
                      '<a href="don-vi/a.html#nowhere">no anchor</a>'
                      '<a href="#nope">no anchor here</a>'
                      "<img src='https://cdn.example/logo.png'>"
                      '<link href="//fonts.example/x.css" rel="stylesheet">'
                      '<a href="../outside.html">out</a>'
                      '<div style="background: url(bg.png)"></div>'
                      "<style>body { background: url(http://x.example/y.png) }</style>",
        "don-vi/a.html": "<p>no ids</p>",
    })
    outside = "points outside the site (the site must work offline)"
    found = {(b.page, b.href): b.problem for b in check_links(site)}
    assert found == {
        ("index.html", "don-vi/missing.html"): "names no file of the site",
        ("index.html", "don-vi/a.html#nowhere"): "names no element of don-vi/a.html",
        ("index.html", "#nope"): "names no element of index.html",
        ("index.html", "https://cdn.example/logo.png"): outside,
        ("index.html", "//fonts.example/x.css"): outside,
        ("index.html", "../outside.html"): "leaves the site's folder",
        ("index.html", "url(bg.png)"): outside,
        ("index.html", "url(http://x.example/y.png)"): outside,
    }
    assert str(check_links(site)[0]).startswith("index.html: ")
