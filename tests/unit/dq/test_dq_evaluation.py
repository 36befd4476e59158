"""The evaluator: the same results one query at a time or many, the dimensions measured once per audit."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

from ecomlake.dq.checks import is_partitioned
from ecomlake.dq.engine_duckdb import DuckDBEngine
from ecomlake.dq.evaluation import Once, Prefetch, evaluate_dates
from ecomlake.dq.facts import FactsLoader
from ecomlake.dq.rules import RULES
from ecomlake.snapshots import load_published
from ecomlake.storage import LocalStorage


class Concurrent:
    """The DuckDB engine behind a lock, claiming to take many queries at once, counting them."""

    name = "duckdb"

    def __init__(self, engine: DuckDBEngine, concurrency: int) -> None:
        self.engine, self.concurrency = engine, concurrency
        self.unavailable = engine.unavailable
        self.lock = threading.Lock()
        self.queries: Counter[str] = Counter()
        self.threads: set[int] = set()

    def fetch(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        with self.lock:
            self.queries[sql] += 1
            self.threads.add(threading.get_ident())
            return self.engine.fetch(sql)

    def count_reasons(self, unit, prefixes):
        return self.engine.count_reasons(unit, prefixes)

    def close(self) -> None:
        self.engine.close()


def test_once_computes_a_key_once_whatever_the_threads():
    calls: Counter[str] = Counter()
    cache: Once[str, int] = Once({"seeded": 0})

    def compute() -> int:
        calls["k"] += 1
        time.sleep(0.01)
        return 42

    threads = [threading.Thread(target=lambda: cache.get("k", compute)) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert (cache.get("k", compute), calls["k"]) == (42, 1)
    assert cache.get("seeded", compute) == 0


def test_many_queries_at_once_give_the_results_of_one_at_a_time(build, lake, days):
    dates = days("2025-01-01", 4)
    for d in dates:
        build.clean_day(d, n=12)
    txns = build.clean_day(dates[-1], n=12)["transactions"]
    txns[3]["status"] = "lost"
    build.write("transactions", txns, dates[-1])
    storage = LocalStorage(lake)
    view = load_published(storage)
    facts = FactsLoader(storage, view, DuckDBEngine(lake, view).count_reasons).load_all(dates)

    serial = Concurrent(DuckDBEngine(lake, view), 1)
    parallel = Concurrent(DuckDBEngine(lake, view), 8)
    one = evaluate_dates(serial, RULES, facts)
    many = evaluate_dates(parallel, RULES, facts)

    assert many == one
    assert len(parallel.threads) > 1
    assert [r.rule_id for r in many[dates[-1]]] == [r.id for r in RULES]
    assert [r.rule_id for r in many[dates[-1]] if r.failed] == ["transactions.enum.status"]
    # The unpartitioned dimensions do not depend on the date: measured once for the four dates.
    dim_scans = [sql for sql in parallel.queries if 'FROM "dim_customers" WHERE TRUE' in sql and "__rows" in sql]
    assert [parallel.queries[sql] for sql in dim_scans] == [1]
    # A partitioned table is profiled once for the four dates, grouped by date.
    fact_scans = [sql for sql in parallel.queries if '"__rows"' in sql and 'FROM "fact_sales"' in sql]
    assert [parallel.queries[sql] for sql in fact_scans] == [1]
    assert "GROUP BY" in fact_scans[0]


def test_dates_measured_together_give_what_each_date_measured_alone_gives(build, lake, days):
    """The batched queries (every date at once) against the per-date SQL, on a lake where every kind fails somewhere."""
    dates = days("2025-01-01", 9)
    for d in dates:
        build.clean_day(d, n=12)
    # A bad status (row level), a key twice in one date (unique), a product catalogued only
    # later (an orphan before that date, not after), a collapsed day (anomaly and volume).
    txns = build.clean_day(dates[4], n=12)["transactions"]
    txns[3]["status"] = "lost"
    txns[5]["transaction_id"] = txns[6]["transaction_id"]
    txns[7]["product_id"] = "P999"
    build.write("transactions", txns, dates[4])
    late = build.clean_day(dates[6], n=12)["transactions"]
    late[2]["product_id"] = "P999"
    build.write("transactions", late, dates[6])
    products = [{**build_product("P999"), "product_id": "P999"}]
    build.write("products", [*products, *_catalog(build, dates[5])], dates[5])
    build.write("transactions", build.clean_day(dates[8], n=2)["transactions"], dates[8])
    storage = LocalStorage(lake)
    view = load_published(storage)
    engine = DuckDBEngine(lake, view)
    try:
        facts = FactsLoader(storage, view, engine.count_reasons).load_all(dates)
        together = evaluate_dates(engine, RULES, facts)
        alone = {d: evaluate_dates(engine, RULES, {d: facts[d]})[d] for d in dates}
        # Every batched query ran (none fell back to the per-date SQL), so the comparison means something.
        batch = Prefetch(engine, RULES, dates)
    finally:
        engine.close()
    assert together == alone
    partitioned = {r.table for r in RULES if is_partitioned(r.table) and r.kind.value not in ("conservation",)}
    assert set(batch.profiles) >= partitioned
    assert set(batch.unique) == {r.id for r in RULES if r.kind.value == "unique" and is_partitioned(r.table)}
    assert set(batch.orphans) == {
        r.id for r in RULES if r.kind.value == "referential_integrity" and is_partitioned(r.table)
    }
    assert set(batch.series) == {r.id for r in RULES if r.kind.value in ("anomaly", "volume")}
    failed = {(d, r.rule_id) for d, results in together.items() for r in results if r.failed}
    assert (dates[4], "transactions.enum.status") in failed
    assert (dates[4], "transactions.unique.transaction_id") in failed
    assert (dates[4], "transactions.referential_integrity.product_id") in failed
    assert (dates[6], "transactions.referential_integrity.product_id") not in failed  # catalogued on day 6
    assert (dates[8], "transactions.volume") in failed


def build_product(pid: str) -> dict[str, Any]:
    from decimal import Decimal

    return {"name": "Late lamp", "category": "home", "brand": "Lumen", "price": Decimal("9.99"), "stock": 1} | {
        "price_band": "budget"
    }


def _catalog(build, day: str) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    folder = build.folder("products", day)
    return pq.read_table(sorted(folder.rglob("*.parquet"))[0]).to_pylist()
