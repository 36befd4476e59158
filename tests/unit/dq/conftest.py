"""A small, internally consistent lake built row by row, for the data-quality tests.

Every table is written as Parquet with exactly the column types of ``ecomlake.schemas``
in the contract's Hive layout, plus the ETL run summaries, so a clean lake passes every
check and each test breaks exactly one thing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ecomlake.contract import (
    QUARANTINE_DETAIL_COLUMN,
    QUARANTINE_REASON_COLUMN,
    QUARANTINE_ROWS_FILE,
    Job,
    Table,
    Zone,
    partition_prefix,
    run_summary_key,
    table_prefix,
    table_zone,
    validation_report_key,
)
from ecomlake.schemas import TABLES, decimal_precision, price_band

PRODUCTS = {
    "P001": ("Desk lamp", "home", "Lumen", Decimal("19.99")),
    "P002": ("Trail shoe", "sports", "Stride", Decimal("89.50")),
    "P003": ("Espresso maker", "kitchen", "Crema", Decimal("249.00")),
    "P004": ("Road bike", "sports", "Velo", Decimal("1299.00")),
}


def arrow_type(type_: str) -> pa.DataType:
    if type_.startswith("decimal"):
        return pa.decimal128(*decimal_precision(type_))
    return {
        "string": pa.string(),
        "int": pa.int32(),
        "bigint": pa.int64(),
        "double": pa.float64(),
        "boolean": pa.bool_(),
        "date": pa.date32(),
        "timestamp": pa.timestamp("us"),
    }[type_]


def arrow_schema(table: str, drop: tuple[str, ...] = ()) -> pa.Schema:
    return pa.schema([(c.name, arrow_type(c.type)) for c in TABLES[Table(table)].columns if c.name not in drop])


class LakeBuilder:
    """Writes tables, run summaries, quarantine and validation reports under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def write(self, table: str, rows: list[dict[str, Any]], day: str | None = None, drop: tuple[str, ...] = ()) -> Path:
        schema = arrow_schema(table, drop)
        data = {name: [row.get(name) for row in rows] for name in schema.names}
        zone = table_zone(table)
        prefix = partition_prefix(zone, table, day) if day else table_prefix(zone, table)
        path = self.root / prefix / "part-0.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pydict(data, schema=schema), path)
        return path

    def summary(self, job: str, day: str, entries: list[dict[str, Any]]) -> None:
        path = self.root / run_summary_key(job, day)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(entries))

    def quarantine(self, dataset: str, day: str, reasons: dict[str, int]) -> Path:
        values = [r for r, n in reasons.items() for _ in range(n)]
        table = pa.table(
            {
                "transaction_id": [f"BAD{i}" for i in range(len(values))],
                QUARANTINE_REASON_COLUMN: values,
                QUARANTINE_DETAIL_COLUMN: ["crafted"] * len(values),
            }
        )
        path = self.root / partition_prefix(Zone.QUARANTINE, dataset, day) / QUARANTINE_ROWS_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path)
        return path

    def validation(
        self, dataset: str, day: str, file_name: str, extra_columns: list[str], missing: list[str] | None = None
    ) -> None:
        """A validation report shaped like ``ecomlake.ingest``'s ValidationReport.to_dict()."""
        path = self.root / validation_report_key(dataset, day, file_name)
        path.parent.mkdir(parents=True, exist_ok=True)
        doc = {
            "key": f"raw/{dataset}/date={day}/{file_name}",
            "file": file_name,
            "dataset": dataset,
            "date": day,
            "status": "accepted",
            "rows": 10,
            "valid_rows": 10,
            "extra_columns": extra_columns,
            "missing_optional_columns": missing or [],
        }
        path.write_text(json.dumps(doc))

    # ------------------------------------------------------------------ a clean lake

    def clean_day(self, day: str, n: int = 10, *, curated: bool = True) -> dict[str, list[dict[str, Any]]]:
        """Write one consistent date across every table; returns the rows written per table."""
        d = date.fromisoformat(day)
        tag = d.strftime("%m%d")
        products = [
            {"product_id": pid, "name": name, "category": cat, "brand": brand, "price": price, "stock": 10}
            | {"price_band": price_band(price)}
            for pid, (name, cat, brand, price) in PRODUCTS.items()
        ]
        txns = []
        for i in range(n):
            pid = list(PRODUCTS)[i % len(PRODUCTS)]
            price, qty = PRODUCTS[pid][3], 1 + i % 3
            status = "returned" if i == 0 else "completed"
            txns.append(
                {
                    "transaction_id": f"T{tag}{i:04d}",
                    "customer_id": f"C{i % 4:03d}",
                    "product_id": pid,
                    "quantity": qty,
                    "price": price,
                    "total_amount": price * qty,
                    "transaction_date": d,
                    "status": status,
                    "year": d.year,
                    "month": d.month,
                    "is_return": status != "completed",
                }
            )
        reviews = [
            {
                "review_id": f"R{tag}{i}",
                "product_id": "P001",
                "customer_id": "C001",
                "rating": 4,
                "review_text": "fine",
                "review_date": d,
            }
            for i in range(2)
        ]
        start = datetime.combine(d, datetime.min.time()) + timedelta(hours=9)
        funnel = ["page_view", "product_view", "add_to_cart", "checkout", "purchase"]
        clicks = [
            {
                "session_id": f"S{tag}1",
                "customer_id": "C001",
                "event_type": ev,
                "page": "/product/P001" if ev == "product_view" else "/",
                "timestamp": start + timedelta(minutes=k),
                "device": "mobile",
                "product_id": "P001" if ev == "product_view" else None,
                "order_id": None,
            }
            for k, ev in enumerate(funnel)
        ]
        session = {
            "session_id": f"S{tag}1",
            "customer_id": "C001",
            "device": "mobile",
            "session_start": start,
            "session_end": start + timedelta(minutes=4),
            "duration_seconds": 240,
            "event_count": 5,
            "page_views": 1,
            "product_views": 1,
            "add_to_carts": 1,
            "checkouts": 1,
            "purchases": 1,
            "furthest_stage": "purchase",
            "converted": True,
        }
        self.write("products", products, day)
        self.write("transactions", txns, day)
        self.write("reviews", reviews, day)
        self.write("clickstream", clicks, day)
        self.write("sessions", [session], day)
        self.summary(
            Job.TRANSACTION_ETL,
            day,
            [self._entry(Job.TRANSACTION_ETL, "transactions", day, len(txns))],
        )
        self.summary(
            Job.PRODUCT_ENRICHMENT,
            day,
            [
                self._entry(Job.PRODUCT_ENRICHMENT, "products", day, len(products)),
                self._entry(Job.PRODUCT_ENRICHMENT, "reviews", day, len(reviews)),
            ],
        )
        self.summary(
            Job.CLICKSTREAM_AGGREGATION,
            day,
            [self._entry(Job.CLICKSTREAM_AGGREGATION, "clickstream", day, len(clicks))],
        )
        if curated:
            self.curated_day(day, txns, session)
        return {"transactions": txns, "products": products, "reviews": reviews, "clickstream": clicks}

    @staticmethod
    def _entry(job: str, dataset: str, day: str, rows: int) -> dict[str, Any]:
        return {
            "job": str(job),
            "dataset": dataset,
            "date": day,
            "rows_in": rows,
            "rows_out": rows,
            "rows_quarantined": 0,
            "duplicates_dropped": 0,
            "quarantined_by_reason": {},
            "engine": "duckdb",
            "seconds": 0.1,
        }

    def curated_day(self, day: str, txns: list[dict[str, Any]], session: dict[str, Any]) -> None:
        facts = []
        for t in txns:
            name, cat, brand, _ = PRODUCTS[t["product_id"]]
            facts.append(
                t
                | {
                    "product_name": name,
                    "category": cat,
                    "brand": brand,
                    "price_band": price_band(t["price"]),
                    "net_amount": t["total_amount"] if t["status"] == "completed" else Decimal("0.00"),
                }
            )
        self.write("fact_sales", facts, day)
        self.write("fct_sessions", [session | {"order_revenue": Decimal("0.00"), "is_known_customer": True}], day)
        completed = [t for t in txns if t["status"] == "completed"]
        revenue = sum((t["total_amount"] for t in completed), Decimal("0.00"))
        kpi = {
            "revenue": revenue,
            "orders": len(txns),
            "completed_orders": len(completed),
            "units": sum(t["quantity"] for t in completed),
            "customers": len({t["customer_id"] for t in txns}),
            "new_customers": 0,
            "avg_order_value": (revenue / len(completed)).quantize(Decimal("0.01")),
            "returns": len(txns) - len(completed),
            "return_rate": (len(txns) - len(completed)) / len(txns),
            "sessions": 1,
            "converted_sessions": 1,
            "conversion_rate": 1.0,
            "reviews": 2,
            "avg_rating": 4.0,
        }
        self.write("daily_kpis", [kpi], day)
        d = date.fromisoformat(day)
        self.write(
            "dim_products",
            [
                {
                    "product_id": pid,
                    "name": name,
                    "category": cat,
                    "brand": brand,
                    "price": price,
                    "stock": 10,
                    "price_band": price_band(price),
                    "first_seen_date": d,
                    "last_updated_date": d,
                    "review_count": 0,
                    "avg_rating": None,
                    "orders": 0,
                    "units_sold": 0,
                    "revenue": Decimal("0.00"),
                    "returns": 0,
                    "return_rate": None,
                }
                for pid, (name, cat, brand, price) in PRODUCTS.items()
            ],
        )
        self.write(
            "dim_customers",
            [
                {
                    "customer_id": f"C{i:03d}",
                    "first_purchase_date": d,
                    "last_purchase_date": d,
                    "orders": 1,
                    "units": 1,
                    "lifetime_value": Decimal("10.00"),
                    "avg_order_value": Decimal("10.00"),
                    "returns": 0,
                    "recency_days": 0,
                    "r_score": 5,
                    "f_score": 3,
                    "m_score": 3,
                    "rfm_score": "533",
                    "segment": "Loyal",
                    "as_of_date": d,
                }
                for i in range(4)
            ],
        )


@pytest.fixture
def build(lake: Path) -> LakeBuilder:
    return LakeBuilder(lake)


@pytest.fixture
def days() -> Callable[[str, int], list[str]]:
    def make(start: str, count: int) -> list[str]:
        first = date.fromisoformat(start)
        return [(first + timedelta(days=i)).isoformat() for i in range(count)]

    return make
