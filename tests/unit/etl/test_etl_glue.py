"""The Glue scripts: importable without awsglue, arguments resolved the Glue way, same results as DuckDB."""

from __future__ import annotations

import importlib
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest

from ecomlake.contract import Job, JobArg, Zone
from ecomlake.etl import glue
from ecomlake.exceptions import InvalidArgumentError
from ecomlake.storage import LocalStorage, S3Storage
from tests.unit.glue_support import NOT_ON_GLUE, glue_modules

SCRIPTS = {job: f"glue_jobs.{job.value}" for job in Job}


def argv(lake: str | Path, dates: str = "2025-01-01", run_id: str = "glue-run") -> list[str]:
    args = ["script.py", "--JOB_NAME", "ecomlake-test", f"--{JobArg.DATES}={dates}", f"--{JobArg.RUN_ID}", run_id]
    for arg in glue.ZONE_ARGS.values():
        args += [f"--{arg}", str(lake)]
    return args


@pytest.mark.parametrize("job", list(Job))
def test_scripts_import_without_glue_and_name_their_job(job: Job) -> None:
    module = importlib.import_module(SCRIPTS[job])
    assert module.JOB is job
    assert module.main is glue.main


def test_the_job_modules_load_with_glues_own_modules_only() -> None:
    """Glue 5.0 has no DuckDB, sqlframe or sqlglot: nothing a job loads may import them at load time."""
    import subprocess
    import sys

    blocked = "".join(f"sys.modules[{name!r}] = None; " for name in NOT_ON_GLUE)
    modules = ", ".join([*SCRIPTS.values(), "ecomlake.etl.glue", "ecomlake.dq.glue_job", "ecomlake.dq.engine_spark"])
    script = f"import sys; {blocked}\nimport {modules}\nprint('imported')\n"
    root = Path(__file__).resolve().parents[3]
    done = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "imported", done.stderr[-2000:]


def test_arguments_are_resolved_like_get_resolved_options(tmp_path: Path) -> None:
    args = glue.resolve_args([*argv(tmp_path, "2025-01-01,2025-01-02"), "--extra", "ignored"])
    assert args[JobArg.DATES] == "2025-01-01,2025-01-02"
    assert args[JobArg.JOB_NAME] == "ecomlake-test"
    assert args[JobArg.RUN_ID] == "glue-run"
    with pytest.raises(InvalidArgumentError, match="--run_id"):
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


def _run_rows(lake: Path, run_id: str) -> dict[str, list[tuple[Any, ...]]]:
    """The rows run ``run_id`` wrote (published or not), per table and per dataset's quarantine."""
    from ecomlake.catalog import connect
    from ecomlake.snapshots import load_published, quarantine_unit
    from ecomlake.snapshots.journal import run_changes

    storage = LocalStorage(lake)
    view = load_published(storage).overlay(run_changes(storage, run_id))
    con = connect(lake, snapshot=view)
    out = {
        t: sorted(con.execute(f"select * from {t}").fetchall(), key=repr)
        for t in ("transactions", "clickstream", "sessions")
    }
    for dataset in ("transactions", "clickstream"):
        files = [
            str(p) for _d, prefix in view.prefixes(quarantine_unit(dataset)) for p in (lake / prefix).glob("*.parquet")
        ]
        query = f"select * exclude (_detail) from read_parquet({files}, hive_partitioning=false)"
        out[f"quarantine/{dataset}"] = sorted(duckdb.sql(query).fetchall(), key=repr)
    return out


@pytest.mark.spark
def test_glue_entry_point_on_spark_matches_duckdb(spark: Any, generated: dict[str, Any], tmp_path: Path) -> None:
    """The Spark readers and writer, through the Glue script, give DuckDB's rows."""
    from ecomlake.runs.plan import plan_run
    from tests.lakeruns import run_jobs

    lake = tmp_path / "lake"
    shutil.copytree(generated["lake"] / "raw", lake / "raw")
    dates = ",".join(generated["dates"][:2])
    plan_run(LocalStorage(lake), "glue-run", dates.split(","))
    for job in (Job.TRANSACTION_ETL, Job.CLICKSTREAM_AGGREGATION):
        with glue_modules(installed=("duckdb",)):  # as the ETL jobs install it on Glue
            summaries = importlib.import_module(SCRIPTS[job]).main(job, argv(lake, dates))
        assert all(s.engine == "spark" and s.conserved for s in summaries)
    reference = tmp_path / "reference"
    shutil.copytree(generated["lake"] / "raw", reference / "raw")
    run_jobs(reference, dates.split(","), (Job.TRANSACTION_ETL, Job.CLICKSTREAM_AGGREGATION), run_id="duck-run")
    on_spark, on_duckdb = _run_rows(lake, "glue-run"), _run_rows(reference, "duck-run")
    for name, rows in on_spark.items():
        assert rows == on_duckdb[name], name
        assert rows, name
