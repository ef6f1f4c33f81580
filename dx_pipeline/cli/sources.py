"""``dx-pipeline template`` and ``dx-pipeline ingest-submissions``."""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from dx_pipeline.app.settings import Settings
from dx_pipeline.cli.environment import settings_from_environment
from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.reference.registry import load_registry
from dx_pipeline.reference.typed_codes import resolve_code
from dx_pipeline.sources.submissions import ingest_submissions
from dx_pipeline.sources.templates import write_template


def _settings(args) -> Settings:
    return settings_from_environment(
        getattr(args, "home", None),
        registry=getattr(args, "registry", None),
        reporting_db_url=getattr(args, "reporting_db", None),
    )


def _template(args) -> int:
    settings = _settings(args)
    q = Quarter.parse(args.quarter)
    registry = load_registry(settings.registry)
    agency = resolve_code(args.agency, registry["agency_code"], where=f"in the registry {settings.registry}")
    output = Path(args.output or f"bao_cao_cds_{agency}_{q.label}.{args.format}")
    path = write_template(registry, agency, q, output, fmt=args.format)
    print(f"wrote {path}")
    return 0


def _ingest(args) -> int:
    settings = _settings(args)
    home = settings.home
    q = Quarter.parse(args.quarter)
    registry = load_registry(settings.registry)
    url = None if args.no_db else settings.reporting_db()
    result = ingest_submissions(home, q, registry, reporting_db_url=url, deadline_days=args.deadline_days)
    acc, rej = result.accepted, result.rejects
    late = int(acc["is_late"].fillna(False).sum()) if len(acc) else 0
    print(
        f"{q.label}: {len(result.files)} file(s) in {home.inbox_for(q)}"
        + (f", reporting DB {result.db_rows} row(s)" if url else "")
        + f"; accepted {len(acc)} row(s) ({int(acc['is_effective'].sum()) if len(acc) else 0} effective,"
        f" {late} late); rejected {len(rej)} row(s)"
    )
    print_rejects(rej, args.max_rows)
    return 0


PRINTED_WIDTH = 90
"""At most this many characters of one printed cell."""


def print_rejects(rejects: pd.DataFrame, max_rows: int) -> None:
    """The first ``max_rows`` rejects, each cell cut to PRINTED_WIDTH, and how many are not
    shown: the printout is bounded whatever the inbox holds."""
    shown = rejects.head(max(max_rows, 0))[["source_ref", "field", "value", "reason"]]
    if len(shown):
        cut = shown.map(lambda v: v if not isinstance(v, str) or len(v) <= PRINTED_WIDTH
                        else v[: PRINTED_WIDTH - 1] + "…")
        with pd.option_context("display.max_colwidth", PRINTED_WIDTH + 1, "display.width", 400):
            print(cut.to_string(index=False))
    if len(rejects) > len(shown):
        print(f"... and {len(rejects) - len(shown):,} more rejected row(s) not shown (--max-rows)")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the submission verbs (template, ingest-submissions, reporting DB) to the command line."""
    p = subparsers.add_parser(
        "template",
        help="write an agency's submission workbook (or CSV) for a quarter",
        description="Pre-filled with the agency, the quarter and the indicators for its level: "
        "Vietnamese headers, an instructions sheet with the deadline, a protected sheet whose "
        "yellow entry cells are validated while typing, and a sign-off. Only for a quarter that "
        "has begun.",
    )
    p.add_argument("--agency", required=True, help="agency code from the registry")
    p.add_argument("--quarter", required=True, help="e.g. 2025-Q2")
    p.add_argument("--format", choices=("xlsx", "csv"), default="xlsx",
                   help="xlsx (default: the workbook with validation) or csv")
    p.add_argument("--output", help="file to write (default: ./bao_cao_cds_<AGENCY>_<QUARTER>.<format>)")
    p.add_argument("--registry", help="registry file (default: $DX_REGISTRY or <home>/registry/agencies.csv)")
    p.set_defaults(func=_template)

    p = subparsers.add_parser(
        "ingest-submissions",
        help="read a quarter's inbox (and reporting DB) and print accepted/rejected counts and rejects",
    )
    p.add_argument("--quarter", required=True, help="e.g. 2025-Q2")
    p.add_argument("--registry", help="registry file (default: $DX_REGISTRY or <home>/registry/agencies.csv)")
    p.add_argument(
        "--reporting-db",
        help="SQLAlchemy URL (default: $DX_REPORTING_DB_URL or the sample's SQLite)",
    )
    p.add_argument("--no-db", action="store_true", help="read the inbox only")
    p.add_argument("--deadline-days", type=int, default=15, help="days after quarter end (default 15)")
    p.add_argument("--max-rows", type=int, default=200, help="reject rows to print (default 200)")
    p.set_defaults(func=_ingest)
