"""Storage: the DX_HOME layout, atomic writes and Hive-partitioned Parquet tables."""

from dx_pipeline.storage.atomic import atomic_write_bytes, atomic_write_text, atomic_path
from dx_pipeline.storage.home import DxHome
from dx_pipeline.storage.parquet import (
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
    "read_partition",
    "read_table",
    "sql_literal",
    "table_glob",
    "write_partition",
]
