"""Files in any order, runs in any order: once every date has run after its last file, the lake is the backfill.

The oracle is one ordered backfill of the same files on a fresh lake. Each case lands the
files and runs the dates in a random order (seeded, so a failure can be replayed), then
catches up with one run over the dates still pending (a date whose run failed, or that a
later file changed), and compares every table and every quarantine with the oracle, row
for row, floats to 6 places. Runs that fail on the way (a day run before the catalog it
references was published fails its referential checks) publish nothing, which the final
comparison proves.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from runs_helpers import assert_same_lake, generated_source, source_files

from ecomlake.ingest import land_tree
from ecomlake.ingest.local import ingest_files
from ecomlake.local.runner import RunRecord, pending_dates, raw_dates, run_pipeline

pytestmark = pytest.mark.integration


def no_sleep(_seconds: float) -> None:
    """Retries of failed jobs wait for nothing in tests."""


def run(lake: Path, dates: list[str]) -> RunRecord:
    """A real run, minus the dashboard build (a reader of what the run published, not part of it)."""
    return run_pipeline(lake, dates, sleep=no_sleep, registry={"dashboard_refresh": lambda _ctx: {}})


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generated_source(tmp_path_factory.mktemp("order"))


@pytest.fixture(scope="module")
def backfill(source: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    lake = tmp_path_factory.mktemp("backfill") / "lake"
    land_tree(lake, source)
    record = run(lake, raw_dates(lake))
    assert record.succeeded, record.error
    return lake


def catch_up(lake: Path) -> None:
    """Run what is pending until nothing is (at most twice: one run settles every date)."""
    for _ in range(2):
        pending = pending_dates(lake)
        if not pending:
            return
        record = run_pipeline(lake, pending, sleep=no_sleep)
        assert record.succeeded, record.error
    assert pending_dates(lake) == []


def test_the_backfill_holds_cross_date_duplicates_as_quarantine(backfill: Path) -> None:
    import duckdb

    from tests.lakeruns import quarantine_files

    files = [str(p) for p in quarantine_files(backfill, "transactions")]
    rows = duckdb.sql(
        f"select _first_date, date from read_parquet({files}, hive_partitioning=true) "
        "where _reason = 'duplicate_key' and _first_date < cast(date as varchar)"
    ).fetchall()
    assert len(rows) == 5  # the five repeated lines
    assert {r[0] for r in rows} == {"2025-01-01"}
    assert {str(r[1]) for r in rows} == {"2025-01-03"}


@pytest.mark.parametrize("seed", [1, 2])
def test_dates_run_in_any_order_end_as_the_backfill(source: Path, backfill: Path, tmp_path: Path, seed: int) -> None:
    lake = tmp_path / "lake"
    land_tree(lake, source)
    dates = raw_dates(lake)
    random.Random(seed).shuffle(dates)
    for day in dates:
        run(lake, [day])
    catch_up(lake)
    assert_same_lake(lake, backfill)


@pytest.mark.parametrize("seed", [4])
def test_files_arriving_in_any_order_end_as_the_backfill(
    source: Path, backfill: Path, tmp_path: Path, seed: int
) -> None:
    lake = tmp_path / "lake"
    files = source_files(source)
    random.Random(seed).shuffle(files)
    rng = random.Random(seed * 31)
    for dataset, day, path in files:
        ingest_files(lake, [path], dataset, day)
        if rng.random() < 0.4:  # a run starts for the file's date; sometimes files pile up first
            run(lake, [day])
    catch_up(lake)
    assert_same_lake(lake, backfill)


def test_a_late_file_for_an_early_date_updates_every_later_date(source: Path, tmp_path: Path) -> None:
    """A second transactions file for day 1 arrives after everything was published; it repeats keys of day 4."""
    late = tmp_path / "late" / "transactions" / "date=2025-01-01" / "transactions-late.csv"
    late.parent.mkdir(parents=True)
    day4 = (source / "transactions" / "date=2025-01-04" / "transactions.csv").read_text().splitlines()
    late.write_text("\n".join([day4[0], *day4[1:8]]) + "\n")

    lake = tmp_path / "lake"
    land_tree(lake, source)
    assert run(lake, raw_dates(lake)).succeeded
    ingest_files(lake, [late], "transactions", "2025-01-01")
    assert pending_dates(lake) == ["2025-01-01"]
    record = run(lake, ["2025-01-01"])
    assert record.succeeded, record.error
    # Day 4's repeated rows lose to day 1 now, and day 3 quarantined rows as duplicates of
    # day 1's keys: the run recomputed both from their raw files, and every curated date from day 1 on.
    recomputed = {s["date"] for s in _journal_summaries(lake, record.run_id, "transaction_etl")}
    assert recomputed == {"2025-01-01", "2025-01-03", "2025-01-04"}
    merged = {s["date"] for s in _journal_summaries(lake, record.run_id, "master_data_merge")}
    assert merged == {"2025-01-01", "2025-01-02", "2025-01-03", "2025-01-04"}

    oracle = tmp_path / "oracle"
    land_tree(oracle, source)
    ingest_files(oracle, [late], "transactions", "2025-01-01")
    assert run(oracle, raw_dates(oracle)).succeeded
    assert_same_lake(lake, oracle)


def _journal_summaries(lake: Path, run_id: str, job: str) -> list[dict]:
    import json

    return json.loads((lake / "_runs" / run_id / "outputs" / f"{job}.json").read_text())["summaries"]
