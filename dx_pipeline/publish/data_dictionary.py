"""Generate docs/data_dictionary.md from the table contracts in :mod:`dx_pipeline.reference.schemas`.

BI users need stable, documented schemas; writing them by hand would drift from the code, so
the dictionary is generated and a test fails when the committed file is out of date.
Run ``python -m dx_pipeline.publish.data_dictionary`` to rewrite it, ``--check`` to only compare.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dx_pipeline.reference import schemas

DEFAULT_OUTPUT = Path(__file__).resolve().parents[2] / "docs" / "data_dictionary.md"
"""The repository's docs/data_dictionary.md (this tool runs from a source checkout)."""

MANIFEST_FIELDS = (
    ("schema", "Manifest format version (`dx_pipeline.publication/1`)"),
    ("kind, period, quarters", "`quarter`, `half` or `year`; its label; the quarters it covers"),
    ("revision, previous_revision", "This revision (1, 2, ...) and the one it replaces"),
    ("published_at", "When it was published, UTC, ISO 8601"),
    ("trigger", "Who or what started it: `schedule`, `sensor:inbox`, `cli:<user>`, a Dagster run id"),
    ("reason", "Why a new revision exists (given, or derived: which inputs or results changed)"),
    ("reason_vi", "The same reason in Vietnamese (the publisher's own words are kept in both)"),
    (
        "frameworks",
        "Framework id, version, sha256 of its YAML file, provenance, bands, and every indicator's "
        "rule, parameters, unit, levels, source and evidence (what the site tells in plain words)",
    ),
    ("code_version", "Package version and git commit of the code that produced it"),
    ("inputs", "Input files with their sha256 and row counts"),
    ("row_counts", "Rows of every table that went into the revision"),
    ("outputs", "sha256 and size in bytes of every file of the revision"),
    (
        "content, content_sha256",
        "Fingerprint of every input and result, without time or trigger: equal means an identical rerun",
    ),
)

PUBLISHED_FILES = (
    ("ranking.parquet", "The ranking rows (`ranking_snapshot` contract, with `revision` and `published_at`)"),
    (
        "ranking.csv",
        "The same, `quarter` (or `period`) first, in the one CSV dialect of every export: UTF-8 with "
        "BOM, `,` between fields, `\"` quoting only where needed, CRLF, `.` decimal point, "
        "`2025-07-10 08:30:00` times, empty for missing, formula-safe text",
    ),
    (
        "ranking.xlsx",
        "Sheets `Xếp hạng - Ranking` and `Điểm chi tiết - Scores`, Vietnamese / column-name headers; "
        "points formatted `0.00`, ranks `0`, a rate KPI's values as percentages `0.0%`",
    ),
    ("index_scores.parquet", "Points per agency and framework node (`index_scores` contract)"),
    ("agency_kpis.parquet", "The KPIs the scores came from, with plan targets (`agency_kpis` contract)"),
    ("agencies.parquet", "The agency registry the ranking used (`agencies` contract)"),
    ("rank_uncertainty.parquet", "Rank intervals, when computed (`rank_uncertainty` contract)"),
    ("report.html", "The printable summary: every framework's ranking on a few A4 pages, Vietnamese first"),
    ("manifest.json", "What went in and came out, with checksums (fields below)"),
)

BI_VIEWS = (
    (
        "<table>",
        "One view per warehouse table above, `quarter` and `quarter_start` (DATE, a time axis) "
        "first; `published_at` and the portal's times as TIMESTAMP WITH TIME ZONE",
    ),
    (
        "published_ranking",
        "Every published quarterly revision (`quarter`, `revision_folder` + ranking columns)",
    ),
    ("published_ranking_latest", "Only each quarter's newest revision"),
    ("published_index_scores[_latest]", "Published index scores, every or newest revision"),
    (
        "published_period_ranking[_latest]",
        "Half-year and annual rankings (`period` = `2025-H1`, `2025`; `period_start` DATE)",
    ),
    (
        "publications",
        "One row per revision: period, period_start, kind, revision, published_at (UTC, with time "
        "zone), reason, trigger, content_sha256",
    ),
    ("data_dictionary", "This dictionary as a table: table_name, column_name, data_type, nullable, vi, en"),
    (
        "lookup_kpis",
        "Table: every catalogue KPI by `kpi_code`: name_vi, name_en, source, unit, unit_vi, "
        "direction (higher/lower) with direction_vi/en, aggregation, applies_to, definition_en",
    ),
    (
        "lookup_framework_nodes",
        "Table: every pillar and indicator of the packaged frameworks: framework_id, "
        "framework_version, node_id, parent_id, level, name_vi, name_en, max_points, kpi_code "
        "(join `index_scores` on framework_id, framework_version, node_id)",
    ),
    (
        "lookup_codes",
        "Table: the portal's integer codes: table_name, column_name (`channel`, `payment_channel`, "
        "`rating`, `petition_rating`), code, label_vi, label_en",
    ),
)


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _type(t) -> str:
    return {"double": "float64", "timestamp[us]": "timestamp (µs)", "date32[day]": "date"}.get(
        str(t), str(t)
    )


def render() -> str:
    """The dictionary's Markdown text (deterministic: contracts in declaration order)."""
    out = _introduction()
    for c in schemas.CONTRACTS.values():
        out += _contract_section(c)
    out += _published_section() + _bi_section()
    return "\n".join(out) + "\n"


def _introduction() -> list[str]:
    """Title, how the tables are stored and read, and the index of the tables."""
    out = [
        "# Data dictionary / Từ điển dữ liệu",
        "",
        "<!-- Generated from dx_pipeline/reference/schemas.py by "
        "`python -m dx_pipeline.publish.data_dictionary`. Do not edit by hand. -->",
        "",
        "Every table is Hive-partitioned Parquet under",
        "`$DX_HOME/warehouse/<table>/quarter=YYYY-Qn/data.parquet`",
        "(or `$DX_WAREHOUSE_URL/<table>/...` in object storage, see docs/scale_out.md);",
        "the `quarter` column (label `2025-Q2`) comes from the folder name. Rates are stored as",
        "fractions 0..1 (0.855 means 85.5 %), targets too. A table may carry extra columns after its",
        "contract columns; a contract column is never dropped or renamed. Read a whole table with",
        "DuckDB: `SELECT * FROM read_parquet('warehouse/agency_kpis/quarter=*/data.parquet',",
        "hive_partitioning=true)`,",
        "or open the views in `$DX_HOME/bi/dx_pipeline.duckdb` (`dx-pipeline export-bi`).",
        "",
        "| table | vi | en | key |",
        "|---|---|---|---|",
    ]
    for c in schemas.CONTRACTS.values():
        out.append(
            f"| [`{c.table}`](#{c.table}) | {_cell(c.vi)} | {_cell(c.en)} | {', '.join(c.key) or '–'} |"
        )
    return out


def _contract_section(c: schemas.Contract) -> list[str]:
    """One table: its names, path, key and every column with type, requiredness and meaning."""
    out = [
        "",
        f"## {c.table}",
        "",
        f"**{_cell(c.vi)}** — {_cell(c.en)}.",
        "",
        f"Path: `warehouse/{c.table}/"
        + ("quarter=YYYY-Qn/data.parquet`" if c.partitioned else "*.parquet`")
        + (f" · Key: {', '.join(f'`{k}`' for k in c.key)}" if c.key else ""),
        "",
        "| column | type | required | vi | en |",
        "|---|---|---|---|---|",
    ]
    if c.partitioned:
        out.append("| `quarter` | string | yes | Quý | Quarter label from the folder name (2025-Q2) |")
    for col in c.columns:
        out.append(
            f"| `{col.name}` | {_type(col.type)} | {'no' if col.nullable else 'yes'} | "
            f"{_cell(col.vi)} | {_cell(col.en)} |"
        )
    return out


def _published_section() -> list[str]:
    """The published revisions: their folders, files and manifest fields."""
    out = [
        "",
        "## Published rankings / Bảng xếp hạng đã công bố",
        "",
        "`$DX_HOME/published/ranking/quarter=YYYY-Qn/rev=N/` (and `period=2025-H1/`, `period=2025/` for",
        "half-year and annual rankings). A revision is never modified; a later publication of the same",
        "period creates `rev=N+1` with a reason. `LATEST` (text `rev=N`) and the `latest` symlink name",
        "the newest revision. `dx-pipeline verify` rechecks every file against the manifest.",
        "`dx-pipeline site` builds each revision's website under `published/site/` (same folder names).",
        "",
        "| file | content |",
        "|---|---|",
    ]
    out += [f"| `{name}` | {_cell(text)} |" for name, text in PUBLISHED_FILES]
    out += ["", "### manifest.json", "", "| field | meaning |", "|---|---|"]
    return out + [f"| `{name}` | {_cell(text)} |" for name, text in MANIFEST_FIELDS]


def _bi_section() -> list[str]:
    """The BI database's views."""
    out = [
        "",
        "## BI database / Cơ sở dữ liệu cho công cụ BI",
        "",
        "`$DX_HOME/bi/dx_pipeline.duckdb` holds views over the Parquet files (no copies of data) and",
        "small tables (the dictionary, the lookups, also as `bi/lookups/<name>.parquet`). Paths in the",
        "views are relative to DX_HOME, so the home can be copied, moved or mounted elsewhere. DuckDB",
        "resolves them against `file_search_path`, else the working directory (not the file's folder):",
        "",
        "- DuckDB CLI: `cd $DX_HOME && duckdb bi/dx_pipeline.duckdb`, or from anywhere",
        "  `duckdb -cmd \"SET file_search_path = '/srv/dx'\" /srv/dx/bi/dx_pipeline.duckdb`;",
        "- Python: `dx_pipeline.publish.bi_database.open_bi_database(path)`, or",
        "  `duckdb.connect(path, read_only=True, config={'file_search_path': '/srv/dx'})`;",
        "- Superset (duckdb-engine): engine parameters",
        "  `{\"connect_args\": {\"read_only\": true, \"config\": {\"file_search_path\": \"/srv/dx\"}}}`;",
        "  Metabase (DuckDB driver): init SQL `SET file_search_path = '/srv/dx'`.",
        "",
        "With the warehouse in object storage the table views name `s3://` paths (the connection needs",
        "the bucket's credentials, docs/scale_out.md). Rebuild the file (`dx-pipeline export-bi`, done",
        "by every publication) after a table gets its first file: until then its view is empty.",
        "",
        "| view | content |",
        "|---|---|",
    ]
    return out + [f"| `{name}` | {_cell(text)} |" for name, text in BI_VIEWS]


def main(argv: list[str] | None = None) -> int:
    """Write docs/data_dictionary.md, or with --check exit 1 if it is out of date."""
    parser = argparse.ArgumentParser(
        prog="python -m dx_pipeline.publish.data_dictionary", description=__doc__
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is out of date")
    args = parser.parse_args(argv)
    text = render()
    current = args.output.read_text(encoding="utf-8") if args.output.exists() else None
    if args.check:
        if current != text:
            print(
                f"{args.output} is out of date: run python -m dx_pipeline.publish.data_dictionary",
                file=sys.stderr,
            )
            return 1
        return 0
    if current != text:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")
    print(args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
