"""Static checks on sql/*.sql: Athena SQL, headers, style, and partition filters."""

from __future__ import annotations

import itertools
import re
from datetime import date

import pytest
import sqlglot
from sqlglot import exp
from sqlglot.tokens import TokenType

from ecomlake.contract import PARTITION_KEY
from ecomlake.queries import (
    RANGE_END,
    RANGE_START,
    SQL_DIR,
    load_query,
    query_names,
    render,
    resolve_params,
    transpile,
)
from ecomlake.schemas import FUNNEL_STAGES, RFM_SEGMENTS, table_schema

EXPECTED = {
    "conversion_funnel",
    "customer_ltv",
    "customer_segments",
    "daily_kpis",
    "ltv_distribution",
    "product_recommendations",
    "return_rates",
    "revenue_by_category",
    "revenue_trends",
    "top_products",
}
NAMES = sorted(EXPECTED)


def _no_lake(sql: str) -> date:
    return date(2025, 1, 31)  # stands in for latest(<table>) without touching data


def test_every_business_question_has_a_file() -> None:
    assert set(query_names()) == EXPECTED


@pytest.mark.parametrize("name", NAMES)
def test_file_parses_as_athena_with_and_without_values(name: str) -> None:
    spec = load_query(name)
    raw = sqlglot.parse(spec.text, read="athena")
    assert len(raw) == 1
    assert isinstance(raw[0], exp.Query)
    rendered = render(spec, resolve_params(spec, None, _no_lake))
    tree = sqlglot.parse_one(rendered, read="athena")
    assert not list(tree.find_all(exp.Placeholder))
    # And the DuckDB text is one statement that DuckDB's own dialect reads back.
    assert sqlglot.parse_one(transpile(rendered), read="duckdb") is not None


@pytest.mark.parametrize("name", NAMES)
def test_header_states_title_question_grain_and_params(name: str) -> None:
    spec = load_query(name)
    assert spec.title
    assert spec.question.endswith("?")
    assert spec.grain
    assert spec.path == SQL_DIR / f"{name}.sql"
    for p in spec.parameters:
        assert p.description, p.name
    if spec.partitioned_tables:
        assert spec.params[RANGE_END].startswith("latest(")
        assert re.fullmatch(r"end_date - \d+ days", spec.params[RANGE_START])


@pytest.mark.parametrize("name", NAMES)
def test_style_lowercase_keywords_and_ctes_first(name: str) -> None:
    spec = load_query(name)
    tokens = sqlglot.tokenize(spec.text, read="athena")
    keywords = [t for t in tokens if t.token_type not in {TokenType.VAR, TokenType.STRING, TokenType.IDENTIFIER}]
    calls = [t for t, nxt in itertools.pairwise(tokens) if nxt.token_type == TokenType.L_PAREN]
    upper = [t.text for t in [*keywords, *calls] if t.text.isalpha() and t.text != t.text.lower()]
    assert upper == []
    body = [line for line in spec.text.splitlines() if line.strip() and not line.startswith("--")]
    assert body[0].strip() == "with"
    tree = sqlglot.parse_one(spec.text, read="athena")
    # Every source table gets an explicit alias.
    for table in tree.find_all(exp.Table):
        if table.name in {str(t) for t in spec.tables}:
            assert table.alias, f"{name}: {table.name} has no alias"


@pytest.mark.parametrize("name", NAMES)
def test_divisions_are_typed_so_trino_never_divides_integers(name: str) -> None:
    # Trino truncates bigint / bigint; DuckDB does not. Casting the left side keeps both equal.
    tree = sqlglot.parse_one(load_query(name).text, read="athena")
    for div in tree.find_all(exp.Div):
        casts = [
            c for c in div.left.find_all(exp.Cast) if c.to.this in {exp.DataType.Type.DOUBLE, exp.DataType.Type.DECIMAL}
        ]
        assert casts, f"{name}: untyped division {div.sql('athena')}"


def _range_filtered(table: exp.Table) -> bool:
    select = table.find_ancestor(exp.Select)
    where = select.args.get("where") if select else None
    if where is None:
        return False
    qualifier = table.alias_or_name
    for between in where.find_all(exp.Between):
        col = between.this
        if (
            isinstance(col, exp.Column)
            and col.name == PARTITION_KEY
            and col.table == qualifier
            and isinstance(between.args["low"], exp.Placeholder)
            and between.args["low"].name == RANGE_START
            and between.args["high"].name == RANGE_END
        ):
            return True
    return False


@pytest.mark.parametrize("name", NAMES)
def test_every_partitioned_table_read_is_filtered_on_the_date_range(name: str) -> None:
    spec = load_query(name)
    tree = sqlglot.parse_one(spec.text, read="athena")
    reads = [t for t in tree.find_all(exp.Table) if t.name in spec.partitioned_tables]
    assert len(reads) == sum(1 for t in tree.find_all(exp.Table) if t.name in spec.partitioned_tables)
    for table in reads:
        assert _range_filtered(table), f"{name}: {table.sql('athena')} is read without a date range filter"


def test_the_filter_check_can_fail() -> None:
    tree = sqlglot.parse_one('select x from fact_sales as fs where fs."date" > :start_date', read="athena")
    assert not _range_filtered(next(tree.find_all(exp.Table)))


def _values_of_cte(name: str, cte: str) -> list[tuple]:
    tree = sqlglot.parse_one(load_query(name).text, read="athena")
    node = next(c for c in tree.find_all(exp.CTE) if c.alias == cte)
    values = next(node.find_all(exp.Values))
    return [tuple(e.to_py() for e in row.expressions) for row in values.expressions]


def test_segment_list_matches_the_schema() -> None:
    rows = _values_of_cte("customer_segments", "segments")
    assert [r[0] for r in rows] == list(RFM_SEGMENTS)
    assert [r[1] for r in rows] == list(range(1, len(RFM_SEGMENTS) + 1))


def test_funnel_stages_match_the_schema() -> None:
    rows = _values_of_cte("conversion_funnel", "stages")
    assert [r[0] for r in rows] == list(FUNNEL_STAGES)
    assert [r[1] for r in rows] == list(range(1, len(FUNNEL_STAGES) + 1))


@pytest.mark.parametrize("name", NAMES)
def test_queries_read_only_catalog_columns(name: str) -> None:
    # A column a query names on a catalog table must exist in that table's schema.
    spec = load_query(name)
    tree = sqlglot.parse_one(spec.text, read="athena")
    aliases = {t.alias_or_name: t.name for t in tree.find_all(exp.Table) if t.name in spec.tables}
    for col in tree.find_all(exp.Column):
        table = aliases.get(col.table)
        if table:
            schema = table_schema(table)
            assert col.name in schema or col.name == schema.partition_key, f"{name}: {table}.{col.name}"
