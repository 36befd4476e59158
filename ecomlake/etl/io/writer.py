"""The writer: Parquet partitions of a table, and the quarantine's ``rows.parquet``, replaced exactly.

DuckDB writes with ``COPY ... PARTITION_BY`` into a staging folder whose partitions are
then swapped in (sqlframe's own ``partitionBy`` write fails on DuckDB 2.0); Spark writes
with ``partitionOverwriteMode=dynamic``.
"""

# ruff: noqa: N806 -- F, T and Window are the PySpark aliases (functions, types, Window)

from __future__ import annotations

import contextlib
import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from ecomlake.contract import (
    PARTITION_KEY,
    QUARANTINE_ROWS_FILE,
    Dataset,
    Zone,
    partition_prefix,
)
from ecomlake.etl.engines import api, duckdb_connection, is_sqlframe
from ecomlake.etl.io.lake import LakeIO
from ecomlake.etl.io.raw import FILE, LINE
from ecomlake.etl.io.raw_duckdb import _ident, _sql_str
from ecomlake.etl.io.tables import _hadoop_fs, _spark_delete, duckdb_sql

_PART_PREFIX: Final = "part"


# --------------------------------------------------------------------------- the writer


def partition_dir(root: str | Path, day: str) -> Path:
    return Path(root) / f"{PARTITION_KEY}={day}"


def _swap_in(staging: Path, target: Path, dates: Sequence[str] | None) -> None:
    """Replace the written partitions (or the whole table) with the staged ones."""
    target.mkdir(parents=True, exist_ok=True)
    if dates is None:
        for old in target.iterdir():
            if old.is_dir():
                shutil.rmtree(old)
            else:
                old.unlink()
        for new in staging.iterdir():
            new.rename(target / new.name)
        return
    staged = {p.name for p in staging.iterdir()} if staging.exists() else set()
    unexpected = staged - {f"{PARTITION_KEY}={d}" for d in dates}
    if unexpected:
        raise ValueError(f"rows for partitions outside the run: {sorted(unexpected)}")
    for day in dates:
        current = partition_dir(target, day)
        if current.exists():
            shutil.rmtree(current)
        fresh = partition_dir(staging, day)
        if fresh.exists():
            fresh.rename(current)


def write_partitioned(
    df: Any, target: str | Path, dates: Sequence[str] | None, *, order_by: Sequence[str] = ()
) -> None:
    """Write ``df`` as Parquet under ``target``, replacing exactly the partitions of ``dates``.

    ``dates=None`` writes an unpartitioned table and replaces all of it. A date in ``dates``
    with no rows ends with no partition (an older partition of it is removed), so a re-run
    never leaves stale rows behind. ``order_by`` sorts rows within each file, so two runs
    over the same input write the same files.

    Files: DuckDB writes ``date=D/part-0.parquet`` (``part-0.parquet`` unpartitioned);
    Spark writes ``date=D/part-<n>-<uuid>.c000.snappy.parquet``. Both Snappy-compressed.
    """
    if is_sqlframe(df):
        _duckdb_write(df, Path(target), dates, order_by)
    else:
        _spark_write(df, str(target), dates, order_by)


def _duckdb_write(df: Any, target: Path, dates: Sequence[str] | None, order_by: Sequence[str]) -> None:
    conn = duckdb_connection(df)
    staging = target.parent / ".staging" / f"{target.name}-{uuid.uuid4().hex}"
    staging.mkdir(parents=True)
    try:
        query = duckdb_sql(df)
        if order_by:
            query = f"SELECT * FROM ({query}) ORDER BY {', '.join(_ident(c) for c in order_by)}"
        if dates is None:
            conn.execute(
                f"COPY ({query}) TO {_sql_str(str(staging / (_PART_PREFIX + '-0.parquet')))} "
                "(FORMAT parquet, COMPRESSION snappy)"
            )
        else:
            conn.execute(
                f"COPY ({query}) TO {_sql_str(str(staging))} (FORMAT parquet, COMPRESSION snappy, "
                f"PARTITION_BY ({PARTITION_KEY}), OVERWRITE_OR_IGNORE, FILENAME_PATTERN '{_PART_PREFIX}-{{i}}')"
            )
        _swap_in(staging, target, dates)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        with contextlib.suppress(OSError):
            staging.parent.rmdir()


def _spark_write(df: Any, target: str, dates: Sequence[str] | None, order_by: Sequence[str]) -> None:
    spark = df.sparkSession
    F = api(df).F
    if dates is None:
        out = df.coalesce(1)
        if order_by:
            out = out.sortWithinPartitions(*order_by)
        out.write.mode("overwrite").parquet(target)
        return
    data = df.repartition(F.col(PARTITION_KEY))
    if order_by:
        data = data.sortWithinPartitions(PARTITION_KEY, *order_by)
    data = data.cache()
    present = {r[0] for r in data.select(PARTITION_KEY).distinct().collect()}
    unexpected = present - set(dates)
    if unexpected:
        data.unpersist()
        raise ValueError(f"rows for partitions outside the run: {sorted(unexpected)}")
    if present:
        # Dynamic overwrite (SPARK_RUNTIME_CONF): only the partitions in the data are replaced.
        data.write.mode("overwrite").partitionBy(PARTITION_KEY).parquet(target)
    data.unpersist()
    for day in sorted(set(dates) - present):
        _spark_delete(spark, f"{target.rstrip('/')}/{PARTITION_KEY}={day}")


def write_quarantine(df: Any, lake: LakeIO, dataset: Dataset | str, dates: Sequence[str]) -> None:
    """Bad rows to ``quarantine/<dataset>/date=D/rows.parquet``, replacing that file only.

    Whole-file rejects live in the same folders (copied there by the validator), so the
    folder is never cleared: only ``rows.parquet`` is replaced, or removed when a re-run
    finds no bad rows for the date.
    """
    ds = Dataset(dataset)
    root = lake.quarantine_uri(ds)
    if is_sqlframe(df):
        staging = Path(root).parent / ".staging" / f"{ds}-{uuid.uuid4().hex}"
        try:
            _duckdb_write(df, staging / "out", dates, (PARTITION_KEY, LINE, FILE))
            for day in dates:
                final = Path(lake.uri(partition_prefix(Zone.QUARANTINE, ds, day) + QUARANTINE_ROWS_FILE))
                final.unlink(missing_ok=True)
                written = sorted(partition_dir(staging / "out", day).glob("*.parquet"))
                if written:
                    final.parent.mkdir(parents=True, exist_ok=True)
                    written[0].rename(final)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            with contextlib.suppress(OSError):
                staging.parent.rmdir()
        return
    spark = df.sparkSession
    staging_uri = f"{root.rstrip('/')}/_staging-{uuid.uuid4().hex}"
    try:
        _spark_write(df, staging_uri, dates, (LINE,))
        fs, _ = _hadoop_fs(spark, staging_uri)
        jvm = spark.sparkContext._jvm
        for day in dates:
            final = jvm.org.apache.hadoop.fs.Path(
                lake.uri(partition_prefix(Zone.QUARANTINE, ds, day) + QUARANTINE_ROWS_FILE)
            )
            if fs.exists(final):
                fs.delete(final, False)
            part = jvm.org.apache.hadoop.fs.Path(f"{staging_uri}/{PARTITION_KEY}={day}")
            if not fs.exists(part):
                continue
            files = [s.getPath() for s in fs.listStatus(part) if s.getPath().getName().endswith(".parquet")]
            if files:
                fs.mkdirs(final.getParent())
                fs.rename(files[0], final)
    finally:
        _spark_delete(spark, staging_uri)
