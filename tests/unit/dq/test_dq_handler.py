"""The cloud verdict step under moto: the audit's verdict in S3 -> metrics, one alert at most, a Catch-able error."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from ecomlake.contract import ZONE_BUCKET_ENV, EnvVar, Zone
from ecomlake.exceptions import DataQualityError, InvalidArgumentError
from ecomlake.runs.audit import audit_storage, local_engine
from ecomlake.storage import LocalStorage, S3Storage
from handlers import _aws, data_quality
from tests.unit.lambda_support import LambdaContext, emf_metrics, load_event, log_lines
from tests.unit.lambda_support import metric_sum as emf_sum

D1, D2, D3 = "2025-01-04", "2025-01-05", "2025-01-06"
RUN = "run-0002"
# One bucket per environment variable (the runs zone shares the reports bucket, as in the stack).
BUCKET_OF_VAR = {
    var: "ecomlake-test-" + var.removeprefix("ECOMLAKE_").removesuffix("_BUCKET").lower().replace("_", "-")
    for var in set(ZONE_BUCKET_ENV.values())
}
BUCKETS = {zone: BUCKET_OF_VAR[var] for zone, var in ZONE_BUCKET_ENV.items()}
REPORTS = BUCKETS[Zone.REPORTS]
CONTEXT = LambdaContext(function_name="ecomlake-test-data-quality")


@pytest.fixture
def aws(monkeypatch):
    """Buckets per zone, an alerts topic with an SQS subscriber, and the env the stack sets."""
    _aws.reset_clients()
    with mock_aws():
        s3 = boto3.client("s3")
        for var, bucket in BUCKET_OF_VAR.items():
            s3.create_bucket(Bucket=bucket)
            monkeypatch.setenv(var, bucket)
        sns, sqs = boto3.client("sns"), boto3.client("sqs")
        topic = sns.create_topic(Name="ecomlake-test-alerts")["TopicArn"]
        queue_url = sqs.create_queue(QueueName="alerts")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
        monkeypatch.setenv(EnvVar.ALERTS_TOPIC_ARN, topic)
        monkeypatch.setenv(EnvVar.STAGE, "test")
        yield {"s3": s3, "sqs": sqs, "queue": queue_url}
    _aws.reset_clients()


def audited(lake: Path) -> None:
    """Audit run RUN of the local lake (the Glue job's part), then copy the lake into the buckets."""
    audit_storage(LocalStorage(lake), RUN, local_engine(lake, RUN), now=datetime(2025, 1, 6, 3, tzinfo=UTC))
    storage = S3Storage(BUCKETS)
    for path in sorted(p for p in lake.rglob("*") if p.is_file() and not p.name.startswith(".")):
        storage.write_bytes(path.relative_to(lake).as_posix(), path.read_bytes())


def alerts(aws) -> list[dict]:
    got = aws["sqs"].receive_message(QueueUrl=aws["queue"], MaxNumberOfMessages=10, WaitTimeSeconds=0)
    return [json.loads(m["Body"]) for m in got.get("Messages", [])]


def reports_bucket_keys(aws) -> list[str]:
    return [o["Key"] for o in aws["s3"].list_objects_v2(Bucket=REPORTS).get("Contents", [])]


def test_a_passing_run_publishes_metrics_and_sends_nothing(aws, build, run_builder, lake, capsys):
    build.clean_day(D1)
    run_builder(RUN).clean_day(D2)
    audited(lake)

    out = data_quality.handler(load_event("dq_verdict_step_input.json"), CONTEXT)

    metrics = emf_metrics(capsys.readouterr().out)
    assert out == {
        "run_id": RUN,
        "passed": True,
        "dates": [D2],
        "checks": 229,
        "warnings": [],
        "metrics_published": len(metrics),
        "alerted": False,
    }
    assert emf_sum(metrics, "DQChecksFailed", {"Stage": "test"}) == 0
    assert emf_sum(metrics, "DQCriticalFailed", {"Stage": "test"}) == 0
    assert emf_sum(metrics, "RowsIn", {"Stage": "test", "Dataset": "transactions"}) == 10
    assert emf_sum(metrics, "RowsOut", {"Stage": "test", "Dataset": "clickstream"}) == 5
    assert emf_sum(metrics, "DataFreshnessHours", {"Stage": "test", "Dataset": "transactions"}) is not None
    assert alerts(aws) == []


def test_warnings_only_send_one_warning_and_the_run_goes_on(aws, build, run_builder, lake):
    build.clean_day(D1)
    run = run_builder(RUN)
    run.clean_day(D2)
    run.validation("reviews", D2, "reviews.csv", ["helpful_votes"])
    audited(lake)

    out = data_quality.handler(load_event("dq_verdict_step_input.json"), CONTEXT)

    assert (out["passed"], out["alerted"], out["warnings"]) == (True, True, [f"reviews.schema_drift on {D2}"])
    [message] = alerts(aws)
    assert message["Subject"] == f"[ecomlake test] data quality warnings {D2}: 0 critical, 1 warning"
    assert message["MessageAttributes"]["severity"]["Value"] == "warning"
    assert message["Message"] == (
        "Data-quality checks failed on stage test.\n\n"
        f"{D2}: warnings only: pipeline continued (1 of 229 checks failed)\n"
        "  [warning] reviews.schema_drift: schema drift in reviews.csv: extra helpful_votes\n"
        f"  report: s3://{REPORTS}/_runs/{RUN}/dq/date={D2}.html\n"
    )


def test_a_critical_failure_raises_for_the_failure_notification_and_sends_nothing(
    aws, build, run_builder, lake, capsys
):
    build.clean_day(D1)
    run = run_builder(RUN)
    txns = run.clean_day(D2)["transactions"]
    txns[2]["customer_id"] = None
    run.write("transactions", txns, D2)
    audited(lake)

    with pytest.raises(DataQualityError) as err:
        data_quality.handler(load_event("dq_verdict_step_input.json"), CONTEXT)

    assert str(err.value) == (
        "1 critical data-quality check(s) failed, nothing was published: "
        f"transactions.not_null.customer_id on {D2}: 1 of 10 rows null or blank (10.00%)"
    )
    assert alerts(aws) == []  # one alert per failed run: the pipeline's failure notification
    metrics = emf_metrics(capsys.readouterr().out)
    assert emf_sum(metrics, "DQCriticalFailed", {"Stage": "test"}) == 1
    check = {"Stage": "test", "Dataset": "transactions", "Check": "transactions.not_null.customer_id"}
    assert emf_sum(metrics, "DQChecksFailed", check) == 1
    assert len([dims for name, dims, _v in metrics if name == "DQChecksFailed" and "Check" in dims]) == 1


def test_a_backfill_reports_freshness_for_its_last_date_only(aws, build, run_builder, lake, capsys):
    build.clean_day(D1)
    run = run_builder(RUN)
    run.clean_day(D2)
    run.clean_day(D3)
    audited(lake)

    out = data_quality.handler({"run_id": RUN}, CONTEXT)

    assert out["dates"] == [D2, D3]
    metrics = emf_metrics(capsys.readouterr().out)
    freshness = [v for name, dims, v in metrics if name == "DataFreshnessHours" and dims["Dataset"] == "transactions"]
    assert len(freshness) == 1
    assert emf_sum(metrics, "RowsIn", {"Stage": "test", "Dataset": "transactions"}) == 20  # both dates


def test_a_run_without_a_verdict_fails_and_sends_nothing(aws):
    with pytest.raises(
        DataQualityError, match=f"^run {RUN} has no audit verdict; an unaudited run is never published$"
    ):
        data_quality.handler({"run_id": RUN}, CONTEXT)
    assert alerts(aws) == []


@pytest.mark.parametrize(
    ("fixture", "message", "error_type"),
    [
        ("dq_verdict_run_id_missing.json", "event needs a 'run_id' string, got None", "InvalidArgumentError"),
        ("dq_verdict_run_id_not_text.json", "event needs a 'run_id' string, got 20250105", "InvalidArgumentError"),
        (
            "dq_verdict_run_id_escapes.json",
            "invalid run id '../_catalog'; use letters, digits, '_', '.' and '-' "
            "(at most 80, not starting with a symbol)",
            "InvalidArgumentError",
        ),
        (
            "malformed_event_is_a_list.json",
            "event must be an object with a 'run_id', got list",
            "InvalidArgumentError",
        ),
    ],
)
def test_a_malformed_step_input_fails_with_one_clear_error(aws, capsys, fixture, message, error_type):
    # Raised, not returned: the state machine's Catch records it and nothing is published;
    # InvalidArgumentError is not one of the Lambda service errors its retrier retries.
    with pytest.raises(InvalidArgumentError) as err:
        data_quality.handler(load_event(fixture), CONTEXT)
    assert str(err.value) == message
    printed = capsys.readouterr().out
    (line,) = [entry for entry in log_lines(printed) if entry["level"] == "ERROR"]
    assert line["message"] == f"invalid event: {message}"
    assert line["error_type"] == error_type
    assert emf_sum(emf_metrics(printed), "InvalidEvents", {"Stage": "test"}) == 1
    assert reports_bucket_keys(aws) == []
    assert alerts(aws) == []


def test_the_step_reads_no_table_data():
    # The verdict step needs neither DuckDB nor Spark: the function ships without the DuckDB layer.
    engines = "('duckdb', 'pyspark', 'pyarrow')"
    probe = f"import sys, handlers.data_quality; print(sorted(m for m in {engines} if m in sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=Path(__file__).parents[3]
    )
    assert done.stdout.strip() == "[]"
