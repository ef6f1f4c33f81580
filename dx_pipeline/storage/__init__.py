"""Storage: the DX_HOME layout, atomic writes and Hive-partitioned Parquet tables (on local disk
or, with ``DX_WAREHOUSE_URL``, in S3-compatible object storage)."""

from dx_pipeline.storage.atomic import (
    atomic_path,
    atomic_write_bytes,
    atomic_write_text,
)
from dx_pipeline.storage.duck import attach_warehouse, warehouse_duckdb
from dx_pipeline.storage.home import DxHome
from dx_pipeline.storage.parquet import (
    parquet_file,
    partition_files,
    read_arrow,
    read_partition,
    read_table,
    sql_literal,
    table_glob,
    write_partition,
)

__all__ = [
    "DxHome",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "attach_warehouse",
    "parquet_file",
    "partition_files",
    "read_arrow",
    "read_partition",
    "read_table",
    "sql_literal",
    "table_glob",
    "warehouse_duckdb",
    "write_partition",
]
