"""Raw rows -> processed tables: classify, then type and derive the good rows.

``classify_<dataset>`` marks every raw row with its quarantine reason (or none);
``<dataset>_processed`` turns the good rows into the processed table's columns. The job
keeps the classified frame once and takes both the processed and the quarantine rows
from it, so each row ends in exactly one of them.
"""

# ruff: noqa: N803, N806 -- F, T and Window are the PySpark aliases (functions, types, Window)

from __future__ import annotations

from typing import Any

from ecomlake.contract import PARTITION_KEY, Dataset
from ecomlake.etl import cleaning
from ecomlake.etl.engines import api
from ecomlake.etl.transforms.common import conform, price_band
from ecomlake.schemas import (
    ORDER_PAGE_PATTERN,
    PROCESSED_CLICKSTREAM,
    PROCESSED_PRODUCTS,
    PROCESSED_REVIEWS,
    PROCESSED_TRANSACTIONS,
    PRODUCT_PAGE_PATTERN,
    RETURN_STATUSES,
    TableSchema,
)


def classify(raw: Any, dataset: Dataset | str) -> Any:
    """Raw text rows with ``_reason`` (see ``ecomlake.etl.cleaning``)."""
    return cleaning.classify(raw, dataset)


def good_rows(classified: Any) -> Any:
    F = api(classified).F
    return classified.where(F.col(cleaning.REASON).isNull())


def bad_rows(classified: Any, dataset: Dataset | str) -> Any:
    """Quarantine rows: original text, reason, detail, line, file, and the partition."""
    F = api(classified).F
    bad = cleaning.explain(classified.where(F.col(cleaning.REASON).isNotNull()), dataset)
    return bad.select(*cleaning.quarantine_columns(bad, dataset), F.col(PARTITION_KEY))


def _typed(good: Any, dataset: Dataset) -> Any:
    F = api(good).F
    return good.select(*cleaning.typed_columns(good, dataset), F.col(PARTITION_KEY))


def transactions_processed(good: Any) -> Any:
    """Typed transactions with year, month and is_return."""
    F = api(good).F
    typed = _typed(good, Dataset.TRANSACTIONS)
    derived = typed.select(
        "*",
        F.year(F.col("transaction_date")).alias("year"),
        F.month(F.col("transaction_date")).alias("month"),
        F.col("status").isin(*RETURN_STATUSES).alias("is_return"),
    )
    return conform(derived, PROCESSED_TRANSACTIONS)


def products_processed(good: Any) -> Any:
    """Typed catalog rows with their price band."""
    F = api(good).F
    typed = _typed(good, Dataset.PRODUCTS)
    return conform(typed.select("*", price_band(F, F.col("price")).alias("price_band")), PROCESSED_PRODUCTS)


def reviews_processed(good: Any) -> Any:
    return conform(_typed(good, Dataset.REVIEWS), PROCESSED_REVIEWS)


def _extract(F: Any, column: Any, pattern: str) -> Any:
    """First group of ``pattern`` in ``column``, null when it does not match."""
    found = F.regexp_extract(column, pattern, 1)
    return F.when(found != F.lit(""), found)


def clickstream_processed(good: Any) -> Any:
    """Typed events with the product and the order their page names."""
    F = api(good).F
    typed = _typed(good, Dataset.CLICKSTREAM)
    derived = typed.select(
        "*",
        _extract(F, F.col("page"), PRODUCT_PAGE_PATTERN).alias("product_id"),
        _extract(F, F.col("page"), ORDER_PAGE_PATTERN).alias("order_id"),
    )
    return conform(derived, PROCESSED_CLICKSTREAM)


PROCESSED_BUILDERS = {
    Dataset.TRANSACTIONS: transactions_processed,
    Dataset.PRODUCTS: products_processed,
    Dataset.REVIEWS: reviews_processed,
    Dataset.CLICKSTREAM: clickstream_processed,
}

PROCESSED_SCHEMAS: dict[Dataset, TableSchema] = {
    Dataset.TRANSACTIONS: PROCESSED_TRANSACTIONS,
    Dataset.PRODUCTS: PROCESSED_PRODUCTS,
    Dataset.REVIEWS: PROCESSED_REVIEWS,
    Dataset.CLICKSTREAM: PROCESSED_CLICKSTREAM,
}


def processed(good: Any, dataset: Dataset | str) -> Any:
    """The processed table of a dataset from its good rows."""
    return PROCESSED_BUILDERS[Dataset(dataset)](good)
