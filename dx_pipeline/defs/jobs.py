"""Jobs: the quarter's job (what the schedule, the inbox sensor and ``dx-pipeline run`` start),
and one job for each step of the appraisal people take, with its run config.

The quarter's job computes, publishes the ``computed`` revision and opens the appraisal; it
never publishes a provisional or final result. ``provisional_job`` and ``approval_job`` each
materialize their step and then the website, after the appraisal's blocking check
(``quarter_appraisal_on_scored_units``): a verdict on an indicator nobody scored stops them.
``appraisal_import_job``, ``appeal_job`` and ``appeal_decision_job`` each materialize only their
step (a workbook imported, an appeal filed, an appeal decided): they publish nothing.
"""

from __future__ import annotations

import warnings

from dagster import AssetSelection, define_asset_job

from dx_pipeline.defs.partitions import quarter_job_config, quarterly_partitions

# The job holds the per-quarter assets (no backfill policy) and the publication step (single
# run per backfill range, for asset backfills); Dagster resolves the job to one partition per
# run, as intended, and warns about the mix every time it loads the code location.
warnings.filterwarnings(
    "ignore", message=r"Asset job quarter_job materializes assets with varying BackfillPolicies"
)

DECISIONS = AssetSelection.assets(
    "provisional_result", "final_result", "appraisal_verdicts", "agency_appeals", "appeal_decisions"
)
"""The steps people take (with run config): never in the quarter's job or a backfill."""
_APPRAISAL_CHECKED = AssetSelection.checks_for_assets("quarter_appraisal")


def decision_job(name: str, step: str, description: str, publishes: bool = False):
    """A person's decision job: one quarter's ``step`` (with its run config); a step that
    ``publishes`` also builds the website, after the appraisal's blocking check."""
    selection = (AssetSelection.assets(step, "portal_site") | _APPRAISAL_CHECKED if publishes
                 else AssetSelection.assets(step))
    return define_asset_job(name=name, selection=selection, partitions_def=quarterly_partitions,
                            description=description)


quarter_job = define_asset_job(
    name="quarter_job",
    selection=AssetSelection.all() - DECISIONS,
    partitions_def=quarterly_partitions,
    config=quarter_job_config,
    description=(
        "Toàn bộ một quý: tiếp nhận, kiểm tra chất lượng, KPI, chấm điểm, xếp hạng (kết quả tính toán, "
        "chưa thẩm định), mở thẩm định. / A whole quarter: ingest, quality checks, KPIs, scores, the "
        "computed ranking (not yet appraised), the appraisal opened."
    ),
)

provisional_job = decision_job(
    "provisional_job",
    "provisional_result",
    description=(
        "Công bố kết quả tạm thời sau thẩm định và trang thông tin; mở thời hạn kiến nghị (cấu hình: "
        "by, appeal_days). / Publish the provisional result after appraisal and its website; open "
        "the appeal window (run config: by, appeal_days)."
    ),
    publishes=True,
)

approval_job = decision_job(
    "approval_job",
    "final_result",
    description=(
        "Ghi nhận quyết định phê duyệt, công bố kết quả chính thức và trang thông tin (cấu hình: "
        "decision_number, decision_date, approved_by, by). / Record the approving decision, publish "
        "the final result and its website (run config: decision_number, decision_date, "
        "approved_by, by)."
    ),
    publishes=True,
)

appraisal_import_job = decision_job(
    "appraisal_import_job",
    "appraisal_verdicts",
    description=(
        "Nhập phiếu thẩm định đã điền và chấm lại điểm (cấu hình: path, evaluator). / Import the "
        "evaluator's filled workbook and re-score the quarter (run config: path, evaluator)."
    ),
)

appeal_job = decision_job(
    "appeal_job",
    "agency_appeals",
    description=(
        "Ghi nhận kiến nghị của đơn vị: phiếu kiến nghị hoặc một chỉ tiêu (cấu hình: by, workbook hoặc "
        "agency, indicator, argument, value). / File an agency's appeals: its appeal workbook or one "
        "indicator (run config: by, and workbook or agency, indicator, argument, value)."
    ),
)

appeal_decision_job = decision_job(
    "appeal_decision_job",
    "appeal_decisions",
    description=(
        "Quyết định về một kiến nghị, có lý do; chấm lại điểm khi chấp nhận (cấu hình: appeal_id, "
        "accept, reason, by, value, points). / Decide an appeal with a reason; re-score when accepted "
        "(run config: appeal_id, accept, reason, by, value, points)."
    ),
)

APPRAISAL_JOBS = [provisional_job, approval_job, appraisal_import_job, appeal_job, appeal_decision_job]
