"""Reading processed and curated tables, and keeping a computed DataFrame for reuse."""

# ruff: noqa: N806 -- F, T and Window are the PySpark aliases (functions, types, Window)

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ecomlake import sqlcache
from ecomlake.contract import PARTITION_KEY, RUN_KEY, Dataset
from ecomlake.etl.engines import DuckDBTable, api, duckdb_connection, engine_of, is_sqlframe, spark_type
from ecomlake.etl.io.lake import LakeIO
from ecomlake.schemas import TableSchema, athena_to_duckdb
from ecomlake.snapshots import Snapshot, quarantine_unit, table_unit
from ecomlake.sqltext import ident, literal

# --------------------------------------------------------------------------- processed / curated readers

# Each read gets its own view name: a job may read one table twice with different dates.
_views = itertools.count()
# The Hive keys of a version folder, read as text (``date=2025-01-01/run=<run_id>``, or ``run=<run_id>``).
_HIVE_TEXT = f"{{{literal(PARTITION_KEY)}: VARCHAR, {literal(RUN_KEY)}: VARCHAR}}"
_HIVE_RUN_TEXT = f"{{{literal(RUN_KEY)}: VARCHAR}}"


def _empty_table_sql(schema: TableSchema) -> str:
    cols = [f"CAST(NULL AS {athena_to_duckdb(c.type)}) AS {ident(c.name)}" for c in schema.columns]
    if schema.partition_key:
        cols.append(f"CAST(NULL AS VARCHAR) AS {ident(schema.partition_key)}")
    return f"SELECT {', '.join(cols)} WHERE false"


def _read_columns(schema: TableSchema) -> list[str]:
    """The columns :func:`read_table` gives: the schema's, then the partition key if any."""
    return [*schema.column_names, *([schema.partition_key] if schema.partition_key else [])]


def empty_table(session: Any, schema: TableSchema, name: str) -> Any:
    """An empty frame shaped as :func:`read_table` reads ``schema``: the DuckDB view ``name``."""
    duckdb_connection(session).execute(f"CREATE OR REPLACE VIEW {ident(name)} AS {_empty_table_sql(schema)}")
    return DuckDBTable(session, name)  # the view's columns are _read_columns(schema), in order


def version_uris(
    lake: LakeIO, unit: str, view: Snapshot | None = None, dates: Iterable[str] | None = None
) -> list[str]:
    """The folders of the current versions of ``unit`` in ``view`` (default: the job's view), of ``dates`` if given."""
    snapshot = view if view is not None else lake.view()
    return [lake.uri(prefix).rstrip("/") for _day, prefix in snapshot.prefixes(unit, dates)]


def read_table(
    session: Any,
    lake: LakeIO,
    schema: TableSchema,
    *,
    view: Snapshot | None = None,
    dates: Iterable[str] | None = None,
    name: str | None = None,
) -> Any:
    """The current partitions of a processed or curated table (typed, ``date`` as text), or an empty frame.

    "Current" is what the job's view names (``LakeIO.view``): the published snapshot, plus
    the partitions this run has written so far. ``dates`` reads only those partitions (the
    others' files are never opened). On DuckDB the read is a view, ``name`` if given (a
    stable name lets a query over it be kept, see :func:`planned`), else a fresh one.
    """
    names = _read_columns(schema)
    folders = version_uris(lake, table_unit(schema.name), view, dates)
    if is_sqlframe(session):
        conn = duckdb_connection(session)
        name = name or f"in_{schema.zone}_{schema.name}_{next(_views)}"
        if not folders:
            return empty_table(session, schema, name)
        cols = ", ".join(
            f"CAST({ident(c.name)} AS {athena_to_duckdb(c.type)}) AS {ident(c.name)}" for c in schema.columns
        )
        part = f", CAST({ident(PARTITION_KEY)} AS VARCHAR) AS {PARTITION_KEY}" if schema.partition_key else ""
        globs = "[" + ", ".join(literal(str(Path(f) / "*.parquet")) for f in folders) + "]"
        types = _HIVE_TEXT if schema.partition_key else _HIVE_RUN_TEXT
        source = f"read_parquet({globs}, hive_partitioning = true, hive_types = {types})"
        conn.execute(f"CREATE OR REPLACE VIEW {ident(name)} AS SELECT {cols}{part} FROM {source}")
        return DuckDBTable(session, name)  # its columns are ``names``, in order
    T = api(session).T
    fields = [T.StructField(c.name, spark_type(c.type, T), True) for c in schema.columns]
    if schema.partition_key:
        fields.append(T.StructField(schema.partition_key, T.StringType(), True))
    fields.append(T.StructField(RUN_KEY, T.StringType(), True))
    struct = T.StructType(fields)
    if not folders:
        return session.createDataFrame([], struct).select(*names)
    base = lake.uri(table_unit(schema.name))
    return session.read.schema(struct).option("basePath", base).parquet(*folders).select(*names)


def _hadoop_fs(spark: Any, uri: str) -> tuple[Any, Any]:
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(uri)
    return path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), path


# --------------------------------------------------------------------------- materialising


def duckdb_statements(df: Any) -> list[str]:
    """The DuckDB statements sqlframe would run for ``df``, in order; the last is its query."""
    if type(df) is DuckDBTable:
        return [f"SELECT * FROM {ident(df.name)}"]
    return [df.session._to_sql(e, pretty=False) for e in df._get_expressions(optimize=False)]


def duckdb_sql(df: Any) -> str:
    """The DuckDB SQL sqlframe would run for ``df`` (earlier statements, if any, are executed)."""
    *earlier, query = duckdb_statements(df)
    conn = duckdb_connection(df)
    for statement in earlier:
        conn.execute(statement)
    return query


def materialize(df: Any, name: str) -> Any:
    """Compute ``df`` once and keep it, so counting and writing do not recompute it.

    DuckDB: a table in the session's database. Spark: a cached DataFrame.
    """
    if is_sqlframe(df):
        conn = duckdb_connection(df)
        conn.execute(f"CREATE OR REPLACE TABLE {ident(name)} AS {duckdb_sql(df)}")
        return DuckDBTable(df.session, name)
    return df.cache()


def dates_table(session: Any, dates: Iterable[str], name: str) -> Any:
    """A frame of one text column ``date``, one row per date (on DuckDB, the table ``name``)."""
    days = sorted(set(dates))
    if not is_sqlframe(session):
        T = api(session).T
        struct = T.StructType([T.StructField(PARTITION_KEY, T.StringType(), False)])
        return session.createDataFrame([(d,) for d in days], struct)
    conn = duckdb_connection(session)
    conn.execute(f"CREATE OR REPLACE TABLE {ident(name)} ({ident(PARTITION_KEY)} VARCHAR NOT NULL)")
    if days:
        conn.executemany(f"INSERT INTO {ident(name)} VALUES (?)", [(d,) for d in days])
    return DuckDBTable(session, name)


def planned(session: Any, name: str, key: tuple[str, ...], build: Callable[[], Any]) -> Any:
    """The frame ``build`` plans; on DuckDB, the view ``name`` over the SQL it renders to, kept under ``key``.

    Planning a DataFrame through sqlframe and rendering it costs more than running it at a
    daily volume (sqlglot copies the expression tree at each step), and a new process pays
    it again; the text is kept in the SQL cache (``ecomlake.sqlcache``) instead. So the
    text must depend on nothing but the code and ``key``: ``build`` may read only tables
    with stable names (:func:`read_table` ``name=``, :func:`dates_table`, :func:`materialize`),
    never embed a run's values -- a test renders the merge and looks for any date in it.
    """
    if not is_sqlframe(session):
        return build()

    *earlier, query = sqlcache.kept("planned", key, lambda: duckdb_statements(build()), list, _statements)
    conn = duckdb_connection(session)
    for statement in earlier:
        conn.execute(statement)
    conn.execute(f"CREATE OR REPLACE VIEW {ident(name)} AS {query}")
    return DuckDBTable(session, name)


def is_planned(key: tuple[str, ...]) -> bool:
    """Whether :func:`planned` finds the query kept under ``key`` (and so plans nothing)."""
    return sqlcache.holds("planned", key, _statements)


def _statements(data: Any) -> list[str]:
    if not isinstance(data, list) or not data or not all(isinstance(s, str) for s in data):
        raise ValueError("not a list of statements")
    return data


def release(df: Any) -> None:
    """Free what :func:`materialize` kept."""
    if not is_sqlframe(df):
        df.unpersist()


def engine_name(df: Any) -> str:
    return engine_of(df)


def read_quarantine(
    session: Any, lake: LakeIO, dataset: Dataset | str, *, dates: Iterable[str] | None = None
) -> Any | None:
    """The quarantined rows of ``dataset`` in the job's view (text columns as stored, plus ``date``).

    None when no partition of ``dates`` has quarantined rows.
    """
    folders = version_uris(lake, quarantine_unit(dataset), None, dates)
    if not folders:
        return None
    if is_sqlframe(session):
        conn = duckdb_connection(session)
        name = f"in_quarantine_{Dataset(dataset)}_{next(_views)}"
        globs = "[" + ", ".join(literal(str(Path(f) / "*.parquet")) for f in folders) + "]"
        conn.execute(
            f"CREATE OR REPLACE VIEW {ident(name)} AS SELECT * EXCLUDE ({ident(RUN_KEY)}) FROM read_parquet({globs}, "
            f"hive_partitioning = true, hive_types = {_HIVE_TEXT})"
        )
        return DuckDBTable(session, name)
    base = lake.uri(quarantine_unit(dataset))
    df = session.read.option("basePath", base).parquet(*folders)
    F = api(session).F
    return df.drop(RUN_KEY).withColumn(PARTITION_KEY, F.col(PARTITION_KEY).cast("string"))
