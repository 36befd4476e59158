"""The ETL's classification (sqlframe or Spark) gives the validator's reasons, row for row."""

from __future__ import annotations

from typing import Any

import pytest
from etl_helpers import raw_frame

from ecomlake.contract import Dataset
from ecomlake.etl import cleaning
from ecomlake.etl.engines import api
from ecomlake.ingest.classifier import classify_records

TXN = dict(
    transaction_id="T1",
    customer_id="C1",
    product_id="P1",
    quantity="2",
    price="9.99",
    total_amount="19.98",
    transaction_date="2025-01-01",
    status="completed",
)
CLICK = dict(
    session_id="S1",
    customer_id="C1",
    event_type="page_view",
    page="/",
    timestamp="2025-01-01T10:00:00Z",
    device="mobile",
)
REVIEW = dict(review_id="R1", product_id="P1", customer_id="C1", rating="5", review_text="ok", review_date="2025-01-01")
PRODUCT = dict(product_id="P1", name="Mug", category="Home", brand="Acme", price="12.50", stock="3")


def txn(**changes: Any) -> dict[str, Any]:
    return {**TXN, **changes}


# Each case: (dataset, rows). Rows are classified together, in order (duplicates need company).
CASES: dict[str, tuple[Dataset, list[dict[str, Any]]]] = {
    "transactions": (
        Dataset.TRANSACTIONS,
        [
            txn(),
            txn(transaction_id="T2", status="Completed"),  # enums are case-sensitive
            txn(transaction_id="T3", quantity="two"),
            txn(transaction_id="T4", price="9.999"),  # three decimals: not a plain money amount
            txn(transaction_id="T5", transaction_date="2025-02-30"),
            txn(transaction_id="T6", quantity="0", total_amount="0.00"),
            txn(transaction_id="T7", total_amount="21.00"),
            txn(customer_id="C2"),  # T1 again: a duplicate of the first row
            txn(transaction_id="  T8\u00a0", quantity=" 2\t"),  # str.strip() whitespace is trimmed
            txn(transaction_id="T9", customer_id="   "),  # blank is missing
            txn(transaction_id="T10", quantity="99999999999999"),
            txn(transaction_id="T11", price="123456789.00"),
            txn(transaction_id="T12", price="1e3"),
            txn(transaction_id="T13", total_amount="19.99", transaction_date="2024-02-29"),  # within a cent, leap day
            txn(transaction_id="T14", transaction_date="2023-02-29"),
            txn(transaction_id="T15", quantity="-2"),
            {"transaction_id": "T16"},
            txn(transaction_id="T7"),  # T7's first row was bad, so this one claims the key
            txn(transaction_id="T17", status="pending"),
            txn(transaction_id="T18", price="0000000000000000012.50", total_amount="25.00"),
            txn(transaction_id="T19", price="+9.99"),
            {"_error": "expected 8 fields (the header's), found 9"},
        ],
    ),
    "clickstream": (
        Dataset.CLICKSTREAM,
        [
            dict(CLICK),
            {**CLICK, "timestamp": "2025-01-01 10:00:00"},  # the same instant: duplicate key
            {**CLICK, "timestamp": "2025-01-01T10:00:00.250+00:00"},
            {**CLICK, "timestamp": "2025-01-01T25:00:00Z"},
            {**CLICK, "timestamp": "2025-01-01T10:00:00+02:00"},  # only UTC is accepted
            {**CLICK, "timestamp": "01/01/2025 10:00:00"},
            {**CLICK, "device": "smart-tv", "timestamp": "2025-01-01T11:00:00Z"},
            {**CLICK, "customer_id": None, "timestamp": "2025-01-01T12:00:00Z"},  # anonymous is fine
            {**CLICK, "page": "", "timestamp": "2025-01-01T13:00:00Z"},
        ],
    ),
    "reviews": (
        Dataset.REVIEWS,
        [
            dict(REVIEW),
            {**REVIEW, "review_id": "R2", "rating": "6"},
            {**REVIEW, "review_id": "R3", "rating": "4.5"},
            {**REVIEW, "review_id": "R4", "review_text": None},
            {**REVIEW, "review_id": "R5", "review_date": "2025-13-01"},
            {**REVIEW, "review_id": "R1"},
        ],
    ),
    "products": (
        Dataset.PRODUCTS,
        [
            dict(PRODUCT),
            {**PRODUCT, "product_id": "P2", "price": "0.00"},
            {**PRODUCT, "product_id": "P3", "stock": "-1"},
            {**PRODUCT, "product_id": "P4", "price": "$12.50"},
            {**PRODUCT, "product_id": "P5", "price": "12"},
            {**PRODUCT, "product_id": None},
        ],
    ),
}


def expected_reasons(dataset: Dataset, rows: list[dict[str, Any]]) -> list[str | None]:
    """What the validator says, row by row (the same rules, rendered to DuckDB SQL directly)."""
    return [fault.reason.value if fault else None for fault in classify_records(dataset, rows)]


def classified(session: Any, dataset: Dataset, rows: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    out = cleaning.explain(cleaning.classify(raw_frame(session, dataset, rows), dataset), dataset)
    return {r["_line"]: r.asDict() for r in out.collect()}


@pytest.mark.parametrize("case", sorted(CASES))
def test_reasons_match_the_python_rules_on_duckdb(duck: Any, case: str) -> None:
    dataset, rows = CASES[case]
    got = classified(duck, dataset, rows)
    expected = expected_reasons(dataset, rows)
    assert [got[i + 2]["_reason"] for i in range(len(rows))] == expected
    # Every case above exercises good and bad rows, so a rule that never fires cannot pass.
    assert None in expected
    assert len(set(expected)) > 2


def test_details_name_the_column_and_the_value(duck: Any) -> None:
    dataset, rows = CASES["transactions"]
    got = classified(duck, dataset, rows)
    assert got[4]["_detail"] == "quantity: not a whole number (found 'two')"
    assert got[8]["_detail"] == "total_amount: 21.00 but quantity x price = 19.98"
    assert got[9]["_detail"] == "(transaction_id) seen earlier: T1"
    assert got[23]["_detail"] == "record does not parse: expected 8 fields (the header's), found 9"
    assert got[2]["_detail"] is None


def test_normalised_text_is_trimmed_and_typed_values_cast(duck: Any) -> None:
    dataset, rows = CASES["transactions"]
    out = cleaning.classify(raw_frame(duck, dataset, rows), dataset)
    F = api(out).F
    good = out.where(F.col("_reason").isNull()).select(*cleaning.typed_columns(out, dataset))
    by_id = {r["transaction_id"]: r for r in good.collect()}
    assert sorted(by_id) == ["T1", "T13", "T18", "T7", "T8"]
    assert by_id["T8"]["quantity"] == 2
    assert float(by_id["T18"]["price"]) == 12.5
    assert str(by_id["T13"]["transaction_date"]) == "2024-02-29"


def test_quarantine_keeps_the_original_text(duck: Any) -> None:
    dataset, rows = CASES["transactions"]
    out = cleaning.explain(cleaning.classify(raw_frame(duck, dataset, rows), dataset), dataset)
    F = api(out).F
    bad = out.where(F.col("_reason").isNotNull()).select(*cleaning.quarantine_columns(out, dataset))
    assert bad.columns == [*TXN, "_reason", "_detail", "_line", "_file"]
    padded = next(r for r in bad.collect() if r["transaction_id"] == "T9")
    assert padded["customer_id"] == "   "


def test_whitespace_set_is_what_str_strip_removes() -> None:
    every_space = "".join(chr(c) for c in range(0x3001) if chr(c).isspace())
    assert set(cleaning.WHITESPACE) == set(every_space)


@pytest.mark.spark
def test_reasons_match_the_python_rules_on_spark(spark: Any) -> None:
    for dataset, rows in CASES.values():
        got = classified(spark, dataset, rows)
        assert [got[i + 2]["_reason"] for i in range(len(rows))] == expected_reasons(dataset, rows), dataset


# Values a column may hold, by type, chosen at the edges of the plain forms (``cleaning.plain_value_pattern``):
# padding of every kind, the separator, non-ASCII ends, digits one past what a type holds, calendar edges.
_STRINGS = ["T1", "T 1", " T1", "T1 ", "\u00a0T1", "T1\u3000", "T\x011", "\x01", "é", "Té", "éT", "", "   "]
_EDGE_VALUES: dict[str, list[str | None]] = {
    "string": [*_STRINGS, None, "x" * 300],
    "int": ["2", "02", "-0", "-2", "+2", "2.", " 2", "2\t", "1e3", "NaN", "9" * 9, "9" * 10, "2147483648", "0", None],
    "decimal(10,2)": [
        *("12.50", "12.5", "12", "12.", ".5", "12.505", "-0.01", "0.01", "99999999.99", "100000000.00"),
        *("0" * 59 + "1", "0" * 61 + "1", "1,200", "$1", " 12.50", None),
    ],
    "date": [
        *("2025-01-01", "2025-02-30", "2024-02-29", "2023-02-29", "0000-01-01", "0001-01-01", "2025-1-01"),
        *("20250-01-01", "2025-01-01T00:00:00", " 2025-01-01", "2025-13-01", None),
    ],
    "timestamp": [
        *("2025-01-01T10:00:00Z", "2025-01-01 10:00:00", "2025-01-01T10:00:00.123456+00:00"),
        *("2025-01-01T24:00:00Z", "2025-01-01T10:60:00Z", "2025-02-29T10:00:00Z", "2025-01-01T10:00:00+02:00", None),
    ],
}


def _edge_rows(dataset: Dataset, base: dict[str, Any]) -> list[dict[str, Any]]:
    """``base``, then ``base`` with one column changed to each edge value of its type (and enum spellings)."""
    from ecomlake.schemas import RAW_SCHEMAS

    rows = [dict(base)]
    for column in RAW_SCHEMAS[dataset].columns:
        values = list(_EDGE_VALUES[column.type])
        if column.enum:
            allowed = sorted(column.enum)[0]
            values += [allowed, allowed.title(), f" {allowed}", f"{allowed}\u2003", "other", ""]
        rows += [{**base, column.name: value} for value in values]
    return [{**row, "_line": i + 2} for i, row in enumerate(rows)]


_BASES = {Dataset.TRANSACTIONS: TXN, Dataset.CLICKSTREAM: CLICK, Dataset.REVIEWS: REVIEW, Dataset.PRODUCTS: PRODUCT}


def _with_and_without_plain(session: Any, monkeypatch: pytest.MonkeyPatch, dataset: Dataset) -> tuple[list, list]:
    rows = _edge_rows(dataset, _BASES[dataset])

    def run() -> list[dict[str, Any]]:
        out = cleaning.explain(cleaning.classify(raw_frame(session, dataset, rows), dataset), dataset)
        typed = [c.alias(f"_typed_{i}") for i, c in enumerate(cleaning.typed_columns(out, dataset))]
        return sorted((r.asDict() for r in out.select("*", *typed).collect()), key=lambda r: r["_line"])

    fast = run()
    with monkeypatch.context() as patch:
        patch.setattr(cleaning, "plain_row_pattern", lambda schema: None)
        slow = run()
    return fast, slow


@pytest.mark.parametrize("dataset", sorted(_BASES))
def test_plain_rows_classify_as_the_per_value_tests_do(
    duck: Any, monkeypatch: pytest.MonkeyPatch, dataset: Dataset
) -> None:
    """The one match that marks a row plain decides nothing the per-value tests would decide otherwise."""
    fast, slow = _with_and_without_plain(duck, monkeypatch, dataset)
    assert not any(row[cleaning.PLAIN] for row in slow)  # the slow run really took the per-value tests
    plain = [row["_line"] for row in fast if row[cleaning.PLAIN]]
    assert 2 in plain  # the base row is plain...
    assert len(plain) < len(fast) / 2  # ...and most edge values are not
    for got, want in zip(fast, slow, strict=True):
        got.pop(cleaning.PLAIN), want.pop(cleaning.PLAIN)
        assert got == want, got["_line"]
    # The edges reach every outcome: valid rows, and several reasons.
    assert len({row["_reason"] for row in fast}) >= 4


def test_plain_forms_are_what_the_edges_say() -> None:
    """Which values count as plain, stated as literals (a looser form would pass the equality above only by luck)."""
    import re

    from ecomlake.schemas import Column

    def plain(type_: str, value: str, **kw: Any) -> bool:
        pattern = cleaning.plain_value_pattern(Column("c", type_, nullable=False, **kw))
        assert pattern is not None
        return re.fullmatch(pattern, value) is not None

    assert all(plain("string", v) for v in ("T1", "T 1", "a"))
    assert not any(plain("string", v) for v in (" T1", "T1 ", "\u00a0T1", "é", "", "T\x011"))
    assert plain("int", "-" + "9" * 9)
    assert not any(plain("int", v) for v in ("9" * 10, "+2"))
    assert all(plain("decimal(10,2)", v) for v in ("12345678.99", "12.5", "12"))
    assert not any(plain("decimal(10,2)", v) for v in ("123456789.00", "12.505", "12."))
    assert plain("date", "2025-02-30")  # the calendar is still checked for a plain date
    assert not any(plain("date", v) for v in ("20250-01-01", "2025-1-01"))
    assert plain("timestamp", "2025-01-01 10:00:00.5+00:00")
    assert not plain("timestamp", "2025-01-01T10:00:00+02:00")
    assert plain("string", "completed", enum=("completed", "returned"))
    assert not plain("string", "pending", enum=("completed",))
    assert cleaning.plain_value_pattern(Column("c", "boolean")) is None
    assert cleaning.plain_value_pattern(Column("c", "string")) == "([!-~](?:[^\x01]*[!-~])?)?"


def test_plain_rows_skip_only_the_checks_their_form_meets() -> None:
    """The checks a plain row is not tested against, as literals: presence, number formats and an enum of
    plain words; never a calendar, a range or an amount, which a plain value can still break."""
    from ecomlake.etl.engines import duckdb_api
    from ecomlake.schemas import RAW_SCHEMAS, Column, RawSchema

    F = duckdb_api().F
    checks = cleaning.row_checks(F, RAW_SCHEMAS[Dataset.TRANSACTIONS])
    skipped = [(c.reason.value, c.column) for c in checks if c.plain_holds]
    every = ["transaction_id", "customer_id", "product_id", "quantity", "price", "total_amount", "transaction_date"]
    assert skipped == [
        *(("missing_required", name) for name in [*every, "status"]),
        *(("bad_number", name) for name in ["quantity", "price", "total_amount"]),
        ("unknown_enum", "status"),
    ]
    # An enum with a value that is not a plain word has the plain string form: its check stays.
    odd = RawSchema(Dataset.TRANSACTIONS, "csv", (Column("s", "string", nullable=False, enum=("a b", "c")),), ("s",))
    assert [(c.reason.value, c.plain_holds) for c in cleaning.row_checks(F, odd)] == [
        ("malformed_record", False),
        ("missing_required", True),
        ("unknown_enum", False),
    ]


@pytest.mark.spark
def test_plain_rows_classify_as_the_per_value_tests_do_on_spark(spark: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    for dataset in sorted(_BASES):
        fast, slow = _with_and_without_plain(spark, monkeypatch, dataset)
        assert [r["_line"] for r in fast if r[cleaning.PLAIN]], dataset
        for got, want in zip(fast, slow, strict=True):
            got.pop(cleaning.PLAIN), want.pop(cleaning.PLAIN)
            assert got == want, (dataset, got["_line"])
