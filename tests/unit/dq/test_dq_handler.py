"""The cloud DQ step under moto: S3 data in, report in S3, CloudWatch metrics, SNS alert, Catch-able error."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from ecomlake.contract import METRICS_NAMESPACE, ZONE_BUCKET_ENV, EnvVar, Zone
from ecomlake.exceptions import DataQualityError, InvalidArgumentError
from ecomlake.storage import S3Storage
from handlers import _aws, data_quality
from tests.unit.lambda_support import LambdaContext, emf_metrics, json_lines, log_lines
from tests.unit.lambda_support import metric_sum as emf_sum

EVENTS_DIR = Path(__file__).resolve().parents[2] / "events"

DAY = "2025-01-04"
# One bucket per environment variable (the runs zone shares the reports bucket, as in the stack).
BUCKET_OF_VAR = {
    var: "ecomlake-test-" + var.removeprefix("ECOMLAKE_").removesuffix("_BUCKET").lower().replace("_", "-")
    for var in set(ZONE_BUCKET_ENV.values())
}
BUCKETS = {zone: BUCKET_OF_VAR[var] for zone, var in ZONE_BUCKET_ENV.items()}


def event(name: str) -> dict:
    return json.loads((EVENTS_DIR / name).read_text())


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


def upload(lake: Path) -> None:
    """Copy the locally built lake into the zone buckets, key for key."""
    storage = S3Storage(BUCKETS)
    for path in sorted(p for p in lake.rglob("*") if p.is_file()):
        storage.write_bytes(path.relative_to(lake).as_posix(), path.read_bytes())


def alerts(aws) -> list[dict]:
    got = aws["sqs"].receive_message(QueueUrl=aws["queue"], MaxNumberOfMessages=10, WaitTimeSeconds=0)
    return [json.loads(m["Body"]) for m in got.get("Messages", [])]


CONTEXT = LambdaContext(function_name="ecomlake-test-data-quality")


def test_clean_day_passes_publishes_metrics_and_sends_no_alert(aws, build, lake, capsys):
    build.clean_day(DAY)
    upload(lake)

    out = data_quality.handler(event("dq_step_input.json"), CONTEXT)
    printed = capsys.readouterr().out
    metrics = emf_metrics(printed)
    namespaces = {
        d["Namespace"] for line in json_lines(printed) if "_aws" in line for d in line["_aws"]["CloudWatchMetrics"]
    }
    assert namespaces == {METRICS_NAMESPACE}

    assert out["passed"] is True
    assert (out["dates"], out["checks"], out["failed"], out["critical_failed"]) == ([DAY], 207, 0, 0)
    assert out["alerted"] is False
    assert out["by_date"][DAY]["report"] == f"s3://{BUCKETS[Zone.REPORTS]}/_reports/dq/date={DAY}.html"
    report = json.loads(
        aws["s3"].get_object(Bucket=BUCKETS[Zone.REPORTS], Key=f"_reports/dq/date={DAY}.json")["Body"].read()
    )
    assert report["passed"] is True
    assert report["summary"]["checks"] == 207
    assert report["lake"] == f"s3://{BUCKETS[Zone.PROCESSED]}/processed/"
    html = aws["s3"].get_object(Bucket=BUCKETS[Zone.REPORTS], Key=f"_reports/dq/date={DAY}.html")["Body"].read()
    assert b"PASSED" in html

    # Metrics are EMF log lines (CloudWatch extracts them): names, dimensions and values.
    names = {name for name, _dims, _value in metrics}
    assert {"DQChecksFailed", "DQCriticalFailed", "RowsIn", "RowsOut", "RowsQuarantined"} <= names
    assert "DataFreshnessHours" in names
    assert out["metrics_published"] == len(metrics)
    assert emf_sum(metrics, "DQChecksFailed", {"Stage": "test"}) == 0
    assert emf_sum(metrics, "RowsIn", {"Stage": "test", "Dataset": "transactions"}) == 10
    assert emf_sum(metrics, "RowsOut", {"Stage": "test", "Dataset": "clickstream"}) == 5
    assert alerts(aws) == []


def test_critical_failure_alerts_publishes_and_raises(aws, build, lake, capsys):
    txns = build.clean_day(DAY)["transactions"]
    txns[2]["customer_id"] = None
    build.write("transactions", txns, DAY)
    upload(lake)

    with pytest.raises(DataQualityError, match=r"1 critical data-quality check\(s\) failed: transactions.not_null"):
        data_quality.handler(event("dq_step_input.json"), CONTEXT)
    metrics = emf_metrics(capsys.readouterr().out)

    [message] = alerts(aws)
    assert message["Subject"] == f"[ecomlake test] data quality FAILED {DAY}: 1 critical, 0 warning"
    assert "[critical] transactions.not_null.customer_id: 1 of 10 rows null or blank (10.00%)" in message["Message"]
    assert f"report: s3://{BUCKETS[Zone.REPORTS]}/_reports/dq/date={DAY}.html" in message["Message"]
    assert message["MessageAttributes"]["severity"]["Value"] == "critical"

    assert emf_sum(metrics, "DQCriticalFailed", {"Stage": "test"}) == 1
    assert emf_sum(metrics, "DQCriticalFailed", {"Stage": "test", "Dataset": "transactions"}) == 1
    check = {"Stage": "test", "Dataset": "transactions", "Check": "transactions.not_null.customer_id"}
    assert emf_sum(metrics, "DQChecksFailed", check) == 1
    with_check = [dims for name, dims, _v in metrics if name == "DQChecksFailed" and "Check" in dims]
    assert len(with_check) == 1  # a per-check series only for the check that failed

    report = json.loads(
        aws["s3"].get_object(Bucket=BUCKETS[Zone.REPORTS], Key=f"_reports/dq/date={DAY}.json")["Body"].read()
    )
    assert report["critical_failures"] == ["transactions.not_null.customer_id"]


def test_warnings_alert_but_do_not_stop_the_pipeline(aws, build, lake):
    build.clean_day("2025-01-03")
    txns = build.clean_day(DAY)["transactions"]
    txns[0]["product_id"] = "P999"
    build.write("transactions", txns, DAY)
    upload(lake)

    out = data_quality.handler(event("dq_step_input_backfill.json"), CONTEXT)

    assert out["passed"] is True
    assert out["dates"] == ["2025-01-03", DAY]
    assert out["by_date"][DAY]["warnings"] == ["transactions.referential_integrity.product_id"]
    assert out["by_date"]["2025-01-03"]["warnings"] == []
    [message] = alerts(aws)
    assert message["Subject"] == f"[ecomlake test] data quality warnings {DAY}: 0 critical, 1 warning"
    assert message["MessageAttributes"]["severity"]["Value"] == "warning"
    for day in ("2025-01-03", DAY):
        aws["s3"].head_object(Bucket=BUCKETS[Zone.REPORTS], Key=f"_reports/dq/date={day}.json")


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({}, "event has no 'dates' list"),
        ({"dates": ["2025-13-01"]}, "invalid date '2025-13-01'"),
        ([], "event must be an object"),
    ],
)
def test_bad_events_are_rejected_before_any_work(bad, message):
    with pytest.raises(InvalidArgumentError, match=message):
        data_quality.parse_dates(bad)


@pytest.mark.parametrize(
    ("fixture", "message", "error_type"),
    [
        (
            "dq_step_input_dates_not_strings.json",
            "'dates' must hold YYYY-MM-DD strings, got [20250104]",
            "InvalidArgumentError",
        ),
        (
            "malformed_event_is_a_list.json",
            "event must be an object with a 'dates' list, got list",
            "InvalidArgumentError",
        ),
        ("partitions_invalid_date.json", "invalid date '2025-02-30'; no such calendar day", "InvalidDateError"),
    ],
)
def test_handler_fails_a_malformed_step_input_with_one_clear_error(aws, capsys, fixture, message, error_type):
    # Raised, not returned: the state machine's Catch records it; InvalidArgumentError is not
    # one of the Lambda service errors its retrier retries.
    with pytest.raises(InvalidArgumentError) as err:
        data_quality.handler(event(fixture), CONTEXT)
    assert str(err.value) == message
    (line,) = [entry for entry in log_lines(capsys.readouterr().out) if entry["level"] == "ERROR"]
    assert line["message"] == f"invalid event: {message}"
    assert line["error_type"] == error_type
    assert "Contents" not in aws["s3"].list_objects_v2(Bucket=BUCKETS[Zone.REPORTS])
    assert alerts(aws) == []


def test_a_single_date_string_is_one_date():
    assert data_quality.parse_dates(event("dq_step_input_single_date_string.json")) == [DAY]
