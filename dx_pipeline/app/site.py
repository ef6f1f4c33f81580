"""The DX portal website of published revisions: build it and check its links.

A quarter's step builds the site of the quarter's newest revision and of the half-year and
year that close with it, when agencies may see them (a provisional or final result), and
refreshes the portal's front page; the check reads the built sites back and lists every link
that does not resolve. Pages and links themselves belong to :mod:`dx_pipeline.publish.site`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dx_pipeline.app.settings import Settings
from dx_pipeline.index.period_scoring import periods_closing_with
from dx_pipeline.publish.layout import period_dir, revisions, site_dir, site_root
from dx_pipeline.publish.site.build import SiteBuilt, build_site
from dx_pipeline.publish.site.links import BrokenLink, check_links
from dx_pipeline.publish.site.revision import Revision
from dx_pipeline.publish.site.serve import write_front_page
from dx_pipeline.reference.quarters import Period, Quarter


@dataclass(frozen=True)
class SitesBuilt:
    """The sites a step built, the revisions it left private (not public yet), and the links
    of the built sites that do not resolve."""

    built: list[SiteBuilt] = field(default_factory=list)
    private: list[str] = field(default_factory=list)
    broken: list[BrokenLink] = field(default_factory=list)


def _latest(settings: Settings, period: Period) -> int | None:
    revs = revisions(period_dir(settings.home, period))
    return revs[-1] if revs else None


def build_sites(settings: Settings, periods: list[Period], revision: int | None = None) -> SitesBuilt:
    """Build the site of each period's newest revision (or of ``revision``, for one period)
    that agencies may see; periods with nothing published are skipped."""
    out = SitesBuilt()
    for period in periods:
        rev = revision if revision is not None else _latest(settings, period)
        if rev is None:
            continue
        folder = period_dir(settings.home, period) / f"rev={rev}"
        if not folder.is_dir():
            raise FileNotFoundError(f"{period.label} has no revision {rev} (published: "
                                    f"{revisions(period_dir(settings.home, period))})")
        if not Revision.read(folder).public:
            out.private.append(f"{period.label} rev={rev}")
            continue
        built = build_site(folder)
        out.built.append(built)
        out.broken.extend(check_links(built.path))
    if site_root(settings.home).is_dir():  # no front page before anything is public
        write_front_page(site_root(settings.home))
    return out


def build_quarter_sites(settings: Settings, quarter: Quarter | str) -> SitesBuilt:
    """The sites of the quarter and of the half-year and year that close with it."""
    q = quarter if isinstance(quarter, Quarter) else Quarter.parse(quarter)
    return build_sites(settings, [Period.parse(q), *periods_closing_with(q)])


def quarter_site_links(settings: Settings, quarter: Quarter | str) -> tuple[int, list[BrokenLink]]:
    """(sites checked, broken links) over the built sites of the quarter's newest revisions."""
    q = quarter if isinstance(quarter, Quarter) else Quarter.parse(quarter)
    checked, broken = 0, []
    for period in [Period.parse(q), *periods_closing_with(q)]:
        rev = _latest(settings, period)
        if rev is not None and site_dir(settings.home, period, rev).is_dir():
            checked += 1
            broken.extend(check_links(site_dir(settings.home, period, rev)))
    return checked, broken
