"""The cloud step copies only what the rules read -- and that is enough to reach the same verdicts."""

from __future__ import annotations

from ecomlake.dq import run_checks
from ecomlake.dq.inputs import Input, inputs_for, stage
from ecomlake.dq.rules import RULES
from ecomlake.storage import LocalStorage


def test_input_filters_partitions_up_to_a_date():
    products = Input("processed/products/", up_to="2025-01-04")
    assert products.wants("processed/products/date=2025-01-04/part-0.parquet")
    assert not products.wants("processed/products/date=2025-01-05/part-0.parquet")
    assert not products.wants("processed/transactions/date=2025-01-01/part-0.parquet")


def test_inputs_follow_the_rules():
    wanted = {i.prefix: i.up_to for i in inputs_for(RULES, "2025-01-10")}
    # The date's partitions, the 7-day anomaly window, snapshots up to the date, dims whole.
    assert "processed/transactions/date=2025-01-03/" in wanted
    assert "processed/transactions/date=2025-01-02/" not in wanted
    assert "processed/reviews/date=2025-01-09/" not in wanted  # no anomaly rule on reviews
    assert wanted["processed/products/"] == "2025-01-10"
    assert "processed/sessions/" not in wanted  # fct_sessions -> sessions compares the same date
    assert "curated/dim_products/" in wanted
    assert "_reports/etl/transaction_etl/date=2025-01-10.json" in wanted
    assert "quarantine/reviews/date=2025-01-10/" in wanted
    assert "_reports/validation/clickstream/date=2025-01-10/" in wanted


def test_a_staged_copy_gives_the_same_report_as_the_whole_lake(build, lake, days, tmp_path):
    all_days = days("2024-12-20", 20)
    for i, d in enumerate(all_days):
        build.clean_day(d, n=10 + i % 3)
    day = all_days[-2]
    txns = build.clean_day(day, n=40)["transactions"]
    txns[0]["product_id"] = "P999"
    build.write("transactions", txns, day)
    build.quarantine("transactions", day, {"bad_date": 1})
    build.validation("transactions", day, "transactions.csv", ["coupon"])

    copy = tmp_path / "staged"
    copied = stage(LocalStorage(lake), inputs_for(RULES, day), copy)

    assert f"processed/transactions/date={all_days[-1]}/part-0.parquet" not in copied
    assert f"processed/transactions/date={all_days[0]}/part-0.parquet" not in copied
    assert f"processed/products/date={all_days[0]}/part-0.parquet" in copied
    whole = {r.rule_id: (r.status, r.value, r.detail) for r in run_checks(lake, day).results}
    staged = {r.rule_id: (r.status, r.value, r.detail) for r in run_checks(copy, day).results}
    assert staged == whole
    assert whole["transactions.anomaly.rows"][0] == "fail"
    assert whole["transactions.referential_integrity.product_id"][1] == 1
    assert whole["transactions.conservation"][0] == "fail"
