"""The DX_HOME folder: where the warehouse, landing zone, inbox and publications live.

Everything is a local folder under ``DX_HOME`` except, optionally, the warehouse: with a
warehouse URL such as ``s3://bucket/prefix`` (``DX_WAREHOUSE_URL`` at the entry points; any
fsspec URL whose driver is installed) the Parquet tables live in object storage and
``DxHome.warehouse`` is a :class:`upath.UPath` on that URL.
The working folders that need a local disk (inbox, landing, portal exports, published
revisions, the BI file, dq reports, Dagster's home) stay under ``DX_HOME``.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from typing_extensions import TypeIs

from dx_pipeline.reference.quarters import Quarter

if TYPE_CHECKING:
    from upath import UPath

WarehousePath: TypeAlias = "Path | UPath"
"""Where a warehouse file or folder is: a local ``Path`` or an object-storage ``UPath``."""


def is_remote(path: object) -> TypeIs[UPath]:
    """True for an object-storage path (a ``UPath`` on a non-local file system); local
    ``Path`` objects and plain strings are local, as they always were."""
    return not isinstance(path, (str, os.PathLike))


@dataclass(frozen=True)
class DxHome:
    """Paths under one DX_HOME and how the storage layer works there. Creating the object
    touches nothing on disk or in a bucket, and nothing here reads the environment: the
    entry points (``cli``, ``defs/resources.py``) build it from theirs.

    ``warehouse_url``: where the warehouse lives when not in ``<root>/warehouse``; a URL such
    as ``s3://bucket/prefix`` (object storage), or a local folder (a path or ``file://``).
    ``warehouse_options``: fsspec options of the warehouse's file system (for S3, e.g.
    ``endpoint_url``; credentials are found by the driver itself).
    ``duckdb_memory``: overrides every stage's measured DuckDB memory budget (e.g. ``"4GB"``).
    """

    root: Path
    warehouse_url: str | None = None
    warehouse_options: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)
    duckdb_memory: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root).expanduser().resolve())
        url = str(self.warehouse_url).strip() if self.warehouse_url is not None else ""
        object.__setattr__(self, "warehouse_url", url.rstrip("/") or None)
        object.__setattr__(self, "warehouse_options", dict(self.warehouse_options or {}))
        object.__setattr__(self, "duckdb_memory", (self.duckdb_memory or "").strip() or None)

    @classmethod
    def local(cls, root: str | os.PathLike) -> "DxHome":
        """``root`` with its own local warehouse folder: for scratch homes (benchmarks, tests)
        that must never write into a shared warehouse."""
        return cls(Path(root))

    def memory_for(self, budget: str) -> str:
        """The DuckDB memory limit of a stage measured at ``budget``: the override if set."""
        return self.duckdb_memory or budget

    @functools.cached_property
    def warehouse(self) -> WarehousePath:
        """``<root>/warehouse`` (a ``Path``), or the object-storage location of
        ``warehouse_url`` (a ``UPath``; its ``fs`` is the fsspec file system)."""
        url = self.warehouse_url
        if url is None:
            return self.root / "warehouse"
        if "://" not in url:
            return Path(url).expanduser().resolve()
        if url.startswith("file://"):
            return Path(url[len("file://"):]).expanduser().resolve()
        from upath import UPath

        protocol = url.split("://", 1)[0]
        # listings are never cached: another process or machine may have written a partition
        path = UPath(url, use_listings_cache=False, **self.warehouse_options)
        try:
            _ = path.fs  # the driver is imported here, not at the first read deep inside a step
        except ImportError as exc:
            raise ImportError(
                f"warehouse {url} needs the fsspec driver for {protocol}:// "
                "(for S3: pip install 'dx_pipeline[s3]', which installs s3fs)"
            ) from exc
        return path

    @property
    def remote_warehouse(self) -> bool:
        """True when the warehouse is in object storage (not a local folder)."""
        return is_remote(self.warehouse)

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

    def table_dir(self, table: str) -> WarehousePath:
        return self.warehouse / table

    def partition_dir(self, table: str, quarter: Quarter | str) -> WarehousePath:
        q = quarter if isinstance(quarter, Quarter) else Quarter.parse(quarter)
        return self.table_dir(table) / f"quarter={q.label}"

    def inbox_for(self, quarter: Quarter | str) -> Path:
        q = quarter if isinstance(quarter, Quarter) else Quarter.parse(quarter)
        return self.inbox / q.label

    def dq_reports_for(self, quarter: Quarter | str) -> Path:
        """``dq_reports/quarter=YYYY-Qn``: the quality report and the per-run JSON results."""
        q = quarter if isinstance(quarter, Quarter) else Quarter.parse(quarter)
        return self.root / "dq_reports" / f"quarter={q.label}"

    def ensure(self) -> "DxHome":
        for p in (self.landing, self.published, self.inbox):
            p.mkdir(parents=True, exist_ok=True)
        if not self.remote_warehouse:  # a bucket has no folders to create
            self.warehouse.mkdir(parents=True, exist_ok=True)
        return self
