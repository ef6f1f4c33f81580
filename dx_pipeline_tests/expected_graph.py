"""The asset graph the design promises (shared/DESIGN.md), written once for every test that
checks the code location, in process or through the Dagster UI.

Every warehouse table with a contract is an asset, so nothing the pipeline stores is invisible
in the UI; ``period_rankings`` is the published half-year and annual rankings, ``portal_site``
the website built from the published revisions.
"""

from dx_pipeline.reference.schemas import CONTRACTS

TABLES = frozenset(CONTRACTS)
"""Every table the warehouse stores."""

ASSETS = TABLES | {"period_rankings", "portal_site"}
MATERIALIZED = ASSETS - {"dq_results"}
"""Assets a step materializes (and a backfill targets); the quality checks write dq_results."""
INPUTS = frozenset({"agencies", "portal_dossiers", "agency_submissions"})
"""Assets that take data from outside; each must have a blocking quality check."""
