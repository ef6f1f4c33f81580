"""Publishing: immutable ranking snapshots, their manifest and verification, the HTML report,
exports for Excel and BI tools, and half-year/annual periods. Plain Python, no Dagster."""

from dx_pipeline.publish.exports import build_bi_database, safe_cell, write_csv, write_excel
from dx_pipeline.publish.manifest import framework_metadata
from dx_pipeline.publish.periods import Period, combine_quarters
from dx_pipeline.publish.snapshot import (
    Publication,
    get_publication,
    list_publications,
    publish_ranking,
)
from dx_pipeline.publish.verify import VerifyReport, verify

__all__ = [
    "Period",
    "Publication",
    "VerifyReport",
    "build_bi_database",
    "combine_quarters",
    "framework_metadata",
    "get_publication",
    "list_publications",
    "publish_ranking",
    "safe_cell",
    "verify",
    "write_csv",
    "write_excel",
]
