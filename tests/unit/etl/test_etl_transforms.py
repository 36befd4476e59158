"""Each transform on tiny inline rows, against values worked out by hand."""

from __future__ import annotations

import itertools
from datetime import date
from typing import Any

import pytest
from etl_helpers import D1, D2, D3, D4, dates_frame, processed_inputs, raw_frame, records, typed_frame

from ecomlake.contract import Dataset
from ecomlake.etl.engines import api
from ecomlake.etl.transforms import curated, processed, sessions
from ecomlake.etl.transforms.common import money_mean
from ecomlake.etl.transforms.rfm import SEGMENT_RULES, segment_of
from ecomlake.schemas import (
    BASKET_PAIRS,
    DAILY_KPIS,
    DIM_CUSTOMERS,
    DIM_PRODUCTS,
    FACT_SALES,
    FCT_SESSIONS,
    PROCESSED_SESSIONS,
    PROCESSED_TRANSACTIONS,
    RFM_SEGMENTS,
)


def by(rows: list[dict[str, Any]], key: str) -> dict[Any, dict[str, Any]]:
    return {r[key]: r for r in rows}


def test_transactions_processed_derives_year_month_and_returns(duck: Any) -> None:
    raw = raw_frame(
        duck,
        Dataset.TRANSACTIONS,
        [
            dict(
                transaction_id="T1",
                customer_id="C1",
                product_id="P1",
                quantity="2",
                price="9.99",
                total_amount="19.98",
                transaction_date="2024-12-31",
                status="refunded",
            ),
            dict(
                transaction_id="T2",
                customer_id="C1",
                product_id="P1",
                quantity="1",
                price="5",
                total_amount="5.00",
                transaction_date="2025-02-01",
                status="completed",
            ),
        ],
    )
    out = processed.transactions_processed(processed.good_rows(processed.classify(raw, Dataset.TRANSACTIONS)))
    assert out.columns == [*PROCESSED_TRANSACTIONS.column_names, "date"]
    rows = by(records(out), "transaction_id")
    assert (rows["T1"]["year"], rows["T1"]["month"], rows["T1"]["is_return"]) == (2024, 12, True)
    assert (rows["T2"]["year"], rows["T2"]["month"], rows["T2"]["is_return"]) == (2025, 2, False)
    assert rows["T2"]["price"] == "5.000000"


def test_products_get_price_bands_at_the_limits(duck: Any) -> None:
    prices = ["0.01", "24.99", "25.00", "99.99", "100.00", "499.99", "500.00"]
    raw = raw_frame(
        duck,
        Dataset.PRODUCTS,
        [dict(product_id=f"P{i}", name="n", category="c", brand="b", price=p, stock="1") for i, p in enumerate(prices)],
    )
    out = processed.products_processed(processed.good_rows(processed.classify(raw, Dataset.PRODUCTS)))
    bands = {r["product_id"]: r["price_band"] for r in records(out)}
    assert [bands[f"P{i}"] for i in range(len(prices))] == [
        "budget",
        "budget",
        "mid",
        "mid",
        "premium",
        "premium",
        "luxury",
    ]


def test_clickstream_pages_name_products_and_orders(duck: Any) -> None:
    pages = ["/product/P7?ref=home", "/checkout/complete?order=T9&x=1", "/", "/category/product/P1"]
    raw = raw_frame(
        duck,
        Dataset.CLICKSTREAM,
        [
            dict(session_id="S1", event_type="page_view", page=p, timestamp=f"2025-01-01T10:00:0{i}Z", device="mobile")
            for i, p in enumerate(pages)
        ],
    )
    out = processed.clickstream_processed(processed.good_rows(processed.classify(raw, Dataset.CLICKSTREAM)))
    found = {r["page"]: (r["product_id"], r["order_id"]) for r in records(out)}
    assert found == {
        "/product/P7?ref=home": ("P7", None),
        "/checkout/complete?order=T9&x=1": (None, "T9"),
        "/": (None, None),
        "/category/product/P1": (None, None),  # the product pattern is anchored at the path start
    }


def test_sessions_summarise_the_funnel(duck: Any) -> None:
    out = sessions.sessions(processed_inputs(duck)["clicks"])
    assert out.columns == [*PROCESSED_SESSIONS.column_names, "date"]
    rows = by(records(out), "session_id")
    s1 = rows["S1"]
    assert (s1["session_start"], s1["session_end"]) == ("2025-01-01T10:00:00", "2025-01-01T10:02:00.400000")
    assert s1["duration_seconds"] == 120  # whole seconds: fractions dropped on both ends
    assert [
        s1[k] for k in ("event_count", "page_views", "product_views", "add_to_carts", "checkouts", "purchases")
    ] == [
        6,
        1,
        1,
        1,
        1,
        1,
    ]
    assert (s1["furthest_stage"], s1["converted"], s1["device"], s1["customer_id"]) == (
        "purchase",
        True,
        "mobile",
        "C1",
    )
    # Only remove_from_cart: no funnel stage, counted as a visit.
    assert (rows["S2"]["furthest_stage"], rows["S2"]["customer_id"], rows["S2"]["duration_seconds"]) == (
        "page_view",
        None,
        0,
    )
    # Two first events at the same instant: event type breaks the tie (page_view < product_view).
    assert (rows["S3"]["device"], rows["S3"]["customer_id"], rows["S3"]["date"]) == ("mobile", "C2", D2)


def test_fact_sales_takes_the_product_as_of_the_sale_and_keeps_unknown_products(duck: Any) -> None:
    inputs = processed_inputs(duck)
    out = curated.fact_sales(inputs["transactions"], inputs["products"], dates_frame(duck, [D1, D2]))
    assert out.columns == [*FACT_SALES.column_names, "date"]
    rows = by(records(out), "transaction_id")
    assert sorted(rows) == ["T1", "T2", "T3", "T4"]
    # P1 was "Mug" on D1 and became "Mug v2" on D2: each sale keeps the name of its own date.
    assert (rows["T1"]["product_name"], rows["T1"]["price_band"], rows["T1"]["net_amount"]) == (
        "Mug",
        "budget",
        "19.980000",
    )
    assert rows["T3"]["product_name"] == "Mug v2"
    assert (rows["T2"]["net_amount"], rows["T2"]["price_band"]) == ("0.000000", "premium")
    assert (rows["T4"]["product_name"], rows["T4"]["category"], rows["T4"]["brand"]) == (None, None, None)


def test_product_activity_counts_every_product_id_catalogued_or_not(duck: Any) -> None:
    inputs = processed_inputs(duck)
    out = curated.product_activity(inputs["transactions"], inputs["reviews"])
    rows = by(records(out), "product_id")
    assert sorted(rows) == ["P1", "P2", "P9"]  # P9 is sold but in no catalog
    assert [rows["P9"][k] for k in ("orders", "units_sold", "revenue", "returns", "review_count", "rating_sum")] == [
        1,
        3,
        "30.030000",
        0,
        0,
        0,
    ]
    assert (rows["P1"]["review_count"], rows["P1"]["rating_sum"]) == (2, 9)


def test_merging_activity_of_newer_dates_equals_building_it_from_everything(duck: Any) -> None:
    i = processed_inputs(duck)

    def upto(df: Any, day: str) -> Any:
        return df.where(df["date"] <= day)

    def after(df: Any, day: str) -> Any:
        return df.where(df["date"] > day)

    tx, reviews = i["transactions"], i["reviews"]
    merged = curated.merge_product_activity(
        curated.product_activity(upto(tx, D1), upto(reviews, D1)),
        curated.product_activity(after(tx, D1), after(reviews, D1)),
    )
    assert records(merged) == records(curated.product_activity(tx, reviews))
    state = curated.merge_customer_activity(
        curated.customer_activity(upto(tx, D2)), curated.customer_activity(after(tx, D2))
    )
    assert records(curated.dim_customers_from(state)) == records(curated.dim_customers(tx))


def test_dim_products_aggregates_reviews_and_sales(duck: Any) -> None:
    inputs = processed_inputs(duck)
    activity = curated.product_activity(inputs["transactions"], inputs["reviews"])
    out = curated.dim_products(inputs["products"], activity)
    assert out.columns == list(DIM_PRODUCTS.column_names)
    rows = by(records(out), "product_id")
    assert sorted(rows) == ["P1", "P2"]
    p1, p2 = rows["P1"], rows["P2"]
    assert (p1["name"], p1["price"], p1["stock"], p1["first_seen_date"], p1["last_updated_date"]) == (
        "Mug v2",
        "24.990000",
        8,
        D1,
        D2,
    )
    assert (p1["review_count"], p1["avg_rating"], p1["orders"], p1["units_sold"], p1["revenue"]) == (
        2,
        "4.500000",
        2,
        3,
        "29.970000",
    )
    assert (p1["returns"], p1["return_rate"]) == (0, "0.000000")
    assert (p2["orders"], p2["units_sold"], p2["revenue"], p2["returns"], p2["return_rate"]) == (
        2,
        0,
        "0.000000",
        2,
        "1.000000",
    )


def test_dim_customers_ltv_and_rfm(duck: Any) -> None:
    out = curated.dim_customers(processed_inputs(duck)["transactions"])
    assert out.columns == list(DIM_CUSTOMERS.column_names)
    rows = by(records(out), "customer_id")
    c1, c2, c3 = rows["C1"], rows["C2"], rows["C3"]
    assert (c1["orders"], c1["units"], c1["lifetime_value"], c1["returns"], c1["recency_days"]) == (
        1,
        2,
        "19.980000",
        1,
        2,
    )
    assert (c2["first_purchase_date"], c2["last_purchase_date"], c2["as_of_date"]) == (D2, D3, D3)
    # Quintiles of three customers are 1, 2, 3; ties (every customer has one order) by customer_id.
    assert [(r["rfm_score"], r["segment"]) for r in (c1, c2, c3)] == [
        ("112", "Lost"),
        ("321", "Needs Attention"),
        ("233", "At Risk"),
    ]
    assert c3["avg_order_value"] == "30.030000"


def test_fct_sessions_add_completed_order_revenue(duck: Any) -> None:
    inputs = processed_inputs(duck)
    built = sessions.sessions(inputs["clicks"])
    out = curated.fct_sessions(built, inputs["clicks"], inputs["transactions"], dates_frame(duck, [D1, D2]))
    assert out.columns == [*FCT_SESSIONS.column_names, "date"]
    rows = by(records(out), "session_id")
    assert {k: (v["order_revenue"], v["is_known_customer"]) for k, v in rows.items()} == {
        "S1": ("19.980000", True),
        "S2": ("0.000000", False),
        "S3": ("9.990000", True),  # T404 names no transaction
    }


def test_basket_pairs_count_each_dates_baskets_per_pair_per_product_and_in_all(duck: Any) -> None:
    def sale(tid: str, customer: str, product: str, sold_on: str, landed: str) -> dict[str, Any]:
        return {
            "transaction_id": tid,
            "customer_id": customer,
            "product_id": product,
            "transaction_date": date.fromisoformat(sold_on),
            "status": "returned" if tid == "T2" else "completed",  # every status is a purchase
            "date": landed,
        }

    sales = typed_frame(
        duck,
        PROCESSED_TRANSACTIONS,
        [
            sale("T1", "C1", "P1", D1, D1),
            sale("T2", "C1", "P2", D1, D1),
            sale("T3", "C1", "P2", D1, D1),  # P2 again: the basket holds it once
            sale("T4", "C2", "P2", D1, D1),
            sale("T5", "C2", "P3", "2024-12-31", D1),  # another day's purchase: another basket
            sale("T6", "C1", "P1", D1, D2),  # landed a day late: a basket of D2, not C1's of D1
            sale("T7", "C1", "P3", D1, D2),
            sale("T8", "C9", "P1", D3, D3),  # a date not asked for
        ],
    )
    out = curated.basket_pairs(sales, dates_frame(duck, [D1, D2]))
    assert out.columns == [*BASKET_PAIRS.column_names, "date"]
    got = sorted(
        (r["date"], r["product_id"], r["related_product_id"], r["baskets"], r["day_baskets"]) for r in records(out)
    )
    assert got == [
        (D1, "P1", "P1", 1, 3),
        (D1, "P1", "P2", 1, 3),
        (D1, "P2", "P2", 2, 3),
        (D1, "P3", "P3", 1, 3),
        (D2, "P1", "P1", 1, 1),
        (D2, "P1", "P3", 1, 1),
        (D2, "P3", "P3", 1, 1),
    ]


def test_daily_kpis_one_row_per_date_even_without_data(duck: Any) -> None:
    inputs = processed_inputs(duck)
    built = sessions.sessions(inputs["clicks"])
    dates = [D1, D2, D4]
    out = curated.daily_kpis(dates_frame(duck, dates), inputs["transactions"], built, inputs["reviews"])
    assert out.columns == [*DAILY_KPIS.column_names, "date"]
    rows = by(records(out), "date")
    assert sorted(rows) == dates
    d1, d2, d4 = rows[D1], rows[D2], rows[D4]
    assert [d1[k] for k in ("revenue", "orders", "completed_orders", "units", "customers", "new_customers")] == [
        "19.980000",
        2,
        1,
        2,
        1,
        1,
    ]
    assert [d1[k] for k in ("returns", "return_rate", "sessions", "converted_sessions", "conversion_rate")] == [
        1,
        "0.500000",
        2,
        1,
        "0.500000",
    ]
    assert [d2[k] for k in ("revenue", "avg_order_value", "customers", "new_customers", "reviews", "avg_rating")] == [
        "40.020000",
        "20.010000",
        2,
        2,
        2,
        "2.500000",
    ]
    assert [
        d4[k] for k in ("revenue", "orders", "avg_order_value", "return_rate", "conversion_rate", "avg_rating")
    ] == [
        "0.000000",
        0,
        "0.000000",
        None,
        None,
        None,
    ]


@pytest.mark.parametrize(
    ("total", "count", "mean"),
    [("10.01", 2, "5.01"), ("10.00", 3, "3.33"), ("20.02", 3, "6.67"), ("0.00", 0, "0.00"), ("0.05", 2, "0.03")],
)
def test_money_mean_rounds_half_up_to_the_cent(duck: Any, total: str, count: int, mean: str) -> None:
    from decimal import Decimal

    T = api(duck).T
    F = api(duck).F
    schema = T.StructType([T.StructField("t", T.DecimalType(18, 2)), T.StructField("n", T.LongType())])
    df = duck.createDataFrame([(Decimal(total), count)], schema)
    got = df.select(money_mean(F, "t", "n").alias("m")).collect()[0]["m"]
    assert f"{Decimal(str(got)):.2f}" == mean


def test_every_score_combination_has_exactly_the_first_matching_segment() -> None:
    seen = set()
    for r, f, m in itertools.product(range(1, 6), repeat=3):
        segment = segment_of(r, f, m)
        first = next(rule.segment for rule in SEGMENT_RULES if rule.matches(r, f, m))
        assert segment == first
        seen.add(segment)
    assert seen == set(RFM_SEGMENTS)
    assert segment_of(5, 5, 5) == "Champions"
    assert segment_of(1, 1, 1) == "Lost"
