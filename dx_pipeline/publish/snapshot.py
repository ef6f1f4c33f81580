"""Immutable published snapshots of a ranking: ``published/ranking/quarter=YYYY-Qn/rev=N/``.

A ranking is an official act: once published, a revision is never changed. A later run that
produces the same content publishes nothing and returns the existing revision (idempotent
reruns, e.g. a retried schedule); a run with different content creates revision N+1 with a
reason. Each revision is written to a hidden temporary folder and renamed into place, so a
reader never sees half a revision; its files are made read-only; ``LATEST`` (a text file)
and ``latest`` (a symlink) name the newest revision. A publication killed half-way leaves only
hidden temporary files, which the next publication of the period removes (``leftovers``).
Half-year and annual rankings go to ``period=2025-H1/`` and ``period=2025/`` the same way.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from dx_pipeline.publish import exports
from dx_pipeline.publish import manifest as mf
from dx_pipeline.publish.layout import (
    LATEST_FILE,
    LATEST_LINK,
    period_dir,
    ranking_root,
    revisions,
    to_frame,
)
from dx_pipeline.publish.site.build import render_summary
from dx_pipeline.publish.site.revision import PUBLIC_STATES, Revision
from dx_pipeline.reference import schemas
from dx_pipeline.reference.frameworks import Framework
from dx_pipeline.reference.quarters import Period, Quarter
from dx_pipeline.storage import DxHome, atomic_path

OUTPUT_FILES = ("ranking.parquet", "ranking.csv", "ranking.xlsx", "index_scores.parquet", "report.html")
"""The files every revision has besides manifest.json (report.html is the printable summary)."""
TABLE_FILES = {
    "agency_kpis": "agency_kpis.parquet",
    "agencies": "agencies.parquet",
    "rank_uncertainty": "rank_uncertainty.parquet",
    "plan_scorecard": "plan_scorecard.parquet",
}
"""Reference tables a revision also holds as Parquet when the publisher passes them (the site
reads them: KPIs against the plan, agencies' names and groups, rank intervals, the province
against its plans)."""

PARQUET_OPTIONS: dict[str, Any] = dict(compression="zstd", compression_level=3)
"""Keyword arguments of ``pq.write_table`` for the published Parquet files."""
RANKING_INPUT_COLUMNS = [
    c for c in schemas.RANKING_SNAPSHOT.names if c not in ("revision", "published_at")
]


@dataclass(frozen=True)
class Publication:
    """One published revision. ``created`` is False when a rerun found identical content."""

    period: str
    kind: str
    revision: int
    path: Path
    published_at: dt.datetime
    manifest: mf.Manifest
    created: bool = True

    @property
    def quarter(self) -> str | None:
        return self.period if self.kind == "quarter" else None

    @property
    def reason(self) -> str:
        """Why this revision was published (given, or what changed since the previous one)."""
        return self.manifest.reason

    def ranking(self) -> pd.DataFrame:
        """The published rows with ``revision`` and ``published_at``, and the period column
        first (``quarter`` for a quarter): what the warehouse ``ranking_snapshot`` stores."""
        df = to_frame(pq.read_table(self.path / "ranking.parquet"))
        df.insert(0, "quarter" if self.kind == "quarter" else "period", self.period)
        return df


def _load(folder: Path, period: Period, revision: int, created: bool = False) -> Publication:
    path = folder / f"rev={revision}"
    m = mf.Manifest.from_dict(mf.read_manifest(path), path / mf.MANIFEST_FILE)
    return Publication(
        period=period.label,
        kind=period.kind,
        revision=revision,
        path=path,
        published_at=_parse_time(m.published_at),
        manifest=m,
        created=created,
    )


def get_publication(
    home: DxHome, period: str | Quarter | Period, revision: int | None = None
) -> Publication:
    """A published revision (the latest when ``revision`` is None)."""
    p = Period.parse(period)
    folder = period_dir(home, p)
    revs = revisions(folder)
    if not revs:
        raise FileNotFoundError(f"nothing published for {p.label} (looked in {folder})")
    rev = revs[-1] if revision is None else int(revision)
    if rev not in revs:
        raise FileNotFoundError(f"{p.label} has no revision {rev} (published: {revs})")
    return _load(folder, p, rev)


def latest_publication(home: DxHome, period: str | Quarter | Period) -> Publication | None:
    """The newest revision of ``period``, or None when nothing of it is published."""
    p = Period.parse(period)
    folder = period_dir(home, p)
    revs = revisions(folder)
    return _load(folder, p, revs[-1]) if revs else None


def public_publication(home: DxHome, period: str | Quarter | Period) -> Publication | None:
    """The newest revision of ``period`` that agencies may see, or None when nothing of it is
    published (a computed result still under appraisal is not published yet)."""
    p = Period.parse(period)
    folder = period_dir(home, p)
    for rev in reversed(revisions(folder)):
        publication = _load(folder, p, rev)
        if mf.read_manifest(publication.path).get("status") in PUBLIC_STATES:
            return publication
    return None


def movement_baseline(home: DxHome, period: str | Quarter | Period, status: str | None) -> Publication | None:
    """The revision of ``period`` a publication with ``status`` measures rank movement against:
    the newest one agencies may see; for a ``computed`` result (not shown to agencies either),
    the newest revision of any state when none is public yet, so the pipeline's own results
    still show how ranks moved since the last quarter it computed."""
    public = public_publication(home, period)
    if public is None and status == "computed":
        return latest_publication(home, period)
    return public


def list_publications(home: DxHome, period: str | Quarter | Period | None = None) -> list[Publication]:
    """Every published revision, by period then revision."""
    root = ranking_root(home)
    folders = [period_dir(home, period)] if period else sorted(root.glob("*=*"))
    out = []
    for folder in folders:
        if not folder.is_dir():
            continue
        p = Period.parse(folder.name.split("=", 1)[1])
        out.extend(_load(folder, p, r) for r in revisions(folder))
    return sorted(out, key=lambda x: (x.kind != "quarter", x.period, x.revision))


@contextlib.contextmanager
def _period_lock(folder: Path) -> Iterator[None]:
    """One publisher per period at a time (two schedules, or a sensor and a person)."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _parse_time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=None)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


def _trigger_text(trigger: Any) -> str:
    if isinstance(trigger, str) and trigger.strip():
        return trigger.strip()
    if isinstance(trigger, Mapping) and trigger:
        return mf.canonical_json(dict(trigger))
    raise ValueError("publish_ranking: trigger is required (e.g. 'schedule', 'cli:user', a run id)")


def _check_columns(name: str, df: pd.DataFrame, required: Sequence[str]) -> None:
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise ValueError(f"publish_ranking: {name} lacks columns {missing}")


def _ranking_frame(ranking: pd.DataFrame, revision: int, published_at: dt.datetime) -> pa.Table:
    df = ranking.drop(columns=[c for c in ("quarter", "period") if c in ranking.columns])
    df = df.assign(revision=revision, published_at=pd.Timestamp(published_at))
    return mf.arrow_for("ranking_snapshot", df)


def _validate(per: Period, ranking: pd.DataFrame, index_scores: pd.DataFrame) -> None:
    for name, df in (("ranking", ranking), ("index_scores", index_scores)):
        for col in ("quarter", "period"):
            if col in df.columns:
                labels = sorted({Period.parse(v).label for v in df[col].dropna().unique()})
                if labels and labels != [per.label]:
                    raise ValueError(
                        f"publish_ranking: {name}.{col} holds {labels}, but this publication is {per.label}"
                    )
    _check_columns("ranking", ranking, RANKING_INPUT_COLUMNS)
    required_scores = [c.name for c in schemas.INDEX_SCORES.columns if not c.nullable]
    _check_columns("index_scores", index_scores, required_scores)
    if ranking.empty:
        raise ValueError("publish_ranking: the ranking has no rows")
    dup = ranking.duplicated(["framework_id", "agency_code"], keep=False)
    if dup.any():
        codes = sorted(ranking.loc[dup, "agency_code"].astype(str).unique())
        raise ValueError(f"publish_ranking: ranking has agencies twice in one framework: {codes}")
    for col in ("framework_id", "peer_group", "agency_code", "agency_name", "total_points", "max_points"):
        bad = ranking[col].isna()
        if bad.any():
            rows = [int(i) for i in ranking.index[bad][:5]]
            raise ValueError(f"publish_ranking: ranking.{col} is empty in rows {rows}")


@dataclass(frozen=True)
class PublicationInput:
    """Everything one publication of a quarter's or a period's ranking is made from.

    The scored tables (``ranking`` and ``index_scores`` are required; the others are published
    for reference and fingerprinted when given), the frameworks (loaded ``Framework`` objects
    or their manifest metadata) and input files (``{path, sha256, rows}``) they came from, and
    who asked (``trigger``: a word or a mapping such as ``{"by": "schedule", "run_id": ...}``).
    ``reason`` defaults to a description of what changed (``reason_vi``: its Vietnamese, when
    the publisher gives both); ``movement_against`` records which publication ``previous_rank``
    was taken from (see :class:`~dx_pipeline.publish.manifest.Manifest`); ``published_at`` (UTC,
    naive) and ``code_version`` are for tests and replays, normally the clock and the running
    code.
    """

    period: Period
    ranking: pd.DataFrame
    index_scores: pd.DataFrame
    frameworks: Sequence[Framework | Mapping[str, Any]]
    inputs: Sequence[Mapping[str, Any]]
    trigger: str | Mapping[str, Any]
    kpis: pd.DataFrame | None = None
    dq: pd.DataFrame | None = None
    uncertainty: pd.DataFrame | None = None
    registry: pd.DataFrame | None = None
    plan_scorecard: pd.DataFrame | None = None
    reason: str | None = None
    reason_vi: str | None = None
    movement_against: Mapping[str, Any] | None = None
    published_at: dt.datetime | None = None
    code_version: Mapping[str, Any] | None = None
    appraisal: Mapping[str, Any] | None = None
    """The appraisal workflow's record of the result (status, approval, appeal window,
    adjustments, appeals, audit digest: :func:`dx_pipeline.publish.appraisal.manifest_record`);
    None for a ranking published without an appraisal."""

    def optional_tables(self) -> dict[str, pd.DataFrame | None]:
        """The reference tables by their warehouse name (None when not given)."""
        return {
            "agency_kpis": self.kpis,
            "dq_results": self.dq,
            "rank_uncertainty": self.uncertainty,
            "agencies": self.registry,
            "plan_scorecard": self.plan_scorecard,
        }


@dataclass(frozen=True)
class _Content:
    """What decides whether a publication is new, normalised once."""

    content: dict
    sha256: str
    frameworks: list[dict]
    inputs: list[dict]
    code_version: dict
    trigger: str


def _content(data: PublicationInput) -> _Content:
    """The publication's content (every table, framework, input file and the package version;
    not the time, trigger or git commit) and its hash."""
    _validate(data.period, data.ranking, data.index_scores)
    fws = mf.normalise_frameworks(data.frameworks)
    ins = mf.normalise_inputs(data.inputs)
    version = dict(data.code_version) if data.code_version else mf.code_version()
    tables = {
        "ranking": mf.table_fingerprint(None, _ranking_frame(data.ranking, 0, dt.datetime(1970, 1, 1))),
        "index_scores": mf.table_fingerprint("index_scores", data.index_scores),
        **{name: mf.table_fingerprint(name, df) for name, df in data.optional_tables().items()},
    }
    content = mf.content_of(
        period=data.period.label, tables=tables, frameworks=fws, inputs=ins,
        package_version=str(version.get("package")), appraisal=data.appraisal,
    )
    return _Content(content, mf.content_sha256(content), fws, ins, version, _trigger_text(data.trigger))


def publish_ranking(home: DxHome, data: PublicationInput) -> Publication:
    """Publish ``data``'s ranking of its quarter or period (2025-Q2, 2025-H1, 2025) immutably.

    Returns the new revision, or the latest one unchanged (``created=False``) when its content
    (every table, framework, input file and the package version) is identical.
    """
    content = _content(data)
    folder = period_dir(home, data.period)
    with _period_lock(folder):
        _remove_leftovers(folder)
        existing = revisions(folder)
        latest = _load(folder, data.period, existing[-1]) if existing else None
        if latest is not None and latest.manifest.content_sha256 == content.sha256:
            _point_latest(folder, latest.revision)
            return replace(latest, created=False)
        revision = (existing[-1] + 1) if existing else 1
        reason = _reasons(data.reason, data.reason_vi, latest.manifest.content if latest else None,
                          content.content)
        when = (data.published_at or _now()).replace(microsecond=0)
        if when.tzinfo is not None:
            when = when.astimezone(dt.UTC).replace(tzinfo=None)
        tmp = Path(tempfile.mkdtemp(prefix=f".rev={revision}.", dir=folder))
        try:
            manifest = _write_revision(tmp, data, content, revision, latest, when, reason)
            (tmp / mf.MANIFEST_FILE).write_text(mf.manifest_text(manifest.to_dict()), encoding="utf-8")
            for child in tmp.iterdir():
                child.chmod(0o444)
            tmp.chmod(0o755)
            os.rename(tmp, folder / f"rev={revision}")
        except BaseException:
            _remove_tree(tmp)
            raise
        _point_latest(folder, revision)
        return _load(folder, data.period, revision, created=True)


def _reasons(
    given: str | None, given_vi: str | None, previous: Mapping | None, content: Mapping
) -> tuple[str, str]:
    """(reason, reason_vi): the publisher's words (in both, unless given in Vietnamese too),
    or what changed told in each language."""
    text = (given or "").strip()
    if text:
        return text, (given_vi or "").strip() or text
    return mf.describe_changes(previous, content), mf.describe_changes_vi(previous, content)


def _write_revision(
    tmp: Path,
    data: PublicationInput,
    content: _Content,
    revision: int,
    latest: Publication | None,
    when: dt.datetime,
    reason: tuple[str, str],
) -> mf.Manifest:
    """Write the revision's files into ``tmp``; return its manifest (not yet written)."""
    per = data.period
    tables = {"ranking": _ranking_frame(data.ranking, revision, when),
              "index_scores": mf.arrow_for("index_scores", data.index_scores),
              **{name: mf.arrow_for(name, df) for name, df in data.optional_tables().items()
                 if name in TABLE_FILES and df is not None}}
    manifest = mf.Manifest(
        kind=per.kind,
        period=per.label,
        quarters=tuple(q.label for q in per.quarters),
        revision=revision,
        previous_revision=latest.revision if latest else None,
        published_at=when.isoformat() + "Z",
        trigger=content.trigger,
        reason=reason[0],
        reason_vi=reason[1],
        movement_against=dict(data.movement_against or {}),
        appraisal=dict(data.appraisal or {}),
        content_sha256=content.sha256,
        content=content.content,
        code_version=content.code_version,
        frameworks=tuple(content.frameworks),
        inputs=tuple(content.inputs),
        row_counts={
            "ranking": tables["ranking"].num_rows,
            "index_scores": tables["index_scores"].num_rows,
            **{name: None if df is None else len(df) for name, df in data.optional_tables().items()},
        },
    )
    _write_outputs(tmp, per, tables, manifest)
    outputs = {p.name: {"sha256": mf.sha256_file(p), "bytes": p.stat().st_size}
               for p in sorted(tmp.iterdir())}
    return replace(manifest, outputs=outputs)


def _write_outputs(folder: Path, per: Period, tables: Mapping[str, pa.Table], manifest: mf.Manifest) -> None:
    """The revision's files: its tables as Parquet, the ranking as CSV and Excel, and the
    printable summary as report.html (read from the same tables and manifest as the site)."""
    pq.write_table(tables["ranking"], folder / "ranking.parquet", **PARQUET_OPTIONS)
    pq.write_table(tables["index_scores"], folder / "index_scores.parquet", **PARQUET_OPTIONS)
    for name, file in TABLE_FILES.items():
        if name in tables:
            pq.write_table(tables[name], folder / file, **PARQUET_OPTIONS)
    column = "quarter" if per.kind == "quarter" else "period"
    frames = {name: to_frame(t) for name, t in tables.items()}
    ranking = frames["ranking"].copy()
    ranking.insert(0, column, per.label)
    exports.write_csv(ranking, folder / "ranking.csv")
    scores = _with_period(frames["index_scores"].copy(), column, per)
    sheets = [("Xếp hạng - Ranking", "ranking_snapshot", ranking),
              ("Điểm chi tiết - Scores", "index_scores", scores)]
    if "plan_scorecard" in frames:
        sheets.append(("Kế hoạch - Plans", "plan_scorecard", frames["plan_scorecard"]))
    exports.write_excel(
        folder / "ranking.xlsx",
        sheets,
        created=dt.datetime.fromisoformat(manifest.published_at[:-1]),
        title=f"Xếp hạng chuyển đổi số {per.title_vi} / DX ranking {per.title_en}",
    )
    revision = Revision(
        period=per, number=manifest.revision, manifest=manifest.to_dict(), ranking=frames["ranking"],
        scores=frames["index_scores"], kpis=frames.get("agency_kpis"), agencies=frames.get("agencies"),
        uncertainty=frames.get("rank_uncertainty"), plans=frames.get("plan_scorecard"),
    )
    (folder / "report.html").write_text(render_summary(revision), encoding="utf-8")


def _with_period(df: pd.DataFrame, column: str, per: Period) -> pd.DataFrame:
    df.insert(0, column, per.label)
    return df


def _point_latest(folder: Path, revision: int) -> None:
    """Move ``LATEST`` and the ``latest`` symlink to ``revision``, each atomically."""
    latest_file = folder / LATEST_FILE
    text = f"rev={revision}\n"
    if not latest_file.exists() or latest_file.read_text(encoding="utf-8") != text:
        with atomic_path(latest_file) as tmp:
            tmp.write_text(text, encoding="utf-8")
            tmp.chmod(0o644)
    link = folder / LATEST_LINK
    if os.path.islink(link) and os.readlink(link) == f"rev={revision}":
        return
    tmp_link = folder / f".{LATEST_LINK}.{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        tmp_link.unlink()
    try:
        os.symlink(f"rev={revision}", tmp_link)
        os.replace(tmp_link, link)
    except OSError:  # file systems without symlinks: LATEST is enough
        with contextlib.suppress(FileNotFoundError):
            tmp_link.unlink()


def leftovers(folder: Path) -> list[Path]:
    """What interrupted publications left in a period folder: hidden temporary revision
    folders (``.rev=N.*``), ``latest`` links and ``LATEST`` files (not the ``.lock`` file).
    Every one of them is written under the period lock, so once the lock is held they are all
    stale."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.name.startswith(".") and p.name != ".lock")


def _remove_leftovers(folder: Path) -> None:
    """Delete the leftovers of interrupted publications; the caller holds the period lock."""
    for path in leftovers(folder):
        if path.is_dir() and not path.is_symlink():
            _remove_tree(path)
        else:
            path.unlink(missing_ok=True)


def _remove_tree(path: Path) -> None:
    def _writable(func, p, _exc):
        os.chmod(p, 0o755)
        func(p)

    if path.exists():
        shutil.rmtree(path, onerror=_writable)
