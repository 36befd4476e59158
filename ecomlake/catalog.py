"""The local catalog: one DuckDB view per catalog table over the published snapshot's Parquet files.

In AWS the Glue Data Catalog maps each table partition to its S3 location. Locally the
same role is played by DuckDB views, so the SQL in ``sql/`` reads the same unqualified
table names in both places. A view reads exactly the versions one snapshot names
(``ecomlake.snapshots``: the published one unless told otherwise), so every view of a
connection shows the same publication, never a run in progress:

- a partitioned table reads the current version folder of each date,
  ``<lake>/<zone>/<table>/date=D/run=R/*.parquet``, with Hive partitioning, the ``date``
  column typed DATE (a filter on it prunes whole files, as partition projection does in Athena);
- an unpartitioned table (the dimensions) reads its current ``<zone>/<table>/run=R/*.parquet``;
- a table with no published version yet is an empty view with the schema's column types,
  so a query over a young lake returns no rows instead of failing.

Every view selects exactly the columns of ``ecomlake.schemas`` (cast to their declared
types, partition column last, as Athena lists it), so a file with a drifted schema fails
here with a clear message rather than somewhere inside a query.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from ecomlake.contract import RUN_KEY, Table, table_zone
from ecomlake.exceptions import EcomlakeError
from ecomlake.schemas import TableSchema, athena_to_duckdb, table_schema
from ecomlake.snapshots import Snapshot, load_published, table_unit
from ecomlake.storage import LocalStorage


class CatalogError(EcomlakeError):
    """A table's files cannot be read as its schema says."""


@dataclass(frozen=True)
class DataFile:
    """One Parquet file of a table, with its partition date (None when unpartitioned)."""

    table: str
    path: Path
    date: str | None
    bytes: int


def table_dir(lake: Path, table: Table | str) -> Path:
    """Directory holding a table's files: ``<lake>/<zone>/<table>``."""
    return Path(lake) / table_zone(table) / Table(table)


def published(lake: Path) -> Snapshot:
    """The snapshot readers of the local lake see now."""
    return load_published(LocalStorage(Path(lake)))


def version_dirs(lake: Path, table: Table | str, snapshot: Snapshot | None = None) -> list[tuple[str | None, Path]]:
    """(date, folder) of every current version of ``table`` in ``snapshot`` (default: the published one)."""
    view = snapshot if snapshot is not None else published(lake)
    return [(day, Path(lake) / prefix) for day, prefix in view.prefixes(table_unit(table))]


def table_files(lake: Path, table: Table | str, snapshot: Snapshot | None = None) -> list[DataFile]:
    """Every Parquet file the table's view reads, in path order."""
    schema = table_schema(table)
    files: list[DataFile] = []
    for day, folder in version_dirs(lake, table, snapshot):
        if folder.is_dir():
            files.extend(DataFile(str(schema.name), f, day, f.stat().st_size) for f in sorted(folder.glob("*.parquet")))
    return files


def partition_files(
    lake: Path, table: Table | str, start: str | None, end: str | None, snapshot: Snapshot | None = None
) -> list[DataFile]:
    """Files of the partitions whose date lies in [start, end] (all files when unpartitioned).

    This is the set a query with ``"date" between start and end`` reads -- what partition
    pruning leaves for Athena to scan. A missing bound (None) selects nothing, matching SQL
    where ``date between null and ...`` is never true.
    """
    files = table_files(lake, table, snapshot)
    if not table_schema(table).partition_key:
        return files
    if start is None or end is None:
        return []
    return [f for f in files if f.date is not None and start <= f.date <= end]


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _columns_sql(schema: TableSchema, *, empty: bool) -> list[str]:
    cols = []
    for column in schema.columns:
        source = "null" if empty else _quote_ident(column.name)
        cols.append(f"cast({source} as {athena_to_duckdb(column.type)}) as {_quote_ident(column.name)}")
    if schema.partition_key:
        key = _quote_ident(schema.partition_key)
        cols.append(f"cast(null as DATE) as {key}" if empty else key)
    return cols


def view_sql(lake: Path, table: Table | str, snapshot: Snapshot | None = None) -> str:
    """DuckDB ``create view`` statement for one catalog table, over ``snapshot``'s versions."""
    schema = table_schema(table)
    name = _quote_ident(str(schema.name))
    folders = [folder for _day, folder in version_dirs(lake, table, snapshot)]
    if not folders:
        cols = ",\n    ".join(_columns_sql(schema, empty=True))
        return f"create or replace view {name} as\nselect\n    {cols}\nwhere false"
    globs = "[" + ", ".join(_quote_literal(str(folder / "*.parquet")) for folder in folders) + "]"
    if schema.partition_key:
        # Declaring the partition type keeps `date` a DATE whatever the folder names look
        # like, and lets a filter on it prune files before any is opened.
        types = f"{{{_quote_literal(schema.partition_key)}: 'DATE', {_quote_literal(RUN_KEY)}: 'VARCHAR'}}"
    else:
        types = f"{{{_quote_literal(RUN_KEY)}: 'VARCHAR'}}"
    source = f"read_parquet({globs}, hive_partitioning = true, hive_types = {types})"
    cols = ",\n    ".join(_columns_sql(schema, empty=False))
    return f"create or replace view {name} as\nselect\n    {cols}\nfrom {source}"


def register_views(
    con: duckdb.DuckDBPyConnection,
    lake: Path,
    tables: Iterable[Table | str] | None = None,
    snapshot: Snapshot | None = None,
) -> None:
    """(Re)create the views of ``tables`` (default: every catalog table) on a connection, over one snapshot."""
    view = snapshot if snapshot is not None else published(lake)
    for table in tables if tables is not None else tuple(Table):
        statement = view_sql(lake, table, view)
        try:
            con.execute(statement)
        except duckdb.Error as err:
            where = table_dir(lake, table)
            first = str(err).strip().splitlines()[0]
            raise CatalogError(f"table {Table(table)} at {where} does not match its schema: {first}") from None


def connect(
    lake: Path, *, tables: Iterable[Table | str] | None = None, snapshot: Snapshot | None = None
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with one view per catalog table over ``lake``'s published snapshot.

    Every view reads the same snapshot (``snapshot``, default the published one), so a query
    joining tables never mixes two publications. A later publication needs a new connection.
    """
    con = duckdb.connect(database=":memory:")
    register_views(con, Path(lake), tables, snapshot)
    return con
