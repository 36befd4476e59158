"""The whole spec on a temporary lake, with the real step callables (ETL on DuckDB, DQ, dashboard).

The same generated files are landed in two lakes and run once each way through the Choice:
the default threshold sends the demo-sized run down the small-date branch (one step: every
job, the merge and the audit), the Glue branch runs the jobs as separate steps. Both must
publish the same rows.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from ecomlake.contract import PARALLEL_ETL_JOBS, Job, Table
from ecomlake.local.runner import notification_key, run_pipeline
from ecomlake.pipeline import Setting

pytestmark = pytest.mark.integration

DATES = ["2025-01-01", "2025-01-02"]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ecomlake.generate import generate

    source = tmp_path_factory.mktemp("generated")
    generate(source, days=2, transactions=600, products=60, clickstream=500, reviews=60, seed=3, bad_rate=0.02)
    return source


def landed(generated: Path, lake: Path) -> Path:
    from ecomlake.ingest import land_tree

    results = land_tree(lake, generated)
    assert not [r for r in results if r.rejected]
    return lake


def published(lake: Path) -> dict[str, Counter]:
    from ecomlake.catalog import connect

    con = connect(lake)
    try:
        return {str(t): Counter(con.execute(f"SELECT * FROM {t}").fetchall()) for t in Table}
    finally:
        con.close()


@pytest.fixture(scope="module")
def glue_run(generated: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    lake = landed(generated, tmp_path_factory.mktemp("glue-lake"))
    record = run_pipeline(
        lake,
        DATES,
        run_id="it-run",
        settings={Setting.SMALL_DATE_MAX_BYTES: None},
        sleep=lambda _s: pytest.fail("no retry expected"),
    )
    return lake, record


def test_backfill_runs_every_step_once_and_records_it(glue_run):
    lake, record = glue_run
    assert record.status == "SUCCEEDED", record.error
    steps = {s.name: s for s in record.steps}
    assert steps["small_enough"].output["branch"] == "glue"
    assert steps["small_date"].status == "SKIPPED"
    for name in (*[str(j) for j in PARALLEL_ETL_JOBS], str(Job.MASTER_DATA_MERGE), "data_quality", "dashboard_refresh"):
        assert steps[name].status == "SUCCEEDED"
        assert steps[name].attempts == 1
    assert steps["audit"].output["dates"] == DATES
    assert steps["audit"].output["passed"] is True
    assert steps["audit"].output["critical_failed"] == 0
    assert steps["publish"].output["snapshot"] == 1
    assert steps["publish"].output["run_id"] == "it-run"
    assert steps["notify_failure"].status == steps["release_lock_after_failure"].status == "SKIPPED"

    # Row conservation as the ETL reported it, over both dates in one run per job.
    txn = steps["transaction_etl"].output
    assert txn["rows_in"] > 0
    assert txn["rows_in"] == txn["rows_out"] + txn["rows_quarantined"]
    assert txn["summaries"] == len(DATES)
    assert steps["master_data_merge"].output["rows_built"] > 0

    site = Path(steps["dashboard_refresh"].output["site"])
    assert (site / "index.html").is_file()
    saved = json.loads((lake / "_runs" / "it-run.json").read_text())
    assert saved["status"] == "SUCCEEDED"
    assert saved["dates"] == DATES
    assert saved["plan"]["base_seq"] == 0
    # On an empty lake a run would stage its raw files and their validation reports, nothing published.
    reports = sum(p.stat().st_size for p in (lake / "_reports" / "validation").rglob("*.json"))
    assert saved["plan"]["staged_bytes"] == saved["plan"]["raw_bytes"] + reports
    assert saved["plan"]["raw_bytes"] > 0
    assert saved["published"]["snapshot"] == 1
    assert json.loads((lake / "_catalog" / "current.json").read_text())["run_id"] == "it-run"
    note = json.loads((lake / notification_key("it-run")).read_text())
    assert note["message"] == f"ecomlake pipeline run it-run succeeded for 2 date(s): {','.join(DATES)}."


def test_the_default_run_takes_the_small_date_path_and_publishes_the_same_rows(generated, glue_run, tmp_path):
    lake = landed(generated, tmp_path / "small-lake")
    record = run_pipeline(lake, DATES, run_id="it-run", sleep=lambda _s: pytest.fail("no retry expected"))

    assert record.status == "SUCCEEDED", record.error
    steps = {s.name: s for s in record.steps}
    choice = steps["small_enough"].output
    assert choice["branch"] == "small_date"
    assert choice["staged_bytes"] == record.plan["staged_bytes"] <= choice["small_date_max_bytes"] == 268435456
    for name in ("etl", *[str(j) for j in PARALLEL_ETL_JOBS], str(Job.MASTER_DATA_MERGE), "data_quality"):
        assert steps[name].status == "SKIPPED", name
    small = steps["small_date"].output
    assert small["engine"] == "duckdb"
    assert small["rows_in"] == small["rows_out"] + small["rows_quarantined"] > 0
    assert set(small["jobs"]) == {*[str(j) for j in PARALLEL_ETL_JOBS], str(Job.MASTER_DATA_MERGE)}
    assert small["audit"]["passed"] is True
    assert record.audit == small["audit"]
    assert steps["audit"].output["passed"] is True
    assert steps["publish"].output["snapshot"] == 1
    # The Glue branch's jobs read what they read; the small path the same files, in one step.
    glue_lake, glue_record = glue_run
    assert small["rows_in"] == glue_record.step("transaction_etl").output["rows_in"] + sum(
        glue_record.step(str(j)).output["rows_in"] for j in PARALLEL_ETL_JOBS[1:]
    )
    assert published(lake) == published(glue_lake)
