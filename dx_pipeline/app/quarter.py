"""The stages of one quarter, each a function of the settings and the quarter.

Every stage reads its inputs from the warehouse partitions of the same quarter (and, where a
rule needs it, the previous quarter's, which the Dagster wiring declares as a dependency),
calls one domain function, writes its outputs atomically and returns a plain record of what
it wrote. The Dagster assets (:mod:`dx_pipeline.defs.assets`) and the command line call these
functions and nothing else, so a quarter is computed the same way from either.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from dx_pipeline.app.appraisal_db import stored_verdicts
from dx_pipeline.app.settings import Settings
from dx_pipeline.index.quarter_scoring import (
    QuarterScores,
    kpi_long,
    provincial_frameworks,
    rank_scored,
    same_points,
    score_quarter,
)
from dx_pipeline.index.uncertainty import rank_uncertainty
from dx_pipeline.kpis.compute import compute_agency_kpis
from dx_pipeline.kpis.plan_scorecard import plan_scorecard
from dx_pipeline.kpis.portal_cache import cached_portal_kpis
from dx_pipeline.publish.snapshot import (
    Publication,
    PublicationInput,
    latest_publication,
    movement_baseline,
    publish_ranking,
)
from dx_pipeline.quality.results import write_dq_results
from dx_pipeline.quality.runner import CheckOutcome, run_suite
from dx_pipeline.reference.catalogue import load_catalogue
from dx_pipeline.reference.frameworks import Framework
from dx_pipeline.reference.quarters import FIRST_QUARTER, Period, Quarter
from dx_pipeline.reference.registry import active_agencies, load_registry
from dx_pipeline.reference.schemas import contract_columns
from dx_pipeline.reference.targets import load_plans
from dx_pipeline.sources.inbox import record_taken_in
from dx_pipeline.sources.portal_client import PortalClient, pull_portal_quarter
from dx_pipeline.sources.portal_files import ingest_portal_files
from dx_pipeline.sources.portal_ingest import PortalIngestResult
from dx_pipeline.sources.quarter_inputs import quarter_input_files
from dx_pipeline.sources.submissions import ingest_submissions
from dx_pipeline.storage import read_partition, write_partition
from dx_pipeline.storage.home import DxHome

PORTAL_SOURCES = ("files", "http")
"""Where a quarter's dossiers come from: the export files or the portal's API."""


@dataclass(frozen=True)
class Written:
    """One warehouse partition a stage wrote."""

    table: str
    path: Any  # Path, or UPath for a warehouse in object storage
    rows: int


@dataclass(frozen=True)
class AgenciesLoaded:
    """The registry as of a quarter: every row written, and who is active in the quarter."""

    agencies: Written
    active_by_level: dict[str, int]


@dataclass(frozen=True)
class SubmissionsIngested:
    """Accepted and rejected submission rows of a quarter, with what a clerk needs to know."""

    accepted: Written
    rejects: Written
    agencies_reporting: int
    late_rows: int
    files_read: int
    reject_sample: pd.DataFrame


@dataclass(frozen=True)
class KpisComputed:
    """The quarter's agency KPIs."""

    kpis: Written
    agencies: int
    kpi_codes: int
    share_of_targets_met: float | None
    portal_kpis_reused: bool = False
    """The dossier scan was skipped: the portal partitions are the bytes last computed from."""


@dataclass(frozen=True)
class PlansScored:
    """The province against its plans: the quarter's scorecard, and the year's with Q4."""

    scorecard: Written
    periods: list[str]
    status: dict[str, dict[str, int]]
    """Period -> status (met, not_met, no_data, ...) -> targets."""
    skipped: dict[str, str] = field(default_factory=dict)
    """Period -> why it was not scored (a year whose quarters are not all computed)."""
    preview: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)


@dataclass(frozen=True)
class ScoresComputed:
    """The quarter's index scores under every framework in force."""

    scores: Written
    frameworks: dict[str, str]
    agencies_scored: dict[str, int]
    provenance: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Framework id -> its provenance record (illustrative or not, source, not assessed)."""


@dataclass(frozen=True)
class QuarterPublished:
    """A quarter's ranking: the publication (new revision or the unchanged latest) and the
    ``ranking_snapshot`` partition that mirrors it."""

    ranking: Written
    publication: Publication
    preview: pd.DataFrame = field(repr=False)
    provenance: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Framework id -> its provenance record, for every framework ranked."""
    republished: list[QuarterPublished] = field(default_factory=list)
    """The later quarters published again because this publication changed what their
    movement is measured against (see :func:`publish_quarter`)."""


def _quarter(quarter: Quarter | str) -> Quarter:
    return quarter if isinstance(quarter, Quarter) else Quarter.parse(quarter)


def try_read(home: DxHome, table: str, quarter: Quarter) -> pd.DataFrame | None:
    """A partition if it has been materialized, else None (first quarter, optional inputs)."""
    try:
        return read_partition(home, table, quarter)
    except FileNotFoundError:
        return None


def load_agencies(settings: Settings, quarter: Quarter | str) -> AgenciesLoaded:
    """Read the registry file and store it as the quarter's ``agencies`` partition."""
    q = _quarter(quarter)
    registry = load_registry(settings.registry)
    path = write_partition(settings.home, "agencies", q, registry)
    active = active_agencies(registry, q)
    by_level = {str(k): int(v) for k, v in active["level"].value_counts().sort_index().items()}
    return AgenciesLoaded(Written("agencies", path, len(registry)), by_level)


def ingest_portal(settings: Settings, quarter: Quarter | str, source: str = "files") -> PortalIngestResult:
    """Read the quarter's dossiers from export files or the portal API into ``portal_dossiers``,
    ``portal_rejects`` and ``procedures``."""
    q = _quarter(quarter)
    if source == "http":
        url, token = settings.portal.require()
        client = PortalClient(url, token, policy=settings.portal.retry)
        return pull_portal_quarter(settings.home, q, client=client)
    if source == "files":
        return ingest_portal_files(settings.home, q)
    raise ValueError(f"portal source must be one of {', '.join(PORTAL_SOURCES)}, got {source!r}")


def ingest_quarter_submissions(settings: Settings, quarter: Quarter | str) -> SubmissionsIngested:
    """Read the quarter's inbox and the reporting database into ``agency_submissions`` and
    ``submission_rejects``."""
    q = _quarter(quarter)
    registry = read_partition(settings.home, "agencies", q)
    result = ingest_submissions(settings.home, q, registry, reporting_db_url=settings.reporting_db())
    accepted, rejects = result.accepted, result.rejects
    accepted_path = write_partition(settings.home, "agency_submissions", q, accepted)
    rejects_path = write_partition(settings.home, "submission_rejects", q, rejects)
    record_taken_in(settings.home, q, result.versions)  # the inbox sensor's "already read"
    sample = rejects[["source_ref", "field", "value", "reason"]] if len(rejects) else rejects
    return SubmissionsIngested(
        accepted=Written("agency_submissions", accepted_path, len(accepted)),
        rejects=Written("submission_rejects", rejects_path, len(rejects)),
        agencies_reporting=int(accepted["agency_code"].nunique()) if len(accepted) else 0,
        late_rows=int(accepted["is_late"].fillna(False).sum()) if len(accepted) else 0,
        files_read=len(result.files),
        reject_sample=sample,
    )


def compute_quarter_kpis(settings: Settings, quarter: Quarter | str) -> KpisComputed:
    """Every agency's KPIs of the quarter, from its dossiers and its submissions (the dossier
    scan reused when the portal partitions are unchanged, :mod:`dx_pipeline.kpis.portal_cache`)."""
    q = _quarter(quarter)
    home = settings.home
    registry = read_partition(home, "agencies", q)
    submissions = read_partition(home, "agency_submissions", q)
    portal = cached_portal_kpis(home, q)
    kpis = compute_agency_kpis(home, q, registry, submissions, own_portal=portal.table)
    path = write_partition(home, "agency_kpis", q, kpis)
    met = kpis["target_met"].dropna()
    return KpisComputed(
        kpis=Written("agency_kpis", path, len(kpis)),
        agencies=int(kpis["agency_code"].nunique()),
        kpi_codes=int(kpis["kpi_code"].nunique()),
        share_of_targets_met=round(float(met.mean()), 4) if len(met) else None,
        portal_kpis_reused=portal.hit,
    )


def _stored_kpis(home: DxHome, period: Period) -> tuple[pd.DataFrame | None, list[str]]:
    """The period's stored ``agency_kpis`` rows (with ``quarter``) and the quarters missing."""
    frames = {q.label: try_read(home, "agency_kpis", q) for q in period.quarters}
    missing = [label for label, df in frames.items() if df is None]
    present = [df for df in frames.values() if df is not None]
    return (pd.concat(present, ignore_index=True) if present else None), missing


def score_against_plans(settings: Settings, quarter: Quarter | str) -> PlansScored:
    """Every plan target against the province for the quarter and, with Q4, for its year,
    into ``plan_scorecard``; the trend against the period before, recomputed from its KPIs.

    A year is scored only when all four of its quarters' KPIs are stored: a year figure from
    part of the year would pass for the whole.
    """
    q = _quarter(quarter)
    home = settings.home
    registry = read_partition(home, "agencies", q)
    plans, catalogue = load_plans(), load_catalogue()
    periods = [Period.parse(q)] + ([Period("year", str(q.year))] if q.q == 4 else [])
    frames, skipped = [], {}
    for period in periods:
        kpis, missing = _stored_kpis(home, period)
        if kpis is None or missing:
            skipped[period.label] = f"agency_kpis of {', '.join(missing)} not computed"
            continue
        before, before_missing = _stored_kpis(home, period.previous)
        previous = None
        if before is not None and not before_missing:
            previous = plan_scorecard(before, registry, plans, period.previous, catalogue)
        frames.append(plan_scorecard(kpis, registry, plans, period, catalogue, previous=previous))
    if not frames:
        raise FileNotFoundError(f"plan scorecard of {q.label}: {skipped[q.label]}")
    table = pd.concat(frames, ignore_index=True)
    path = write_partition(home, "plan_scorecard", q, table)
    status = {
        str(label): {str(k): int(v) for k, v in part["status"].value_counts().sort_index().items()}
        for label, part in table.groupby("period", sort=False)
    }
    preview = table[["period", "plan_id", "kpi_code", "level", "target", "value", "status", "trend"]]
    return PlansScored(Written("plan_scorecard", path, len(table)), list(status), status, skipped, preview)


def scorecard_coverage(settings: Settings, quarter: Quarter | str) -> tuple[str, str, list[str]]:
    """Whether the stored scorecard has one row per plan target and province for each period,
    each with a value or a stated reason: ``("complete" | "no_data" | "incomplete", what was
    found, the targets left without data in words)``."""
    q = _quarter(quarter)
    table = read_partition(settings.home, "plan_scorecard", q)
    plans = load_plans()
    expected = sum(len(p.targets) for p in plans.plans.values())
    problems = []
    for (period, province), part in table.groupby(["period", "province_code"], sort=True):
        if len(part) != expected or part.duplicated(["plan_id", "kpi_code", "level", "target_year"]).any():
            problems.append(f"{period} {province}: {len(part)} rows for {expected} plan targets")
    empty = table[table["status"] == "no_data"]
    missing = [
        f"{r.period} {r.plan_id} {r.kpi_code} ({r.level}): {r.note or 'nobody reported it'}"
        for r in empty.itertuples()
    ]
    if problems:
        return "incomplete", "; ".join(problems), missing
    if missing:
        return "no_data", f"{len(missing)} of {len(table)} target rows have no data", missing
    return "complete", f"every one of the {len(table)} target rows has a value or a stated reason", []


def plan_rows(home: DxHome, quarter: Quarter, period: Period) -> pd.DataFrame | None:
    """The stored scorecard rows of ``period`` (in ``quarter``'s partition), for publishing."""
    table = try_read(home, "plan_scorecard", quarter)
    if table is None:
        return None
    rows = table[table["period"] == period.label].drop(columns="quarter", errors="ignore")
    return rows.reset_index(drop=True) if len(rows) else None


def previous_kpis_for(home: DxHome, quarter: Quarter, frameworks: list[Framework]) -> pd.DataFrame | None:
    """Last quarter's stored KPIs when a framework in force carries a missing value forward
    (None when none does, or for the first quarter the pipeline covers).

    That is the only way a quarter's scores depend on another quarter, and the Dagster graph
    declares it (``index_scores`` on the previous ``agency_kpis``). A missing predecessor is
    refused, naming it: scoring without it would silently score 0 where the framework says to
    carry last quarter's value, and give another result once the predecessor is computed.
    """
    users = [fw.id for fw in frameworks if fw.carries_forward]
    if not users or quarter <= FIRST_QUARTER:
        return None
    before = quarter.previous()
    kpis = try_read(home, "agency_kpis", before)
    if kpis is None:
        raise FileNotFoundError(
            f"index_scores of {quarter.label}: {', '.join(users)} carr"
            f"{'ies' if len(users) == 1 else 'y'} missing values forward from {before.label}, "
            f"whose agency_kpis are not computed: run {before.label} first "
            f"(dx-pipeline run --quarter {before.label})"
        )
    return kpis


def _score(settings: Settings, quarter: Quarter) -> QuarterScores:
    """The quarter's scores under every framework in force, from its stored KPIs (and last
    quarter's, only where a framework carries missing values forward) and the evaluators'
    verdicts in force in the appraisal database."""
    home = settings.home
    agencies = read_partition(home, "agencies", quarter)
    frameworks = provincial_frameworks(quarter, agencies)
    return score_quarter(
        quarter,
        read_partition(home, "agency_kpis", quarter),
        agencies,
        previous_kpis=previous_kpis_for(home, quarter, frameworks),
        frameworks=frameworks,
        appraisal=stored_verdicts(settings, quarter.label),
    )


def score_quarter_kpis(settings: Settings, quarter: Quarter | str) -> ScoresComputed:
    """Score the quarter's KPIs under every framework in force, with the evaluators' verdicts
    in force, into ``index_scores`` (also how a quarter is re-scored after an appraisal)."""
    q = _quarter(quarter)
    scored = _score(settings, q)
    scores = scored.scores
    path = write_partition(settings.home, "index_scores", q, scores)
    totals = scores[scores["level"] == "total"]
    scored_by = totals.groupby("framework_id")["agency_code"].nunique()
    return ScoresComputed(
        scores=Written("index_scores", path, len(scores)),
        frameworks={fw.id: fw.version for fw in scored.frameworks},
        agencies_scored={str(k): int(v) for k, v in scored_by.items()},
        provenance={fw.id: fw.provenance_record() for fw in scored.frameworks},
    )


def scores_reproduce(settings: Settings, quarter: Quarter | str) -> tuple[bool, str]:
    """Whether the stored ``index_scores`` are what the stored KPIs give today: a ranking is
    published from the stored scores, so they must still follow from their inputs."""
    q = _quarter(quarter)
    stored = read_partition(settings.home, "index_scores", q).drop(columns="quarter")
    fresh = _score(settings, q).scores
    if same_points(stored, fresh):
        return True, f"{len(stored)} score rows of {q.label} reproduce from agency_kpis"
    return False, (
        f"index_scores of {q.label} no longer match agency_kpis ({len(stored)} stored rows, "
        f"{len(fresh)} recomputed): rematerialize index_scores before publishing"
    )


def simulate_rank_uncertainty(settings: Settings, quarter: Quarter | str) -> tuple[Written, float | None]:
    """Monte Carlo ranks under perturbed weights, per framework: ``rank_uncertainty``."""
    q = _quarter(quarter)
    home = settings.home
    registry = read_partition(home, "agencies", q)
    data = kpi_long(read_partition(home, "agency_kpis", q))
    frames = [rank_uncertainty(fw, data, registry, quarter=q) for fw in provincial_frameworks(q, registry)]
    table = pd.concat([f for f in frames if len(f)], ignore_index=True)
    path = write_partition(home, "rank_uncertainty", q, table)
    width = table["rank_p95"] - table["rank_p05"]
    median = round(float(width.median()), 2) if len(width) else None
    return Written("rank_uncertainty", path, len(table)), median


def run_quality_suite(
    settings: Settings, quarter: Quarter | str, dataset: str, run_id: str
) -> tuple[list[CheckOutcome], Written]:
    """Run one dataset's quality suite on the quarter, store its rows of ``dq_results`` and
    refresh the quarter's data-quality report."""
    q = _quarter(quarter)
    outcomes = run_suite(dataset, settings.home, q)
    path = write_dq_results(settings.home, q, outcomes, run_id=run_id)
    rows = len(read_partition(settings.home, "dq_results", q))
    return outcomes, Written("dq_results", path, rows)


def quality_report_path(settings: Settings, quarter: Quarter | str) -> Path:
    """The quarter's data-quality report (HTML)."""
    return settings.home.dq_reports_for(_quarter(quarter)) / "index.html"


def publish_quarter(
    settings: Settings,
    quarter: Quarter | str,
    trigger: dict[str, Any],
    reason: str | None = None,
    reason_vi: str | None = None,
    appraisal: dict[str, Any] | None = None,
) -> QuarterPublished:
    """Rank the quarter's stored scores and publish them as an immutable revision (a new one
    only when something changed), then mirror it in ``ranking_snapshot``.

    Movement (``previous_rank``, ``rank_change``, "ranked for the first time") is measured
    against the previous quarter's *published* ranking (its newest public revision; for a
    ``computed`` result, its newest revision when none is public yet:
    :func:`~dx_pipeline.publish.snapshot.movement_baseline`), never against whatever the
    warehouse happens to hold: a quarter ranked before its predecessor is published shows no
    movement, and its manifest (``movement_against``) and report say that no previous quarter
    is published instead of claiming nobody moved. When this publication changes what the next
    (already published) quarter is ranked against, the next quarter is published again against
    it (a new revision whose reason names this one), and so on down the chain; a rerun finishes
    a chain an earlier run could not (each keeping its appraisal record). ``appraisal`` is the
    manifest record of the result's state: ``computed`` for what the pipeline publishes on its
    own (:func:`~dx_pipeline.publish.appraisal.computed_record`), provisional or final from
    :mod:`dx_pipeline.app.appraisal`; None only for a revision published outside the pipeline
    (tests, tools), which has no state.
    """
    q = _quarter(quarter)
    published = _publish_one(settings, q, trigger, reason, reason_vi, appraisal)
    return replace(published, republished=_republish_next(settings, q, trigger))


def _status(appraisal: Mapping[str, Any] | None) -> str | None:
    """The state a revision's appraisal record gives it (None: no state)."""
    return (appraisal or {}).get("status")


def _publish_one(
    settings: Settings, q: Quarter, trigger: dict[str, Any], reason: str | None, reason_vi: str | None,
    appraisal: dict[str, Any] | None = None,
) -> QuarterPublished:
    """One quarter's publication against the previous quarter's published ranking."""
    home = settings.home
    registry = read_partition(home, "agencies", q)
    stored = read_partition(home, "index_scores", q).drop(columns="quarter")
    frameworks = [fw for fw in provincial_frameworks(q, registry) if fw.id in set(stored["framework_id"])]
    before = movement_baseline(home, Period.parse(q.previous()), _status(appraisal))
    ranking = rank_scored(frameworks, stored, registry, q,
                          previous_ranking=before.ranking() if before is not None else None)
    publication = publish_ranking(home, PublicationInput(
        period=Period.parse(q),
        ranking=ranking,
        index_scores=stored,
        kpis=read_partition(home, "agency_kpis", q),
        dq=contract_columns(try_read(home, "dq_results", q), "dq_results"),
        uncertainty=try_read(home, "rank_uncertainty", q),
        registry=registry,
        plan_scorecard=plan_rows(home, q, Period.parse(q)),
        frameworks=frameworks,
        inputs=quarter_input_files(home, q, settings.registry),
        trigger=trigger,
        reason=reason,
        reason_vi=reason_vi,
        movement_against=_against(q.previous(), before),
        appraisal=appraisal,
    ))
    table = publication.ranking()
    path = write_partition(home, "ranking_snapshot", q, table)
    preview = table.sort_values(["framework_id", "peer_group", "rank"], na_position="last")
    provenance = {fw.id: fw.provenance_record() for fw in frameworks}
    return QuarterPublished(Written("ranking_snapshot", path, len(table)), publication, preview, provenance)


def _against(previous: Quarter, publication: Publication | None) -> dict[str, Any]:
    """The manifest's ``movement_against``: the previous quarter and its revision (or None)."""
    return {"period": previous.label, "revision": publication.revision if publication else None}


def _republish_next(settings: Settings, q: Quarter, trigger: dict[str, Any]) -> list[QuarterPublished]:
    """Publish the next quarter again when it is published and was not ranked against what
    its state measures movement against in ``q`` now; then the one after it, while new
    revisions come out."""
    out: list[QuarterPublished] = []
    while True:
        nxt = q.next()
        latest = latest_publication(settings.home, Period.parse(nxt))
        if latest is None:
            return out
        keep = dict(latest.manifest.appraisal) or None  # its state stays what it was
        publication = movement_baseline(settings.home, Period.parse(q), _status(keep))
        if publication is None or latest.manifest.movement_against == _against(q, publication):
            return out
        period = Period.parse(q)
        if try_read(settings.home, "index_scores", nxt) is None:
            raise FileNotFoundError(
                f"{nxt.label} is published against an earlier state of {q.label}, but its "
                f"index_scores are not in the warehouse: run {nxt.label} again to republish it"
            )
        published = _publish_one(
            settings, nxt, trigger,
            reason=f"{q.label} published (revision {publication.revision}): rank movement is now "
            "measured against it",
            reason_vi=f"Đã công bố kết quả {period.title_vi} (lần {publication.revision}): thứ hạng "
            "nay được so với kỳ đó",
            appraisal=keep,
        )
        if not published.publication.created:
            return out
        out.append(published)
        q = nxt
