"""DuckDB connections for the pipeline's stages: they see the warehouse, and stay in budget.

Seeing the warehouse. On a local warehouse a connection needs nothing: local scans run exactly
as they always did. With the warehouse in object storage (``DxHome.warehouse_url``;
``DX_WAREHOUSE_URL`` at the entry points) the warehouse's fsspec file system is registered on
the connection (``con.register_filesystem``), so
``read_parquet('s3://bucket/prefix/<table>/quarter=*/data.parquet', hive_partitioning = true)``
globs and reads the bucket through s3fs with the same credentials as pyarrow, and no
DuckDB extension (``httpfs``) has to be downloaded. Writes never go through DuckDB:
``COPY ... TO`` writes a local file which :func:`dx_pipeline.storage.atomic.atomic_path` uploads.

Staying in budget. DuckDB's own default memory limit is 80 % of RAM, so a query over a
national-size quarter (a GROUP BY over every dossier id, a de-duplication window) grows with
the data until the machine runs out. With a fixed budget and a spill directory the peak stays
flat as the quarter grows and the surplus goes to disk: 3x the dossiers must cost at most 1.2x
the peak memory. Each stage states the budget it was measured with; ``DxHome.duckdb_memory``
(``DX_DUCKDB_MEMORY`` at the entry points) overrides them all (e.g. ``4GB`` on a big machine,
``400MB`` on a small one).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from dx_pipeline.storage.home import DxHome, is_remote
from dx_pipeline.storage.parquet import sql_literal

if TYPE_CHECKING:  # imported when a connection is made: importing storage stays light
    import duckdb


def attach_warehouse(con: "duckdb.DuckDBPyConnection", home: DxHome) -> "duckdb.DuckDBPyConnection":
    """Let ``con`` read ``home``'s warehouse; a no-op for a local warehouse or when the
    connection already has a file system for the warehouse's protocol. Returns ``con``."""
    warehouse = home.warehouse
    if is_remote(warehouse):
        fs = warehouse.fs
        protocols = (fs.protocol,) if isinstance(fs.protocol, str) else tuple(fs.protocol)
        if not set(con.list_filesystems()).intersection(protocols):
            con.register_filesystem(fs)
    return con


def warehouse_duckdb(home: DxHome, database: str = ":memory:") -> "duckdb.DuckDBPyConnection":
    """A new DuckDB connection (in memory, or on the ``database`` file) that can read ``home``'s
    warehouse tables by their paths (``str(partition_path(...))``, ``table_glob(...)``)."""
    import duckdb

    return attach_warehouse(duckdb.connect(database), home)


def configure(
    con: "duckdb.DuckDBPyConnection", scratch: str | os.PathLike, memory: str, *, keep_order: bool = True
) -> None:
    """Give ``con`` every core, ``memory`` (e.g. ``"600MB"``) and ``scratch`` to spill to.

    ``keep_order=False`` lets DuckDB drop insertion order, which saves memory in aggregations;
    keep it wherever a result's row order (or which rows a ``LIMIT`` returns) is published.
    """
    Path(scratch).mkdir(parents=True, exist_ok=True)
    con.execute(f"SET threads = {max(1, os.cpu_count() or 1)}")
    con.execute(f"SET memory_limit = {sql_literal(memory)}")
    con.execute(f"SET temp_directory = {sql_literal(scratch)}")
    # the progress bar is for a terminal; in a step's captured output it is only noise
    con.execute("SET enable_progress_bar = false")
    if not keep_order:
        con.execute("SET preserve_insertion_order = false")


@contextlib.contextmanager
def budgeted_connection(
    memory: str, home: DxHome | None = None, *, keep_order: bool = True, prefix: str = "dx_duckdb_"
) -> Iterator["duckdb.DuckDBPyConnection"]:
    """A new in-memory connection under :func:`configure`'s budget (``memory``, or ``home``'s
    override), spilling to a private temporary folder, that sees ``home``'s warehouse (if
    given); closed, and the folder removed, on exit."""
    import duckdb

    with tempfile.TemporaryDirectory(prefix=prefix) as scratch:
        con = duckdb.connect()
        try:
            budget = home.memory_for(memory) if home is not None else memory
            configure(con, scratch, budget, keep_order=keep_order)
            if home is not None:
                attach_warehouse(con, home)
            yield con
        finally:
            con.close()
