"""Timings of the pieces that dominate a run: generation, the transaction ETL, each query.

Run with `make bench` (or `.venv/bin/pytest benchmarks`). Each benchmark also checks its
result, so a fast wrong answer does not pass unnoticed.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ecomlake.contract import Job
from ecomlake.etl import run_job
from ecomlake.generate import generate
from ecomlake.ingest import land_tree
from ecomlake.queries import list_queries, run_query

ROWS = 100_000
DAYS = 30


def test_generate_100k(benchmark, tmp_path: Path) -> None:
    out = tmp_path / "gen"

    def once() -> dict:
        shutil.rmtree(out, ignore_errors=True)
        return generate(out, days=DAYS, transactions=ROWS, clickstream=ROWS // 2, reviews=ROWS // 50, seed=7)

    manifest = benchmark.pedantic(once, rounds=3, iterations=1)
    assert manifest["counts"]["transactions"] == ROWS


@pytest.fixture(scope="module")
def landed_100k(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    root = tmp_path_factory.mktemp("etl")
    generate(root / "gen", days=DAYS, transactions=ROWS, clickstream=1_000, reviews=100, seed=7, bad_rate=0.01)
    landed = land_tree(root / "lake", root / "gen")
    return root / "lake", sorted({r.date for r in landed if not r.rejected})


def test_transaction_etl_100k_duckdb(benchmark, landed_100k: tuple[Path, list[str]]) -> None:
    lake, dates = landed_100k
    summaries = benchmark.pedantic(
        run_job, args=(Job.TRANSACTION_ETL, dates, lake), kwargs={"engine": "duckdb"}, rounds=3, iterations=1
    )
    assert sum(s.rows_in for s in summaries) >= ROWS
    assert all(s.rows_in == s.rows_out + s.rows_quarantined for s in summaries)


@pytest.mark.parametrize("name", [q.name for q in list_queries()])
def test_query_seed_scale(benchmark, seed_lake: Path, name: str) -> None:
    result = benchmark(run_query, name, seed_lake)
    assert result.rows, f"{name} returned no rows"
