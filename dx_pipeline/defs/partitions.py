"""The quarterly partitions every asset uses, defined once and imported everywhere."""

from __future__ import annotations

from dagster import TimeWindowPartitionsDefinition

from dx_pipeline.reference.quarters import FIRST_QUARTER, Quarter

quarterly_partitions = TimeWindowPartitionsDefinition(
    cron_schedule="0 0 1 */3 *",
    fmt="%Y-%m",
    start=FIRST_QUARTER.partition_key,
    end_offset=0,
)
"""One partition per calendar quarter, keyed by its first month (``2024-07`` = 2024-Q3)."""


def quarter_of(partition_key: str) -> Quarter:
    """The quarter a Dagster partition key stands for."""
    return Quarter.parse(partition_key)
