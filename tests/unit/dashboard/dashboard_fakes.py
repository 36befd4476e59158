"""Deterministic query results for the dashboard tests, shaped exactly like sql/*.sql output.

The column lists are the real queries' (a test runs every sql/*.sql on an empty lake and
compares), so the page is tested against the names it will meet in production. Values are
small, varied and non-zero so every chart has something to draw.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from ecomlake.snapshots.adopt import adopt_unversioned

START = date(2025, 1, 1)
DAYS = 30
DATES = [START + timedelta(days=i) for i in range(DAYS)]
DEVICES = ("desktop", "mobile", "tablet")
STAGES = ("page_view", "product_view", "add_to_cart", "checkout", "purchase")
CATEGORIES = ("Books", "Electronics", "Home", "Sports")
SEGMENTS = (
    "Champions",
    "Loyal",
    "Potential Loyalist",
    "New",
    "At Risk",
    "Needs Attention",
    "Hibernating",
    "Lost",
)

COLUMNS: dict[str, list[str]] = {
    "daily_kpis": [
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
    "revenue_trends": [
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
    "revenue_by_category": [
        "period_start",
        "category",
        "days_with_sales",
        "orders",
        "units",
        "revenue",
        "revenue_share",
    ],
    "ltv_distribution": [
        "band_index",
        "band_start",
        "band_end",
        "customers",
        "customer_share",
        "lifetime_value",
        "value_share",
        "customers_total",
    ],
    "top_products": [
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
    "conversion_funnel": [
        "period_start",
        "device",
        "stage_order",
        "stage",
        "sessions",
        "step_conversion",
        "overall_conversion",
    ],
    "customer_segments": [
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
    "customer_ltv": [
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
    "return_rates": [
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
    "product_recommendations": [
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
}


def _money(value: float) -> Decimal:
    return Decimal(str(round(value, 2)))


def daily_kpis() -> list[tuple[Any, ...]]:
    rows = []
    for i, day in enumerate(DATES):
        orders = 3000 + (i * 37) % 400
        returns = 120 + (i * 13) % 60
        completed = orders - returns
        revenue = _money(completed * (52.5 + (i % 7) * 1.25))
        sessions = 1600 + (i * 29) % 300
        converted = 90 + (i * 7) % 40
        rows.append(
            (
                day,
                revenue,
                orders,
                completed,
                completed * 2,
                1800 + i * 5,
                40 + (i * 3) % 25,
                _money(float(revenue) / completed),
                returns,
                round(returns / orders, 4),
                sessions,
                converted,
                round(converted / sessions, 4),
                60 + i % 9,
                3.9 + (i % 5) / 10,
            )
        )
    return rows


def revenue_trends() -> list[tuple[Any, ...]]:
    kpis = daily_kpis()
    rows = []
    for i, k in enumerate(kpis):
        window = [float(r[1]) for r in kpis[max(0, i - 6) : i + 1]]
        prev = kpis[i - 1][1] if i else None
        rows.append(
            (
                k[0],
                1,
                k[2],
                k[3],
                k[4],
                k[5],
                k[1],
                k[7],
                _money(sum(window) / len(window)),
                None if prev is None else k[1] - prev,
                None if prev is None else round(float(k[1] - prev) / float(prev), 4),
            )
        )
    return rows


def revenue_by_category() -> list[tuple[Any, ...]]:
    """One row per day and category (grain = day); each day's categories share its revenue."""
    rows = []
    for i, day in enumerate(DATES):
        revenues = [_money(4000 + (i * 97 + c * 1300) % 2500) for c in range(len(CATEGORIES))]
        total = float(sum(revenues))
        for c, (category, revenue) in enumerate(zip(CATEGORIES, revenues, strict=True)):
            orders = 60 + (i * 7 + c * 11) % 40
            rows.append((day, category, 1, orders, orders + 5, revenue, round(float(revenue) / total, 4)))
    return rows


# Customers per lifetime-value band ($500 wide, the last open-ended): they sum to every customer.
LTV_BAND_WIDTH = 500
LTV_BAND_CUSTOMERS = (2100, 1500, 900, 600, 400, 300, 200, 150, 100, 50, 100)


def ltv_distribution() -> list[tuple[Any, ...]]:
    total = sum(LTV_BAND_CUSTOMERS)
    values = [_money(n * (i * LTV_BAND_WIDTH + LTV_BAND_WIDTH / 2)) for i, n in enumerate(LTV_BAND_CUSTOMERS)]
    value_total = float(sum(values))
    last = len(LTV_BAND_CUSTOMERS) - 1
    return [
        (
            i,
            _money(i * LTV_BAND_WIDTH),
            None if i == last else _money((i + 1) * LTV_BAND_WIDTH),
            n,
            round(n / total, 4),
            value,
            round(float(value) / value_total, 4),
            total,
        )
        for i, (n, value) in enumerate(zip(LTV_BAND_CUSTOMERS, values, strict=True))
    ]


def top_products() -> list[tuple[Any, ...]]:
    rows = []
    for c, category in enumerate(CATEGORIES):
        for rank in range(1, 6):
            orders = 400 - rank * 40 + c * 10
            returns = 10 + rank * 3
            revenue = _money(90000 / rank + c * 2500.5)
            rows.append(
                (
                    category,
                    rank,
                    f"P{c * 100 + rank:06d}",
                    f"{category} item {rank}",
                    f"Brand {rank % 3}",
                    orders,
                    orders * 2,
                    revenue,
                    returns,
                    round(returns / orders, 4),
                    round(1 / (rank + 1), 4),
                )
            )
    return rows


def conversion_funnel() -> list[tuple[Any, ...]]:
    """One funnel per day (by = day): device 'all' plus each device, five stages."""
    rows = []
    for i, day in enumerate(DATES):
        per_device = {d: 400 + (i * 11 + n * 90) % 200 for n, d in enumerate(DEVICES)}
        for device in ("all", *DEVICES):
            top = sum(per_device.values()) if device == "all" else per_device[device]
            counts = [top, int(top * 0.7), int(top * 0.3), int(top * 0.15), int(top * 0.08)]
            for order, (stage, sessions) in enumerate(zip(STAGES, counts, strict=True), start=1):
                step = 1.0 if order == 1 else round(sessions / counts[order - 2], 4)
                rows.append((day, device, order, stage, sessions, step, round(sessions / counts[0], 4)))
    return rows


def customer_segments() -> list[tuple[Any, ...]]:
    sizes = [900, 1400, 1100, 800, 600, 500, 700, 400]
    total = sum(sizes)
    revenue = [_money(s * (500 - n * 45)) for n, s in enumerate(sizes)]
    total_revenue = float(sum(revenue))
    return [
        (
            seg,
            size,
            round(size / total, 4),
            rev,
            round(float(rev) / total_revenue, 4),
            _money(float(rev) / size),
            3.5 - n * 0.3,
            10.0 + n * 9,
            5 - n * 0.5,
            4.5 - n * 0.4,
            4.8 - n * 0.5,
        )
        for n, (seg, size, rev) in enumerate(zip(SEGMENTS, sizes, revenue, strict=True))
    ]


LTV_CUSTOMERS = 200
LTV_TOTAL_CUSTOMERS = 6400


def customer_ltv() -> list[tuple[Any, ...]]:
    rows = []
    cumulative = Decimal("0")
    total_value = Decimal("2500000.00")
    for rank in range(1, LTV_CUSTOMERS + 1):
        value = _money(6000 / (1 + rank / 12) + 150)
        cumulative += value
        rows.append(
            (
                rank,
                f"C{rank:06d}",
                SEGMENTS[rank % 3],
                2 + rank % 9,
                value,
                _money(float(value) / (2 + rank % 9)),
                DATES[rank % 5],
                DATES[-1 - rank % 10],
                rank % 10,
                1,
                round(rank / LTV_TOTAL_CUSTOMERS, 4),
                round(float(value / total_value), 6),
                round(float(cumulative / total_value), 4),
            )
        )
    return rows


def return_rates() -> list[tuple[Any, ...]]:
    groups = {
        "category": CATEGORIES,
        "brand": ("Brand 0", "Brand 1", "Brand 2"),
        "price_band": ("budget", "mid", "premium", "luxury"),
        "rating": ("1", "2", "3", "4", "5", "unrated"),
    }
    rows = []
    for d, (dimension, values) in enumerate(groups.items()):
        for n, value in enumerate(values):
            orders = 20000 + n * 1500 + d * 700
            returns = 900 + n * 210 + d * 50
            gross = _money(orders * 55.0)
            lost = _money(returns * 57.5)
            rows.append(
                (
                    dimension,
                    value,
                    orders,
                    returns,
                    round(returns / orders, 4),
                    returns * 2,
                    gross,
                    lost,
                    round(float(lost) / float(gross), 4),
                )
            )
    return rows


def product_recommendations() -> list[tuple[Any, ...]]:
    rows = []
    for rank in range(1, 6):
        rows.append(
            (
                "bought_together",
                rank,
                f"P{rank:06d}",
                f"Books item {rank}",
                f"P{100 + rank:06d}",
                f"Electronics item {rank}",
                40 - rank * 3,
                round(0.002 - rank * 0.0001, 6),
                round(0.3 - rank * 0.02, 4),
                round(2.5 - rank * 0.1, 4),
                None,
                None,
                None,
            )
        )
    for rank in range(1, 6):
        views = 900 - rank * 50
        purchases = 10 + rank
        rows.append(
            (
                "viewed_not_bought",
                rank,
                f"P{200 + rank:06d}",
                f"Home item {rank}",
                None,
                None,
                None,
                None,
                None,
                None,
                views,
                purchases,
                round(purchases / views, 4),
            )
        )
    return rows


BUILDERS = {
    "daily_kpis": daily_kpis,
    "revenue_trends": revenue_trends,
    "revenue_by_category": revenue_by_category,
    "ltv_distribution": ltv_distribution,
    "top_products": top_products,
    "conversion_funnel": conversion_funnel,
    "customer_segments": customer_segments,
    "customer_ltv": customer_ltv,
    "return_rates": return_rates,
    "product_recommendations": product_recommendations,
}


@dataclass
class FakeResult:
    name: str
    columns: list[str]
    rows: list[tuple[Any, ...]]
    sql: str = ""
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class FakeRunner:
    """Stands in for ``ecomlake.queries.run_query``; remembers what it was asked."""

    empty: frozenset[str] = frozenset()
    calls: list[tuple[str, Path, dict[str, str] | None]] = field(default_factory=list)

    def __call__(self, name: str, lake: Path, params: dict[str, str] | None = None) -> FakeResult:
        self.calls.append((name, lake, params))
        rows = [] if name in self.empty else BUILDERS[name]()
        return FakeResult(name, list(COLUMNS[name]), rows, params=dict(params or {}))


def write_partitions(lake: Path, days: list[date] = DATES) -> None:
    """Empty files where the curated daily partitions live, so the build finds the lake's dates."""
    for table in ("daily_kpis", "fact_sales"):
        for day in days:
            part = lake / "curated" / table / f"date={day.isoformat()}"
            part.mkdir(parents=True, exist_ok=True)
            (part / "part-0.parquet").write_bytes(b"")
    adopt_unversioned(lake, "dashboard-test")  # published, as a run would


def write_dq_reports(lake: Path) -> None:
    """Two DQ reports: the last day failed one critical check."""
    reports = lake / "_reports" / "dq"
    reports.mkdir(parents=True, exist_ok=True)
    for day, passed in ((DATES[-2], True), (DATES[-1], False)):
        checks = [
            {"name": "row_count", "passed": True, "severity": "critical"},
            {"name": "freshness", "passed": passed, "severity": "critical"},
            {"name": "nulls", "passed": passed, "severity": "warning"},
        ]
        report = {
            "date": day.isoformat(),
            "passed": passed,
            "checks": checks,
            "critical_failures": [] if passed else ["freshness"],
        }
        (reports / f"date={day.isoformat()}.json").write_text(json.dumps(report), encoding="utf-8")
        (reports / f"date={day.isoformat()}.html").write_text(
            f"<!doctype html><title>DQ {day}</title><h1>DQ report {day}</h1>", encoding="utf-8"
        )


def expected_kpis(rows: list[tuple[Any, ...]]) -> dict[str, float]:
    """The KPI tiles' numbers computed from daily_kpis rows, independently of app.js."""
    col = {c: i for i, c in enumerate(COLUMNS["daily_kpis"])}
    revenue = sum(float(r[col["revenue"]]) for r in rows)
    orders = sum(r[col["orders"]] for r in rows)
    completed = sum(r[col["completed_orders"]] for r in rows)
    sessions = sum(r[col["sessions"]] for r in rows)
    return {
        "revenue": revenue,
        "orders": orders,
        "aov": revenue / completed,
        "conversion_rate": sum(r[col["converted_sessions"]] for r in rows) / sessions,
        "return_rate": sum(r[col["returns"]] for r in rows) / orders,
        "customers": sum(r[col["new_customers"]] for r in rows),
    }


LATEST = DATES[-1]


class FakeAthena:
    """Answers the dashboard's SQL as Athena would: the query's rows, or the dates for a default.

    ``empty`` names queries that answer no rows; ``dates=False`` is a catalog with no partitions.
    ``sql_of(name)`` is the SQL a query was sent as.
    """

    def __init__(self, fail: bool = False, empty: frozenset[str] = frozenset(), dates: bool = True) -> None:
        self.sqls: list[str] = []
        self.fail = fail
        self.empty = empty
        self.dates = dates  # False: a catalog with no partitions yet
        from ecomlake.dashboard_api import QUERY_NAMES
        from ecomlake.queries import load_query

        self.titles = {f"-- title: {load_query(n).title}\n": n for n in QUERY_NAMES}

    def __call__(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        self.sqls.append(sql)
        if self.fail:
            raise RuntimeError("Athena: SYNTAX_ERROR line 1:1 secret-internal-detail")
        if sql.startswith('select min(d."day")'):
            return ["first_day", "last_day", "days"], [
                (DATES[0], LATEST, len(DATES)) if self.dates else (None, None, 0)
            ]
        if sql.startswith(('select max("date")', 'select min("date")')):
            return ["_col0"], [(LATEST if self.dates else None,)]
        name = next(n for title, n in self.titles.items() if sql.startswith(title))
        return list(COLUMNS[name]), [] if name in self.empty else BUILDERS[name]()

    @property
    def query_sqls(self) -> list[str]:
        return [s for s in self.sqls if s.startswith("--")]

    def sql_of(self, name: str) -> str:
        from ecomlake.queries import load_query

        title = f"-- title: {load_query(name).title}\n"
        return next(s for s in self.query_sqls if s.startswith(title))


@contextmanager
def fake_local_runner(athena: FakeAthena) -> Iterator[FakeAthena]:
    """Stands in for ``ecomlake.dashboard.local_runner`` (monkeypatched) in CLI tests."""
    yield athena
