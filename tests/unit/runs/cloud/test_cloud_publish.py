"""Write, audit, publish in the cloud: the plan and publish steps on moto S3, switching a moto Glue catalog."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from cloud_lake import BUCKETS, DATABASE, CloudLake
from moto import mock_aws

from ecomlake.contract import Zone
from ecomlake.exceptions import DataQualityError, InvalidArgumentError
from ecomlake.runs.cloud_steps import RunNotPlannedError, plan_step, publish_step, sync_step
from ecomlake.runs.glue_catalog import CatalogSyncError, lagging_tables, sync_catalog
from ecomlake.runs.publish import publish_run
from ecomlake.snapshots import PublishConflictError, load_published
from handlers import _aws, plan, publish
from tests.unit.lambda_support import LambdaContext, log_lines

D1, D2, D3 = "2025-01-01", "2025-01-02", "2025-01-03"
TXN, FACT, QTXN = "processed/transactions", "curated/fact_sales", "quarantine/transactions"
DIM = "curated/dim_customers"
PROCESSED, CURATED = BUCKETS[Zone.PROCESSED], BUCKETS[Zone.CURATED]
CATALOG_TABLES = 12


@pytest.fixture
def cloud(monkeypatch: pytest.MonkeyPatch) -> Iterator[CloudLake]:
    _aws.reset_clients()
    with mock_aws():
        made = CloudLake()
        for name, value in made.environment().items():
            monkeypatch.setenv(name, value)
        yield made
    _aws.reset_clients()


def txn(run: str, day: str) -> str:
    return f"s3://{PROCESSED}/processed/transactions/date={day}/run={run}/"


def fact(run: str, day: str) -> str:
    return f"s3://{CURATED}/curated/fact_sales/date={day}/run={run}/"


def run_one(cloud: CloudLake) -> dict[str, Any]:
    """run-1: two dates of transactions and sales, the customer dimension; audited, published."""
    plan_step(cloud.storage, cloud.glue, DATABASE, "run-1", [D2, D1])
    cloud.write_run(
        "run-1",
        {TXN: {D1: True, D2: True}, FACT: {D1: True, D2: True}, QTXN: {D1: True}},
        whole=[DIM],
    )
    cloud.audit("run-1", passed=True, dates=[D1, D2])
    return publish_step(cloud.storage, cloud.glue, DATABASE, "run-1")


def test_plan_sums_raw_bytes_from_s3_and_stamps_an_empty_catalog(cloud: CloudLake):
    cloud.land("transactions", D1, b"x" * 1000)
    cloud.land("products", D1, b"y" * 234)
    cloud.land("transactions", D3, b"z" * 50)  # another date: not this run's
    result = plan_step(cloud.storage, cloud.glue, DATABASE, "run-1", [D1])
    assert (result["base_seq"], result["dates"], result["raw_bytes"]) == (0, [D1], 1234)
    written = json.loads(cloud.storage.read_bytes("_runs/run-1/plan.json"))
    assert written["dates_csv"] == D1
    # Nothing published yet: every table is stamped with snapshot 0 and shows nothing.
    assert result["catalog"]["caught_up"] is True
    assert {cloud.shown(t) for t in ("transactions", "dim_customers", "daily_kpis")} == {"0"}
    assert cloud.locations("transactions") == {}
    assert cloud.table("dim_customers")["StorageDescriptor"]["Location"] == (
        f"s3://{CURATED}/curated/dim_customers/_unpublished/"
    )
    # A second plan finds the catalog current and changes nothing.
    assert plan_step(cloud.storage, cloud.glue, DATABASE, "run-2", [D1])["catalog"] == {
        "snapshot": 0,
        "caught_up": False,
    }


def test_publication_points_partitions_and_dimensions_at_the_new_versions(cloud: CloudLake):
    result = run_one(cloud)

    assert (result["snapshot"], result["run_id"], result["already_published"]) == (1, "run-1", False)
    assert cloud.locations("transactions") == {D1: txn("run-1", D1), D2: txn("run-1", D2)}
    assert cloud.locations("fact_sales") == {D1: fact("run-1", D1), D2: fact("run-1", D2)}
    assert cloud.locations("clickstream") == {}  # nothing of it published
    dim = cloud.table("dim_customers")
    assert dim["StorageDescriptor"]["Location"] == f"s3://{CURATED}/curated/dim_customers/run=run-1/"
    assert dim["Parameters"]["ecomlake.snapshot"] == "1"
    assert dim["Parameters"]["ecomlake.published_by"] == "run-1"
    assert dim["Parameters"]["classification"] == "parquet"  # the declared parameters stay
    assert {cloud.shown(t) for t in ("transactions", "clickstream", "product_activity")} == {"1"}
    # A partition carries the table's format and columns, and says which run's version it is.
    (first, _) = cloud.partitions("transactions")
    table_sd = cloud.table("transactions")["StorageDescriptor"]
    assert first["StorageDescriptor"]["Columns"] == table_sd["Columns"]
    assert first["StorageDescriptor"]["SerdeInfo"] == table_sd["SerdeInfo"]
    assert first["StorageDescriptor"]["InputFormat"] == table_sd["InputFormat"]
    assert first["Parameters"] == {"ecomlake.run_id": "run-1"}
    assert result["catalog"]["partitions_created"] == 4
    assert result["catalog"]["tables"]["dim_customers"]["location"].endswith("/run=run-1/")
    # The quarantined rows are versioned and published, but no catalog table reads them.
    assert load_published(cloud.storage).version(QTXN, D1) == "run-1"


def test_the_next_publication_switches_exactly_the_partitions_the_run_changed(cloud: CloudLake):
    run_one(cloud)
    plan_step(cloud.storage, cloud.glue, DATABASE, "run-2", [D2, D3])
    # run-2 recomputes D2, adds D3 and finds no rows left for D1 (its partition disappears).
    cloud.write_run("run-2", {TXN: {D1: False, D2: True, D3: True}, FACT: {D2: True}})
    cloud.audit("run-2", passed=True, dates=[D1, D2, D3])
    result = publish_step(cloud.storage, cloud.glue, DATABASE, "run-2")

    assert result["snapshot"] == 2
    assert cloud.locations("transactions") == {D2: txn("run-2", D2), D3: txn("run-2", D3)}
    assert cloud.locations("fact_sales") == {D1: fact("run-1", D1), D2: fact("run-2", D2)}
    assert result["catalog"]["tables"]["transactions"] == {"created": 1, "updated": 1, "deleted": 1}
    assert result["catalog"]["tables"]["fact_sales"] == {"created": 0, "updated": 1, "deleted": 0}
    assert "clickstream" not in result["catalog"]["tables"]  # stamped, but nothing moved
    assert cloud.table("dim_customers")["StorageDescriptor"]["Location"].endswith("/run=run-1/")  # not rewritten
    # Garbage collection keeps the previous snapshot's versions (queries may still read them)...
    assert cloud.keys(PROCESSED, "processed/transactions/date=2025-01-02/") == [
        "processed/transactions/date=2025-01-02/run=run-1/part-0.parquet",
        "processed/transactions/date=2025-01-02/run=run-2/part-0.parquet",
    ]
    # ... and the next publication deletes what only snapshot 1 named.
    plan_step(cloud.storage, cloud.glue, DATABASE, "run-3", [D3])
    cloud.write_run("run-3", {TXN: {D3: True}})
    cloud.audit("run-3", passed=True, dates=[D3])
    third = publish_step(cloud.storage, cloud.glue, DATABASE, "run-3")
    assert cloud.keys(PROCESSED, "processed/transactions/date=2025-01-02/") == [
        "processed/transactions/date=2025-01-02/run=run-2/part-0.parquet"
    ]
    assert cloud.keys(PROCESSED, "processed/transactions/date=2025-01-01/") == []
    # Named only by snapshot 1: run-1's transactions of D1 and D2, and its sales of D2.
    assert third["garbage"]["versions_deleted"] == 3
    assert cloud.keys(CURATED, "curated/fact_sales/") == [
        "curated/fact_sales/date=2025-01-01/run=run-1/part-0.parquet",
        "curated/fact_sales/date=2025-01-02/run=run-2/part-0.parquet",
    ]
    assert cloud.locations("transactions") == {D2: txn("run-2", D2), D3: txn("run-3", D3)}


def test_a_failed_audit_changes_nothing_readers_see(cloud: CloudLake):
    run_one(cloud)
    before = {t: (cloud.table(t)["Parameters"], cloud.partitions(t)) for t in ("transactions", "fact_sales")}
    dim_before = cloud.table("dim_customers")["StorageDescriptor"]["Location"]
    current_before = cloud.storage.read_bytes("_catalog/current.json")

    plan_step(cloud.storage, cloud.glue, DATABASE, "run-bad", [D2])
    cloud.write_run("run-bad", {TXN: {D2: True}, FACT: {D2: True}}, whole=[DIM])
    cloud.audit("run-bad", passed=False, dates=[D2])
    with pytest.raises(DataQualityError, match=r"1 critical data-quality check\(s\) failed, nothing was published"):
        publish_step(cloud.storage, cloud.glue, DATABASE, "run-bad")

    assert {t: (cloud.table(t)["Parameters"], cloud.partitions(t)) for t in before} == before
    assert cloud.table("dim_customers")["StorageDescriptor"]["Location"] == dim_before
    assert cloud.storage.read_bytes("_catalog/current.json") == current_before
    assert not cloud.storage.exists("_catalog/history/0000000002.json")
    # The unpublished versions are invisible (no partition names them); the next publication collects them.
    assert "processed/transactions/date=2025-01-02/run=run-bad/part-0.parquet" in cloud.keys(PROCESSED)


def test_an_unaudited_run_is_never_published(cloud: CloudLake):
    plan_step(cloud.storage, cloud.glue, DATABASE, "run-1", [D1])
    cloud.write_run("run-1", {TXN: {D1: True}})
    with pytest.raises(DataQualityError, match="no audit verdict"):
        publish_step(cloud.storage, cloud.glue, DATABASE, "run-1")
    assert cloud.locations("transactions") == {}


def test_a_run_without_a_plan_is_refused(cloud: CloudLake):
    with pytest.raises(RunNotPlannedError, match="run-x has no plan"):
        publish_step(cloud.storage, cloud.glue, DATABASE, "run-x")


def test_a_retried_publish_after_the_commit_does_not_publish_twice(cloud: CloudLake):
    run_one(cloud)
    again = publish_step(cloud.storage, cloud.glue, DATABASE, "run-1")
    assert (again["snapshot"], again["already_published"]) == (1, True)
    assert cloud.storage.list("_catalog/history/") == ["_catalog/history/0000000001.json"]
    assert again["catalog"]["tables_changed"] == 0


def test_a_publish_that_died_after_the_commit_is_finished_by_the_next_plan(cloud: CloudLake):
    run_one(cloud)
    plan_step(cloud.storage, cloud.glue, DATABASE, "run-2", [D3])
    cloud.write_run("run-2", {TXN: {D3: True}})
    cloud.audit("run-2", passed=True, dates=[D3])
    publish_run(cloud.storage, "run-2", 1)  # committed; the function died before the catalog switch
    assert len(lagging_tables(cloud.glue, DATABASE, load_published(cloud.storage))) == CATALOG_TABLES
    assert D3 not in cloud.locations("transactions")

    result = plan_step(cloud.storage, cloud.glue, DATABASE, "run-3", [D3])

    assert result["base_seq"] == 2
    assert result["catalog"]["caught_up"] is True
    assert cloud.locations("transactions")[D3] == txn("run-2", D3)
    assert lagging_tables(cloud.glue, DATABASE, load_published(cloud.storage)) == []


def test_a_run_that_lost_the_race_publishes_nothing(cloud: CloudLake):
    for run in ("run-a", "run-b"):
        plan_step(cloud.storage, cloud.glue, DATABASE, run, [D1])
        cloud.write_run(run, {TXN: {D1: True}})
        cloud.audit(run, passed=True, dates=[D1])
    publish_step(cloud.storage, cloud.glue, DATABASE, "run-a")
    with pytest.raises(PublishConflictError, match="planned on snapshot 0 but snapshot 1 is published"):
        publish_step(cloud.storage, cloud.glue, DATABASE, "run-b")
    assert cloud.locations("transactions") == {D1: txn("run-a", D1)}


def test_a_deploy_that_rewrote_the_tables_is_synced_again(cloud: CloudLake):
    run_one(cloud)
    # pulumi up after a schema change: every table as declared (no stamp, dimensions unpublished),
    # with a new column the existing partitions do not have yet.
    for name in ("transactions", "dim_customers"):
        declared = cloud.declared(name)
        declared["StorageDescriptor"]["Columns"].append({"Name": "channel", "Type": "string"})
        cloud.glue.update_table(DatabaseName=DATABASE, TableInput=declared)
    assert cloud.table("dim_customers")["StorageDescriptor"]["Location"].endswith("/_unpublished/")

    synced = publish.handler({"action": "sync_catalog"}, LambdaContext(function_name="ecomlake-test-publish"))

    assert synced["snapshot"] == 1
    assert cloud.table("dim_customers")["StorageDescriptor"]["Location"].endswith("/run=run-1/")
    assert {cloud.shown(t) for t in ("transactions", "dim_customers")} == {"1"}
    # The partitions took the new column: Athena reads them with the table's schema.
    assert synced["tables"]["transactions"] == {"created": 0, "updated": 2, "deleted": 0}
    for partition in cloud.partitions("transactions"):
        assert partition["StorageDescriptor"]["Columns"][-1] == {"Name": "channel", "Type": "string"}
    assert sync_step(cloud.storage, cloud.glue, DATABASE)["tables_changed"] == 0  # idempotent


def test_a_table_showing_a_newer_snapshot_never_moves_back(cloud: CloudLake):
    run_one(cloud)
    newer = cloud.table("fact_sales")
    newer_input = {k: newer[k] for k in ("Name", "StorageDescriptor", "PartitionKeys", "TableType", "Parameters")}
    newer_input["Parameters"] = {**newer_input["Parameters"], "ecomlake.snapshot": "7"}
    cloud.glue.update_table(DatabaseName=DATABASE, TableInput=newer_input)
    before = cloud.partitions("fact_sales")
    stale = sync_catalog(cloud.glue, DATABASE, load_published(cloud.storage).without(FACT, D1), cloud.storage.uri)
    assert {t.table: t.skipped for t in stale.tables}["fact_sales"] == "shows snapshot 7, newer than 1"
    assert cloud.partitions("fact_sales") == before


def test_a_catalog_without_the_tables_says_deploy_first(cloud: CloudLake):
    cloud.glue.delete_table(DatabaseName=DATABASE, Name="daily_kpis")
    with pytest.raises(CatalogSyncError, match=r"daily_kpis of ecomlake_test are not in the Glue catalog; deploy"):
        plan_step(cloud.storage, cloud.glue, DATABASE, "run-1", [D1])


# --------------------------------------------------------------------------- the Lambdas


def test_plan_and_publish_handlers_run_a_whole_publication(cloud: CloudLake, capsys):
    context = LambdaContext(function_name="ecomlake-test-plan")
    planned = plan.handler({"dates": [D1], "run_id": "run-1"}, context)
    assert (planned["run_id"], planned["dates"]) == ("run-1", [D1])
    cloud.write_run("run-1", {TXN: {D1: True}}, whole=[DIM])
    cloud.audit("run-1", passed=True, dates=[D1])
    published = publish.handler({"run_id": "run-1"}, context)
    assert (published["snapshot"], published["catalog"]["snapshot"]) == (1, 1)
    assert cloud.locations("transactions") == {D1: txn("run-1", D1)}
    messages = [line["message"] for line in log_lines(capsys.readouterr().out)]
    assert "planned" in messages
    assert "published snapshot 1" in messages


@pytest.mark.parametrize(
    ("handler", "event", "message", "error"),
    [
        (plan.handler, {"run_id": "run-1"}, "non-empty 'dates' list", "InvalidArgumentError"),
        (plan.handler, {"dates": "2025-02-30", "run_id": "run-1"}, "no such calendar day", "InvalidDateError"),
        (plan.handler, ["2025-01-01"], "event must be an object", "InvalidArgumentError"),
        (publish.handler, {"dates": [D1]}, "needs a 'run_id' string", "InvalidArgumentError"),
        (publish.handler, {"run_id": "a/../b"}, "invalid run id", "InvalidArgumentError"),
    ],
)
def test_step_handlers_refuse_a_malformed_payload(cloud: CloudLake, handler, event, message, error, capsys):
    with pytest.raises(InvalidArgumentError, match=message):
        handler(event, LambdaContext())
    (line,) = log_lines(capsys.readouterr().out)
    assert (line["level"], line["error_type"]) == ("ERROR", error)
    assert cloud.storage.list("_runs/") == []


def test_a_refused_publication_is_logged_and_raised(cloud: CloudLake, capsys):
    plan.handler({"dates": [D1], "run_id": "run-1"}, LambdaContext())
    cloud.write_run("run-1", {TXN: {D1: True}})
    cloud.audit("run-1", passed=False, dates=[D1])
    capsys.readouterr()
    with pytest.raises(DataQualityError):
        publish.handler({"run_id": "run-1"}, LambdaContext())
    (line,) = log_lines(capsys.readouterr().out)
    assert line["message"].startswith("run run-1 not published: 1 critical data-quality check(s) failed")
    assert line["error_type"] == "DataQualityError"


def test_a_published_version_deleted_by_hand_is_recomputed_by_the_next_run(cloud: CloudLake):
    run_one(cloud)
    cloud.storage.delete_prefix("processed/transactions/date=2025-01-01/run=run-1/")
    cloud.storage.delete_prefix("curated/dim_customers/run=run-1/")
    result = plan_step(cloud.storage, cloud.glue, DATABASE, "run-2", [D2])
    assert result["dates"] == [D1, D2]
    assert result["repair"] == {TXN: [D1], DIM: ["*"]}
    assert result["full_merge"] is True


def test_s3_storage_sizes_come_from_the_listing_or_one_head(cloud: CloudLake):
    cloud.land("reviews", D1, b"r" * 77)
    key = "raw/reviews/date=2025-01-01/reviews.csv"
    fresh = type(cloud.storage)(BUCKETS)
    assert fresh.size(key) == 77  # HeadObject: never listed by this instance
    assert fresh.list("raw/reviews/") == [key]
    cloud.s3.put_object(Bucket=BUCKETS[Zone.RAW], Key=key, Body=b"r" * 5)
    assert fresh.size(key) == 77  # the size its listing saw (a plan sums one consistent listing)
    assert type(cloud.storage)(BUCKETS).size(key) == 5


def test_the_audit_takes_the_run_id_and_audits_every_date_the_run_wrote(cloud: CloudLake):
    """The audit (the Glue job, or the small-date function) reads its dates from the run's journal in S3."""
    from ecomlake.runs.audit import NothingToAuditError, audit_storage, touched_dates
    from ecomlake.snapshots.journal import run_changes

    cloud.write_run("run-1", {TXN: {D3: True, D1: False}, FACT: {D2: True}}, whole=[DIM])
    assert touched_dates(run_changes(cloud.storage, "run-1")) == [D1, D2, D3]
    with pytest.raises(NothingToAuditError, match=r"run run-2 recorded no output; nothing to audit"):
        audit_storage(cloud.storage, "run-2", lambda *_: pytest.fail("no engine for a run without output"))
    with pytest.raises(InvalidArgumentError, match="invalid run id"):
        run_changes(cloud.storage, "../x")
