"""A private PostgreSQL database per test, on the server at ``$DX_TEST_POSTGRES_URL``."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest

ENV = "DX_TEST_POSTGRES_URL"


def with_database(url: str, db_name: str) -> str:
    """``url`` pointing at database ``db_name`` on the same server."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{db_name}"))


@contextlib.contextmanager
def fresh_database(prefix: str = "dx_test") -> Iterator[str]:
    """A fresh database ``<prefix>_<random>`` (its URL), dropped afterwards; the test is
    skipped when ``$DX_TEST_POSTGRES_URL`` is not set. A private database keeps a test from
    colliding with other tests using the same server at the same time."""
    base_url = os.environ.get(ENV)
    if not base_url:
        pytest.skip(f"{ENV} is not set")
    import psycopg2

    db_name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(base_url)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{db_name}"')
        yield with_database(base_url, db_name)
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        admin.close()
