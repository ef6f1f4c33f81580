"""``dx-pipeline verify``, ``publications`` and ``export-bi``: the publishing commands."""

from __future__ import annotations

import argparse

from dx_pipeline.cli.environment import home_from_environment
from dx_pipeline.publish.exports import build_bi_database
from dx_pipeline.publish.snapshot import list_publications
from dx_pipeline.publish.verify import verify


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the publication verbs (verify, export-bi) to the command line."""
    p = subparsers.add_parser(
        "verify",
        help="recheck published revisions against their manifests (exit 1 on any difference)",
    )
    p.add_argument("--quarter", help="quarter or period (2025-Q2, 2025-H1, 2025); default: all")
    p.add_argument("--rev", type=int, help="one revision; default: every revision")
    p.set_defaults(func=_verify)

    p = subparsers.add_parser("publications", help="list published revisions with their reasons")
    p.add_argument("--quarter", help="quarter or period; default: all")
    p.set_defaults(func=_publications)

    p = subparsers.add_parser(
        "export-bi", help="(re)build the DuckDB file of views for BI tools (<home>/bi/dx_pipeline.duckdb)"
    )
    p.add_argument("--output", help="where to write the .duckdb file")
    p.set_defaults(func=_export_bi)


def _verify(args) -> int:
    if args.rev is not None and not args.quarter:
        raise ValueError("--rev needs --quarter")
    report = verify(home_from_environment(args.home), args.quarter, args.rev)
    print(report.summary())
    return 0 if report.ok else 1


def _publications(args) -> int:
    pubs = list_publications(home_from_environment(args.home), args.quarter)
    if not pubs:
        print("nothing published yet")
        return 0
    latest = {}
    for p in pubs:
        latest[p.period] = p.revision
    print(f"{'period':9} {'rev':>3}  {'published_at (UTC)':19}  {'rows':>5}  trigger / reason")
    for p in pubs:
        mark = "*" if latest[p.period] == p.revision else " "
        rows = p.manifest.row_counts.get("ranking", "")
        print(
            f"{p.period:9} {p.revision:>3}{mark} {p.published_at:%Y-%m-%d %H:%M:%S}  {rows:>5}  "
            f"{p.manifest.trigger} / {p.reason}"
        )
    print("* latest")
    return 0


def _export_bi(args) -> int:
    home = home_from_environment(args.home)
    path = build_bi_database(home, args.output)
    print(path)
    print(f"its paths are relative to {home.root}: open it from there, or SET file_search_path = "
          f"'{home.root}' first (docs/data_dictionary.md, BI database)")
    return 0
