"""Reading raw files and writing partitioned Parquet, once per engine.

Everything engine-specific about I/O lives in this package, so transforms never touch a path:

* ``lake``        -- :class:`LakeIO` (where a run reads and writes) and :func:`raw_files`;
* ``raw``         -- :func:`read_raw`: the accepted raw files of a dataset as one DataFrame of
                     text columns plus ``_error``, ``_line``, ``_file`` and ``date``;
* ``raw_duckdb``, ``raw_spark`` -- each engine's raw readers;
* ``tables``      -- :func:`read_table` (processed and curated tables), :func:`materialize`,
                     :func:`planned` (a DuckDB query kept between runs), :func:`dates_table`;
* ``writer``      -- :func:`write_partitioned`, :func:`write_quarantine` and :func:`write_counted`.
"""

from ecomlake.etl.io.lake import LakeIO, RawFile, RunScope, raw_file_name, raw_files
from ecomlake.etl.io.raw import ERROR, FILE, LINE, read_raw
from ecomlake.etl.io.tables import (
    dates_table,
    duckdb_sql,
    empty_table,
    engine_name,
    is_planned,
    materialize,
    planned,
    read_quarantine,
    read_table,
    release,
)
from ecomlake.etl.io.writer import partition_dir, write_counted, write_partitioned, write_quarantine, write_unit

__all__ = [
    "ERROR",
    "FILE",
    "LINE",
    "LakeIO",
    "RawFile",
    "RunScope",
    "dates_table",
    "duckdb_sql",
    "empty_table",
    "engine_name",
    "is_planned",
    "materialize",
    "partition_dir",
    "planned",
    "raw_file_name",
    "raw_files",
    "read_quarantine",
    "read_raw",
    "read_table",
    "release",
    "write_counted",
    "write_partitioned",
    "write_quarantine",
    "write_unit",
]
