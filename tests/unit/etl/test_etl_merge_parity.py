"""The merge gives the same curated rows on Spark (Glue) as on DuckDB, full and incremental.

Two lakes get the same generated files and the same processed rows (the per-dataset jobs on
DuckDB, whose parity with Spark ``test_etl_job_parity`` checks); then the merge runs on one
engine per lake: dates 1 and 2 together (full: nothing published yet), then date 3 alone
(incremental: the published states folded forward). Every curated table must be equal.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from etl_helpers import land

from ecomlake.contract import CURATED_TABLES, JOB_INPUTS, Job
from ecomlake.generate import generate
from tests.lakeruns import run_jobs, table_rows

PER_DATASET = [j for j in JOB_INPUTS if j is not Job.MASTER_DATA_MERGE]


@pytest.mark.spark
def test_the_merge_gives_the_same_curated_rows_on_both_engines(tmp_path: Path, spark: Any) -> None:
    generate(tmp_path / "source", days=3, transactions=600, products=30, clickstream=600, reviews=120, seed=9)
    curated: dict[str, dict[str, list[tuple[Any, ...]]]] = {}
    for engine in ("duckdb", "spark"):
        lake = tmp_path / engine
        days = land(tmp_path / "source", lake)
        session = spark if engine == "spark" else None
        for dates in (days[:2], days[2:]):
            run_jobs(lake, dates, PER_DATASET)
            run_jobs(lake, dates, [Job.MASTER_DATA_MERGE], engine=engine, session=session)
        curated[engine] = {str(t): table_rows(lake, t) for t in CURATED_TABLES}
    for table, rows in curated["duckdb"].items():
        assert rows, f"{table}: nothing to compare"
        assert rows == curated["spark"][table], table
