"""Schemas: the seed's raw columns, type mappings, and a DuckDB round trip."""

from __future__ import annotations

import re
from decimal import Decimal

import duckdb
import pytest

from ecomlake.contract import CURATED_TABLES, PARTITION_KEY, PROCESSED_TABLES, Dataset, Table, Zone, table_zone
from ecomlake.schemas import (
    MONEY,
    PROCESSED_FOR_DATASET,
    RAW_SCHEMAS,
    REASON_ORDER,
    TABLES,
    Column,
    Reason,
    TableSchema,
    athena_to_duckdb,
    decimal_precision,
    glue_columns,
    price_band,
    table_schema,
)

# The seed's Data Schema tables, written out again on purpose: the schemas must match them.
SEED_COLUMNS = {
    Dataset.TRANSACTIONS: (
        ("transaction_id", "string"),
        ("customer_id", "string"),
        ("product_id", "string"),
        ("quantity", "int"),
        ("price", "decimal(10,2)"),
        ("total_amount", "decimal(10,2)"),
        ("transaction_date", "date"),
        ("status", "string"),
    ),
    Dataset.PRODUCTS: (
        ("product_id", "string"),
        ("name", "string"),
        ("category", "string"),
        ("brand", "string"),
        ("price", "decimal(10,2)"),
        ("stock", "int"),
    ),
    Dataset.CLICKSTREAM: (
        ("session_id", "string"),
        ("customer_id", "string"),
        ("event_type", "string"),
        ("page", "string"),
        ("timestamp", "timestamp"),
        ("device", "string"),
    ),
    Dataset.REVIEWS: (
        ("review_id", "string"),
        ("product_id", "string"),
        ("customer_id", "string"),
        ("rating", "int"),
        ("review_text", "string"),
        ("review_date", "date"),
    ),
}
SEED_FORMATS = {
    Dataset.TRANSACTIONS: "csv",
    Dataset.PRODUCTS: "json",
    Dataset.CLICKSTREAM: "jsonl",
    Dataset.REVIEWS: "csv",
}
ALL_SCHEMAS = list(TABLES.values())


@pytest.mark.parametrize("dataset", list(Dataset))
def test_raw_columns_are_exactly_the_seeds(dataset):
    schema = RAW_SCHEMAS[dataset]
    assert tuple((c.name, c.type) for c in schema.columns) == SEED_COLUMNS[dataset]
    assert schema.format == SEED_FORMATS[dataset]
    assert set(schema.primary_key) <= set(schema.column_names)
    assert all(not c.nullable for c in schema.columns if c.name in schema.primary_key)


def test_raw_enums_and_ranges():
    tx = RAW_SCHEMAS[Dataset.TRANSACTIONS]
    assert tx.column("status").enum == ("completed", "returned", "refunded")
    assert (tx.column("quantity").min, tx.column("price").type) == (1, MONEY)
    clicks = RAW_SCHEMAS[Dataset.CLICKSTREAM]
    assert clicks.column("device").enum == ("mobile", "desktop", "tablet")
    assert clicks.column("customer_id").nullable
    assert "customer_id" not in clicks.required_columns
    assert (RAW_SCHEMAS[Dataset.REVIEWS].column("rating").min, RAW_SCHEMAS[Dataset.REVIEWS].column("rating").max) == (
        1,
        5,
    )


@pytest.mark.parametrize("dataset", list(Dataset))
def test_processed_table_keeps_every_raw_column(dataset):
    processed = PROCESSED_FOR_DATASET[dataset]
    raw = RAW_SCHEMAS[dataset]
    assert processed.column_names[: len(raw.columns)] == raw.column_names
    assert all(processed.column(c.name).type == c.type for c in raw.columns)
    assert processed.zone is Zone.PROCESSED
    assert table_zone(processed.name) is Zone.PROCESSED


def test_every_table_is_registered_once():
    assert set(TABLES) == set(Table)
    assert {t for t in TABLES if TABLES[t].zone is Zone.CURATED} == set(CURATED_TABLES)
    assert {t for t in TABLES if TABLES[t].zone is Zone.PROCESSED} == set(PROCESSED_TABLES)
    assert table_schema("fact_sales") is TABLES[Table.FACT_SALES]
    assert TABLES[Table.DIM_PRODUCTS].partition_key is None
    assert TABLES[Table.FACT_SALES].partition_key == PARTITION_KEY


@pytest.mark.parametrize("schema", ALL_SCHEMAS, ids=lambda s: str(s.name))
def test_type_mappings_cover_every_column(schema):
    for column in schema.columns:
        assert athena_to_duckdb(column.type)  # KeyError for an unmapped type
    glue = glue_columns(schema)
    assert [g["name"] for g in glue] == list(schema.column_names)
    assert [g["type"] for g in glue] == [c.type for c in schema.columns]
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", g["name"]) for g in glue)  # Glue/Athena-safe names


def _duckdb_type_name(type_: str) -> str:
    """DuckDB's spelling of a mapped type as DESCRIBE reports it."""
    return athena_to_duckdb(type_).replace(" ", "")


@pytest.mark.parametrize("schema", ALL_SCHEMAS, ids=lambda s: str(s.name))
def test_duckdb_create_table_round_trip(schema):
    con = duckdb.connect()
    cols = ", ".join(f'"{c.name}" {athena_to_duckdb(c.type)}' for c in schema.columns)
    con.execute(f"CREATE TABLE t ({cols})")
    described = con.execute("DESCRIBE t").fetchall()
    assert [row[0] for row in described] == list(schema.column_names)
    assert [row[1].replace(" ", "") for row in described] == [_duckdb_type_name(c.type) for c in schema.columns]


def test_decimal_and_price_band_functions():
    assert decimal_precision("decimal(10,2)") == (10, 2)
    assert athena_to_duckdb("decimal(18,2)") == "DECIMAL(18,2)"
    with pytest.raises(ValueError, match="not a decimal"):
        decimal_precision("int")
    with pytest.raises(KeyError):
        athena_to_duckdb("varchar(10)")
    assert [price_band(Decimal(p)) for p in ("24.99", "25.00", "99.99", "100.00", "499.99", "500.00")] == [
        "budget",
        "mid",
        "mid",
        "premium",
        "premium",
        "luxury",
    ]


def test_reason_precedence_order():
    assert REASON_ORDER[0] is Reason.MALFORMED_RECORD
    assert REASON_ORDER[-1] is Reason.DUPLICATE_KEY
    assert REASON_ORDER.index(Reason.OUT_OF_RANGE) < REASON_ORDER.index(Reason.AMOUNT_MISMATCH)


def test_table_schema_rejects_inconsistent_definitions():
    col = Column("id", "string", nullable=False)
    with pytest.raises(ValueError, match="partition key"):
        TableSchema("t", Zone.PROCESSED, (col, Column("date", "date")), grain="x")
    with pytest.raises(ValueError, match="primary key"):
        TableSchema("t", Zone.PROCESSED, (col,), grain="x", primary_key=("nope",))
