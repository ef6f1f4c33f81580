"""The asset graph the design promises (shared/DESIGN.md), written once for every test that
checks the code location, in process or through the Dagster UI.

Every warehouse table with a contract is an asset, so nothing the pipeline stores is invisible
in the UI; ``period_rankings`` is the published half-year and annual rankings, ``portal_site``
the website built from the published revisions; the appraisal's steps are assets too
(``quarter_appraisal``, ``provisional_result``, ``final_result``, and the people's steps in
between: ``appraisal_verdicts``, ``agency_appeals``, ``appeal_decisions``).
"""

from dx_pipeline.reference.schemas import CONTRACTS

TABLES = frozenset(CONTRACTS)
"""Every table the warehouse stores."""

DECISIONS = frozenset({"provisional_result", "final_result", "appraisal_verdicts", "agency_appeals",
                       "appeal_decisions"})
"""Appraisal steps people take, each in a job of its own with its run config."""
ASSETS = TABLES | {"period_rankings", "portal_site", "quarter_appraisal"} | DECISIONS
MATERIALIZED = ASSETS - {"dq_results"}
"""Assets a step materializes; the quality checks write dq_results."""
QUARTER_JOB = MATERIALIZED - DECISIONS
"""What the quarter's job (schedule, sensor, ``dx-pipeline run``) and a backfill materialize:
never a provisional or final result, never a person's decision."""
INPUTS = frozenset({"agencies", "portal_dossiers", "agency_submissions"})
"""Assets that take data from outside; each must have a blocking quality check."""
