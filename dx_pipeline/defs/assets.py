"""The quarter's assets: one Dagster step per stage of :mod:`dx_pipeline.app.quarter`.

Every table the pipeline stores is an asset here, with its contract as column schema: a step
that writes several tables is a ``multi_asset`` with one ``AssetSpec`` per table. Each body
translates the run's context into arguments, calls one stage function and turns the record it
returns into metadata for the UI. Nothing flows through an IO manager: a 10-million-row dossier
table is never held in memory between steps, and every output is a plain Parquet file.
``dq_results`` is written by the quality checks (:mod:`dx_pipeline.defs.checks`) and declared
here as an asset they report materializations of.
"""


import inspect
from typing import Any

from dagster import (
    AssetDep,
    AssetExecutionContext,
    AssetSpec,
    BackfillPolicy,
    CodeReferencesMetadataValue,
    Config,
    LocalFileCodeReference,
    MaterializeResult,
    MetadataValue,
    TimeWindowPartitionMapping,
    asset,
    multi_asset,
)

from dx_pipeline.app.period import publish_periods_closing_with
from dx_pipeline.app.quarter import (
    PORTAL_SOURCES,
    Written,
    compute_quarter_kpis,
    ingest_portal,
    ingest_quarter_submissions,
    load_agencies,
    publish_quarter,
    score_against_plans,
    score_quarter_kpis,
    simulate_rank_uncertainty,
)
from dx_pipeline.app.site import build_quarter_sites
from dx_pipeline.defs.checks import build_dataset_checks
from dx_pipeline.defs.metadata import (
    column_schema,
    describe,
    markdown_preview,
    period_ranking_schema,
    provenance_metadata,
    site_url,
    written_metadata,
)
from dx_pipeline.defs.partitions import quarter_of, quarterly_partitions
from dx_pipeline.defs.resources import DxResource
from dx_pipeline.publish.appraisal import computed_record
from dx_pipeline.publish.exports import build_bi_database
from dx_pipeline.publish.layout import site_root
from dx_pipeline.publish.manifest import status_words
from dx_pipeline.reference.quarters import Quarter

SOURCES = "sources"
QUALITY = "quality"
KPIS = "kpis"
INDEX = "index"
PUBLISH = "publish"

OWNERS = ["team:dx-data"]
"""Who answers for every asset (Dagster 1.13 takes an e-mail or ``team:<name>``): the
province's DX data team, shown on each asset's page and filterable in the catalog."""


def _spec(table: str, group: str, deps: list, kinds: set[str], **extra: Any) -> AssetSpec:
    """An asset spec for a warehouse table: contract description and column schema."""
    return AssetSpec(
        table,
        partitions_def=quarterly_partitions,
        group_name=group,
        kinds=kinds,
        deps=deps,
        description=describe(table),
        metadata={"dagster/column_schema": column_schema(table)},
        owners=OWNERS,
        **extra,
    )


@asset(
    owners=OWNERS,
    partitions_def=quarterly_partitions,
    group_name=SOURCES,
    kinds={"parquet", "csv"},
    description=describe("agencies"),
    metadata={"dagster/column_schema": column_schema("agencies")},
)
def agencies(context: AssetExecutionContext, dx: DxResource) -> MaterializeResult:
    """The agency registry as of the quarter."""
    loaded = load_agencies(dx.settings(), quarter_of(context.partition_key))
    return MaterializeResult(
        metadata=written_metadata(
            loaded.agencies,
            active_in_quarter=sum(loaded.active_by_level.values()),
            active_by_level=MetadataValue.json(loaded.active_by_level),
        )
    )


class PortalSourceConfig(Config):
    """Where the quarter's dossiers come from: ``files`` (export files under
    ``DX_HOME/portal_exports``) or ``http`` (the portal's export API at ``$DX_PORTAL_URL``,
    token in ``$DX_PORTAL_TOKEN``)."""

    source: str = "files"


@multi_asset(
    name="portal_dossiers",
    partitions_def=quarterly_partitions,
    op_tags={"dx/memory": "high"},
    specs=[
        _spec("portal_dossiers", SOURCES, ["agencies"], {"parquet", "duckdb"}),
        _spec("portal_rejects", SOURCES, ["agencies"], {"parquet"}),
        _spec("procedures", SOURCES, ["agencies"], {"parquet"}),
    ],
)
def portal_dossiers(context: AssetExecutionContext, config: PortalSourceConfig, dx: DxResource):
    """The portal's dossiers, the values it exported that could not be read, and its
    procedure catalogue, from one pass over the quarter's exports."""
    if config.source not in PORTAL_SOURCES:
        raise ValueError(f"portal source must be one of {', '.join(PORTAL_SOURCES)}, got {config.source!r}")
    result = ingest_portal(dx.settings(), quarter_of(context.partition_key), config.source)
    yield MaterializeResult(
        asset_key="portal_dossiers",
        metadata=written_metadata(
            Written("portal_dossiers", result.dossiers_path, result.dossier_rows),
            source=config.source,
            rejected_rows=result.rejected_rows,
            landed_pages=result.landed_pages,
        ),
    )
    yield MaterializeResult(
        asset_key="portal_rejects",
        metadata=written_metadata(
            Written("portal_rejects", result.rejects_path, result.reject_count),
            rows_with_a_bad_value=result.rejected_rows,
        ),
    )
    yield MaterializeResult(
        asset_key="procedures",
        metadata=written_metadata(Written("procedures", result.procedures_path, result.procedure_rows)),
    )


@multi_asset(
    name="agency_submissions",
    partitions_def=quarterly_partitions,
    specs=[
        _spec("agency_submissions", SOURCES, ["agencies"], {"parquet", "excel", "sql"}),
        _spec("submission_rejects", SOURCES, ["agencies"], {"parquet"}),
    ],
)
def agency_submissions(context: AssetExecutionContext, dx: DxResource):
    """Agencies' self-reported figures from the inbox and the reporting database, and the
    rows that could not be taken in, with their reasons."""
    ingested = ingest_quarter_submissions(dx.settings(), quarter_of(context.partition_key))
    yield MaterializeResult(
        asset_key="agency_submissions",
        metadata=written_metadata(
            ingested.accepted,
            agencies_reporting=ingested.agencies_reporting,
            late_rows=ingested.late_rows,
            rejected_rows=ingested.rejects.rows,
            files_read=ingested.files_read,
        ),
    )
    yield MaterializeResult(
        asset_key="submission_rejects",
        metadata=written_metadata(ingested.rejects, preview=markdown_preview(ingested.reject_sample)),
    )


dq_results = _spec(
    "dq_results",
    QUALITY,
    ["agencies", "portal_dossiers", "agency_submissions", "agency_kpis", "index_scores"],
    {"parquet", "great_expectations"},
)
dq_results = dq_results.replace_attributes(metadata={
    **dq_results.metadata,
    # no step of its own: its code reference is the check factory that writes it
    "dagster/code_references": CodeReferencesMetadataValue(code_references=[LocalFileCodeReference(
        file_path=inspect.getsourcefile(build_dataset_checks) or "",
        line_number=inspect.getsourcelines(build_dataset_checks)[1])]),
})
"""Written by the quality checks of the five checked tables, each run replacing its dataset's
rows; they report its materializations (it has no step of its own)."""


@asset(
    owners=OWNERS,
    partitions_def=quarterly_partitions,
    group_name=KPIS,
    kinds={"parquet", "duckdb"},
    deps=["portal_dossiers", "procedures", "agency_submissions"],
    description=describe("agency_kpis"),
    metadata={"dagster/column_schema": column_schema("agency_kpis")},
    op_tags={"dx/memory": "high"},
)
def agency_kpis(context: AssetExecutionContext, dx: DxResource) -> MaterializeResult:
    """Every agency's KPIs of the quarter."""
    computed = compute_quarter_kpis(dx.settings(), quarter_of(context.partition_key))
    return MaterializeResult(
        metadata=written_metadata(
            computed.kpis,
            agencies=computed.agencies,
            kpis=computed.kpi_codes,
            # a share people read: 43.5 (%), not 0.4352548036758563
            targets_met_percent=MetadataValue.float(round(100 * computed.share_of_targets_met, 1))
            if computed.share_of_targets_met is not None else "no targets",
        )
    )


_TWO_YEARS = TimeWindowPartitionMapping(
    start_offset=-7, end_offset=0, allow_nonexistent_upstream_partitions=True
)
"""This quarter and the seven before: a quarter against the one before it, and (with Q4) the
year against the year before."""


@asset(
    owners=OWNERS,
    partitions_def=quarterly_partitions,
    group_name=KPIS,
    kinds={"parquet"},
    deps=["agencies", AssetDep(agency_kpis, partition_mapping=_TWO_YEARS)],
    description=describe("plan_scorecard"),
    metadata={"dagster/column_schema": column_schema("plan_scorecard")},
)
def plan_scorecard(context: AssetExecutionContext, dx: DxResource) -> MaterializeResult:
    """The province against every target of its plans: the quarter, and with Q4 the year."""
    scored = score_against_plans(dx.settings(), quarter_of(context.partition_key))
    return MaterializeResult(
        metadata=written_metadata(
            scored.scorecard,
            periods=MetadataValue.json(scored.periods),
            targets_by_status=MetadataValue.json(scored.status),
            not_scored=MetadataValue.json(scored.skipped) if scored.skipped else "none",
            preview=markdown_preview(scored.preview, limit=60),
        )
    )


_THIS_AND_PREVIOUS_QUARTER = TimeWindowPartitionMapping(
    start_offset=-1, end_offset=0, allow_nonexistent_upstream_partitions=True
)
_PREVIOUS_QUARTER = TimeWindowPartitionMapping(
    start_offset=-1, end_offset=-1, allow_nonexistent_upstream_partitions=True
)


@asset(
    owners=OWNERS,
    partitions_def=quarterly_partitions,
    group_name=INDEX,
    kinds={"parquet"},
    # this quarter's KPIs, and last quarter's for the carry-forward missing-data policy
    deps=[AssetDep(agency_kpis, partition_mapping=_THIS_AND_PREVIOUS_QUARTER)],
    description=describe("index_scores"),
    metadata={"dagster/column_schema": column_schema("index_scores")},
)
def index_scores(context: AssetExecutionContext, dx: DxResource) -> MaterializeResult:
    """The quarter's points under every framework in force."""
    scored = score_quarter_kpis(dx.settings(), quarter_of(context.partition_key))
    return MaterializeResult(
        metadata=written_metadata(
            scored.scores,
            frameworks=MetadataValue.json(scored.frameworks),
            agencies_scored=MetadataValue.json(scored.agencies_scored),
            **provenance_metadata(scored.provenance),
        )
    )


@asset(
    owners=OWNERS,
    partitions_def=quarterly_partitions,
    group_name=INDEX,
    kinds={"parquet", "numpy"},
    deps=[agency_kpis],
    description=describe("rank_uncertainty"),
    metadata={"dagster/column_schema": column_schema("rank_uncertainty")},
)
def rank_uncertainty(context: AssetExecutionContext, dx: DxResource) -> MaterializeResult:
    """How far each agency's rank moves when the weights do."""
    written, median_width = simulate_rank_uncertainty(dx.settings(), quarter_of(context.partition_key))
    return MaterializeResult(metadata=written_metadata(written, median_interval_width=median_width))


_CHAIN_POLICY = BackfillPolicy.single_run()
"""The publication chain runs as one run over a backfill's whole range.

An asset backfill advances a self-dependent asset one partition per backfill-daemon tick, and
the daemon sleeps 30 s between ticks (dagster-io/dagster#11649): eight quarters would spend
minutes waiting. Publishing is cheap (agency-level tables), so a backfill publishes its whole
range in one step, quarter after quarter in time order. Single-quarter runs (schedule, sensor,
``dx-pipeline run``) are ranges of one.
"""

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
        _spec(
            "ranking_snapshot",
            PUBLISH,
            # movement is measured against last quarter's published ranking
            [
                index_scores,
                rank_uncertainty,
                plan_scorecard,  # published with the ranking (report section, Excel sheet)
                AssetDep("ranking_snapshot", partition_mapping=_PREVIOUS_QUARTER),
            ],
            {"parquet", "html", "excel"},
        ),
        AssetSpec(
            "period_rankings",
            owners=OWNERS,
            metadata={"dagster/column_schema": period_ranking_schema()},
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
def publish_rankings(context: AssetExecutionContext, dx: DxResource):
    """ranking_snapshot and period_rankings, quarter after quarter: each quarter's ranking,
    then the half-year and year that close with it, so every publication is ranked against
    the one published before it. Each revision is published as ``computed`` (not appraised,
    not approved, not shown to agencies): the appraisal assets publish the provisional and
    final ones."""
    settings = dx.settings()
    trigger = {"by": context.run.tags.get("dx/trigger", "dagster"), "run_id": context.run_id}
    reason = context.run.tags.get("dx/reason")
    quarters: list[tuple[Quarter, dict[str, Any], dict[str, Any]]] = []
    periods: dict[str, Any] = {}
    provenance: dict[str, Any] = {}
    for quarter in sorted(quarter_of(key) for key in context.partition_keys):
        published = publish_quarter(settings, quarter, trigger, reason, appraisal=computed_record())
        provenance.update(published.provenance)
        quarters.append((quarter, _quarter_metadata(published), _quarter_summary(published)))
        for p in publish_periods_closing_with(settings, quarter, trigger, computed_record()):
            periods[p.period.label] = {
                "revision": p.publication.revision,
                "status": _status_text(p.publication),
                "new_revision": p.publication.created,
                "path": str(p.publication.path),
                "rows": len(p.publication.ranking()),
                "quarters_combined": p.quarters_combined,
            }
    bi = {"bi_database": MetadataValue.path(str(build_bi_database(settings.home)))}
    if len(quarters) == 1:  # one quarter: its own table, preview and links
        ranking_metadata = quarters[0][1]
    else:  # a range: every partition gets this same record, so one line per quarter
        ranking_metadata = {"quarters": MetadataValue.json({q.label: s for q, _, s in quarters})}
    yield MaterializeResult(
        asset_key="ranking_snapshot", metadata={**ranking_metadata, **provenance_metadata(provenance), **bi}
    )
    labels = ", ".join(q.label for q, _, _ in quarters)
    yield MaterializeResult(
        asset_key="period_rankings",
        metadata={
            "dagster/row_count": sum(p["rows"] for p in periods.values()),
            "dagster/column_schema": period_ranking_schema(),
            "periods": MetadataValue.json(periods) if periods else "none close with " + labels,
        },
    )


def _status_text(publication) -> str:
    """``computed: kết quả tính toán, chưa thẩm định / computed, not yet appraised``."""
    status = publication.manifest.appraisal.get("status")
    vi, en = status_words(status)
    return f"{status}: {vi} / {en}"


def _republished(published) -> dict[str, Any]:
    """Later quarters published again because this one changed what they are ranked against."""
    return {p.publication.period: {"revision": p.publication.revision, "reason": p.publication.reason}
            for p in published.republished}


def _quarter_summary(published) -> dict[str, Any]:
    publication = published.publication
    return {
        "rows": published.ranking.rows,
        "revision": publication.revision,
        "status": _status_text(publication),
        "new_revision": publication.created,
        "published_folder": str(publication.path),
        **({"republished": _republished(published)} if published.republished else {}),
    }


def _quarter_metadata(published) -> dict[str, Any]:
    publication = published.publication
    preview = published.preview[["framework_id", "peer_group", "rank", "agency_name", "total_points", "band"]]
    return written_metadata(
        published.ranking,
        status=MetadataValue.text(_status_text(publication)),
        revision=publication.revision,
        new_revision=publication.created,
        reason=publication.reason,
        republished_after_it=MetadataValue.json(_republished(published)) if published.republished else "none",
        published_folder=MetadataValue.path(str(publication.path)),
        report=MetadataValue.path(str(publication.path / "report.html")),
        preview=markdown_preview(preview, limit=40),
    )


TREND_QUARTERS = 8
"""Quarters an agency page's trend shows (this one and the seven before it)."""


@asset(
    owners=OWNERS,
    partitions_def=quarterly_partitions,
    group_name=PUBLISH,
    kinds={"html"},
    deps=[
        # the trend reads the rankings published for the quarters before this one
        AssetDep("ranking_snapshot", partition_mapping=TimeWindowPartitionMapping(
            start_offset=1 - TREND_QUARTERS, end_offset=0, allow_nonexistent_upstream_partitions=True)),
        "period_rankings",
        # built again once a provisional or final revision is published
        "provisional_result",
        "final_result",
    ],
    description="Trang thông tin điện tử công bố kết quả (tạm thời hoặc chính thức) của quý và của 6 "
    "tháng, cả năm kết thúc cùng quý: trang tĩnh, tiếng Việt trước, tiếng Anh kèm theo.\n\n"
    "The DX portal website of the quarter's newest revision and of the half-year and year that "
    "close with it, once agencies may see them (provisional or final; a computed result is not "
    "public): plain files under `published/site/`.",
)
def portal_site(context: AssetExecutionContext, dx: DxResource) -> MaterializeResult:
    """The static website of the quarter's published results."""
    sites = build_quarter_sites(dx.settings(), quarter_of(context.partition_key))
    built = {
        b.period: {"revision": b.revision, "final": b.final, "pages": b.pages, "agencies": b.agencies,
                   "path": str(b.path)}
        for b in sites.built
    }
    return MaterializeResult(metadata={
        "sites": MetadataValue.json(built),
        "not_public_yet": MetadataValue.json(sites.private),
        "broken_links": MetadataValue.int(len(sites.broken)),
        **({"index": MetadataValue.path(str(sites.built[0].path / "index.html")),
            # where `dx-pipeline site --serve` (default port) shows it in a browser
            "served_at": site_url(site_root(dx.settings().home), sites.built[0].path)}
           if sites.built else {}),
    })


ALL_ASSETS = [
    agencies,
    portal_dossiers,
    agency_submissions,
    dq_results,
    agency_kpis,
    plan_scorecard,
    index_scores,
    rank_uncertainty,
    publish_rankings,
    portal_site,
]
