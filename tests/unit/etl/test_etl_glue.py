"""The Glue scripts: importable without awsglue, arguments resolved the Glue way, same results as DuckDB."""

from __future__ import annotations

import importlib
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest

from ecomlake.contract import Job, JobArg, Zone
from ecomlake.etl import glue, run_job
from ecomlake.exceptions import InvalidArgumentError
from ecomlake.storage import LocalStorage, S3Storage

SCRIPTS = {job: f"glue_jobs.{job.value}" for job in Job}


def argv(lake: str | Path, dates: str = "2025-01-01") -> list[str]:
    args = ["script.py", "--JOB_NAME", "ecomlake-test", f"--{JobArg.DATES}={dates}"]
    for arg in glue.ZONE_ARGS.values():
        args += [f"--{arg}", str(lake)]
    return args


@pytest.mark.parametrize("job", list(Job))
def test_scripts_import_without_glue_and_name_their_job(job: Job) -> None:
    module = importlib.import_module(SCRIPTS[job])
    assert module.JOB is job
    assert module.main is glue.main


def test_arguments_are_resolved_like_get_resolved_options(tmp_path: Path) -> None:
    args = glue.resolve_args([*argv(tmp_path, "2025-01-01,2025-01-02"), "--extra", "ignored"])
    assert args[JobArg.DATES] == "2025-01-01,2025-01-02"
    assert args[JobArg.JOB_NAME] == "ecomlake-test"
    with pytest.raises(InvalidArgumentError, match="--raw_uri"):
        glue.resolve_args(["script.py", "--JOB_NAME", "x", "--dates", "2025-01-01"])


def test_zone_uris_pick_the_storage(tmp_path: Path) -> None:
    local = glue.lake_from_args(glue.resolve_args(argv(tmp_path)))
    assert isinstance(local.storage, LocalStorage)
    assert local.storage.root == tmp_path
    s3_args = glue.resolve_args(argv("s3://x"))
    for zone, arg in glue.ZONE_ARGS.items():
        s3_args[arg] = f"s3://lake-{zone.value.strip('_')}"
    s3 = glue.lake_from_args(s3_args)
    assert isinstance(s3.storage, S3Storage)
    assert s3.table_uri("fact_sales") == "s3://lake-curated/curated/fact_sales"
    assert s3.storage.buckets[Zone.RUNS] == "lake-reports"
    mixed = dict(s3_args, **{JobArg.RAW_URI: str(tmp_path)})
    with pytest.raises(InvalidArgumentError, match="same lake directory"):
        glue.lake_from_args(mixed)


def _table(lake: Path, zone: str, table: str) -> list[tuple[Any, ...]]:
    pattern = f"{lake}/{zone}/{table}/date=*/*.parquet"
    return sorted(duckdb.sql(f"select * from read_parquet('{pattern}', hive_partitioning=true)").fetchall(), key=repr)


@pytest.mark.spark
def test_glue_entry_point_on_spark_matches_duckdb(spark: Any, generated: dict[str, Any], tmp_path: Path) -> None:
    """The Spark readers and writer, through the Glue script, give DuckDB's rows."""
    lake = tmp_path / "lake"
    shutil.copytree(generated["lake"] / "raw", lake / "raw")
    dates = ",".join(generated["dates"][:2])
    for job in (Job.TRANSACTION_ETL, Job.CLICKSTREAM_AGGREGATION):
        summaries = importlib.import_module(SCRIPTS[job]).main(job, argv(lake, dates))
        assert all(s.engine == "spark" and s.conserved for s in summaries)
    reference = tmp_path / "reference"
    shutil.copytree(generated["lake"] / "raw", reference / "raw")
    for job in (Job.TRANSACTION_ETL, Job.CLICKSTREAM_AGGREGATION):
        run_job(job, dates.split(","), reference)
    for zone, table in [
        ("processed", "transactions"),
        ("processed", "clickstream"),
        ("processed", "sessions"),
        ("quarantine", "transactions"),
        ("quarantine", "clickstream"),
    ]:
        if zone == "quarantine":
            query = f"select * exclude (_detail) from read_parquet('{{}}/quarantine/{table}/date=*/rows.parquet')"
            spark_rows = sorted(duckdb.sql(query.format(lake)).fetchall(), key=repr)
            duck_rows = sorted(duckdb.sql(query.format(reference)).fetchall(), key=repr)
        else:
            spark_rows, duck_rows = _table(lake, zone, table), _table(reference, zone, table)
        assert spark_rows == duck_rows, table
        assert spark_rows
