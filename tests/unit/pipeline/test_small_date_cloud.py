"""The small-date Lambda on moto S3 publishes the same rows as the local run of the same files.

The same generated files are landed twice: in a local lake, which the local runner runs
through the Glue branch (every job, then the Spark-engine-free audit job, on DuckDB), and in
moto's buckets, where each run goes the cloud's way -- the plan on S3, the ``small_date``
handler (stage into its /tmp, run, upload), the audit gate's check of the verdict, the
publication. Three runs cover what the small path stages: a backfill of two dates on an
empty lake, the next day on top (the daily run: an incremental merge over published
dimensions), and late data for the first date (a restatement: later dates recomputed, the
dimensions rebuilt from every date). After each, every published table is compared row for
row, and the plan's estimate is what the handler staged.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from ecomlake.contract import ZONE_BUCKET_ENV, EnvVar, Table, Zone
from ecomlake.pipeline import Setting
from ecomlake.runs.audit import check_verdict
from ecomlake.runs.plan import plan_run, read_plan
from ecomlake.runs.publish import publish_run
from ecomlake.runs.small_date import read_set, staged_objects
from ecomlake.snapshots import load_published
from ecomlake.storage import LocalStorage, S3Storage
from handlers import _aws
from tests.unit.lambda_support import LambdaContext

pytestmark = pytest.mark.integration

D1, D2, D3 = "2025-01-01", "2025-01-02", "2025-01-03"
BUCKET_OF_VAR = {
    var: "ecomlake-test-" + var.removeprefix("ECOMLAKE_").removesuffix("_BUCKET").lower().replace("_", "-")
    for var in set(ZONE_BUCKET_ENV.values())
}
BUCKETS = {zone: BUCKET_OF_VAR[var] for zone, var in ZONE_BUCKET_ENV.items()}
CONTEXT = LambdaContext(function_name="ecomlake-test-small-date")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ecomlake.generate import generate

    out = tmp_path_factory.mktemp("generated")
    generate(out, days=3, transactions=900, products=60, clickstream=900, reviews=90, seed=11, bad_rate=0.03)
    return out


@pytest.fixture
def cloud(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    _aws.reset_clients()
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        for var, bucket in BUCKET_OF_VAR.items():
            s3.create_bucket(Bucket=bucket)
            monkeypatch.setenv(var, bucket)
        monkeypatch.setenv(EnvVar.STAGE, "test")
        (tmp_path / "lambda-tmp").mkdir()
        monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "lambda-tmp"))  # the function's /tmp
        yield S3Storage(BUCKETS, boto3.Session(region_name="us-east-1"))
    _aws.reset_clients()


def land(generated: Path, lake: Path, dates: list[str]) -> None:
    """Land the generated files of ``dates`` (validated and routed, as the validator Lambda does)."""
    from ecomlake.ingest import land_tree

    source = lake.parent / f"source-{lake.name}"
    shutil.rmtree(source, ignore_errors=True)
    for path in generated.rglob("*"):
        if path.is_file() and any(f"date={d}" in path.as_posix() for d in dates):
            target = source / path.relative_to(generated)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, target)
    land_tree(lake, source)


def sync_landing(lake: Path, storage: S3Storage) -> None:
    """What the validator left in the local lake (raw files, reports, rejects) -> the buckets."""
    local = LocalStorage(lake)
    for prefix in (f"{Zone.RAW}/", f"{Zone.REPORTS}/validation/", f"{Zone.QUARANTINE}/"):
        for key in local.list(prefix):
            if "/run=" not in key and not storage.exists(key):
                storage.write_bytes(key, local.read_bytes(key))


def cloud_run(storage: S3Storage, run_id: str, dates: list[str]) -> dict[str, Any]:
    """plan -> small_date (the handler) -> audit gate -> publish, on S3."""
    from handlers import small_date

    plan = plan_run(storage, run_id, dates)
    result = small_date.handler({"run_id": run_id, "dates": dates}, CONTEXT)
    check_verdict(storage, run_id)
    publish_run(storage, run_id, plan.base_seq)
    return {"plan": plan, "result": result}


def download(storage: S3Storage, into: Path) -> Path:
    """Every object of every bucket into one directory: a lake with the buckets' key layout."""
    client = storage.client
    for bucket in set(BUCKETS.values()):
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for obj in page.get("Contents", []):
                target = into / obj["Key"]
                target.parent.mkdir(parents=True, exist_ok=True)
                client.download_file(bucket, obj["Key"], str(target))
    return into


def published_rows(lake: Path) -> dict[str, Counter[tuple[Any, ...]]]:
    from ecomlake.catalog import connect

    con = connect(lake)
    try:
        return {str(t): Counter(con.execute(f"SELECT * FROM {t}").fetchall()) for t in Table}
    finally:
        con.close()


def test_the_small_date_lambda_publishes_what_the_local_run_publishes(generated, cloud, tmp_path):
    from ecomlake.local.runner import run_pipeline

    local_lake, landing = tmp_path / "local", tmp_path / "landing"
    glue_branch = {Setting.SMALL_DATE_MAX_BYTES: None}
    runs = [("r1", [D1, D2], [D1, D2]), ("r2", [D3], [D3]), ("r3", [D1], [D1])]
    for index, (run_id, landed, dates) in enumerate(runs):
        if index < 2:
            land(generated, local_lake, landed)
            land(generated, landing, landed)
        else:  # late data: a second transactions file for D1, landed after D3 was published
            extra = next(generated.glob(f"transactions/date={D1}/*.csv")).read_text().splitlines()
            late = "\n".join([extra[0], *(line.replace("T", "L", 1) for line in extra[1:40])]) + "\n"
            for lake in (local_lake, landing):
                folder = tmp_path / f"late-{lake.name}" / "transactions" / f"date={D1}"
                folder.mkdir(parents=True, exist_ok=True)
                (folder / "transactions_late.csv").write_text(late)
                from ecomlake.ingest import land_tree

                land_tree(lake, tmp_path / f"late-{lake.name}")
        sync_landing(landing, cloud)

        record = run_pipeline(local_lake, dates, run_id=run_id, settings=glue_branch)
        assert record.status == "SUCCEEDED", record.error
        assert record.step("transaction_etl").status == "SUCCEEDED"  # the Glue branch, on DuckDB

        done = cloud_run(cloud, run_id, dates)
        plan, result = done["plan"], done["result"]
        # The Choice's input is exactly what the function staged (nothing published in between).
        assert plan.staged_bytes == result["staged"]["bytes"] > 0
        assert result["audit"]["passed"] is True
        assert result["engine"] == "duckdb"
        assert result["uploaded"]["objects"] > 0
        # The function's work directory is gone: a warm function starts the next run clean.
        assert not (tmp_path / "lambda-tmp" / "ecomlake-small-date").exists()

        mirror = download(cloud, tmp_path / f"cloud-{run_id}")
        assert load_published(LocalStorage(mirror)).run_id == run_id
        expected, got = published_rows(local_lake), published_rows(mirror)
        for table in Table:
            assert got[str(table)] == expected[str(table)], (run_id, table)
        assert sum(len(rows) for rows in got.values()) > 0
        if run_id == "r3":
            # The restatement recomputed the later dates and rebuilt the dimensions.
            assert read_plan(cloud, "r3").dates == [D1]
            assert result["jobs"]["master_data_merge"]["rows_built"] > 0


def test_a_daily_run_stages_its_raw_files_and_only_the_published_partitions_it_reads(generated, cloud, tmp_path):
    landing = tmp_path / "landing"
    land(generated, landing, [D1, D2])
    sync_landing(landing, cloud)
    cloud_run(cloud, "r1", [D1, D2])
    land(generated, landing, [D3])
    sync_landing(landing, cloud)
    base = load_published(cloud)

    wanted = read_set(base, [D3])
    objects = staged_objects(cloud, base, "r2", [D3])
    # Every raw file of D3 and its validation reports, no raw file of an earlier date.
    raw = sorted(k for k in objects if k.startswith("raw/"))
    assert raw == sorted(k for k in cloud.list("raw/") if f"/date={D3}/" in k)
    assert len(raw) == 4  # one file per dataset
    validation = sorted(k for k in objects if k.startswith("_reports/validation/"))
    assert validation == [f"_reports/validation/{k.split('/', 1)[1]}.json" for k in raw]
    # Keys of every published date (cross-date duplicates), the dimensions, the snapshot.
    assert any(k.startswith(f"processed/transactions/date={D1}/run=r1/") for k in objects)
    assert any(k.startswith("curated/dim_customers/run=r1/") for k in objects)
    assert "_catalog/current.json" in objects
    # Not the earlier dates' sessions or quarantine: a daily run reads only its own.
    assert not any(
        k.startswith(("processed/sessions/", "quarantine/transactions/date=2025-01-01/run")) for k in objects
    )
    assert wanted.first_date == D3
    assert wanted.journals == frozenset()  # no date from D3 on was computed before
    assert sum(objects.values()) == plan_run(cloud, "r2", [D3]).staged_bytes


def test_the_handler_refuses_a_bad_step_input_or_an_unplanned_run_with_one_clear_error(cloud, capsys):
    from ecomlake.exceptions import InvalidArgumentError
    from ecomlake.runs.small_date import SmallDateError
    from handlers import small_date

    with pytest.raises(InvalidArgumentError, match="event needs a 'run_id' string"):
        small_date.handler({"dates": [D1]}, CONTEXT)
    with pytest.raises(InvalidArgumentError, match="invalid run id"):
        small_date.handler({"run_id": "../etc"}, CONTEXT)
    with pytest.raises(SmallDateError, match=r"run r9 has no plan \(_runs/r9/plan.json\); the plan step must run"):
        small_date.handler({"run_id": "r9"}, CONTEXT)
    errors = [line for line in capsys.readouterr().out.splitlines() if '"level":"ERROR"' in line]
    assert len(errors) == 3


def test_a_run_that_does_not_fit_the_functions_tmp_stops_before_staging(generated, cloud, tmp_path):
    from ecomlake.runs.small_date import SmallDateError, stage

    landing = tmp_path / "landing"
    land(generated, landing, [D1])
    sync_landing(landing, cloud)
    plan = plan_run(cloud, "r1", [D1])
    mirror = LocalStorage(tmp_path / "mirror")
    with pytest.raises(SmallDateError, match=rf"stages {plan.staged_bytes:,} bytes and needs about"):
        stage(cloud, mirror, "r1", free_bytes=plan.staged_bytes)
    assert not (tmp_path / "mirror").exists()  # nothing copied
    staged = stage(cloud, mirror, "r1", free_bytes=3 * plan.staged_bytes)
    assert staged.bytes == plan.staged_bytes
    assert sorted(k for k in mirror.list("") if not k.startswith("_runs/")) == sorted(
        k for k in staged.keys if not k.startswith("_runs/")
    )
