"""In-memory DuckDB databases kept between the jobs of one process.

A job on DuckDB works in an in-memory database of its own. Closing that database after
every job costs more than the connection: DuckDB hands the job's memory back to the system
as it closes (tens of milliseconds after a million-row job), and the next job takes it from
the system again, one page fault per 4 KiB it touches. A local run is several jobs in one
process, one after the other, so a finished job's database is emptied instead -- every
table and view in it dropped -- and lent to the next job, which gets a connection and a
sqlframe session of its own to it: an empty catalog, and memory already mapped.

A database is lent to one job at a time (a job started beside it gets another), and one
that cannot be emptied is closed, not kept. Settings stay with a database: the jobs set none
but the memory cap and spill folder, which are set again when the environment changes them.
:func:`job_session` is the one way in.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final

from ecomlake.sqltext import ident

if TYPE_CHECKING:
    import duckdb

# Databases kept idle: one is enough for jobs that run one after another.
MAX_IDLE: Final = 1

_lock = threading.Lock()
# A connection holding each idle database open, with the memory settings it has.
_idle: list[tuple[duckdb.DuckDBPyConnection, tuple[str, str]]] = []


@contextmanager
def job_session() -> Iterator[Any]:
    """A sqlframe session over a connection of its own to an empty in-memory database, for one job."""
    holder, settings, session = _lend()
    try:
        yield session
    finally:
        _give_back(holder, settings, reusable=_release(session))


def idle_count() -> int:
    """How many emptied databases wait for a job."""
    with _lock:
        return len(_idle)


def _lend() -> tuple[duckdb.DuckDBPyConnection, tuple[str, str], Any]:
    import duckdb

    from ecomlake.etl.engines import bound_memory, duckdb_session, memory_settings

    wanted = memory_settings()
    with _lock:
        holder, settings = _idle.pop() if _idle else (None, wanted)
    if holder is not None:
        try:
            # Set only when the environment changed them: a new memory cap makes DuckDB hand the
            # memory it keeps back to the system, which is what keeping the database spares.
            if settings != wanted:
                bound_memory(holder, wanted)
            return holder, wanted, duckdb_session(holder.cursor())
        except duckdb.Error:
            holder.close()  # something of the last job's is left: start afresh
    holder = duckdb.connect()
    bound_memory(holder, wanted)
    return holder, wanted, duckdb_session(holder.cursor())


def _release(session: Any) -> bool:
    """Close the job's connections; whether its database may be lent again.

    sqlframe registers a Python function (SOUNDEX) on a connection of its own when a session
    starts; such a function outlives its connection in the database's catalog, so it is
    removed by the connection that made it, or the next session could not start there.
    """
    import duckdb

    udf = getattr(session, "_udf_conn", None)
    removed = udf is None
    if udf is not None:
        try:
            udf.remove_function("SOUNDEX")  # before its connection closes (a cursor of the job's)
            removed = True
        except duckdb.Error:
            pass
        udf.close()
    session._conn.close()  # its temporary tables and registered Arrow data go with it
    return removed


def _give_back(holder: duckdb.DuckDBPyConnection, settings: tuple[str, str], *, reusable: bool) -> None:
    """Keep the database for the next job if it could be released and emptied and none is kept yet; else close it."""
    import duckdb

    if reusable:
        try:
            _empty(holder)
        except duckdb.Error:
            reusable = False
    if reusable:
        with _lock:
            if len(_idle) < MAX_IDLE:
                _idle.append((holder, settings))
                return
    holder.close()


def _empty(holder: duckdb.DuckDBPyConnection) -> None:
    """Drop every view, then every table, a job left in the database (its temporary ones went with its connection)."""
    found = holder.execute(
        "SELECT schema_name, view_name, 'VIEW' FROM duckdb_views() WHERE NOT internal AND NOT temporary "
        "UNION ALL SELECT schema_name, table_name, 'TABLE' FROM duckdb_tables() WHERE NOT internal AND NOT temporary "
        "ORDER BY 3 DESC"
    ).fetchall()
    for schema, name, kind in found:
        holder.execute(f"DROP {kind} IF EXISTS {ident(schema)}.{ident(name)} CASCADE")
