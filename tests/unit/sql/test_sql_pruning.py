"""Partition pruning is real, and --explain's bytes-scanned estimate is the files it selects."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from sqltestlake import DATES, published_folders

from ecomlake.catalog import connect
from ecomlake.contract import PARTITION_KEY
from ecomlake.queries import explain, list_queries, load_query, prepare, run_query, scan_profile
from ecomlake.schemas import table_schema

RANGED = [s.name for s in list_queries() if s.partitioned_tables]
DAY = DATES[5]  # one file per partition on this day in every table


def _one_day() -> dict[str, str]:
    return {"start_date": DAY.isoformat(), "end_date": DAY.isoformat()}


def test_every_query_over_partitioned_data_is_tested() -> None:
    assert set(RANGED) == {
        "conversion_funnel",
        "daily_kpis",
        "product_recommendations",
        "return_rates",
        "revenue_by_category",
        "revenue_trends",
        "top_products",
    }


@pytest.mark.parametrize("name", RANGED)
def test_a_one_day_query_opens_only_that_days_files(sql_lake: Path, name: str) -> None:
    _spec, _values, _athena, duck_sql, con = prepare(name, sql_lake, _one_day())
    scans = scan_profile(con, duck_sql)
    partitioned = [s for s in scans if s.file_filters]
    assert partitioned, "no partitioned scan found"
    for scan in partitioned:
        opened = [f.strip() for f in scan.filenames.split(",")]
        assert scan.files_read == len(opened) == 1
        assert f"/{PARTITION_KEY}={DAY.isoformat()}/" in opened[0]
        selected, total = (int(x) for x in scan.files_selected.split("/"))
        assert selected == 1
        # Out of every date's files -- or out of the one left when DuckDB pruned the list while
        # planning (it does for some scans; the opened file above is what matters).
        assert total >= len(DATES) or total == 1
    # The other scans are the unpartitioned dimensions: their one file each.
    for scan in scans:
        if not scan.file_filters:
            assert scan.files_read == 1
            assert "/dim_" in scan.filenames


def _corrupt_after(lake: Path, last_kept: str) -> int:
    """Overwrite every partition file dated after ``last_kept`` with garbage; return how many."""
    n = 0
    for table in {t for name in RANGED for t in load_query(name).partitioned_tables}:
        for day, folder in published_folders(lake, table):
            if str(day) > last_kept:
                for f in folder.glob("*.parquet"):
                    f.write_bytes(b"PAR1 this is not a parquet file PAR1")
                    n += 1
    return n


@pytest.fixture(scope="module")
def corrupted_lake(sql_lake: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    lake = tmp_path_factory.mktemp("corrupt") / "lake"
    shutil.copytree(sql_lake, lake)
    assert _corrupt_after(lake, DATES[4].isoformat()) > 0
    return lake


@pytest.mark.parametrize("name", RANGED)
def test_out_of_range_partitions_are_never_read(sql_lake: Path, corrupted_lake: Path, name: str) -> None:
    params = {"start_date": DATES[0].isoformat(), "end_date": DATES[4].isoformat()}
    intact = run_query(name, sql_lake, params)
    assert intact.rows
    assert run_query(name, corrupted_lake, params).rows == intact.rows


def test_the_corruption_is_detected_when_read(corrupted_lake: Path) -> None:
    # Proves the test above can fail: a range that reaches a corrupted partition errors.
    with pytest.raises(Exception, match=r"(?i)parquet"):
        run_query(
            "top_products", corrupted_lake, {"start_date": DATES[0].isoformat(), "end_date": DATES[6].isoformat()}
        )


def _sizes_in_range(lake: Path, tables: tuple[str, ...], start: str, end: str) -> int:
    total = 0
    for table in tables:
        for day, folder in published_folders(lake, table):
            if day is None or start <= day <= end:
                total += sum((folder / f).stat().st_size for f in os.listdir(folder))
    return total


@pytest.mark.parametrize("name", [s.name for s in list_queries()])
def test_explain_estimates_the_bytes_of_the_selected_partitions(sql_lake: Path, name: str) -> None:
    spec = load_query(name)
    params = {"start_date": DATES[2].isoformat(), "end_date": DATES[4].isoformat()} if spec.partitioned_tables else {}
    plan = explain(name, sql_lake, params)
    expected = _sizes_in_range(sql_lake, spec.tables, DATES[2].isoformat(), DATES[4].isoformat())
    assert plan.bytes_scanned == expected > 0
    assert plan.billed_bytes == 10 * 1024 * 1024  # tiny data: Athena's minimum
    assert plan.athena_cost_usd == pytest.approx(10 / 1024 / 1024 * 5.0)
    for table, partitions, files, size in plan.by_table():
        if table_schema(table).partition_key:
            assert partitions == 3
            # DATES[2] of fact_sales was written as two files.
            assert files == (4 if table == "fact_sales" else 3)
        else:
            assert (partitions, files) == (0, 1)
        assert size > 0
    assert "READ_PARQUET" in plan.plan or "Read Parquet" in plan.plan
    # DuckDB opened at least every selected file, and only files of the range.
    assert plan.files_read >= len(plan.files)


def test_explain_follows_the_range(sql_lake: Path) -> None:
    one = explain("top_products", sql_lake, _one_day())
    week = explain("top_products", sql_lake, {"start_date": DATES[0].isoformat(), "end_date": DATES[6].isoformat()})
    assert [f.date for f in one.files] == [DAY.isoformat()]
    assert len(week.files) == 8  # seven days, one of them in two files
    assert week.bytes_scanned > one.bytes_scanned
    assert one.files_read == 1
    assert week.files_read == 8


def test_views_prune_on_the_date_column_directly(sql_lake: Path) -> None:
    con = connect(sql_lake)
    scans = scan_profile(con, f"select count(*) from fact_sales where \"date\" = date '{DAY.isoformat()}'")
    assert [s.files_read for s in scans] == [1]
