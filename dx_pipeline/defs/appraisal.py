"""The appraisal in the asset graph: the quarter opened for appraisal, the provisional revision
and the approved final one, thin steps over :mod:`dx_pipeline.app.appraisal`.

The quarterly schedule's job materializes ``quarter_appraisal``: the computed result is
recorded, the appraisal opened (each once: a rerun records nothing new) and the evaluator's
workbook written. ``provisional_result`` and ``final_result`` are steps people take, each in
a job of its own with the run config they need (who publishes, how long agencies may appeal;
the approving decision): the rules of each step (which state allows it) stay the workflow's,
so a step the state does not allow fails its run with the workflow's reason. Between them,
``appraisal_verdicts`` (the evaluator's workbook imported), ``agency_appeals`` (an agency's
appeal workbook or one appeal) and ``appeal_decisions`` (an appeal accepted or rejected) are
steps people take too, each in its own job with its run config; a refused one fails its run
with every problem listed, nothing recorded. Every step's page shows the result's state and
every transition (who, when, why) as recorded in the appraisal database.
"""

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dagster import AssetExecutionContext, Config, Failure, MaterializeResult, MetadataValue, asset
from pydantic import Field

from dx_pipeline.app import appraisal as ap
from dx_pipeline.appraisal.appeals import AppealRequest
from dx_pipeline.appraisal.approvals import ApprovalRequest
from dx_pipeline.appraisal.audit import vietnam_time
from dx_pipeline.appraisal.states import state_label
from dx_pipeline.defs.assets import OWNERS
from dx_pipeline.defs.partitions import quarter_of, quarterly_partitions
from dx_pipeline.defs.resources import DxResource
from dx_pipeline.index.period_scoring import periods_closing_with
from dx_pipeline.publish.manifest import status_words
from dx_pipeline.publish.snapshot import Publication, latest_publication
from dx_pipeline.reference.quarters import Period, Quarter

APPRAISAL = "appraisal"
"""The asset group of the appraisal's steps."""
APPROVED_BY = "Ủy ban nhân dân tỉnh"
"""The authority that approves a ranking when the run config names none."""


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def history_metadata(dx: DxResource, quarter: Quarter | Period | str) -> dict[str, Any]:
    """The result's state and every transition (who, when, why) for the step's page."""
    status = ap.status(dx.settings(), quarter)
    lines = ["| # | từ / from | sang / to | ai / who | lúc / when | lý do / why |",
             "|---|---|---|---|---|---|"]
    for t in status.transitions:
        before = state_label(t.from_state) if t.from_state else "–"
        lines.append(f"| {t.id} | {_cell(before)} | {_cell(state_label(t.to_state))} | {_cell(t.actor)} | "
                     f"{vietnam_time(t.recorded_at)} | {_cell(t.reason)} |")
    return {
        "state": MetadataValue.text(f"{status.state}: {state_label(status.state)}"),
        "transitions": MetadataValue.md("\n".join(lines)),
        "transition_count": MetadataValue.int(len(status.transitions)),
        "verdicts_in_force": MetadataValue.int(status.verdicts_in_force),
        "appeals": MetadataValue.int(len(status.appeals)),
    }


def revision_metadata(publication: Publication) -> dict[str, Any]:
    """A published revision as a step's page shows it: its state in words, number and folder."""
    status = publication.manifest.appraisal.get("status")
    vi, en = status_words(status)
    return {
        "status": MetadataValue.text(f"{status}: {vi} / {en}"),
        "revision": MetadataValue.int(publication.revision),
        "new_revision": MetadataValue.bool(publication.created),
        "reason": MetadataValue.text(publication.reason),
        "published_folder": MetadataValue.path(str(publication.path)),
        "report": MetadataValue.path(str(publication.path / "report.html")),
    }


PERIOD_FIELD = Field(
    default=None,
    description="Kỳ 6 tháng hoặc cả năm kết thúc cùng quý này (vd. 2025-H1, 2025), nếu không phải chính quý "
    "/ a half-year or year that closes with this quarter (e.g. 2025-H1, 2025) instead of the quarter itself",
)


def step_period(quarter: Quarter, period: str | None) -> Period:
    """The result a step is about: the partition's quarter, or a half-year or year that closes
    with it (named in the run config); a clear error for any other period."""
    if not period or not period.strip():
        return Period.parse(quarter)
    per = Period.parse(period.strip())
    closing = periods_closing_with(quarter)
    if per.kind == "quarter" and per.label == quarter.label:
        return per
    if per.label not in {p.label for p in closing}:
        allowed = ", ".join(p.label for p in closing) or "none: only Q2 and Q4 close a half-year or year"
        raise Failure(description=f"{per.label} does not close with {quarter.label} (periods closing with "
                      f"it: {allowed}); run the step for the partition of the period's last quarter",
                      allow_retries=False)
    return per


DECISION_JOBS = {
    "provisional_result": "provisional_job",
    "final_result": "approval_job",
    "appraisal_verdicts": "appraisal_import_job",
    "agency_appeals": "appeal_job",
    "appeal_decisions": "appeal_decision_job",
}
"""Each step a person takes and the only job it runs in."""


def own_job_only(context: AssetExecutionContext, step: str) -> None:
    """Refuse a person's decision run anywhere but in its own job: "Materialize all" in the UI,
    a selection of assets, a backfill would otherwise publish or record a decision nobody
    took as part of computing a quarter."""
    job = DECISION_JOBS[step]
    if context.run.job_name != job:
        raise Failure(
            description=f"{step} là quyết định của người có thẩm quyền, không chạy cùng \"Materialize all\" "
            f"hay một lần chạy khác: hãy chạy {job} với cấu hình của nó. / {step} is a person's "
            f"decision: it runs only in {job}, launched for one quarter with its run config (Jobs -> "
            f"{job} -> Launchpad), never from 'Materialize all', an asset selection or a backfill "
            f"(this run: {context.run.job_name}). Nothing was recorded; the other steps of this run "
            "are not affected.",
            allow_retries=False,
        )


def _pipeline_actor(context: AssetExecutionContext) -> str:
    """Who records a step the pipeline takes on its own: its trigger and run."""
    return f"dagster {context.run.tags.get('dx/trigger', 'run')} (run {context.run_id[:8]})"


def appraisal_asset(*, kinds: set[str], deps: list[str], description: str):
    """The asset decorator of an appraisal step: the appraisal group, quarterly partitions."""
    return asset(owners=OWNERS, partitions_def=quarterly_partitions, group_name=APPRAISAL, kinds=kinds,
                 deps=deps, description=description)


def decision_period(context: AssetExecutionContext, step: str, period: str | None) -> Period:
    """The result a person's step is about, once the run is the step's own job (else it fails)."""
    own_job_only(context, step)
    return step_period(quarter_of(context.partition_key), period)


def decision_result(dx: DxResource, period: Period, metadata: dict[str, Any]) -> MaterializeResult:
    """A step's page: its own metadata, then the result's state and every transition."""
    return MaterializeResult(metadata={**metadata, **history_metadata(dx, period)})


@appraisal_asset(
    kinds={"sql", "excel"},
    deps=["index_scores", "ranking_snapshot"],
    description="Kết quả đã tính được ghi nhận và chuyển sang thẩm định; phiếu thẩm định Excel cho cán bộ "
    "thẩm định.\n\n"
    "The computed result recorded and put under appraisal (each once: a rerun records no new "
    "state), and the evaluator's workbook written (`DX_HOME/appraisal/<quarter>/`). The page "
    "shows the result's state and every transition: who, when, why.",
)
def quarter_appraisal(context: AssetExecutionContext, dx: DxResource) -> MaterializeResult:
    """Open the quarter's appraisal and write the evaluator's workbook."""
    quarter = quarter_of(context.partition_key)
    actor = _pipeline_actor(context)
    exported = ap.export_workbook(dx.settings(), quarter, None, actor)
    periods = {}
    for period in periods_closing_with(quarter):  # the half-year and year: an appraisal of their own
        if latest_publication(dx.settings().home, period) is None:
            continue
        done = ap.export_workbook(dx.settings(), period, None, actor)
        periods[period.label] = {"state": done.state, "workbook": str(done.path), "rows": done.rows}
    return MaterializeResult(metadata={
        **history_metadata(dx, quarter),
        "workbook": MetadataValue.path(str(exported.path)),
        "workbook_rows": MetadataValue.int(exported.rows),
        "rows_with_a_verdict": MetadataValue.int(exported.appraised),
        "periods_closing": MetadataValue.json(periods) if periods else "none close with " + quarter.label,
    })


class ProvisionalConfig(Config):
    """Who publishes the provisional result, and how long agencies may appeal it."""

    by: str = Field(description="Người công bố / who publishes it (recorded with the transition)")
    appeal_days: int = Field(default=ap.DEFAULT_APPEAL_DAYS,
                             description="Số ngày nhận kiến nghị / days agencies may appeal")
    period: str | None = PERIOD_FIELD


@appraisal_asset(
    kinds={"parquet", "html"},
    deps=["quarter_appraisal"],
    description="Kết quả tạm thời sau thẩm định, công bố cho các đơn vị; mở thời hạn nhận kiến nghị.\n\n"
    "The appraised result published as a provisional revision (visible to the agencies, "
    "`status: provisional` in its manifest) and the appeal window opened. Run by "
    "`provisional_job` with `by` and `appeal_days`; refused unless the quarter is under "
    "appraisal.",
)
def provisional_result(
    context: AssetExecutionContext, config: ProvisionalConfig, dx: DxResource
) -> MaterializeResult:
    """Publish the provisional revision and open the appeal window."""
    period = decision_period(context, "provisional_result", config.period)
    published = ap.publish_provisional(dx.settings(), period, config.by, days=config.appeal_days, site=False)
    return decision_result(dx, period, {
        "period": MetadataValue.text(period.label),
        **revision_metadata(published.publication),
        "appeal_window": MetadataValue.json(dict(published.publication.manifest.appraisal["appeal_window"])),
    })


class ApprovalConfig(Config):
    """The decision that approves the quarter's result, and who records it."""

    decision_number: str = Field(description="Số quyết định / the decision's number, e.g. 215/QĐ-UBND")
    decision_date: str = Field(description="Ngày quyết định / the decision's date, YYYY-MM-DD")
    approved_by: str = Field(default=APPROVED_BY, description="Cơ quan phê duyệt / the approving authority")
    by: str = Field(description="Người ghi nhận / who records the approval")
    note: str | None = Field(default=None, description="Ghi chú / a note kept with the approval")
    period: str | None = PERIOD_FIELD

    def request(self) -> ApprovalRequest:
        """The approval as the workflow records it; a clear error for a date it cannot read."""
        try:
            day = dt.date.fromisoformat(self.decision_date.strip())
        except ValueError:
            raise ValueError(
                f"decision_date must be a date as YYYY-MM-DD, not {self.decision_date!r}") from None
        return ApprovalRequest(self.decision_number, day, self.approved_by, self.note)


@appraisal_asset(
    kinds={"parquet", "html"},
    deps=["provisional_result", "quarter_appraisal"],
    description="Kết quả chính thức: ghi nhận quyết định phê duyệt và công bố bản chính thức.\n\n"
    "The approving decision recorded and the final revision published (`status: final`, the "
    "approval in its manifest). Run by `approval_job` with the decision's number and date; "
    "refused without a provisional revision, while the appeal window is open or an appeal "
    "is undecided.",
)
def final_result(
    context: AssetExecutionContext, config: ApprovalConfig, dx: DxResource
) -> MaterializeResult:
    """Record the approval and publish the final revision."""
    period = decision_period(context, "final_result", config.period)
    approval_id, published = ap.approve(dx.settings(), period, config.request(), config.by, site=False)
    return decision_result(dx, period, {
        "period": MetadataValue.text(period.label),
        **revision_metadata(published.publication),
        "approval": MetadataValue.json({"id": approval_id,
                                        **dict(published.publication.manifest.appraisal["approval"])}),
    })


def _refused(exc: Exception) -> Failure:
    """A step refused (a workbook with problems, a state that does not allow it): the run fails
    with every problem listed, nothing recorded."""
    return Failure(description=str(exc), metadata={"refused": MetadataValue.md(f"```\n{exc}\n```")},
                   allow_retries=False)


@contextmanager
def refusing() -> Iterator[None]:
    """A domain call a step makes: its ValueError or FileNotFoundError fails the run as refused."""
    try:
        yield
    except (ValueError, FileNotFoundError) as exc:
        raise _refused(exc) from exc


class VerdictImportConfig(Config):
    """The filled evaluator's workbook to import, and whose verdicts they are."""

    path: str = Field(description="Đường dẫn phiếu thẩm định (.xlsx) / the filled workbook's path")
    evaluator: str = Field(description="Cán bộ thẩm định / the evaluator (recorded with every verdict)")
    period: str | None = PERIOD_FIELD


@appraisal_asset(
    kinds={"sql", "excel"},
    deps=["quarter_appraisal"],
    description="Kết quả thẩm định nhập từ phiếu Excel của cán bộ thẩm định; chấm lại điểm.\n\n"
    "The evaluator's filled workbook checked whole (every problem by sheet, row and column: "
    "nothing recorded from a file with one), its verdicts recorded as one import and the "
    "quarter re-scored. Run by `appraisal_import_job` with `path` and `evaluator`; a workbook "
    "for another quarter is refused.",
)
def appraisal_verdicts(
    context: AssetExecutionContext, config: VerdictImportConfig, dx: DxResource
) -> MaterializeResult:
    """Import the evaluator's workbook and re-score the quarter."""
    quarter = decision_period(context, "appraisal_verdicts", config.period)
    with refusing():
        result = ap.import_workbook(dx.settings(), config.path, config.evaluator, quarter.label)
    rec = result.recorded
    return decision_result(dx, quarter, {
        "workbook": MetadataValue.path(config.path),
        "verdicts_recorded": MetadataValue.int(len(rec.ids)),
        "unchanged": MetadataValue.int(rec.unchanged),
        "late_change": MetadataValue.bool(rec.late),
        "import_id": MetadataValue.int(rec.import_id) if rec.import_id is not None else "none",
        "rescored_rows": MetadataValue.int(result.scores.scores.rows) if result.scores else "not re-scored",
    })


class AppealConfig(Config):
    """An agency's appeal: a filled appeal workbook, or one indicator and the argument."""

    by: str = Field(description="Người nộp kiến nghị / who files it (recorded with the appeal)")
    workbook: str | None = Field(default=None, description="Phiếu kiến nghị đã điền (.xlsx) / a filled "
                                 "appeal workbook (dx-pipeline appeal export); else the fields below")
    agency: str | None = Field(default=None, description="Mã đơn vị / agency code, e.g. SO-YT")
    indicator: str | None = Field(default=None, description="Mã chỉ tiêu / indicator code, e.g. CQ.2")
    framework: str | None = Field(default=None, description="Bộ chỉ số / framework, when needed")
    argument: str | None = Field(default=None, description="Lý do kiến nghị / why the result is wrong")
    value: float | None = Field(default=None, description="Giá trị đề nghị / the value the agency asks for")
    period: str | None = PERIOD_FIELD


@appraisal_asset(
    kinds={"sql"},
    deps=["provisional_result"],
    description="Kiến nghị của đơn vị về kết quả tạm thời (phiếu Excel hoặc một chỉ tiêu).\n\n"
    "An agency's appeals against the provisional result, from its filled appeal workbook or "
    "one indicator with the argument. Run by `appeal_job`; refused outside the appeal window.",
)
def agency_appeals(context: AssetExecutionContext, config: AppealConfig, dx: DxResource) -> MaterializeResult:
    """File an agency's appeals."""
    quarter = decision_period(context, "agency_appeals", config.period)
    settings = dx.settings()
    with refusing():
        if config.workbook:
            ids = ap.import_appeals(settings, config.workbook, config.by, quarter.label).recorded.ids
        else:
            if not (config.agency and config.indicator and config.argument):
                raise ValueError("an appeal needs a workbook, or agency, indicator and argument")
            scored = ap.scored_result(settings, quarter)
            key = ap.resolve_indicator(scored, config.agency, config.indicator, config.framework)
            request = AppealRequest(*key, config.argument, config.value)
            ids = [ap.file_appeal(settings, quarter, request, config.by)]
    return decision_result(dx, quarter, {
        "appeals_filed": MetadataValue.json(ids),
        **({"workbook": MetadataValue.path(config.workbook)} if config.workbook else {}),
        "appeals_table": MetadataValue.md(appeals_markdown(ap.status(settings, quarter).appeals)),
    })


class AppealDecisionConfig(Config):
    """The decision on one appeal, with its reason."""

    appeal_id: int = Field(description="Số kiến nghị / the appeal's number")
    accept: bool = Field(description="Chấp nhận (true) hay không (false) / accept or reject it")
    reason: str = Field(description="Lý do / why (required)")
    by: str = Field(description="Người quyết định / who decides (recorded with the decision)")
    value: float | None = Field(default=None, description="Chấp nhận: giá trị chấm / accepted: the value "
                                "to score (default: the one asked for)")
    points: float | None = Field(default=None, description="Chấp nhận: điểm / accepted: the points instead")
    period: str | None = PERIOD_FIELD


@appraisal_asset(
    kinds={"sql"},
    deps=["agency_appeals"],
    description="Quyết định về kiến nghị (chấp nhận hoặc không, có lý do); chấm lại điểm khi chấp nhận.\n\n"
    "The evaluator's decision on an appeal (accept or reject, with a reason); an accepted one "
    "records the verdict it leads to and re-scores the quarter. Run by `appeal_decision_job`.",
)
def appeal_decisions(
    context: AssetExecutionContext, config: AppealDecisionConfig, dx: DxResource
) -> MaterializeResult:
    """Decide one appeal of the quarter (or of the half-year or year named)."""
    quarter = decision_period(context, "appeal_decisions", config.period)
    settings = dx.settings()
    if not config.accept and (config.value is not None or config.points is not None):
        raise _refused(ValueError("a rejected appeal changes nothing: leave out value and points"))
    with refusing():
        with_period = {a["id"]: a for a in ap.status(settings, quarter).appeals}
        if config.appeal_id not in with_period:
            raise ValueError(f"there is no appeal #{config.appeal_id} on {quarter.label}")
        decided = ap.decide_appeal(settings, config.appeal_id, config.accept, config.reason, config.by,
                                   value=config.value, points=config.points)
    return decision_result(dx, quarter, {
        "appeal_id": MetadataValue.int(config.appeal_id),
        "decision": MetadataValue.text("accepted: chấp nhận" if config.accept
                                       else "rejected: không chấp nhận"),
        "decision_id": MetadataValue.int(decided.decision_id),
        "adjustment_id": (MetadataValue.int(decided.adjustment_id) if decided.adjustment_id is not None
                          else "none"),
        "rescored_rows": MetadataValue.int(decided.scores.scores.rows) if decided.scores else "not re-scored",
        "appeals_table": MetadataValue.md(appeals_markdown(ap.status(settings, quarter).appeals)),
    })


def appeals_markdown(appeals: list[dict]) -> str:
    """The quarter's appeals and their decisions as a table for a step's page."""
    lines = ["| # | đơn vị / agency | chỉ tiêu / indicator | ai / by | lý do / argument "
             "| quyết định / decision |",
             "|---|---|---|---|---|---|"]
    for a in appeals:
        decided = (f"{a['decision']} ({a['decided_by']}, {vietnam_time(a['decided_at'])}): "
                   f"{a['decision_reason']}" if a["decision"] else "chưa quyết định / not decided")
        lines.append(f"| {a['id']} | {_cell(a['agency_code'])} | {_cell(a['framework_id'])} "
                     f"{_cell(a['node_id'])} | {_cell(a['filed_by'])} ({vietnam_time(a['filed_at'])}) | "
                     f"{_cell(a['argument'])} | {_cell(decided)} |")
    return "\n".join(lines)


QUARTER_STEPS = [quarter_appraisal]
"""Steps of the quarterly schedule's job."""
DECISION_STEPS = [provisional_result, final_result, appraisal_verdicts, agency_appeals, appeal_decisions]
"""Steps people take, each in its own job with its run config (never in a backfill)."""
