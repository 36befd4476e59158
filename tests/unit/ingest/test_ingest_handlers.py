"""The two Lambda handlers against moto: S3 buckets per zone, EventBridge, Step Functions."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from ecomlake.exceptions import InvalidArgumentError
from handlers import file_router, file_validator
from handlers._aws import reset_clients
from handlers._powertools import MissingConfigurationError
from tests.unit.ingest.ingest_samples import (
    CLEAN_FILES,
    gz,
    load_event,
    products_jsonl,
    reviews_csv,
    transactions_csv,
)
from tests.unit.lambda_support import LambdaContext, emf_metrics, log_lines, metric_sum

RAW = "ecomlake-dev-raw"
QUARANTINE = "ecomlake-dev-quarantine"
REPORTS = "ecomlake-dev-reports"
TXN_KEY = "raw/transactions/date=2025-01-15/transactions.csv"
PASS_MACHINE = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})


@dataclass
class Context(LambdaContext):
    function_name: str = "ecomlake-dev-file-validator"


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
    out = capsys.readouterr().out
    (line,) = [entry for entry in log_lines(out) if entry["message"].startswith("rejected")]
    assert line["level"] == "WARNING"
    assert line["service"] == "file_validator"
    assert line["function_request_id"] == Context.aws_request_id
    assert line["function_name"] == "ecomlake-dev-file-validator"
    assert line["cold_start"] in (True, False)
    assert line["rule"] == "empty_file"
    # The rejection is counted as an EMF metric with exactly the contract's dimensions.
    assert metric_sum(emf_metrics(out), "FilesRejected", {"Stage": "dev"}) == 1


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

DAY = "2025-01-15"
ROUTER = Context(function_name="ecomlake-dev-file-router")


@pytest.fixture
def state_machine(s3: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    sfn = boto3.client("stepfunctions")
    arn = sfn.create_state_machine(
        name="ecomlake-dev-pipeline", definition=PASS_MACHINE, roleArn="arn:aws:iam::123456789012:role/ecomlake-sfn"
    )["stateMachineArn"]
    monkeypatch.setenv("ECOMLAKE_STATE_MACHINE_ARN", arn)
    monkeypatch.delenv("ECOMLAKE_REQUIRED_DATASETS", raising=False)
    return arn


def executions(arn: str) -> list[dict[str, Any]]:
    return boto3.client("stepfunctions").list_executions(stateMachineArn=arn)["executions"]


def execution_input(execution: dict[str, Any]) -> dict[str, Any]:
    described = boto3.client("stepfunctions").describe_execution(executionArn=execution["executionArn"])
    return json.loads(described["input"])


def land(s3: Any, dataset: str, data: bytes | None = None, file_name: str | None = None) -> dict[str, Any]:
    """Put a raw file, run the validator on its S3 event, and return the "Raw File Accepted" event.

    The fixture events carry example ETags and sizes; the real object's are patched in, as
    S3 and the validator would report them.
    """
    default_name, sample = CLEAN_FILES[dataset]
    key = f"raw/{dataset}/date={DAY}/{file_name or default_name}"
    body_bytes = sample() if data is None else data
    etag = s3.put_object(Bucket=RAW, Key=key, Body=body_bytes)["ETag"].strip('"')
    created = load_event("s3_object_created_transactions")
    created["detail"]["object"].update(key=key, size=len(body_bytes), etag=etag)
    file_validator.handler(created, Context())
    accepted = load_event("raw_file_accepted" if dataset == "transactions" else f"raw_file_accepted_{dataset}")
    accepted["detail"]["object"].update(key=key, size=len(body_bytes), etag=etag)
    return accepted


def test_router_waits_until_every_dataset_of_the_date_is_accepted(
    s3: Any, state_machine: str, capsys: pytest.CaptureFixture[str]
) -> None:
    result = file_router.handler(land(s3, "transactions"), ROUTER)
    (run,) = result["runs"]
    assert (run["status"], run["date"], run["key"]) == ("waiting", DAY, TXN_KEY)
    assert run["missing"] == ["products", "clickstream", "reviews"]
    assert run["present"] == ["transactions"]
    assert (result["started"], result["waiting"]) == (0, 1)
    assert executions(state_machine) == []
    logged = log_lines(capsys.readouterr().out)
    (line,) = [entry for entry in logged if entry["service"] == "file_router"]
    assert (line["level"], line["status"], line["missing"]) == ("INFO", "waiting", run["missing"])
    assert "products, clickstream, reviews" in line["message"]


def test_router_starts_one_execution_when_the_last_dataset_arrives(s3: Any, state_machine: str) -> None:
    statuses = [file_router.handler(land(s3, ds), ROUTER)["runs"][0]["status"] for ds in CLEAN_FILES]
    assert statuses == ["waiting", "waiting", "waiting", "started"]
    (execution,) = executions(state_machine)
    payload = execution_input(execution)
    assert payload["dates"] == [DAY]
    assert payload["datasets"] == ["transactions", "products", "clickstream", "reviews"]
    assert payload["trigger"]["key"] == f"raw/reviews/date={DAY}/reviews.csv"
    assert re.fullmatch(rf"{DAY}-[0-9a-f]{{32}}", execution["name"])


def test_redelivered_event_starts_nothing_new(s3: Any, state_machine: str) -> None:
    events = [land(s3, ds) for ds in CLEAN_FILES]
    first = file_router.handler(events[-1], ROUTER)
    again = file_router.handler(events[-1], ROUTER)
    # A late (re)delivery of an earlier file's event maps to the same file set, hence the same run.
    earlier = file_router.handler(events[0], ROUTER)
    assert first["runs"][0]["status"] == "started"
    assert again["runs"][0]["status"] == "already_started"
    assert earlier["runs"][0]["status"] == "already_started"
    assert again["runs"][0]["name"] == earlier["runs"][0]["name"] == first["runs"][0]["name"]
    assert (again["started"], earlier["started"]) == (0, 0)
    (execution,) = executions(state_machine)
    assert again["runs"][0]["execution_arn"] == execution["executionArn"] == first["runs"][0]["execution_arn"]


def test_corrected_file_landed_later_starts_a_second_run(s3: Any, state_machine: str) -> None:
    for ds in CLEAN_FILES:
        file_router.handler(land(s3, ds), ROUTER)
    (first,) = executions(state_machine)
    corrected = transactions_csv().replace(b"19.99,39.98", b"19.98,39.96")
    result = file_router.handler(land(s3, "transactions", corrected), ROUTER)
    assert result["runs"][0]["status"] == "started"
    runs = executions(state_machine)
    assert len(runs) == 2
    (second,) = [r for r in runs if r["name"] != first["name"]]
    assert second["name"].startswith(f"{DAY}-")
    payload = execution_input(second)
    assert payload["datasets"] == ["transactions", "products", "clickstream", "reviews"]
    assert payload["trigger"]["key"] == TXN_KEY


def test_rejected_file_does_not_count_towards_completeness(s3: Any, state_machine: str) -> None:
    for ds in ("transactions", "products", "clickstream"):
        file_router.handler(land(s3, ds), ROUTER)
    broken = b"review_id,rating,comment\nR1,5,ok\n"  # required columns missing: rejected whole
    event = land(s3, "reviews", broken)
    result = file_router.handler(event, ROUTER)
    (run,) = result["runs"]
    assert run["status"] == "waiting"
    assert run["missing"] == ["reviews"]
    assert run["rejected"] == [f"raw/reviews/date={DAY}/reviews.csv"]
    assert executions(state_machine) == []
    # A good file under another name completes the date; the rejected one is not a dataset of the run.
    file_router.handler(land(s3, "reviews", file_name="reviews-resent.csv"), ROUTER)
    (execution,) = executions(state_machine)
    assert execution_input(execution)["datasets"] == ["transactions", "products", "clickstream", "reviews"]


def test_file_awaiting_revalidation_does_not_count(s3: Any, state_machine: str) -> None:
    for ds in ("transactions", "products", "clickstream"):
        file_router.handler(land(s3, ds), ROUTER)
    event = land(s3, "reviews", b"review_id,rating,comment\nR1,5,ok\n")
    # The sender overwrites the rejected file; its new version has no report yet.
    s3.put_object(Bucket=RAW, Key=f"raw/reviews/date={DAY}/reviews.csv", Body=reviews_csv())
    run = file_router.handler(event, ROUTER)["runs"][0]
    assert (run["status"], run["missing"]) == ("waiting", ["reviews"])
    assert run["pending"] == [f"raw/reviews/date={DAY}/reviews.csv"]
    assert executions(state_machine) == []


def test_required_datasets_come_from_the_environment(
    s3: Any, state_machine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ECOMLAKE_REQUIRED_DATASETS", " products , transactions")
    first = file_router.handler(land(s3, "products"), ROUTER)["runs"][0]
    assert (first["status"], first["missing"]) == ("waiting", ["transactions"])
    second = file_router.handler(land(s3, "transactions"), ROUTER)["runs"][0]
    assert second["status"] == "started"
    (execution,) = executions(state_machine)
    assert execution_input(execution)["datasets"] == ["transactions", "products"]
    # An optional dataset landed later joins the date's file set: a new run that includes it.
    third = file_router.handler(land(s3, "reviews"), ROUTER)["runs"][0]
    assert third["status"] == "started"
    assert third["input"]["datasets"] == ["transactions", "products", "reviews"]
    assert len(executions(state_machine)) == 2


def test_unknown_required_dataset_is_a_configuration_error(state_machine: str, monkeypatch) -> None:
    monkeypatch.setenv("ECOMLAKE_REQUIRED_DATASETS", "transactions,orders")
    with pytest.raises(InvalidArgumentError, match="ECOMLAKE_REQUIRED_DATASETS: unknown dataset 'orders'"):
        file_router.handler(load_event("raw_file_accepted"), ROUTER)


def test_objects_of_one_date_in_one_event_share_one_run(s3: Any, state_machine: str) -> None:
    land(s3, "transactions")
    land(s3, "clickstream")
    for ds in ("products", "reviews"):
        land(s3, ds)
    result = file_router.handler(load_event("s3_notification_records_same_date"), ROUTER)
    assert [r["key"] for r in result["runs"]] == [
        f"raw/products/date={DAY}/products.json",
        f"raw/reviews/date={DAY}/reviews.csv",
    ]
    assert [r["status"] for r in result["runs"]] == ["started", "started"]
    assert result["runs"][0]["name"] == result["runs"][1]["name"]
    assert result["started"] == 1
    assert len(executions(state_machine)) == 1


def test_router_skips_keys_outside_the_layout(state_machine: str) -> None:
    result = file_router.handler(load_event("s3_object_created_outside_layout"), ROUTER)
    assert result["started"] == 0
    assert result["runs"][0]["status"] == "ignored"
    assert "no date= partition" in result["runs"][0]["detail"]
    assert executions(state_machine) == []


def test_router_reruns_a_date_whose_execution_was_aborted(s3: Any, state_machine: str) -> None:
    events = [land(s3, ds) for ds in CLEAN_FILES]
    file_router.handler(events[-1], ROUTER)
    (execution,) = executions(state_machine)
    boto3.client("stepfunctions").stop_execution(executionArn=execution["executionArn"])
    result = file_router.handler(events[-1], ROUTER)
    (run,) = result["runs"]
    assert (run["status"], run["name"]) == ("started", f"{execution['name']}-r2")
    assert run["rerun_of"] == {"name": execution["name"], "status": "ABORTED"}
    assert result["started"] == 1
    assert sorted(e["name"] for e in executions(state_machine)) == [execution["name"], f"{execution['name']}-r2"]
    # The re-run is under way: a duplicate delivery starts nothing more.
    assert file_router.handler(events[-1], ROUTER)["runs"][0]["status"] == "already_started"
    assert len(executions(state_machine)) == 2


@pytest.mark.parametrize("variable", ["ECOMLAKE_STATE_MACHINE_ARN", "ECOMLAKE_REPORTS_BUCKET"])
def test_router_needs_its_environment(state_machine: str, monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    monkeypatch.delenv(variable, raising=False)
    with pytest.raises(MissingConfigurationError, match=f"{variable} not set"):
        file_router.handler(load_event("raw_file_accepted"), ROUTER)
    assert executions(state_machine) == []


# --------------------------------------------------------------------------- malformed events


@pytest.mark.parametrize(
    ("fixture", "message"),
    [
        ("malformed_records_not_a_list", "'Records' must be a list of S3 event records, got 'x'"),
        ("malformed_records_item_not_an_object", "Records[0] must be an S3 event record (an object), got 'x'"),
        ("malformed_object_size_not_a_number", "detail.object.size must be a whole number of bytes, got 'abc'"),
        ("malformed_object_key_not_text", "detail.object.key must be a non-empty string, got ["),
        ("malformed_event_is_a_list", "expected a JSON object event, got list"),
        ("partitions_invalid_date", "invalid date '2025-02-30'; no such calendar day"),
        ("partitions_dates_not_a_list", "'dates' must be a list of strings, got {'from': '2025-01-15'}"),
    ],
)
def test_validator_answers_a_malformed_event_once_without_a_retry(
    s3: Any, published, capsys: pytest.CaptureFixture[str], fixture: str, message: str
) -> None:
    s3.put_object(Bucket=RAW, Key=TXN_KEY, Body=transactions_csv())
    # Returns (an async invocation that raised would be retried twice, then dead-lettered).
    result = file_validator.handler(load_event(fixture), Context())
    assert result["status"] == "invalid_event"
    assert result["error"].startswith(message)
    assert (result["files"], result["rejected"]) == ([], 0)
    out = capsys.readouterr().out
    errors = [line for line in log_lines(out) if line["level"] == "ERROR"]
    assert [e["message"] for e in errors] == [f"invalid event: {result['error']}"]
    assert "Traceback" not in out
    assert metric_sum(emf_metrics(out), "InvalidEvents", {"Stage": "dev"}) == 1
    # Nothing was validated, quarantined, reported or announced.
    assert keys(s3, QUARANTINE) == keys(s3, REPORTS) == []
    assert published() == []


def test_router_answers_a_malformed_event_once_without_a_retry(
    state_machine: str, capsys: pytest.CaptureFixture[str]
) -> None:
    result = file_router.handler(load_event("malformed_records_not_a_list"), ROUTER)
    assert result == {
        "status": "invalid_event",
        "error": "'Records' must be a list of S3 event records, got 'x'",
        "runs": [],
        "started": 0,
        "waiting": 0,
    }
    out = capsys.readouterr().out
    assert [e["level"] for e in log_lines(out) if e["level"] == "ERROR"] == ["ERROR"]
    assert metric_sum(emf_metrics(out), "InvalidEvents", {"Stage": "dev"}) == 1
    assert executions(state_machine) == []


def test_a_single_date_string_is_one_date_not_ten_characters(s3: Any) -> None:
    s3.put_object(Bucket=RAW, Key=TXN_KEY, Body=transactions_csv())
    result = file_validator.handler(load_event("partitions_dates_as_a_string"), Context())
    assert result["accepted_keys"] == [TXN_KEY]
    assert result["rejected"] == 0


def test_url_encoded_key_of_an_s3_eventbridge_event_is_decoded(s3: Any, published) -> None:
    from aws_lambda_powertools.utilities.data_classes import S3EventBridgeNotificationEvent

    key = "raw/transactions/date=2025-01-15/transactions (resent).csv"
    event = load_event("s3_object_created_url_encoded_key")
    # Independent oracle: Powertools' typed event class decodes the same way.
    assert S3EventBridgeNotificationEvent(event).detail.object.key == key
    s3.put_object(Bucket=RAW, Key=key, Body=transactions_csv())
    result = file_validator.handler(event, Context())
    assert [(f["key"], f["status"]) for f in result["files"]] == [(key, "accepted")]
    (announced,) = published()
    assert announced["detail"]["object"]["key"] == key


def test_url_encoded_keys_of_s3_notification_records_match_powertools() -> None:
    from aws_lambda_powertools.utilities.data_classes import S3Event

    from ecomlake.ingest.events import parse_object_events

    event = load_event("s3_notification_records")
    (obj,) = parse_object_events(event)
    assert obj.key == S3Event(event).object_key == "raw/transactions/date=2025-01-15/transactions late.csv"


def test_keys_of_our_own_accepted_events_are_not_decoded_twice(state_machine: str) -> None:
    # The validator writes the decoded key into "Raw File Accepted": '+' and '%20' are literal there.
    result = file_router.handler(load_event("raw_file_accepted_literal_plus_key"), ROUTER)
    assert [r["key"] for r in result["runs"]] == ["raw/transactions/date=2025-01-15/a+b%20c.csv"]


def test_the_object_body_is_streamed_and_concatenated_gzip_members_are_read(
    s3: Any, published, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`cat a.gz b.gz` with a first member inflating past 1 MiB: read whole, from the S3 body stream."""
    import os

    from ecomlake.storage import S3Storage

    def whole_read(self: Any, key: str) -> bytes:
        raise AssertionError(f"{key} was read whole; the validator must stream the body")

    monkeypatch.setattr(S3Storage, "read_bytes", whole_read)
    header, *_ = transactions_csv().decode().splitlines()
    rows = [f"T{i},C{os.urandom(6).hex()},P1,2,19.99,39.98,2025-01-15,completed" for i in range(25_000)]
    first = (header + "\n" + "\n".join(rows) + "\n").encode()
    assert len(first) > 1 << 20
    data = gz(first) + gz(b"T999999,C1,P1,1,5.00,5.00,2025-01-15,completed\n")
    key = TXN_KEY + ".gz"
    s3.put_object(Bucket=RAW, Key=key, Body=data)
    event = load_event("s3_object_created_transactions")
    event["detail"]["object"]["key"] = key
    event["detail"]["object"]["size"] = len(data)
    result = file_validator.handler(event, Context())
    (file,) = result["files"]
    assert (file["status"], file["rows"], file["valid_rows"]) == ("accepted", 25_001, 25_001)
