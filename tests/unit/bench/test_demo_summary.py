"""The demo's summary: pure functions over fake query results, summaries and run steps."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ecomlake.local.demo import ANSWERS, DemoConfig, answers, collapse_steps, dq_status, zone_rows
from ecomlake.queries import list_queries


@dataclass
class FakeResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]


D1, D2 = dt.date(2025, 1, 1), dt.date(2025, 1, 2)

RESULTS = {
    "top_products": FakeResult(
        [
            "category",
            "category_rank",
            "product_id",
            "product_name",
            "brand",
            "orders",
            "units_sold",
            "revenue",
            "returns",
            "return_rate",
            "category_revenue_share",
        ],
        [
            ("Beauty", 1, "P1", "Sunscreen", "A", 10, 12, Decimal("500.00"), 1, 0.1, 0.5),
            ("Sports", 1, "P2", "Backpack", "B", 20, 25, Decimal("900.50"), 0, 0.0, 0.6),
        ],
    ),
    "customer_ltv": FakeResult(
        [
            "ltv_rank",
            "customer_id",
            "segment",
            "orders",
            "lifetime_value",
            "avg_order_value",
            "first_purchase_date",
            "last_purchase_date",
            "recency_days",
            "ltv_decile",
            "top_share_of_customers",
            "value_share",
            "cumulative_value_share",
        ],
        [
            (1, "C1", "Champions", 5, Decimal("300.00"), Decimal("60.00"), D1, D2, 0, 1, 0.1, 0.3, 0.3),
            (2, "C2", "Loyal", 3, Decimal("100.00"), Decimal("33.33"), D1, D2, 1, 2, 0.2, 0.1, 0.4),
        ],
    ),
    "conversion_funnel": FakeResult(
        ["period_start", "device", "stage_order", "stage", "sessions", "step_conversion", "overall_conversion"],
        [
            (D1, "all", 1, "page_view", 1000, 1.0, 1.0),
            (D1, "all", 5, "purchase", 45, 0.5, 0.045),
            (D1, "mobile", 5, "purchase", 10, 0.5, 0.02),
        ],
    ),
    "product_recommendations": FakeResult(
        [
            "kind",
            "kind_rank",
            "product_id",
            "product_name",
            "related_product_id",
            "related_product_name",
            "pair_baskets",
            "support",
            "confidence",
            "lift",
            "views",
            "purchases",
            "view_to_purchase_rate",
        ],
        [
            ("bought_together", 1, "P1", "Sunscreen", "P2", "Backpack", 30, 0.01, 0.1, 0.8, None, None, None),
            ("bought_together", 2, "P3", "Mug", "P4", "Kettle", 12, 0.004, 0.2, 2.5, None, None, None),
            ("viewed_not_bought", 1, "P5", "Tent", None, None, None, None, None, None, 400, 4, 0.01),
        ],
    ),
    "revenue_trends": FakeResult(
        [
            "period_start",
            "days_with_sales",
            "orders",
            "completed_orders",
            "units",
            "customers",
            "revenue",
            "avg_order_value",
            "revenue_moving_avg",
            "revenue_change",
            "revenue_growth",
        ],
        [
            (D1, 1, 10, 9, 12, 8, Decimal("1000.00"), Decimal("111.11"), Decimal("1000"), None, None),
            (D2, 1, 12, 11, 14, 9, Decimal("1100.00"), Decimal("100.00"), Decimal("1050"), Decimal("100"), 0.1),
        ],
    ),
    "customer_segments": FakeResult(
        [
            "segment",
            "customers",
            "customer_share",
            "revenue",
            "revenue_share",
            "avg_lifetime_value",
            "avg_orders",
            "avg_recency_days",
            "avg_r_score",
            "avg_f_score",
            "avg_m_score",
        ],
        [
            ("Champions", 40, 0.4, Decimal("5000"), 0.6, Decimal("125"), 5.0, 1.0, 5.0, 5.0, 5.0),
            ("Lost", 60, 0.6, Decimal("1000"), 0.4, Decimal("16"), 1.0, 20.0, 1.0, 1.0, 1.0),
        ],
    ),
    "return_rates": FakeResult(
        [
            "dimension",
            "dimension_value",
            "orders",
            "returns",
            "return_rate",
            "returned_units",
            "gross_revenue",
            "revenue_lost",
            "revenue_lost_share",
        ],
        [
            ("category", "Shoes", 100, 13, 0.13, 15, Decimal("1000"), Decimal("130"), 0.13),
            ("category", "Books", 200, 4, 0.02, 4, Decimal("2000"), Decimal("40"), 0.02),
            ("brand", "Zeta", 10, 9, 0.9, 9, Decimal("100"), Decimal("90"), 0.9),
        ],
    ),
    "daily_kpis": FakeResult(
        [
            "date",
            "revenue",
            "orders",
            "completed_orders",
            "units",
            "customers",
            "new_customers",
            "avg_order_value",
            "returns",
            "return_rate",
            "sessions",
            "converted_sessions",
            "conversion_rate",
            "reviews",
            "avg_rating",
        ],
        [
            (D1, Decimal("1000.00"), 10, 9, 12, 8, 8, Decimal("111.11"), 1, 0.1, 50, 5, 0.1, 2, 4.0),
            (D2, Decimal("1234.50"), 12, 11, 14, 9, 1, Decimal("112.23"), 1, 0.08, 60, 6, 0.1, 3, 4.1),
        ],
    ),
}


RESULTS["revenue_by_category"] = FakeResult(
    ["period_start", "category", "days_with_sales", "orders", "units", "revenue", "revenue_share"],
    [
        (D1, "Books", 1, 3, 3, Decimal("40.00"), 0.4),
        (D1, "Toys", 1, 5, 6, Decimal("60.00"), 0.6),
        (D2, "Books", 1, 4, 4, Decimal("90.00"), 0.9),
        (D2, "Toys", 1, 1, 1, Decimal("10.00"), 0.1),
    ],
)
RESULTS["ltv_distribution"] = FakeResult(
    [
        "band_index",
        "band_start",
        "band_end",
        "customers",
        "customer_share",
        "lifetime_value",
        "value_share",
        "customers_total",
    ],
    [
        (0, Decimal("0.00"), Decimal("500.00"), 70, 0.7, Decimal("9000.00"), 0.3, 100),
        (1, Decimal("500.00"), None, 30, 0.3, Decimal("21000.00"), 0.7, 100),
    ],
)


def test_every_query_has_an_answer_rule() -> None:
    assert set(ANSWERS) == {q.name for q in list_queries()}


def test_answers_pick_the_headline_of_each_question() -> None:
    got = {a.query: a.answer for a in answers(RESULTS)}
    assert got["top_products"] == "Backpack (P2, Sports): revenue 900.50"
    # Both listed rows are not all in decile 1, so the share is exact (no ">=").
    assert got["customer_ltv"] == "top customer C1 (Champions): LTV 300.00; top 10% of customers hold 30.0% of value"
    assert got["conversion_funnel"] == "4.5% of sessions purchase (45 of 1,000)"
    assert got["product_recommendations"] == (
        "Mug + Kettle: lift 2.50 (12 baskets); viewed not bought: Tent (400 views, 1.0% bought)"
    )
    assert got["revenue_trends"] == "2025-01-02: revenue 1,100.00, +10.0% on the period before"
    assert got["customer_segments"] == "Lost: 60 customers (60.0%), 40.0% of revenue"
    # The brand row has a higher rate but is not a category.
    assert got["return_rates"] == "Shoes: 13.0% returned (13 of 100 orders)"
    assert got["daily_kpis"] == "2025-01-02: revenue 1,234.50, 12 orders, AOV 112.23"
    # Books: 40 + 90 = 130 of 200 over the two days.
    assert got["revenue_by_category"] == "Books: revenue 130.00 (65.0% of revenue) over 2 period(s)"
    assert got["ltv_distribution"] == "70 of 100 customers (70.0%) have LTV 0.00-500.00"


def test_ltv_share_is_a_floor_when_only_the_first_decile_is_listed() -> None:
    partial = FakeResult(RESULTS["customer_ltv"].columns, RESULTS["customer_ltv"].rows[:1])
    got = {a.query: a.answer for a in answers({"customer_ltv": partial})}
    assert got["customer_ltv"].endswith("hold >= 30.0% of value")
    assert got["daily_kpis"] == "no rows"


def test_zone_rows_sum_summaries_per_dataset_and_merge_reasons() -> None:
    manifest = {"counts": {"transactions": 110, "reviews": 5}}
    summaries = [
        {
            "dataset_or_table": "transactions",
            "rows_out": 50,
            "rows_quarantined": 5,
            "quarantined_by_reason": {"bad_date": 3, "duplicate_key": 2},
        },
        {
            "dataset_or_table": "transactions",
            "rows_out": 50,
            "rows_quarantined": 5,
            "quarantined_by_reason": {"bad_date": 1, "unknown_enum": 4},
        },
        {"dataset_or_table": "sessions", "rows_out": 7, "rows_quarantined": 0, "quarantined_by_reason": {}},
    ]
    rows = {r.name: r for r in zone_rows(manifest, summaries)}
    assert list(rows) == ["transactions", "reviews", "sessions"]
    txn = rows["transactions"]
    assert (txn.raw, txn.processed, txn.quarantined) == (110, 100, 10)
    assert txn.quarantined_by_reason == {"bad_date": 4, "unknown_enum": 4, "duplicate_key": 2}
    assert list(txn.quarantined_by_reason) == ["bad_date", "unknown_enum", "duplicate_key"]
    assert (rows["reviews"].processed, rows["reviews"].quarantined) == (0, 0)
    assert rows["sessions"].raw is None
    assert rows["sessions"].processed == 7


def test_collapse_steps_folds_per_date_children() -> None:
    steps = [
        {"name": "etl", "kind": "parallel", "parent": None, "status": "SUCCEEDED", "seconds": 4.0},
        {"name": "transaction_etl", "kind": "glue", "parent": "etl", "status": "SUCCEEDED", "seconds": 2.0},
        {"name": "data_quality", "kind": "map", "parent": None, "status": "SUCCEEDED", "seconds": 0.0},
        *[
            {
                "name": f"data_quality[2025-01-0{i}]",
                "kind": "date",
                "parent": "data_quality",
                "status": "SUCCEEDED",
                "seconds": 0.25,
            }
            for i in range(1, 4)
        ],
        {"name": "master_data_merge", "kind": "glue", "parent": None, "status": "FAILED", "seconds": 1.5},
    ]
    rows = [(r.name, r.status, r.seconds) for r in collapse_steps(steps)]
    assert rows == [
        ("etl", "SUCCEEDED", 4.0),
        ("  transaction_etl", "SUCCEEDED", 2.0),
        ("data_quality (3 dates)", "SUCCEEDED", 0.75),  # no wall time recorded: the dates' sum
        ("master_data_merge", "FAILED", 1.5),
    ]


def test_dq_status_counts_dates_and_warnings() -> None:
    reports = [
        {"date": "2025-01-01", "passed": True, "summary": {"warnings_failed": 2}},
        {"date": "2025-01-02", "passed": False, "summary": {"warnings_failed": 0}},
        {"date": "2025-01-03", "passed": True, "summary": {}, "warnings": [{"id": "w"}]},
    ]
    status = dq_status(reports)
    assert (status.dates, status.passed, status.failed, status.warnings) == (3, 2, 1, 3)
    assert status.failed_dates == ["2025-01-02"]


def test_the_demo_runs_at_the_seed_scale_by_default() -> None:
    # The seed's figures: 30 days of 100k transactions, 500 products, 50k clicks, 2k reviews.
    expected = DemoConfig(
        days=30,
        start="2025-01-01",
        transactions=100_000,
        products=500,
        clickstream=50_000,
        reviews=2_000,
        seed=42,
        bad_rate=0.01,
        engine="duckdb",
    )
    assert DemoConfig() == expected
