"""Hive-partitioned Parquet tables: ``warehouse/<table>/quarter=YYYY-Qn/data.parquet``.

One file per partition, replaced atomically, so a backfill of a quarter deletes nothing else
and a crash mid-write leaves the previous file in place. The ``quarter`` column lives in the
folder name (Hive style), not inside the file, so DuckDB, pandas, Spark and Power BI all see
it once. Tables with a contract in :mod:`dx_pipeline.reference.schemas` are cast to it on write.

The warehouse may be a local folder (``Path``) or object storage (``UPath``, see
:mod:`dx_pipeline.storage.home`); the functions here take either. Reads of an object-storage
file go through pyarrow with the path's fsspec file system (:func:`arrow_location`); DuckDB
sees the bucket through :func:`dx_pipeline.storage.duck.warehouse_duckdb`.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from dx_pipeline.reference import schemas
from dx_pipeline.reference.quarters import Quarter
from dx_pipeline.storage.atomic import atomic_path
from dx_pipeline.storage.home import DxHome, WarehousePath, is_remote

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

PARTITION_FILE = "data.parquet"
WRITE_OPTIONS: dict[str, Any] = dict(compression="zstd", compression_level=3, row_group_size=1_000_000)
"""Keyword arguments of ``pq.write_table`` for every warehouse and published file."""


def to_arrow(data: "pa.Table | pd.DataFrame", table: str | None = None) -> pa.Table:
    """Convert to Arrow, cast to the table's contract if it has one, and drop ``quarter``."""

    arrow: pa.Table = (
        data if isinstance(data, pa.Table) else pa.Table.from_pandas(data, preserve_index=False)
    )
    if "quarter" in arrow.column_names:
        arrow = arrow.drop_columns(["quarter"])
    if table is not None and table in schemas.CONTRACTS:
        arrow = schemas.conform(table, arrow)
    return arrow.replace_schema_metadata(None)


def write_partition(
    home: DxHome, table: str, quarter: Quarter | str, data: "pa.Table | pd.DataFrame"
) -> WarehousePath:
    """Write one quarter of a table atomically and return the file's path."""
    arrow = to_arrow(data, table)
    target = home.partition_dir(table, quarter) / PARTITION_FILE
    with atomic_path(target) as tmp:
        pq.write_table(arrow, tmp, **WRITE_OPTIONS)
    return target


QUERY_COPY_OPTIONS = "FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 1000000"
"""How a DuckDB query is written to a partition file (every writer of a query uses these)."""


def write_partition_from_query(
    con: "duckdb.DuckDBPyConnection", sql: str, home: DxHome, table: str, quarter: Quarter | str
) -> WarehousePath:
    """Stream a DuckDB query straight into a partition file (no pandas in between)."""
    target = home.partition_dir(table, quarter) / PARTITION_FILE
    with atomic_path(target) as tmp:
        con.execute(
            f"COPY ({sql}) TO {sql_literal(tmp)} ({QUERY_COPY_OPTIONS})"
        )
    return target


def sql_literal(text: str | os.PathLike[str] | WarehousePath) -> str:
    """A path or text as a DuckDB string literal. Paths come from DX_HOME, which may contain a
    quote (``/data/tinh's home``); splicing them raw into SQL breaks or injects."""
    return "'" + str(text).replace("'", "''") + "'"


def partition_path(home: DxHome, table: str, quarter: Quarter | str) -> WarehousePath:
    """The Parquet file of one quarter's partition of ``table``."""
    return home.partition_dir(table, quarter) / PARTITION_FILE


def partition_files(home: DxHome, table: str) -> list[WarehousePath]:
    """The table's partition files (``quarter=*/data.parquet``), in quarter order."""
    return sorted(home.table_dir(table).glob(f"quarter=*/{PARTITION_FILE}"), key=str)


def arrow_location(path: WarehousePath) -> tuple[Any, Any]:
    """``(path, filesystem)`` for pyarrow and pandas readers (``filesystem=``): a local path
    with ``None`` (pyarrow's own local reader, exactly as before), an object-storage path as
    its key with its fsspec file system."""
    if is_remote(path):
        return path.path, path.fs
    return path, None


def parquet_file(path: WarehousePath) -> pq.ParquetFile:
    """``pq.ParquetFile`` of a warehouse file, local or in object storage (metadata, row groups)."""
    source, filesystem = arrow_location(path)
    return pq.ParquetFile(source, filesystem=filesystem)


def read_arrow(path: WarehousePath, columns: list[str] | None = None) -> pa.Table:
    """One Parquet file of the warehouse, local or in object storage, as an Arrow table."""
    source, filesystem = arrow_location(path)
    return pq.read_table(source, columns=columns, filesystem=filesystem)


def read_partition(home: DxHome, table: str, quarter: Quarter | str) -> "pd.DataFrame":
    """One quarter of a table as a DataFrame, with its ``quarter`` column restored."""
    q = quarter if isinstance(quarter, Quarter) else Quarter.parse(quarter)
    path = partition_path(home, table, q)
    if not path.exists():
        raise FileNotFoundError(f"{table} has no partition for {q.label} (looked for {path})")
    df = read_arrow(path).to_pandas()
    df.insert(0, "quarter", q.label)
    return df


def read_table(home: DxHome, table: str) -> "pd.DataFrame":
    """Every quarter of a table, as a DataFrame with a string ``quarter`` column."""
    folder = home.table_dir(table)
    files = partition_files(home, table)
    if not files:
        raise FileNotFoundError(f"table {table} has no partitions under {folder}")
    base, filesystem = arrow_location(folder)
    dataset = ds.dataset(
        [str(arrow_location(f)[0]) for f in files],
        format="parquet",
        partitioning=ds.partitioning(pa.schema([("quarter", pa.string())]), flavor="hive"),
        partition_base_dir=str(base),
        filesystem=filesystem,
    )
    df = dataset.to_table().to_pandas()
    cols = ["quarter"] + [c for c in df.columns if c != "quarter"]
    return df[cols].sort_values("quarter", kind="stable").reset_index(drop=True)


def table_glob(home: DxHome, table: str) -> str:
    """The glob DuckDB reads a whole table with: ``read_parquet(glob, hive_partitioning=1)``."""
    return str(home.table_dir(table) / "quarter=*" / PARTITION_FILE)
