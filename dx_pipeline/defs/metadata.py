"""Dagster metadata built from the table contracts: row counts, column schemas, previews, paths."""

from __future__ import annotations

from typing import Any

from dagster import MetadataValue, TableColumn, TableSchema

from dx_pipeline.app.quarter import Written
from dx_pipeline.reference import schemas


def column_schema(table: str) -> TableSchema:
    """The contract of a warehouse table as a Dagster column schema (shown in the UI)."""
    contract = schemas.CONTRACTS[table]
    return TableSchema(
        columns=[
            TableColumn(
                name=c.name,
                type=str(c.type),
                description=f"{c.vi} / {c.en}" if c.vi else c.en,
            )
            for c in contract.columns
        ]
    )


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
