"""Named parameters: header parsing, validation, literal quoting, data-derived defaults."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqltestlake import DATES

from ecomlake.exceptions import InvalidArgumentError, InvalidDateError, UnknownQueryError
from ecomlake.queries import (
    QueryDefinitionError,
    list_queries,
    load_query,
    parse_param,
    parse_param_args,
    placeholders,
    render,
    resolve_params,
    run_query,
)


def _fixed(value):
    return lambda _sql: value


def test_list_queries_reports_names_titles_grains_and_defaults() -> None:
    specs = {s.name: s for s in list_queries()}
    top = specs["top_products"]
    assert top.title == "Top products by category"
    assert top.params == {
        "start_date": "end_date - 29 days",
        "end_date": "latest(fact_sales)",
        "top_n": "10",
        "category": "null",
    }
    assert top.tables == ("fact_sales",)
    assert specs["product_recommendations"].tables == ("basket_pairs", "clickstream", "dim_products", "fact_sales")
    assert specs["product_recommendations"].param("kind").choices == ("all", "bought_together", "viewed_not_bought")
    assert specs["customer_segments"].params == {"min_orders": "0"}


def test_parse_param_types_bounds_and_choices() -> None:
    p = parse_param("top_n int(1..1000) = 10 | rows", "x")
    assert (p.type, p.minimum, p.maximum, p.default, p.description) == ("int", 1, 1000, "10", "rows")
    assert p.type_label == "int(1..1000)"
    c = parse_param("kind choice(a, b_c) = a | which", "x")
    assert c.choices == ("a", "b_c")
    with pytest.raises(QueryDefinitionError, match="bad param line"):
        parse_param("top_n int 10", "x")
    with pytest.raises(QueryDefinitionError, match="unknown parameter type"):
        parse_param("top_n integer = 10 | rows", "x")


@pytest.mark.parametrize(
    ("param", "raw", "message"),
    [
        ("start_date", "2025-13-01", "parameter 'start_date': invalid date '2025-13-01'; no such calendar day"),
        ("start_date", "01/02/2025", "parameter 'start_date': invalid date '01/02/2025'; expected YYYY-MM-DD"),
        ("top_n", "ten", "parameter 'top_n': expected an integer, got 'ten'"),
        ("top_n", "1.5", "parameter 'top_n': expected an integer, got '1.5'"),
        ("top_n", "0", "parameter 'top_n': must be >= 1, got 0"),
        ("top_n", "1001", "parameter 'top_n': must be <= 1000, got 1001"),
        ("top_n", "", "parameter 'top_n': a value is required"),
    ],
)
def test_bad_values_are_one_clear_line(param: str, raw: str, message: str) -> None:
    spec = load_query("top_products")
    with pytest.raises(InvalidArgumentError) as err:
        spec.param(param).coerce(raw)
    assert str(err.value) == message


def test_bad_choice_and_number_values() -> None:
    spec = load_query("product_recommendations")
    with pytest.raises(InvalidArgumentError, match=r"'both' is not one of: all, bought_together, viewed_not_bought"):
        spec.param("kind").coerce("both")
    with pytest.raises(InvalidArgumentError, match="must be <= 1, got 2"):
        spec.param("min_support").coerce("2")
    with pytest.raises(InvalidArgumentError, match="expected a number"):
        spec.param("min_support").coerce("1e-3x")
    assert spec.param("min_support").coerce("0.005") == 0.005
    assert spec.param("min_support").literal(1e-7) == "0.0000001"


def test_literals_are_typed_and_strings_escaped() -> None:
    spec = load_query("top_products")
    assert spec.param("start_date").literal(date(2025, 1, 2)) == "date '2025-01-02'"
    assert spec.param("top_n").literal(5) == "5"
    assert spec.param("category").literal(None) == "cast(null as varchar)"
    assert spec.param("category").literal("O'Brien's") == "'O''Brien''s'"
    assert spec.param("category").coerce("null") is None
    with pytest.raises(InvalidArgumentError, match="printable text"):
        spec.param("category").coerce("a\nb")


def test_unknown_parameter_and_unknown_query() -> None:
    spec = load_query("top_products")
    with pytest.raises(InvalidArgumentError) as err:
        resolve_params(spec, {"topn": "3"}, _fixed(date(2025, 1, 1)))
    assert str(err.value) == (
        "query 'top_products' has no parameter 'topn'; expected one of: start_date, end_date, top_n, category"
    )
    with pytest.raises(UnknownQueryError, match=r"^unknown query 'top'; expected one of: conversion_funnel, "):
        load_query("top")
    with pytest.raises(UnknownQueryError):
        load_query("../sql/top_products")


def test_defaults_are_derived_from_the_data() -> None:
    spec = load_query("top_products")
    seen: list[str] = []

    def scalar(sql: str):
        seen.append(sql)
        return date(2025, 3, 31)

    values = resolve_params(spec, None, scalar)
    assert values == {"start_date": date(2025, 3, 2), "end_date": date(2025, 3, 31), "top_n": 10, "category": None}
    assert seen == ['select max("date") from fact_sales']
    # A given end_date moves the default start with it; no lookup is needed then.
    values = resolve_params(spec, {"end_date": "2025-02-10", "top_n": "3"}, _fixed(None))
    assert values["start_date"] == date(2025, 1, 12)
    assert values["top_n"] == 3
    # An empty lake has no latest date: the range is null and the query returns no rows.
    assert resolve_params(spec, None, _fixed(None))["start_date"] is None


def test_start_after_end_is_rejected() -> None:
    spec = load_query("daily_kpis")
    with pytest.raises(InvalidArgumentError, match=r"^start_date 2025-02-01 is after end_date 2025-01-01$"):
        resolve_params(spec, {"start_date": "2025-02-01", "end_date": "2025-01-01"}, _fixed(None))


def test_render_substitutes_only_real_placeholders() -> None:
    spec = load_query("top_products")
    values = {"start_date": date(2025, 1, 1), "end_date": date(2025, 1, 31), "top_n": 3, "category": "x:y"}
    sql = render(spec, values)
    assert placeholders(sql) == []
    assert "fs.\"date\" between date '2025-01-01' and date '2025-01-31'" in sql
    assert "('x:y' is null or fs.category = 'x:y')" in sql
    assert "where category_rank <= 3" in sql
    # Comments keep their text: the header still says `top_n` and is not rewritten.
    assert sql.startswith("-- title: Top products by category")
    assert placeholders("select ':a', \"b:c\" -- :d\n/* :e */ , :f") == ["f"]


def test_a_quote_in_a_string_parameter_cannot_change_the_statement(sql_lake: Path) -> None:
    evil = "Books' or 1=1 or category = '"
    # Bound as one literal, it matches no row (an injected `or 1=1` would return every
    # category), and an empty answer for a value the lake does not hold is an error naming them.
    with pytest.raises(InvalidArgumentError, match=r"is not a category in the lake \(values: .*Books"):
        run_query("top_products", sql_lake, {"category": evil})
    books = run_query("top_products", sql_lake, {"category": "Books"})
    assert {r[0] for r in books.rows} == {"Books"}


def test_broken_query_files_are_reported(tmp_path: Path) -> None:
    def write(name: str, text: str) -> None:
        (tmp_path / f"{name}.sql").write_text(text)

    header = "-- title: T\n-- question: Q?\n-- grain: G\n"
    write("undeclared", header + "with a as (select 1 as x) select x from a where x = :n\n")
    write("unused", header + "-- param: n int = 1 | n\nwith a as (select 1 as x) select x from a\n")
    write(
        "no_range",
        header + "-- param: n int = 1 | n\nwith a as (select * from fact_sales as fs) select :n as n from a\n",
    )
    write("no_grain", "-- title: T\n-- question: Q?\nselect 1\n")
    for name, message in [
        ("undeclared", "undeclared parameters"),
        ("unused", "declared but unused"),
        ("no_range", "does not declare start_date and end_date"),
        ("no_grain", "no 'grain' line"),
    ]:
        with pytest.raises(QueryDefinitionError, match=message):
            load_query(name, sql_dir=tmp_path)


def test_parse_param_args() -> None:
    assert parse_param_args(["top_n=5", "category=Home & Garden", "x="]) == {
        "top_n": "5",
        "category": "Home & Garden",
        "x": "",
    }
    with pytest.raises(InvalidArgumentError, match="expected NAME=VALUE"):
        parse_param_args(["top_n"])
    with pytest.raises(InvalidArgumentError, match="given twice"):
        parse_param_args(["a=1", "a=2"])


def test_run_query_accepts_python_values(sql_lake: Path) -> None:
    a = run_query("daily_kpis", sql_lake, {"start_date": DATES[1], "end_date": DATES[3]})
    b = run_query("daily_kpis", sql_lake, {"start_date": DATES[1].isoformat(), "end_date": DATES[3].isoformat()})
    assert a.rows == b.rows
    assert [r[0] for r in a.rows] == DATES[1:4]
    with pytest.raises(InvalidDateError):
        run_query("daily_kpis", sql_lake, {"end_date": "yesterday"})
