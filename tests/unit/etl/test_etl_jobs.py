"""Whole jobs on generated data: quarantine matches the generator's faults, nothing is lost, re-runs are idempotent."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import duckdb
import pytest

from ecomlake.contract import DATASETS, JOB_INPUTS, Job, Table
from ecomlake.etl import run_job
from ecomlake.exceptions import InvalidArgumentError, InvalidDateError
from ecomlake.ingest import validate_bytes
from ecomlake.schemas import TABLES
from ecomlake.snapshots import load_published
from ecomlake.snapshots.journal import read_outputs
from ecomlake.storage import LocalStorage
from tests.lakeruns import quarantine_files, run_jobs, table_rows


def rows_of(lake: Path, table: str) -> list[tuple[Any, ...]]:
    return table_rows(lake, table)


def quarantined(lake: Path, dataset: str) -> list[tuple[str, int, str]]:
    files = [str(p) for p in quarantine_files(lake, dataset)]
    if not files:
        return []
    return sorted(duckdb.sql(f"select _file, _line, _reason from read_parquet({files})").fetchall())


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
        assert sum(s.rows_out for s in summaries) == len(rows_of(lake, dataset))


def test_summaries_are_journalled_per_job_and_named_by_the_snapshot(generated: dict[str, Any]) -> None:
    lake = generated["lake"]
    day = generated["dates"][0]
    storage = LocalStorage(lake)
    run = load_published(storage).computed_by("transactions", day)
    assert run == "generated"
    outputs = {o.job: o for o in read_outputs(storage, run)}
    body = [s for s in outputs["transaction_etl"].summaries if s["date"] == day]
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
    merge = [s for s in outputs["master_data_merge"].summaries if s["date"] == day]
    assert sorted(item["dataset_or_table"] for item in merge) == sorted(
        [
            "basket_pairs",
            "daily_kpis",
            "dim_customers",
            "dim_products",
            "fact_sales",
            "fct_sessions",
            "product_activity",
        ]
    )


def test_tables_files_have_exactly_the_schema_columns(generated: dict[str, Any]) -> None:
    lake = generated["lake"]
    snapshot = load_published(LocalStorage(lake))
    from ecomlake.snapshots import table_unit

    for table, schema in TABLES.items():
        versions = snapshot.prefixes(table_unit(table))
        assert versions, table
        files = [str(p) for _d, prefix in versions for p in (lake / prefix).glob("*.parquet")]
        columns = [c[0] for c in duckdb.sql(f"describe from read_parquet({files}, hive_partitioning=false)").fetchall()]
        assert columns == list(schema.column_names), table
    kpis = rows_of(lake, Table.DAILY_KPIS)
    assert len(kpis) == len(generated["dates"])
    fact = rows_of(lake, Table.FACT_SALES)
    assert len(fact) == len(rows_of(lake, Table.TRANSACTIONS))


def _snapshot(lake: Path) -> dict[str, list[tuple[Any, ...]]]:
    out: dict[str, list[tuple[Any, ...]]] = {table: rows_of(lake, table) for table in TABLES}
    for dataset in DATASETS:
        out[f"quarantine/{dataset}"] = quarantined(lake, str(dataset))
    return out


def test_rerun_gives_identical_rows_and_leaves_other_versions_alone(generated: dict[str, Any]) -> None:
    lake, dates = generated["lake"], generated["dates"]
    before = _snapshot(lake)
    published = load_published(LocalStorage(lake))
    first = published.version("processed/transactions", dates[0])
    run_jobs(lake, dates[1:], (*JOB_INPUTS,), run_id="rerun")  # every date but the first
    after_snapshot = load_published(LocalStorage(lake))
    # The first date's version is untouched; the re-run dates have the new run's versions.
    assert after_snapshot.version("processed/transactions", dates[0]) == first
    assert {after_snapshot.version("processed/transactions", d) for d in dates[1:]} == {"rerun"}
    after = _snapshot(lake)
    assert after == before
    assert all(before[t] for t in ("transactions", "fact_sales", "dim_customers", "daily_kpis"))


def test_bad_arguments_fail_clearly(lake: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="unknown job"):
        run_job("nightly", ["2025-01-01"], lake, run_id="r1")
    with pytest.raises(InvalidDateError):
        run_job(Job.TRANSACTION_ETL, ["2025-02-30"], lake, run_id="r1")
    with pytest.raises(InvalidArgumentError, match="unknown engine"):
        run_job(Job.TRANSACTION_ETL, ["2025-01-01"], lake, engine="pandas", run_id="r1")
    with pytest.raises(InvalidArgumentError, match="no dates"):
        run_job(Job.TRANSACTION_ETL, [], lake, run_id="r1")
    with pytest.raises(InvalidArgumentError, match="invalid run id"):
        run_job(Job.TRANSACTION_ETL, ["2025-01-01"], lake, run_id="../escape")


def test_a_date_without_raw_files_writes_empty_results(lake: Path) -> None:
    summaries = run_jobs(lake, ["2025-03-01"], [Job.TRANSACTION_ETL])[Job.TRANSACTION_ETL]
    assert [(s.rows_in, s.rows_out, s.rows_quarantined) for s in summaries] == [(0, 0, 0)]
    assert not list((lake / "processed").glob("transactions/date=*"))
    assert load_published(LocalStorage(lake)).dates("processed/transactions") == []


def test_a_job_writes_nothing_readers_see_until_the_run_is_published(generated: dict[str, Any]) -> None:
    lake, dates = generated["lake"], generated["dates"]
    before = rows_of(lake, Table.TRANSACTIONS)
    run_jobs(lake, dates, [Job.TRANSACTION_ETL], run_id="unpublished", publish=False)
    assert rows_of(lake, Table.TRANSACTIONS) == before
    assert all((lake / f"processed/transactions/date={d}/run=unpublished").is_dir() for d in dates)


def test_a_job_refuses_to_run_on_a_snapshot_published_after_its_plan(generated: dict[str, Any]) -> None:
    from ecomlake.snapshots import PublishConflictError

    lake, dates = generated["lake"], generated["dates"]
    seq = load_published(LocalStorage(lake)).seq
    with pytest.raises(PublishConflictError, match=f"planned on snapshot {seq - 1}"):
        run_job(Job.TRANSACTION_ETL, dates, lake, run_id="stale", base_seq=seq - 1)
