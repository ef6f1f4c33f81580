"""Resources: where DX_HOME is, and where the reporting database and portal are.

Secrets (portal token, database URLs with passwords) come from the environment through
``EnvVar`` and never from code or run config.
"""

from __future__ import annotations

from dagster import ConfigurableResource

from dx_pipeline.storage import DxHome


class DxHomeResource(ConfigurableResource):
    """The DX_HOME folder; empty means ``$DX_HOME`` or ``./.dx_home``."""

    root: str = ""

    def home(self) -> DxHome:
        return DxHome.from_env(self.root or None)
