"""Dagster wiring: thin assets, checks, jobs, schedules, sensors and resources around the domain.

Belongs here: what Dagster needs to know (partitions, dependencies, policies, metadata, run
tags) and the translation from Dagster's context to plain arguments. Does not belong here:
reading, computing or publishing anything (that is :mod:`dx_pipeline.app` and the rooms below
it). This is the only package that imports Dagster.
"""

import warnings

from dagster import BetaWarning, PreviewWarning

# The project uses two features Dagster still labels beta/preview on purpose: partitioned asset
# checks (a check's verdict per quarter) and ``allow_nonexistent_upstream_partitions`` (the first
# quarter has no previous one). The notices are for library authors, not for someone running a
# quarter; they are silenced here, where the wiring that uses them is imported.
warnings.filterwarnings("ignore", category=BetaWarning)
warnings.filterwarnings("ignore", category=PreviewWarning)
