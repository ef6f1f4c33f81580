"""The code location's ``Definitions``, built from the environment the code location runs in.

:func:`build_definitions` is called once at import by :mod:`dx_pipeline.definitions` (what
``dagster dev``, the daemon and the code server load) and again by ``dx-pipeline run`` after it
has set up its environment, so the ``dx`` resource's ``EnvVar`` wiring sees the same variables
as the run it launches. Building them checks every configuration file first.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from dagster import Definitions, with_source_code_references

from dx_pipeline.app.configuration import require_valid_configuration
from dx_pipeline.defs.appraisal import DECISION_STEPS, QUARTER_STEPS
from dx_pipeline.defs.assets import ALL_ASSETS
from dx_pipeline.defs.checks import build_quality_checks
from dx_pipeline.defs.executors import executor_for
from dx_pipeline.defs.inbox_sensor import build_inbox_sensor
from dx_pipeline.defs.jobs import APPRAISAL_JOBS, quarter_job
from dx_pipeline.defs.publication_checks import PUBLICATION_CHECKS
from dx_pipeline.defs.resources import dx_resource, settings_at_load
from dx_pipeline.defs.schedules import quarterly_ranking_schedule


def build_definitions(environ: Mapping[str, str] | None = None) -> Definitions:
    """Every asset, check, job, schedule and sensor, with the ``dx`` resource wired to
    ``environ`` (default: the process environment).

    Every configuration file is checked first (:func:`require_valid_configuration`): a bad
    one fails the code location's load with a ``ConfigurationError`` naming the file and the
    problem, before any asset can run."""
    require_valid_configuration(settings_at_load(environ))
    return Definitions(
        # each asset's page links the file and line it is defined at (local paths: no network)
        assets=with_source_code_references([*ALL_ASSETS, *QUARTER_STEPS, *DECISION_STEPS]),
        asset_checks=[*build_quality_checks(), *PUBLICATION_CHECKS],
        jobs=[quarter_job, *APPRAISAL_JOBS],
        schedules=[quarterly_ranking_schedule],
        sensors=[build_inbox_sensor(quarter_job)],
        resources={"dx": dx_resource(environ)},
        executor=executor_for((environ if environ is not None else os.environ).get("DX_EXECUTOR")),
    )
