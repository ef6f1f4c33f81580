"""The asset graph the design promises (shared/DESIGN.md), written once for every test that
checks the code location, in process or through the Dagster UI."""

ASSETS = frozenset({
    "agencies",
    "portal_dossiers",
    "agency_submissions",
    "agency_kpis",
    "index_scores",
    "rank_uncertainty",
    "ranking_snapshot",
    "period_rankings",
})
INPUTS = frozenset({"agencies", "portal_dossiers", "agency_submissions"})
"""Assets that take data from outside; each must have a blocking quality check."""
