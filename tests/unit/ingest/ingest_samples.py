"""Tiny inline raw files (one of each dataset) and helpers shared by the ingestion tests."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

EVENTS_DIR = Path(__file__).resolve().parents[2] / "events"

TXN_HEADER = "transaction_id,customer_id,product_id,quantity,price,total_amount,transaction_date,status"
TXN_ROWS = [
    "T000000001,C000001,P0001,2,19.99,39.98,2025-01-15,completed",
    "T000000002,C000002,P0002,1,5.00,5.00,2025-01-15,returned",
]
REVIEW_HEADER = "review_id,product_id,customer_id,rating,review_text,review_date"
REVIEW_ROWS = [
    'R0001,P0001,C000001,5,"Bright, and warm",2025-01-15',
    "R0002,P0002,C000002,3,,2025-01-14",
]
PRODUCTS = [
    {"product_id": "P0001", "name": "Desk Lamp", "category": "Home", "brand": "Lumo", "price": 24.5, "stock": 12},
    {"product_id": "P0002", "name": "Notebook", "category": "Office", "brand": "Papr", "price": "3.20", "stock": 0},
]
CLICKS = [
    {
        "session_id": "S0001",
        "customer_id": "C000001",
        "event_type": "page_view",
        "page": "/",
        "timestamp": "2025-01-15T10:00:00Z",
        "device": "mobile",
    },
    {
        "session_id": "S0001",
        "customer_id": None,
        "event_type": "product_view",
        "page": "/product/P0001",
        "timestamp": "2025-01-15 10:00:30",
        "device": "mobile",
    },
]


def csv_bytes(header: str, rows: list[str], newline: str = "\n") -> bytes:
    return (newline.join([header, *rows]) + newline).encode()


def jsonl_bytes(records: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()


def txn(n: int, **changes: str) -> str:
    """One transactions CSV record with id ``T<n>``, valid for 2025-01-01 unless ``changes`` say otherwise."""
    values = {
        "transaction_id": f"T{n}",
        "customer_id": "C1",
        "product_id": "P1",
        "quantity": "2",
        "price": "1.50",
        "total_amount": "3.00",
        "transaction_date": "2025-01-01",
        "status": "completed",
    }
    values.update(changes)
    return ",".join(values.values())


def transactions_csv(newline: str = "\n") -> bytes:
    return csv_bytes(TXN_HEADER, TXN_ROWS, newline)


def reviews_csv() -> bytes:
    return csv_bytes(REVIEW_HEADER, REVIEW_ROWS)


def products_array() -> bytes:
    return json.dumps(PRODUCTS, indent=2).encode()


def products_jsonl() -> bytes:
    return jsonl_bytes(PRODUCTS)


def clickstream_jsonl() -> bytes:
    return jsonl_bytes(CLICKS)


CLEAN_FILES = {
    "transactions": ("transactions.csv", transactions_csv),
    "products": ("products.json", products_array),
    "clickstream": ("clickstream.json", clickstream_jsonl),
    "reviews": ("reviews.csv", reviews_csv),
}


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS_DIR / f"{name}.json").read_text())
