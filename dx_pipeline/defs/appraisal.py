"""The appraisal in the asset graph: the quarter opened for appraisal, the provisional revision
and the approved final one, thin steps over :mod:`dx_pipeline.app.appraisal`.

The quarterly schedule's job materializes ``quarter_appraisal``: the computed result is
recorded, the appraisal opened (each once: a rerun records nothing new) and the evaluator's
workbook written. ``provisional_result`` and ``final_result`` are steps people take, each in
a job of its own with the run config they need (who publishes, how long agencies may appeal;
the approving decision): the rules of each step (which state allows it) stay the workflow's,
so a step the state does not allow fails its run with the workflow's reason. Every step's
page shows the result's state and every transition (who, when, why) as recorded in the
appraisal database.
"""

import datetime as dt
from typing import Any

from dagster import AssetExecutionContext, Config, MaterializeResult, MetadataValue, asset
from pydantic import Field

from dx_pipeline.app import appraisal as ap
from dx_pipeline.appraisal.approvals import ApprovalRequest
from dx_pipeline.appraisal.audit import vietnam_time
from dx_pipeline.appraisal.states import state_label
from dx_pipeline.defs.assets import OWNERS
from dx_pipeline.defs.partitions import quarter_of, quarterly_partitions
from dx_pipeline.defs.resources import DxResource
from dx_pipeline.publish.manifest import status_words
from dx_pipeline.publish.snapshot import Publication
from dx_pipeline.reference.quarters import Quarter

APPRAISAL = "appraisal"
"""The asset group of the appraisal's steps."""
APPROVED_BY = "Ủy ban nhân dân tỉnh"
"""The authority that approves a ranking when the run config names none."""


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def history_metadata(dx: DxResource, quarter: Quarter) -> dict[str, Any]:
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


def _pipeline_actor(context: AssetExecutionContext) -> str:
    """Who records a step the pipeline takes on its own: its trigger and run."""
    return f"dagster {context.run.tags.get('dx/trigger', 'run')} (run {context.run_id[:8]})"


@asset(
    owners=OWNERS,
    partitions_def=quarterly_partitions,
    group_name=APPRAISAL,
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
    exported = ap.export_workbook(dx.settings(), quarter, None, _pipeline_actor(context))
    return MaterializeResult(metadata={
        **history_metadata(dx, quarter),
        "workbook": MetadataValue.path(str(exported.path)),
        "workbook_rows": MetadataValue.int(exported.rows),
        "rows_with_a_verdict": MetadataValue.int(exported.appraised),
    })


class ProvisionalConfig(Config):
    """Who publishes the provisional result, and how long agencies may appeal it."""

    by: str = Field(description="Người công bố / who publishes it (recorded with the transition)")
    appeal_days: int = Field(default=ap.DEFAULT_APPEAL_DAYS,
                             description="Số ngày nhận kiến nghị / days agencies may appeal")


@asset(
    owners=OWNERS,
    partitions_def=quarterly_partitions,
    group_name=APPRAISAL,
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
    quarter = quarter_of(context.partition_key)
    published = ap.publish_provisional(dx.settings(), quarter, config.by, days=config.appeal_days, site=False)
    return MaterializeResult(metadata={
        **revision_metadata(published.publication),
        "appeal_window": MetadataValue.json(dict(published.publication.manifest.appraisal["appeal_window"])),
        **history_metadata(dx, quarter),
    })


class ApprovalConfig(Config):
    """The decision that approves the quarter's result, and who records it."""

    decision_number: str = Field(description="Số quyết định / the decision's number, e.g. 215/QĐ-UBND")
    decision_date: str = Field(description="Ngày quyết định / the decision's date, YYYY-MM-DD")
    approved_by: str = Field(default=APPROVED_BY, description="Cơ quan phê duyệt / the approving authority")
    by: str = Field(description="Người ghi nhận / who records the approval")
    note: str | None = Field(default=None, description="Ghi chú / a note kept with the approval")

    def request(self) -> ApprovalRequest:
        """The approval as the workflow records it; a clear error for a date it cannot read."""
        try:
            day = dt.date.fromisoformat(self.decision_date.strip())
        except ValueError:
            raise ValueError(
                f"decision_date must be a date as YYYY-MM-DD, not {self.decision_date!r}") from None
        return ApprovalRequest(self.decision_number, day, self.approved_by, self.note)


@asset(
    owners=OWNERS,
    partitions_def=quarterly_partitions,
    group_name=APPRAISAL,
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
    quarter = quarter_of(context.partition_key)
    approval_id, published = ap.approve(dx.settings(), quarter, config.request(), config.by, site=False)
    return MaterializeResult(metadata={
        **revision_metadata(published.publication),
        "approval": MetadataValue.json({"id": approval_id,
                                        **dict(published.publication.manifest.appraisal["approval"])}),
        **history_metadata(dx, quarter),
    })


QUARTER_STEPS = [quarter_appraisal]
"""Steps of the quarterly schedule's job."""
DECISION_STEPS = [provisional_result, final_result]
"""Steps people take, each in its own job with its run config (never in a backfill)."""
