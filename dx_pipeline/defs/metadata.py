"""Dagster metadata built from the table contracts: row counts, column schemas, previews, paths."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dagster import MetadataValue, TableColumn, TableSchema

from dx_pipeline.app.quarter import Written
from dx_pipeline.publish.site.serve import DEFAULT_PORT, LOCALHOST
from dx_pipeline.reference import schemas

QUARTER_COLUMN = TableColumn(
    name="quarter",
    type="string",
    description="Quý, từ tên thư mục quarter=YYYY-Qn / Quarter (2025-Q4), from the partition's "
    "folder name (read with hive_partitioning)",
)
"""The column every partitioned table gains when read as a whole (DuckDB, the BI file)."""


def _columns(contract: schemas.Contract) -> list[TableColumn]:
    return [
        TableColumn(name=c.name, type=str(c.type), description=f"{c.vi} / {c.en}" if c.vi else c.en)
        for c in contract.columns
    ]


def column_schema(table: str) -> TableSchema:
    """The contract of a warehouse table as a Dagster column schema (shown in the UI), with
    the ``quarter`` column a partitioned table has when read as a whole."""
    contract = schemas.CONTRACTS[table]
    return TableSchema(columns=_columns(contract) + ([QUARTER_COLUMN] if contract.partitioned else []))


def period_ranking_schema() -> TableSchema:
    """A published half-year or year ranking (``published/ranking/period=…/rev=N/ranking.parquet``):
    the ranking contract, with the period and revision from its folder names."""
    return TableSchema(columns=_columns(schemas.RANKING_SNAPSHOT) + [
        TableColumn(name="period", type="string",
                    description="Kỳ (2025-H1, 2025) / Period, from the folder name period=…"),
        TableColumn(name="rev", type="int32",
                    description="Lần công bố, từ tên thư mục / Revision, from the folder name rev=N"),
    ])


def site_url(site_root: Path, folder: Path, port: int = DEFAULT_PORT) -> MetadataValue:
    """The address ``dx-pipeline site --serve`` shows ``folder`` of the site at."""
    relative = Path(folder).relative_to(site_root).as_posix()
    return MetadataValue.url(f"http://{LOCALHOST}:{port}/{relative}/")


def describe(table: str) -> str:
    """Bilingual asset description from the contract (Vietnamese first)."""
    contract = schemas.CONTRACTS[table]
    return f"{contract.vi}\n\n{contract.en}.\n\nWarehouse: `warehouse/{table}/quarter=YYYY-Qn/data.parquet`."


def written_metadata(written: Written, **extra: Any) -> dict[str, Any]:
    """Row count, column schema and path of a partition a stage wrote, plus ``extra``."""
    meta: dict[str, Any] = {
        "dagster/row_count": written.rows,
        "dagster/column_schema": column_schema(written.table),
        "path": MetadataValue.path(str(written.path)),
    }
    meta.update(extra)
    return meta


def markdown_preview(df, limit: int = 20) -> MetadataValue:
    """First rows of a DataFrame as a Markdown table for the asset's page."""
    if df is None or len(df) == 0:
        return MetadataValue.md("_(no rows)_")
    head = df.head(limit)
    cols = list(head.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in head.itertuples(index=False):
        cells = ["" if v is None else str(v).replace("|", "\\|") for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return MetadataValue.md("\n".join(lines))


def provenance_metadata(records: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Where each framework comes from, for an asset's page: a table (framework, source,
    indicators not assessed) and the list of illustrative frameworks."""
    lines = ["| framework | source / nguồn | not assessed / không đánh giá |", "|---|---|---|"]
    for fid, rec in sorted(records.items()):
        flag = "⚠ " if rec.get("illustrative") else ""
        source = f"{flag}{rec.get('statement_en', '')}<br>{rec.get('statement_vi', '')}"
        missing = "<br>".join(n["text_en"] for n in rec.get("not_assessed") or []) or "–"
        lines.append(f"| {fid} | {source.replace('|', '/')} | {missing.replace('|', '/')} |")
    illustrative = sorted(fid for fid, rec in records.items() if rec.get("illustrative"))
    return {
        "framework_provenance": MetadataValue.md("\n".join(lines)),
        "illustrative_frameworks": MetadataValue.json(illustrative),
    }
