"""The report files: JSON for machines, one self-contained HTML page for people."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from ecomlake.contract import Job
from ecomlake.dq import DQReport, run_checks

DAY = "2025-01-04"
NOW = datetime(2025, 1, 5, 6, 30, tzinfo=UTC)


def test_json_and_html_reports_are_written_with_the_results(build, lake):
    rows = build.clean_day(DAY)
    txns = rows["transactions"]
    txns[3]["status"] = "<b>lost</b>"
    build.write("transactions", txns, DAY)
    entry = build._entry(Job.TRANSACTION_ETL, "transactions", DAY, 10)
    entry |= {"rows_in": 13, "rows_quarantined": 3, "duplicates_dropped": 1}
    build.summary(Job.TRANSACTION_ETL, DAY, [entry])
    build.quarantine("transactions", DAY, {"bad_number": 2, "duplicate_key": 1})

    report = run_checks(lake, DAY, now=NOW)

    doc = json.loads((lake / "_reports" / "dq" / f"date={DAY}.json").read_text())
    assert doc["date"] == DAY
    assert doc["generated_at"] == "2025-01-05T06:30:00+00:00"
    assert doc["passed"] is False
    assert doc["critical_failures"] == ["transactions.enum.status"]
    assert doc["summary"] == report.counts()
    assert doc["summary"]["critical_failed"] == 1
    assert doc["summary"]["checks"] == len(doc["checks"]) == 229
    enum = next(c for c in doc["checks"] if c["id"] == "transactions.enum.status")
    assert (enum["status"], enum["value"], enum["severity"]) == ("fail", 1, "critical")
    assert enum["samples"] == [{"transaction_id": "T01040003", "status": "<b>lost</b>"}]
    assert "NOT IN ('completed', 'returned', 'refunded')" in enum["sql"]
    tx = next(c for c in doc["conservation"] if c["dataset"] == "transactions")
    assert tx == {
        "dataset": "transactions",
        "job": "transaction_etl",
        "rows_in": 13,
        "rows_out": 10,
        "rows_quarantined": 3,
        "duplicates_dropped": 1,
        "quarantined_by_reason": {"bad_number": 2, "duplicate_key": 1},
    }
    assert doc["quarantine"] == {"transactions": {"bad_number": 2, "duplicate_key": 1}}

    page = (lake / "_reports" / "dq" / f"date={DAY}.html").read_text()
    assert page.startswith("<!doctype html>")
    assert "<title>Data quality 2025-01-04</title>" in page
    assert "FAILED: 1 critical check(s) failed" in page
    assert "transactions.enum.status" in page
    assert "&lt;b&gt;lost&lt;/b&gt;" in page
    assert "<b>lost</b>" not in page
    assert re.search(r"<td>transactions</td><td>bad_number</td><td class=\"num\">2</td>", page)
    # Self-contained: no scripts, stylesheets, images or any other fetched asset.
    assert not re.search(r"<script|<link|<img|https?://|src=", page, re.IGNORECASE)


def test_a_passing_report_says_so(build, lake):
    build.clean_day(DAY)
    report = run_checks(lake, DAY, now=NOW)
    assert report.passed
    page = report.to_html()
    assert "PASSED: every check passed or had nothing to check" in page
    assert "<h2>Failed checks</h2>" not in page
    assert json.loads(report.to_json())["critical_failures"] == []


def test_warnings_do_not_fail_the_report(build, lake):
    build.clean_day(DAY)
    build.validation("reviews", DAY, "reviews.csv", ["helpful_votes"])
    report = run_checks(lake, DAY, now=NOW)
    assert report.passed
    assert [r.rule_id for r in report.warnings] == ["reviews.schema_drift"]
    assert report.critical_failures == []
    assert "PASSED with 1 warning(s)" in report.to_html()


def test_a_report_read_back_from_its_json_is_the_same_report(build, lake):
    # The cloud's verdict step publishes metrics from the reports the Glue audit wrote.
    rows = build.clean_day(DAY)
    txns = rows["transactions"]
    txns[3]["status"] = "lost"
    build.write("transactions", txns, DAY)
    entry = build._entry(Job.TRANSACTION_ETL, "transactions", DAY, 10) | {"rows_in": 12, "rows_quarantined": 2}
    build.summary(Job.TRANSACTION_ETL, DAY, [entry])
    build.quarantine("transactions", DAY, {"bad_number": 2})
    report = run_checks(lake, DAY, now=NOW)

    again = DQReport.from_dict(json.loads(report.to_json()))

    assert again.to_dict() == report.to_dict()
    assert [r.rule_id for r in again.critical_failures] == ["transactions.enum.status"]
    assert again.conservation() == report.conservation()
