"""A small, internally consistent lake built row by row, for the data-quality tests.

Every table is written as Parquet with exactly the column types of ``ecomlake.schemas``,
as a *version* of one run (``<zone>/<table>/date=D/run=<run>/part-0.parquet``), and the run's
journal records what it wrote and its row-conservation summaries, the way the ETL jobs
do. The builder publishes after every change (a snapshot naming its versions, with
``computed`` pointing at its journal), so ``ecomlake dq`` sees it at once; a builder made
with ``publish=False`` leaves its run unpublished, for the audit. A clean lake passes every
check and each test breaks exactly one thing.
"""

from __future__ import annotations

import json
import shutil
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
    Dataset,
    Job,
    Table,
    validation_report_key,
    version_prefix,
)
from ecomlake.dq.rules import job_for_dataset
from ecomlake.schemas import TABLES, decimal_precision, price_band
from ecomlake.snapshots import Changes, Snapshot, load_published, publish, quarantine_unit, table_unit
from ecomlake.snapshots.journal import JobOutput, write_output
from ecomlake.storage import LocalStorage
from tests.baskets import basket_pair_rows

BUILT_RUN = "built-0001"

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


def unit_job(unit: str) -> str:
    """The job whose journal entry records a unit's versions (as the ETL and the merge do)."""
    zone, name = unit.split("/", 1)
    if zone == "curated":
        return str(Job.MASTER_DATA_MERGE)
    if name == str(Table.SESSIONS):
        return str(Job.CLICKSTREAM_AGGREGATION)
    return str(job_for_dataset(name))


class LakeBuilder:
    """Writes table versions, journals, quarantine and validation reports of one run under ``root``."""

    def __init__(self, root: Path, run_id: str = BUILT_RUN, *, publish: bool = True) -> None:
        self.root, self.run_id, self.publishes = root, run_id, publish
        self.storage = LocalStorage(root)
        self.outputs: dict[str, JobOutput] = {}
        self.snapshot: Snapshot | None = None

    # ------------------------------------------------------------------ versions and the journal

    def output(self, job: str) -> JobOutput:
        return self.outputs.setdefault(str(job), JobOutput(job=str(job), run_id=self.run_id))

    def folder(self, table: str, day: str | None = None) -> Path:
        """The run's version folder of a table partition (or of an unpartitioned table)."""
        return self.root / version_prefix(table_unit(table), self.run_id, day)

    def _write_version(self, unit: str, day: str | None, data: pa.Table) -> Path:
        folder = self.root / version_prefix(unit, self.run_id, day)
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        path = folder / "part-0.parquet"
        pq.write_table(data, path)
        changes = self.output(unit_job(unit)).changes
        if day is None:
            changes.set_whole(unit, self.run_id)
        else:
            changes.set_partition(unit, day, self.run_id)
        self.commit()
        return path

    def write(self, table: str, rows: list[dict[str, Any]], day: str | None = None, drop: tuple[str, ...] = ()) -> Path:
        schema = arrow_schema(table, drop)
        data = {name: [row.get(name) for row in rows] for name in schema.names}
        return self._write_version(table_unit(table), day, pa.Table.from_pydict(data, schema=schema))

    def remove(self, table: str, day: str) -> None:
        """The run found no rows of ``table`` for ``day``: the partition disappears on publication."""
        unit = table_unit(table)
        shutil.rmtree(self.root / version_prefix(unit, self.run_id, day), ignore_errors=True)
        self.output(unit_job(unit)).changes.set_partition(unit, day, None)
        self.commit()

    def summary(self, job: str, day: str, entries: list[dict[str, Any]]) -> None:
        """The job's row-conservation summaries of ``day`` (replacing earlier ones); datasets are computed."""
        output = self.output(job)
        output.summaries = [s for s in output.summaries if s.get("date") != day] + entries
        for entry in entries:
            if entry.get("dataset") in set(Dataset):
                output.changes.set_input(entry["dataset"], day, f"files-{day}", self.run_id)
        self.commit()

    def drop_summary(self, job: str, day: str) -> None:
        """Lose the job's summaries of ``day`` while the snapshot still names this run as computing it."""
        output = self.output(job)
        output.summaries = [s for s in output.summaries if s.get("date") != day]
        self.commit()

    def changes(self) -> Changes:
        combined = Changes()
        for output in self.outputs.values():
            combined.update(output.changes)
        return combined

    def commit(self) -> None:
        """Write the run's journal; publish it (a builder of a published lake) over the published snapshot."""
        for output in self.outputs.values():
            write_output(self.storage, output)
        if self.publishes:
            base = load_published(self.storage)
            self.snapshot = publish(self.storage, base, self.changes(), self.run_id)

    def quarantine(self, dataset: str, day: str, reasons: dict[str, int]) -> Path:
        values = [r for r, n in reasons.items() for _ in range(n)]
        table = pa.table(
            {
                "transaction_id": [f"BAD{i}" for i in range(len(values))],
                QUARANTINE_REASON_COLUMN: values,
                QUARANTINE_DETAIL_COLUMN: ["crafted"] * len(values),
            }
        )
        return self._write_version(quarantine_unit(dataset), day, table)

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
        sales = [(day, t["customer_id"], t["transaction_date"], t["product_id"]) for t in txns]
        self.write("basket_pairs", basket_pair_rows(sales), day)
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
            "product_activity",
            [
                {
                    "product_id": pid,
                    "orders": 1,
                    "units_sold": 1,
                    "returns": 0,
                    "review_count": 0,
                    "revenue": price,
                    "rating_sum": 0,
                }
                for pid, (_name, _cat, _brand, price) in PRODUCTS.items()
            ],
        )
        self.write("dim_customers", self.dim_customers(day))

    @staticmethod
    def dim_customers(day: str) -> list[dict[str, Any]]:
        d = date.fromisoformat(day)
        return [
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
        ]


@pytest.fixture
def build(lake: Path) -> LakeBuilder:
    return LakeBuilder(lake)


@pytest.fixture
def run_builder(lake: Path) -> Callable[[str], LakeBuilder]:
    """A builder of an unpublished run on the same lake (what a run writes before its audit)."""

    def make(run_id: str = "run-0002") -> LakeBuilder:
        return LakeBuilder(lake, run_id, publish=False)

    return make


@pytest.fixture
def days() -> Callable[[str, int], list[str]]:
    def make(start: str, count: int) -> list[str]:
        first = date.fromisoformat(start)
        return [(first + timedelta(days=i)).isoformat() for i in range(count)]

    return make
