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
from ecomlake.etl.engines import api, cast_type
from ecomlake.etl.transforms.common import price_band
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


def _extract(F: Any, column: Any, pattern: str) -> Any:
    """First group of ``pattern`` in ``column``, null when it does not match."""
    found = F.regexp_extract(column, pattern, 1)
    return F.when(found != F.lit(""), found)


def _derived(F: Any, dataset: Dataset) -> dict[str, Any]:
    """The processed columns computed from the typed ones, by name (the others are the typed columns)."""
    if dataset is Dataset.TRANSACTIONS:
        return {
            "year": F.year(F.col("transaction_date")),
            "month": F.month(F.col("transaction_date")),
            "is_return": F.col("status").isin(*RETURN_STATUSES),
        }
    if dataset is Dataset.PRODUCTS:
        return {"price_band": price_band(F, F.col("price"))}
    if dataset is Dataset.CLICKSTREAM:
        return {
            "product_id": _extract(F, F.col("page"), PRODUCT_PAGE_PATTERN),
            "order_id": _extract(F, F.col("page"), ORDER_PAGE_PATTERN),
        }
    return {}


def processed_columns(F: Any, dataset: Dataset | str) -> list[Any]:
    """The processed table's select-list over a dataset's typed columns and ``date``.

    Exactly the schema's columns, in order, cast to their types (as ``conform`` gives
    them): year, month and is_return of a transaction, a product's price band, the
    product and the order a clickstream page names.
    """
    ds = Dataset(dataset)
    schema = PROCESSED_SCHEMAS[ds]
    derived = _derived(F, ds)
    columns = [derived.get(c.name, F.col(c.name)).cast(cast_type(c.type)).alias(c.name) for c in schema.columns]
    return [*columns, F.col(PARTITION_KEY).cast("string").alias(PARTITION_KEY)]


def processed(good: Any, dataset: Dataset | str) -> Any:
    """The processed table of a dataset from its good rows."""
    ds = Dataset(dataset)
    return _typed(good, ds).select(*processed_columns(api(good).F, ds))


def transactions_processed(good: Any) -> Any:
    """Typed transactions with year, month and is_return."""
    return processed(good, Dataset.TRANSACTIONS)


def products_processed(good: Any) -> Any:
    """Typed catalog rows with their price band."""
    return processed(good, Dataset.PRODUCTS)


def reviews_processed(good: Any) -> Any:
    return processed(good, Dataset.REVIEWS)


def clickstream_processed(good: Any) -> Any:
    """Typed events with the product and the order their page names."""
    return processed(good, Dataset.CLICKSTREAM)


PROCESSED_SCHEMAS: dict[Dataset, TableSchema] = {
    Dataset.TRANSACTIONS: PROCESSED_TRANSACTIONS,
    Dataset.PRODUCTS: PROCESSED_PRODUCTS,
    Dataset.REVIEWS: PROCESSED_REVIEWS,
    Dataset.CLICKSTREAM: PROCESSED_CLICKSTREAM,
}
