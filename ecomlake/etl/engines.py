"""The two engines the ETL runs on, and the one place that tells them apart.

Transforms are written once against the PySpark DataFrame API. On AWS Glue and with
``--engine spark`` they run on real Spark; locally by default they run on DuckDB through
sqlframe, which translates the same DataFrame calls to SQL. A transform never imports
``pyspark.sql.functions`` itself: it asks :func:`api` for the functions, types and window
modules that belong to the DataFrame it was given, so the code is identical on both.

Both engines are configured to agree on what would otherwise differ silently:
timestamps are zone-less (Spark ``TIMESTAMP_NTZ`` = DuckDB ``TIMESTAMP``) and the
session time zone is UTC; Parquet timestamps are written as INT64 microseconds.
"""

# ruff: noqa: N803 -- F, T and Window are the PySpark aliases (functions, types, Window)

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from types import ModuleType
from typing import TYPE_CHECKING, Any, Final

from ecomlake import schemas

if TYPE_CHECKING:
    import duckdb

ENGINES: Final = ("duckdb", "spark")
DEFAULT_ENGINE: Final = "duckdb"

# Runtime settings that must hold on every Spark session the ETL uses, the Glue one
# included (Glue builds its own session, so these are applied after the fact too).
SPARK_RUNTIME_CONF: Final[dict[str, str]] = {
    "spark.sql.session.timeZone": "UTC",
    # to_timestamp / cast(... as timestamp) yield zone-less values, like DuckDB's TIMESTAMP.
    "spark.sql.timestampType": "TIMESTAMP_NTZ",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.parquet.compression.codec": "snappy",
    # Re-running a date replaces that date's partitions and nothing else.
    "spark.sql.sources.partitionOverwriteMode": "dynamic",
    # Non-ANSI: a failed cast is null, which the cleaning rules rely on never happening
    # anyway (every cast is guarded), but a stray overflow must not kill a backfill.
    "spark.sql.ansi.enabled": "false",
}

# Settings that only make sense when this process starts the JVM (local runs, tests).
SPARK_LOCAL_CONF: Final[dict[str, str]] = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "4",
    "spark.driver.memory": "2g",
    "spark.sql.adaptive.enabled": "true",
    # No _SUCCESS marker files in the lake's table folders.
    "spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs": "false",
}


def check_engine(engine: str) -> str:
    """The engine name, or a clear error naming the known ones."""
    from ecomlake.exceptions import InvalidArgumentError

    name = str(engine).strip().lower()
    if name not in ENGINES:
        raise InvalidArgumentError(f"unknown engine {engine!r}; expected one of: {', '.join(ENGINES)}")
    return name


# --------------------------------------------------------------------------- sessions


def configure_spark(spark: Any) -> Any:
    """Apply the runtime settings both engines agree on to an existing Spark session."""
    for key, value in SPARK_RUNTIME_CONF.items():
        spark.conf.set(key, value)
    return spark


# The JVM's own logging when this process starts it: errors only, on stderr. Spark's default
# profile logs WARN lines at start-up (loopback hostname, no native Hadoop library) and a
# "Setting default log level" banner into the CLI's output; setLogLevel comes too late for those.
SPARK_LOG4J2_PROPERTIES: Final = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex
# PySpark starts its JVM as an interactive shell: a level set for the gateway class spares the
# "Setting default log level" banner Spark prints for shells.
logger.repl.name = org.apache.spark.api.python.PythonGatewayServer
logger.repl.level = error
"""


def spark_log_config() -> str:
    """Path of a log4j2 properties file holding ``SPARK_LOG4J2_PROPERTIES`` (written once per content)."""
    import hashlib
    import os
    import tempfile

    digest = hashlib.sha256(SPARK_LOG4J2_PROPERTIES.encode()).hexdigest()[:12]
    path = os.path.join(tempfile.gettempdir(), f"ecomlake-spark-log4j2-{digest}.properties")
    if not os.path.isfile(path):
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(SPARK_LOG4J2_PROPERTIES)
        os.replace(tmp, path)
    return path


def spark_session(app_name: str = "ecomlake", master: str = "local[*]") -> Any:
    """A local Spark session configured like the Glue jobs' (see ``SPARK_RUNTIME_CONF``), logging errors only."""
    import os
    import sys

    from pyspark.sql import SparkSession

    # The raw reader runs Python in the tasks (mapInArrow): they need this interpreter's
    # packages. PySpark picks the workers' interpreter from this variable when it starts.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(app_name).master(master)
    log_option = f"-Dlog4j2.configurationFile=file:{spark_log_config()}"
    for key, value in {
        **SPARK_LOCAL_CONF,
        "spark.driver.extraJavaOptions": log_option,
        **SPARK_RUNTIME_CONF,
    }.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return configure_spark(spark)


def duckdb_session(conn: duckdb.DuckDBPyConnection | None = None) -> Any:
    """A sqlframe session over an in-memory DuckDB database (or the connection given)."""
    import duckdb
    from sqlframe.base.session import _BaseSession
    from sqlframe.duckdb import DuckDBSession

    _remember_dialect_names()
    connection = conn if conn is not None else duckdb.connect()
    # Zone-less timestamps everywhere; UTC only matters for functions that consult it.
    connection.execute("SET TimeZone = 'UTC'")
    if conn is None:
        bound_memory(connection)
    # sqlframe sessions are process-wide singletons: DuckDBSession(conn=...) would hand back
    # an earlier session still bound to its old connection. Build a fresh one instead, and
    # make it the active session, which sqlframe's functions consult for the SQL dialect.
    session = object.__new__(DuckDBSession)
    session.__init__(conn=connection)
    _BaseSession._instance = session
    return session


# DuckDB's default cap is 80% of RAM, which a 30-day backfill of 10M rows nearly reaches.
# A fixed cap makes it spill to disk instead, so a laptop stays usable during a big run.
DEFAULT_DUCKDB_MEMORY_LIMIT = "4GB"


def memory_settings() -> tuple[str, str]:
    """(memory cap, spill folder) of a DuckDB database: ``EnvVar.DUCKDB_MEMORY_LIMIT`` or the default, and a
    folder of this process's under the system's temporary one."""
    import os
    import tempfile

    from ecomlake.contract import EnvVar

    limit = os.environ.get(EnvVar.DUCKDB_MEMORY_LIMIT) or DEFAULT_DUCKDB_MEMORY_LIMIT
    # In-memory databases spill to ./.tmp by default; keep spill files out of the caller's cwd.
    return limit, os.path.join(tempfile.gettempdir(), f"ecomlake-duckdb-{os.getpid()}")


def bound_memory(connection: Any, settings: tuple[str, str] | None = None) -> None:
    """Apply :func:`memory_settings` (or ``settings``) to a database."""
    limit, spill = settings or memory_settings()
    connection.execute("SET memory_limit = ?", [limit])
    connection.execute("SET temp_directory = ?", [spill])


def new_session(engine: str, app_name: str = "ecomlake") -> Any:
    """A fresh session for ``engine`` ("duckdb" or "spark")."""
    if check_engine(engine) == "spark":
        return spark_session(app_name=app_name)
    return duckdb_session()


class DuckDBTable:
    """A table or view of a DuckDB session, standing for the sqlframe DataFrame over it, built only if used.

    ``session.table(name)`` describes the relation and parses every column's type (15-20 ms),
    and writing that DataFrame renders it back to SQL (as much again). The DuckDB jobs mostly
    write a view they created, or hand it by name to a kept query (``io.planned``), which needs
    neither: about a fifth of a one-date job went to it. Anything else -- a DataFrame method,
    an ``isinstance`` check by sqlframe -- builds the DataFrame once and goes to it.
    """

    __slots__ = ("_frame", "name", "session")

    def __init__(self, session: Any, name: str) -> None:
        self.session, self.name, self._frame = session, name, None

    @property
    def frame(self) -> Any:
        """The sqlframe DataFrame over the relation (built on first use)."""
        if self._frame is None:
            self._frame = self.session.table(self.name)
        return self._frame

    @property  # type: ignore[misc]  # the DataFrame's class, so sqlframe takes this for one
    def __class__(self) -> type:
        return type(self.frame)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.frame, attr)

    def __repr__(self) -> str:
        return f"DuckDBTable({self.name!r})"


def is_sqlframe(obj: Any) -> bool:
    """True for sqlframe sessions, DataFrames and columns (and :class:`DuckDBTable`); False for PySpark ones."""
    return type(obj) is DuckDBTable or type(obj).__module__.startswith("sqlframe")


def engine_of(obj: Any) -> str:
    """ "duckdb" or "spark" for a session or DataFrame."""
    return "duckdb" if is_sqlframe(obj) else "spark"


def duckdb_connection(session_or_df: Any) -> duckdb.DuckDBPyConnection:
    """The DuckDB connection behind a sqlframe session or DataFrame."""
    session = getattr(session_or_df, "session", session_or_df)
    return session._conn


def session_of(df: Any) -> Any:
    """The session a DataFrame belongs to (``sparkSession`` in PySpark, ``session`` in sqlframe)."""
    return df.session if is_sqlframe(df) else df.sparkSession


# --------------------------------------------------------------------------- the API per engine


@dataclass(frozen=True)
class Api:
    """The PySpark-shaped modules of one engine: ``F, T, Window = api(df)``."""

    F: ModuleType
    T: ModuleType
    Window: Any

    def __iter__(self):
        return iter((self.F, self.T, self.Window))


def api(obj: Any) -> Api:
    """Functions, types and Window for the engine a DataFrame (or session) belongs to."""
    if is_sqlframe(obj):
        return duckdb_api()
    import pyspark.sql.functions as F
    import pyspark.sql.types as T
    from pyspark.sql import Window

    return Api(F, T, Window)


def duckdb_api() -> Api:
    """sqlframe's DuckDB functions, types and Window, for rendering expressions to DuckDB SQL without a session."""
    _remember_dialect_names()
    import sqlframe.duckdb.functions as F
    import sqlframe.duckdb.types as T
    from sqlframe.duckdb import Window

    return Api(F, T, Window)


@cache
def _remember_dialect_names() -> None:
    """Make sqlframe's lookup of a dialect's name constant-time (once per process).

    sqlframe asks for the session dialect's name on every function call it builds
    (``sqlframe.base.util.dialect_to_string``), through sqlglot's ``Dialect.classes``. In
    sqlglot 30.29 that property imports every dialect module again on each access: its
    registry holds the base dialect too, one entry more than there are modules, so it never
    counts as complete. Rendering the transaction rules made 27,000 imports, a third of
    the rendering time, paid again by every run in a fresh process. A dialect class's name
    does not change: remember it -- and look first among the dialects already loaded, as the
    first full lookup alone imports some thirty dialect modules (0.07-0.17 s a process).
    """
    from sqlframe.base import util
    from sqlglot.dialects.dialect import Dialect

    original = util.dialect_to_string
    names: dict[type, str] = {}

    def dialect_to_string(dialect: Any) -> str:
        kind = type(dialect)
        if kind not in names:
            loaded = getattr(Dialect, "_classes", {})
            found = [name for name, cls in loaded.items() if cls is kind]
            names[kind] = found[0] if len(found) == 1 else original(dialect)
        return names[kind]

    util.dialect_to_string = dialect_to_string


# --------------------------------------------------------------------------- types from the schemas


def spark_type(type_: str, T: ModuleType) -> Any:
    """The DataType (of module ``T``) for a Glue/Athena DDL type from ``ecomlake.schemas``."""
    if type_.startswith("decimal"):
        precision, scale = schemas.decimal_precision(type_)
        return T.DecimalType(precision, scale)
    simple = {
        "string": T.StringType,
        "int": T.IntegerType,
        "bigint": T.LongType,
        "double": T.DoubleType,
        "boolean": T.BooleanType,
        "date": T.DateType,
        # Zone-less on both engines (see the module docstring).
        "timestamp": getattr(T, "TimestampNTZType", T.TimestampType),
    }
    try:
        return simple[type_]()
    except KeyError:
        raise ValueError(f"no Spark type for {type_!r}") from None


def struct_type(columns: tuple[schemas.Column, ...] | list[schemas.Column], T: ModuleType) -> Any:
    """A StructType for schema columns, nullability included."""
    return T.StructType([T.StructField(c.name, spark_type(c.type, T), c.nullable) for c in columns])


def string_struct(names: tuple[str, ...] | list[str], T: ModuleType) -> Any:
    """All-string StructType: how raw files are read, so no value is lost to a cast."""
    return T.StructType([T.StructField(n, T.StringType(), True) for n in names])


def cast_type(type_: str) -> str:
    """Type name for ``Column.cast`` from a schema (Glue DDL) type.

    ``timestamp`` becomes ``timestamp_ntz``: sqlframe maps a plain ``timestamp`` cast to
    DuckDB's ``TIMESTAMPTZ``, while both engines read ``timestamp_ntz`` as zone-less.
    """
    return "timestamp_ntz" if type_ == "timestamp" else type_
