"""The generated world holds together: ids resolve, amounts add up, sessions match sales."""

from __future__ import annotations

import csv
import json
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from foundation_rawcheck import partition_files, read_rows, valid_rows
from foundation_trees import SMALL

from ecomlake.contract import RAW_FILE_NAMES, Dataset
from ecomlake.schemas import FUNNEL_STAGES, ORDER_PAGE_RE, PRODUCT_PAGE_RE, RAW_SCHEMAS


def catalog_by_day(root: Path) -> dict[str, dict[str, dict[str, Any]]]:
    """date -> product_id -> the product as known that day (day one plus every update so far)."""
    known: dict[str, dict[str, Any]] = {}
    out = {}
    for day, rows in sorted(valid_rows(root, Dataset.PRODUCTS).items()):
        for row in rows:
            known[row["product_id"]] = row
        out[day] = dict(known)
    return out


@pytest.fixture(scope="module", params=["clean", "faulty"])
def tree(request, clean_tree, faulty_tree):
    """Every consistency rule holds for the clean data and for the valid rows of faulted data."""
    return clean_tree if request.param == "clean" else faulty_tree


def test_layout_and_formats(clean_tree):
    root, manifest = clean_tree
    days = ["2025-03-30", "2025-03-31", "2025-04-01"]
    assert manifest["start"] == days[0]
    assert manifest["end"] == days[-1]
    for dataset in Dataset:
        assert sorted(partition_files(root, dataset)) == days
    assert len(manifest["files"]) == 12
    tx = (root / "transactions/date=2025-03-30/transactions.csv").read_text(encoding="utf-8")
    assert tx.splitlines()[0] == ",".join(RAW_SCHEMAS[Dataset.TRANSACTIONS].column_names)
    assert not tx.startswith("\ufeff")
    assert "\r" not in tx
    products = json.loads((root / "products/date=2025-03-30/products.json").read_text())
    assert isinstance(products, list)
    assert len(products) == SMALL["products"]
    assert list(products[0]) == list(RAW_SCHEMAS[Dataset.PRODUCTS].column_names)
    first_event = (root / "clickstream/date=2025-03-30/clickstream.json").read_text().splitlines()[0]
    assert list(json.loads(first_event)) == list(RAW_SCHEMAS[Dataset.CLICKSTREAM].column_names)


def test_counts_match_the_options(clean_tree):
    root, manifest = clean_tree
    assert manifest["counts"]["transactions"] == SMALL["transactions"]
    assert manifest["counts"]["clickstream"] == SMALL["clickstream"]  # exact: budgets are filled with sessions
    assert manifest["counts"]["reviews"] == SMALL["reviews"]
    for dataset in Dataset:
        for day, path in partition_files(root, dataset).items():
            assert len(read_rows(path, dataset)) == manifest["counts_by_date"][str(dataset)][day]


def test_rows_belong_to_their_partition_date(tree):
    root, _ = tree
    for day, rows in valid_rows(root, Dataset.TRANSACTIONS).items():
        assert {r["transaction_date"] for r in rows} == {day}
    for day, rows in valid_rows(root, Dataset.REVIEWS).items():
        assert {r["review_date"] for r in rows} == {day}
    for day, rows in valid_rows(root, Dataset.CLICKSTREAM).items():
        assert {r["timestamp"][:10] for r in rows} == {day}


def test_transactions_reference_the_catalog_at_that_days_price(tree):
    root, _ = tree
    catalog = catalog_by_day(root)
    checked = 0
    for day, rows in valid_rows(root, Dataset.TRANSACTIONS).items():
        for r in rows:
            product = catalog[day][r["product_id"]]
            assert Decimal(r["price"]) == product["price"], (day, r)
            assert Decimal(r["total_amount"]) == int(r["quantity"]) * Decimal(r["price"])
            assert r["total_amount"].count(".") == 1
            assert len(r["total_amount"].split(".")[1]) == 2
            checked += 1
    assert checked > 1000


def test_later_days_are_partial_catalog_updates(clean_tree):
    root, _ = clean_tree
    files = partition_files(root, Dataset.PRODUCTS)
    days = sorted(files)
    full = json.loads(files[days[0]].read_text(), parse_float=Decimal)
    assert [p["product_id"] for p in full] == [f"P{i:09d}" for i in range(1, SMALL["products"] + 1)]
    assert len({p["category"] for p in full}) >= 6
    by_id = {p["product_id"]: p for p in full}
    changed_price = 0
    for day in days[1:]:
        update = json.loads(files[day].read_text(), parse_float=Decimal)
        assert 0 < len(update) <= 0.05 * len(full) + 1
        for p in update:
            before = by_id[p["product_id"]]
            assert (p["name"], p["category"], p["brand"]) == (before["name"], before["category"], before["brand"])
            changed_price += p["price"] != before["price"]
            by_id[p["product_id"]] = p
    assert changed_price > 0


def test_category_prices_differ(clean_tree):
    root, _ = clean_tree
    full = json.loads(partition_files(root, Dataset.PRODUCTS)["2025-03-30"].read_text(), parse_float=Decimal)
    prices: dict[str, list[Decimal]] = defaultdict(list)
    for p in full:
        prices[p["category"]].append(p["price"])
    median = {c: sorted(v)[len(v) // 2] for c, v in prices.items() if len(v) >= 5}
    assert median["Electronics"] > 2 * median["Grocery"]


def test_returns_are_a_few_percent_and_depend_on_category(clean_tree):
    root, _ = clean_tree
    catalog = catalog_by_day(root)["2025-03-30"]
    rows = [r for rs in valid_rows(root, Dataset.TRANSACTIONS).values() for r in rs]
    status = Counter(r["status"] for r in rows)
    assert set(status) == {"completed", "returned", "refunded"}
    share = (status["returned"] + status["refunded"]) / len(rows)
    assert 0.02 <= share <= 0.12
    by_cat: dict[str, list[bool]] = defaultdict(list)
    for r in rows:
        by_cat[catalog[r["product_id"]]["category"]].append(r["status"] != "completed")
    rate = {c: sum(v) / len(v) for c, v in by_cat.items()}
    assert rate["Clothing"] > rate["Books"]


def test_repeat_purchases_are_heavy_tailed(clean_tree):
    root, _ = clean_tree
    per_customer = Counter(r["customer_id"] for rs in valid_rows(root, Dataset.TRANSACTIONS).values() for r in rs)
    counts = sorted(per_customer.values(), reverse=True)
    top_decile = sum(counts[: max(1, len(counts) // 10)]) / sum(counts)
    assert top_decile > 0.25  # a uniform draw would give about 0.1-0.15 here
    assert counts[0] >= 8
    assert counts[-1] == 1


def sessions(root: Path) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for rows in valid_rows(root, Dataset.CLICKSTREAM).values():
        for r in rows:
            out[r["session_id"]].append(r)
    return out


def test_every_purchase_is_a_transaction_of_that_day_and_customer(tree):
    root, manifest = tree
    txns = {r["transaction_id"]: r for rs in valid_rows(root, Dataset.TRANSACTIONS).values() for r in rs}
    purchases = 0
    for events in sessions(root).values():
        events.sort(key=lambda e: e["timestamp"])
        for i, e in enumerate(events):
            if e["event_type"] != "purchase":
                continue
            purchases += 1
            assert e["page"].startswith("/checkout/complete?order=")
            order = ORDER_PAGE_RE.search(e["page"]).group(1)
            assert order in txns  # faulted transactions are never tied to a session
            t = txns[order]
            assert e["customer_id"] == t["customer_id"]
            assert e["timestamp"][:10] == t["transaction_date"]
            viewed = [PRODUCT_PAGE_RE.match(x["page"]) for x in events[:i] if x["event_type"] == "product_view"]
            if manifest["bad_rate"] == 0:  # with faults, that product view may be the faulted row
                assert viewed
                assert viewed[-1].group(1) == t["product_id"]
    assert purchases > 20
    if manifest["bad_rate"] == 0:
        assert purchases == manifest["stats"]["purchase_events"] == manifest["stats"]["transactions_with_session"]


def test_sessions_walk_the_funnel_with_drop_off(clean_tree):
    root, _ = clean_tree
    reached: Counter[str] = Counter()
    anonymous = 0
    all_sessions = sessions(root)
    for events in all_sessions.values():
        events.sort(key=lambda e: e["timestamp"])
        kinds = [e["event_type"] for e in events]
        assert kinds[0] == "page_view"
        assert len({e["customer_id"] for e in events}) == 1
        assert len({e["device"] for e in events}) == 1
        if "purchase" in kinds:
            assert kinds[-1] == "purchase"
            assert events[0]["customer_id"] is not None
        if "checkout" in kinds:
            assert "add_to_cart" in kinds[: kinds.index("checkout")]
        if "remove_from_cart" in kinds:
            assert "add_to_cart" in kinds[: kinds.index("remove_from_cart")]
        stages = [FUNNEL_STAGES.index(k) for k in kinds if k in FUNNEL_STAGES]
        assert stages == sorted(stages)  # never back up the funnel
        for stage in set(kinds):
            reached[stage] += 1
        anonymous += events[0]["customer_id"] is None
    counts = [reached[s] for s in FUNNEL_STAGES]
    assert counts == sorted(counts, reverse=True)
    assert counts[-1] > 0
    assert 0.01 < reached["purchase"] / len(all_sessions) < 0.10
    assert reached["remove_from_cart"] > 0
    assert 0.2 < anonymous / len(all_sessions) < 0.7
    lines = (root / "clickstream/date=2025-03-30/clickstream.json").read_text().splitlines()
    stamps = [json.loads(x)["timestamp"] for x in lines]
    assert stamps == sorted(stamps)  # the log is in event-time order


def test_reviews_follow_purchases_and_ratings_follow_returns(tree):
    root, _ = tree
    bought: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for rs in valid_rows(root, Dataset.TRANSACTIONS).values():
        for t in rs:
            bought[(t["customer_id"], t["product_id"])].append(t)
    returned, kept = [], []
    for rs in valid_rows(root, Dataset.REVIEWS).values():
        for r in rs:
            candidates = [
                t for t in bought[(r["customer_id"], r["product_id"])] if t["transaction_date"] <= r["review_date"]
            ]
            assert candidates, r  # reviewed on or after a purchase by the same customer
            if all(t["status"] != "completed" for t in candidates):
                returned.append(int(r["rating"]))
            elif all(t["status"] == "completed" for t in candidates):
                kept.append(int(r["rating"]))
    assert len(returned) > 10
    assert len(kept) > 100
    assert sum(returned) / len(returned) < 2.6 < 3.6 < sum(kept) / len(kept)


def test_review_text_exercises_csv_quoting(clean_tree):
    root, _ = clean_tree
    texts = [r["review_text"] for rs in valid_rows(root, Dataset.REVIEWS).values() for r in rs]
    assert sum("," in t for t in texts) > 50
    assert sum('"' in t for t in texts) > 5
    assert sum("\n" in t for t in texts) > 0
    assert sum(t == "" for t in texts) > 0
    raw = b"".join(p.read_bytes() for p in partition_files(root, Dataset.REVIEWS).values())
    assert b'""' in raw  # embedded quotes are doubled inside a quoted field
    for path in partition_files(root, Dataset.REVIEWS).values():
        with path.open(newline="", encoding="utf-8") as fh:
            assert all(len(row) == 6 for row in csv.reader(fh))


def test_no_empty_files_and_file_names_follow_the_contract(clean_tree):
    root, manifest = clean_tree
    for rel in manifest["files"]:
        dataset, part, name = rel.split("/")
        assert name == RAW_FILE_NAMES[Dataset(dataset)]
        assert part.startswith("date=")
        assert (root / rel).stat().st_size > 0
