"""Build the static website of one published revision: plain files any web server or the
portal's CMS can host, no script and nothing fetched from elsewhere, so it works offline.

The site is derived from the revision folder alone (and the revisions published before it, for
the trend): building it again gives the same bytes. It is written to a hidden folder and
swapped into place, so a web server never serves half a site. What pages say belongs to
:mod:`dx_pipeline.publish.site.pages`; checking links to :mod:`dx_pipeline.publish.site.links`.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import jinja2
from markupsafe import Markup

from dx_pipeline.publish import exports
from dx_pipeline.publish.layout import LATEST_LINK
from dx_pipeline.publish.manifest import sha256_file
from dx_pipeline.publish.site import pages, words
from dx_pipeline.publish.site.revision import Revision, history
from dx_pipeline.reference.frameworks import Name

TEMPLATES = Path(__file__).resolve().parent / "templates"
CSS = "site.css"
SITE_MANIFEST = "site.json"
INDEX = "index.html"
CSV_OF = {
    "index_scores.parquet": ("index_scores.csv", "scores"),
    "agency_kpis.parquet": ("agency_kpis.csv", "kpis"),
    "plan_scorecard.parquet": ("plan_scorecard.csv", "plans"),
}
"""Parquet files of a revision also offered as CSV on the site (for Excel users): the CSV's
name and the Revision attribute holding the table."""


SUMMARY_PAGES_PER_FRAMEWORK = 2
"""The printable summary's budget: a front page and two A4 pages per framework, its peer groups'
rankings in two or three columns (up to about 400 units a framework)."""


def summary_page_budget(frameworks: int) -> int:
    """The most pages the printable summary of ``frameworks`` frameworks may print on."""
    return 1 + SUMMARY_PAGES_PER_FRAMEWORK * frameworks


@dataclass(frozen=True)
class SiteBuilt:
    """A built site: where, for which revision, and what it holds."""

    path: Path
    period: str
    revision: int
    final: bool
    pages: int
    agencies: int
    files: int


def environment() -> jinja2.Environment:
    """The Jinja environment of the site's templates (autoescaped, strict)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=jinja2.select_autoescape(["html", "j2"], default=True),
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
    )
    env.filters.update(num=words.num_vi, num_en=words.num_en, pct=words.pct_vi, pts=words.points_vi)
    env.globals.update(Name=Name, css=lambda: Markup((TEMPLATES / CSS).read_text(encoding="utf-8")))
    return env


def render_summary(rev: Revision, *, in_site: bool = False) -> str:
    """The printable summary of a revision: the ranking of every framework and peer group on a
    few pages (agency pages are separate). ``in_site`` links agencies to their pages; without
    it the page stands alone (the revision's ``report.html``)."""
    all_groups = pages.groups(rev)
    return environment().get_template("summary.html.j2").render(
        **pages.common(rev), root="", in_site=in_site, frameworks=pages.summary_groups(all_groups),
        notices=pages.notices(rev), n_agencies=int(rev.ranking["agency_code"].nunique()),
        n_ranked=int(rev.ranking.loc[rev.ranking["rank"].notna(), "agency_code"].nunique()),
        appraisal=pages.summary_appraisal(rev),
    )


def default_site_dir(revision_folder: Path) -> Path:
    """``published/site/<period>/rev=N`` for ``published/ranking/<period>/rev=N``."""
    folder = Path(revision_folder).resolve()
    return folder.parents[2] / "site" / folder.parent.name / folder.name


def build_site(revision_folder: str | Path, out: str | Path | None = None) -> SiteBuilt:
    """Build the site of the revision in ``revision_folder`` into ``out`` (by default
    ``published/site/<period>/rev=N``, with ``latest`` pointing at the newest), replacing any
    earlier build of it."""
    rev = Revision.read(revision_folder)
    target = Path(out) if out is not None else default_site_dir(Path(revision_folder))
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        built = _write_site(rev, tmp)
        _swap(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if out is None:
        _point_latest(target.parent)
    return SiteBuilt(target, rev.period.label, rev.number, rev.is_final, *built)


def _write_site(rev: Revision, folder: Path) -> tuple[int, int, int]:
    """Every page, the stylesheet, the data files and site.json; (pages, agencies, files)."""
    env = environment()
    all_groups = pages.groups(rev)
    agencies = pages.agency_pages(rev, history(rev))
    shared = {**pages.common(rev), "notices": pages.notices(rev)}
    downloads = _copy_data(rev, folder / pages.DATA_DIR)
    written = {
        pages.SUMMARY: render_summary(rev, in_site=True),
        INDEX: env.get_template("index.html.j2").render(
            **shared, root="", frameworks=pages.summary_groups(all_groups),
            directory=pages.directory(agencies), downloads=downloads,
            n_agencies=len(agencies), n_ranked=len({r.code for g in all_groups for r in g.rows if r.rank}),
        ),
    }
    if shared["has_plans"]:
        written[pages.PLANS] = env.get_template("plans.html.j2").render(
            **shared, root="", plans=pages.plan_blocks(rev))
    for group in all_groups:
        written[group.href] = env.get_template("group.html.j2").render(**shared, root="../../", group=group)
    for page in agencies:
        written[page.href] = env.get_template("agency.html.j2").render(**shared, root="../", page=page)
    for name, text in written.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    shutil.copyfile(TEMPLATES / CSS, folder / CSS)
    _readable(folder)
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    record = {"period": rev.period.label, "revision": rev.number, "final": rev.is_final,
              "pages": sorted(written), "files": {f: sha256_file(folder / f) for f in files}}
    text = json.dumps(record, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
    (folder / SITE_MANIFEST).write_text(text, encoding="utf-8")
    (folder / SITE_MANIFEST).chmod(0o644)
    return len(written), len(agencies), len(files) + 1


def _readable(folder: Path) -> None:
    """Every file readable and every folder listable by anyone: a web server seldom runs as the
    user who built the site (atomic writes create their files for their owner only)."""
    for path in folder.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)


def _copy_data(rev: Revision, folder: Path) -> list[dict]:
    """The revision's data files (and CSV copies of its Parquet tables) for download."""
    assert rev.path is not None
    folder.mkdir(parents=True)
    names = [n for n in rev.outputs if n != "report.html"] + ["manifest.json"]
    for name in names:
        shutil.copyfile(rev.path / name, folder / name)
        if name in CSV_OF:
            csv_name, table = CSV_OF[name]
            exports.write_csv(getattr(rev, table), folder / csv_name)
    out = []
    for name in sorted(p.name for p in folder.iterdir()):
        size = (folder / name).stat().st_size
        out.append({"href": f"{pages.DATA_DIR}/{name}", "name": name,
                    "what": pages.DATA_WORDS.get(name, Name(name, name)),
                    "size": f"{words.num_vi(size / 1024, 0)} KB" if size < 1024**2 else
                    f"{words.num_vi(size / 1024**2, 1)} MB"})
    return out


def _swap(new: Path, target: Path) -> None:
    """Put ``new`` where ``target`` is, the old build removed after the rename."""
    new.chmod(0o755)
    if not target.exists():
        os.rename(new, target)
        return
    old = target.with_name(f".{target.name}.old.{os.getpid()}")
    os.rename(target, old)
    os.rename(new, target)
    shutil.rmtree(old, ignore_errors=True)


def _point_latest(folder: Path) -> None:
    """``latest`` -> the newest ``rev=N`` site of a period."""
    revs = sorted(int(p.name[4:]) for p in folder.glob("rev=*") if p.is_dir() and p.name[4:].isdigit())
    if not revs:
        return
    link, tmp = folder / LATEST_LINK, folder / f".{LATEST_LINK}.{os.getpid()}"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(f"rev={revs[-1]}", tmp)
    os.replace(tmp, link)
