"""The Dagster code location: ``dagster dev -m dx_pipeline.definitions`` loads ``defs`` from here."""

from __future__ import annotations

from dx_pipeline.defs.definitions import build_definitions

defs = build_definitions()
