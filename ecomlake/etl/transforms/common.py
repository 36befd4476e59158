"""Helpers every transform shares: the schema contract and a few exact expressions.

sqlframe qualifies a Column object in place when it resolves it, so one Column object
used twice after a join names a table that no longer exists. Helpers therefore take
column *names* and build a fresh expression for every use.
"""

# ruff: noqa: N803, N806 -- F, T and Window are the PySpark aliases (functions, types, Window)

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ecomlake.contract import PARTITION_KEY
from ecomlake.etl.engines import api, cast_type
from ecomlake.schemas import MONEY_TOTAL, PRICE_BAND_LIMITS, PRICE_BANDS, TableSchema


def conform(df: Any, schema: TableSchema) -> Any:
    """Exactly the schema's columns, in order, cast to their types (then ``date`` if partitioned)."""
    F = api(df).F
    columns = [F.col(c.name).cast(cast_type(c.type)).alias(c.name) for c in schema.columns]
    if schema.partition_key:
        columns.append(F.col(schema.partition_key).cast("string").alias(schema.partition_key))
    return df.select(*columns)


def price_band(F: Any, price: Any) -> Any:
    """The band of a price (``schemas.PRICE_BAND_LIMITS``): budget < 25 <= mid < 100 <= premium < 500 <= luxury."""
    expr = None
    for band, limit in zip(PRICE_BANDS, PRICE_BAND_LIMITS, strict=False):
        cond = price < F.lit(limit).cast("decimal(10,2)")
        expr = F.when(cond, F.lit(band)) if expr is None else expr.when(cond, F.lit(band))
    assert expr is not None
    return expr.otherwise(F.lit(PRICE_BANDS[-1]))


def ratio(F: Any, numerator: str, denominator: str) -> Any:
    """numerator / denominator (column names) as a double, null when the denominator is 0.

    One IEEE division of two exact values, so both engines give the same bits.
    """
    return F.when(F.col(denominator) > 0, F.col(numerator).cast("double") / F.col(denominator).cast("double"))


def money_mean(F: Any, total: str, count: str) -> Any:
    """total / count (column names) rounded half-up to the cent, exactly; 0 when count is 0.

    Decimal division is not done the same way by both engines (DuckDB divides in
    doubles), so the division is done on whole cents with integer arithmetic:
    round(c / n) = (2c + n) div 2n for c >= 0.
    """

    def num() -> Any:
        return (F.col(total) * F.lit(100)).cast("bigint") * F.lit(2) + F.col(count)

    def den() -> Any:
        return F.col(count) * F.lit(2)

    whole = ((num() - num() % den()) / den()).cast("bigint")
    mean = whole.cast("decimal(18,0)") * F.lit(Decimal("0.01")).cast("decimal(3,2)")
    return F.when(F.col(count) > 0, mean.cast(MONEY_TOTAL)).otherwise(F.lit(Decimal("0.00")).cast(MONEY_TOTAL))


def latest_per_key(df: Any, keys: list[str], order: list[Any]) -> Any:
    """One row per key: the first by ``order`` (columns sorted so the wanted row comes first)."""
    F, _, Window = api(df)
    window = Window.partitionBy(*[F.col(k) for k in keys]).orderBy(*order)
    return df.select("*", F.row_number().over(window).alias("_pick")).where(F.col("_pick") == 1).drop("_pick")


def partition_order(F: Any) -> Any:
    """Newest partition first (``date`` is YYYY-MM-DD text, so text order is time order)."""
    return F.col(PARTITION_KEY).desc()
