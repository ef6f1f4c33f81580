"""``dx-pipeline site``: build the DX portal website of published revisions, check its links,
and with ``--serve`` show it on 127.0.0.1."""

from __future__ import annotations

import argparse

from dx_pipeline.app.site import SitesBuilt, build_sites
from dx_pipeline.cli.environment import settings_from_environment
from dx_pipeline.publish.layout import ranking_root, site_root
from dx_pipeline.publish.site.serve import site_server
from dx_pipeline.reference.quarters import Period


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``site`` verb to the command line."""
    p = subparsers.add_parser(
        "site",
        help="build the DX portal website of published revisions (and serve it with --serve)",
        description="Build the static website of the newest revision of every published period "
        "(or of one --quarter, optionally one --rev) under <home>/published/site/, check that "
        "every link resolves, and with --serve show it on http://127.0.0.1:PORT/.",
    )
    p.add_argument("--quarter", help="quarter or period (2025-Q2, 2025-H1, 2025); default: every period")
    p.add_argument("--rev", type=int, help="one revision of --quarter; default: the newest")
    p.add_argument("--serve", action="store_true", help="serve the sites on 127.0.0.1 until Ctrl-C")
    p.add_argument("--port", type=int, default=8000, help="port for --serve (default 8000; 0: any free)")
    p.set_defaults(func=_site)


def _periods(settings, quarter: str | None) -> list[Period]:
    if quarter:
        return [Period.parse(quarter)]
    root = ranking_root(settings.home)
    return sorted((Period.parse(f.name.split("=", 1)[1]) for f in root.glob("*=*") if f.is_dir()),
                  key=lambda p: (p.kind, p.label))


def _site(args) -> int:
    if args.rev is not None and not args.quarter:
        raise ValueError("--rev needs --quarter")
    settings = settings_from_environment(args.home)
    periods = _periods(settings, args.quarter)
    if not periods:
        raise FileNotFoundError(f"nothing published under {ranking_root(settings.home)}: run a quarter first")
    result = build_sites(settings, periods, args.rev)
    _print(result)
    if args.serve:
        _serve(settings, result, args.port)
    return 1 if result.broken else 0


def _print(result: SitesBuilt) -> None:
    for b in result.built:
        state = "chính thức / final" if b.final else "tạm thời / provisional"
        print(f"{b.period:9} rev={b.revision:<3} {state:23} {b.pages:4} pages, "
              f"{b.agencies:4} agencies  {b.path}")
    for name in result.private:
        print(f"{name}: chưa công bố (kết quả tính toán, chưa thẩm định) / not public yet (computed, not "
              "appraised): no site built; publish it with dx-pipeline appraisal provisional")
    for link in result.broken:
        print(f"broken link: {link}")


def _serve(settings, result: SitesBuilt, port: int) -> None:
    server = site_server(site_root(settings.home), port)
    host, bound = server.server_address[:2]
    print(f"serving {site_root(settings.home)} on http://{host}:{bound}/ (Ctrl-C to stop)")
    for b in result.built:
        print(f"  {b.period}: http://{host}:{bound}/{b.path.relative_to(site_root(settings.home)).as_posix()}/")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
