"""Raw reader on DuckDB (the local engine): the framer's records, found in SQL where that is provably the same.

Files whose framing is plain are framed by DuckDB itself (``framing_duckdb``: many files
in one statement, the framer's own functions for the few records that are not plain);
the rest go through the framer (``ecomlake.ingest.framing``) and its Arrow batches are
inserted as they come. Both give the same rows.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Sequence
from typing import Any

from ecomlake.contract import PARTITION_KEY, Dataset
from ecomlake.etl.cleaning import PLAIN_HINT
from ecomlake.etl.engines import DuckDBTable, duckdb_connection
from ecomlake.etl.io.lake import LakeIO, RawFile
from ecomlake.etl.io.raw import ERROR, FILE, LINE, RANK, SOURCE, file_batches, raw_columns, record_rejections
from ecomlake.exceptions import FileRejectedError
from ecomlake.sqltext import ident
from ecomlake.storage import LocalStorage

_counter = itertools.count()


def _unique(prefix: str) -> str:
    return f"{prefix}_{next(_counter)}_{uuid.uuid4().hex[:8]}"


def _raw_table_ddl(table: str, columns: Sequence[str]) -> str:
    cols = ", ".join(f"{ident(c)} VARCHAR" for c in columns)
    return (
        f"CREATE OR REPLACE TABLE {ident(table)} ({cols}, {ERROR} VARCHAR, {LINE} BIGINT, "
        f"{FILE} VARCHAR, {PARTITION_KEY} VARCHAR, {RANK} INTEGER)"
    )


def raw_view(dataset: Dataset) -> str:
    """The view of every record read (``read_raw_duckdb``), with ``raw.SOURCE`` beside the raw frame's columns."""
    return f"raw_{dataset}"


def records_at(dataset: Dataset) -> tuple[str, str]:
    """(view, table): the view holds the records of ``raw_view`` whose ``raw.SOURCE`` the table
    (column ``raw.SOURCE``, filled by the reader's caller) lists."""
    return f"raw_{dataset}_at", f"raw_{dataset}_wanted"


def release_read(session: Any, dataset: Dataset) -> None:
    """Drop what reading ``dataset`` kept in the session (its text): once nothing reads it again."""
    _drop_earlier_read(duckdb_connection(session), dataset)


def _drop_earlier_read(conn: Any, dataset: Dataset) -> None:
    """What an earlier read of ``dataset`` in this session kept (a job may read a dataset again)."""
    from ecomlake.etl.io.framing_duckdb import framer_prefix

    named = [raw_view(dataset), *records_at(dataset)]
    found = conn.execute(
        "SELECT table_name, table_type FROM information_schema.tables "
        "WHERE list_contains(?, table_name) OR table_name LIKE ?",
        [named, framer_prefix(dataset) + "%"],
    ).fetchall()
    for name, kind in found:
        conn.execute(f"DROP {'VIEW' if kind == 'VIEW' else 'TABLE'} IF EXISTS {ident(name)}")


def read_raw_duckdb(
    session: Any, lake: LakeIO, dataset: Dataset, files: Sequence[RawFile], *, sql_framing: bool = True
) -> Any:
    """Every accepted file, framed as the validator frames it, in one DuckDB view (``raw_view``).

    Each record also has its place (``raw.SOURCE``), by which ``records_at`` finds it again, and its
    file's rank among ``files`` in key order (``raw.RANK``).
    ``sql_framing=False`` sends every file through the framer (the tests compare the two).
    """
    from ecomlake.etl.io.framing_duckdb import SqlFile, SqlFramer, eligible
    from ecomlake.ingest.validator import max_file_bytes
    from ecomlake.schemas import RAW_SCHEMAS

    if not lake.is_local:
        raise NotImplementedError("the DuckDB engine reads a local lake; use --engine spark for S3")
    conn = duckdb_connection(session)
    columns = raw_columns(dataset)
    table = raw_view(dataset)
    at_view, wanted = records_at(dataset)
    framed_table = f"{table}_framed"
    _drop_earlier_read(conn, dataset)
    conn.execute(f"CREATE TABLE {ident(wanted)} ({SOURCE} BIGINT)")
    conn.execute(_raw_table_ddl(framed_table, columns))
    storage = lake.storage
    assert isinstance(storage, LocalStorage)
    limit = max_file_bytes()
    rejected: list[tuple[RawFile, FileRejectedError]] = []
    framed = list(files)
    ranks = {key: rank for rank, key in enumerate(sorted({f.key for f in files}))}
    union = union_at = ""
    if sql_framing:
        framer = SqlFramer(conn, dataset)
        raw_format = RAW_SCHEMAS[dataset].format
        plain = [
            SqlFile(str(storage.path(f.key)), f.key, f.date, ranks[f.key])
            for f in files
            if storage.path(f.key).is_file() and eligible(f.name, storage.path(f.key).stat().st_size, raw_format, limit)
        ]
        chosen = {p.key for p in plain}
        left = {p.key for p in framer.add(plain)}
        framed = [f for f in files if f.key not in chosen or f.key in left]
        names = ", ".join(ident(c) for c in (*columns, ERROR, LINE, FILE, PARTITION_KEY, PLAIN_HINT, SOURCE, RANK))
        union = f" UNION ALL SELECT {names} FROM {ident(framer.view)}"
        union_at = f" UNION ALL SELECT {names} FROM {ident(framer.rows_at(wanted))}"
    view = _unique("batch")
    for file in framed:
        try:
            with open(storage.path(file.key), "rb") as raw:
                for batch in file_batches(raw, file.key, file.date, dataset, limit):
                    conn.register(view, batch)
                    try:
                        conn.execute(
                            f"INSERT INTO {ident(framed_table)} SELECT *, {ranks[file.key]} FROM {ident(view)}"
                        )
                    finally:
                        conn.unregister(view)
        except FileRejectedError as err:
            # Rows already inserted belong to a file that is now refused whole.
            conn.execute(f"DELETE FROM {ident(framed_table)} WHERE {FILE} = ?", [file.key])
            rejected.append((file, err))
    # The framer's rows carry no plain verdict (``cleaning.PLAIN_HINT``): the classification makes it.
    # Their place is their row in the framed table (negative: apart from the SQL framer's places).
    place = "-1 - rowid"
    framer_rows = (
        f"SELECT * EXCLUDE ({RANK}), NULL::BOOLEAN AS {ident(PLAIN_HINT)}, {place} AS {SOURCE}, {RANK} "
        f"FROM {ident(framed_table)}"
    )
    conn.execute(f"CREATE OR REPLACE VIEW {ident(table)} AS {framer_rows}{union}")
    conn.execute(
        f"CREATE OR REPLACE VIEW {ident(at_view)} AS {framer_rows} "
        f"WHERE {place} IN (SELECT {SOURCE} FROM {ident(wanted)}){union_at}"
    )
    record_rejections(lake, rejected)
    return DuckDBTable(session, table)
