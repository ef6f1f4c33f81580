"""``dx-pipeline pull``, ``ingest-portal`` and ``serve-portal``: the portal's ways in, by hand."""

from __future__ import annotations

import argparse
import json
import os
import time

from dx_pipeline.cli.environment import home_from_environment, settings_from_environment
from dx_pipeline.sample.portal_server import serve_portal
from dx_pipeline.sources.portal_client import PortalClient, pull_portal_quarter
from dx_pipeline.sources.portal_files import ingest_portal_files


def _result(r) -> int:
    print(json.dumps(
        dict(quarter=r.quarter, origin=r.origin, dossiers=r.dossier_rows, rejected_rows=r.rejected_rows,
             bad_values=r.reject_count, procedures=r.procedure_rows, landed_pages=r.landed_pages,
             dossiers_path=str(r.dossiers_path), rejects_path=str(r.rejects_path), notes=list(r.notes)),
        ensure_ascii=False, indent=1))
    return 0


def _pull(args: argparse.Namespace) -> int:
    settings = settings_from_environment(args.home, portal_url=args.url)
    url, token = settings.portal.require()
    client = PortalClient(url, token, policy=settings.portal.retry)
    for q in args.quarter:
        result = pull_portal_quarter(
            settings.home, q, full=args.full, page_size=args.page_size, client=client
        )
        _result(result)
    return 0


def _ingest(args: argparse.Namespace) -> int:
    home = home_from_environment(args.home)
    for q in args.quarter:
        _result(ingest_portal_files(home, q, args.source_dir))
    return 0


def _serve(args: argparse.Namespace) -> int:
    token = args.token or os.environ.get("DX_PORTAL_TOKEN") or "sample-token"
    faults = json.loads(args.faults) if args.faults else []
    server = serve_portal(home_from_environment(args.home), args.host, args.port, token, faults)
    print(f"sample portal serving {server.url} (token from --token or DX_PORTAL_TOKEN); Ctrl-C stops it",
          flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()
    return 0


def register(subparsers) -> None:
    """Add the portal verbs (pull, ingest-portal, serve-portal) to the command line."""
    p = subparsers.add_parser(
        "pull", help="pull quarters from the portal's HTTP API (DX_PORTAL_URL, DX_PORTAL_TOKEN)"
    )
    p.add_argument("quarter", nargs="+", help="e.g. 2025-Q2")
    p.add_argument("--url", default=None, help="portal base URL (default $DX_PORTAL_URL)")
    p.add_argument("--full", action="store_true", help="ignore the updated-since cursor and pull everything")
    p.add_argument("--page-size", type=int, default=500, help="dossiers per API page (default 500)")
    p.set_defaults(func=_pull)

    p = subparsers.add_parser(
        "ingest-portal", help="read portal export files (CSV, JSON, Excel) for quarters"
    )
    p.add_argument("quarter", nargs="+", help="e.g. 2025-Q2")
    p.add_argument("--source-dir", default=None, help="default DX_HOME/portal_exports")
    p.set_defaults(func=_ingest)

    if "serve-portal" not in subparsers.choices:
        p = subparsers.add_parser(
            "serve-portal", help="serve DX_HOME/portal_exports through the sample portal API"
        )
        p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
        p.add_argument("--port", type=int, default=8765, help="port to listen on (default 8765)")
        p.add_argument(
            "--token", default=None, help="bearer token (default $DX_PORTAL_TOKEN or sample-token)"
        )
        p.add_argument("--faults", default=None, help='JSON list, e.g. \'[{"kind": "500", "after": 2}]\'')
        p.set_defaults(func=_serve)
