"""Jobs: one job materializes every asset and check of a quarter."""

from __future__ import annotations

import warnings

from dagster import AssetSelection, define_asset_job

from dx_pipeline.defs.partitions import quarter_job_config, quarterly_partitions

# The job holds the per-quarter assets (no backfill policy) and the publication step (single
# run per backfill range, for asset backfills); Dagster resolves the job to one partition per
# run, as intended, and warns about the mix every time it loads the code location.
warnings.filterwarnings(
    "ignore", message=r"Asset job quarter_job materializes assets with varying BackfillPolicies"
)

quarter_job = define_asset_job(
    name="quarter_job",
    selection=AssetSelection.all(),
    partitions_def=quarterly_partitions,
    config=quarter_job_config,
    description=(
        "Toàn bộ một quý: tiếp nhận, kiểm tra chất lượng, KPI, chấm điểm, xếp hạng, công bố. / "
        "A whole quarter: ingest, quality checks, KPIs, scores, ranking, publication."
    ),
)
