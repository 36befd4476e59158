"""The per-dataset jobs give the same processed and quarantined rows on DuckDB (SQL) and on Spark (DataFrames).

DuckDB runs the rules as SQL rendered once (``ecomlake.etl.clean_duckdb``), Spark as DataFrames
(``jobs._clean_spark``): the same expressions, two plans. Two lakes get the same generated
files with faults, plus keys repeated across dates, and the same two runs -- dates 1 and 3,
then date 2 alone, whose keys are judged against date 1's published claims and which makes
date 3 be recomputed -- one lake on each engine. Every processed row, every quarantined row
(text, reason, detail, line, file, first date) and every summary must be equal.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest

from ecomlake.contract import JOB_INPUTS, Dataset, Job
from ecomlake.generate import generate
from ecomlake.ingest.classifier import classify_records
from tests.lakeruns import quarantine_files, run_jobs, table_rows

DAYS = ["2025-01-01", "2025-01-02", "2025-01-03"]
PER_DATASET = [j for j in JOB_INPUTS if j is not Job.MASTER_DATA_MERGE]


def _valid_line(path: Path, dataset: str) -> str:
    """A record of ``path`` every rule accepts (the classifier's verdict), as written."""
    import csv

    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    for line in lines[1:]:
        record = dict(zip(header, next(csv.reader([line])), strict=False))
        if classify_records(dataset, [record]) == [None]:
            return line
    raise AssertionError(f"no valid record in {path}")


def _land(source: Path, lake: Path) -> None:
    shutil.copytree(source, lake / "raw", ignore=shutil.ignore_patterns("manifest.json"), dirs_exist_ok=True)
    # Keys landing on two dates: day 2 repeats a row of day 1 (a later duplicate) and one of day 3
    # (day 2 now holds that key first, so day 3's row becomes the duplicate).
    for dataset, name in (("transactions", "transactions.csv"), ("reviews", "reviews.csv")):
        first = _valid_line(lake / "raw" / dataset / f"date={DAYS[0]}" / name, dataset)
        third = _valid_line(lake / "raw" / dataset / f"date={DAYS[2]}" / name, dataset)
        target = lake / "raw" / dataset / f"date={DAYS[1]}" / name
        target.write_text(target.read_text() + first + "\n" + third + "\n")
    clicks_first = (lake / "raw" / "clickstream" / f"date={DAYS[0]}" / "clickstream.json").read_text().splitlines()
    target = lake / "raw" / "clickstream" / f"date={DAYS[1]}" / "clickstream.json"
    target.write_text(target.read_text() + clicks_first[7] + "\n")


def _rows(lake: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for dataset in Dataset:
        out[f"processed {dataset}"] = table_rows(lake, dataset)
        files = [str(p) for p in quarantine_files(lake, dataset)]
        out[f"quarantine {dataset}"] = (
            sorted(
                duckdb.sql(
                    "SELECT * EXCLUDE (run) FROM read_parquet(?, hive_partitioning = true)", params=[files]
                ).fetchall(),
                key=repr,
            )
            if files
            else []
        )
    return out


def _summaries(found: dict[Job, list[Any]]) -> list[tuple[Any, ...]]:
    return sorted(
        (
            s.dataset_or_table,
            s.date,
            s.rows_in,
            s.rows_out,
            s.rows_quarantined,
            tuple(sorted(s.quarantined_by_reason.items())),
        )
        for summaries in found.values()
        for s in summaries
    )


@pytest.mark.spark
def test_jobs_give_the_same_rows_on_both_engines(tmp_path: Path, spark: Any) -> None:
    source = tmp_path / "source"
    generate(source, days=3, transactions=600, products=30, clickstream=500, reviews=120, seed=5, bad_rate=0.08)
    results = {}
    for engine in ("duckdb", "spark"):
        lake = tmp_path / engine
        _land(source, lake)
        session = spark if engine == "spark" else None
        first = run_jobs(lake, [DAYS[0], DAYS[2]], PER_DATASET, engine=engine, session=session)
        second = run_jobs(lake, [DAYS[1]], PER_DATASET, engine=engine, session=session)
        results[engine] = (_rows(lake), _summaries(first), _summaries(second))
    duck, on_spark = results["duckdb"], results["spark"]
    for name in duck[0]:
        assert duck[0][name] == on_spark[0][name], name
    assert duck[1:] == on_spark[1:]
    # The comparison means something: rows of every kind, and the repeated keys made duplicates.
    reasons = {row[-6] for row in duck[0]["quarantine transactions"]}
    assert {"duplicate_key", "malformed_record", "bad_number"} <= reasons
    recomputed = {s[1] for s in duck[2] if s[0] == "transactions"}
    assert recomputed == {DAYS[1], DAYS[2]}, "date 3 must be recomputed when date 2 takes one of its keys"
    across = [r for r in duck[0]["quarantine transactions"] if r[-2] is not None and r[-2] < str(r[-1])]
    assert across, "a duplicate of a key first landed on an earlier date"
