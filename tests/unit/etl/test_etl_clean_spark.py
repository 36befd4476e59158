"""The Spark per-dataset job's plan (``clean_spark``): duplicates decided on narrow columns and
joined back by (file, line), by broadcast or, past ``BROADCAST_ROWS``, by a shuffle -- the
same rows either way, and the rules' own verdicts (the classifier, row by row)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

from ecomlake.contract import Job
from ecomlake.etl import clean_spark
from tests.lakeruns import quarantine_files, run_jobs, table_rows

DAYS = ["2025-01-01", "2025-01-02", "2025-01-03"]
HEADER = "transaction_id,customer_id,product_id,quantity,price,total_amount,transaction_date,status"


def _row(tid: str, day: str, quantity: str = "2") -> str:
    return f"{tid},C1,P1,{quantity},1.50,3.00,{day},completed"


def _lake(root: Path) -> Path:
    # T1 twice on day 1 (the second line is the duplicate); T2 on days 1 and 3 (day 3's is a
    # later duplicate); T3 bad on day 1, good on day 2 (a bad row claims nothing); T4 on day 2
    # then twice on day 3.
    files = {
        DAYS[0]: [_row("T1", DAYS[0]), _row("T2", DAYS[0]), _row("T1", DAYS[0]), _row("T3", DAYS[0], "0")],
        DAYS[1]: [_row("T3", DAYS[1]), _row("T4", DAYS[1])],
        DAYS[2]: [_row("T2", DAYS[2]), _row("T4", DAYS[2]), _row("T4", DAYS[2]), _row("T5", DAYS[2])],
    }
    for day, rows in files.items():
        path = root / "raw" / "transactions" / f"date={day}" / "transactions.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join([HEADER, *rows]) + "\n")
    return root


def _outputs(lake: Path) -> tuple[list[Any], list[Any]]:
    processed = table_rows(lake, "transactions", "transaction_id, CAST(date AS VARCHAR)")
    files = [str(p) for p in quarantine_files(lake, "transactions")]
    quarantine = sorted(
        duckdb.sql(
            "SELECT transaction_id, _reason, _line, _first_date, CAST(date AS VARCHAR) "
            "FROM read_parquet(?, hive_partitioning = true)",
            params=[files],
        ).fetchall()
    )
    return processed, quarantine


@pytest.mark.spark
@pytest.mark.parametrize("broadcast_rows", [clean_spark.BROADCAST_ROWS, 0])
def test_duplicates_and_bad_rows_whether_joined_back_by_broadcast_or_shuffle(
    tmp_path: Path, spark: Any, monkeypatch: pytest.MonkeyPatch, broadcast_rows: int
) -> None:
    monkeypatch.setattr(clean_spark, "BROADCAST_ROWS", broadcast_rows)
    lake = _lake(tmp_path / "lake")
    run_jobs(lake, DAYS, [Job.TRANSACTION_ETL], engine="spark", session=spark)
    processed, quarantine = _outputs(lake)
    assert processed == [
        ("T1", DAYS[0]),
        ("T2", DAYS[0]),
        ("T3", DAYS[1]),
        ("T4", DAYS[1]),
        ("T5", DAYS[2]),
    ]
    assert quarantine == [
        ("T1", "duplicate_key", 4, DAYS[0], DAYS[0]),
        ("T2", "duplicate_key", 2, DAYS[0], DAYS[2]),
        ("T3", "out_of_range", 5, None, DAYS[0]),
        ("T4", "duplicate_key", 3, DAYS[1], DAYS[2]),
        ("T4", "duplicate_key", 4, DAYS[1], DAYS[2]),
    ]
