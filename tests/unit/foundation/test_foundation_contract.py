"""Contract: dates, keys and names that infrastructure and runtime must spell the same way."""

from __future__ import annotations

import pytest

from ecomlake.contract import (
    DATASETS,
    RAW_FILE_NAMES,
    RAW_KEY_RE,
    Dataset,
    Job,
    JobArg,
    Zone,
    dq_report_key,
    glue_database,
    job_arguments,
    parse_dataset,
    parse_date,
    partition_prefix,
    raw_key,
    run_summary_key,
    table_prefix,
    to_date,
    validation_report_key,
)
from ecomlake.exceptions import EcomlakeError, InvalidArgumentError, InvalidDateError, UnknownDatasetError


@pytest.mark.parametrize("value", ["2025-01-01", "2024-02-29", " 2025-12-31 "])
def test_parse_date_accepts_calendar_days(value):
    assert parse_date(value) == value.strip()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2025-13-01", "no such calendar day"),
        ("2025-02-29", "no such calendar day"),
        ("01/02/2025", "expected YYYY-MM-DD"),
        ("2025-1-5", "expected YYYY-MM-DD"),
        ("20250105", "expected YYYY-MM-DD"),
        ("", "expected YYYY-MM-DD"),
        ("0000-01-01", "no such calendar day"),
        # Digits of another script would make a key no other tool reads as a date.
        ("\u0968\u0966\u0968\u096b-01-01", "expected YYYY-MM-DD"),
        ("2025-01-0\u0661", "expected YYYY-MM-DD"),
    ],
)
def test_parse_date_rejects_with_a_clear_error(value, message):
    with pytest.raises(InvalidDateError, match=message) as err:
        parse_date(value)
    assert isinstance(err.value, InvalidArgumentError)
    assert isinstance(err.value, EcomlakeError)
    assert "\n" not in str(err.value)


def test_to_date():
    assert to_date("2025-03-31").toordinal() - to_date("2025-03-01").toordinal() == 30


@pytest.mark.parametrize("dataset", list(Dataset))
def test_raw_key_round_trips_through_the_router_pattern(dataset):
    key = raw_key(dataset, "2025-01-15", RAW_FILE_NAMES[dataset])
    assert key == f"raw/{dataset}/date=2025-01-15/{RAW_FILE_NAMES[dataset]}"
    match = RAW_KEY_RE.match(key)
    assert match
    assert match.group("dataset", "date", "file") == (str(dataset), "2025-01-15", RAW_FILE_NAMES[dataset])
    assert parse_dataset(match.group("dataset")) is dataset


@pytest.mark.parametrize(
    "key",
    [
        "raw/transactions/2025-01-15/transactions.csv",
        "processed/transactions/date=2025-01-15/x.parquet",
        "raw/transactions/date=2025-01-15/sub/transactions.csv",
        "raw/transactions/date=15-01-2025/transactions.csv",
        "raw/Transactions/date=2025-01-15/transactions.csv",
    ],
)
def test_keys_outside_the_layout_do_not_match(key):
    assert RAW_KEY_RE.match(key) is None


def test_partition_and_table_prefixes():
    assert partition_prefix(Zone.PROCESSED, "transactions", "2025-01-02") == "processed/transactions/date=2025-01-02/"
    assert partition_prefix("curated", "fact_sales", "2025-01-02") == "curated/fact_sales/date=2025-01-02/"
    assert table_prefix(Zone.CURATED, "dim_products") == "curated/dim_products/"
    with pytest.raises(InvalidDateError):
        partition_prefix(Zone.RAW, "transactions", "2025-02-30")
    with pytest.raises(ValueError, match="not a valid Zone"):
        partition_prefix("bronze", "transactions", "2025-01-02")


def test_operational_keys():
    assert run_summary_key(Job.TRANSACTION_ETL, "2025-01-02") == "_reports/etl/transaction_etl/date=2025-01-02.json"
    assert validation_report_key("reviews", "2025-01-02", "reviews.csv") == (
        "_reports/validation/reviews/date=2025-01-02/reviews.csv.json"
    )
    assert dq_report_key("2025-01-02", "html") == "_reports/dq/date=2025-01-02.html"


def test_parse_dataset():
    assert parse_dataset(" Clickstream ") is Dataset.CLICKSTREAM
    with pytest.raises(UnknownDatasetError, match="unknown dataset 'orders'; expected one of: transactions, products"):
        parse_dataset("orders")
    assert tuple(RAW_FILE_NAMES) == DATASETS


def test_glue_names_and_job_arguments():
    assert glue_database("Dev-EU") == "ecomlake_dev_eu"
    args = job_arguments(["2025-01-01", "2025-01-02"], {JobArg.RAW_URI: "s3://raw"})
    assert args == {"--dates": "2025-01-01,2025-01-02", "--raw_uri": "s3://raw"}
    with pytest.raises(InvalidDateError):
        job_arguments(["2025-01-32"], {})
