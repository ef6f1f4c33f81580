"""The command line's view of the environment: DX_HOME and the settings it implies.

With :mod:`dx_pipeline.defs.resources` this is one of the two places configuration is read from
the environment (the variables are listed in :data:`dx_pipeline.app.settings.ENVIRONMENT`);
everything below receives the :class:`~dx_pipeline.app.settings.Settings` built here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from dx_pipeline.app.settings import PortalSettings, Settings
from dx_pipeline.storage.home import DxHome

DEFAULT_HOME = ".dx_home"


def home_from_environment(
    root: str | os.PathLike | None = None, environ: Mapping[str, str] | None = None
) -> DxHome:
    """``root`` (``--home``) if given, else ``$DX_HOME``, else ``./.dx_home``; the warehouse,
    its S3 endpoint and the DuckDB memory override from their variables."""
    env = os.environ if environ is None else environ
    endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
    return DxHome(
        Path(root or env.get("DX_HOME") or DEFAULT_HOME),
        warehouse_url=env.get("DX_WAREHOUSE_URL") or None,
        warehouse_options={"endpoint_url": endpoint} if endpoint else {},
        duckdb_memory=env.get("DX_DUCKDB_MEMORY") or None,
    )


def settings_from_environment(
    root: str | os.PathLike | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    registry: str | os.PathLike | None = None,
    reporting_db_url: str | None = None,
    portal_url: str | None = None,
    appraisal_db_url: str | None = None,
) -> Settings:
    """The settings of this invocation: command-line values first, then the environment."""
    env = os.environ if environ is None else environ
    registry_file = registry or env.get("DX_REGISTRY") or None
    return Settings(
        home=home_from_environment(root, env),
        registry_file=Path(registry_file) if registry_file else None,
        reporting_db_url=reporting_db_url or env.get("DX_REPORTING_DB_URL") or None,
        portal=PortalSettings(
            portal_url or env.get("DX_PORTAL_URL") or None, env.get("DX_PORTAL_TOKEN") or None
        ),
        appraisal_db_url=appraisal_db_url or env.get("DX_APPRAISAL_DB_URL") or None,
    )
