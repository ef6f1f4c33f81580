"""The quarterly partitions every asset uses, defined once and imported everywhere, and the
quarter's name as people say it (``2025-Q4``) wherever Dagster shows a partition.

Partition keys stay ``YYYY-MM`` (the quarter's first month): Dagster 1.13 builds a time-window
partition's key with ``strftime`` on its ``fmt`` in every process that reads the definitions
(webserver, daemon, code server), and ``strftime`` has no quarter directive, so ``2025-Q4``
cannot be a key without giving up the time windows the partition mappings need (docs/ui.md).
The label goes everywhere else: run tags (:func:`quarter_tags`), asset and check metadata.
"""

from __future__ import annotations

from collections.abc import Mapping

from dagster import AssetCheckExecutionContext, PartitionedConfig, TimeWindowPartitionsDefinition

from dx_pipeline.reference.quarters import FIRST_QUARTER, Quarter

quarterly_partitions = TimeWindowPartitionsDefinition(
    cron_schedule="0 0 1 */3 *",
    fmt="%Y-%m",
    start=FIRST_QUARTER.partition_key,
    end_offset=0,
)
"""One partition per calendar quarter, keyed by its first month (``2024-07`` = 2024-Q3)."""

QUARTER_TAG = "dx/quarter"
"""The run tag naming the quarter as people do (``2025-Q4``); filter the Runs page on it."""


def quarter_of(partition_key: str) -> Quarter:
    """The quarter a Dagster partition key stands for."""
    return Quarter.parse(partition_key)


def run_quarters(context: AssetCheckExecutionContext) -> list[Quarter]:
    """The quarters a check run covers: one, or every quarter of a backfill's range
    (``publish_rankings`` publishes a whole range in one run, so its checks run over it)."""
    return sorted(quarter_of(key) for key in context.partition_keys)


def require_partition(quarter: Quarter | str) -> Quarter:
    """``quarter`` if it is a partition now, else a ValueError that says which quarters are."""
    q = quarter if isinstance(quarter, Quarter) else Quarter.parse(quarter)
    if quarterly_partitions.has_partition_key(q.partition_key):
        return q
    last_key = quarterly_partitions.get_last_partition_key()
    last = quarter_of(last_key) if last_key else None
    span = f"quarters run from {FIRST_QUARTER.label} to {last.label}" if last else "no quarter has closed yet"
    if q < FIRST_QUARTER:
        raise ValueError(
            f"{q.label} is before {FIRST_QUARTER.label}, the first quarter the pipeline covers; {span}"
        )
    raise ValueError(f"{q.label} has not closed yet (it ends on {q.last_day:%d/%m/%Y}); {span}")


def quarter_tags(quarter: Quarter) -> dict[str, str]:
    """The run tags of a run of ``quarter``: its label next to Dagster's partition key."""
    return {QUARTER_TAG: quarter.label}


def _tags_for_partition(partition_key: str) -> Mapping[str, str]:
    return quarter_tags(quarter_of(partition_key))


quarter_job_config = PartitionedConfig(
    partitions_def=quarterly_partitions,
    run_config_for_partition_key_fn=lambda _key: {},
    tags_for_partition_key_fn=_tags_for_partition,
)
"""The quarter job's per-partition run config (none) and tags (``dx/quarter``): every run of
the job for a partition (schedule, sensor, ``dx-pipeline run``, the UI's launchpad) carries
the label."""
