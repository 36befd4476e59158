"""The rules' SQL in both dialects, and which partitions the rules read: pure, no engine."""

from __future__ import annotations

import pytest
import sqlglot

from ecomlake.dq.checks import (
    anomaly_sql,
    duplicates_sample_sql,
    orphans_sample_sql,
    profile_sql,
    referential_sql,
    unique_sql,
    violations_sample_sql,
    violations_sql,
)
from ecomlake.dq.engine import QueryError
from ecomlake.dq.engine_spark import to_spark_sql
from ecomlake.dq.reads import partitions_read
from ecomlake.dq.rules import ROW_LEVEL_KINDS, RULES, Kind
from ecomlake.snapshots import Changes, Snapshot

DAY = "2025-01-10"
BY_ID = {r.id: r for r in RULES}


def every_statement() -> list[str]:
    """Every statement the evaluator can send, for every rule, on one date."""
    statements = []
    for table in sorted({r.table for r in RULES if r.kind in ROW_LEVEL_KINDS}):
        statements.append(profile_sql(table, [r for r in RULES if r.table == table and r.kind in ROW_LEVEL_KINDS], DAY))
    for rule in RULES:
        if rule.kind in ROW_LEVEL_KINDS:
            statements += [violations_sql(rule, DAY), violations_sample_sql(rule, DAY)]
        elif rule.kind is Kind.UNIQUE:
            statements += [unique_sql(rule, DAY), duplicates_sample_sql(rule, DAY)]
        elif rule.kind is Kind.REFERENTIAL_INTEGRITY:
            statements += [referential_sql(rule, DAY), orphans_sample_sql(rule, DAY)]
        elif rule.kind in {Kind.ANOMALY, Kind.VOLUME}:
            statements.append(anomaly_sql(rule, DAY))
    return statements


def test_every_statement_translates_to_spark_sql_that_spark_parses():
    statements = every_statement()
    assert len(statements) > 400
    for sql in statements:
        spark_sql = to_spark_sql(sql)
        sqlglot.parse_one(spark_sql, read="spark")  # raises on anything Spark's grammar would not take
        assert '"' not in spark_sql, spark_sql  # identifiers are backquoted on Spark


def test_the_translation_keeps_the_meaning_spark_needs():
    profile = to_spark_sql(profile_sql("reviews", [BY_ID["reviews.range.rating"]], DAY))
    assert profile == (
        "SELECT COUNT(*) AS `__rows`, COUNT(*) FILTER(WHERE (`rating` < 1 OR `rating` > 5)) AS `reviews.range.rating` "
        "FROM `reviews` WHERE CAST(`date` AS DATE) = CAST('2025-01-10' AS DATE)"
    )
    sample = to_spark_sql(violations_sample_sql(BY_ID["transactions.enum.status"], DAY))
    assert sample.endswith("ORDER BY `transaction_id` ASC NULLS LAST, `status` ASC NULLS LAST LIMIT 5")


def test_sql_that_cannot_be_translated_is_a_query_error():
    with pytest.raises(QueryError, match="cannot translate the check to Spark SQL"):
        to_spark_sql("SELECT FROM WHERE (")


def _view() -> Snapshot:
    changes = Changes()
    for day in (f"2025-01-{d:02d}" for d in range(1, 13)):
        for unit in ("processed/transactions", "processed/products", "processed/reviews", "curated/fact_sales"):
            changes.set_partition(unit, day, "r1")
    changes.set_whole("curated/dim_customers", "r1")
    return Snapshot().overlay(changes)


def test_the_partitions_read_follow_the_rules():
    reads = partitions_read(RULES, ["2025-01-09", DAY], _view())
    window = {f"2025-01-{d:02d}" for d in range(2, 11)}  # 7 days before the 9th, through the 10th
    assert reads["transactions"] == window
    assert reads["clickstream"] == window
    assert reads["daily_kpis"] == window
    assert reads["products"] == {f"2025-01-{d:02d}" for d in range(1, 11)}  # published snapshots up to the last date
    assert reads["reviews"] == reads["sessions"] == reads["fact_sales"] == {"2025-01-09", DAY}
    assert reads["dim_customers"] is None  # read whole
    assert reads["dim_products"] is None
    assert partitions_read(RULES, [], _view()) == {}


def test_only_the_rules_given_decide_the_reads():
    reads = partitions_read([BY_ID["fct_sessions.referential_integrity.session_id"]], [DAY], _view())
    assert reads == {"fct_sessions": {DAY}, "sessions": {DAY}}
    conservation = partitions_read([BY_ID["reviews.conservation"], BY_ID["reviews.schema_drift"]], [DAY], _view())
    assert conservation == {"reviews": {DAY}}
