"""Raw reader on DuckDB (the local engine): the framer's Arrow batches, inserted as they come."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Sequence
from typing import Any

from ecomlake.contract import PARTITION_KEY, Dataset
from ecomlake.etl.engines import duckdb_connection
from ecomlake.etl.io.lake import LakeIO, RawFile
from ecomlake.etl.io.raw import ERROR, FILE, LINE, file_batches, raw_columns, record_rejections
from ecomlake.exceptions import FileRejectedError
from ecomlake.storage import LocalStorage

_counter = itertools.count()


def _unique(prefix: str) -> str:
    return f"{prefix}_{next(_counter)}_{uuid.uuid4().hex[:8]}"


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _raw_table_ddl(table: str, columns: Sequence[str]) -> str:
    cols = ", ".join(f"{_ident(c)} VARCHAR" for c in columns)
    return (
        f"CREATE OR REPLACE TABLE {_ident(table)} ({cols}, {ERROR} VARCHAR, {LINE} BIGINT, "
        f"{FILE} VARCHAR, {PARTITION_KEY} VARCHAR)"
    )


def read_raw_duckdb(session: Any, lake: LakeIO, dataset: Dataset, files: Sequence[RawFile]) -> Any:
    """Every accepted file, framed as the validator frames it, in one DuckDB table."""
    from ecomlake.ingest.validator import max_file_bytes

    if not lake.is_local:
        raise NotImplementedError("the DuckDB engine reads a local lake; use --engine spark for S3")
    conn = duckdb_connection(session)
    columns = raw_columns(dataset)
    table = f"raw_{dataset}"
    conn.execute(_raw_table_ddl(table, columns))
    storage = lake.storage
    assert isinstance(storage, LocalStorage)
    limit = max_file_bytes()
    rejected: list[tuple[RawFile, FileRejectedError]] = []
    view = _unique("batch")
    for file in files:
        try:
            with open(storage.path(file.key), "rb") as raw:
                for batch in file_batches(raw, file.key, file.date, dataset, limit):
                    conn.register(view, batch)
                    try:
                        conn.execute(f"INSERT INTO {_ident(table)} SELECT * FROM {_ident(view)}")
                    finally:
                        conn.unregister(view)
        except FileRejectedError as err:
            # Rows already inserted belong to a file that is now refused whole.
            conn.execute(f"DELETE FROM {_ident(table)} WHERE {FILE} = ?", [file.key])
            rejected.append((file, err))
    record_rejections(lake, rejected)
    return session.table(table)
