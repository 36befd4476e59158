"""The evaluator: the same results one query at a time or many, the dimensions measured once per audit."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

from ecomlake.dq.engine_duckdb import DuckDBEngine
from ecomlake.dq.evaluation import Once, evaluate_dates
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
    fact_scans = [
        sql for sql in parallel.queries if sql.startswith('SELECT count(*) AS "__rows"') and '"fact_sales"' in sql
    ]
    assert len(fact_scans) == 4  # once per date
