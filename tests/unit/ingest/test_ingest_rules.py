"""The row rules: every Reason, their precedence, and the exact value formats.

The rules run as the ETL runs them (column expressions on DuckDB): ``classify_records``.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest

from ecomlake.contract import Dataset
from ecomlake.ingest import rules
from ecomlake.ingest.classifier import classify_records
from ecomlake.ingest.rules import check_row, classify_row, type_bounds
from ecomlake.schemas import RAW_SCHEMAS, Column, Reason

TXN = {
    "transaction_id": "T1",
    "customer_id": "C1",
    "product_id": "P1",
    "quantity": "2",
    "price": "19.99",
    "total_amount": "39.98",
    "transaction_date": "2025-01-15",
    "status": "completed",
}
CLICK = {
    "session_id": "S1",
    "customer_id": None,
    "event_type": "page_view",
    "page": "/",
    "timestamp": "2025-01-15T10:00:00Z",
    "device": "mobile",
}
PRODUCT = {"product_id": "P1", "name": "Lamp", "category": "Home", "brand": "Lumo", "price": "24.50", "stock": "0"}
REVIEW = {
    "review_id": "R1",
    "product_id": "P1",
    "customer_id": "C1",
    "rating": "5",
    "review_text": None,
    "review_date": "2025-01-15",
}


def txn(**changes: Any) -> dict[str, Any]:
    return {**TXN, **changes}


@pytest.mark.parametrize(
    ("dataset", "record"),
    [("transactions", TXN), ("clickstream", CLICK), ("products", PRODUCT), ("reviews", REVIEW)],
)
def test_clean_rows_pass(dataset: str, record: dict[str, Any]) -> None:
    assert classify_row(dataset, record) is None


@pytest.mark.parametrize(
    ("record", "reason", "column"),
    [
        (txn(customer_id="  "), Reason.MISSING_REQUIRED, "customer_id"),
        (txn(status=None), Reason.MISSING_REQUIRED, "status"),
        ({k: v for k, v in TXN.items() if k != "price"}, Reason.MISSING_REQUIRED, "price"),
        (txn(quantity="two"), Reason.BAD_NUMBER, "quantity"),
        (txn(price="1,200.00"), Reason.BAD_NUMBER, "price"),
        (txn(transaction_date="15/01/2025"), Reason.BAD_DATE, "transaction_date"),
        (txn(transaction_date="2025-02-30"), Reason.BAD_DATE, "transaction_date"),
        (txn(status="Completed"), Reason.UNKNOWN_ENUM, "status"),
        (txn(quantity="0", total_amount="0.00"), Reason.OUT_OF_RANGE, "quantity"),
        (txn(price="-1.00", total_amount="-2.00"), Reason.OUT_OF_RANGE, "price"),
        (txn(total_amount="40.00"), Reason.AMOUNT_MISMATCH, "total_amount"),
    ],
)
def test_each_stateless_reason(record: dict[str, Any], reason: Reason, column: str) -> None:
    fault = check_row("transactions", record)
    assert fault is not None
    assert (fault.reason, fault.column) == (reason, column)


def test_malformed_and_duplicate_reasons_come_from_the_classifier() -> None:
    faults = classify_records("transactions", [{"_error": "expected 8 fields"}, TXN, txn(customer_id="C9")])
    assert faults[0] is not None
    assert (faults[0].reason, faults[0].detail) == (Reason.MALFORMED_RECORD, "expected 8 fields")
    assert faults[1] is None
    assert faults[2] is not None
    assert (faults[2].reason, faults[2].value, faults[2].line) == (Reason.DUPLICATE_KEY, "T1", 3)


def test_every_reason_is_covered_by_a_rule() -> None:
    # If a Reason is added to schemas.py, this test asks for its rule here too.
    covered = {
        Reason.MALFORMED_RECORD,
        Reason.MISSING_REQUIRED,
        Reason.BAD_NUMBER,
        Reason.BAD_DATE,
        Reason.UNKNOWN_ENUM,
        Reason.OUT_OF_RANGE,
        Reason.AMOUNT_MISMATCH,
        Reason.DUPLICATE_KEY,
    }
    assert set(Reason) == covered


def test_first_rule_in_reason_order_wins_over_column_order() -> None:
    # bad_number on quantity (column 4) loses to missing_required on status (column 8).
    assert classify_row("transactions", txn(quantity="x", status="")) == Reason.MISSING_REQUIRED
    # bad_date loses to bad_number even though transaction_date is checked later anyway.
    assert classify_row("transactions", txn(transaction_date="nope", price="x")) == Reason.BAD_NUMBER
    # unknown_enum beats out_of_range and amount_mismatch.
    assert classify_row("transactions", txn(status="lost", quantity="5000", total_amount="1")) == Reason.UNKNOWN_ENUM
    # within a rule, the first column in schema order is named.
    fault = check_row("transactions", txn(customer_id="", product_id=""))
    assert fault is not None
    assert fault.column == "customer_id"


def test_values_are_trimmed_before_every_rule() -> None:
    assert classify_row("transactions", txn(quantity=" 2 ", status=" completed\t", price="19.99 ")) is None


@pytest.mark.parametrize("good", ["12", "12.5", "12.50", "0012.50", "-0"])
@pytest.mark.parametrize("column_type", ["decimal(10,2)"])
def test_decimal_pattern_accepts(good: str, column_type: str) -> None:
    assert re.match(rules.number_pattern(column_type), good)


@pytest.mark.parametrize("bad", ["1,200", "12.", ".5", "+3", "1e3", "12.505", "NaN", "12 50", "١٢", "$5", ""])
def test_decimal_pattern_refuses(bad: str) -> None:
    assert not re.match(rules.number_pattern("decimal(10,2)"), bad)


@pytest.mark.parametrize(("value", "ok"), [("3", True), ("-3", True), ("3.0", False), ("3.", False), ("1e2", False)])
def test_int_pattern(value: str, ok: bool) -> None:
    assert bool(re.match(rules.number_pattern("int"), value)) is ok


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("2025-01-15T10:00:00", True),
        ("2025-01-15T10:00:00Z", True),
        ("2025-01-15T10:00:00.123+00:00", True),
        ("2025-01-15 10:00:00", True),
        ("2025-01-15 10:00:00.5Z", True),
        ("2025-01-15T10:00:00+02:00", False),
        ("2025-01-15T24:00:00", False),
        ("2025-01-15T10:00", False),
        ("2025-01-15", False),
        ("2025-02-29T00:00:00", False),
        ("2025-01-15t10:00:00z", False),
        ("1736935200", False),
    ],
)
def test_timestamp_formats(value: str, ok: bool) -> None:
    assert (classify_row("clickstream", {**CLICK, "timestamp": value}) is None) is ok


@pytest.mark.parametrize(
    ("value", "ok"),
    [("2024-02-29", True), ("2025-02-29", False), ("2025-1-5", False), ("20250115", False), ("2025-01-15 ", True)],
)
def test_date_formats(value: str, ok: bool) -> None:
    assert (classify_row("reviews", {**REVIEW, "review_date": value}) is None) is ok


def test_enums_are_exact_and_case_sensitive() -> None:
    assert classify_row("clickstream", {**CLICK, "device": "Mobile"}) == Reason.UNKNOWN_ENUM
    assert classify_row("clickstream", {**CLICK, "event_type": "remove_from_cart"}) is None


def test_nullable_columns_may_be_blank() -> None:
    assert classify_row("clickstream", {**CLICK, "customer_id": "   "}) is None
    assert classify_row("reviews", {k: v for k, v in REVIEW.items() if k != "review_text"}) is None


@pytest.mark.parametrize(
    ("rating", "reason"), [("1", None), ("5", None), ("0", Reason.OUT_OF_RANGE), ("6", Reason.OUT_OF_RANGE)]
)
def test_rating_bounds_are_inclusive(rating: str, reason: Reason | None) -> None:
    assert classify_row("reviews", {**REVIEW, "rating": rating}) == reason


def test_type_bounds_narrow_column_bounds() -> None:
    stock = RAW_SCHEMAS[Dataset.PRODUCTS].column("stock")
    assert type_bounds(stock) == (Decimal(0), Decimal(2**31 - 1))
    assert type_bounds(Column("x", "decimal(5,2)")) == (Decimal("-999.99"), Decimal("999.99"))
    assert classify_row("products", {**PRODUCT, "stock": str(2**31)}) == Reason.OUT_OF_RANGE
    assert classify_row("products", {**PRODUCT, "stock": str(2**31 - 1)}) is None


@pytest.mark.parametrize(("total", "reason"), [("39.97", None), ("39.99", None), ("39.96", Reason.AMOUNT_MISMATCH)])
def test_amount_tolerance_is_one_cent(total: str, reason: Reason | None) -> None:
    assert classify_row("transactions", txn(total_amount=total)) == reason


def reasons(dataset: str, records: list[dict[str, Any]]) -> list[Reason | None]:
    return [f.reason if f else None for f in classify_records(dataset, records)]


def test_duplicates_are_claimed_by_the_first_valid_row() -> None:
    rows = [txn(quantity="bad"), TXN, txn(transaction_id=" T1 "), txn(transaction_id="T2")]
    # The invalid first row does not claim T1; the padded " T1 " is the same key once trimmed.
    assert reasons("transactions", rows) == [Reason.BAD_NUMBER, None, Reason.DUPLICATE_KEY, None]


def test_clickstream_key_compares_timestamps_as_instants() -> None:
    same_instant = {**CLICK, "timestamp": "2025-01-15 10:00:00", "page": "/home"}
    other_event = {**CLICK, "event_type": "product_view"}
    assert reasons("clickstream", [CLICK, same_instant, other_event]) == [None, Reason.DUPLICATE_KEY, None]


def test_fault_values_are_shown_raw_and_capped() -> None:
    fault = check_row("transactions", txn(quantity="x" * 500))
    assert fault is not None
    assert fault.value == "x" * rules.MAX_VALUE_CHARS + "..."


def test_unknown_dataset_is_a_clear_error() -> None:
    from ecomlake.exceptions import UnknownDatasetError

    with pytest.raises(UnknownDatasetError):
        classify_row("orders", {})
