"""What an installation is configured with: where DX_HOME is and where its inputs come from.

The entry points build :class:`Settings` from their own world, the command line from its
options and the environment (:mod:`dx_pipeline.cli.environment`), Dagster from its resources
(:mod:`dx_pipeline.defs.resources`, ``EnvVar`` for URLs and secrets); stage functions receive
it as an argument and never read the environment themselves. :data:`ENVIRONMENT` names the
variables both entry points honour, in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from dx_pipeline.sources.portal_retry import RetryPolicy
from dx_pipeline.storage.home import DxHome

ENVIRONMENT: dict[str, str] = {
    "DX_HOME": "the DX_HOME folder (default ./.dx_home)",
    "DX_WAREHOUSE_URL": "the warehouse in object storage, e.g. s3://bucket/prefix",
    "AWS_ENDPOINT_URL_S3": "S3-compatible endpoint of the warehouse (MinIO, a data centre)",
    "AWS_ENDPOINT_URL": "the same, when AWS_ENDPOINT_URL_S3 is not set",
    "DX_DUCKDB_MEMORY": "overrides every stage's DuckDB memory budget, e.g. 4GB",
    "DX_REGISTRY": "the agency registry file (default <DX_HOME>/registry/agencies.csv)",
    "DX_REPORTING_DB_URL": "the reporting database, any SQLAlchemy URL",
    "DX_APPRAISAL_DB_URL": "the appraisal database, SQLite or PostgreSQL "
    "(default <DX_HOME>/appraisal/appraisal.db)",
    "DX_PORTAL_URL": "the public-service portal's export API",
    "DX_PORTAL_TOKEN": "the portal API token (a secret: never printed or stored)",
}
"""Environment variables the command line and the Dagster resources read, and what they set."""


@dataclass(frozen=True)
class PortalSettings:
    """The portal's export API; the token never appears in ``repr`` or logs. ``retry`` holds
    the client's budgets (attempts per request, resumes, total time, backoff); its defaults are
    sized for a long bad spell (see :mod:`dx_pipeline.sources.portal_retry`)."""

    url: str | None = None
    token: str | None = field(default=None, repr=False)
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def require(self) -> tuple[str, str]:
        """``(url, token)``, or a ValueError naming the settings that are missing."""
        pairs = (("DX_PORTAL_URL", self.url), ("DX_PORTAL_TOKEN", self.token))
        missing = [name for name, value in pairs if not value]
        if missing:
            raise ValueError(
                f"the portal API needs {' and '.join(missing)} "
                "(or pull from export files: portal source 'files')"
            )
        return str(self.url), str(self.token)


@dataclass(frozen=True)
class Settings:
    """One installation's configuration, as the stage functions receive it."""

    home: DxHome
    registry_file: Path | None = None
    """The agency registry; None means ``<DX_HOME>/registry/agencies.csv``."""
    reporting_db_url: str | None = None
    """The reporting database; None means the sample province's SQLite file if present."""
    portal: PortalSettings = field(default_factory=PortalSettings)
    appraisal_db_url: str | None = None
    """The appraisal database; None means SQLite at ``<DX_HOME>/appraisal/appraisal.db``."""

    @property
    def registry(self) -> Path:
        """The registry file in use."""
        return Path(self.registry_file) if self.registry_file else self.home.registry_file

    def reporting_db(self) -> str | None:
        """The reporting database's URL: the configured one, else the sample's, else None."""
        if self.reporting_db_url:
            return self.reporting_db_url
        sample = self.home.sample / "reporting.db"
        return f"sqlite:///{sample}" if sample.exists() else None

    def appraisal_db(self) -> str:
        """The appraisal database's URL: the configured one, else the SQLite file under DX_HOME."""
        return self.appraisal_db_url or f"sqlite:///{self.appraisal_db_file}"

    @property
    def appraisal_db_file(self) -> Path:
        """Where the default (SQLite) appraisal database lives."""
        return self.home.root / "appraisal" / "appraisal.db"

    def has_appraisal_db(self) -> bool:
        """Whether there can be verdicts: a configured database, or the default file exists
        (a quarter nobody appraised is scored without opening or creating one)."""
        return bool(self.appraisal_db_url) or self.appraisal_db_file.exists()
