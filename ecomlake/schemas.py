"""One definition of every table: raw inputs, processed tables and curated marts.

The validator, the ETL transforms, the Glue catalog tables, the DuckDB views and the
data-quality rules all derive from these objects; nothing else spells a column.

Types are written as Glue/Athena DDL types (``string``, ``int``, ``bigint``,
``double``, ``boolean``, ``date``, ``timestamp``, ``decimal(p,s)``); each engine maps
them to its own types in one place (see ``athena_to_duckdb`` here, and the Spark
mapping in ``ecomlake.etl``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Final

from ecomlake.contract import PARTITION_KEY, Dataset, Table, Zone

MONEY: Final = "decimal(10,2)"
# Aggregated money (sums over many rows) needs more integer digits than a single price.
MONEY_TOTAL: Final = "decimal(18,2)"


class Reason(StrEnum):
    """Why a row or a file was quarantined. Generator fault kinds use the same codes.

    Rows are checked in this order and carry the first rule they break, so each bad
    row has exactly one reason and the counts add up.
    """

    MALFORMED_RECORD = "malformed_record"  # a JSON line / CSV record that does not parse
    MISSING_REQUIRED = "missing_required"  # a required column is null or blank
    BAD_NUMBER = "bad_number"  # not a number where one is required
    BAD_DATE = "bad_date"  # not a parseable date / timestamp
    UNKNOWN_ENUM = "unknown_enum"  # value outside the allowed set
    OUT_OF_RANGE = "out_of_range"  # numeric or date value outside its bounds
    AMOUNT_MISMATCH = "amount_mismatch"  # total_amount != quantity * price (beyond a cent)
    DUPLICATE_KEY = "duplicate_key"  # primary key seen earlier in the same batch


REASON_ORDER: Final = tuple(Reason)


class FileRule(StrEnum):
    """Why a whole raw file was rejected (quarantined with ``<file>.reason.json``)."""

    EMPTY_FILE = "empty_file"
    HEADER_ONLY = "header_only"
    NOT_UTF8 = "not_utf8"
    BINARY_CONTENT = "binary_content"
    WRONG_FORMAT = "wrong_format"
    MISSING_COLUMNS = "missing_columns"
    TOO_LARGE = "too_large"
    BAD_KEY = "bad_key"
    NO_VALID_RECORDS = "no_valid_records"


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    description: str = ""
    nullable: bool = True
    enum: tuple[str, ...] | None = None
    min: Decimal | int | float | None = None
    max: Decimal | int | float | None = None

    @property
    def required(self) -> bool:
        return not self.nullable

    @property
    def is_numeric(self) -> bool:
        return self.type in {"int", "bigint", "double", "float", "smallint", "tinyint"} or self.is_decimal

    @property
    def is_decimal(self) -> bool:
        return self.type.startswith("decimal")

    @property
    def is_temporal(self) -> bool:
        return self.type in {"date", "timestamp"}


@dataclass(frozen=True)
class TableSchema:
    """A table: its columns in order, key, partitioning, grain and where it lives."""

    name: str
    zone: Zone
    columns: tuple[Column, ...]
    grain: str
    primary_key: tuple[str, ...] = ()
    partition_key: str | None = PARTITION_KEY
    description: str = ""
    _by_name: dict[str, Column] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {c.name: c for c in self.columns})
        if self.partition_key and self.partition_key in self._by_name:
            raise ValueError(f"{self.name}: the partition key is not a data column")
        for key in self.primary_key:
            if key not in self._by_name and key != self.partition_key:
                raise ValueError(f"{self.name}: primary key column {key!r} is not defined")

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    def column(self, name: str) -> Column:
        return self._by_name[name]

    def __contains__(self, name: object) -> bool:
        return name in self._by_name


@dataclass(frozen=True)
class RawSchema:
    """What a source must look like when it lands: format and the seed's columns."""

    dataset: Dataset
    format: str  # "csv" | "json" (array or JSON Lines) | "jsonl"
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


# --------------------------------------------------------------------------- domain values

TRANSACTION_STATUSES: Final = ("completed", "returned", "refunded")
RETURN_STATUSES: Final = ("returned", "refunded")
EVENT_TYPES: Final = ("page_view", "product_view", "add_to_cart", "remove_from_cart", "checkout", "purchase")
DEVICES: Final = ("mobile", "desktop", "tablet")
# The conversion funnel, in order; remove_from_cart is an event but not a stage.
FUNNEL_STAGES: Final = ("page_view", "product_view", "add_to_cart", "checkout", "purchase")
PRICE_BANDS: Final = ("budget", "mid", "premium", "luxury")
# Upper bounds (exclusive) of each band but the last, in currency units.
PRICE_BAND_LIMITS: Final = (Decimal("25.00"), Decimal("100.00"), Decimal("500.00"))
RFM_SEGMENTS: Final = (
    "Champions",
    "Loyal",
    "Potential Loyalist",
    "New",
    "At Risk",
    "Needs Attention",
    "Hibernating",
    "Lost",
)

# Clickstream pages that name a product or an order (the ETL extracts both).
PRODUCT_PAGE_PATTERN: Final = r"^/product/([A-Za-z0-9_-]+)"
ORDER_PAGE_PATTERN: Final = r"[?&]order=([A-Za-z0-9_-]+)"
PRODUCT_PAGE_RE: Final = re.compile(PRODUCT_PAGE_PATTERN)
ORDER_PAGE_RE: Final = re.compile(ORDER_PAGE_PATTERN)

MAX_QUANTITY: Final = 1000
MAX_PRICE: Final = Decimal("99999999.99")  # what decimal(10,2) can hold
AMOUNT_TOLERANCE: Final = Decimal("0.01")

# --------------------------------------------------------------------------- raw inputs (the seed's columns)

_TXN_COLUMNS: Final = (
    Column("transaction_id", "string", "Unique transaction identifier", nullable=False),
    Column("customer_id", "string", "Customer identifier", nullable=False),
    Column("product_id", "string", "Product identifier", nullable=False),
    Column("quantity", "int", "Number of items purchased", nullable=False, min=1, max=MAX_QUANTITY),
    Column("price", MONEY, "Unit price", nullable=False, min=Decimal("0.01"), max=MAX_PRICE),
    Column("total_amount", MONEY, "Total transaction amount", nullable=False, min=Decimal("0.01"), max=MAX_PRICE),
    Column("transaction_date", "date", "Date of transaction", nullable=False),
    Column("status", "string", "completed, returned, refunded", nullable=False, enum=TRANSACTION_STATUSES),
)
_PRODUCT_COLUMNS: Final = (
    Column("product_id", "string", "Unique product identifier", nullable=False),
    Column("name", "string", "Product name", nullable=False),
    Column("category", "string", "Product category", nullable=False),
    Column("brand", "string", "Brand name", nullable=False),
    Column("price", MONEY, "Current price", nullable=False, min=Decimal("0.01"), max=MAX_PRICE),
    Column("stock", "int", "Available inventory", nullable=False, min=0),
)
_CLICK_COLUMNS: Final = (
    Column("session_id", "string", "User session identifier", nullable=False),
    Column("customer_id", "string", "Customer identifier (null for anonymous visitors)"),
    Column("event_type", "string", "page_view, product_view, add_to_cart, ...", nullable=False, enum=EVENT_TYPES),
    Column("page", "string", "Page URL path", nullable=False),
    Column("timestamp", "timestamp", "Event timestamp (UTC)", nullable=False),
    Column("device", "string", "mobile, desktop, tablet", nullable=False, enum=DEVICES),
)
_REVIEW_COLUMNS: Final = (
    Column("review_id", "string", "Unique review identifier", nullable=False),
    Column("product_id", "string", "Product identifier", nullable=False),
    Column("customer_id", "string", "Customer identifier", nullable=False),
    Column("rating", "int", "Rating (1-5)", nullable=False, min=1, max=5),
    Column("review_text", "string", "Review content"),
    Column("review_date", "date", "Review date", nullable=False),
)

RAW_SCHEMAS: Final[dict[Dataset, RawSchema]] = {
    Dataset.TRANSACTIONS: RawSchema(Dataset.TRANSACTIONS, "csv", _TXN_COLUMNS, ("transaction_id",)),
    Dataset.PRODUCTS: RawSchema(Dataset.PRODUCTS, "json", _PRODUCT_COLUMNS, ("product_id",)),
    Dataset.CLICKSTREAM: RawSchema(
        Dataset.CLICKSTREAM, "jsonl", _CLICK_COLUMNS, ("session_id", "timestamp", "event_type")
    ),
    Dataset.REVIEWS: RawSchema(Dataset.REVIEWS, "csv", _REVIEW_COLUMNS, ("review_id",)),
}

# --------------------------------------------------------------------------- processed zone

_COUNT = "bigint"

PROCESSED_TRANSACTIONS: Final = TableSchema(
    Table.TRANSACTIONS,
    Zone.PROCESSED,
    (
        *_TXN_COLUMNS,
        Column("year", "int", "Year of transaction_date", nullable=False),
        Column("month", "int", "Month of transaction_date (1-12)", nullable=False),
        Column("is_return", "boolean", "status is returned or refunded", nullable=False),
    ),
    grain="one row per transaction_id",
    primary_key=("transaction_id",),
    description="Cleaned, typed, deduplicated transactions; partition date = landing date.",
)

PROCESSED_PRODUCTS: Final = TableSchema(
    Table.PRODUCTS,
    Zone.PROCESSED,
    (
        *_PRODUCT_COLUMNS,
        Column("price_band", "string", "budget <25, mid <100, premium <500, luxury", nullable=False, enum=PRICE_BANDS),
    ),
    grain="one row per product_id per catalog snapshot date",
    primary_key=("product_id", PARTITION_KEY),
    description="Catalog snapshot or update as landed that day, cleaned, with a price band.",
)

PROCESSED_CLICKSTREAM: Final = TableSchema(
    Table.CLICKSTREAM,
    Zone.PROCESSED,
    (
        *_CLICK_COLUMNS,
        Column("product_id", "string", "Product named by the page (/product/<id>), else null"),
        Column("order_id", "string", "transaction_id named by a purchase page (?order=<id>), else null"),
    ),
    grain="one row per (session_id, timestamp, event_type)",
    primary_key=("session_id", "timestamp", "event_type"),
    description="Cleaned clickstream events with the product and order they refer to.",
)

PROCESSED_REVIEWS: Final = TableSchema(
    Table.REVIEWS,
    Zone.PROCESSED,
    _REVIEW_COLUMNS,
    grain="one row per review_id",
    primary_key=("review_id",),
    description="Validated, deduplicated reviews.",
)

_SESSION_COLUMNS: Final = (
    Column("session_id", "string", "Session identifier", nullable=False),
    Column("customer_id", "string", "Customer (null when the whole session was anonymous)"),
    Column("device", "string", "Device of the session's first event", nullable=False, enum=DEVICES),
    Column("session_start", "timestamp", "First event", nullable=False),
    Column("session_end", "timestamp", "Last event", nullable=False),
    Column("duration_seconds", _COUNT, "session_end - session_start", nullable=False, min=0),
    Column("event_count", _COUNT, "Events in the session", nullable=False, min=1),
    Column("page_views", _COUNT, "page_view events", nullable=False, min=0),
    Column("product_views", _COUNT, "product_view events", nullable=False, min=0),
    Column("add_to_carts", _COUNT, "add_to_cart events", nullable=False, min=0),
    Column("checkouts", _COUNT, "checkout events", nullable=False, min=0),
    Column("purchases", _COUNT, "purchase events", nullable=False, min=0),
    Column("furthest_stage", "string", "Deepest funnel stage reached", nullable=False, enum=FUNNEL_STAGES),
    Column("converted", "boolean", "The session reached purchase", nullable=False),
)

PROCESSED_SESSIONS: Final = TableSchema(
    Table.SESSIONS,
    Zone.PROCESSED,
    _SESSION_COLUMNS,
    grain="one row per session_id, partitioned by the session's landing date",
    primary_key=("session_id",),
    description="Sessionised clickstream: one row per session with its funnel progress.",
)

# --------------------------------------------------------------------------- curated zone

FACT_SALES: Final = TableSchema(
    Table.FACT_SALES,
    Zone.CURATED,
    (
        Column("transaction_id", "string", "Transaction", nullable=False),
        Column("customer_id", "string", "Customer", nullable=False),
        Column("product_id", "string", "Product", nullable=False),
        Column("product_name", "string", "Product name as of the sale's date (null if not catalogued by then)"),
        Column("category", "string", "Product category as of the sale's date (null if not catalogued by then)"),
        Column("brand", "string", "Brand as of the sale's date (null if not catalogued by then)"),
        Column("price_band", "string", "Price band of the unit price", nullable=False, enum=PRICE_BANDS),
        Column("quantity", "int", "Units", nullable=False, min=1),
        Column("price", MONEY, "Unit price paid", nullable=False),
        Column("total_amount", MONEY, "quantity * price", nullable=False),
        Column("net_amount", MONEY, "total_amount when completed, 0 when returned/refunded", nullable=False),
        Column("transaction_date", "date", "Date of transaction", nullable=False),
        Column("status", "string", "completed, returned, refunded", nullable=False, enum=TRANSACTION_STATUSES),
        Column("is_return", "boolean", "status is returned or refunded", nullable=False),
        Column("year", "int", "Year", nullable=False),
        Column("month", "int", "Month", nullable=False),
    ),
    grain="one row per transaction_id",
    primary_key=("transaction_id",),
    description="Sales fact: each transaction with its product's attributes as of the sale's date.",
)

PRODUCT_ACTIVITY: Final = TableSchema(
    Table.PRODUCT_ACTIVITY,
    Zone.CURATED,
    (
        Column("product_id", "string", "Product id named by a transaction or a review", nullable=False),
        Column("orders", _COUNT, "Transactions", nullable=False, min=0),
        Column("units_sold", _COUNT, "Units in completed transactions", nullable=False, min=0),
        Column("returns", _COUNT, "Returned or refunded transactions", nullable=False, min=0),
        Column("review_count", _COUNT, "Reviews", nullable=False, min=0),
        Column("revenue", MONEY_TOTAL, "Sum of total_amount of completed transactions", nullable=False),
        Column("rating_sum", _COUNT, "Sum of ratings (avg_rating = rating_sum / review_count)", nullable=False, min=0),
    ),
    grain="one row per product_id with a transaction or a review, catalogued or not",
    primary_key=("product_id",),
    partition_key=None,
    description="Lifetime sales and review sums per product: the state dim_products is built from.",
)

DIM_PRODUCTS: Final = TableSchema(
    Table.DIM_PRODUCTS,
    Zone.CURATED,
    (
        Column("product_id", "string", "Product", nullable=False),
        Column("name", "string", "Latest name", nullable=False),
        Column("category", "string", "Latest category", nullable=False),
        Column("brand", "string", "Latest brand", nullable=False),
        Column("price", MONEY, "Latest list price", nullable=False),
        Column("stock", "int", "Latest stock", nullable=False),
        Column("price_band", "string", "Band of the latest price", nullable=False, enum=PRICE_BANDS),
        Column("first_seen_date", "date", "First catalog snapshot naming the product", nullable=False),
        Column("last_updated_date", "date", "Latest catalog snapshot naming the product", nullable=False),
        Column("review_count", _COUNT, "Reviews", nullable=False, min=0),
        Column("avg_rating", "double", "Mean rating (null with no reviews)", min=1, max=5),
        Column("orders", _COUNT, "Transactions", nullable=False, min=0),
        Column("units_sold", _COUNT, "Units in completed transactions", nullable=False, min=0),
        Column("revenue", MONEY_TOTAL, "Sum of total_amount of completed transactions", nullable=False),
        Column("returns", _COUNT, "Returned or refunded transactions", nullable=False, min=0),
        Column("return_rate", "double", "returns / orders (null with no orders)", min=0, max=1),
    ),
    grain="one row per catalogued product_id (current state)",
    primary_key=("product_id",),
    partition_key=None,
    description="Product dimension enriched with review and sales aggregates.",
)

DIM_CUSTOMERS: Final = TableSchema(
    Table.DIM_CUSTOMERS,
    Zone.CURATED,
    (
        Column("customer_id", "string", "Customer", nullable=False),
        Column("first_purchase_date", "date", "First transaction", nullable=False),
        Column("last_purchase_date", "date", "Latest transaction", nullable=False),
        Column("orders", _COUNT, "Completed transactions", nullable=False, min=0),
        Column("units", _COUNT, "Units in completed transactions", nullable=False, min=0),
        Column("lifetime_value", MONEY_TOTAL, "Sum of completed total_amount", nullable=False),
        Column("avg_order_value", MONEY_TOTAL, "lifetime_value / orders (0 with none)", nullable=False),
        Column("returns", _COUNT, "Returned or refunded transactions", nullable=False, min=0),
        Column("recency_days", "int", "as_of_date - last_purchase_date", nullable=False, min=0),
        Column("r_score", "int", "Recency quintile, 5 = most recent", nullable=False, min=1, max=5),
        Column("f_score", "int", "Frequency quintile, 5 = most orders", nullable=False, min=1, max=5),
        Column("m_score", "int", "Monetary quintile, 5 = highest value", nullable=False, min=1, max=5),
        Column("rfm_score", "string", "r_score||f_score||m_score, e.g. '545'", nullable=False),
        Column("segment", "string", "RFM segment", nullable=False, enum=RFM_SEGMENTS),
        Column("as_of_date", "date", "Latest transaction date in the lake when built", nullable=False),
    ),
    grain="one row per customer_id with at least one transaction",
    primary_key=("customer_id",),
    partition_key=None,
    description="Customer dimension: lifetime value and RFM segmentation.",
)

FCT_SESSIONS: Final = TableSchema(
    Table.FCT_SESSIONS,
    Zone.CURATED,
    (
        *_SESSION_COLUMNS,
        Column(
            "order_revenue",
            MONEY_TOTAL,
            "Completed revenue of the orders the session placed that landed the same date",
            nullable=False,
        ),
        Column("is_known_customer", "boolean", "The session is tied to a customer_id", nullable=False),
    ),
    grain="one row per session_id",
    primary_key=("session_id",),
    description="Sessions with the revenue of the orders they placed.",
)

DAILY_KPIS: Final = TableSchema(
    Table.DAILY_KPIS,
    Zone.CURATED,
    (
        Column("revenue", MONEY_TOTAL, "Completed revenue", nullable=False),
        Column("orders", _COUNT, "All transactions", nullable=False, min=0),
        Column("completed_orders", _COUNT, "Completed transactions", nullable=False, min=0),
        Column("units", _COUNT, "Units in completed transactions", nullable=False, min=0),
        Column("customers", _COUNT, "Distinct purchasing customers", nullable=False, min=0),
        Column("new_customers", _COUNT, "Customers whose first transaction landed this date", nullable=False, min=0),
        Column("avg_order_value", MONEY_TOTAL, "revenue / completed_orders (0 with none)", nullable=False),
        Column("returns", _COUNT, "Returned or refunded transactions", nullable=False, min=0),
        Column("return_rate", "double", "returns / orders", min=0, max=1),
        Column("sessions", _COUNT, "Sessions", nullable=False, min=0),
        Column("converted_sessions", _COUNT, "Sessions that reached purchase", nullable=False, min=0),
        Column("conversion_rate", "double", "converted_sessions / sessions", min=0, max=1),
        Column("reviews", _COUNT, "Reviews landed", nullable=False, min=0),
        Column("avg_rating", "double", "Mean rating of those reviews", min=1, max=5),
    ),
    grain="one row per date",
    primary_key=(PARTITION_KEY,),
    description="Daily KPIs for the dashboard tiles and the anomaly checks.",
)

# A basket: what one customer bought on one transaction_date, among the transactions landed on
# one date (every status: the purchase happened). The dashboard's "bought together" sums these
# counts over its window instead of pairing every sale of the window again.
BASKET_PAIRS: Final = TableSchema(
    Table.BASKET_PAIRS,
    Zone.CURATED,
    (
        Column("product_id", "string", "Product", nullable=False),
        Column(
            "related_product_id",
            "string",
            "Product in the same baskets: after product_id in sort order, or product_id itself on the row "
            "counting the baskets that hold it",
            nullable=False,
        ),
        Column(
            "baskets",
            _COUNT,
            "Baskets of the date holding both products (the product, on its own row)",
            nullable=False,
            min=1,
        ),
        Column(
            "day_baskets", _COUNT, "Every basket of the date (the same on each row of a date)", nullable=False, min=1
        ),
    ),
    grain="one row per date and pair of products bought in one basket (product_id < related_product_id), "
    "and per date and product bought (related_product_id = product_id)",
    primary_key=(PARTITION_KEY, "product_id", "related_product_id"),
    description="Products bought together, counted per date: what product_recommendations sums over its window.",
)

TABLES: Final[dict[Table, TableSchema]] = {
    t.name: t  # type: ignore[misc]
    for t in (
        PROCESSED_TRANSACTIONS,
        PROCESSED_PRODUCTS,
        PROCESSED_CLICKSTREAM,
        PROCESSED_REVIEWS,
        PROCESSED_SESSIONS,
        FACT_SALES,
        PRODUCT_ACTIVITY,
        DIM_PRODUCTS,
        DIM_CUSTOMERS,
        FCT_SESSIONS,
        DAILY_KPIS,
        BASKET_PAIRS,
    )
}

# The processed table each raw dataset is cleaned into.
PROCESSED_FOR_DATASET: Final[dict[Dataset, TableSchema]] = {
    Dataset.TRANSACTIONS: PROCESSED_TRANSACTIONS,
    Dataset.PRODUCTS: PROCESSED_PRODUCTS,
    Dataset.CLICKSTREAM: PROCESSED_CLICKSTREAM,
    Dataset.REVIEWS: PROCESSED_REVIEWS,
}


def table_schema(name: Table | str) -> TableSchema:
    return TABLES[Table(name)]


def price_band(price: Decimal) -> str:
    """The price band of a unit price (the ETL computes the same with column expressions)."""
    for band, limit in zip(PRICE_BANDS, PRICE_BAND_LIMITS, strict=False):
        if price < limit:
            return band
    return PRICE_BANDS[-1]


# --------------------------------------------------------------------------- type mapping

_DECIMAL_RE: Final = re.compile(r"^decimal\((\d+),\s*(\d+)\)$")


def decimal_precision(type_: str) -> tuple[int, int]:
    match = _DECIMAL_RE.match(type_)
    if not match:
        raise ValueError(f"not a decimal type: {type_}")
    return int(match.group(1)), int(match.group(2))


def athena_to_duckdb(type_: str) -> str:
    """DuckDB type for a Glue/Athena column type."""
    if type_.startswith("decimal"):
        return type_.upper()
    return {
        "string": "VARCHAR",
        "int": "INTEGER",
        "bigint": "BIGINT",
        "double": "DOUBLE",
        "boolean": "BOOLEAN",
        "date": "DATE",
        "timestamp": "TIMESTAMP",
    }[type_]


def glue_columns(schema: TableSchema) -> list[dict[str, str]]:
    """Glue catalog column definitions (name, type, comment) for a table."""
    return [{"name": c.name, "type": c.type, "comment": c.description} for c in schema.columns]
