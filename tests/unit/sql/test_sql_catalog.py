"""The local catalog: one DuckDB view per catalog table, typed as the schemas say."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqltestlake import DATES, arrow_schema

from ecomlake.catalog import CatalogError, connect, partition_files, table_files, view_sql
from ecomlake.contract import PARTITION_KEY, Table
from ecomlake.schemas import athena_to_duckdb, table_schema
from ecomlake.snapshots.adopt import adopt_unversioned


def _described(con, table: Table) -> list[tuple[str, str]]:
    return [(row[0], row[1]) for row in con.execute(f'describe "{table}"').fetchall()]


def _expected(table: Table) -> list[tuple[str, str]]:
    schema = table_schema(table)
    cols = [(c.name, athena_to_duckdb(c.type)) for c in schema.columns]
    return [*cols, (PARTITION_KEY, "DATE")] if schema.partition_key else cols


@pytest.mark.parametrize("table", list(Table))
def test_every_table_has_a_view_with_the_schema_types(sql_lake: Path, table: Table) -> None:
    con = connect(sql_lake)
    assert _described(con, table) == _expected(table)


def test_views_over_files_return_the_rows_written(sql_lake: Path, frames) -> None:
    con = connect(sql_lake)
    for table in (Table.FACT_SALES, Table.DIM_PRODUCTS, Table.CLICKSTREAM, Table.DAILY_KPIS):
        assert con.execute(f'select count(*) from "{table}"').fetchone()[0] == len(frames[table])
    # The partition column comes from the folder names, typed DATE.
    days = con.execute('select distinct "date" from fact_sales order by 1').fetchall()
    assert [d[0] for d in days] == DATES
    ids = con.execute("select transaction_id from fact_sales order by 1 limit 2").fetchall()
    assert [r[0] for r in ids] == sorted(frames["fact_sales"]["transaction_id"])[:2]


def test_tables_without_files_are_typed_empty_views(sql_lake: Path, tmp_path: Path) -> None:
    # The test lake has no processed transactions, reviews, products or sessions.
    con = connect(sql_lake)
    for table in (Table.TRANSACTIONS, Table.REVIEWS, Table.PRODUCTS, Table.SESSIONS):
        assert table_files(sql_lake, table) == []
        assert con.execute(f'select count(*) from "{table}"').fetchone()[0] == 0
        assert _described(con, table) == _expected(table)
    empty = connect(tmp_path)
    assert _described(empty, Table.FACT_SALES) == _expected(Table.FACT_SALES)
    assert "where false" in view_sql(tmp_path, Table.FACT_SALES)


def test_connect_can_register_only_some_tables(sql_lake: Path) -> None:
    con = connect(sql_lake, tables=[Table.DAILY_KPIS])
    names = {r[0] for r in con.execute("select view_name from duckdb_views() where not internal").fetchall()}
    assert names == {"daily_kpis"}


def test_partition_files_selects_the_date_range(sql_lake: Path) -> None:
    files = partition_files(sql_lake, Table.FACT_SALES, DATES[2].isoformat(), DATES[3].isoformat())
    # DATES[2] was written as two files.
    assert [(f.date, f.path.name) for f in files] == [
        (DATES[2].isoformat(), "part-0.parquet"),
        (DATES[2].isoformat(), "part-1.parquet"),
        (DATES[3].isoformat(), "part-0.parquet"),
    ]
    assert all(f.bytes == f.path.stat().st_size > 0 for f in files)
    assert partition_files(sql_lake, Table.FACT_SALES, None, None) == []
    assert len(partition_files(sql_lake, Table.DIM_PRODUCTS, "2030-01-01", "2030-01-01")) == 1


def test_stray_files_outside_the_layout_are_not_read(sql_lake: Path, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    shutil.copytree(sql_lake, lake)
    # A writer's temporary folder and a non-parquet file must not become rows.
    junk = lake / "curated" / "daily_kpis" / "_temporary" / "0"
    junk.mkdir(parents=True)
    (junk / "part-9.parquet").write_bytes(b"not parquet")
    (lake / "curated" / "daily_kpis" / f"{PARTITION_KEY}={DATES[0]}" / "_SUCCESS").write_text("")
    con = connect(lake)
    assert con.execute("select count(*) from daily_kpis").fetchone()[0] == len(DATES)


def test_a_file_with_a_drifted_schema_is_one_clear_error(tmp_path: Path) -> None:
    folder = tmp_path / "curated" / "daily_kpis" / f"{PARTITION_KEY}={DATES[0]}"
    folder.mkdir(parents=True)
    wrong = pa.schema([f for f in arrow_schema(Table.DAILY_KPIS) if f.name != "revenue"])
    pq.write_table(pa.Table.from_pylist([], schema=wrong), folder / "part-0.parquet")
    adopt_unversioned(tmp_path)
    with pytest.raises(CatalogError) as err:
        connect(tmp_path)
    message = str(err.value)
    assert "daily_kpis" in message
    assert "revenue" in message
    assert "\n" not in message
