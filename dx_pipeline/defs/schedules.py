"""The quarterly schedule: compute the quarter that just closed and open its appraisal.

Agencies have until the 15th day after the quarter ends to report (the default submission
deadline), so the schedule runs at 02:00 Vietnam time on the 16th of January, April, July and
October, and targets the previous quarter. Its run publishes the *computed* result (a revision
with ``status: computed``, not shown to agencies, never final) and puts it under appraisal with
the evaluator's workbook; the provisional and final results are the appraisal jobs', run by
people (:mod:`dx_pipeline.defs.jobs`). Late files after that arrive through the inbox sensor
and produce a new computed revision, never a silent overwrite.
"""

from __future__ import annotations

from dagster import RunRequest, ScheduleEvaluationContext, schedule

from dx_pipeline.defs.jobs import quarter_job
from dx_pipeline.reference.quarters import Quarter

QUARTERLY_CRON = "0 2 16 1,4,7,10 *"
TIMEZONE = "Asia/Ho_Chi_Minh"


def quarter_just_closed(tick_date) -> Quarter:
    """The quarter before the one containing ``tick_date``."""
    return Quarter.containing(tick_date).previous()


@schedule(
    job=quarter_job,
    cron_schedule=QUARTERLY_CRON,
    execution_timezone=TIMEZONE,
    owners=["team:dx-data"],  # shown on the schedule's page, as on every asset's
    description=(
        "Chạy lúc 02:00 (giờ Việt Nam) ngày 16 các tháng 1, 4, 7, 10 cho quý vừa kết thúc: tính kết quả "
        "(chưa thẩm định) và mở thẩm định, không công bố kết quả chính thức. / "
        "Runs at 02:00 Vietnam time on the 16th of January, April, July and October, for the "
        "quarter that just closed (after the 15-day reporting deadline): computes the result (not "
        "yet appraised) and opens its appraisal; it never publishes a final ranking."
    ),
)
def quarterly_ranking_schedule(context: ScheduleEvaluationContext) -> RunRequest:
    """Request the run of the quarter that closed before the scheduled time."""
    quarter = quarter_just_closed(context.scheduled_execution_time)
    return RunRequest(
        run_key=f"schedule:{quarter.label}",
        partition_key=quarter.partition_key,
        tags={"dx/trigger": "schedule", "dx/quarter": quarter.label},
    )
