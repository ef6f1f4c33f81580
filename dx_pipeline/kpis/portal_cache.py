"""A quarter's portal KPIs kept beside the warehouse, keyed by the bytes they were computed from.

Why: the portal KPIs (:func:`dx_pipeline.kpis.dossier_kpis.portal_kpis`) are the one scan of
every dossier of the quarter (3.6 s at 10M dossiers); a late submission, an appraisal workbook
or an accepted appeal changes none of the dossiers, only agency-level rows. So the result of
that scan is stored with the SHA-256 of the exact ``portal_dossiers`` and ``procedures``
partition files it read, of the code that defines the KPIs and of the DuckDB, pandas and
pyarrow versions; a run whose key is the same reads the stored rows back (a few thousand),
any other recomputes and replaces them. A new export, a re-ingest that wrote other bytes,
a changed KPI definition: each gives another key, so a stale result cannot be served. The stored table is the
computed one as Parquet (dtypes kept by pandas' own metadata); the app layer's tests
(``test_republish``) prove a hit returns the same frame, a changed partition is scanned again
and a republication equals a full run.

Layout: ``<DX_HOME>/cache/portal_kpis/quarter=YYYY-Qn/<key>.parquet``, one file per quarter
(a miss replaces it). It is local even when the warehouse is in object storage: a worker
without it recomputes, which is all a cache miss ever costs. Deleting the folder is safe.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from dx_pipeline.kpis import dossier_kpis
from dx_pipeline.kpis.dossier_kpis import DOSSIERS_TABLE, PROCEDURES_TABLE, portal_kpis
from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.storage import DxHome
from dx_pipeline.storage.atomic import atomic_path
from dx_pipeline.storage.hash_cache import cached_sha256_path
from dx_pipeline.storage.home import WarehousePath, is_remote
from dx_pipeline.storage.parquet import partition_path

CACHE_DIR = "cache/portal_kpis"
_CHUNK = 1 << 22


@dataclass(frozen=True)
class PortalKpis:
    """The quarter's own portal KPIs and whether they were read back (``hit``) or computed."""

    table: pd.DataFrame
    key: str
    hit: bool


def _file_sha256(home: DxHome, path: WarehousePath) -> str:
    """SHA-256 of a warehouse file (local or in object storage); "absent" when there is none
    (a quarter without a procedure catalogue is a state of its own, not an error). A local
    file's digest comes from the stat-keyed cache of :mod:`dx_pipeline.storage.hash_cache`
    while the file is unchanged (the dossier partition is about 0.5 GB at 10M dossiers)."""
    if not path.exists():
        return "absent"
    if not is_remote(path):
        return cached_sha256_path(home.root, path)
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _code_sha256() -> str:
    """The KPI definitions' own source: a changed definition must not reuse an old result."""
    source = Path(str(dossier_kpis.__file__)).read_bytes()
    return hashlib.sha256(source).hexdigest()


def portal_kpis_key(home: DxHome, quarter: Quarter) -> str:
    """The key of the quarter's portal KPIs: what they are a function of, hashed."""
    parts = [
        quarter.label,
        duckdb.__version__,
        pd.__version__,  # the stored frame is written and read back by pandas and pyarrow
        pa.__version__,
        _code_sha256(),
        _file_sha256(home, partition_path(home, DOSSIERS_TABLE, quarter)),
        _file_sha256(home, partition_path(home, PROCEDURES_TABLE, quarter)),
    ]
    return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()


def cache_folder(home: DxHome, quarter: Quarter) -> Path:
    """Where the quarter's stored portal KPIs live."""
    return home.root / CACHE_DIR / f"quarter={quarter.label}"


def cached_portal_kpis(home: DxHome, quarter: Quarter | str) -> PortalKpis:
    """The quarter's own portal KPIs: read back when computed from the same bytes, else
    computed by :func:`portal_kpis` and stored for the next run."""
    q = quarter if isinstance(quarter, Quarter) else Quarter.parse(quarter)
    key = portal_kpis_key(home, q)
    folder = cache_folder(home, q)
    stored = folder / f"{key}.parquet"
    if stored.exists():
        return PortalKpis(pd.read_parquet(stored), key, hit=True)
    table = portal_kpis(home, q)
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(stored, suffix=".parquet.tmp") as tmp:
        table.to_parquet(tmp, index=False)
    for old in folder.glob("*.parquet"):
        if old != stored:
            old.unlink(missing_ok=True)
    return PortalKpis(table, key, hit=False)
