"""The writer: a run's new versions of table partitions, never where readers look.

Every write belongs to a run (``LakeIO.scope``) and lands in version folders of its own,
``<unit>/date=D/run=<run_id>/part-*.parquet`` (``<unit>/run=<run_id>/`` for an
unpartitioned table), so nothing a reader resolves through the published snapshot changes
until the run publishes. The writer records in the run's :class:`~ecomlake.snapshots.Changes`
which dates got a version and which came out empty -- an empty date drops its partition on
publication, so a re-run never leaves stale rows behind.

DuckDB writes with ``COPY ... PARTITION_BY (date, run)`` (sqlframe's own ``partitionBy``
write fails on DuckDB 2.0); Spark with ``partitionBy(date, run)`` in append mode. Before
writing, the run's own earlier versions of the same partitions are removed, so a retried
job replaces what its first attempt wrote.
"""

# ruff: noqa: N806 -- F, T and Window are the PySpark aliases (functions, types, Window)

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from ecomlake.contract import PARTITION_KEY, RUN_KEY, Dataset, parse_date, version_path
from ecomlake.etl.engines import api, duckdb_connection, is_sqlframe
from ecomlake.etl.io.lake import LakeIO
from ecomlake.etl.io.raw import FILE, LINE
from ecomlake.etl.io.tables import _hadoop_fs, duckdb_sql
from ecomlake.snapshots import is_partitioned, quarantine_unit, table_unit
from ecomlake.sqltext import ident, literal

_PART_PREFIX: Final = "part"


def partition_dir(root: str | Path, day: str) -> Path:
    return Path(root) / f"{PARTITION_KEY}={day}"


def _version_dirs(unit_uri: str, run_id: str, dates: Sequence[str] | None) -> list[str]:
    base = unit_uri.rstrip("/")
    return [f"{base}/{version_path(run_id, day)}" for day in ([None] if dates is None else dates)]


def write_unit(
    df: Any, lake: LakeIO, unit: str, dates: Sequence[str] | None, *, order_by: Sequence[str] = ()
) -> list[str]:
    """Write ``df`` as the run's new version of ``unit``; returns the dates that got rows.

    ``dates`` are the partitions the run is (re)computing: each ends with a new version,
    or -- with no rows -- with none, which publication turns into "no partition". ``None``
    writes an unpartitioned unit whole. Rows for a date outside ``dates`` are a bug and
    fail the write. ``order_by`` sorts rows within each file (used for small outputs people
    read, such as the quarantine).
    """
    if is_sqlframe(df):
        counted = write_counted(df, lake, unit, dates, order_by=order_by)
        return [] if dates is None else sorted(day for day, rows in counted.items() if rows)
    days = _check(unit, dates)
    present = _spark_write(df, lake.uri(unit), lake.run.run_id, days, order_by)
    _record(lake, unit, days, present)
    return [] if days is None else sorted(present)


def write_counted(
    df: Any, lake: LakeIO, unit: str, dates: Sequence[str] | None, *, order_by: Sequence[str] = ()
) -> dict[str, int]:
    """:func:`write_unit` on DuckDB, returning the rows written per date (``{"": rows}`` when unpartitioned).

    The counts come from the write itself (``RETURN_STATS``): nothing is computed twice.
    """
    days = _check(unit, dates)
    counted = _duckdb_write(df, lake.uri(unit), lake.run.run_id, days, order_by)
    _record(lake, unit, days, [day for day, rows in counted.items() if rows])
    return counted


def _check(unit: str, dates: Sequence[str] | None) -> list[str] | None:
    if is_partitioned(unit) != (dates is not None):
        raise ValueError(
            f"{unit}: {'dates are needed' if is_partitioned(unit) else 'an unpartitioned unit takes no dates'}"
        )
    return sorted({parse_date(d) for d in dates}) if dates is not None else None


def _record(lake: LakeIO, unit: str, days: list[str] | None, present: Sequence[str]) -> None:
    """Note in the run's changes which partitions got a version and which came out empty."""
    scope = lake.run
    if days is None:
        scope.changes.set_whole(unit, scope.run_id)
        return
    stray = sorted(set(present) - set(days))
    if stray:
        raise ValueError(f"{unit}: rows for partitions outside the run's dates: {stray}")
    for day in days:
        scope.changes.set_partition(unit, day, scope.run_id if day in present else None)


def write_partitioned(df: Any, lake: LakeIO, table: str, dates: Sequence[str] | None) -> list[str]:
    """Write a processed or curated table (its partitions for ``dates``, or whole when unpartitioned)."""
    return write_unit(df, lake, table_unit(table), dates)


def write_quarantine(df: Any, lake: LakeIO, dataset: Dataset | str, dates: Sequence[str]) -> list[str]:
    """Bad rows of ``dates`` as the run's version of ``quarantine/<dataset>/date=D/``.

    Whole-file rejects live beside, in the same date folders (the validator copies them
    there); they are outside the version layout and never touched here.
    """
    return write_unit(df, lake, quarantine_unit(dataset), dates, order_by=(PARTITION_KEY, FILE, LINE))


# --------------------------------------------------------------------------- DuckDB


def _duckdb_write(df: Any, uri: str, run_id: str, dates: list[str] | None, order_by: Sequence[str]) -> dict[str, int]:
    conn = duckdb_connection(df)
    target = Path(uri)
    for folder in _version_dirs(uri, run_id, dates):
        shutil.rmtree(folder, ignore_errors=True)
    query = duckdb_sql(df)
    if order_by:
        query = f"SELECT * FROM ({query}) ORDER BY {', '.join(ident(c) for c in order_by)}"
    if dates is None:
        folder = Path(_version_dirs(uri, run_id, None)[0])
        folder.mkdir(parents=True, exist_ok=True)
        stats = conn.execute(
            f"COPY ({query}) TO {literal(str(folder / (_PART_PREFIX + '-0.parquet')))} "
            "(FORMAT parquet, COMPRESSION snappy, RETURN_STATS)"
        ).fetchall()
        return {"": sum(int(row[1]) for row in stats)}
    target.mkdir(parents=True, exist_ok=True)
    tagged = f"SELECT *, {literal(run_id)} AS {ident(RUN_KEY)} FROM ({query})"
    # The write says what it wrote: rows per file, with each file's partition keys.
    stats = conn.execute(
        f"COPY ({tagged}) TO {literal(str(target))} (FORMAT parquet, COMPRESSION snappy, "
        f"PARTITION_BY ({ident(PARTITION_KEY)}, {ident(RUN_KEY)}), OVERWRITE_OR_IGNORE, "
        f"FILENAME_PATTERN '{_PART_PREFIX}-{{i}}', RETURN_STATS)"
    ).fetchall()
    counted: dict[str, int] = {}
    for _name, rows, *_sizes, _columns, keys, _extra in stats:
        day = str(keys[PARTITION_KEY])
        counted[day] = counted.get(day, 0) + int(rows)
    return counted


# --------------------------------------------------------------------------- Spark


def _spark_delete(spark: Any, uri: str) -> None:
    fs, path = _hadoop_fs(spark, uri)
    if fs.exists(path):
        fs.delete(path, True)


def _spark_write(df: Any, uri: str, run_id: str, dates: list[str] | None, order_by: Sequence[str]) -> list[str]:
    spark = df.sparkSession
    F = api(df).F
    for folder in _version_dirs(uri, run_id, dates):
        _spark_delete(spark, folder)
    if dates is None:
        out = df.coalesce(1)
        if order_by:
            out = out.sortWithinPartitions(*order_by)
        out.write.mode("overwrite").parquet(_version_dirs(uri, run_id, None)[0])
        return []
    data = df.select("*", F.lit(run_id).alias(RUN_KEY)).repartition(F.col(PARTITION_KEY))
    if order_by:
        data = data.sortWithinPartitions(*order_by)
    # Append: the run's folders are new (its own earlier attempt was removed above), and
    # no other run's version of a partition may be touched.
    data.write.mode("append").partitionBy(PARTITION_KEY, RUN_KEY).parquet(uri.rstrip("/"))
    fs, _ = _hadoop_fs(spark, uri.rstrip("/"))
    jvm = spark.sparkContext._jvm
    pattern = jvm.org.apache.hadoop.fs.Path(f"{uri.rstrip('/')}/{PARTITION_KEY}=*/{RUN_KEY}={run_id}")
    found = fs.globStatus(pattern) or []
    return sorted(str(s.getPath().getParent().getName()).split("=", 1)[1] for s in found)
