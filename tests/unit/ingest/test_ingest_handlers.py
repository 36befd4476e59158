"""The two Lambda handlers against moto: S3 buckets per zone, EventBridge, Step Functions."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from handlers import file_router, file_validator
from handlers._aws import reset_clients
from tests.unit.ingest.ingest_samples import gz, load_event, products_jsonl, transactions_csv

RAW = "ecomlake-dev-raw"
QUARANTINE = "ecomlake-dev-quarantine"
REPORTS = "ecomlake-dev-reports"
TXN_KEY = "raw/transactions/date=2025-01-15/transactions.csv"
PASS_MACHINE = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})


@dataclass
class Context:
    function_name: str = "ecomlake-dev-file-validator"
    aws_request_id: str = "6f1c3f1e-0000-4000-8000-000000000001"


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("ECOMLAKE_RAW_BUCKET", RAW)
    monkeypatch.setenv("ECOMLAKE_QUARANTINE_BUCKET", QUARANTINE)
    monkeypatch.setenv("ECOMLAKE_REPORTS_BUCKET", REPORTS)
    monkeypatch.delenv("ECOMLAKE_MAX_FILE_BYTES", raising=False)
    with mock_aws():
        reset_clients()
        client = boto3.client("s3")
        for bucket in (RAW, QUARANTINE, REPORTS):
            client.create_bucket(Bucket=bucket)
        yield client
    reset_clients()


@pytest.fixture
def published(s3: Any) -> Callable[[], list[dict[str, Any]]]:
    """Events the validator put on the default bus, caught by a rule into an SQS queue."""
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="ingestion-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events = boto3.client("events")
    events.put_rule(Name="ingestion", EventPattern=json.dumps({"source": ["ecomlake.ingestion"]}))
    events.put_targets(Rule="ingestion", Targets=[{"Id": "queue", "Arn": arn}])

    def received() -> list[dict[str, Any]]:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(m["Body"]) for m in messages]

    return received


def body(s3: Any, bucket: str, key: str) -> bytes:
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def keys(s3: Any, bucket: str) -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []))


def test_accepted_file_gets_a_report_and_an_accepted_event(s3: Any, published) -> None:
    s3.put_object(Bucket=RAW, Key=TXN_KEY, Body=transactions_csv())
    result = file_validator.handler(load_event("s3_object_created_transactions"), Context())
    assert result["rejected"] == 0
    assert result["files"][0]["status"] == "accepted"
    report = json.loads(body(s3, REPORTS, "_reports/validation/transactions/date=2025-01-15/transactions.csv.json"))
    assert (report["status"], report["rows"], report["valid_rows"]) == ("accepted", 2, 2)
    assert report["etag"] == "b1946ac92492d2347c6235b4d2611184"
    assert keys(s3, QUARANTINE) == []
    assert keys(s3, RAW) == [TXN_KEY]
    assert body(s3, RAW, TXN_KEY) == transactions_csv()
    (event,) = published()
    assert event["detail-type"] == "Raw File Accepted"
    assert event["source"] == "ecomlake.ingestion"
    assert event["detail"]["object"]["key"] == TXN_KEY
    assert event["detail"]["dataset"] == "transactions"


def test_rejected_file_is_copied_to_quarantine_with_its_reason(s3: Any, published) -> None:
    key = "raw/reviews/date=2025-01-15/reviews.csv"
    data = b"review_id,rating,comment\nR1,5,ok\n"
    s3.put_object(Bucket=RAW, Key=key, Body=data)
    result = file_validator.handler(load_event("s3_object_created_reviews"), Context())
    assert result["rejected"] == 1
    assert result["files"][0]["rule"] == "missing_columns"
    quarantined = "quarantine/reviews/date=2025-01-15/reviews.csv"
    assert keys(s3, QUARANTINE) == [quarantined, quarantined + ".reason.json"]
    assert body(s3, QUARANTINE, quarantined) == data
    reason = json.loads(body(s3, QUARANTINE, quarantined + ".reason.json"))
    assert (reason["rule"], reason["line"], reason["column"]) == ("missing_columns", 1, "product_id")
    assert reason["source_uri"] == f"s3://{RAW}/{key}"
    assert keys(s3, RAW) == [key]
    assert body(s3, RAW, key) == data
    (event,) = published()
    assert event["detail-type"] == "Raw File Rejected"
    assert event["detail"]["rejection"]["rule"] == "missing_columns"


def test_gzip_products_are_accepted(s3: Any, published) -> None:
    s3.put_object(Bucket=RAW, Key="raw/products/date=2025-01-15/products.json.gz", Body=gz(products_jsonl()))
    result = file_validator.handler(load_event("s3_object_created_products_gz"), Context())
    assert result["files"][0]["status"] == "accepted"
    assert result["files"][0]["valid_rows"] == 2


def test_key_outside_the_layout_is_quarantined_as_unrouted(s3: Any, published) -> None:
    key = "raw/transactions/transactions.csv"
    s3.put_object(Bucket=RAW, Key=key, Body=transactions_csv())
    result = file_validator.handler(load_event("s3_object_created_outside_layout"), Context())
    assert result["files"][0]["rule"] == "bad_key"
    unrouted = f"quarantine/_unrouted/{key}"
    assert keys(s3, QUARANTINE) == [unrouted, unrouted + ".reason.json"]
    assert keys(s3, REPORTS) == []  # no dataset/date to file a report under
    assert body(s3, RAW, key) == transactions_csv()


def test_oversized_object_is_refused_from_the_event_size(s3: Any, published) -> None:
    key = "raw/clickstream/date=2025-01-15/clickstream.json"
    s3.put_object(Bucket=RAW, Key=key, Body=b'{"session_id": "S1"}\n')
    result = file_validator.handler(load_event("s3_object_created_too_large"), Context())
    assert result["files"][0]["rule"] == "too_large"
    assert "2147483648 bytes" in result["files"][0]["detail"]
    assert body(s3, QUARANTINE, "quarantine/clickstream/date=2025-01-15/clickstream.json") == b'{"session_id": "S1"}\n'


def test_folder_marker_is_ignored(s3: Any, published) -> None:
    result = file_validator.handler(load_event("s3_object_created_folder_marker"), Context())
    assert result == {
        "files": [
            {"key": "raw/transactions/date=2025-01-15/", "status": "ignored", "detail": "folder marker, not a file"}
        ],
        "rejected": 0,
    }
    assert published() == []


def test_lake_outputs_are_never_validated(s3: Any, published) -> None:
    # With one bucket for every zone, the validator's own writes must not feed back into it.
    event = load_event("s3_object_created_outside_layout")
    event["detail"]["object"]["key"] = "quarantine/_unrouted/raw/transactions/transactions.csv.reason.json"
    result = file_validator.handler(event, Context())
    assert result["files"][0]["status"] == "ignored"
    assert keys(s3, QUARANTINE) == []
    assert published() == []


def test_validator_logs_structured_json(s3: Any, published, capsys: pytest.CaptureFixture[str]) -> None:
    s3.put_object(Bucket=RAW, Key="raw/reviews/date=2025-01-15/reviews.csv", Body=b"")
    file_validator.handler(load_event("s3_object_created_reviews"), Context())
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    (line,) = [entry for entry in lines if entry["message"].startswith("rejected")]
    assert line["level"] == "WARNING"
    assert line["service"] == "file_validator"
    assert line["function_request_id"] == Context.aws_request_id
    assert line["rule"] == "empty_file"


def test_logger_levels_and_exceptions(capsys: pytest.CaptureFixture[str]) -> None:
    from handlers._aws import Logger

    log = Logger(service="probe", level="WARNING")
    log.info("quiet")
    try:
        raise ValueError("boom")
    except ValueError as err:
        log.exception("failed", err, key="k")
    (line,) = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert (line["level"], line["message"], line["key"]) == ("ERROR", "failed", "k")
    assert line["exception_name"] == "ValueError"
    assert "boom" in line["exception"]


def test_validator_revalidates_partitions_on_direct_invocation(s3: Any) -> None:
    s3.put_object(Bucket=RAW, Key=TXN_KEY, Body=transactions_csv())
    s3.put_object(Bucket=RAW, Key="raw/transactions/date=2025-01-15/bad.csv", Body=b"\x00\x01")
    result = file_validator.handler({"dates": ["2025-01-15"], "datasets": ["transactions"]}, Context())
    assert result["accepted_keys"] == [TXN_KEY]
    assert result["rejected"] == 1


def test_validator_raises_on_infrastructure_errors(s3: Any) -> None:
    # The object is missing: that is an S3 error, retried by Lambda, not a rejection.
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError):
        file_validator.handler(load_event("s3_object_created_reviews"), Context())


# --------------------------------------------------------------------------- router


@pytest.fixture
def state_machine(s3: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    sfn = boto3.client("stepfunctions")
    arn = sfn.create_state_machine(
        name="ecomlake-dev-pipeline", definition=PASS_MACHINE, roleArn="arn:aws:iam::123456789012:role/ecomlake-sfn"
    )["stateMachineArn"]
    monkeypatch.setenv("ECOMLAKE_STATE_MACHINE_ARN", arn)
    return arn


def executions(arn: str) -> list[dict[str, Any]]:
    return boto3.client("stepfunctions").list_executions(stateMachineArn=arn)["executions"]


def test_router_starts_one_execution_per_accepted_file(state_machine: str) -> None:
    event = load_event("raw_file_accepted")
    result = file_router.handler(event, Context(function_name="ecomlake-dev-file-router"))
    assert result["started"] == 1
    (run,) = result["runs"]
    (execution,) = executions(state_machine)
    assert execution["name"] == run["name"]
    assert run["name"].startswith("transactions-2025-01-15-")
    described = boto3.client("stepfunctions").describe_execution(executionArn=execution["executionArn"])
    payload = json.loads(described["input"])
    assert payload["dates"] == ["2025-01-15"]
    assert payload["datasets"] == ["transactions"]
    assert payload["trigger"]["key"] == "raw/transactions/date=2025-01-15/transactions.csv"
    # EventBridge may deliver twice: still one execution.
    file_router.handler(event, Context())
    assert len(executions(state_machine)) == 1


def test_router_starts_again_for_a_new_version_of_the_file(state_machine: str) -> None:
    event = load_event("s3_object_created_transactions")
    file_router.handler(event, Context())
    event["detail"]["object"]["etag"] = "0" * 32
    file_router.handler(event, Context())
    assert len(executions(state_machine)) == 2


def test_router_skips_keys_outside_the_layout(state_machine: str) -> None:
    result = file_router.handler(load_event("s3_object_created_outside_layout"), Context())
    assert result["started"] == 0
    assert result["runs"][0]["status"] == "ignored"
    assert "no date= partition" in result["runs"][0]["detail"]
    assert executions(state_machine) == []


def test_router_reports_an_already_finished_execution(state_machine: str) -> None:
    sfn = boto3.client("stepfunctions")
    file_router.handler(load_event("raw_file_accepted"), Context())
    (execution,) = executions(state_machine)
    sfn.stop_execution(executionArn=execution["executionArn"])
    result = file_router.handler(load_event("raw_file_accepted"), Context())
    assert result["runs"][0]["status"] == "already_started"
    assert len(executions(state_machine)) == 1


def test_router_needs_the_state_machine_arn(s3: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ECOMLAKE_STATE_MACHINE_ARN", raising=False)
    with pytest.raises(RuntimeError, match="ECOMLAKE_STATE_MACHINE_ARN"):
        file_router.handler(load_event("raw_file_accepted"), Context())
