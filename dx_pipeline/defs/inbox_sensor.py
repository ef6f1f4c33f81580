"""The inbox sensor: a quarter whose inbox folder holds file versions no run has read starts a
run of that quarter, once, and after the runs of the quarters before it.

Thin wiring around :func:`dx_pipeline.sources.inbox.inbox_tick`, which decides from the inbox,
each quarter's ledger of what its last ingestion read and a small cursor (one line per quarter
folder). A new instance starts from what is there (nothing launched for what was already
read; see that module). One run per quarter and tick, with a stable run key, so Dagster also
refuses a repeat while the run is queued.

Runs of different quarters do not race: a quarter's scores carry the previous quarter forward
and its ranking moves against the previous ranking, so a quarter is requested only when no run
of an earlier quarter is queued or in progress (whoever started it), and of several quarters
changed at once only the oldest goes first; the others wait for the next ticks.

A quarter whose dossiers were already ingested (its ``portal_dossiers`` partition
materialized, no export changed since) is run from ``agency_submissions`` downstream, with
those assets' checks: the result a whole run gives (the app layer's ``test_republish``), without
reading the export again.
"""


from dagster import (
    AssetCheckKey,
    AssetKey,
    AssetSelection,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from dx_pipeline.app.republish import dossiers_current
from dx_pipeline.defs.partitions import quarter_tags, quarterly_partitions
from dx_pipeline.defs.resources import DxResource
from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.sources.inbox import InboxCursor, InboxTick, QuarterChange, inbox_tick
from dx_pipeline.storage import DxHome

MINIMUM_INTERVAL_SECONDS = 30
INCREMENTAL_START = "agency_submissions"
REUSED_ASSET = "portal_dossiers"
"""A late file changes submissions, never dossiers: once the quarter's dossiers are ingested
(and no export changed since), the run covers ``agency_submissions`` and what depends on it,
not the registry and the portal ingest (which re-read the whole export, 23-34 s at 10M)."""

ACTIVE = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
    DagsterRunStatus.CANCELING,
]
"""Run statuses that mean a quarter is still being computed."""


def _is_partition(quarter: Quarter) -> bool:
    """A quarter the partitions cover now (from the first quarter to the last closed one)."""
    return quarterly_partitions.has_partition_key(quarter.partition_key)


def busy_quarters(instance) -> set[Quarter]:
    """Quarters with a run queued or in progress (a single-run backfill covers a range)."""
    busy: set[Quarter] = set()
    for run in instance.get_runs(filters=RunsFilter(statuses=ACTIVE)):
        tags = run.tags
        first = tags.get("dagster/partition") or tags.get("dagster/asset_partition_range_start")
        last = tags.get("dagster/partition") or tags.get("dagster/asset_partition_range_end")
        if first and last:
            q, end = Quarter.parse(first), Quarter.parse(last)
            while q <= end:
                busy.add(q)
                q = q.next()
    return busy


def incremental_selection(
    context: SensorEvaluationContext, job, quarter: Quarter, home: DxHome,
    start: str = INCREMENTAL_START, reuse: str = REUSED_ASSET,
) -> tuple[list[AssetKey], list[AssetCheckKey]] | None:
    """The assets (and their checks) of ``job`` from ``start`` downstream, when the quarter's
    ``reuse`` partition was materialized and its files may be reused
    (:func:`~dx_pipeline.app.republish.dossiers_current`); None: the whole job runs."""
    repo = context.repository_def
    selection = getattr(job, "selection", None)
    if repo is None or selection is None:
        return None
    graph = repo.asset_graph
    start_key, reuse_key = AssetKey(start), AssetKey(reuse)
    if not (graph.has(start_key) and graph.has(reuse_key)):
        return None
    if quarter.partition_key not in context.instance.get_materialized_partitions(reuse_key):
        return None
    if not dossiers_current(home, quarter):
        return None
    # a multi-asset runs whole: its sibling outputs (submission_rejects) come along
    chosen = (AssetSelection.assets(start_key).downstream() & selection).required_multi_asset_neighbors()
    keys = sorted(chosen.resolve(graph), key=lambda k: k.to_user_string())
    checks = sorted(chosen.resolve_checks(graph), key=lambda k: k.to_user_string())
    return keys, checks


def _run_request(change: QuarterChange, subset: tuple[list[AssetKey], list[AssetCheckKey]] | None = None,
                 ) -> RunRequest:
    files = change.files
    tags = {
        **quarter_tags(change.quarter),
        "dx/trigger": "sensor:inbox",
        "dx/inbox_file": files[0].relpath if files else "",
        "dx/inbox_files": str(len(files)),
    }
    if subset is None:
        return RunRequest(run_key=change.run_key, partition_key=change.quarter.partition_key, tags=tags)
    keys, checks = subset
    return RunRequest(
        run_key=change.run_key,
        partition_key=change.quarter.partition_key,
        tags={**tags, "dx/scope": f"from {INCREMENTAL_START}: the ingested dossiers reused"},
        asset_selection=keys,
        asset_check_keys=checks,
    )


def _log_tick(context: SensorEvaluationContext, tick: InboxTick) -> None:
    for label, count in sorted(tick.waiting.items()):
        context.log.info(f"inbox/{label}/: {count} file(s) wait until {label} closes")
    for relpath, quarter in tick.loose:
        where = f"inbox/{quarter.label}/" if quarter else "its quarter's folder inbox/YYYY-Qn/"
        context.log.warning(f"inbox file {relpath}: runs read only the quarter folders; move it into {where}")


def _skip_reason(tick: InboxTick, deferred: list[QuarterChange], busy: set[Quarter]) -> str:
    if deferred:
        first = deferred[0].quarter
        before = sorted(q.label for q in busy if q < first)
        return f"{first.label} has new files; it waits for the run of {', '.join(before)}"
    return "no file version in the inbox that a run has not read"


def build_inbox_sensor(
    job,
    name: str = "inbox_sensor",
    minimum_interval_seconds: int = MINIMUM_INTERVAL_SECONDS,
    default_status: DefaultSensorStatus = DefaultSensorStatus.RUNNING,
) -> SensorDefinition:
    """A sensor on the ``dx`` resource's inbox that requests ``job`` for the oldest quarter whose
    folder holds file versions no run has read, once no earlier quarter is being computed."""

    @sensor(
        name=name,
        job=job,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=default_status,
        description=(
            "Tệp báo cáo mới hoặc sửa trong inbox/YYYY-Qn/ → chạy lại quý đó, sau các quý trước. / "
            "New or changed files in inbox/YYYY-Qn/ re-run that quarter, once per set of file "
            "versions, after any run of an earlier quarter. A new instance starts from what is "
            "already there."
        ),
    )
    def _inbox_sensor(context: SensorEvaluationContext, dx: DxResource):
        tick = inbox_tick(dx.settings().home, InboxCursor.from_cursor(context.cursor), _is_partition)
        _log_tick(context, tick)
        busy = busy_quarters(context.instance) if tick.changes else set()
        first = tick.changes[0] if tick.changes else None
        now = [first] if first is not None and not any(q < first.quarter for q in busy) else []
        cursor = tick.cursor.to_cursor()
        if not now:
            reason = _skip_reason(tick, tick.changes, busy)
            return SensorResult(skip_reason=SkipReason(reason), cursor=cursor)
        home = dx.settings().home
        requests = [_run_request(c, incremental_selection(context, job, c.quarter, home)) for c in now]
        return SensorResult(run_requests=requests, cursor=cursor)

    return _inbox_sensor
