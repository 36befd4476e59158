"""The rules are data derived from the schemas: check the derivation and the hand-written set."""

from __future__ import annotations

from collections import Counter

from ecomlake.contract import Dataset, Table
from ecomlake.dq.rules import RULES, Kind, Severity, job_for_dataset, schema_rules
from ecomlake.schemas import PROCESSED_TRANSACTIONS, TABLES

BY_ID = {r.id: r for r in RULES}


def test_rule_ids_are_unique_and_every_kind_is_used():
    assert len(BY_ID) == len(RULES)
    assert set(Counter(r.kind for r in RULES)) == set(Kind)


def test_every_required_column_of_every_table_has_a_critical_not_null_rule():
    for schema in TABLES.values():
        for column in schema.required_columns:
            rule = BY_ID[f"{schema.name}.not_null.{column}"]
            assert rule.severity is Severity.CRITICAL
            assert rule.params["max_null_rate"] == 0.0
    # Nullable columns get none: anonymous clickstream visitors have no customer_id.
    assert "clickstream.not_null.customer_id" not in BY_ID


def test_primary_keys_enums_and_ranges_come_from_the_schema():
    assert BY_ID["transactions.unique.transaction_id"].params["columns"] == ("transaction_id",)
    assert BY_ID["clickstream.unique.session_id+timestamp+event_type"].kind is Kind.UNIQUE
    assert BY_ID["products.unique.product_id+date"].params["columns"] == ("product_id", "date")
    assert BY_ID["transactions.enum.status"].params["values"] == ("completed", "returned", "refunded")
    rating = BY_ID["reviews.range.rating"]
    assert (rating.params["min"], rating.params["max"]) == (1, 5)
    quantity = BY_ID["transactions.range.quantity"]
    assert (quantity.params["min"], quantity.params["max"]) == (1, 1000)


def test_schema_rules_count_matches_the_schema():
    rules = schema_rules(PROCESSED_TRANSACTIONS)
    kinds = Counter(r.kind for r in rules)
    assert kinds[Kind.NOT_NULL] == len(PROCESSED_TRANSACTIONS.required_columns) == 11
    assert kinds[Kind.UNIQUE] == 1
    assert kinds[Kind.ENUM] == 1
    assert kinds[Kind.RANGE] == 3  # quantity, price, total_amount


def test_hand_written_rules_and_their_severities():
    assert BY_ID["transactions.freshness"].severity is Severity.CRITICAL
    assert BY_ID["reviews.freshness"].severity is Severity.WARNING
    assert BY_ID["daily_kpis.row_count"].params == {"min": 1, "max": 1}
    for dataset in Dataset:
        rule = BY_ID[f"{dataset}.conservation"]
        assert rule.severity is Severity.CRITICAL
        assert rule.params["job"] == job_for_dataset(dataset)
    anomalies = [r for r in RULES if r.kind is Kind.ANOMALY]
    assert {r.severity for r in anomalies} == {Severity.WARNING}
    assert all(r.params["window_days"] == 7 for r in anomalies)
    assert {r.table for r in anomalies} == {Table.TRANSACTIONS, Table.CLICKSTREAM, Table.DAILY_KPIS}


def test_references_carry_the_orphan_tiers_or_none():
    # Catalog references: a few orphans warn, more than 5 % stop the run.
    for rule_id, parent in [
        ("transactions.referential_integrity.product_id", "products"),
        ("reviews.referential_integrity.product_id", "products"),
        ("fact_sales.referential_integrity.product_id", "dim_products"),
    ]:
        rule = BY_ID[rule_id]
        assert rule.severity is Severity.CRITICAL
        assert (rule.params["ref_table"], rule.params["warning_above"], rule.params["critical_above"]) == (
            parent,
            0.0,
            0.05,
        )
    assert BY_ID["transactions.referential_integrity.product_id"].params["ref_dates"] == "up_to"
    # Rows the merge lost: critical at any rate.
    for rule_id in ("fact_sales.referential_integrity.customer_id", "fct_sessions.referential_integrity.session_id"):
        params = BY_ID[rule_id].params
        assert (params["warning_above"], params["critical_above"]) == (0.0, 0.0)
    assert BY_ID["fct_sessions.referential_integrity.session_id"].params["ref_dates"] == "same"


def test_quarantine_rate_and_volume_rules_carry_the_default_tiers():
    for dataset in Dataset:
        rule = BY_ID[f"{dataset}.quarantine_rate"]
        assert rule.severity is Severity.CRITICAL
        assert rule.params == {
            "job": job_for_dataset(dataset),
            "warning_above": 0.05,
            "critical_above": 0.2,
            "min_rows": 20,
        }
    assert BY_ID["transactions.quarantine_rate"].description == (
        "quarantined share of the day's rows: warning above 5%, critical above 20% (judged from 20 rows in)"
    )
    volumes = {r.id: r for r in RULES if r.kind is Kind.VOLUME}
    assert set(volumes) == {"transactions.volume", "clickstream.volume"}
    assert volumes["transactions.volume"].params == {
        "expr": "count(*)",
        "warning_below": 0.5,
        "critical_below": 0.1,
        "window_days": 7,
        "min_history": 3,
    }


def test_job_for_dataset_follows_the_contract():
    assert job_for_dataset("reviews") == "product_enrichment"
    assert job_for_dataset("clickstream") == "clickstream_aggregation"


def test_rules_serialise_to_plain_json_values():
    doc = BY_ID["transactions.range.price"].to_dict()
    assert doc == {
        "id": "transactions.range.price",
        "table": "transactions",
        "kind": "range",
        "severity": "critical",
        "params": {"column": "price", "min": "0.01", "max": "99999999.99"},
        "description": "price in [0.01, 99999999.99]",
    }
