"""The appraisal of a quarter's result as the command line (and the wiring) runs it.

Each function is one step an operator, an evaluator or an agency takes: open the appraisal and
export the evaluator's workbook, import it (or record one verdict) and re-score, publish the
provisional result and open the appeal window, file and decide appeals, approve and publish the
final result. The rules of each step (which state allows it, what a refusal leaves behind:
nothing) are :mod:`dx_pipeline.appraisal.workflow`'s; this module reads the scores it checks
against, re-scores through :func:`~dx_pipeline.app.quarter.score_quarter_kpis` after every
change of the verdicts in force, and publishes revisions through
:func:`~dx_pipeline.app.quarter.publish_quarter` with the appraisal's manifest record.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from dx_pipeline.app.appraisal_db import appraisal_db
from dx_pipeline.app.period import publish_period, score_period_result
from dx_pipeline.app.quarter import ScoresComputed, publish_quarter, score_quarter_kpis, try_read
from dx_pipeline.app.settings import Settings
from dx_pipeline.app.site import SitesBuilt, build_quarter_sites, build_sites
from dx_pipeline.appraisal import appeal_workbook as aw
from dx_pipeline.appraisal import states as st
from dx_pipeline.appraisal import workflow as wf
from dx_pipeline.appraisal.adjustments import VerdictRequest, rows_in_force
from dx_pipeline.appraisal.appeals import AppealRequest, appeal, appeals_of
from dx_pipeline.appraisal.approvals import ApprovalRequest, approval_in_force
from dx_pipeline.appraisal.audit import publication_record
from dx_pipeline.appraisal.database import as_utc
from dx_pipeline.appraisal.scored import AppraisalRefused, Problem, ScoredResult
from dx_pipeline.appraisal.workbook import (
    ABOUT,
    problems_against,
    read_workbook,
    where,
    workbook_rows,
    write_workbook,
)
from dx_pipeline.index.quarter_scoring import provincial_frameworks
from dx_pipeline.publish import manifest as mf
from dx_pipeline.publish.appraisal import manifest_record
from dx_pipeline.publish.snapshot import Publication
from dx_pipeline.reference.catalogue import load_catalogue
from dx_pipeline.reference.quarters import Period, Quarter
from dx_pipeline.reference.typed_codes import resolve_code
from dx_pipeline.storage import DxHome, read_partition

DEFAULT_APPEAL_DAYS = 10
"""How long agencies may appeal a provisional result when the operator says nothing."""


def _quarter(quarter: Quarter | Period | str) -> Period:
    """The period a step is about: a quarter, or a half-year or year (their own appraisal)."""
    return Period.parse(quarter)


def _last(per: Period) -> Quarter:
    """The quarter whose partitions (registry) a period is read with: its last one."""
    return per.quarters[-1]


PERIOD_STATUS = "final"
"""The status a half-year's or year's scores are computed for in its appraisal: movement is
measured against the previous period's newest public revision (provisional and final alike)."""


def stored_scores(settings: Settings, quarter: Quarter | Period | str) -> pd.DataFrame:
    """The quarter's stored ``index_scores`` (a clear error when it was never scored); for a
    half-year or year, its scores computed from its quarters with its own verdicts in force."""
    q = _quarter(quarter)
    if q.kind != "quarter":
        return score_period_result(settings, q, PERIOD_STATUS).scored.scores
    scores = try_read(settings.home, "index_scores", _last(q))
    if scores is None:
        raise FileNotFoundError(f"{q.label} has not been scored: run dx-pipeline run --quarter {q.label} "
                                "first")
    return scores.drop(columns="quarter", errors="ignore")


def scored_result(settings: Settings, quarter: Quarter | Period | str) -> ScoredResult:
    """What verdicts and appeals of the quarter are checked against: its scored indicators and
    the frameworks (versions in force) that scored them."""
    q = _quarter(quarter)
    if q.kind != "quarter":
        result = score_period_result(settings, q, PERIOD_STATUS)
        return ScoredResult.from_scores(q.label, result.scored.scores, result.scored.frameworks,
                                        load_catalogue())
    scores = stored_scores(settings, q)
    registry = read_partition(settings.home, "agencies", _last(q))
    ids = set(scores["framework_id"].astype(str))
    frameworks = [fw for fw in provincial_frameworks(_last(q), registry) if fw.id in ids]
    return ScoredResult.from_scores(q.label, scores, frameworks, load_catalogue())


def resolve_indicator(scored: ScoredResult, agency: str, indicator: str,
                      framework: str | None = None) -> tuple[str, str, str]:
    """(framework, agency, indicator) that codes typed by a person mean (matched ignoring case
    and separator; the framework is needed only when two frameworks scoring the agency both
    have the indicator); a ValueError naming the close codes otherwise."""
    agencies = {a for fid in scored.frameworks for a in scored.agencies(fid)}
    agency = resolve_code(agency, agencies, "agency", f"scored in {scored.period}")
    under = [fid for fid in sorted(scored.frameworks) if agency in scored.agencies(fid)]
    if framework:
        under = [resolve_code(framework, under, "framework", f"scoring {agency} in {scored.period}")]
    known = {fid: [n.id for n in scored.frameworks[fid].indicators()] for fid in under}
    found = []
    for fid, ids in known.items():
        try:
            found.append((fid, resolve_code(indicator, ids, "indicator")))
        except ValueError:
            continue
    if len(found) == 1:
        return found[0][0], agency, found[0][1]
    if found:
        names = " and ".join(fid for fid, _ in found)
        raise ValueError(f"{agency} is scored under {names}, both with {indicator}: name the framework")
    resolve_code(indicator, sorted({i for ids in known.values() for i in ids}), "indicator",
                 f"for {agency} in {scored.period}")
    raise AssertionError("unreachable")  # resolve_code raised


def scores_sha256(settings: Settings, quarter: Quarter | Period | str) -> str:
    """The fingerprint of the stored scores an approval approves (the publication's own)."""
    return str(mf.table_fingerprint("index_scores", stored_scores(settings, quarter)))


def open_for_appraisal(settings: Settings, quarter: Quarter | Period | str, actor: str,
                       now: dt.datetime | None = None) -> str:
    """Record the quarter's result as computed and put it under appraisal (each once);
    returns its state."""
    q = _quarter(quarter)
    scores = stored_scores(settings, q)
    details = {"index_scores_rows": len(scores), "scores_sha256": scores_sha256(settings, q)}
    with appraisal_db(settings) as db:
        wf.mark_computed(db, q.label, actor, details, now)
        wf.open_appraisal(db, q.label, actor, "mở thẩm định kết quả / appraisal opened", now)
        with db.read() as conn:
            return str(st.current_state(conn, q.label))


def _text(x: object) -> str:
    return "" if x is None or x is pd.NA or (isinstance(x, float) and x != x) else str(x).strip()


def evidence_refs(settings: Settings, quarter: Quarter) -> dict[tuple[str, str], str]:
    """(agency, KPI or item code) -> the evidence behind the reported value: the document the
    agency cited, else the file and row it came from, else the KPI's source (portal, rollup)."""
    out: dict[tuple[str, str], str] = {}
    kpis = try_read(settings.home, "agency_kpis", quarter)
    if kpis is not None:
        for agency, code, source in kpis[["agency_code", "kpi_code", "source"]].itertuples(index=False):
            out[(str(agency), str(code))] = _text(source)
    subs = try_read(settings.home, "agency_submissions", quarter)
    if subs is not None and len(subs):
        effective = subs[subs["is_effective"].fillna(False).astype(bool)]
        columns = ["agency_code", "indicator_code", "evidence_ref", "source_ref"]
        for agency, code, evidence, source in effective[columns].itertuples(index=False):
            ref = _text(evidence) or _text(source)
            if ref:
                out[(str(agency), str(code))] = ref
    return out


def period_evidence(settings: Settings, period: Period, scored: ScoredResult) -> dict[tuple[str, str], str]:
    """The evidence behind a result's values: a quarter's (:func:`evidence_refs`); for a
    half-year or year, each quarter's evidence and the verdict in force on it, so the period's
    evaluator sees what was decided on the quarters (their verdicts do not carry over by
    themselves: docs/appraisal.md)."""
    if period.kind == "quarter":
        return evidence_refs(settings, _last(period))
    found: dict[tuple[str, str], list[str]] = {}
    for q in period.quarters:
        for key, ref in evidence_refs(settings, q).items():
            found.setdefault(key, []).append(f"{q.label}: {ref}")
    if settings.has_appraisal_db():
        with appraisal_db(settings) as db, db.read() as conn:
            for q in period.quarters:
                for r in rows_in_force(conn, q.label):
                    fid, node = str(r["framework_id"]), str(r["node_id"])
                    if fid not in scored.frameworks:
                        continue
                    try:
                        code = str(scored.node(fid, node).input_code)
                    except KeyError:
                        continue
                    found.setdefault((str(r["agency_code"]), code), []).append(
                        f"{q.label} {node}: {r['verdict']} ({r['reason']})")
    return {key: "; ".join(refs) for key, refs in found.items()}


def appraisal_workbook_path(home: DxHome, quarter: Quarter | Period | str) -> Path:
    """Where the evaluator's workbook of ``quarter`` is written by default:
    ``<DX_HOME>/appraisal/<quarter>/tham-dinh-<quarter>.xlsx``."""
    q = _quarter(quarter)
    return home.root / "appraisal" / q.label / f"tham-dinh-{q.label}.xlsx"


@dataclass(frozen=True)
class WorkbookExported:
    """The evaluator's workbook written, and the state the result is in."""

    path: Path
    rows: int
    appraised: int
    state: str


def export_workbook(settings: Settings, quarter: Quarter | Period | str, output: str | Path | None,
                    actor: str, now: dt.datetime | None = None) -> WorkbookExported:
    """Open the quarter's appraisal (when it is only computed) and write the evaluator's
    workbook (default ``<DX_HOME>/appraisal/<quarter>/tham-dinh-<quarter>.xlsx``)."""
    q = _quarter(quarter)
    state = open_for_appraisal(settings, q, actor, now)
    scored = scored_result(settings, q)
    registry = read_partition(settings.home, "agencies", _last(q))
    names = dict(zip(registry["agency_code"].astype(str), registry["name_vi"].astype(str), strict=True))
    with appraisal_db(settings) as db, db.read() as conn:
        in_force = rows_in_force(conn, q.label)
    rows = workbook_rows(scored, names, period_evidence(settings, q, scored), in_force)
    path = Path(output) if output else appraisal_workbook_path(settings.home, q)
    per = Period.parse(q)
    title = f"Phiếu thẩm định kết quả chuyển đổi số {per.title_vi} / Appraisal workbook, {per.title_en}"
    write_workbook(path, scored, rows, title, as_utc(now))
    return WorkbookExported(path, len(rows), sum(1 for r in rows if r.verdict), state)


def rescore(settings: Settings, period: Quarter | Period | str) -> ScoresComputed | None:
    """Score a quarter again with the verdicts in force (``index_scores``); a half-year or year
    has no stored scores: it is scored with its verdicts when it is published (None)."""
    per = _quarter(period)
    return score_quarter_kpis(settings, _last(per)) if per.kind == "quarter" else None


@dataclass(frozen=True)
class Appraised:
    """Verdicts recorded (ids; how many were already in force) and the quarter re-scored."""

    period: str
    recorded: wf.Recorded
    scores: ScoresComputed | None


def import_workbook(settings: Settings, path: str | Path, evaluator: str, quarter: str | None = None,
                    now: dt.datetime | None = None) -> Appraised:
    """Validate a filled workbook entirely, then record its verdicts and re-score the quarter.
    Any problem (each with sheet, row and column) refuses the whole file: nothing recorded."""
    path = Path(path)
    read = read_workbook(path)
    if read.period is None or read.problems and not read.requests:
        raise AppraisalRefused(path.name, read.problems)
    if quarter and Period.parse(quarter).label != Period.parse(read.period).label:
        raise AppraisalRefused(path.name, [Problem(where(read.period_row, ABOUT), "column B",
                               f"the workbook is for {read.period}, not {Period.parse(quarter).label}")])
    scored = scored_result(settings, read.period)
    problems = problems_against(read, scored)
    if problems:
        raise AppraisalRefused(path.name, problems)
    data = path.read_bytes()
    source = wf.SourceFile(path.name, hashlib.sha256(data).hexdigest(), read.rows_read)
    with appraisal_db(settings) as db:
        recorded = wf.appraise(db, read.period, read.requests, scored, evaluator, source=source, now=now)
    return Appraised(read.period, recorded, rescore(settings, read.period) if recorded.ids else None)


def adjust(settings: Settings, quarter: Quarter | Period | str, request: VerdictRequest, evaluator: str,
           now: dt.datetime | None = None) -> Appraised:
    """Record one verdict from the command line and re-score the quarter."""
    q = _quarter(quarter)
    scored = scored_result(settings, q)
    with appraisal_db(settings) as db:
        recorded = wf.appraise(db, q.label, [request], scored, evaluator, now=now)
    return Appraised(q.label, recorded, rescore(settings, q) if recorded.ids else None)


@dataclass(frozen=True)
class Published:
    """A provisional or final revision, the state it put the result in, and its site."""

    publication: Publication
    state: str
    sites: SitesBuilt


def _record(settings: Settings, q: Period) -> dict:
    with appraisal_db(settings) as db, db.read() as conn:
        return publication_record(conn, q.label, stored_scores(settings, q))


APPROVED_STATES = frozenset({st.FINAL, st.PUBLISHED})


def require_quarters_approved(conn, period: Period, combined: list[str]) -> None:
    """A half-year or year goes to the agencies only after every quarter it combines (those
    with KPIs) was approved (final or published): its figures are built from theirs, and an
    appraisal of the period while a quarter is still open would be overtaken by that quarter's
    verdicts."""
    open_ = [f"{q} ({st.state_label(st.current_state(conn, q))})" for q in combined
             if st.current_state(conn, q) not in APPROVED_STATES]
    if open_:
        raise st.StateError(f"{period.label}: its quarters must be approved before its provisional result; "
                            f"not yet: {', '.join(open_)}")


def _publish(settings: Settings, per: Period, trigger: dict, reason: str, record: dict) -> Publication:
    """Publish a provisional or final revision of a quarter, or of a half-year or year (scored
    with its own verdicts in force)."""
    if per.kind == "quarter":
        return publish_quarter(settings, _last(per), trigger, reason, appraisal=record).publication
    scored = score_period_result(settings, per, PERIOD_STATUS)
    return publish_period(settings, scored, trigger, record, reason)


def _sites(settings: Settings, per: Period) -> SitesBuilt:
    """The website of the quarter (and the periods closing with it), or of the period."""
    if per.kind == "quarter":
        return build_quarter_sites(settings, _last(per))
    return build_sites(settings, [per])


def publish_provisional(settings: Settings, quarter: Quarter | Period | str, actor: str,
                        days: int = DEFAULT_APPEAL_DAYS, now: dt.datetime | None = None,
                        site: bool = True) -> Published:
    """Publish the appraised result as a provisional revision (visible to agencies, with its
    site unless ``site`` is False: the Dagster graph builds it in a step of its own) and open
    the appeal window for ``days`` days."""
    q = _quarter(quarter)
    when = as_utc(now)
    if days < 1:
        raise ValueError(f"an appeal window lasts at least one day, not {days}")
    combined = score_period_result(settings, q).quarters_combined if q.kind != "quarter" else []
    with appraisal_db(settings) as db, db.read() as conn:
        st.require_state(conn, q.label, {st.UNDER_APPRAISAL}, "publish a provisional result")
        if q.kind != "quarter":
            require_quarters_approved(conn, q, combined)
    window = (when, when + dt.timedelta(days=days))
    record = manifest_record(_record(settings, q), "provisional", window)
    reason = (f"kết quả tạm thời sau thẩm định, nhận kiến nghị đến {window[1]:%d/%m/%Y} / provisional "
              f"result after appraisal, appeals until {window[1]:%Y-%m-%d}")
    trigger = {"by": actor, "step": "provisional"}
    pub = _publish(settings, q, trigger, reason, record)
    with appraisal_db(settings) as db:
        wf.mark_provisional(db, q.label, actor, reason, pub.revision, when)
        opened = f"nhận kiến nghị {days} ngày / appeals open for {days} days"
        wf.open_appeals(db, q.label, days, actor, opened, when)
    return Published(pub, st.APPEAL_WINDOW, _sites(settings, q) if site else SitesBuilt())


def file_appeal(settings: Settings, quarter: Quarter | Period | str, request: AppealRequest, filed_by: str,
                now: dt.datetime | None = None) -> int:
    """Record an agency's appeal during the appeal window; its id."""
    q = _quarter(quarter)
    scored = scored_result(settings, q)
    with appraisal_db(settings) as db:
        return wf.file_appeals(db, q.label, [request], scored, filed_by, now=now).ids[0]


def appeal_workbook_path(home: DxHome, quarter: Quarter | Period | str, agency: str) -> Path:
    """Where an agency's appeal workbook is written by default:
    ``<DX_HOME>/appraisal/<quarter>/kien-nghi-<quarter>-<agency>.xlsx``."""
    q = _quarter(quarter)
    return home.root / "appraisal" / q.label / f"kien-nghi-{q.label}-{agency}.xlsx"


@dataclass(frozen=True)
class AppealWorkbookExported:
    """An agency's appeal workbook written."""

    path: Path
    agency: str
    rows: int
    closes_at: dt.datetime


def export_appeal_workbook(settings: Settings, quarter: Quarter | Period | str, agency: str,
                           output: str | Path | None = None,
                           now: dt.datetime | None = None) -> AppealWorkbookExported:
    """Write ``agency``'s appeal workbook: its provisional points per indicator and the columns
    for its appeals (default ``<DX_HOME>/appraisal/<quarter>/kien-nghi-<quarter>-<agency>.xlsx``);
    refused unless the quarter's appeal window is open."""
    q = _quarter(quarter)
    scored = scored_result(settings, q)
    agencies = {a for fid in scored.frameworks for a in scored.agencies(fid)}
    code = resolve_code(agency, agencies, "agency", f"scored in {q.label}")
    with appraisal_db(settings) as db:
        with db.read() as conn:
            st.require_state(conn, q.label, {st.APPEAL_WINDOW}, "export an appeal workbook")
            reasons = {(r["framework_id"], r["node_id"]): str(r["reason"] or "")
                       for r in rows_in_force(conn, q.label) if r["agency_code"] == code}
        window = wf.appeal_window(db, q.label)
    assert window is not None  # the state is the appeal window
    registry = read_partition(settings.home, "agencies", _last(q))
    names = dict(zip(registry["agency_code"].astype(str), registry["name_vi"].astype(str), strict=True))
    rows = aw.appeal_rows(scored, code, reasons)
    about = aw.AppealWorkbookAbout(q.label, code, provisional_revision(settings, q), window[1],
                                   {fid: str(fw.version) for fid, fw in scored.frameworks.items()
                                    if code in scored.agencies(fid)})
    per = Period.parse(q)
    title = (f"Phiếu kiến nghị kết quả tạm thời {per.title_vi}: {names.get(code, code)} / Appeal workbook, "
             f"{per.title_en}: {code}")
    path = Path(output) if output else appeal_workbook_path(settings.home, q, code)
    aw.write_appeal_workbook(path, about, rows, title, as_utc(now))
    return AppealWorkbookExported(path, code, len(rows), window[1])


@dataclass(frozen=True)
class AppealsFiled:
    """Appeals recorded from an agency's workbook."""

    period: str
    agency: str
    recorded: wf.Recorded


def import_appeals(settings: Settings, path: str | Path, filed_by: str, quarter: str | None = None,
                   now: dt.datetime | None = None) -> AppealsFiled:
    """Validate a filled appeal workbook entirely, then record its appeals as one import. Any
    problem (each with sheet, row and column: unknown agency or indicator, a missing argument,
    a value out of range, a workbook for another period, the appeal window closed) refuses the
    whole file: nothing recorded."""
    path = Path(path)
    read = aw.read_appeal_workbook(path)
    if read.period is None or read.agency is None or read.problems and not read.requests:
        raise AppraisalRefused(path.name, read.problems)

    def about_period(message: str) -> Problem:
        return Problem(aw.where(read.period_row, aw.ABOUT), "column B", message)

    if quarter and Period.parse(quarter).label != Period.parse(read.period).label:
        raise AppraisalRefused(path.name, [about_period(
            f"the workbook is for {read.period}, not {Period.parse(quarter).label}")])
    scored = scored_result(settings, read.period)
    problems = aw.appeal_problems_against(read, scored)
    when = as_utc(now)
    with appraisal_db(settings) as db:
        window = wf.appeal_window(db, read.period)
    if window is None:
        problems.append(about_period(f"{read.period} is not open for appeals (no appeal "
                                              "window is open)"))
    elif not window[0] <= when <= window[1]:
        problems.append(about_period(f"the appeal window of {read.period} closed at "
                                              f"{window[1]:%Y-%m-%d %H:%M} UTC"))
    if problems:
        raise AppraisalRefused(path.name, problems)
    if not read.requests:
        first = aw.where(aw.HEADER_ROWS + 1)
        raise AppraisalRefused(path.name, [Problem(first, aw.column_label("argument"),
                                                   "the workbook asks for no appeal: no row has an "
                                                   "argument")])
    source = wf.SourceFile(path.name, hashlib.sha256(path.read_bytes()).hexdigest(), read.rows_read)
    with appraisal_db(settings) as db:
        recorded = wf.file_appeals(db, read.period, read.requests, scored, filed_by, source=source, now=when)
    return AppealsFiled(read.period, read.agency, recorded)


@dataclass(frozen=True)
class Decided:
    """The decision on an appeal, the adjustment it made (accepted), and the re-scoring."""

    decision_id: int
    adjustment_id: int | None
    period: str
    scores: ScoresComputed | None


def decide_appeal(settings: Settings, appeal_id: int, accepted: bool, reason: str, decided_by: str,
                  value: float | None = None, points: float | None = None,
                  now: dt.datetime | None = None) -> Decided:
    """Accept or reject an appeal with a reason. An accepted appeal sets the value given (or
    the one the agency asked for), the points given, or else accepts the agency's reported
    value; the quarter is then re-scored."""
    with appraisal_db(settings) as db, db.read() as conn:
        filed = appeal(conn, appeal_id)
    period = str(filed["period"])
    change = None
    if accepted:
        value = value if value is not None else filed["requested_value"]
        verdict = "adjust_points" if points is not None else "adjust_value" if value is not None else "accept"
        change = VerdictRequest(filed["framework_id"], filed["agency_code"], filed["node_id"], verdict,
                                f"kiến nghị #{appeal_id} được chấp nhận: {reason.strip()}",
                                value if verdict == "adjust_value" else None, points,
                                where=f"appeal #{appeal_id}")
    scored = scored_result(settings, period)
    with appraisal_db(settings) as db:
        decision_id, adjustment_id = wf.decide_appeal(db, appeal_id, accepted, reason, decided_by, scored,
                                                      change, now)
    scores = rescore(settings, period) if adjustment_id is not None else None
    return Decided(decision_id, adjustment_id, period, scores)


def provisional_revision(settings: Settings, quarter: Quarter | Period | str) -> int | None:
    """The revision the latest provisional result was published as (None before any)."""
    q = _quarter(quarter)
    with appraisal_db(settings) as db, db.read() as conn:
        marks = [t for t in st.transitions(conn, q.label) if t.to_state == st.PROVISIONAL]
    return int(marks[-1].details["revision"]) if marks else None


def approve(settings: Settings, quarter: Quarter | Period | str, request: ApprovalRequest, recorded_by: str,
            now: dt.datetime | None = None, site: bool = True) -> tuple[int, Published]:
    """Record the approving decision (the window closed, every appeal decided) and publish the
    final revision with its site (unless ``site`` is False). Returns the approval's id and the
    publication. Run again after a publication that failed, it publishes the approved scores
    without a second approval."""
    q = _quarter(quarter)
    sha = scores_sha256(settings, q)
    with appraisal_db(settings) as db:
        with db.read() as conn:
            approval = approval_in_force(conn, q.label)
            unpublished = st.current_state(conn, q.label) == st.FINAL
        if unpublished and approval is not None and approval["scores_sha256"] == sha:
            # approved, but its final revision was never written (the publication failed): publish it
            return int(approval["id"]), publish_final(settings, q, recorded_by, now, site)
        approval_id = wf.approve(db, q.label, request, recorded_by, now=now, scores_sha256=sha,
                                 provisional_revision=provisional_revision(settings, q))
    return approval_id, publish_final(settings, q, recorded_by, now, site)


def publish_final(settings: Settings, quarter: Quarter | Period | str, actor: str,
                  now: dt.datetime | None = None, site: bool = True) -> Published:
    """Publish the approved result as the final revision and its site (unless ``site`` is
    False); refused unless the approval in force approved exactly the stored scores."""
    q = _quarter(quarter)
    sha = scores_sha256(settings, q)
    with appraisal_db(settings) as db, db.read() as conn:
        approval = wf.check_approved(conn, q.label, sha)
    record = manifest_record(_record(settings, q), "final")
    number = approval["decision_number"]
    reason = f"kết quả chính thức theo {number} / final result approved by {number}"
    pub = _publish(settings, q, {"by": actor, "step": "final"}, reason, record)
    with appraisal_db(settings) as db:
        wf.mark_published(db, q.label, actor, pub.revision, sha, now)
    return Published(pub, st.PUBLISHED, _sites(settings, q) if site else SitesBuilt())


@dataclass(frozen=True)
class Status:
    """Where a quarter's result stands: its state, every transition, appeals, verdicts."""

    period: str
    state: str | None
    transitions: list[st.Transition]
    appeals: list[dict]
    verdicts_in_force: int


def status(settings: Settings, quarter: Quarter | Period | str) -> Status:
    """The quarter's state and its history (who, when, why), its appeals and verdicts."""
    q = _quarter(quarter)
    with appraisal_db(settings) as db, db.read() as conn:
        return Status(q.label, st.current_state(conn, q.label), st.transitions(conn, q.label),
                      appeals_of(conn, q.label), len(rows_in_force(conn, q.label)))
