"""A small client for the Dagster webserver's GraphQL API (one POST per document).

Belongs here: what the product itself sends to a running webserver (``dx-pipeline backfill
--url``). The test suite's probe of the UI builds on it; starting and stopping webservers is
test harness and lives with the tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests


class GraphQLError(RuntimeError):
    """The webserver answered, but not with what was asked for (GraphQL errors, HTTP errors)."""


def graphql(
    base_url: str, query: str, variables: Mapping[str, Any] | None = None, timeout: float = 60
) -> dict:
    """POST a GraphQL document to ``<base_url>/graphql``; the ``data`` dict, or GraphQLError."""
    response = requests.post(
        f"{base_url.rstrip('/')}/graphql",
        json={"query": query, "variables": dict(variables or {})},
        timeout=timeout,
    )
    try:
        body = response.json()
    except ValueError:
        text = response.text[:500]
        raise GraphQLError(f"/graphql answered HTTP {response.status_code}: {text}") from None
    if body.get("errors") or response.status_code != 200:
        raise GraphQLError(f"/graphql answered HTTP {response.status_code}: {body.get('errors')}")
    return body["data"]
