"""The quarter's assets: thin wiring from the domain modules to the warehouse.

Each asset reads its inputs from the warehouse partition of the same quarter, calls one domain
function, writes its own partition atomically through :mod:`dx_pipeline.storage` and returns
metadata for the UI. Nothing flows through an IO manager, so a 10-million-row dossier table is
never held in memory between steps, and every output is a plain Parquet file BI tools can read.
Domain imports are inside the asset bodies to keep ``dagster dev`` start-up fast.
"""


import os
from pathlib import Path

import pandas as pd
from dagster import (
    AssetDep,
    AssetExecutionContext,
    AssetSpec,
    BackfillPolicy,
    Config,
    MaterializeResult,
    MetadataValue,
    TimeWindowPartitionMapping,
    asset,
    multi_asset,
)

from dx_pipeline.defs.metadata import describe, markdown_preview, table_metadata
from dx_pipeline.defs.partitions import quarter_of, quarterly_partitions
from dx_pipeline.defs.resources import DxHomeResource
from dx_pipeline.index.period_scoring import periods_closing_with, score_period
from dx_pipeline.index.quarter_scoring import (
    kpi_long,
    provincial_frameworks,
    same_points,
    score_quarter,
)
from dx_pipeline.index.uncertainty import rank_uncertainty as simulate
from dx_pipeline.kpis.compute import compute_agency_kpis
from dx_pipeline.publish.exports import build_bi_database
from dx_pipeline.publish.snapshot import get_publication, publish_ranking
from dx_pipeline.reference.registry import active_agencies, load_registry
from dx_pipeline.reference.schemas import contract_columns
from dx_pipeline.sources.portal_client import pull_portal_quarter
from dx_pipeline.sources.portal_files import ingest_portal_files
from dx_pipeline.sources.submissions import default_reporting_db_url, ingest_submissions
from dx_pipeline.storage import DxHome, read_partition, write_partition
from dx_pipeline.storage.inputs import quarter_input_files

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
            result.dossier_rows,
            result.dossiers_path,
            source=config.source,
            rejected_rows=result.rejected_rows,
            bad_values=result.reject_count,
            procedures=result.procedure_rows,
            landed_pages=result.landed_pages,
            rejects_path=MetadataValue.path(str(result.rejects_path)),
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


_THIS_AND_PREVIOUS_QUARTER = TimeWindowPartitionMapping(
    start_offset=-1, end_offset=0, allow_nonexistent_upstream_partitions=True
)
_PREVIOUS_QUARTER = TimeWindowPartitionMapping(
    start_offset=-1, end_offset=-1, allow_nonexistent_upstream_partitions=True
)


def _try_read(home: DxHome, table: str, quarter) -> pd.DataFrame | None:
    """A partition if it has been materialized, else None (first quarter, optional inputs)."""
    try:
        return read_partition(home, table, quarter)
    except FileNotFoundError:
        return None


def _score(home: DxHome, quarter):
    """The quarter's scores under every framework in force; what index_scores stores and
    what the ranking ranks."""

    previous = quarter.previous()
    return score_quarter(
        quarter,
        read_partition(home, "agency_kpis", quarter),
        read_partition(home, "agencies", quarter),
        previous_kpis=_try_read(home, "agency_kpis", previous),
        previous_ranking=_try_read(home, "ranking_snapshot", previous),
    )


@asset(
    partitions_def=quarterly_partitions,
    group_name=INDEX,
    kinds={"parquet"},
    # this quarter's KPIs, and last quarter's for the carry-forward missing-data policy
    deps=[AssetDep(agency_kpis, partition_mapping=_THIS_AND_PREVIOUS_QUARTER)],
    description=describe("index_scores"),
)
def index_scores(context: AssetExecutionContext, dx_home: DxHomeResource) -> MaterializeResult:
    home, quarter = dx_home.home(), quarter_of(context.partition_key)
    scored = _score(home, quarter)
    scores = scored.scores
    path = write_partition(home, "index_scores", quarter, scores)
    totals = scores[scores["level"] == "total"]
    return MaterializeResult(
        metadata=table_metadata(
            "index_scores",
            len(scores),
            path,
            frameworks=MetadataValue.json(
                {fw.id: fw.version for fw in scored.frameworks}
            ),
            agencies_scored=MetadataValue.json(
                totals.groupby("framework_id")["agency_code"].nunique().to_dict()
            ),
        )
    )


@asset(
    partitions_def=quarterly_partitions,
    group_name=INDEX,
    kinds={"parquet", "numpy"},
    deps=[agency_kpis],
    description=describe("rank_uncertainty"),
)
def rank_uncertainty(context: AssetExecutionContext, dx_home: DxHomeResource) -> MaterializeResult:

    home, quarter = dx_home.home(), quarter_of(context.partition_key)
    registry = read_partition(home, "agencies", quarter)
    data = kpi_long(read_partition(home, "agency_kpis", quarter))
    frames = [
        simulate(fw, data, registry, quarter=quarter)
        for fw in provincial_frameworks(quarter, registry)
    ]
    table = pd.concat([f for f in frames if len(f)], ignore_index=True)
    path = write_partition(home, "rank_uncertainty", quarter, table)
    width = table["rank_p95"] - table["rank_p05"]
    return MaterializeResult(
        metadata=table_metadata(
            "rank_uncertainty", len(table), path, median_interval_width=float(width.median())
        )
    )


_CHAIN_POLICY = BackfillPolicy.single_run()
"""The publication chain runs as one run over a backfill's whole range.

An asset backfill advances a self-dependent asset one partition per backfill-daemon tick, and
the daemon sleeps 30 s between ticks (dagster-io/dagster#11649): eight quarters would spend
minutes waiting. Publishing is cheap (agency-level tables), so a backfill publishes its whole
range in one step, quarter after quarter in time order (:func:`_quarters`). Single-quarter
runs (schedule, sensor, ``dx-pipeline run``) are ranges of one.
"""


def _quarters(context: AssetExecutionContext) -> list:
    """The quarters of this run's partition range, oldest first."""
    return sorted(quarter_of(key) for key in context.partition_keys)


_PERIOD_RANKINGS_DESCRIPTION = (
    "Xếp hạng 6 tháng và cả năm: công bố khi quý 2 (6 tháng đầu) và quý 4 (6 tháng cuối, cả "
    "năm) kết thúc, cộng tử số và mẫu số của các quý.\n\n"
    "Half-year and annual rankings, published when Q2 (H1) and Q4 (H2 and the year) close: "
    "the quarters' KPIs combined (ratios as sums of numerators and denominators, stock "
    "figures as the latest value), scored and published like a quarter under "
    "`published/ranking/period=2025-H1/rev=N/`. Other quarters close no period."
)


@multi_asset(
    name="publish_rankings",
    partitions_def=quarterly_partitions,
    backfill_policy=_CHAIN_POLICY,
    can_subset=False,  # a quarter's periods are republished with it, in the same pass
    specs=[
        AssetSpec(
            "ranking_snapshot",
            partitions_def=quarterly_partitions,
            group_name=PUBLISH,
            kinds={"parquet", "html", "excel"},
            # movement is measured against last quarter's published ranking
            deps=[
                index_scores,
                rank_uncertainty,
                AssetDep("ranking_snapshot", partition_mapping=_PREVIOUS_QUARTER),
            ],
            description=describe("ranking_snapshot")
            + "\n\nPublished once per content as an immutable revision under "
            "`published/ranking/quarter=YYYY-Qn/rev=N/` with a manifest and report.html.",
        ),
        AssetSpec(
            "period_rankings",
            partitions_def=quarterly_partitions,
            group_name=PUBLISH,
            kinds={"parquet", "html"},
            deps=[
                "ranking_snapshot",
                AssetDep(
                    agency_kpis,
                    partition_mapping=TimeWindowPartitionMapping(
                        start_offset=-3, end_offset=0, allow_nonexistent_upstream_partitions=True
                    ),
                ),
                # a period is ranked against the previous one: the half-year two quarters
                # back, the year four quarters back
                AssetDep(
                    "period_rankings",
                    partition_mapping=TimeWindowPartitionMapping(
                        start_offset=-4, end_offset=-2, allow_nonexistent_upstream_partitions=True
                    ),
                ),
            ],
            description=_PERIOD_RANKINGS_DESCRIPTION,
        ),
    ],
)
def publish_rankings(context: AssetExecutionContext, dx_home: DxHomeResource):
    """ranking_snapshot and period_rankings, quarter after quarter: each quarter's ranking,
    then the half-year and year that close with it, so every publication is ranked against
    the one published before it."""

    home = dx_home.home()
    quarters, periods = [], {}
    for quarter in _quarters(context):
        quarters.append(_publish_quarter(context, home, quarter))
        periods.update(_publish_periods(context, home, quarter))
    bi = {"bi_database": MetadataValue.path(str(build_bi_database(home)))}
    if len(quarters) == 1:  # one quarter: its own table, preview and links
        ranking_metadata = quarters[0][1]
    else:  # a range: every partition gets this same record, so one line per quarter
        ranking_metadata = {"quarters": MetadataValue.json({q: s for q, _, s in quarters})}
    yield MaterializeResult(asset_key="ranking_snapshot", metadata={**ranking_metadata, **bi})
    labels = ", ".join(label for label, _, _ in quarters)
    yield MaterializeResult(
        asset_key="period_rankings",
        metadata={"periods": MetadataValue.json(periods) if periods else "none close with " + labels},
    )


def _publish_quarter(
    context: AssetExecutionContext, home: DxHome, quarter
) -> tuple[str, dict, dict]:
    """Rank and publish one quarter: its label, its metadata and a one-line summary."""

    scored = _score(home, quarter)
    stored = read_partition(home, "index_scores", quarter).drop(columns="quarter")
    if not same_points(stored, scored.scores):
        raise RuntimeError(
            f"index_scores of {quarter.label} no longer match its inputs; "
            "rematerialize index_scores before publishing"
        )
    tags = context.run.tags
    publication = publish_ranking(
        home,
        quarter,
        scored.ranking,
        stored,
        kpis=read_partition(home, "agency_kpis", quarter),
        dq=contract_columns(_try_read(home, "dq_results", quarter), "dq_results"),
        uncertainty=_try_read(home, "rank_uncertainty", quarter),
        registry=read_partition(home, "agencies", quarter),
        frameworks=scored.frameworks,
        inputs=quarter_input_files(home, quarter, registry_path(home)),
        trigger={"by": tags.get("dx/trigger", "dagster"), "run_id": context.run_id},
        reason=tags.get("dx/reason"),
    )
    ranking = publication.ranking()
    path = write_partition(home, "ranking_snapshot", quarter, ranking)
    preview = ranking.sort_values(["framework_id", "peer_group", "rank"], na_position="last")
    summary = {
        "rows": len(ranking),
        "revision": publication.revision,
        "new_revision": publication.created,
        "published_folder": str(publication.path),
    }
    metadata = table_metadata(
        "ranking_snapshot",
        len(ranking),
        path,
        revision=publication.revision,
        new_revision=publication.created,
        reason=publication.reason,
        published_folder=MetadataValue.path(str(publication.path)),
        report=MetadataValue.url(publication.path.joinpath("report.html").as_uri()),
        preview=markdown_preview(
            preview[["framework_id", "peer_group", "rank", "agency_name", "total_points", "band"]],
            limit=40,
        ),
    )
    return quarter.label, metadata, summary


def _publish_periods(context: AssetExecutionContext, home: DxHome, quarter) -> dict:
    """Rank and publish the periods that close with ``quarter``; {period: what was published}."""

    periods = periods_closing_with(quarter)
    if not periods:
        return {}
    registry = read_partition(home, "agencies", quarter)
    frames = [_try_read(home, "agency_kpis", q) for q in periods[-1].quarters]
    kpis = pd.concat([f for f in frames if f is not None], ignore_index=True)
    published = {}
    for period in periods:
        try:
            previous = get_publication(home, period.previous).ranking()
        except FileNotFoundError:
            previous = None
        combined, scored = score_period(period, kpis, registry, previous_ranking=previous)
        publication = publish_ranking(
            home,
            None,
            scored.ranking,
            scored.scores,
            kpis=combined.drop(columns=["period", "quarters", "aggregation"], errors="ignore"),
            registry=registry,
            frameworks=scored.frameworks,
            inputs=[],
            trigger={"by": context.run.tags.get("dx/trigger", "dagster"), "run_id": context.run_id},
            period=period.label,
        )
        published[period.label] = {
            "revision": publication.revision,
            "new_revision": publication.created,
            "path": str(publication.path),
            "quarters_combined": sorted(set(kpis["quarter"]) & {q.label for q in period.quarters}),
        }
    return published


ALL_ASSETS = [
    agencies,
    portal_dossiers,
    agency_submissions,
    agency_kpis,
    index_scores,
    rank_uncertainty,
    publish_rankings,
]
