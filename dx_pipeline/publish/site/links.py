"""Check a built site's links: every link and resource resolves to a file of the site (and to
an element with that id when it names one), and nothing points outside it, so the site works
offline and from any folder a web server or the portal's CMS puts it in.

Reading HTML only; building pages belongs to :mod:`dx_pipeline.publish.site.build`.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

_TAG = re.compile(r"<([a-zA-Z][a-zA-Z0-9]*)\b([^>]*)>")
_ATTRIBUTE = re.compile(r"""([a-zA-Z_:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""")
LINK_ATTRIBUTES = {"href", "src", "srcset", "action", "poster", "data"}
"""Attributes that name another file (on any element)."""


@dataclass(frozen=True)
class BrokenLink:
    """A link that does not resolve: the page it is on, the link as written, and why."""

    page: str
    href: str
    problem: str

    def __str__(self) -> str:
        return f"{self.page}: {self.href!r} {self.problem}"


@dataclass
class _Page:
    """The links and the element ids of one HTML page."""

    links: list[str]
    ids: set[str]


def _read(path: Path) -> _Page:
    """Every link-naming attribute, inline style ``url()`` and element id of a page (a scan of
    its tags: the site's pages are generated, well-formed HTML)."""
    page = _Page([], set())
    text = path.read_text(encoding="utf-8")
    for tag in _TAG.finditer(text):
        for m in _ATTRIBUTE.finditer(tag.group(2)):
            name, value = m.group(1).lower(), html.unescape(next(v for v in m.groups()[1:] if v is not None))
            if name == "id":
                page.ids.add(value)
            elif name in LINK_ATTRIBUTES:
                page.links.append(value)
            elif name == "style" and "url(" in value:
                page.links.append("url(" + value.split("url(", 1)[1].split(")", 1)[0] + ")")
    page.links += [f"url({u})" for u in re.findall(r"url\(([^)]*)\)", _styles(text))]
    return page


def _styles(text: str) -> str:
    """The text of the page's ``<style>`` elements (a stylesheet may fetch with ``url()``)."""
    return " ".join(re.findall(r"<style[^>]*>(.*?)</style>", text, re.S | re.I))


def check_links(site: str | Path) -> list[BrokenLink]:
    """Every broken link of the site in folder ``site`` (an empty list when all resolve)."""
    root = Path(site).resolve()
    pages = {p.relative_to(root).as_posix(): _read(p) for p in sorted(root.rglob("*.html"))}
    broken = []
    for name, page in pages.items():
        for href in page.links:
            problem = _problem(root, name, href, pages)
            if problem:
                broken.append(BrokenLink(name, href, problem))
    return broken


def _problem(root: Path, page: str, href: str, pages: dict[str, _Page]) -> str | None:
    """Why ``href`` on ``page`` does not resolve, or None."""
    parts = urlsplit(href)
    if href.startswith("url(") or parts.scheme or parts.netloc:
        return "points outside the site (the site must work offline)"
    if not parts.path:
        target = page
    else:
        joined = PurePosixPath(page).parent / unquote(parts.path)
        resolved = (root / joined).resolve()
        if root not in resolved.parents and resolved != root:
            return "leaves the site's folder"
        if not resolved.is_file():
            return "names no file of the site"
        target = resolved.relative_to(root).as_posix()
    if parts.fragment:
        if target not in pages:
            return "names an anchor in a file that is not a page"
        if unquote(parts.fragment) not in pages[target].ids:
            return f"names no element of {target}"
    return None
