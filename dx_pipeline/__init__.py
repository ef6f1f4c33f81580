"""dx_pipeline: digital-transformation KPIs, index scores and rankings for a province.

Domain modules (sources, kpis, index, publish, quality, storage, sample) are plain Python and
never import Dagster; the Dagster wiring lives in ``dx_pipeline.defs`` and
``dx_pipeline.definitions``.
"""

__version__ = "0.1.0"
