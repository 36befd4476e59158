"""Pure parts: SQL compiled from rules, and the anomaly scoring."""

from __future__ import annotations

import math

import duckdb
import pytest

from ecomlake.dq.checks import (
    Status,
    anomaly_score,
    anomaly_sql,
    judge_anomaly,
    orphans_sql,
    partition_filter,
    predicate,
    profile_sql,
)
from ecomlake.dq.rules import RULES, AnomalyMethod, Kind, Rule, Severity

BY_ID = {r.id: r for r in RULES}


def test_row_level_predicates():
    assert predicate(BY_ID["transactions.not_null.customer_id"]) == (
        '("customer_id" IS NULL OR trim("customer_id") = \'\')'
    )
    assert predicate(BY_ID["transactions.not_null.quantity"]) == '"quantity" IS NULL'
    assert predicate(BY_ID["reviews.range.rating"]) == '("rating" < 1 OR "rating" > 5)'
    assert predicate(BY_ID["products.range.stock"]) == '("stock" < 0)'
    assert predicate(BY_ID["clickstream.enum.device"]) == (
        "(\"device\" IS NOT NULL AND \"device\" NOT IN ('mobile', 'desktop', 'tablet'))"
    )
    with pytest.raises(ValueError, match="not a row-level kind"):
        predicate(BY_ID["transactions.unique.transaction_id"])


def test_partition_filter_only_on_partitioned_tables():
    assert partition_filter("transactions", "2025-01-02") == "CAST(\"date\" AS DATE) = DATE '2025-01-02'"
    assert partition_filter("dim_products", "2025-01-02") == "TRUE"


def test_compiled_sql_runs_on_duckdb():
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE reviews AS SELECT * FROM (VALUES ('R1', 6, DATE '2025-01-02'), ('R2', 3, DATE '2025-01-02'),"
        " ('R3', 9, DATE '2025-01-03')) t(review_id, rating, date)"
    )
    rule = BY_ID["reviews.range.rating"]
    row = con.execute(profile_sql("reviews", [rule], "2025-01-02")).fetchone()
    assert row == (2, 1)


def test_orphans_sql_reads_the_parent_up_to_the_date():
    sql = orphans_sql(BY_ID["transactions.referential_integrity.product_id"], "2025-01-05")
    assert 'FROM "products" WHERE CAST("date" AS DATE) <= DATE \'2025-01-05\'' in sql
    same = orphans_sql(BY_ID["fct_sessions.referential_integrity.session_id"], "2025-01-05")
    assert 'FROM "sessions" WHERE CAST("date" AS DATE) = DATE \'2025-01-05\'' in same


def test_anomaly_sql_covers_the_window_and_the_date():
    sql = anomaly_sql(BY_ID["transactions.anomaly.rows"], "2025-01-08")
    assert "BETWEEN DATE '2025-01-01' AND DATE '2025-01-08'" in sql


@pytest.mark.parametrize(
    ("method", "value", "history", "median", "score"),
    [
        (AnomalyMethod.FACTOR, 30, [10, 10, 12, 8], 10, 3.0),
        (AnomalyMethod.FACTOR, 5, [10, 10, 12, 8], 10, 2.0),
        (AnomalyMethod.FACTOR, 10, [0, 0, 0], 0, math.inf),
        (AnomalyMethod.PCT, 15, [10, 10, 10], 10, 0.5),
        (AnomalyMethod.PCT, 0, [0, 0, 0], 0, 0.0),
        # MAD of [8, 10, 12, 10, 10] around median 10 is 0 -> any change is infinitely far.
        (AnomalyMethod.ZSCORE, 11, [8, 10, 12, 10, 10], 10, math.inf),
        # history 6, 8, 10, 12, 14: median 10, MAD 2; z = 0.6745 * 10 / 2.
        (AnomalyMethod.ZSCORE, 20, [6, 8, 10, 12, 14], 10, 0.6745 * 10 / 2),
    ],
)
def test_anomaly_score(method, value, history, median, score):
    got_median, got_score = anomaly_score(method, value, history)
    assert got_median == median
    assert got_score == pytest.approx(score)


def _anomaly(method: AnomalyMethod, threshold: float) -> Rule:
    params = {"metric": "revenue", "expr": "sum(x)", "method": str(method), "threshold": threshold}
    return Rule("t.anomaly.revenue", "transactions", Kind.ANOMALY, Severity.WARNING, params | {"window_days": 7})


def test_judge_anomaly_with_a_crafted_spike_and_zscore():
    series = {f"2025-01-0{i}": v for i, v in enumerate([100.0, 110.0, 90.0, 105.0, 95.0, 100.0, 98.0], start=1)}
    spike = judge_anomaly(_anomaly(AnomalyMethod.ZSCORE, 3.5), series | {"2025-01-08": 400.0}, "2025-01-08")
    assert spike.status is Status.FAIL
    # median 100, MAD 5 -> z = 0.6745 * 300 / 5 = 40.47
    assert spike.detail == "revenue = 400 vs median 100 of 7 days: zscore 40.47"
    calm = judge_anomaly(_anomaly(AnomalyMethod.ZSCORE, 3.5), series | {"2025-01-08": 108.0}, "2025-01-08")
    assert calm.status is Status.PASS
    # Later dates never count as history.
    future = judge_anomaly(_anomaly(AnomalyMethod.PCT, 0.5), {"2025-01-08": 100.0, "2025-01-09": 1.0}, "2025-01-08")
    assert (future.status, future.detail) == (Status.SKIP, "0 previous days with data; 1 needed")


def test_a_null_metric_is_not_reported_as_missing_rows():
    rule = _anomaly(AnomalyMethod.PCT, 0.5)
    # daily_kpis has the date, but its rate is NULL (no sessions to divide by).
    null_rate = judge_anomaly(rule, {"2025-01-07": 0.05, "2025-01-08": None}, "2025-01-08")
    assert (null_rate.status, null_rate.detail) == (
        Status.SKIP,
        "revenue is null for 2025-01-08: nothing to compute it from",
    )
    missing = judge_anomaly(rule, {"2025-01-07": 0.05}, "2025-01-08")
    assert (missing.status, missing.detail) == (Status.SKIP, "no transactions rows for 2025-01-08")


def test_a_curated_table_without_rows_says_only_that():
    # The audit checks curated tables after the merge: no story about the merge running later.
    rule = Rule(
        "daily_kpis.anomaly.revenue",
        "daily_kpis",
        Kind.ANOMALY,
        Severity.WARNING,
        _anomaly(AnomalyMethod.PCT, 0.5).params,
    )
    result = judge_anomaly(rule, {}, "2025-01-08")
    assert result.detail == "no daily_kpis rows for 2025-01-08"
