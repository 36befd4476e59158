"""Routing keys, execution names and event parsing."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecomlake.contract import Dataset
from ecomlake.exceptions import InvalidArgumentError, InvalidKeyError
from ecomlake.ingest import Route, Trigger, execution_name, ingest_files, pipeline_input, route_key
from ecomlake.ingest.events import UnsupportedEventError, parse_object_events, parse_partitions
from ecomlake.ingest.router import (
    EXECUTION_NAME_RE,
    AcceptedFile,
    date_execution_name,
    date_pipeline_input,
    execution_arn,
    required_datasets,
)
from ecomlake.ingest.service import date_readiness
from ecomlake.storage import LocalStorage
from tests.unit.ingest.ingest_samples import load_event, products_jsonl, reviews_csv, transactions_csv


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


# --------------------------------------------------------------------------- one run per complete date

TXN = AcceptedFile("raw/transactions/date=2025-01-15/transactions.csv", "e1", 190)
PRD = AcceptedFile("raw/products/date=2025-01-15/products.json", '"e2"', 412)


def test_date_execution_name_depends_on_the_file_set_only() -> None:
    name = date_execution_name("2025-01-15", [TXN, PRD])
    assert EXECUTION_NAME_RE.fullmatch(name)
    assert len(name) == 43
    assert name.startswith("2025-01-15-")
    assert name == date_execution_name("2025-01-15", [PRD, TXN])  # order of discovery does not matter
    # A quoted ETag (S3 API) and a bare one (events) are the same version; size is only a fallback.
    assert name == date_execution_name("2025-01-15", [TXN, AcceptedFile(PRD.key, "e2", 999)])
    assert name != date_execution_name("2025-01-15", [TXN, AcceptedFile(PRD.key, "e3", 412)])
    assert name != date_execution_name("2025-01-15", [TXN])
    assert name != date_execution_name("2025-01-16", [TXN, PRD])
    # Without an ETag (local lake) the size tells versions apart.
    assert date_execution_name("2025-01-15", [AcceptedFile(TXN.key, None, 1)]) != date_execution_name(
        "2025-01-15", [AcceptedFile(TXN.key, None, 2)]
    )


def test_date_pipeline_input_lists_datasets_in_contract_order() -> None:
    payload = date_pipeline_input("2025-01-15", ["reviews", Dataset.TRANSACTIONS, "reviews"], Trigger(TXN.key))
    assert payload == {"dates": ["2025-01-15"], "datasets": ["transactions", "reviews"], "trigger": {"key": TXN.key}}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ("transactions", "products", "clickstream", "reviews")),
        ("", ("transactions", "products", "clickstream", "reviews")),
        ("reviews, Transactions", ("transactions", "reviews")),
        ("clickstream,,clickstream", ("clickstream",)),
    ],
)
def test_required_datasets(value: str | None, expected: tuple[str, ...]) -> None:
    env = {} if value is None else {"ECOMLAKE_REQUIRED_DATASETS": value}
    assert tuple(ds.value for ds in required_datasets(env)) == expected


@pytest.mark.parametrize("value", ["transactions,orders", " , "])
def test_required_datasets_refuses_bad_values(value: str) -> None:
    with pytest.raises(InvalidArgumentError, match="ECOMLAKE_REQUIRED_DATASETS"):
        required_datasets({"ECOMLAKE_REQUIRED_DATASETS": value})


def test_execution_arn_is_derived_from_the_state_machine() -> None:
    machine = "arn:aws:states:eu-west-1:123456789012:stateMachine:ecomlake-dev-pipeline"
    assert execution_arn(machine, "2025-01-15-abc") == (
        "arn:aws:states:eu-west-1:123456789012:execution:ecomlake-dev-pipeline:2025-01-15-abc"
    )
    assert execution_arn(machine + ":3", "x") is None  # a version ARN: no derivable execution ARN


def test_date_readiness_in_a_local_lake(tmp_path: Path, src_dir: Path) -> None:
    lake = tmp_path / "lake"
    (src_dir / "transactions.csv").write_bytes(transactions_csv())
    (src_dir / "products.json").write_bytes(products_jsonl())
    (src_dir / "reviews.csv").write_bytes(b"")
    ingest_files(lake, [src_dir / "transactions.csv"], "transactions", "2025-01-15")
    ingest_files(lake, [src_dir / "products.json"], "products", "2025-01-15")
    ingest_files(lake, [src_dir / "reviews.csv"], "reviews", "2025-01-15")
    storage = LocalStorage(lake)
    readiness = date_readiness(storage, "2025-01-15")
    assert readiness.present == [Dataset.TRANSACTIONS, Dataset.PRODUCTS]
    assert readiness.missing == [Dataset.CLICKSTREAM, Dataset.REVIEWS]
    assert readiness.rejected == ("raw/reviews/date=2025-01-15/reviews.csv",)
    assert not readiness.complete
    assert [f.key for f in readiness.files] == [
        "raw/products/date=2025-01-15/products.json",
        "raw/transactions/date=2025-01-15/transactions.csv",
    ]
    assert date_readiness(storage, "2025-01-15", (Dataset.PRODUCTS, Dataset.TRANSACTIONS)).complete
    # A file replaced behind the validator's back waits for its own report.
    storage.write_bytes("raw/reviews/date=2025-01-15/reviews.csv", reviews_csv())
    later = date_readiness(storage, "2025-01-15")
    assert later.pending == ("raw/reviews/date=2025-01-15/reviews.csv",)
    assert later.rejected == ()
