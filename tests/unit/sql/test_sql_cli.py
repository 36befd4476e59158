"""`ecomlake query`: formats, parameters, --list, --explain and one-line errors."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from sqltestlake import DATES

from ecomlake.cli import run
from ecomlake.queries import run_query


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = run(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_json_output_is_the_records(sql_lake: Path, capsys) -> None:
    code, out, _ = _run(
        capsys, "query", "top_products", "--lake", str(sql_lake), "--format", "json", "--param", "top_n=2"
    )
    assert code == 0
    expected = run_query("top_products", sql_lake, {"top_n": "2"}).to_records()
    assert json.loads(out) == expected
    # Two per catalog category, and the one product missing from the catalog under 'unknown'.
    assert [(r["category"], r["category_rank"]) for r in expected] == [
        ("Books", 1),
        ("Books", 2),
        ("Electronics", 1),
        ("Electronics", 2),
        ("Home", 1),
        ("Home", 2),
        ("unknown", 1),
    ]
    assert isinstance(expected[0]["revenue"], float)


def test_csv_output(sql_lake: Path, capsys) -> None:
    code, out, _ = _run(
        capsys,
        "query",
        "daily_kpis",
        "--lake",
        str(sql_lake),
        "--format",
        "csv",
        "--param",
        f"start_date={DATES[0]}",
        "--param",
        f"end_date={DATES[1]}",
    )
    assert code == 0
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0][:3] == ["date", "revenue", "orders"]
    assert [r[0] for r in rows[1:]] == [DATES[0].isoformat(), DATES[1].isoformat()]


def test_table_output_shows_params_and_row_count(sql_lake: Path, capsys) -> None:
    code, out, _ = _run(capsys, "query", "customer_segments", "--lake", str(sql_lake))
    assert code == 0
    assert "min_orders=0" in out
    assert "8 rows" in out
    assert "Champions" in out


def test_list_needs_no_lake(capsys, tmp_path: Path) -> None:
    code, out, _ = _run(capsys, "query", "--list", "--lake", str(tmp_path / "missing"))
    assert code == 0
    for name in ("top_products", "product_recommendations", "daily_kpis"):
        assert name in out


def test_explain_prints_plan_and_bytes(sql_lake: Path, capsys) -> None:
    day = DATES[4].isoformat()
    code, out, _ = _run(
        capsys,
        "query",
        "top_products",
        "--lake",
        str(sql_lake),
        "--explain",
        "--param",
        f"start_date={day}",
        "--param",
        f"end_date={day}",
    )
    assert code == 0
    size = sum(f.stat().st_size for f in (sql_lake / "curated" / "fact_sales" / f"date={day}").glob("run=*/*.parquet"))
    assert "Scanning Files: 1/13" in out
    assert f"estimated bytes scanned: {size} " in out
    assert "files DuckDB opened running it: 1" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["query", "nope"], "error: unknown query 'nope'; expected one of: conversion_funnel,"),
        (["query"], "error: give a query name, or --list to see them"),
        (["query", "top_products", "--param", "top_n=abc"], "error: parameter 'top_n': expected an integer, got 'abc'"),
        (["query", "top_products", "--param", "start_date=2025-02-30"], "error: parameter 'start_date': invalid date"),
        (["query", "top_products", "--param", "colour=red"], "error: query 'top_products' has no parameter 'colour'"),
        (["query", "top_products", "--param", "top_n"], "error: --param 'top_n': expected NAME=VALUE"),
        (["query", "top_products", "--format", "xml"], "error: --format must be one of table, json, csv, got 'xml'"),
    ],
)
def test_errors_are_one_line_and_exit_2(sql_lake: Path, capsys, argv: list[str], message: str) -> None:
    code, out, err = _run(capsys, *argv, "--lake", str(sql_lake))
    assert code == 2
    assert err.startswith(message)
    assert err.count("\n") == 1
    assert out == ""


def test_missing_lake_is_one_line(capsys, tmp_path: Path) -> None:
    code, _, err = _run(capsys, "query", "daily_kpis", "--lake", str(tmp_path / "nowhere"))
    assert code == 2
    assert err.startswith("error: no lake at ")
    assert err.count("\n") == 1
