"""The audit's S3 side under moto: journals, reports and the verdict through S3Storage, the Glue job's arguments."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from ecomlake.contract import Zone
from ecomlake.dq.engine_duckdb import DuckDBEngine, count_reasons_local
from ecomlake.dq.facts import FactsLoader
from ecomlake.dq.glue_job import require_current_base, thresholds_from_args
from ecomlake.dq.rules import DEFAULT_THRESHOLDS, Thresholds
from ecomlake.exceptions import DataQualityError, InvalidArgumentError
from ecomlake.runs.audit import audit_storage, check_verdict
from ecomlake.snapshots import PublishConflictError, load_published
from ecomlake.snapshots.journal import run_changes
from ecomlake.storage import LocalStorage, S3Storage

D1, D2 = "2025-01-04", "2025-01-05"
RUN = "run-0002"
BUCKETS = {
    Zone.RAW: "lake-raw",
    Zone.PROCESSED: "lake-processed",
    Zone.CURATED: "lake-curated",
    Zone.QUARANTINE: "lake-quarantine",
    Zone.REPORTS: "lake-reports",
    Zone.RUNS: "lake-reports",
    Zone.CATALOG: "lake-reports",
}


@pytest.fixture
def s3():
    with mock_aws():
        client = boto3.client("s3")
        for bucket in set(BUCKETS.values()):
            client.create_bucket(Bucket=bucket)
        yield client


def upload(lake: Path) -> S3Storage:
    storage = S3Storage(BUCKETS)
    for path in sorted(p for p in lake.rglob("*") if p.is_file() and not p.name.startswith(".")):
        storage.write_bytes(path.relative_to(lake).as_posix(), path.read_bytes())
    return storage


def _lake_with_a_run(build, run_builder) -> None:
    build.clean_day(D1)
    run = run_builder(RUN)
    run.clean_day(D2)
    run.quarantine("transactions", D2, {"bad_date": 2, "bad_number": 1})
    run.validation("transactions", D2, "transactions.csv", ["coupon"])
    run.storage.write_bytes(
        f"quarantine/transactions/date={D2}/old.csv.reason.json", b'{"rule": "encoding", "detail": "not UTF-8"}'
    )


def test_facts_read_from_s3_equal_the_local_ones(s3, build, run_builder, lake):
    _lake_with_a_run(build, run_builder)
    remote = upload(lake)
    local = LocalStorage(lake)
    view = load_published(local).overlay(run_changes(local, RUN))
    assert load_published(remote).overlay(run_changes(remote, RUN)) == view

    def counted(_unit, prefixes):
        return count_reasons_local(lake, prefixes)  # the engine's part: the same rows either way

    from_s3 = FactsLoader(remote, view, counted).load_all([D1, D2])
    assert from_s3 == FactsLoader(local, view, counted).load_all([D1, D2])
    facts = from_s3[D2]
    assert facts.summaries["transactions"]["rows_in"] == 10
    assert facts.summary_jobs == {"transaction_etl", "product_enrichment", "clickstream_aggregation"}
    assert facts.quarantined == {"transactions": {"bad_date": 2, "bad_number": 1}}
    assert facts.rejected_files == {"transactions": [{"file": "old.csv", "rule": "encoding", "detail": "not UTF-8"}]}
    assert facts.drift["transactions"][0]["extra_columns"] == ["coupon"]


def test_the_cloud_audit_writes_its_reports_and_verdict_to_the_reports_bucket(s3, build, run_builder, lake):
    _lake_with_a_run(build, run_builder)
    remote = upload(lake)

    # The engine reads the same bytes from a local copy (DuckDB cannot read S3 offline);
    # everything else -- journal, snapshot, facts, reports, verdict -- goes through S3.
    audit = audit_storage(remote, RUN, lambda view, _d, _r: DuckDBEngine(lake, view, verify_run=RUN))

    assert audit.dates == [D2]
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="lake-reports", Prefix=f"_runs/{RUN}/")["Contents"])
    assert f"_runs/{RUN}/audit.json" in keys
    assert f"_runs/{RUN}/dq/date={D2}.json" in keys
    assert f"_runs/{RUN}/dq/date={D2}.html" in keys
    verdict = json.loads(s3.get_object(Bucket="lake-reports", Key=f"_runs/{RUN}/audit.json")["Body"].read())
    assert verdict["failures"] == [
        {
            "date": D2,
            "check": "transactions.conservation",
            "detail": "in 10 = out 10 + quarantined 0; quarantine holds 3 rows, summary says 0",
        }
    ]
    assert [w["check"] for w in verdict["warned"]] == ["transactions.schema_drift"]
    with pytest.raises(DataQualityError) as err:
        check_verdict(remote, RUN)
    assert "transactions.conservation on 2025-01-05: in 10 = out 10" in str(err.value)
    # Nothing outside the run's folder was written.
    assert not [k for k in keys if not k.startswith(f"_runs/{RUN}/")]


def test_the_glue_audit_stops_when_another_run_published_first(s3, build, run_builder, lake):
    _lake_with_a_run(build, run_builder)
    remote = upload(lake)
    published = load_published(remote).seq
    remote.write_bytes(
        f"_runs/{RUN}/plan.json",
        json.dumps({"run_id": RUN, "base_seq": published, "requested": [D2], "dates": [D2]}).encode(),
    )
    require_current_base(remote, RUN)  # planned on the published snapshot: fine
    remote.write_bytes(
        f"_runs/{RUN}/plan.json",
        json.dumps({"run_id": RUN, "base_seq": published - 1, "requested": [D2], "dates": [D2]}).encode(),
    )
    with pytest.raises(PublishConflictError, match=f"planned on snapshot {published - 1} but snapshot {published}"):
        require_current_base(remote, RUN)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["x.py", "--run_id", RUN], DEFAULT_THRESHOLDS),
        (["x.py", "--dq_thresholds", '{"orphan_critical_above": 0.1}'], Thresholds(orphan_critical_above=0.1)),
        (["x.py", '--dq_thresholds={"volume_critical_below": 0.2}'], Thresholds(volume_critical_below=0.2)),
        (["x.py", "--dq_thresholds", "{}"], DEFAULT_THRESHOLDS),
    ],
)
def test_the_glue_job_takes_the_stacks_thresholds(argv, expected):
    assert thresholds_from_args(argv) == expected


def test_bad_glue_thresholds_fail_before_spark_starts():
    with pytest.raises(InvalidArgumentError, match="ECOMLAKE_DQ_THRESHOLDS is not valid JSON"):
        thresholds_from_args(["x.py", "--dq_thresholds", "{5%}"])


def test_the_glue_job_finds_the_snapshot_and_the_journals_in_the_reports_bucket(s3, build, run_builder, lake):
    from ecomlake.contract import JobArg
    from ecomlake.etl.glue import ZONE_ARGS, lake_from_args

    _lake_with_a_run(build, run_builder)
    upload(lake)
    args = {str(arg): f"s3://{BUCKETS[zone]}" for zone, arg in ZONE_ARGS.items()} | {str(JobArg.RUN_ID): RUN}
    storage = lake_from_args(args).storage
    assert storage.uri("_catalog/current.json") == "s3://lake-reports/_catalog/current.json"
    assert load_published(storage) == load_published(LocalStorage(lake))
    assert run_changes(storage, RUN) == run_changes(LocalStorage(lake), RUN)
