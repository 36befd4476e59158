"""The DuckDB engine: the rules over a local lake, through the local catalog's views.

Views come from ``ecomlake.catalog`` (one per table over exactly the versions of one
snapshot), so ``ecomlake dq``, ``ecomlake run``'s audit and ``ecomlake query`` read the lake
the same way. One in-memory connection serves every date of an audit.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb

from ecomlake.contract import QUARANTINE_REASON_COLUMN, Table
from ecomlake.dq.engine import QueryError, first_line, reasons_by_day, run_files, schema_mismatch
from ecomlake.snapshots import Snapshot, load_published, table_unit
from ecomlake.sqltext import ident
from ecomlake.storage import LocalStorage


def open_catalog(lake: Path, snapshot: Snapshot | None = None) -> tuple[duckdb.DuckDBPyConnection, dict[str, str]]:
    """The local catalog over ``lake`` (``snapshot``, default the published one), one view at a time.

    A table whose files do not match its schema must fail its own checks, not stop the
    whole report, so its error is returned (table -> message) instead of raised.
    """
    from ecomlake.catalog import CatalogError, connect, register_views

    view = snapshot if snapshot is not None else load_published(LocalStorage(lake))
    con = connect(lake, tables=(), snapshot=view)
    unavailable: dict[str, str] = {}
    for table in Table:
        try:
            register_views(con, lake, [table], view)
        except CatalogError as err:
            unavailable[str(table)] = str(err)
    return con, unavailable


def count_reasons_local(lake: Path, prefixes: Mapping[str, str]) -> dict[str, dict[str, int]]:
    """Quarantined rows per date and reason in the local version folders ``prefixes`` (date -> key prefix)."""
    files = sorted(str(p) for prefix in prefixes.values() for p in (Path(lake) / prefix).glob("*.parquet"))
    if not files:
        return {}
    reason = ident(QUARANTINE_REASON_COLUMN)
    with duckdb.connect() as con:
        rows = con.execute(
            f"SELECT filename, coalesce(CAST({reason} AS VARCHAR), 'unknown'), count(*) "
            "FROM read_parquet(?, filename = true, hive_partitioning = false) GROUP BY 1, 2",
            [files],
        ).fetchall()
    return reasons_by_day((str(path), str(why), int(n)) for path, why, n in rows)


def parquet_columns(lake: Path, keys: list[str]) -> dict[str, set[str]]:
    """Top-level column names of Parquet files (keys under ``lake``), from their footers, in one query."""
    paths = {str(Path(lake) / key): key for key in keys}
    with duckdb.connect() as con:
        rows = con.execute("SELECT file_name, name FROM parquet_schema(?)", [list(paths)]).fetchall()
    found: dict[str, set[str]] = {key: set() for key in keys}
    for path, name in rows:
        found[paths[str(path)]].add(str(name))
    return found


class DuckDBEngine:
    """The rules' engine on a local lake (see the module docstring).

    ``verify_run`` names the run whose files are checked against the schema from their
    footers (the run being audited), as the Spark engine does.
    """

    name = "duckdb"
    concurrency = 1  # one connection; DuckDB parallelises each query itself

    def __init__(self, lake: Path | str, snapshot: Snapshot | None = None, *, verify_run: str | None = None) -> None:
        self.lake = Path(lake)
        view = snapshot if snapshot is not None else load_published(LocalStorage(self.lake))
        self.con, self.unavailable = open_catalog(self.lake, view)
        if verify_run is not None:
            self.unavailable.update(self._verify(view, verify_run))

    def _columns(self, keys: list[str]) -> dict[str, set[str]]:
        return parquet_columns(self.lake, keys)

    def _verify(self, view: Snapshot, run_id: str) -> dict[str, str]:
        storage = LocalStorage(self.lake)
        found: dict[str, str] = {}
        for table in Table:
            unit = table_unit(table)
            files = run_files(storage, view.prefixes(unit), run_id)
            try:
                mismatch = schema_mismatch(str(table), storage.uri(unit), files, self._columns)
            except duckdb.Error as err:
                mismatch = f"table {table} at {storage.uri(unit)} does not match its schema: {first_line(err)}"
            if mismatch is not None:
                found[str(table)] = mismatch
        return found

    def fetch(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        try:
            cursor = self.con.execute(sql)
            rows = cursor.fetchall()
        except duckdb.Error as err:
            raise QueryError(first_line(err)) from None
        return [d[0] for d in cursor.description or []], rows

    def count_reasons(self, unit: str, prefixes: Mapping[str, str]) -> dict[str, dict[str, int]]:
        try:
            return count_reasons_local(self.lake, prefixes)
        except duckdb.Error as err:
            raise QueryError(first_line(err)) from None

    def close(self) -> None:
        self.con.close()
