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
