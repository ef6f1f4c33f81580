"""Jobs: one job materializes every asset and check of a quarter."""

from __future__ import annotations

from dagster import AssetSelection, define_asset_job

from dx_pipeline.defs.partitions import quarterly_partitions

quarter_job = define_asset_job(
    name="quarter_job",
    selection=AssetSelection.all(),
    partitions_def=quarterly_partitions,
    description=(
        "Toàn bộ một quý: tiếp nhận, kiểm tra chất lượng, KPI, chấm điểm, xếp hạng, công bố. / "
        "A whole quarter: ingest, quality checks, KPIs, scores, ranking, publication."
    ),
)
