"""The quarter's assets: thin wiring from the domain modules to the warehouse.

Each asset reads its inputs from the warehouse partition of the same quarter, calls one domain
function, writes its own partition atomically through :mod:`dx_pipeline.storage` and returns
metadata for the UI. Nothing flows through an IO manager, so a 10-million-row dossier table is
never held in memory between steps, and every output is a plain Parquet file BI tools can read.
Domain imports are inside the asset bodies to keep ``dagster dev`` start-up fast.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
from dagster import AssetExecutionContext, Config, MaterializeResult, MetadataValue, asset

from dx_pipeline.defs.metadata import describe, markdown_preview, table_metadata
from dx_pipeline.defs.partitions import quarter_of, quarterly_partitions
from dx_pipeline.defs.resources import DxHomeResource
from dx_pipeline.storage import DxHome, read_partition, write_partition

SOURCES = "sources"
KPIS = "kpis"
INDEX = "index"
PUBLISH = "publish"


def registry_path(home: DxHome) -> Path:
    """The registry file: ``$DX_REGISTRY`` if set, else ``<DX_HOME>/registry/agencies.csv``."""
    return Path(os.environ.get("DX_REGISTRY") or home.registry_file)


@asset(
    partitions_def=quarterly_partitions,
    group_name=SOURCES,
    kinds={"parquet", "csv"},
    description=describe("agencies"),
)
def agencies(context: AssetExecutionContext, dx_home: DxHomeResource) -> MaterializeResult:
    from dx_pipeline.sources.registry import active_agencies, load_registry

    home, quarter = dx_home.home(), quarter_of(context.partition_key)
    registry = load_registry(registry_path(home))
    path = write_partition(home, "agencies", quarter, registry)
    active = active_agencies(registry, quarter)
    return MaterializeResult(
        metadata=table_metadata(
            "agencies",
            len(registry),
            path,
            active_in_quarter=len(active),
            active_by_level=MetadataValue.json(active["level"].value_counts().sort_index().to_dict()),
        )
    )


class PortalSourceConfig(Config):
    """Where the quarter's dossiers come from: ``files`` (export files under
    ``DX_HOME/portal_exports``) or ``http`` (the portal's export API at ``$DX_PORTAL_URL``,
    token in ``$DX_PORTAL_TOKEN``)."""

    source: str = "files"


@asset(
    partitions_def=quarterly_partitions,
    group_name=SOURCES,
    kinds={"parquet", "duckdb"},
    deps=[agencies],
    description=describe("portal_dossiers"),
    op_tags={"dx/memory": "high"},
)
def portal_dossiers(
    context: AssetExecutionContext, config: PortalSourceConfig, dx_home: DxHomeResource
) -> MaterializeResult:
    from dx_pipeline.sources.portal_ingest import ingest_portal_files, pull_portal_quarter

    home, quarter = dx_home.home(), quarter_of(context.partition_key)
    if config.source == "http":
        result = pull_portal_quarter(home, quarter)
    elif config.source == "files":
        result = ingest_portal_files(home, quarter)
    else:
        raise ValueError(f"portal source must be 'files' or 'http', got {config.source!r}")
    return MaterializeResult(
        metadata=table_metadata(
            "portal_dossiers",
            result.rows,
            result.path,
            source=config.source,
            rejected_rows=result.rejects,
        )
    )


@asset(
    partitions_def=quarterly_partitions,
    group_name=SOURCES,
    kinds={"parquet", "excel", "sql"},
    deps=[agencies],
    description=describe("agency_submissions"),
)
def agency_submissions(context: AssetExecutionContext, dx_home: DxHomeResource) -> MaterializeResult:
    from dx_pipeline.sources.submissions import default_reporting_db_url, ingest_submissions

    home, quarter = dx_home.home(), quarter_of(context.partition_key)
    registry = read_partition(home, "agencies", quarter)
    result = ingest_submissions(
        home, quarter, registry, reporting_db_url=default_reporting_db_url(home)
    )
    path = write_partition(home, "agency_submissions", quarter, result.accepted)
    rejects_path = write_partition(home, "submission_rejects", quarter, result.rejects)
    accepted = result.accepted
    return MaterializeResult(
        metadata=table_metadata(
            "agency_submissions",
            len(accepted),
            path,
            agencies_reporting=int(accepted["agency_code"].nunique()) if len(accepted) else 0,
            late_rows=int(accepted["is_late"].fillna(False).sum()) if len(accepted) else 0,
            rejected_rows=len(result.rejects),
            rejects_path=MetadataValue.path(str(rejects_path)),
            rejects_preview=markdown_preview(
                result.rejects[["source_ref", "field", "value", "reason"]] if len(result.rejects) else None
            ),
            files_read=len(result.files),
        )
    )


@asset(
    partitions_def=quarterly_partitions,
    group_name=KPIS,
    kinds={"parquet", "duckdb"},
    deps=[portal_dossiers, agency_submissions],
    description=describe("agency_kpis"),
    op_tags={"dx/memory": "high"},
)
def agency_kpis(context: AssetExecutionContext, dx_home: DxHomeResource) -> MaterializeResult:
    from dx_pipeline.kpis.compute import compute_agency_kpis

    home, quarter = dx_home.home(), quarter_of(context.partition_key)
    registry = read_partition(home, "agencies", quarter)
    submissions = read_partition(home, "agency_submissions", quarter)
    kpis = compute_agency_kpis(home, quarter, registry, submissions)
    path = write_partition(home, "agency_kpis", quarter, kpis)
    met = kpis["target_met"].dropna()
    return MaterializeResult(
        metadata=table_metadata(
            "agency_kpis",
            len(kpis),
            path,
            agencies=int(kpis["agency_code"].nunique()),
            kpis=int(kpis["kpi_code"].nunique()),
            share_of_targets_met=float(met.mean()) if len(met) else None,
        )
    )
