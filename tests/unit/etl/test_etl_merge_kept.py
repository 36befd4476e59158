"""The merge's queries on DuckDB are planned once per code version and merge mode, and kept.

A kept query is only right if its text holds nothing of the run that rendered it: the
dates arrive as tables, the inputs under stable names (``ecomlake.etl.merge``). The queries
are planned over empty stand-ins (``merge.plan_queries``, what the bench does first) and the
runs read them; the oracle is the same sequence of runs on a lake whose merges plan every
query afresh (cache off).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from etl_helpers import land

from ecomlake import sqlcache
from ecomlake.contract import CURATED_TABLES, Job
from ecomlake.etl.merge import plan_queries
from ecomlake.generate import generate
from tests.lakeruns import run_jobs, table_rows

JOBS = (Job.TRANSACTION_ETL, Job.PRODUCT_ENRICHMENT, Job.CLICKSTREAM_AGGREGATION, Job.MASTER_DATA_MERGE)
# The merge's kept queries: the activity state and every curated table built from a query.
KEPT = {"activity", "fact_sales", "dim_products", "dim_customers", "fct_sessions", "daily_kpis", "basket_pairs"}
DATE_LITERAL = re.compile(r"'\d{4}-\d{2}-\d{2}'")


def _runs(lake: Path, dates: list[str], prefix: str) -> None:
    """First date alone (full: nothing published), the next two one by one (incremental), the first again (full)."""
    for n, days in enumerate(([dates[0]], [dates[1]], [dates[2]], [dates[0]])):
        run_jobs(lake, days, JOBS, run_id=f"{prefix}-{n}")


def test_merge_queries_planned_over_stand_ins_equal_fresh_planning_in_every_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    generate(tmp_path / "source", days=3, transactions=600, products=30, clickstream=600, reviews=120, seed=5)
    kept, fresh = tmp_path / "kept", tmp_path / "fresh"
    dates = land(tmp_path / "source", kept)
    assert land(tmp_path / "source", fresh) == dates
    assert len(dates) == 3

    cache = tmp_path / "sql"
    monkeypatch.setenv(sqlcache.ENV, str(cache))
    plan_queries()
    folder = cache / sqlcache.fingerprint()
    planned = {p.name: p.read_text(encoding="utf-8") for p in folder.glob("planned-*")}
    assert set(planned) == {f"planned-merge-{mode}-{t}.json" for mode in ("full", "incremental") for t in KEPT}

    def no_session() -> None:
        raise AssertionError("a warm cache needs no session")

    monkeypatch.setattr("ecomlake.etl.engines.duckdb_session", no_session)
    plan_queries()  # everything kept: nothing planned
    monkeypatch.undo()
    monkeypatch.setenv(sqlcache.ENV, str(cache))
    _runs(kept, dates, "kept")
    assert {p.name: p.read_text(encoding="utf-8") for p in folder.glob("planned-*")} == planned  # read, not replanned
    monkeypatch.setenv(sqlcache.ENV, sqlcache.OFF)
    _runs(fresh, dates, "fresh")

    for name, text in planned.items():
        assert not DATE_LITERAL.search(text), name
    for table in CURATED_TABLES:
        assert table_rows(kept, table) == table_rows(fresh, table), table
    assert table_rows(kept, "fact_sales")  # the comparison compared something
