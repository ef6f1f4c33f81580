"""Check a built site's links: every link and resource resolves to a file of the site (and to
an element with that id when it names one), and nothing points outside it, so the site works
offline and from any folder a web server or the portal's CMS puts it in.

Reading HTML only; building pages belongs to :mod:`dx_pipeline.publish.site.build`.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from itertools import compress
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

_TAG = re.compile(r"<([a-zA-Z][a-zA-Z0-9]*)\b([^>]*)>")
_ATTRIBUTE = re.compile(r"""([a-zA-Z_:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""")
LINK_ATTRIBUTES = {"href", "src", "srcset", "action", "poster", "data"}
"""Attributes that name another file (on any element)."""
_KEPT = re.compile("(?:" + "|".join(sorted(LINK_ATTRIBUTES | {"id", "style"})) + r")\s*=")
"""In the lower-cased attribute text of every tag with an attribute :func:`_read` keeps; most of
a page's tags (cells, rows, spans) have none and are not parsed attribute by attribute. (Lower
case and no ``re.I``: a case-insensitive search costs four times as much.)"""


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
    tags = [attributes for _, attributes in _TAG.findall(text)]
    for attributes in compress(tags, map(_KEPT.search, map(str.lower, tags))):
        # an unmatched group is "" here, and only the unquoted form cannot be empty, so the
        # first non-empty group is the value (all empty: an empty quoted value)
        for raw, double, single, bare in _ATTRIBUTE.findall(attributes):
            name, value = raw.lower(), html.unescape(double or single or bare)
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
    files = _Files(root)
    broken = []
    for name, page in pages.items():
        for href in page.links:
            problem = _problem(files, name, href, pages)
            if problem:
                broken.append(BrokenLink(name, href, problem))
    return broken


class _Files:
    """Where a path written on a page leads: the site file's name, or why it names none.

    Memoised per (page folder, path): every page repeats the same few links (the stylesheet,
    the summary, the ranking pages), and resolving one asks the file system for each of its
    folders."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._seen: dict[tuple[PurePosixPath, str], tuple[str | None, str | None]] = {}

    def target(self, folder: PurePosixPath, path: str) -> tuple[str | None, str | None]:
        """(the file's name from the site root, None) or (None, the problem)."""
        key = (folder, path)
        found = self._seen.get(key)
        if found is None:
            found = self._seen[key] = self._resolve(folder / path)
        return found

    def _resolve(self, joined: PurePosixPath) -> tuple[str | None, str | None]:
        root = self.root
        resolved = (root / joined).resolve()
        if root not in resolved.parents and resolved != root:
            return None, "leaves the site's folder"
        if not resolved.is_file():
            return None, "names no file of the site"
        return resolved.relative_to(root).as_posix(), None


def _problem(files: _Files, page: str, href: str, pages: dict[str, _Page]) -> str | None:
    """Why ``href`` on ``page`` does not resolve, or None."""
    parts = urlsplit(href)
    if href.startswith("url(") or parts.scheme or parts.netloc:
        return "points outside the site (the site must work offline)"
    if not parts.path:
        target = page
    else:
        found, problem = files.target(PurePosixPath(page).parent, unquote(parts.path))
        if found is None:
            return problem
        target = found
    if parts.fragment:
        if target not in pages:
            return "names an anchor in a file that is not a page"
        if unquote(parts.fragment) not in pages[target].ids:
            return f"names no element of {target}"
    return None
