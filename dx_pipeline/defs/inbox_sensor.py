"""The inbox sensor: a new or changed submission file starts a run of its quarter, once.

Thin wiring around ``dx_pipeline.sources.inbox``: the cursor is the inbox state (path -> size,
mtime, sha256), each new file version yields one ``RunRequest`` for its quarter's partition
with the stable run key ``quarter:relpath:sha12``, so Dagster also refuses a duplicate.
Several files of one quarter arriving in the same tick share one run (see ``_run_request``). Files
whose quarter is unknown, or not a partition yet, are logged and skipped (they are retried
on every tick until they can run).
"""


import datetime as dt
import hashlib

from dagster import (
    DefaultSensorStatus,
    RunRequest,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from dx_pipeline.defs.resources import DxResource
from dx_pipeline.reference.quarters import FIRST_QUARTER, Quarter
from dx_pipeline.sources.inbox import InboxState, changed_files

MINIMUM_INTERVAL_SECONDS = 30


def _is_partition(quarter: Quarter, today: dt.date) -> bool:
    """Quarterly partitions start at FIRST_QUARTER and end with the last closed quarter."""
    return FIRST_QUARTER <= quarter and quarter.end <= today


def _run_request(quarter: Quarter, files: list) -> RunRequest:
    """One run per quarter per tick: a lone file keeps its own run key; several files that
    arrived together share one run (re-running a quarter once per file would only repeat the
    same work), keyed by all their versions."""
    if len(files) == 1:
        key = files[0].run_key
    else:
        digest = hashlib.sha256("\n".join(sorted(f.run_key for f in files)).encode()).hexdigest()
        key = f"{quarter.label}:batch:{digest[:12]}"
    return RunRequest(
        run_key=key,
        partition_key=quarter.partition_key,
        tags={
            "dx/trigger": "sensor:inbox",
            "dx/inbox_file": files[0].relpath,
            "dx/inbox_files": str(len(files)),
        },
    )


def build_inbox_sensor(
    job,
    name: str = "inbox_sensor",
    minimum_interval_seconds: int = MINIMUM_INTERVAL_SECONDS,
    default_status: DefaultSensorStatus = DefaultSensorStatus.RUNNING,
) -> SensorDefinition:
    """A sensor on the ``dx`` resource's inbox that requests ``job`` for the quarter of every
    new or changed file version (one request per quarter and tick)."""

    @sensor(
        name=name,
        job=job,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=default_status,
        description=(
            "Tệp báo cáo mới hoặc sửa trong inbox → chạy lại quý tương ứng. / "
            "A new or changed file in the inbox re-runs its quarter, once per file version."
        ),
    )
    def _inbox_sensor(context: SensorEvaluationContext, dx: DxResource):
        home = dx.settings().home
        state = InboxState.from_cursor(context.cursor)
        changed, new_state = changed_files(home.inbox, state)
        today = dt.date.today()
        ready: dict = {}
        retry = set()
        for f in changed:
            if f.quarter is None:
                context.log.warning(f"inbox file {f.relpath}: no quarter in its folder or content; skipped")
                retry.add(f.relpath)
                continue
            if not _is_partition(f.quarter, today):
                context.log.warning(f"inbox file {f.relpath}: {f.quarter.label} is not a closed quarter yet")
                retry.add(f.relpath)
                continue
            ready.setdefault(f.quarter, []).append(f)
        requests = [_run_request(q, files) for q, files in sorted(ready.items())]
        # skipped files stay out of the cursor, so they are looked at again on the next tick
        cursor = InboxState({k: v for k, v in new_state.files.items() if k not in retry}).to_cursor()
        if not requests:
            return SensorResult(skip_reason=SkipReason("no new or changed inbox files"), cursor=cursor)
        return SensorResult(run_requests=requests, cursor=cursor)

    return _inbox_sensor
