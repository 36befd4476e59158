"""Reading processed and curated tables, and keeping a computed DataFrame for reuse."""

# ruff: noqa: N806 -- F, T and Window are the PySpark aliases (functions, types, Window)

from __future__ import annotations

from pathlib import Path
from typing import Any

from ecomlake.contract import (
    PARTITION_KEY,
)
from ecomlake.etl.engines import api, duckdb_connection, engine_of, is_sqlframe, spark_type
from ecomlake.etl.io.lake import LakeIO
from ecomlake.etl.io.raw_duckdb import _ident, _sql_str
from ecomlake.schemas import TableSchema, athena_to_duckdb

# --------------------------------------------------------------------------- processed / curated readers


def _empty_table_sql(schema: TableSchema) -> str:
    cols = [f"CAST(NULL AS {athena_to_duckdb(c.type)}) AS {_ident(c.name)}" for c in schema.columns]
    if schema.partition_key:
        cols.append(f"CAST(NULL AS VARCHAR) AS {_ident(schema.partition_key)}")
    return f"SELECT {', '.join(cols)} WHERE false"


def read_table(session: Any, lake: LakeIO, schema: TableSchema) -> Any:
    """Every partition of a processed or curated table (typed, ``date`` as text), or an empty frame."""
    uri = lake.table_uri(schema.name)
    names = [*schema.column_names, *([schema.partition_key] if schema.partition_key else [])]
    if is_sqlframe(session):
        conn = duckdb_connection(session)
        view = f"in_{schema.zone}_{schema.name}"
        pattern = f"{PARTITION_KEY}=*/*.parquet" if schema.partition_key else "*.parquet"
        has_files = Path(uri).is_dir() and any(Path(uri).glob(pattern))
        if has_files:
            cols = ", ".join(
                f"CAST({_ident(c.name)} AS {athena_to_duckdb(c.type)}) AS {_ident(c.name)}" for c in schema.columns
            )
            part = f", CAST({_ident(PARTITION_KEY)} AS VARCHAR) AS {PARTITION_KEY}" if schema.partition_key else ""
            source = (
                f"read_parquet({_sql_str(str(Path(uri) / pattern))}, hive_partitioning = "
                f"{'true' if schema.partition_key else 'false'}"
                + (", hive_types = {'date': VARCHAR}" if schema.partition_key else "")
                + ")"
            )
            conn.execute(f"CREATE OR REPLACE VIEW {_ident(view)} AS SELECT {cols}{part} FROM {source}")
        else:
            conn.execute(f"CREATE OR REPLACE VIEW {_ident(view)} AS {_empty_table_sql(schema)}")
        return session.table(view).select(*names)
    T = api(session).T
    fields = [T.StructField(c.name, spark_type(c.type, T), True) for c in schema.columns]
    if schema.partition_key:
        fields.append(T.StructField(schema.partition_key, T.StringType(), True))
    struct = T.StructType(fields)
    if not _spark_path_exists(session, uri):
        return session.createDataFrame([], struct)
    return session.read.schema(struct).option("basePath", uri).parquet(uri).select(*names)


def _hadoop_fs(spark: Any, uri: str) -> tuple[Any, Any]:
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(uri)
    return path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), path


def _spark_path_exists(spark: Any, uri: str) -> bool:
    fs, path = _hadoop_fs(spark, uri)
    return bool(fs.exists(path))


def _spark_delete(spark: Any, uri: str) -> None:
    fs, path = _hadoop_fs(spark, uri)
    if fs.exists(path):
        fs.delete(path, True)


# --------------------------------------------------------------------------- materialising


def duckdb_sql(df: Any) -> str:
    """The DuckDB SQL sqlframe would run for ``df`` (earlier statements, if any, are executed)."""
    session = df.session
    expressions = df._get_expressions(optimize=False)
    for expression in expressions[:-1]:
        session._execute(session._to_sql(expression))
    return session._to_sql(expressions[-1], pretty=False)


def materialize(df: Any, name: str) -> Any:
    """Compute ``df`` once and keep it, so counting and writing do not recompute it.

    DuckDB: a table in the session's database. Spark: a cached DataFrame.
    """
    if is_sqlframe(df):
        conn = duckdb_connection(df)
        conn.execute(f"CREATE OR REPLACE TABLE {_ident(name)} AS {duckdb_sql(df)}")
        return df.session.table(name)
    return df.cache()


def release(df: Any) -> None:
    """Free what :func:`materialize` kept."""
    if not is_sqlframe(df):
        df.unpersist()


def engine_name(df: Any) -> str:
    return engine_of(df)
