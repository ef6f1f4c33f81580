"""The DX_HOME folder: where the warehouse, landing zone, inbox and publications live."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from dx_pipeline.quarters import Quarter

DEFAULT_HOME = ".dx_home"


@dataclass(frozen=True)
class DxHome:
    """Paths under one DX_HOME. Creating the object touches nothing on disk."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    @classmethod
    def from_env(cls, root: str | os.PathLike | None = None) -> "DxHome":
        """``root`` if given, else ``$DX_HOME``, else ``./.dx_home``."""
        chosen = root or os.environ.get("DX_HOME") or DEFAULT_HOME
        return cls(Path(chosen).expanduser().resolve())

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse"

    @property
    def landing(self) -> Path:
        return self.root / "landing"

    @property
    def published(self) -> Path:
        return self.root / "published"

    @property
    def inbox(self) -> Path:
        return self.root / "inbox"

    @property
    def sample(self) -> Path:
        """Where ``dx-pipeline sample`` writes the embedded sample province's raw inputs."""
        return self.root / "sample"

    @property
    def registry_file(self) -> Path:
        return self.root / "registry" / "agencies.csv"

    @property
    def portal_exports(self) -> Path:
        return self.root / "portal_exports"

    @property
    def dagster_home(self) -> Path:
        return self.root / "dagster"

    def table_dir(self, table: str) -> Path:
        return self.warehouse / table

    def partition_dir(self, table: str, quarter: Quarter | str) -> Path:
        q = quarter if isinstance(quarter, Quarter) else Quarter.parse(quarter)
        return self.table_dir(table) / f"quarter={q.label}"

    def inbox_for(self, quarter: Quarter | str) -> Path:
        q = quarter if isinstance(quarter, Quarter) else Quarter.parse(quarter)
        return self.inbox / q.label

    def ensure(self) -> "DxHome":
        for p in (self.warehouse, self.landing, self.published, self.inbox):
            p.mkdir(parents=True, exist_ok=True)
        return self
