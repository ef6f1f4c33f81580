"""Alias of :mod:`dx_pipeline.index.uncertainty` (the name the Dagster wiring imports)."""

from dx_pipeline.index.uncertainty import rank_uncertainty

__all__ = ["rank_uncertainty"]
