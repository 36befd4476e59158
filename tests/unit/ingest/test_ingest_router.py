"""Routing keys, execution names and event parsing."""

from __future__ import annotations

import pytest

from ecomlake.contract import Dataset
from ecomlake.exceptions import InvalidKeyError
from ecomlake.ingest import Route, Trigger, execution_name, pipeline_input, route_key
from ecomlake.ingest.events import UnsupportedEventError, parse_object_events, parse_partitions
from tests.unit.ingest.ingest_samples import load_event


def test_route_key_reads_dataset_date_and_file() -> None:
    route = route_key("raw/clickstream/date=2025-01-15/clickstream.json.gz")
    assert route == Route(Dataset.CLICKSTREAM, "2025-01-15", "clickstream.json.gz")
    assert route.key == "raw/clickstream/date=2025-01-15/clickstream.json.gz"


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("landing/transactions/date=2025-01-15/t.csv", "not under raw/"),
        ("raw/orders/date=2025-01-15/o.csv", "unknown dataset 'orders'"),
        ("raw/transactions/date=2025-13-01/t.csv", "invalid date"),
        ("raw/transactions/date=2025-02-30/t.csv", "no such calendar day"),
        ("raw/transactions/dt=2025-01-15/t.csv", "is not date=YYYY-MM-DD"),
        ("raw/transactions/date=2025-01-15/late/t.csv", "nested path"),
        ("raw/transactions/t.csv", "no date= partition"),
        ("raw/transactions/date=2025-01-15/", "folder marker"),
        ("raw/transactions/date=2025-01-15/_SUCCESS", "starts with '.' or '_'"),
        ("raw/Transactions/date=2025-01-15/t.csv", "must be spelled 'transactions'"),
    ],
)
def test_keys_outside_the_layout_say_why(key: str, why: str) -> None:
    with pytest.raises(InvalidKeyError) as info:
        route_key(key)
    assert why in str(info.value)
    assert key in str(info.value)


def test_execution_name_is_stable_per_object_version() -> None:
    route = route_key("raw/transactions/date=2025-01-15/transactions.csv")
    first = execution_name(route, "abc")
    assert first == execution_name(route, '"abc"')  # quoted ETag from the S3 API
    assert first != execution_name(route, "abd")
    assert first.startswith("transactions-2025-01-15-")
    assert len(first) <= 80
    other = route_key("raw/transactions/date=2025-01-15/transactions-2.csv")
    assert execution_name(other, "abc") != first


def test_pipeline_input_shape() -> None:
    route = route_key("raw/reviews/date=2025-01-15/reviews.csv")
    payload = pipeline_input(route, Trigger(route.key, "bucket-1", '"e1"', 10))
    assert payload == {
        "dates": ["2025-01-15"],
        "datasets": ["reviews"],
        "trigger": {"key": route.key, "bucket": "bucket-1", "etag": "e1", "size": 10},
    }


def test_parse_eventbridge_object_created() -> None:
    (obj,) = parse_object_events(load_event("s3_object_created_transactions"))
    assert (obj.bucket, obj.key, obj.size, obj.etag) == (
        "ecomlake-dev-raw",
        "raw/transactions/date=2025-01-15/transactions.csv",
        190,
        "b1946ac92492d2347c6235b4d2611184",
    )
    assert obj.version_id == "IYV3p45BT0ac8hjHg1houSdS1a.Mq8Bz"
    assert not obj.is_folder_marker


def test_parse_classic_notification_decodes_the_key() -> None:
    (obj,) = parse_object_events(load_event("s3_notification_records"))
    assert obj.key == "raw/transactions/date=2025-01-15/transactions late.csv"
    assert obj.kind == "ObjectCreated:Put"


def test_parse_accepted_event_and_folder_marker() -> None:
    (accepted,) = parse_object_events(load_event("raw_file_accepted"))
    assert accepted.kind == "Raw File Accepted"
    assert accepted.key.endswith("transactions.csv")
    (marker,) = parse_object_events(load_event("s3_object_created_folder_marker"))
    assert marker.is_folder_marker


@pytest.mark.parametrize(
    "event",
    [
        {"source": "aws.s3", "detail-type": "Object Deleted", "detail": {}},
        {"source": "aws.s3", "detail-type": "Object Created", "detail": {"bucket": {}}},
        {"hello": "world"},
        {"Records": [{"eventSource": "aws:sqs"}]},
    ],
)
def test_unsupported_events_are_refused(event: dict) -> None:
    with pytest.raises(UnsupportedEventError):
        parse_object_events(event)


def test_parse_partitions() -> None:
    assert parse_partitions({"dates": ["2025-01-15"], "datasets": ["reviews"]}) == (["2025-01-15"], [Dataset.REVIEWS])
    assert parse_partitions({"dates": ["2025-01-15"]}) == (["2025-01-15"], list(Dataset))
    assert parse_partitions(load_event("s3_object_created_transactions")) is None
