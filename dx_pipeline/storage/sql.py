"""SQL database URLs: which installed driver a URL is opened with.

A bare ``postgresql://`` URL means psycopg 3 to SQLAlchemy 2.1, but the project ships psycopg2;
every engine the package creates goes through :func:`engine_url`, so either driver works.
"""

from __future__ import annotations

import importlib.util

from sqlalchemy.engine import URL, make_url


def engine_url(url: str | URL) -> URL:
    """``url`` parsed, with a bare ``postgresql://`` opened by whichever driver is installed."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        if importlib.util.find_spec("psycopg") is None and importlib.util.find_spec("psycopg2"):
            parsed = parsed.set(drivername="postgresql+psycopg2")
    return parsed
