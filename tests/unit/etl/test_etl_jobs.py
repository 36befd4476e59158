"""Whole jobs on generated data: quarantine matches the generator's faults, nothing is lost, re-runs are idempotent."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb
import pytest

from ecomlake.contract import DATASETS, JOB_INPUTS, Job, Table, run_summary_key
from ecomlake.etl import run_job
from ecomlake.exceptions import InvalidArgumentError, InvalidDateError
from ecomlake.ingest import validate_bytes
from ecomlake.schemas import TABLES


def rows_of(lake: Path, zone: str, table: str, partitioned: bool = True) -> list[tuple[Any, ...]]:
    pattern = f"{lake}/{zone}/{table}/date=*/*.parquet" if partitioned else f"{lake}/{zone}/{table}/*.parquet"
    return sorted(
        duckdb.sql(f"select * from read_parquet('{pattern}', hive_partitioning={partitioned})").fetchall(), key=repr
    )


def quarantined(lake: Path, dataset: str) -> list[tuple[str, int, str]]:
    pattern = f"{lake}/quarantine/{dataset}/date=*/rows.parquet"
    return sorted(duckdb.sql(f"select _file, _line, _reason from read_parquet('{pattern}')").fetchall())


def test_quarantine_counts_equal_the_generators_faults(generated: dict[str, Any]) -> None:
    got: dict[str, Counter[str]] = {str(d): Counter() for d in DATASETS}
    for job in JOB_INPUTS:
        for s in generated["summaries"][Job(job)]:
            if s.dataset_or_table in got:
                got[s.dataset_or_table].update(s.quarantined_by_reason)
    for dataset, faults in generated["manifest"]["faults"].items():
        expected = {reason: n for reason, n in faults.items() if n}
        assert dict(got[dataset]) == expected, dataset
        assert sum(expected.values()) > 0
        on_disk = Counter(reason for _f, _l, reason in quarantined(generated["lake"], dataset))
        assert on_disk == got[dataset], dataset


def test_quarantined_rows_are_the_rows_the_validator_flags(generated: dict[str, Any]) -> None:
    """Per file, the validator's fault counts and examples are the ETL's quarantined rows."""
    lake = generated["lake"]
    for dataset in DATASETS:
        rows = quarantined(lake, str(dataset))
        checked = 0
        for path in sorted((lake / "raw" / dataset).glob("date=*/*")):
            key = path.relative_to(lake).as_posix()
            day = path.parent.name.split("=", 1)[1]
            report = validate_bytes(path.read_bytes(), dataset, day, path.name)
            assert report.accepted, report.summary()
            in_file = [(line, reason) for file, line, reason in rows if file == key]
            assert Counter(reason for _, reason in in_file) == Counter(report.faults), key
            assert {(e.line, e.reason) for e in report.examples} <= set(in_file), key
            checked += len(in_file)
        assert checked == len(rows) > 0, dataset


def test_every_row_in_is_counted_out(generated: dict[str, Any]) -> None:
    lake, manifest = generated["lake"], generated["manifest"]
    for job in JOB_INPUTS:
        for s in generated["summaries"][Job(job)]:
            assert s.rows_in == s.rows_out + s.rows_quarantined, s
            assert s.duplicates_dropped == s.quarantined_by_reason.get("duplicate_key", 0)
    for dataset in DATASETS:
        summaries = [s for j in JOB_INPUTS for s in generated["summaries"][Job(j)] if s.dataset_or_table == dataset]
        assert sum(s.rows_in for s in summaries) == manifest["counts"][dataset]
        assert sum(s.rows_out for s in summaries) == len(rows_of(lake, "processed", dataset))


def test_summaries_are_persisted_per_job_and_date(generated: dict[str, Any]) -> None:
    lake = generated["lake"]
    day = generated["dates"][0]
    body = json.loads((lake / run_summary_key(Job.TRANSACTION_ETL, day)).read_text())
    assert [item["dataset_or_table"] for item in body] == ["transactions"]
    assert set(body[0]) == {
        "job",
        "dataset_or_table",
        "date",
        "rows_in",
        "rows_out",
        "rows_quarantined",
        "duplicates_dropped",
        "quarantined_by_reason",
        "engine",
        "seconds",
    }
    assert body[0]["engine"] == "duckdb"
    assert body[0]["date"] == day
    merge = json.loads((lake / run_summary_key(Job.MASTER_DATA_MERGE, day)).read_text())
    assert sorted(item["dataset_or_table"] for item in merge) == sorted(
        ["daily_kpis", "dim_customers", "dim_products", "fact_sales", "fct_sessions"]
    )


def test_curated_tables_have_the_schema_columns(generated: dict[str, Any]) -> None:
    lake = generated["lake"]
    for table, schema in TABLES.items():
        zone = "processed" if table in ("transactions", "products", "clickstream", "reviews", "sessions") else "curated"
        partitioned = schema.partition_key is not None
        pattern = f"{lake}/{zone}/{table}/date=*/*.parquet" if partitioned else f"{lake}/{zone}/{table}/*.parquet"
        columns = [
            c[0] for c in duckdb.sql(f"describe from read_parquet('{pattern}', hive_partitioning=false)").fetchall()
        ]
        assert columns == list(schema.column_names), table
    kpis = rows_of(lake, "curated", Table.DAILY_KPIS)
    assert len(kpis) == len(generated["dates"])
    fact = rows_of(lake, "curated", Table.FACT_SALES)
    assert len(fact) == len(rows_of(lake, "processed", Table.TRANSACTIONS))


def _snapshot(lake: Path) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    for table, schema in TABLES.items():
        zone = "processed" if table in ("transactions", "products", "clickstream", "reviews", "sessions") else "curated"
        out[table] = rows_of(lake, zone, table, schema.partition_key is not None)
    for dataset in DATASETS:
        out[f"quarantine/{dataset}"] = quarantined(lake, str(dataset))
    return out


def test_rerun_gives_identical_rows_and_touches_only_its_dates(generated: dict[str, Any]) -> None:
    lake, dates = generated["lake"], generated["dates"]
    before = _snapshot(lake)
    first_day = lake / "processed" / "transactions" / f"date={dates[0]}" / "part-0.parquet"
    stamp = first_day.stat().st_mtime_ns
    for job in JOB_INPUTS:
        run_job(job, dates[1:], lake)  # a re-run of every date but the first
    assert first_day.stat().st_mtime_ns == stamp
    after = _snapshot(lake)
    # Facts of the first date and everything else are unchanged; dims are rebuilt identically.
    assert after == before
    assert all(before[t] for t in ("transactions", "fact_sales", "dim_customers", "daily_kpis"))


def test_bad_arguments_fail_clearly(lake: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="unknown job"):
        run_job("nightly", ["2025-01-01"], lake)
    with pytest.raises(InvalidDateError):
        run_job(Job.TRANSACTION_ETL, ["2025-02-30"], lake)
    with pytest.raises(InvalidArgumentError, match="unknown engine"):
        run_job(Job.TRANSACTION_ETL, ["2025-01-01"], lake, engine="pandas")
    with pytest.raises(InvalidArgumentError, match="no dates"):
        run_job(Job.TRANSACTION_ETL, [], lake)


def test_a_date_without_raw_files_writes_empty_results(lake: Path) -> None:
    summaries = run_job(Job.TRANSACTION_ETL, ["2025-03-01"], lake)
    assert [(s.rows_in, s.rows_out, s.rows_quarantined) for s in summaries] == [(0, 0, 0)]
    assert not list((lake / "processed").glob("transactions/date=*"))
