"""Check a built site's links: every link and resource resolves to a file of the site (and to
an element with that id when it names one), and nothing points outside it, so the site works
offline and from any folder a web server or the portal's CMS puts it in.

Reading HTML only; building pages belongs to :mod:`dx_pipeline.publish.site.build`.
"""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

LINK_ATTRIBUTES = {
    "a": "href", "link": "href", "img": "src", "script": "src", "iframe": "src", "source": "src",
}
"""The attribute of each element that names another file."""


@dataclass(frozen=True)
class BrokenLink:
    """A link that does not resolve: the page it is on, the link as written, and why."""

    page: str
    href: str
    problem: str

    def __str__(self) -> str:
        return f"{self.page}: {self.href!r} {self.problem}"


class _Page(HTMLParser):
    """The links and the element ids of one HTML page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.ids.add(str(values["id"]))
        wanted = LINK_ATTRIBUTES.get(tag)
        if wanted and values.get(wanted) is not None:
            self.links.append(str(values[wanted]))
        if "style" in values and "url(" in str(values["style"]):
            self.links.append("url(" + str(values["style"]).split("url(", 1)[1].split(")", 1)[0] + ")")


def _read(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


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
