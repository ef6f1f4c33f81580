"""The one way to get a DuckDB connection that can read the warehouse, wherever it lives.

On a local warehouse this is a plain ``duckdb.connect()``: nothing is added, so local scans run
exactly as before. With the warehouse in object storage (``DX_WAREHOUSE_URL=s3://...``) the
warehouse's fsspec file system is registered on the connection
(``con.register_filesystem``), so ``read_parquet('s3://bucket/prefix/<table>/quarter=*/
data.parquet', hive_partitioning = true)`` globs and reads the bucket through s3fs with the
same credentials as pyarrow, and no DuckDB extension (``httpfs``) has to be downloaded.
Writes never go through DuckDB: ``COPY ... TO`` writes a local file which
:func:`dx_pipeline.storage.atomic.atomic_path` uploads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dx_pipeline.storage.home import DxHome

if TYPE_CHECKING:  # imported when a connection is made: importing storage stays light
    import duckdb


def attach_warehouse(con: "duckdb.DuckDBPyConnection", home: DxHome) -> "duckdb.DuckDBPyConnection":
    """Let ``con`` read ``home``'s warehouse; a no-op for a local warehouse or when the
    connection already has a file system for the warehouse's protocol. Returns ``con``."""
    if home.remote_warehouse:
        fs = home.warehouse.fs
        protocols = (fs.protocol,) if isinstance(fs.protocol, str) else tuple(fs.protocol)
        if not set(con.list_filesystems()).intersection(protocols):
            con.register_filesystem(fs)
    return con


def warehouse_duckdb(home: DxHome, database: str = ":memory:") -> "duckdb.DuckDBPyConnection":
    """A new DuckDB connection (in memory, or on the ``database`` file) that can read ``home``'s
    warehouse tables by their paths (``str(partition_path(...))``, ``table_glob(...)``)."""
    import duckdb

    return attach_warehouse(duckdb.connect(database), home)
