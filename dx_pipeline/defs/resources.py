"""Resources: the only place the Dagster side reads configuration, through ``EnvVar``.

One resource, ``dx``, holds the installation's settings (see
:data:`dx_pipeline.app.settings.ENVIRONMENT`). URLs and secrets are ``EnvVar`` values: Dagster
resolves them when a run starts, shows the variable's name (never its value) in the UI, and
keeps them out of run config. A variable that is not set where the code location loads keeps
its default instead (an ``EnvVar`` of an unset variable fails every run, even one that never
uses it, such as a quarter read from export files without the portal's token).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from dagster import ConfigurableResource, EnvVar

from dx_pipeline.app.settings import PortalSettings, Settings
from dx_pipeline.storage.home import DxHome

DEFAULT_HOME = ".dx_home"


class DxResource(ConfigurableResource):
    """The installation: DX_HOME, the warehouse, the registry, the reporting DB and the portal.

    Empty strings mean "not set": the DX_HOME default, a warehouse under DX_HOME, the registry
    under DX_HOME, the sample's reporting database when present, no portal API.
    """

    home: str = ""
    warehouse_url: str = ""
    warehouse_endpoint: str = ""
    duckdb_memory: str = ""
    registry_file: str = ""
    reporting_db_url: str = ""
    portal_url: str = ""
    portal_token: str = ""
    appraisal_db_url: str = ""

    def settings(self) -> Settings:
        """The settings the stage functions receive."""
        home = DxHome(
            Path(self.home or DEFAULT_HOME),
            warehouse_url=self.warehouse_url or None,
            warehouse_options={"endpoint_url": self.warehouse_endpoint} if self.warehouse_endpoint else {},
            duckdb_memory=self.duckdb_memory or None,
        )
        return Settings(
            home=home,
            registry_file=Path(self.registry_file) if self.registry_file else None,
            reporting_db_url=self.reporting_db_url or None,
            portal=PortalSettings(self.portal_url or None, self.portal_token or None),
            appraisal_db_url=self.appraisal_db_url or None,
        )


def _env_or_default(name: str, environ: Mapping[str, str]) -> str:
    """``EnvVar(name)`` when the variable is set where the code location loads, else ``""``."""
    return EnvVar(name) if environ.get(name) else ""


def settings_at_load(environ: Mapping[str, str] | None = None) -> Settings:
    """The settings the ``dx`` resource will give, read from ``environ`` now (when the code
    location loads), for checking the configuration before anything runs."""
    env = os.environ if environ is None else environ
    return DxResource(home=env.get("DX_HOME", ""), registry_file=env.get("DX_REGISTRY", "")).settings()


def dx_resource(environ: Mapping[str, str] | None = None) -> DxResource:
    """The ``dx`` resource wired to the environment variables of :data:`ENVIRONMENT`."""
    env = os.environ if environ is None else environ
    endpoint = "AWS_ENDPOINT_URL_S3" if env.get("AWS_ENDPOINT_URL_S3") else "AWS_ENDPOINT_URL"
    return DxResource(
        home=_env_or_default("DX_HOME", env),
        warehouse_url=_env_or_default("DX_WAREHOUSE_URL", env),
        warehouse_endpoint=_env_or_default(endpoint, env),
        duckdb_memory=_env_or_default("DX_DUCKDB_MEMORY", env),
        registry_file=_env_or_default("DX_REGISTRY", env),
        reporting_db_url=_env_or_default("DX_REPORTING_DB_URL", env),
        portal_url=_env_or_default("DX_PORTAL_URL", env),
        portal_token=_env_or_default("DX_PORTAL_TOKEN", env),
        appraisal_db_url=_env_or_default("DX_APPRAISAL_DB_URL", env),
    )
