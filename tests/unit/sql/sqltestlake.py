"""A small, deterministic curated/processed lake for the SQL tests, and a pandas reader.

The rows are built here with numpy and written with pyarrow in exactly the columns and
types of ``ecomlake.schemas`` and the lake's Hive layout, so the queries can be tested
without the ETL. The data is shaped to exercise each question: co-purchased product
pairs, returns in every dimension, a product missing from the catalog, anonymous
sessions, sessions that stop at every funnel stage, an RFM segment with no customers, sales that
arrive a day after their transaction date.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ecomlake.catalog import table_dir
from ecomlake.contract import PARTITION_KEY, Table
from ecomlake.schemas import (
    FUNNEL_STAGES,
    RFM_SEGMENTS,
    decimal_precision,
    price_band,
    table_schema,
)
from ecomlake.snapshots.adopt import adopt_unversioned
from tests.baskets import basket_pair_rows

START = date(2025, 1, 1)
DAYS = 12
DATES = [START + timedelta(days=i) for i in range(DAYS)]
CENT = Decimal("0.01")

# product_id, name, category, brand, price
CATALOG = [
    ("P001", "Phone X", "Electronics", "Acme", Decimal("599.00")),
    ("P002", "Phone Case", "Electronics", "Acme", Decimal("19.99")),
    ("P003", "Headphones", "Electronics", "Sonik", Decimal("149.50")),
    ("P004", "USB Cable", "Electronics", "Sonik", Decimal("9.99")),
    ("P005", "Novel", "Books", "Penguin", Decimal("14.00")),
    ("P006", "Cookbook", "Books", "Penguin", Decimal("32.00")),
    ("P007", "Atlas", "Books", "Orbis", Decimal("85.00")),
    ("P008", "Comic", "Books", "Orbis", Decimal("7.50")),
    ("P009", "Lamp", "Home", "Lumo", Decimal("45.00")),
    ("P010", "Sofa", "Home", "Lumo", Decimal("1299.00")),
    ("P011", "Mug", "Home", "Casa", Decimal("12.00")),
    ("P012", "Rug", "Home", "Casa", Decimal("220.00")),
]
UNKNOWN_PRODUCT = ("P099", Decimal("30.00"))  # sold but absent from the catalog
# Products customers tend to buy together (so pairs repeat across baskets).
AFFINITY = {"P001": "P002", "P003": "P004", "P005": "P006", "P009": "P011", "P010": "P012"}
CUSTOMERS = [f"C{i:03d}" for i in range(1, 41)]
DEVICES = ("mobile", "desktop", "tablet")

_ARROW = {
    "string": pa.string(),
    "int": pa.int32(),
    "bigint": pa.int64(),
    "double": pa.float64(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
}


def arrow_type(type_: str) -> pa.DataType:
    if type_.startswith("decimal"):
        return pa.decimal128(*decimal_precision(type_))
    return _ARROW[type_]


def arrow_schema(table: Table) -> pa.Schema:
    return pa.schema([pa.field(c.name, arrow_type(c.type)) for c in table_schema(table).columns])


def write_rows(lake: Path, table: Table, rows: list[dict], *, files_per_day: dict[date, int] | None = None) -> None:
    """Write rows in the table's Hive layout (one file per partition unless told otherwise) and publish them."""
    schema = table_schema(table)
    arrow = arrow_schema(table)
    root = table_dir(lake, table)
    if not schema.partition_key:
        root.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(rows, schema=arrow), root / "part-0.parquet")
        adopt_unversioned(lake, f"sql-test-{table}")
        return
    by_day: dict[date, list[dict]] = defaultdict(list)
    for row in rows:
        by_day[row[PARTITION_KEY]].append({k: v for k, v in row.items() if k != PARTITION_KEY})
    for day, day_rows in sorted(by_day.items()):
        folder = root / f"{PARTITION_KEY}={day.isoformat()}"
        folder.mkdir(parents=True, exist_ok=True)
        parts = (files_per_day or {}).get(day, 1)
        for i, chunk in enumerate(np.array_split(np.arange(len(day_rows)), parts)):
            part = [day_rows[j] for j in chunk]
            pq.write_table(pa.Table.from_pylist(part, schema=arrow), folder / f"part-{i}.parquet")
    adopt_unversioned(lake, f"sql-test-{table}")


# --------------------------------------------------------------------------- the data


def _sales(rng: np.random.Generator) -> list[dict]:
    catalog = {p[0]: p for p in CATALOG}
    rows: list[dict] = []
    n = 0
    for day in DATES:
        # Not every customer buys every day; a few buy several products at once.
        buyers = rng.choice(CUSTOMERS, size=int(rng.integers(12, 20)), replace=False)
        for customer in sorted(buyers):
            first = CATALOG[int(rng.integers(0, len(CATALOG)))][0]
            basket = [first]
            if first in AFFINITY and rng.random() < 0.6:
                basket.append(AFFINITY[first])
            if rng.random() < 0.25:
                basket.append(CATALOG[int(rng.integers(0, len(CATALOG)))][0])
            if rng.random() < 0.04:
                basket.append(UNKNOWN_PRODUCT[0])
            # A few sales arrive a day late: their transaction_date is before the partition date.
            sold_on = day - timedelta(days=1) if day > START and rng.random() < 0.1 else day
            for product_id in basket:
                n += 1
                quantity = int(rng.integers(1, 4))
                known = catalog.get(product_id)
                price = known[4] if known else UNKNOWN_PRODUCT[1]
                total = (price * quantity).quantize(CENT)
                status = str(rng.choice(["completed", "returned", "refunded"], p=[0.8, 0.13, 0.07]))
                rows.append(
                    {
                        "transaction_id": f"T{n:09d}",
                        "customer_id": customer,
                        "product_id": product_id,
                        "product_name": known[1] if known else None,
                        "category": known[2] if known else None,
                        "brand": known[3] if known else None,
                        "price_band": price_band(price),
                        "quantity": quantity,
                        "price": price,
                        "total_amount": total,
                        "net_amount": total if status == "completed" else Decimal("0.00"),
                        "transaction_date": sold_on,
                        "status": status,
                        "is_return": status != "completed",
                        "year": sold_on.year,
                        "month": sold_on.month,
                        PARTITION_KEY: day,
                    }
                )
    return rows


def _dim_products(sales: list[dict], rng: np.random.Generator) -> list[dict]:
    rows = []
    for product_id, name, category, brand, price in CATALOG:
        mine = [s for s in sales if s["product_id"] == product_id]
        completed = [s for s in mine if s["status"] == "completed"]
        review_count = 0 if product_id in {"P008", "P012"} else int(rng.integers(1, 9))
        ratings = rng.integers(1, 6, size=review_count)
        returns = sum(1 for s in mine if s["is_return"])
        rows.append(
            {
                "product_id": product_id,
                "name": name,
                "category": category,
                "brand": brand,
                "price": price,
                "stock": int(rng.integers(0, 200)),
                "price_band": price_band(price),
                "first_seen_date": DATES[0],
                "last_updated_date": DATES[-1],
                "review_count": review_count,
                "avg_rating": float(ratings.mean()) if review_count else None,
                "orders": len(mine),
                "units_sold": sum(s["quantity"] for s in completed),
                "revenue": sum((s["total_amount"] for s in completed), Decimal("0.00")),
                "returns": returns,
                "return_rate": returns / len(mine) if mine else None,
            }
        )
    return rows


def _segment(r: int, f: int, m: int) -> str:
    # A simplified RFM map; "Needs Attention" is never produced, so one segment stays empty.
    if r >= 4 and f >= 4:
        return "Champions"
    if f >= 4:
        return "Loyal"
    if r >= 4 and f >= 2:
        return "Potential Loyalist"
    if r >= 4:
        return "New"
    if r <= 2 and m >= 4:
        return "At Risk"
    if r == 3:
        return "Hibernating"
    return "Lost"


def _dim_customers(sales: list[dict]) -> list[dict]:
    df = pd.DataFrame(sales)
    as_of = df["transaction_date"].max()
    grouped = df.groupby("customer_id")
    out = pd.DataFrame(
        {
            "first_purchase_date": grouped["transaction_date"].min(),
            "last_purchase_date": grouped["transaction_date"].max(),
            "orders": grouped["status"].apply(lambda s: int((s == "completed").sum())),
            "units": df.assign(q=df["quantity"].where(df["status"] == "completed", 0))
            .groupby("customer_id")["q"]
            .sum(),
            "lifetime_value": grouped["net_amount"].apply(lambda s: sum(s, Decimal("0.00"))),
            "returns": grouped["is_return"].apply(lambda s: int(s.sum())),
        }
    ).reset_index()
    out["recency_days"] = [(as_of - d).days for d in out["last_purchase_date"]]

    def quintile(values: pd.Series, ascending: bool) -> pd.Series:
        ranks = values.rank(method="first", ascending=ascending)
        return (np.ceil(ranks * 5 / len(values))).astype(int).clip(1, 5)

    out["r_score"] = quintile(-out["recency_days"], True)
    out["f_score"] = quintile(out["orders"], True)
    out["m_score"] = quintile(out["lifetime_value"].astype(float), True)
    rows = []
    for rec in out.to_dict("records"):
        orders = rec["orders"]
        ltv = rec["lifetime_value"]
        rec["avg_order_value"] = (ltv / orders).quantize(CENT) if orders else Decimal("0.00")
        rec["rfm_score"] = f"{rec['r_score']}{rec['f_score']}{rec['m_score']}"
        rec["segment"] = _segment(rec["r_score"], rec["f_score"], rec["m_score"])
        rec["as_of_date"] = as_of
        rows.append({c.name: rec[c.name] for c in table_schema(Table.DIM_CUSTOMERS).columns})
    assert {r["segment"] for r in rows} <= set(RFM_SEGMENTS)
    return rows


def _event(ctx: dict, rng: np.random.Generator, event_type: str, page: str, product_id=None, order_id=None) -> dict:
    """The session's next event, a few seconds to two minutes after the previous one."""
    ctx["clock"] += timedelta(seconds=int(rng.integers(5, 120)))
    return {
        "session_id": ctx["session"],
        "customer_id": ctx["customer"],
        "event_type": event_type,
        "page": page,
        "timestamp": ctx["clock"],
        "device": ctx["device"],
        "product_id": product_id,
        "order_id": order_id,
        PARTITION_KEY: ctx["day"],
    }


def _clickstream(sales: list[dict], rng: np.random.Generator) -> list[dict]:
    """Sessions walking the funnel; purchases name real orders of that customer and day."""
    orders_by_key: dict[tuple[str, date], list[dict]] = defaultdict(list)
    for s in sales:
        orders_by_key[(s["customer_id"], s[PARTITION_KEY])].append(s)
    events: list[dict] = []
    n = 0
    for day in DATES:
        for _ in range(int(rng.integers(25, 35))):
            n += 1
            customer = None if rng.random() < 0.2 else str(rng.choice(CUSTOMERS))
            ctx = {
                "session": f"S{n:07d}",
                "customer": customer,
                "device": str(rng.choice(DEVICES, p=[0.5, 0.35, 0.15])),
                "day": day,
                "clock": datetime(day.year, day.month, day.day, int(rng.integers(0, 22)), int(rng.integers(0, 60))),
            }
            # Furthest stage: each stage is reached with a falling probability.
            depth = 1
            while depth < len(FUNNEL_STAGES) and rng.random() < 0.7:
                depth += 1
            skip_landing = depth >= 2 and rng.random() < 0.1  # lands straight on a product page
            product = CATALOG[int(rng.integers(0, len(CATALOG)))][0]
            orders = orders_by_key.get((customer, day), []) if customer else []
            for stage in FUNNEL_STAGES[:depth]:
                if stage == "page_view" and not skip_landing:
                    events.append(_event(ctx, rng, "page_view", "/"))
                elif stage == "product_view":
                    events.append(_event(ctx, rng, "product_view", f"/product/{product}", product_id=product))
                    if rng.random() < 0.4:  # a second product looked at
                        other = CATALOG[int(rng.integers(0, len(CATALOG)))][0]
                        events.append(_event(ctx, rng, "product_view", f"/product/{other}", product_id=other))
                elif stage == "add_to_cart":
                    events.append(_event(ctx, rng, "add_to_cart", f"/product/{product}", product_id=product))
                    if rng.random() < 0.2:
                        events.append(_event(ctx, rng, "remove_from_cart", "/cart"))
                        events.append(_event(ctx, rng, "add_to_cart", f"/product/{product}", product_id=product))
                elif stage == "checkout":
                    events.append(_event(ctx, rng, "checkout", "/checkout"))
                elif stage == "purchase":
                    # An unknown order id stands for a sale that never reached the sales table.
                    order = orders[int(rng.integers(0, len(orders)))]["transaction_id"] if orders else f"T9{n:08d}"
                    events.append(_event(ctx, rng, "purchase", f"/checkout/complete?order={order}", order_id=order))
    return events


def _sessions(events: list[dict], sales: list[dict]) -> list[dict]:
    net = {s["transaction_id"]: s["net_amount"] for s in sales}
    by_session: dict[str, list[dict]] = defaultdict(list)
    for e in events:
        by_session[e["session_id"]].append(e)
    rows = []
    for session_id, evs in sorted(by_session.items()):
        evs.sort(key=lambda e: e["timestamp"])
        counts = {t: sum(1 for e in evs if e["event_type"] == t) for t in FUNNEL_STAGES}
        furthest = max(FUNNEL_STAGES.index(e["event_type"]) for e in evs if e["event_type"] in FUNNEL_STAGES)
        customers = [e["customer_id"] for e in evs if e["customer_id"]]
        orders = {e["order_id"] for e in evs if e["order_id"]}
        start, end = evs[0]["timestamp"], evs[-1]["timestamp"]
        rows.append(
            {
                "session_id": session_id,
                "customer_id": customers[0] if customers else None,
                "device": evs[0]["device"],
                "session_start": start,
                "session_end": end,
                "duration_seconds": int((end - start).total_seconds()),
                "event_count": len(evs),
                "page_views": counts["page_view"],
                "product_views": counts["product_view"],
                "add_to_carts": counts["add_to_cart"],
                "checkouts": counts["checkout"],
                "purchases": counts["purchase"],
                "furthest_stage": FUNNEL_STAGES[furthest],
                "converted": furthest == len(FUNNEL_STAGES) - 1,
                "order_revenue": sum((net.get(o, Decimal("0.00")) for o in orders), Decimal("0.00")),
                "is_known_customer": bool(customers),
                PARTITION_KEY: evs[0][PARTITION_KEY],
            }
        )
    return rows


def _daily_kpis(sales: list[dict], sessions: list[dict], rng: np.random.Generator) -> list[dict]:
    first_day: dict[str, date] = {}
    for s in sorted(sales, key=lambda s: s["transaction_date"]):
        first_day.setdefault(s["customer_id"], s["transaction_date"])
    rows = []
    for day in DATES:
        day_sales = [s for s in sales if s[PARTITION_KEY] == day]
        completed = [s for s in day_sales if s["status"] == "completed"]
        revenue = sum((s["net_amount"] for s in completed), Decimal("0.00"))
        customers = {s["customer_id"] for s in day_sales}
        day_sessions = [s for s in sessions if s[PARTITION_KEY] == day]
        converted = sum(1 for s in day_sessions if s["converted"])
        returns = sum(1 for s in day_sales if s["is_return"])
        reviews = int(rng.integers(0, 6))
        rows.append(
            {
                "revenue": revenue,
                "orders": len(day_sales),
                "completed_orders": len(completed),
                "units": sum(s["quantity"] for s in completed),
                "customers": len(customers),
                "new_customers": sum(1 for c in customers if first_day[c] == day),
                "avg_order_value": (revenue / len(completed)).quantize(CENT) if completed else Decimal("0.00"),
                "returns": returns,
                "return_rate": returns / len(day_sales) if day_sales else None,
                "sessions": len(day_sessions),
                "converted_sessions": converted,
                "conversion_rate": converted / len(day_sessions) if day_sessions else None,
                "reviews": reviews,
                "avg_rating": float(rng.integers(10, 50)) / 10 if reviews else None,
                PARTITION_KEY: day,
            }
        )
    return rows


def build_lake(lake: Path, seed: int = 7) -> Path:
    """Write the curated tables and the processed clickstream into ``lake``."""
    rng = np.random.default_rng(seed)
    sales = _sales(rng)
    events = _clickstream(sales, rng)
    sessions = _sessions(events, sales)
    write_rows(lake, Table.FACT_SALES, sales, files_per_day={DATES[2]: 2})
    write_rows(lake, Table.DIM_PRODUCTS, _dim_products(sales, rng))
    write_rows(lake, Table.DIM_CUSTOMERS, _dim_customers(sales))
    write_rows(lake, Table.CLICKSTREAM, events)
    write_rows(lake, Table.FCT_SESSIONS, sessions)
    write_rows(lake, Table.DAILY_KPIS, _daily_kpis(sales, sessions, rng))
    sold = [(s[PARTITION_KEY], s["customer_id"], s["transaction_date"], s["product_id"]) for s in sales]
    write_rows(lake, Table.BASKET_PAIRS, basket_pair_rows(sold))
    return lake


# --------------------------------------------------------------------------- reading it back with pandas


def published_folders(lake: Path, table: Table | str) -> list[tuple[str | None, Path]]:
    """(date, folder) of the table's published versions, read from the snapshot document itself."""
    document = json.loads((lake / "_catalog" / "current.json").read_text())
    unit = table_dir(lake, table).relative_to(lake).as_posix()
    if unit in document["whole"]:
        return [(None, lake / unit / f"run={document['whole'][unit]}")]
    days = document["partitions"].get(unit, {})
    return [(day, lake / unit / f"{PARTITION_KEY}={day}" / f"run={run}") for day, run in sorted(days.items())]


def read_table(lake: Path, table: Table | str) -> pd.DataFrame:
    """A table as pandas, straight from its published files (no DuckDB): the partition as a date column."""
    schema = table_schema(table)
    columns = list(schema.column_names)
    folders = published_folders(lake, table)
    if not schema.partition_key:
        frames = [pq.read_table(f).to_pandas() for _d, folder in folders for f in sorted(folder.glob("*.parquet"))]
        return pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)
    frames = []
    for day_text, folder in folders:
        day = date.fromisoformat(str(day_text))
        for f in sorted(folder.glob("*.parquet")):
            frame = pq.read_table(f).to_pandas()
            frame[PARTITION_KEY] = day
            frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=[*columns, PARTITION_KEY])
    return pd.concat(frames, ignore_index=True)[[*columns, PARTITION_KEY]]
