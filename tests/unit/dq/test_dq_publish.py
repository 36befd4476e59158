"""Metric data and alert text, built without AWS."""

from __future__ import annotations

from datetime import UTC, datetime

from ecomlake.dq import run_checks
from ecomlake.dq.publish import SNS_SUBJECT_LIMIT, alert_message, freshness_hours, metric_data

DAY = "2025-01-04"
NOW = datetime(2025, 1, 5, 6, 0, tzinfo=UTC)


def _index(data: list[dict]) -> dict[tuple, float]:
    return {(d["MetricName"], tuple((x["Name"], x["Value"]) for x in d["Dimensions"])): d["Value"] for d in data}


def test_freshness_hours_counts_from_the_end_of_the_business_day():
    assert freshness_hours(DAY, NOW) == 6.0
    assert freshness_hours(DAY, datetime(2025, 1, 4, 12, tzinfo=UTC)) == 0.0


def test_metric_data_for_a_failing_report(build, lake):
    txns = build.clean_day(DAY)["transactions"]
    txns[0]["status"] = "lost"
    build.write("transactions", txns, DAY)
    build.validation("reviews", DAY, "reviews.csv", ["votes"])
    report = run_checks(lake, DAY, now=NOW)

    got = _index(metric_data(report, "prod", NOW))

    stage = (("Stage", "prod"),)
    assert got[("DQChecksFailed", stage)] == 2
    assert got[("DQCriticalFailed", stage)] == 1
    assert got[("DQChecksFailed", (*stage, ("Dataset", "transactions")))] == 1
    assert got[("DQCriticalFailed", (*stage, ("Dataset", "reviews")))] == 0
    assert got[("DQChecksFailed", (*stage, ("Dataset", "reviews"), ("Check", "reviews.schema_drift")))] == 1
    assert got[("DQChecksFailed", (*stage, ("Dataset", "transactions"), ("Check", "transactions.enum.status")))] == 1
    assert got[("RowsIn", (*stage, ("Dataset", "products")))] == 4
    assert got[("DataFreshnessHours", (*stage, ("Dataset", "transactions")))] == 6.0
    # Per-check series exist only for failed checks.
    assert sum(1 for name, dims in got if len(dims) == 3) == 2
    assert all(len(d["Dimensions"]) <= 30 for d in metric_data(report, "prod", NOW))

    without = _index(metric_data(report, "prod", NOW, freshness=False))
    assert not any(name == "DataFreshnessHours" for name, _ in without)


def test_alert_message_lists_failures_and_stays_within_sns_limits(build, lake):
    txns = build.clean_day(DAY)["transactions"]
    for t in txns:
        t["status"] = "lost"
    build.write("transactions", txns, DAY)
    report = run_checks(lake, DAY, now=NOW)
    subject, body = alert_message([report], "a-very-long-stage-name-" * 4, {DAY: "s3://reports/_reports/dq/x.html"})
    assert len(subject) == SNS_SUBJECT_LIMIT
    assert subject.endswith("...")
    assert "critical failure: pipeline stopped" in body
    assert "[critical] transactions.enum.status: 10 of 10 rows break the rule" in body
    assert "report: s3://reports/_reports/dq/x.html" in body
