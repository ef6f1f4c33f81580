"""Serve built sites locally: a small HTTP server on 127.0.0.1 over ``published/site/``, so a
person can read the site as the portal will show it (``dx-pipeline site --serve``).

Also the portal's front page, ``published/site/index.html``, listing every period's site.
Building a period's site belongs to :mod:`dx_pipeline.publish.site.build`.
"""

from __future__ import annotations

import functools
import json
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from dx_pipeline.publish.layout import revisions
from dx_pipeline.publish.site.build import INDEX, SITE_MANIFEST, environment
from dx_pipeline.reference.quarters import Period

LOCALHOST = "127.0.0.1"
DEFAULT_PORT = 8000
"""The port ``dx-pipeline site --serve`` listens on unless told otherwise."""


class _Handler(SimpleHTTPRequestHandler):
    """Static files, quietly, with the types a browser needs for the data files."""

    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, ".csv": "text/csv; charset=utf-8",
                      ".json": "application/json", ".parquet": "application/vnd.apache.parquet",
                      ".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8"}

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        """No line per request on the terminal."""


def site_server(folder: str | Path, port: int = DEFAULT_PORT) -> ThreadingHTTPServer:
    """An HTTP server for ``folder`` on 127.0.0.1 (``port`` 0 picks a free one); call
    ``serve_forever()`` to run it and ``shutdown()`` to stop it."""
    handler = functools.partial(_Handler, directory=str(Path(folder).resolve()))
    return ThreadingHTTPServer((LOCALHOST, int(port)), handler)


def write_front_page(site_root: str | Path) -> Path:
    """``published/site/index.html``: every period with a built site, newest first, each
    with its revisions."""
    root = Path(site_root)
    periods = []
    for folder in sorted((p for p in root.glob("*=*") if p.is_dir()), key=lambda p: p.name):
        built = [r for r in revisions(folder) if (folder / f"rev={r}" / SITE_MANIFEST).is_file()]
        if built:
            newest = json.loads((folder / f"rev={built[-1]}" / SITE_MANIFEST).read_text(encoding="utf-8"))
            periods.append({"period": Period.parse(folder.name.split("=", 1)[1]), "folder": folder.name,
                            "revisions": sorted(built, reverse=True), "final": bool(newest.get("final"))})
    kinds = ("quarter", "half", "year")
    periods.sort(key=lambda p: p["period"].label, reverse=True)
    periods.sort(key=lambda p: kinds.index(p["period"].kind))
    text = environment().get_template("front.html.j2").render(periods=periods)
    (root / INDEX).write_text(text, encoding="utf-8")
    return root / INDEX
