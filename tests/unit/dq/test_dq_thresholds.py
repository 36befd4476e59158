"""Severity that matches harm: rates and volumes judged against two tiers, set per stack."""

from __future__ import annotations

import json

import pytest

from ecomlake.cli import run
from ecomlake.contract import Job
from ecomlake.dq import run_checks
from ecomlake.dq.checks import LakeFacts, Status, judge_quarantine_rate, judge_referential, judge_volume
from ecomlake.dq.rules import DEFAULT_THRESHOLDS, RULES, Thresholds, configured_rules, default_rules
from ecomlake.exceptions import InvalidArgumentError

DAY = "2025-01-04"
BY_ID = {r.id: r for r in RULES}
ENV = "ECOMLAKE_DQ_THRESHOLDS"
OUT_OF_RANGE = "DQ threshold orphan_critical_above must be a number from 0 to 1, got"


def _facts(rows_in: int, quarantined: int) -> LakeFacts:
    summary = {"rows_in": rows_in, "rows_out": rows_in - quarantined, "rows_quarantined": quarantined}
    return LakeFacts(summaries={"transactions": summary}, summary_jobs={"transaction_etl"})


@pytest.mark.parametrize(
    ("quarantined", "status", "severity"),
    [
        (4, Status.PASS, "critical"),  # 4 %: under the 5 % warning tier (the rule's own severity is kept)
        (5, Status.PASS, "critical"),  # exactly 5 %: "above" is strict
        (10, Status.FAIL, "warning"),  # 10 %: past 5 %, under 20 %
        (30, Status.FAIL, "critical"),  # 30 %: past 20 %, the run stops
    ],
)
def test_quarantine_rate_tiers_with_the_defaults(quarantined, status, severity):
    got = judge_quarantine_rate(BY_ID["transactions.quarantine_rate"], _facts(100, quarantined), DAY)
    assert (got.status, got.severity, got.value) == (status, severity, quarantined / 100)
    assert got.expected == "share quarantined: warning above 5.00%, critical above 20.00%"
    assert got.critical is (severity == "critical" and status is Status.FAIL)


@pytest.mark.parametrize(
    ("orphans", "status", "severity"),
    [
        (0, Status.PASS, "critical"),
        (3, Status.FAIL, "warning"),
        (5, Status.FAIL, "warning"),  # exactly 5 %: still a warning
        (6, Status.FAIL, "critical"),
    ],
)
def test_orphan_rate_tiers_on_catalog_references(orphans, status, severity):
    rule = BY_ID["transactions.referential_integrity.product_id"]
    got = judge_referential(rule, 100, orphans, min(orphans, 2), DAY)
    assert (got.status, got.severity, got.value) == (status, severity, orphans)


def test_a_lost_customer_is_critical_at_any_rate():
    rule = BY_ID["fact_sales.referential_integrity.customer_id"]
    got = judge_referential(rule, 10_000, 1, 1, DAY)
    assert (got.status, got.severity) == (Status.FAIL, "critical")
    assert got.expected == "every key found"
    assert got.detail == "1 of 10000 rows (0.01%, 1 distinct customer_id) not in dim_customers.customer_id"


@pytest.mark.parametrize(
    ("today", "status", "severity", "share"),
    [
        (60, Status.PASS, "critical", "60%"),
        (50, Status.PASS, "critical", "50%"),  # exactly half: "below" is strict
        (40, Status.FAIL, "warning", "40%"),
        (9, Status.FAIL, "critical", "9%"),
        (0, Status.FAIL, "critical", "0%"),
    ],
)
def test_volume_collapse_against_the_trailing_median(today, status, severity, share):
    history = {"2025-01-01": 90.0, "2025-01-02": 100.0, "2025-01-03": 120.0}
    got = judge_volume(BY_ID["transactions.volume"], {**history, DAY: float(today)}, DAY)
    assert (got.status, got.severity, got.value) == (status, severity, today)
    assert got.detail == f"{today} rows vs median 100 of 3 days ({share} of it)"
    assert got.expected == "rows vs median of previous 7 days: warning below 50% of it, critical below 10% of it"


def test_volume_skips_without_history_and_ignores_empty_days():
    rule = BY_ID["clickstream.volume"]
    young = judge_volume(rule, {"2025-01-02": 100.0, "2025-01-03": 0.0, DAY: 5.0}, DAY)
    assert (young.status, young.detail) == (Status.SKIP, "1 previous days with data; 3 needed")


# --------------------------------------------------------------------------- thresholds as data


def test_thresholds_default_when_unset_or_blank():
    assert Thresholds.from_env({}) == DEFAULT_THRESHOLDS
    assert Thresholds.from_env({ENV: "  "}) == DEFAULT_THRESHOLDS
    assert DEFAULT_THRESHOLDS.to_dict() == {
        "quarantine_warning_above": 0.05,
        "quarantine_critical_above": 0.2,
        "orphan_warning_above": 0.0,
        "orphan_critical_above": 0.05,
        "volume_warning_below": 0.5,
        "volume_critical_below": 0.1,
    }


def test_thresholds_from_the_environment_set_the_rules():
    chosen = {"quarantine_critical_above": 0.08, "orphan_critical_above": 0, "volume_warning_below": 1}
    environ = {ENV: json.dumps(chosen)}
    rules = {r.id: r for r in configured_rules(environ)}
    assert rules["reviews.quarantine_rate"].params["critical_above"] == 0.08
    assert rules["reviews.quarantine_rate"].params["warning_above"] == 0.05  # the rest keep their defaults
    assert rules["fact_sales.referential_integrity.product_id"].params["critical_above"] == 0.0
    assert rules["clickstream.volume"].params["warning_below"] == 1.0
    assert configured_rules({}) is RULES


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "ECOMLAKE_DQ_THRESHOLDS is not valid JSON: Expecting property name enclosed in double quotes"),
        ("[0.1]", "ECOMLAKE_DQ_THRESHOLDS must be a JSON object"),
        (
            '{"quarantine_warn": 0.1}',
            "unknown DQ thresholds ['quarantine_warn']; known: orphan_critical_above, orphan_warning_above, "
            "quarantine_critical_above, quarantine_warning_above, volume_critical_below, volume_warning_below",
        ),
        (
            '{"quarantine_warning_above": 0.3}',
            "DQ threshold quarantine_warning_above must not exceed quarantine_critical_above",
        ),
        ('{"volume_critical_below": 0.6}', "DQ threshold volume_critical_below must not exceed volume_warning_below"),
        ('{"orphan_critical_above": 5}', f"{OUT_OF_RANGE} 5.0"),
        ('{"orphan_critical_above": "5%"}', f"{OUT_OF_RANGE} '5%'"),
        ('{"orphan_critical_above": true}', f"{OUT_OF_RANGE} True"),
    ],
)
def test_bad_thresholds_are_one_clear_error(text, message):
    with pytest.raises(InvalidArgumentError) as err:
        Thresholds.from_env({ENV: text})
    assert str(err.value).startswith(message)


def test_default_rules_with_other_thresholds_keep_the_same_ids():
    strict = default_rules(Thresholds(orphan_critical_above=0.0))
    assert [r.id for r in strict] == [r.id for r in RULES]


# --------------------------------------------------------------------------- on a lake


def _quarantine_day(build, quarantined: int) -> None:
    build.clean_day(DAY, n=100 - quarantined)
    entry = build._entry(Job.TRANSACTION_ETL, "transactions", DAY, 100 - quarantined)
    entry |= {"rows_in": 100, "rows_quarantined": quarantined, "quarantined_by_reason": {"bad_number": quarantined}}
    build.summary(Job.TRANSACTION_ETL, DAY, [entry])
    build.quarantine("transactions", DAY, {"bad_number": quarantined})


@pytest.mark.parametrize(
    ("quarantined", "status", "severity", "passed"),
    [(4, Status.PASS, "critical", True), (10, Status.FAIL, "warning", True), (30, Status.FAIL, "critical", False)],
)
def test_a_quarantined_share_warns_then_stops_the_run(build, lake, quarantined, status, severity, passed):
    _quarantine_day(build, quarantined)
    report = run_checks(lake, DAY)
    rate = next(r for r in report.results if r.rule_id == "transactions.quarantine_rate")
    assert (rate.status, rate.severity) == (status, severity)
    assert rate.detail.startswith(f"{quarantined} of 100 rows ({quarantined}.00%): bad_number={quarantined}")
    assert report.passed is passed


def test_the_stack_thresholds_reach_the_checks(build, lake, monkeypatch):
    _quarantine_day(build, 10)
    monkeypatch.setenv(ENV, '{"quarantine_critical_above": 0.08}')
    report = run_checks(lake, DAY)
    assert [r.rule_id for r in report.critical_failures] == ["transactions.quarantine_rate"]
    assert report.critical_failures[0].expected == "share quarantined: warning above 5.00%, critical above 8.00%"


@pytest.mark.parametrize(
    ("today", "status", "severity"),
    [(12, Status.PASS, "critical"), (8, Status.FAIL, "warning"), (1, Status.FAIL, "critical")],
)
def test_a_volume_collapse_on_a_lake(build, lake, days, today, status, severity):
    for d in days("2024-12-28", 7):
        build.clean_day(d, n=20, curated=False)
    build.clean_day(DAY, n=today, curated=False)
    got = next(r for r in run_checks(lake, DAY).results if r.rule_id == "transactions.volume")
    assert (got.status, got.severity, got.value) == (status, severity, today)


def test_the_cli_rejects_bad_thresholds_in_one_line(build, lake, capsys, monkeypatch):
    build.clean_day(DAY)
    monkeypatch.setenv(ENV, '{"orphan_warning_above": 0.5}')
    assert run(["dq", "--date", DAY, "--lake", str(lake)]) == 2
    err = capsys.readouterr().err
    assert err == "error: DQ threshold orphan_warning_above must not exceed orphan_critical_above\n"
