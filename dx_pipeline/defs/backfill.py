"""Asset backfills of quarter partitions: what ``dx-pipeline backfill`` and the UI submit.

Why an *asset* backfill and not ``dagster job backfill``: the quarter's assets depend on other
quarters (``index_scores`` on last quarter's ``agency_kpis``, ``ranking_snapshot`` on last
quarter's ``ranking_snapshot`` for rank movement, ``period_rankings`` on earlier quarters'
KPIs and periods). ``dagster job backfill`` queues one whole-job run per quarter at once and
the queue starts them as slots free up, so a quarter may be ranked against a previous quarter
that is not finished (or finished in an earlier, stale run): the result depends on timing.
An asset backfill is planned by the daemon's backfill loop, which launches an asset partition
only once its upstream partitions -- in this quarter and in the ones it maps to -- are
materialized: ingestion, checks and KPIs of every quarter run side by side (one run per
quarter, tagged ``dagster/partition``), each quarter's scores once the previous quarter's KPIs
exist, and the publication chain (``publish_rankings``, single-run backfill policy) as one run
over the range, in time order.

Both entry points send the same GraphQL mutation the UI's "Materialize" over a partition range
sends (``launchPartitionBackfill`` with an asset selection): in process against the workspace
(no webserver needed, Dagster's ``dagster-graphql`` does the same) or to a running webserver.
The daemon (``dagster-daemon run``) then launches the runs within the instance's run limits.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dagster import AssetsDefinition

from dx_pipeline.defs.appraisal import QUARTER_STEPS
from dx_pipeline.defs.assets import ALL_ASSETS
from dx_pipeline.defs.graphql import graphql as post_graphql
from dx_pipeline.reference.quarters import Quarter

LAUNCH_BACKFILL_MUTATION = """
mutation DxLaunchBackfill($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PartitionKeysNotFoundError { partitionKeys message }
    ... on PythonError { message stack }
    ... on Error { message }
  }
}
"""

BACKFILL_QUERY = """
query DxBackfill($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill {
      id status isAssetBackfill partitionNames
      assetSelection { path }
      tags { key value }
      runs(limit: 10000) { status }
    }
    ... on Error { message }
  }
}
"""

BACKFILL_TAGS: dict[str, str] = {"dx/trigger": "backfill"}
"""Tags of every run of a backfill submitted here (the publication records ``dx/trigger``)."""

FINISHED_STATUSES = frozenset({"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"})
"""Backfill statuses after which the daemon launches nothing more."""


class BackfillError(ValueError):
    """The backfill was refused (unknown partitions, a code location error, ...)."""


def quarter_asset_paths() -> list[list[str]]:
    """Asset keys (as GraphQL paths) of every asset the quarter's job materializes, upstream
    first (``dq_results`` has no step: its checks write it as they run; the provisional and
    final results are decisions people take, never backfilled)."""
    steps = [asset for asset in [*ALL_ASSETS, *QUARTER_STEPS] if isinstance(asset, AssetsDefinition)]
    return [list(key.path) for asset in steps for key in asset.keys]


def backfill_params(
    quarters: Sequence[Quarter] | None,
    asset_paths: Iterable[Sequence[str]],
    *,
    tags: Mapping[str, str] | None = None,
    title: str | None = None,
) -> dict[str, Any]:
    """``LaunchBackfillParams`` of an asset backfill of ``quarters`` (None = every partition).

    The quarters are given per asset (``partitionsByAssets``), so exactly those partitions of
    every asset are targeted. (``partitionNames`` with an ``assetSelection``, what the UI's
    range dialog sends, targets the partitions of the root assets and then every downstream
    partition the partition mappings reach: ranking a range also re-ranks the quarters after
    it, which fails for quarters that have no data yet.)
    """
    all_tags = {**BACKFILL_TAGS, **(tags or {})}
    paths = [list(path) for path in asset_paths]
    params: dict[str, Any] = {"tags": [{"key": k, "value": v} for k, v in all_tags.items()]}
    if quarters is None:
        params["assetSelection"] = [{"path": path} for path in paths]
        params["allPartitions"] = True
    else:
        ranges = [
            {"start": run[0].partition_key, "end": run[-1].partition_key}
            for run in _consecutive_runs(quarters)
        ]
        params["partitionsByAssets"] = [
            {"assetKey": {"path": path}, "partitions": {"ranges": ranges}} for path in paths
        ]
    if title:
        params["title"] = title
    return params


def _consecutive_runs(quarters: Sequence[Quarter]) -> list[list[Quarter]]:
    """``quarters`` sorted and split where one does not follow the previous."""
    if not quarters:
        raise ValueError("a backfill needs at least one quarter")
    runs: list[list[Quarter]] = []
    for quarter in sorted(set(quarters)):
        if runs and runs[-1][-1].next() == quarter:
            runs[-1].append(quarter)
        else:
            runs.append([quarter])
    return runs


def backfill_id_from(result: Mapping[str, Any]) -> str:
    """The backfill id of a ``launchPartitionBackfill`` answer, or BackfillError."""
    launched = result["launchPartitionBackfill"]
    if launched["__typename"] != "LaunchBackfillSuccess":
        detail = launched.get("message") or launched
        raise BackfillError(f"launchPartitionBackfill: {launched['__typename']}: {detail}")
    return launched["backfillId"]


GraphQL = Callable[[str, Mapping[str, Any]], Mapping[str, Any]]
"""``(query, variables) -> data``: in process or over HTTP."""


def in_process_graphql(workspace: Path) -> "_InProcessGraphQL":
    """GraphQL executed in this process against ``workspace`` (a context manager).

    Loads the code locations the way the webserver and ``dagster-graphql -w`` do, on the
    instance of ``DAGSTER_HOME``; closing it stops the code server it started.
    """
    return _InProcessGraphQL(Path(workspace))


class _InProcessGraphQL:
    def __init__(self, workspace: Path) -> None:
        self.workspace = workspace
        self._instance = None
        self._context = None

    def __enter__(self) -> "_InProcessGraphQL":
        from dagster import DagsterInstance
        from dagster._core.workspace.context import WorkspaceProcessContext
        from dagster._core.workspace.load_target import WorkspaceFileTarget

        self._instance = DagsterInstance.get()
        target = WorkspaceFileTarget(paths=[str(self.workspace)])
        self._context = WorkspaceProcessContext(self._instance, target)
        self._context.__enter__()
        return self

    def __call__(self, query: str, variables: Mapping[str, Any]) -> Mapping[str, Any]:
        from dagster_graphql.cli import execute_query

        if self._context is None:
            raise BackfillError("in-process GraphQL used outside its `with` block")
        body = execute_query(self._context, query, dict(variables))
        errors, data = body.get("errors"), body.get("data")
        if errors or data is None:
            raise BackfillError(f"GraphQL errors: {errors or 'no data in the answer'}")
        return data

    def __exit__(self, *exc) -> None:
        if self._context is not None:
            self._context.__exit__(*exc)
        if self._instance is not None:
            self._instance.dispose()


def http_graphql(base_url: str) -> GraphQL:
    """GraphQL sent to a running webserver at ``base_url`` (what the browser does)."""
    return lambda query, variables: post_graphql(base_url, query, variables)


def launch_backfill(graphql: GraphQL, params: Mapping[str, Any]) -> str:
    """Submit the asset backfill ``params``; returns its id (the daemon runs it)."""
    return backfill_id_from(graphql(LAUNCH_BACKFILL_MUTATION, {"params": dict(params)}))


def backfill_info(graphql: GraphQL, backfill_id: str) -> dict[str, Any]:
    """The backfill as the UI's backfill page sees it (status, partitions, assets)."""
    found = graphql(BACKFILL_QUERY, {"id": backfill_id})["partitionBackfillOrError"]
    if found["__typename"] != "PartitionBackfill":
        raise BackfillError(f"backfill {backfill_id}: {found['__typename']}: {found.get('message')}")
    return found


@dataclass(frozen=True)
class BackfillProgress:
    """A backfill's status and how many of its runs are in each state."""

    backfill_id: str
    status: str
    runs: dict[str, int]  # run status -> count

    @property
    def finished(self) -> bool:
        return self.status in FINISHED_STATUSES

    def line(self) -> str:
        runs = ", ".join(f"{n} {s.lower()}" for s, n in sorted(self.runs.items())) or "no runs yet"
        return f"backfill {self.backfill_id}: {self.status} ({runs})"


def progress_from_instance(instance, backfill_id: str) -> BackfillProgress:
    """Progress read from the instance (run storage) this process uses."""
    from collections import Counter

    from dagster import RunsFilter

    backfill = instance.get_backfill(backfill_id)
    if backfill is None:
        raise BackfillError(f"no backfill {backfill_id} on this instance")
    runs = instance.get_runs(filters=RunsFilter.for_backfill(backfill_id))
    return BackfillProgress(
        backfill_id, backfill.status.value, dict(Counter(run.status.value for run in runs))
    )


def progress_from_graphql(graphql: GraphQL, backfill_id: str) -> BackfillProgress:
    """Progress as a webserver reports it."""
    from collections import Counter

    info = backfill_info(graphql, backfill_id)
    return BackfillProgress(
        backfill_id, info["status"], dict(Counter(run["status"] for run in info["runs"]))
    )


def wait_for_backfill(
    progress: Callable[[], BackfillProgress],
    timeout: float,
    *,
    poll_seconds: float = 2.0,
    on_change: Callable[[BackfillProgress], object] | None = None,
) -> BackfillProgress:
    """Poll ``progress()`` until the backfill is finished (or ``timeout`` seconds pass); the
    last progress seen. ``on_change`` sees every progress that differs from the one before."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        current = progress()
        if on_change is not None and current != last:
            on_change(current)
        last = current
        if current.finished or time.monotonic() > deadline:
            return current
        time.sleep(poll_seconds)
