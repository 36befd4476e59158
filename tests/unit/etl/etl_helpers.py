"""Helpers shared by the ETL tests: raw frames from inline rows, and comparable results."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from ecomlake.contract import Dataset
from ecomlake.etl.engines import api, spark_type, string_struct
from ecomlake.etl.io import RawFile
from ecomlake.schemas import RAW_SCHEMAS, TableSchema


def put_raw(lake: Path, dataset: str, day: str, name: str, data: bytes) -> RawFile:
    """Write one raw file into a local lake's raw zone (not validated); the ``RawFile`` the readers take."""
    path = lake / "raw" / dataset / f"date={day}" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return RawFile(Dataset(dataset), day, f"raw/{dataset}/date={day}/{name}")


def raw_frame(session: Any, dataset: Dataset | str, rows: Sequence[dict[str, Any]], day: str = "2025-01-01") -> Any:
    """A raw DataFrame as the readers produce it, from dicts of text (missing keys -> null).

    ``_line`` numbers rows from 2 in the order given; ``_error`` marks unparseable records.
    """
    T = api(session).T
    columns = RAW_SCHEMAS[Dataset(dataset)].column_names
    schema = T.StructType(
        [
            *string_struct((*columns, "_error"), T).fields,
            T.StructField("_line", T.LongType(), True),
            T.StructField("_file", T.StringType(), True),
            T.StructField("date", T.StringType(), True),
        ]
    )
    data = [
        (
            *(row.get(c) for c in columns),
            row.get("_error"),
            row.get("_line", i + 2),
            row.get("_file", "f.csv"),
            row.get("date", day),
        )
        for i, row in enumerate(rows)
    ]
    return session.createDataFrame(data, schema)


def typed_frame(session: Any, schema: TableSchema, rows: Sequence[dict[str, Any]]) -> Any:
    """A typed DataFrame of a processed table (plus ``date``) from dicts of Python values."""
    T = api(session).T
    fields = [T.StructField(c.name, spark_type(c.type, T), True) for c in schema.columns]
    if schema.partition_key:
        fields.append(T.StructField(schema.partition_key, T.StringType(), True))
    names = [f.name for f in fields]
    return session.createDataFrame([tuple(r.get(n) for n in names) for r in rows], T.StructType(fields))


def _plain(value: Any) -> Any:
    """One comparable spelling per value: decimals and floats as rounded text, dates as ISO."""
    if isinstance(value, Decimal | float) and not isinstance(value, bool):
        return f"{Decimal(str(value)):.6f}"
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def records(df: Any) -> list[dict[str, Any]]:
    """Collected rows as dicts of comparable values, sorted (row order is not part of a result)."""
    rows = [{k: _plain(v) for k, v in row.asDict().items()} for row in df.collect()]
    return sorted(rows, key=lambda r: repr(sorted(r.items())))


# --------------------------------------------------------------------------- a tiny processed lake

D1, D2, D3, D4 = "2025-01-01", "2025-01-02", "2025-01-03", "2025-01-04"


def _ts(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def _txn(tid: str, cust: str, prod: str, qty: int, price: str, day: str, status: str) -> dict[str, Any]:
    d = dt.date.fromisoformat(day)
    return {
        "transaction_id": tid,
        "customer_id": cust,
        "product_id": prod,
        "quantity": qty,
        "price": Decimal(price),
        "total_amount": Decimal(price) * qty,
        "transaction_date": d,
        "status": status,
        "year": d.year,
        "month": d.month,
        "is_return": status != "completed",
        "date": day,
    }


TRANSACTIONS = [
    _txn("T1", "C1", "P1", 2, "9.99", D1, "completed"),
    _txn("T2", "C1", "P2", 1, "150.00", D1, "returned"),
    _txn("T3", "C2", "P1", 1, "9.99", D2, "completed"),
    _txn("T4", "C3", "P9", 3, "10.01", D2, "completed"),  # P9 is in no catalog
    _txn("T5", "C2", "P2", 1, "150.00", D3, "refunded"),
]


def _product(pid: str, name: str, price: str, stock: int, day: str, band: str) -> dict[str, Any]:
    return {
        "product_id": pid,
        "name": name,
        "category": "Home",
        "brand": "Acme",
        "price": Decimal(price),
        "stock": stock,
        "price_band": band,
        "date": day,
    }


PRODUCTS = [
    _product("P1", "Mug", "9.99", 10, D1, "budget"),
    _product("P1", "Mug v2", "24.99", 8, D2, "budget"),
    _product("P2", "Lamp", "150.00", 5, D1, "premium"),
]


def _review(rid: str, pid: str, rating: int, day: str) -> dict[str, Any]:
    return {
        "review_id": rid,
        "product_id": pid,
        "customer_id": "C1",
        "rating": rating,
        "review_text": "ok",
        "review_date": dt.date.fromisoformat(day),
        "date": day,
    }


REVIEWS = [_review("R1", "P1", 5, D1), _review("R2", "P1", 4, D2), _review("R3", "P2", 1, D2)]


def _click(sid: str, cust: str | None, event: str, page: str, ts: str, device: str, day: str = D1) -> dict[str, Any]:
    from ecomlake.schemas import ORDER_PAGE_RE, PRODUCT_PAGE_RE

    product = PRODUCT_PAGE_RE.search(page)
    order = ORDER_PAGE_RE.search(page)
    return {
        "session_id": sid,
        "customer_id": cust,
        "event_type": event,
        "page": page,
        "timestamp": _ts(ts),
        "device": device,
        "product_id": product.group(1) if product else None,
        "order_id": order.group(1) if order else None,
        "date": day,
    }


CLICKS = [
    _click("S1", "C1", "page_view", "/", "2025-01-01T10:00:00", "mobile"),
    _click("S1", "C1", "product_view", "/product/P1", "2025-01-01T10:00:05.700", "mobile"),
    _click("S1", "C1", "add_to_cart", "/product/P1", "2025-01-01T10:01:00", "mobile"),
    _click("S1", "C1", "remove_from_cart", "/cart", "2025-01-01T10:01:10", "mobile"),
    _click("S1", "C1", "checkout", "/checkout", "2025-01-01T10:01:30.999", "mobile"),
    _click("S1", "C1", "purchase", "/checkout/complete?order=T1", "2025-01-01T10:02:00.400", "mobile"),
    _click("S2", None, "remove_from_cart", "/cart", "2025-01-01T11:00:00", "tablet"),
    _click("S3", None, "product_view", "/product/P2", "2025-01-02T12:00:00", "desktop", D2),
    _click("S3", "C2", "page_view", "/", "2025-01-02T12:00:00", "mobile", D2),
    _click("S3", "C2", "purchase", "/checkout/complete?order=T3", "2025-01-02T12:05:00", "mobile", D2),
    _click("S3", "C2", "purchase", "/checkout/complete?order=T404", "2025-01-02T12:06:00", "mobile", D2),
]


def processed_inputs(session: Any) -> dict[str, Any]:
    """The tiny processed lake above as DataFrames of ``session``'s engine."""
    from ecomlake.schemas import PROCESSED_CLICKSTREAM, PROCESSED_PRODUCTS, PROCESSED_REVIEWS, PROCESSED_TRANSACTIONS

    return {
        "transactions": typed_frame(session, PROCESSED_TRANSACTIONS, TRANSACTIONS),
        "products": typed_frame(session, PROCESSED_PRODUCTS, PRODUCTS),
        "reviews": typed_frame(session, PROCESSED_REVIEWS, REVIEWS),
        "clicks": typed_frame(session, PROCESSED_CLICKSTREAM, CLICKS),
    }


def dates_frame(session: Any, dates: Sequence[str]) -> Any:
    T = api(session).T
    return session.createDataFrame([(d,) for d in dates], T.StructType([T.StructField("date", T.StringType(), False)]))


def land(source: Path, lake: Path) -> list[str]:
    """Copy a generator tree into the lake's raw zone as it is; returns the dates found."""
    shutil.copytree(source, lake / "raw", ignore=shutil.ignore_patterns("manifest.json"), dirs_exist_ok=True)
    return sorted({p.name.split("=", 1)[1] for p in (lake / "raw").glob("*/date=*")})
