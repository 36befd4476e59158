"""The floors the bench compares the pipeline with: the raw zone moved to Parquet, nothing else.

DuckDB copying the raw transactions CSV -- and every raw dataset -- to date-partitioned
Parquet with its own readers, DuckDB scanning every raw file, and a plain Spark CSV ->
Parquet copy: the least any ETL could cost on this machine, measured in the same run as
the pipeline (``ecomlake.local.bench``), so the targets are ratios a busy machine does not decide.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from ecomlake.contract import RAW_FILE_NAMES, Dataset, Zone


def floor_copy(lake: Path, out_dir: Path) -> int:
    """Copy raw/transactions/date=*/transactions.csv to Parquet partitioned by date; rows copied.

    No parsing beyond splitting fields (every column stays a string), no validation, no
    dedup: the baseline the transaction ETL is compared with. Malformed lines are skipped.
    """
    import duckdb

    from ecomlake.schemas import RAW_SCHEMAS

    # The header is known: naming the columns spares the sniffer, which a malformed line can mislead.
    names = RAW_SCHEMAS[Dataset.TRANSACTIONS].column_names
    columns = "{" + ", ".join(f"'{name}': 'VARCHAR'" for name in names) + "}"
    pattern = lake / Zone.RAW / Dataset.TRANSACTIONS / "date=*" / RAW_FILE_NAMES[Dataset.TRANSACTIONS]
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    try:
        source = (
            f"read_csv('{pattern.as_posix()}', header=true, auto_detect=false, delim=',', quote='\"', "
            f"columns={columns}, hive_partitioning=true, ignore_errors=true, null_padding=true)"
        )
        con.execute(f"COPY (SELECT * FROM {source}) TO '{out_dir.as_posix()}' (FORMAT parquet, PARTITION_BY (date))")
        return int(con.execute(f"SELECT count(*) FROM read_parquet('{out_dir.as_posix()}/*/*.parquet')").fetchone()[0])
    finally:
        con.close()


def _floor_source(lake: Path, dataset: Dataset) -> str | None:
    """DuckDB's own reader over every landed file of ``dataset``, with its defaults; None when none landed.

    CSV through ``read_csv``, JSON through ``read_json`` in the dataset's layout (an array
    for products, JSON Lines for clickstream), each detecting the types as DuckDB does by
    default, passing over what it cannot read (``ignore_errors``; a malformed JSON line
    becomes a row of NULLs), the date from the folder: what a DuckDB user copying the raw
    zone to Parquet would write. The JSON layout is stated, not detected: DuckDB's detection
    reads the first record, and when that one is a malformed line (one of the generator's
    faults) it settles on a layout whose parse errors cannot be ignored, and fails.
    """
    from ecomlake.schemas import RAW_SCHEMAS

    kind = RAW_SCHEMAS[dataset].format
    ext = "csv" if kind == "csv" else "json"
    folder = lake / Zone.RAW / dataset
    if not any(folder.glob(f"date=*/*.{ext}")):
        return None
    pattern = (folder / "date=*" / f"*.{ext}").as_posix()
    if ext == "csv":
        return f"read_csv('{pattern}', hive_partitioning=true, ignore_errors=true)"
    return f"read_json('{pattern}', format='{_json_layout(dataset)}', hive_partitioning=true, ignore_errors=true)"


def _json_layout(dataset: Dataset) -> str:
    """DuckDB's ``format`` for a JSON dataset's files, stated rather than detected (see :func:`_floor_source`)."""
    from ecomlake.schemas import RAW_SCHEMAS

    return "newline_delimited" if RAW_SCHEMAS[dataset].format == "jsonl" else "array"


def floor_copy_all(lake: Path, out_dir: Path) -> int:
    """Every raw dataset copied to Parquet partitioned by date, as DuckDB's readers see it; rows copied.

    Each dataset is one ``COPY (SELECT * FROM <reader>) ... PARTITION_BY (date)`` (see
    :func:`_floor_source`): the cost of moving the raw zone into Parquet with DuckDB and no
    pipeline at all, which ``run --all`` is compared with.
    """
    import duckdb

    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    con = duckdb.connect()
    try:
        total = 0
        for dataset in Dataset:
            source = _floor_source(lake, dataset)
            if source is None:
                continue
            target = (out_dir / dataset).as_posix()
            con.execute(f"COPY (SELECT * FROM {source}) TO '{target}' (FORMAT parquet, PARTITION_BY (date))")
            total += int(con.execute(f"SELECT count(*) FROM read_parquet('{target}/*/*.parquet')").fetchone()[0])  # type: ignore[index]
        return total
    finally:
        con.close()


def floor_scan(lake: Path) -> int:
    """Rows of every raw file as DuckDB's own readers count them (all text, no checks): the ingest floor."""
    import duckdb

    con = duckdb.connect()
    try:
        total = 0
        for dataset in Dataset:
            folder = (lake / Zone.RAW / dataset).as_posix()
            csvs = sorted((lake / Zone.RAW / dataset).glob("date=*/*.csv"))
            jsons = sorted((lake / Zone.RAW / dataset).glob("date=*/*.json"))
            if csvs:
                source = (
                    f"read_csv('{folder}/date=*/*.csv', header=true, all_varchar=true, ignore_errors=true, "
                    "strict_mode=false)"
                )
                total += int(con.execute(f"SELECT count(*) FROM {source}").fetchone()[0])  # type: ignore[index]
            if jsons:
                source = f"read_json('{folder}/date=*/*.json', format='{_json_layout(dataset)}', ignore_errors=true)"
                total += int(con.execute(f"SELECT count(*) FROM {source}").fetchone()[0])  # type: ignore[index]
        return total
    finally:
        con.close()


def spark_floor_copy(spark: Any, lake: Path, out_dir: Path) -> int:
    """Spark's plain copy of the raw transactions CSV to date-partitioned Parquet (all strings)."""
    from pyspark.sql import functions as F

    if out_dir.exists():
        shutil.rmtree(out_dir)
    pattern = lake / Zone.RAW / Dataset.TRANSACTIONS / "date=*" / RAW_FILE_NAMES[Dataset.TRANSACTIONS]
    df = spark.read.option("header", True).csv(pattern.as_posix())
    dated = df.withColumn("date", F.regexp_extract(F.input_file_name(), "date=([0-9-]+)", 1))
    dated.write.partitionBy("date").mode("overwrite").parquet(out_dir.as_posix())
    return int(spark.read.parquet(out_dir.as_posix()).count())
