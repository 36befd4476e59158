"""Each rule kind fires on data built to break it, and stays quiet on clean data."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from ecomlake.contract import Job
from ecomlake.dq import run_checks
from ecomlake.dq.checks import CheckResult, Status

DAY = "2025-01-04"


def results(lake: Path, day: str = DAY) -> dict[str, CheckResult]:
    return {r.rule_id: r for r in run_checks(lake, day).results}


def test_a_clean_lake_passes_every_check(build, lake, days):
    for d in days("2025-01-01", 4):
        build.clean_day(d)
    build.validation("transactions", DAY, "transactions.csv", [])
    report = run_checks(lake, DAY)
    not_passed = {r.rule_id: r.status for r in report.results if r.status is not Status.PASS}
    # Nothing to judge: datasets without a validation report, and rates over a few rows.
    skipped = [f"{d}.schema_drift" for d in ("products", "clickstream", "reviews")]
    skipped += [f"{d}.quarantine_rate" for d in ("transactions", "products", "clickstream", "reviews")]
    assert not_passed == dict.fromkeys(skipped, Status.SKIP)
    assert report.passed
    assert report.failures == []


def test_not_null_counts_nulls_and_blanks(build, lake):
    txns = build.clean_day(DAY)["transactions"]
    txns[1]["customer_id"] = None
    txns[2]["customer_id"] = "   "
    txns[3]["quantity"] = None
    build.write("transactions", txns, DAY)
    got = results(lake)
    customer = got["transactions.not_null.customer_id"]
    assert (customer.status, customer.value, customer.severity) == (Status.FAIL, 2, "critical")
    assert customer.detail == "2 of 10 rows null or blank (20.00%)"
    assert {s["transaction_id"] for s in customer.samples} == {"T01040001", "T01040002"}
    assert got["transactions.not_null.quantity"].value == 1
    assert got["transactions.not_null.product_id"].status is Status.PASS


def test_unique_counts_extra_rows_per_duplicated_key(build, lake):
    txns = build.clean_day(DAY)["transactions"]
    txns[2]["transaction_id"] = txns[1]["transaction_id"]
    txns[3]["transaction_id"] = txns[1]["transaction_id"]
    txns[5]["transaction_id"] = txns[4]["transaction_id"]
    build.write("transactions", txns, DAY)
    unique = results(lake)["transactions.unique.transaction_id"]
    assert (unique.status, unique.value) == (Status.FAIL, 3)
    assert unique.detail.startswith("2 duplicated (transaction_id) values, 3 extra rows of 10")
    assert unique.samples[0] == {"transaction_id": "T01040001", "n": 3}


def test_range_flags_values_outside_the_schema_bounds(build, lake):
    rows = build.clean_day(DAY)
    txns, reviews = rows["transactions"], rows["reviews"]
    txns[0]["quantity"] = 0
    txns[1]["quantity"] = 5000
    txns[2]["price"] = Decimal("0.00")
    reviews[0]["rating"] = 6
    build.write("transactions", txns, DAY)
    build.write("reviews", reviews, DAY)
    got = results(lake)
    assert (got["transactions.range.quantity"].status, got["transactions.range.quantity"].value) == (Status.FAIL, 2)
    assert sorted(s["quantity"] for s in got["transactions.range.quantity"].samples) == [0, 5000]
    assert got["transactions.range.price"].value == 1
    assert got["reviews.range.rating"].value == 1
    assert got["transactions.range.total_amount"].status is Status.PASS


def test_enum_flags_unknown_values(build, lake):
    txns = build.clean_day(DAY)["transactions"]
    txns[4]["status"] = "shipped"
    build.write("transactions", txns, DAY)
    enum = results(lake)["transactions.enum.status"]
    assert (enum.status, enum.value) == (Status.FAIL, 1)
    assert enum.samples == ({"transaction_id": "T01040004", "status": "shipped"},)


def test_freshness_and_row_count_when_a_partition_is_missing(build, lake):
    build.clean_day(DAY)
    for table in ("transactions", "reviews"):
        build.remove(table, DAY)  # the run found no rows: the partition is gone from the snapshot
    report = run_checks(lake, DAY)
    got = {r.rule_id: r for r in report.results}
    assert (got["transactions.freshness"].status, got["transactions.freshness"].severity) == (Status.FAIL, "critical")
    assert got["transactions.freshness"].detail == f"no transactions partition (or no rows) for {DAY}"
    assert (got["reviews.freshness"].status, got["reviews.freshness"].severity) == (Status.FAIL, "warning")
    assert (got["transactions.row_count"].status, got["transactions.row_count"].value) == (Status.FAIL, 0)
    # Nothing to check on an empty partition: the row-level rules skip rather than pass.
    assert got["transactions.not_null.customer_id"].status is Status.SKIP
    assert got["products.freshness"].status is Status.PASS
    assert "transactions.freshness" in {r.rule_id for r in report.critical_failures}


def test_row_count_bounds_on_daily_kpis(build, lake):
    build.clean_day(DAY)
    kpi_file = build.folder("daily_kpis", DAY) / "part-0.parquet"
    copy = kpi_file.with_name("part-1.parquet")
    copy.write_bytes(kpi_file.read_bytes())
    got = results(lake)
    assert (got["daily_kpis.row_count"].status, got["daily_kpis.row_count"].value) == (Status.FAIL, 2)
    assert got["daily_kpis.row_count"].expected == "between 1 and 1 rows"
    assert got["daily_kpis.unique.date"].value == 1


def test_referential_integrity_judges_against_the_catalog_known_by_then(build, lake):
    build.clean_day(DAY)
    txns = build.clean_day("2025-01-05")["transactions"]
    # P005 exists only in a later catalog snapshot: on 01-05 it is still unknown.
    txns[0]["product_id"] = "P999"
    txns[1]["product_id"] = "P999"
    txns[2]["product_id"] = "P005"
    build.write("transactions", txns, "2025-01-05")
    later = [
        {"product_id": "P005", "name": "Kettle", "category": "kitchen", "brand": "Crema"}
        | {"price": Decimal("30.00"), "stock": 3, "price_band": "mid"}
    ]
    build.write("products", later, "2025-01-06")
    ri = results(lake, "2025-01-05")["transactions.referential_integrity.product_id"]
    # 30 % of the day's sales name no catalogued product: past the 5 % critical threshold.
    assert (ri.status, ri.value, ri.severity) == (Status.FAIL, 3, "critical")
    assert ri.expected == "orphan rate: warning above 0.00%, critical above 5.00%"
    assert ri.detail == "3 of 10 rows (30.00%, 2 distinct product_id) not in products.product_id"
    assert [s["product_id"] for s in ri.samples] == ["P005", "P999"]
    assert results(lake, DAY)["transactions.referential_integrity.product_id"].status is Status.PASS


def test_referential_integrity_of_the_curated_tables(build, lake):
    rows = build.clean_day(DAY)
    facts = [t | {"product_name": None, "category": None, "brand": None} for t in rows["transactions"]]
    for f in facts:
        f["price_band"] = "budget"
        f["net_amount"] = f["total_amount"]
    facts[0]["customer_id"] = "C999"
    facts[1]["product_id"] = "P777"
    build.write("fact_sales", facts, DAY)
    report = run_checks(lake, DAY)
    got = {r.rule_id: r for r in report.results}
    customer = got["fact_sales.referential_integrity.customer_id"]
    assert (customer.status, customer.value, customer.severity) == (Status.FAIL, 1, "critical")
    assert got["fact_sales.referential_integrity.product_id"].value == 1
    assert not report.passed


def test_conservation_holds_and_fails_on_each_kind_of_gap(build, lake):
    build.clean_day(DAY)
    assert results(lake)["transactions.conservation"].status is Status.PASS

    entry = build._entry(Job.TRANSACTION_ETL, "transactions", DAY, 10) | {"rows_in": 13, "rows_quarantined": 2}
    build.summary(Job.TRANSACTION_ETL, DAY, [entry])
    build.quarantine("transactions", DAY, {"bad_number": 1, "duplicate_key": 1})
    gap = results(lake)["transactions.conservation"]
    assert (gap.status, gap.value, gap.severity) == (Status.FAIL, 1, "critical")
    assert gap.detail == "in 13 = out 10 + quarantined 2; 1 rows unaccounted for"

    entry |= {"rows_in": 12, "rows_out": 11, "rows_quarantined": 1}
    build.summary(Job.TRANSACTION_ETL, DAY, [entry])
    lost = results(lake)["transactions.conservation"]
    assert lost.value == 0
    assert "processed partition holds 10 rows, summary says 11" in lost.detail
    assert "quarantine holds 2 rows, summary says 1" in lost.detail


def test_a_missing_run_summary_is_critical(build, lake):
    build.clean_day(DAY)
    # The snapshot names this run as computing clickstream for the date, but its journal has
    # no summary of it: nothing proves the day's rows are all accounted for.
    build.drop_summary(Job.CLICKSTREAM_AGGREGATION, DAY)
    report = run_checks(lake, DAY)
    got = {r.rule_id: r for r in report.results}
    missing = got["clickstream.conservation"]
    assert (missing.status, missing.severity) == (Status.FAIL, "critical")
    assert missing.detail == f"no clickstream entry in the run summary of clickstream_aggregation for {DAY}"
    assert got["clickstream.quarantine_rate"].status is Status.SKIP
    assert [r.rule_id for r in report.critical_failures] == ["clickstream.conservation"]
    assert not report.passed


def test_a_date_no_run_computed_has_no_summary(build, lake):
    build.clean_day(DAY)
    build.write("transactions", [], "2025-01-05")  # a partition, but no run computed the date
    got = results(lake, "2025-01-05")["transactions.conservation"]
    assert (got.status, got.severity) == (Status.FAIL, "critical")
    assert got.detail == "no run summary of transaction_etl for 2025-01-05"


def test_quarantine_rate_and_the_quarantine_summary(build, lake):
    build.clean_day(DAY, n=90)
    entry = build._entry(Job.TRANSACTION_ETL, "transactions", DAY, 90)
    entry |= {"rows_in": 100, "rows_quarantined": 10, "quarantined_by_reason": {"bad_date": 7, "bad_number": 3}}
    build.summary(Job.TRANSACTION_ETL, DAY, [entry])
    build.quarantine("transactions", DAY, {"bad_date": 7, "bad_number": 3})
    report = run_checks(lake, DAY)
    got = {r.rule_id: r for r in report.results}
    rate = got["transactions.quarantine_rate"]
    assert (rate.status, rate.value, rate.severity) == (Status.FAIL, 0.1, "warning")
    assert rate.detail == "10 of 100 rows (10.00%): bad_date=7, bad_number=3"
    assert got["transactions.conservation"].status is Status.PASS
    assert report.facts.quarantined == {"transactions": {"bad_date": 7, "bad_number": 3}}
    assert report.passed


def test_quarantine_rate_is_not_judged_on_a_handful_of_rows(build, lake):
    build.clean_day(DAY)
    entry = build._entry(Job.PRODUCT_ENRICHMENT, "products", DAY, 4) | {"rows_in": 5, "rows_quarantined": 1}
    build.summary(Job.PRODUCT_ENRICHMENT, DAY, [entry, build._entry(Job.PRODUCT_ENRICHMENT, "reviews", DAY, 2)])
    build.quarantine("products", DAY, {"missing_required": 1})
    got = results(lake)
    rate = got["products.quarantine_rate"]
    assert (rate.status, rate.value) == (Status.SKIP, 0.2)
    assert rate.detail == "1 of 5 rows (20.00%): missing_required=1; fewer than 20 rows in, not judged"
    assert got["products.conservation"].status is Status.PASS


def test_schema_drift_from_validation_reports(build, lake):
    build.clean_day(DAY)
    build.validation("transactions", DAY, "transactions.csv", ["coupon_code"])
    build.validation("reviews", DAY, "reviews.csv", [])
    build.validation("clickstream", DAY, "clickstream.json", [], missing=["customer_id"])
    got = results(lake)
    drift = got["transactions.schema_drift"]
    assert (drift.status, drift.severity, drift.value) == (Status.FAIL, "warning", 1)
    assert drift.detail == "schema drift in transactions.csv: extra coupon_code"
    assert got["clickstream.schema_drift"].detail == "schema drift in clickstream.json: missing customer_id"
    assert got["reviews.schema_drift"].status is Status.PASS


def test_curated_checks_skip_before_the_master_merge_has_run(build, lake):
    build.clean_day(DAY, curated=False)
    report = run_checks(lake, DAY)
    got = {r.rule_id: r for r in report.results}
    assert got["fact_sales.unique.transaction_id"].status is Status.SKIP
    assert got["fact_sales.unique.transaction_id"].detail == f"no fact_sales rows for {DAY}"
    assert got["dim_products.not_null.product_id"].status is Status.SKIP
    assert got["daily_kpis.row_count"].status is Status.SKIP
    assert report.passed


def test_a_table_that_does_not_match_its_schema_fails_its_checks_only(build, lake):
    txns = build.clean_day(DAY)["transactions"]
    build.write("transactions", txns, DAY, drop=("status",))
    report = run_checks(lake, DAY)
    got = {r.rule_id: r for r in report.results}
    broken = got["transactions.not_null.customer_id"]
    assert broken.status is Status.FAIL
    assert broken.detail.startswith("could not evaluate: table transactions at")
    assert got["transactions.freshness"].status is Status.FAIL
    assert got["reviews.not_null.review_id"].status is Status.PASS


@pytest.mark.parametrize(("spike", "status"), [(40, Status.FAIL), (15, Status.PASS), (4, Status.FAIL)])
def test_anomaly_against_the_trailing_seven_day_median(build, lake, days, spike, status):
    history = days("2024-12-28", 8)  # 12-28 .. 01-04; the window of 01-05 is 12-29 .. 01-04
    for n, d in zip([500, 10, 10, 11, 9, 10, 12, 10], history, strict=True):
        build.clean_day(d, n=n, curated=False)
    build.clean_day("2025-01-05", n=spike, curated=False)
    got = results(lake, "2025-01-05")["transactions.anomaly.rows"]
    assert (got.status, got.value, got.severity) == (status, spike, "warning")
    # 12-28's 500 rows are outside the window, so the median is 10.
    assert f"vs median 10 of 7 days: factor {max(spike / 10, 10 / spike):.2f}" in got.detail


def test_anomaly_skips_without_enough_history(build, lake, days):
    for d in days("2025-01-02", 3):
        build.clean_day(d, curated=False)
    got = results(lake, "2025-01-04")["transactions.anomaly.rows"]
    assert got.status is Status.SKIP
    assert got.detail == "2 previous days with data; 3 needed"
