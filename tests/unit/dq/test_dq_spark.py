"""One rule set, two engines: the audit on Spark (the Glue job) reaches DuckDB's verdict on every rule and date.

The lake is generated with faults, run through the pipeline for eight dates (published),
then a second run computes two more dates and stops before its audit; its versions are
damaged the way a bad transform would damage them. The audit of that run on DuckDB and
through the Glue entry point on Spark must agree check for check: status, severity,
value, detail and the sample rows.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from ecomlake.contract import PARALLEL_ETL_JOBS, Job, JobArg
from ecomlake.dq.reads import partitions_read
from ecomlake.dq.rules import Thresholds, default_rules
from ecomlake.etl import glue, run_job
from ecomlake.runs.audit import Audit, audit_storage, local_engine
from ecomlake.runs.plan import plan_run
from ecomlake.snapshots import load_published
from ecomlake.snapshots.journal import run_changes
from ecomlake.storage import LocalStorage
from tests.unit.glue_support import glue_modules

pytestmark = pytest.mark.spark

RUN = "20250111T020000Z-parity"
THRESHOLDS = '{"quarantine_warning_above": 0.01, "quarantine_critical_above": 0.5}'


def _rewrite(folder: Path, change) -> None:
    """Replace a version's files with one file holding ``change(rows)`` (what a broken transform writes)."""
    files = sorted(folder.glob("*.parquet"))
    table = change(pa.concat_tables([pq.read_table(f) for f in files]))
    for f in files:
        f.unlink()
    pq.write_table(table, folder / "part-0.parquet")


@pytest.fixture(scope="module")
def parity_lake(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from ecomlake.generate import generate
    from ecomlake.ingest.local import land_tree
    from ecomlake.local.runner import run_pipeline

    root = tmp_path_factory.mktemp("dq-parity")
    generate(
        root / "source", days=10, transactions=2000, products=40, clickstream=2000, reviews=300, seed=5, bad_rate=0.04
    )
    lake = root / "lake"
    landed = land_tree(lake, root / "source")
    dates = sorted({r.date for r in landed if not r.rejected})
    record = run_pipeline(lake, dates[:8])
    assert record.status == "SUCCEEDED", record
    storage = LocalStorage(lake)
    plan = plan_run(storage, RUN, dates[8:])
    for job in (*PARALLEL_ETL_JOBS, Job.MASTER_DATA_MERGE):
        run_job(job, plan.dates, lake, run_id=RUN, base_seq=plan.base_seq)
    view = load_published(storage).overlay(run_changes(storage, RUN))
    day9, day10 = dates[8], dates[9]

    # The merge lost three customers who bought on day 9.
    sales = pq.read_table(lake / view.prefixes("curated/fact_sales", [day9])[0][1])
    lost = sorted(set(sales.column("customer_id").to_pylist()))[:3]
    dims = lake / view.prefixes("curated/dim_customers")[0][1]
    _rewrite(dims, lambda t: t.filter(pc.invert(pc.is_in(t["customer_id"], pa.array(lost)))))
    # Day 10's transactions: three rows twice, one unknown status.
    txns = lake / view.prefixes("processed/transactions", [day10])[0][1]

    def duplicate_and_corrupt(t: pa.Table) -> pa.Table:
        statuses = t.column("status").to_pylist()
        statuses[0] = "shipped"
        t = t.set_column(t.schema.get_field_index("status"), "status", pa.array(statuses))
        return pa.concat_tables([t, t.slice(1, 3)])

    _rewrite(txns, duplicate_and_corrupt)
    # Day 9's reviews were written without a column.
    reviews = lake / view.prefixes("processed/reviews", [day9])[0][1]
    _rewrite(reviews, lambda t: t.drop_columns(["review_text"]))
    return {"lake": lake, "dates": dates, "lost": lost, "view": view}


def _results(audit: Audit) -> dict[tuple[str, str], tuple[Any, ...]]:
    return {
        (r.day, c.rule_id): (str(c.status), c.severity, c.value, c.detail, c.samples)
        for r in audit.reports
        for c in r.results
    }


@pytest.fixture(scope="module")
def duckdb_audit(parity_lake: dict[str, Any]) -> tuple[Audit, dict[str, Any]]:
    lake = parity_lake["lake"]
    rules = default_rules(Thresholds.from_env({"ECOMLAKE_DQ_THRESHOLDS": THRESHOLDS}))
    audit = audit_storage(LocalStorage(lake), RUN, local_engine(lake, RUN, "duckdb"), rules=rules)
    verdict = json.loads((lake / "_runs" / RUN / "audit.json").read_text())
    return audit, verdict


def test_the_glue_job_on_spark_reaches_duckdbs_verdict_on_every_check(spark, parity_lake, duckdb_audit):
    lake, dates = parity_lake["lake"], parity_lake["dates"]
    duck, duck_verdict = duckdb_audit
    argv = ["data_quality.py", "--JOB_NAME", "ecomlake-test-data_quality", f"--{JobArg.DATES}", ",".join(dates[8:])]
    argv += [f"--{JobArg.RUN_ID}", RUN, f"--{JobArg.DQ_THRESHOLDS}", THRESHOLDS]
    for arg in glue.ZONE_ARGS.values():
        argv += [f"--{arg}", str(lake)]
    script = importlib.import_module("glue_jobs.data_quality")

    # As on Glue: no DuckDB or sqlframe; sqlglot only because the job installs it.
    with glue_modules(installed=("sqlglot",)):
        on_spark = script.main(script.JOB, argv)

    assert isinstance(on_spark, Audit)
    assert (duck.engine, on_spark.engine) == ("duckdb", "spark")
    assert on_spark.dates == duck.dates == dates[8:]
    expected, got = _results(duck), _results(on_spark)
    assert len(expected) == 2 * 229
    assert [key for key in expected if expected[key] != got.get(key)] == []
    spark_verdict = json.loads((lake / "_runs" / RUN / "audit.json").read_text())
    assert {**spark_verdict, "engine": "duckdb"} == duck_verdict
    for duck_report, spark_report in zip(duck.reports, on_spark.reports, strict=True):
        assert spark_report.facts.quarantined == duck_report.facts.quarantined
        assert spark_report.conservation() == duck_report.conservation()


def test_the_comparison_covers_failures_of_every_shape(parity_lake, duckdb_audit):
    """The parity above means something: the run fails in several ways, warns in others, passes elsewhere."""
    duck, verdict = duckdb_audit
    day9, day10 = parity_lake["dates"][8:]
    got = _results(duck)
    lost = got[(day9, "fact_sales.referential_integrity.customer_id")]
    assert lost[:3] == ("fail", "critical", 3)
    assert [s["customer_id"] for s in lost[4]] == parity_lake["lost"]
    assert got[(day10, "transactions.unique.transaction_id")][:3] == ("fail", "critical", 3)
    assert got[(day10, "transactions.enum.status")][:3] == ("fail", "critical", 1)
    assert got[(day10, "transactions.enum.status")][4][0]["status"] == "shipped"
    # The duplicated rows are in the partition but not in the job's summary.
    conservation = got[(day10, "transactions.conservation")]
    assert conservation[:2] == ("fail", "critical")
    assert conservation[3].endswith("processed partition holds 201 rows, summary says 198")
    unreadable = got[(day9, "reviews.not_null.review_id")]
    assert unreadable[3].endswith(f"processed/reviews/date={day9}/run={RUN} lacks review_text")
    assert got[(day10, "reviews.not_null.review_id")][:2] == ("fail", "critical")  # the whole table, as on Spark
    assert got[(day9, "reviews.freshness")][:2] == ("fail", "warning")
    assert got[(day9, "transactions.quarantine_rate")][:2] == ("fail", "warning")  # past the 1 % set above
    assert got[(day9, "transactions.volume")][0] == "pass"
    assert got[(day9, "fact_sales.unique.transaction_id")][0] == "pass"
    # 8 critical reviews rules on each date + the lost customers on each + unique, enum, conservation.
    assert (verdict["passed"], verdict["critical_failed"]) == (False, 2 * 8 + 2 + 3)


def test_the_spark_views_read_only_what_the_rules_need(spark, parity_lake):
    from ecomlake.dq.engine_spark import SparkEngine

    lake, dates, view = parity_lake["lake"], parity_lake["dates"], parity_lake["view"]
    day10 = dates[9]
    reads = partitions_read(default_rules(), [day10], view)
    engine = SparkEngine(spark, LocalStorage(lake), view, reads)
    try:
        folders = {
            table: [f.split("/date=")[1][:10] if "/date=" in f else "whole" for f in fs]
            for table, fs in engine.views.items()
        }
    finally:
        engine.close()
    assert folders["transactions"] == dates[2:10]  # the day and the 7 days of the anomaly window
    assert folders["products"] == dates[:10]  # catalog snapshots up to the day
    assert folders["reviews"] == [day10]
    assert folders["sessions"] == [day10]  # fct_sessions compares the same date
    assert folders["fact_sales"] == [day10]
    assert folders["daily_kpis"] == dates[2:10]
    assert folders["dim_customers"] == ["whole"]
