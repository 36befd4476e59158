"""Processed tables -> curated marts: fact_sales, dim_products, dim_customers, fct_sessions, daily_kpis.

Inputs are whole processed tables (every partition, with ``date``); partitioned outputs
are built for the requested dates only, the dimensions from everything.

Two rules apply throughout:
* a transaction landed on more than one date counts once in lookups and aggregates (its
  newest partition wins); fact_sales keeps each partition's rows as landed;
* the latest catalog row of a product (newest partition) gives its attributes.
"""

# ruff: noqa: N803, N806 -- F, T and Window are the PySpark aliases (functions, types, Window)

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ecomlake.contract import PARTITION_KEY
from ecomlake.etl.engines import api
from ecomlake.etl.transforms.common import conform, latest_per_key, money_mean, partition_order, price_band, ratio
from ecomlake.etl.transforms.rfm import segment_expr
from ecomlake.schemas import DAILY_KPIS, DIM_CUSTOMERS, DIM_PRODUCTS, FACT_SALES, FCT_SESSIONS, MONEY, MONEY_TOTAL

COMPLETED = "completed"


def _in_dates(df: Any, dates: list[str]) -> Any:
    F = api(df).F
    return df.where(F.col(PARTITION_KEY).isin(*dates))


def _zero_money(F: Any, type_: str = MONEY_TOTAL) -> Any:
    return F.lit(Decimal("0.00")).cast(type_)


def unique_transactions(transactions: Any) -> Any:
    """One row per transaction_id: the newest partition's."""
    F = api(transactions).F
    return latest_per_key(transactions, ["transaction_id"], [partition_order(F)])


def latest_products(products: Any) -> Any:
    """One row per product: its newest catalog row, with first/last catalog dates."""
    F = api(products).F
    latest = latest_per_key(products, ["product_id"], [partition_order(F)])
    seen = products.groupBy("product_id").agg(
        F.min(PARTITION_KEY).alias("first_seen_date"), F.max(PARTITION_KEY).alias("last_updated_date")
    )
    return latest.join(seen, on="product_id", how="inner")


def fact_sales(transactions: Any, products: Any, dates: list[str]) -> Any:
    """Transactions of ``dates`` with their product's latest attributes (null when unknown)."""
    F = api(transactions).F
    attrs = latest_products(products).select(
        F.col("product_id"), F.col("name").alias("product_name"), F.col("category"), F.col("brand")
    )
    sales = _in_dates(transactions, dates).join(attrs, on="product_id", how="left")
    out = sales.select(
        "*",
        price_band(F, F.col("price")).alias("price_band"),
        F.when(F.col("status") == F.lit(COMPLETED), F.col("total_amount"))
        .otherwise(_zero_money(F, MONEY))
        .alias("net_amount"),
    )
    return conform(out, FACT_SALES)


def _sales_by(transactions: Any, key: str) -> Any:
    """Orders, completed units and revenue, and returns per ``key`` over unique transactions."""
    F = api(transactions).F

    def completed() -> Any:
        return F.col("status") == F.lit(COMPLETED)

    return (
        unique_transactions(transactions)
        .groupBy(key)
        .agg(
            F.count(F.lit(1)).alias("all_orders"),
            F.sum(F.when(completed(), F.lit(1)).otherwise(F.lit(0))).alias("completed_orders"),
            F.sum(F.when(completed(), F.col("quantity")).otherwise(F.lit(0))).alias("units"),
            F.sum(F.when(completed(), F.col("total_amount")).otherwise(_zero_money(F, MONEY))).alias("revenue"),
            F.sum(F.when(F.col("is_return"), F.lit(1)).otherwise(F.lit(0))).alias("returns"),
            F.min("transaction_date").alias("first_date"),
            F.max("transaction_date").alias("last_date"),
        )
    )


def dim_products(products: Any, reviews: Any, transactions: Any) -> Any:
    """Every catalogued product: latest attributes, review and sales aggregates."""
    F = api(products).F
    review_stats = reviews.groupBy("product_id").agg(
        F.count(F.lit(1)).alias("review_count"),
        # sum/count as doubles: one division, so both engines give the same bits.
        (F.sum("rating").cast("double") / F.count(F.lit(1)).cast("double")).alias("avg_rating"),
    )
    sales = _sales_by(transactions, "product_id")
    joined = (
        latest_products(products)
        .join(review_stats, on="product_id", how="left")
        .join(sales, on="product_id", how="left")
    )
    counted = joined.select(
        "*",
        F.coalesce(F.col("all_orders"), F.lit(0)).alias("orders"),
        F.coalesce(F.col("returns"), F.lit(0)).alias("returns_"),
    )
    out = counted.select(
        "product_id",
        "name",
        "category",
        "brand",
        "price",
        "stock",
        "price_band",
        F.col("first_seen_date").cast("date").alias("first_seen_date"),
        F.col("last_updated_date").cast("date").alias("last_updated_date"),
        F.coalesce(F.col("review_count"), F.lit(0)).alias("review_count"),
        F.col("avg_rating"),
        F.col("orders"),
        F.coalesce(F.col("units"), F.lit(0)).alias("units_sold"),
        F.coalesce(F.col("revenue").cast(MONEY_TOTAL), _zero_money(F)).alias("revenue"),
        F.col("returns_").alias("returns"),
        ratio(F, "returns_", "orders").alias("return_rate"),
    )
    return conform(out, DIM_PRODUCTS)


def dim_customers(transactions: Any) -> Any:
    """Every customer with a transaction: lifetime value and RFM scores and segment.

    ``orders``, ``units`` and ``lifetime_value`` count completed transactions; first and
    last purchase dates and recency use every transaction; ``as_of_date`` is the newest
    transaction date in the lake, so a rebuild over the same data gives the same scores.
    """
    F, _, Window = api(transactions)
    stats = _sales_by(transactions, "customer_id")
    as_of = stats.agg(F.max("last_date").alias("as_of_date"))
    base = stats.crossJoin(as_of).select(
        "*",
        F.datediff(F.col("as_of_date"), F.col("last_date")).alias("recency_days"),
        F.coalesce(F.col("revenue").cast(MONEY_TOTAL), _zero_money(F)).alias("lifetime_value"),
    )

    def quintile(measure: Any) -> Any:
        return F.ntile(5).over(Window.orderBy(measure, F.col("customer_id").asc()))

    scored = base.select(
        "*",
        quintile(F.col("recency_days").desc()).alias("r_score"),
        quintile(F.col("completed_orders").asc()).alias("f_score"),
        quintile(F.col("lifetime_value").asc()).alias("m_score"),
    )
    out = scored.select(
        "customer_id",
        F.col("first_date").alias("first_purchase_date"),
        F.col("last_date").alias("last_purchase_date"),
        F.col("completed_orders").alias("orders"),
        F.col("units"),
        F.col("lifetime_value"),
        money_mean(F, "lifetime_value", "completed_orders").alias("avg_order_value"),
        F.col("returns"),
        F.col("recency_days"),
        F.col("r_score"),
        F.col("f_score"),
        F.col("m_score"),
        F.concat(
            F.col("r_score").cast("string"), F.col("f_score").cast("string"), F.col("m_score").cast("string")
        ).alias("rfm_score"),
        segment_expr(F, F.col("r_score"), F.col("f_score"), F.col("m_score")).alias("segment"),
        F.col("as_of_date"),
    )
    return conform(out, DIM_CUSTOMERS)


def fct_sessions(sessions: Any, clicks: Any, transactions: Any, dates: list[str]) -> Any:
    """Sessions of ``dates`` with the completed revenue of the orders their pages name."""
    F = api(sessions).F
    placed = (
        _in_dates(clicks, dates)
        .where(F.col("order_id").isNotNull())
        .select(PARTITION_KEY, "session_id", F.col("order_id").alias("transaction_id"))
        .distinct()
    )
    completed = unique_transactions(transactions).where(F.col("status") == F.lit(COMPLETED))
    revenue = (
        placed.join(completed.select("transaction_id", "total_amount"), on="transaction_id", how="inner")
        .groupBy(PARTITION_KEY, "session_id")
        .agg(F.sum("total_amount").alias("order_revenue"))
    )
    out = (
        _in_dates(sessions, dates)
        .join(revenue, on=[PARTITION_KEY, "session_id"], how="left")
        .select(
            "*",
            F.coalesce(F.col("order_revenue").cast(MONEY_TOTAL), _zero_money(F)).alias("order_revenue_"),
            F.col("customer_id").isNotNull().alias("is_known_customer"),
        )
        .drop("order_revenue")
        .withColumnRenamed("order_revenue_", "order_revenue")
    )
    return conform(out, FCT_SESSIONS)


def daily_kpis(dates_frame: Any, transactions: Any, sessions: Any, reviews: Any, dates: list[str]) -> Any:
    """One row per requested date (``dates_frame``: one ``date`` column), zeros when nothing landed.

    Every figure is by partition date (the business day the data landed). A customer is
    new on the first date any of their transactions landed.
    """
    F = api(transactions).F

    def completed() -> Any:
        return F.col("status") == F.lit(COMPLETED)

    tx = _in_dates(transactions, dates)
    sales = tx.groupBy(PARTITION_KEY).agg(
        F.sum(F.when(completed(), F.col("total_amount")).otherwise(_zero_money(F, MONEY))).alias("revenue"),
        F.count(F.lit(1)).alias("orders"),
        F.sum(F.when(completed(), F.lit(1)).otherwise(F.lit(0))).alias("completed_orders"),
        F.sum(F.when(completed(), F.col("quantity")).otherwise(F.lit(0))).alias("units"),
        F.countDistinct("customer_id").alias("customers"),
        F.sum(F.when(F.col("is_return"), F.lit(1)).otherwise(F.lit(0))).alias("returns"),
    )
    firsts = transactions.groupBy("customer_id").agg(F.min(PARTITION_KEY).alias(PARTITION_KEY))
    new = firsts.groupBy(PARTITION_KEY).agg(F.count(F.lit(1)).alias("new_customers"))
    visits = (
        _in_dates(sessions, dates)
        .groupBy(PARTITION_KEY)
        .agg(
            F.count(F.lit(1)).alias("sessions"),
            F.sum(F.when(F.col("converted"), F.lit(1)).otherwise(F.lit(0))).alias("converted_sessions"),
        )
    )
    rated = (
        _in_dates(reviews, dates)
        .groupBy(PARTITION_KEY)
        .agg(
            F.count(F.lit(1)).alias("reviews"),
            (F.sum("rating").cast("double") / F.count(F.lit(1)).cast("double")).alias("avg_rating"),
        )
    )
    joined = (
        dates_frame.join(sales, on=PARTITION_KEY, how="left")
        .join(new, on=PARTITION_KEY, how="left")
        .join(visits, on=PARTITION_KEY, how="left")
        .join(rated, on=PARTITION_KEY, how="left")
    )

    counts = (
        "orders",
        "completed_orders",
        "units",
        "customers",
        "new_customers",
        "returns",
        "sessions",
        "converted_sessions",
        "reviews",
    )
    filled = joined.select(
        F.col(PARTITION_KEY),
        F.coalesce(F.col("revenue").cast(MONEY_TOTAL), _zero_money(F)).alias("revenue"),
        *[F.coalesce(F.col(name), F.lit(0)).alias(name) for name in counts],
        F.col("avg_rating"),
    )
    out = filled.select(
        "*",
        money_mean(F, "revenue", "completed_orders").alias("avg_order_value"),
        ratio(F, "returns", "orders").alias("return_rate"),
        ratio(F, "converted_sessions", "sessions").alias("conversion_rate"),
    )
    return conform(out, DAILY_KPIS)
