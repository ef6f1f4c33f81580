"""The Dagster code location: ``dagster dev -w workspace.yaml`` loads ``defs`` from here."""

from __future__ import annotations

from dagster import Definitions

from dx_pipeline.defs import assets as quarter_assets
from dx_pipeline.defs.checks import build_quality_checks
from dx_pipeline.defs.executors import executor_for
from dx_pipeline.defs.inbox_sensor import build_inbox_sensor
from dx_pipeline.defs.jobs import quarter_job
from dx_pipeline.defs.resources import DxHomeResource
from dx_pipeline.defs.schedules import quarterly_ranking_schedule
from dx_pipeline.storage import DxHome

defs = Definitions(
    assets=quarter_assets.ALL_ASSETS,
    asset_checks=build_quality_checks(),
    jobs=[quarter_job],
    schedules=[quarterly_ranking_schedule],
    sensors=[build_inbox_sensor(quarter_job, DxHome.from_env)],
    resources={"dx_home": DxHomeResource()},
    executor=executor_for(),
)
