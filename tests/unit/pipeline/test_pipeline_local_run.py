"""The whole spec on a temporary lake, with the real step callables (ETL on DuckDB, DQ, dashboard)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ecomlake.contract import PARALLEL_ETL_JOBS, Job
from ecomlake.local.runner import notification_key, run_pipeline

pytestmark = pytest.mark.integration

DATES = ["2025-01-01", "2025-01-02"]


@pytest.fixture(scope="module")
def landed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ecomlake.generate import generate
    from ecomlake.ingest import land_tree

    lake = tmp_path_factory.mktemp("lake")
    source = lake / "_generated"
    generate(source, days=2, transactions=600, products=60, clickstream=500, reviews=60, seed=3, bad_rate=0.02)
    results = land_tree(lake, source)
    assert not [r for r in results if r.rejected]
    return lake


def test_backfill_runs_every_step_once_and_records_it(landed):
    record = run_pipeline(landed, DATES, run_id="it-run", sleep=lambda _s: pytest.fail("no retry expected"))

    assert record.status == "SUCCEEDED", record.error
    steps = {s.name: s for s in record.steps}
    for name in (*[str(j) for j in PARALLEL_ETL_JOBS], str(Job.MASTER_DATA_MERGE), "dashboard_refresh"):
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
    saved = json.loads((landed / "_runs" / "it-run.json").read_text())
    assert saved["status"] == "SUCCEEDED"
    assert saved["dates"] == DATES
    assert saved["plan"]["base_seq"] == 0
    assert saved["published"]["snapshot"] == 1
    assert json.loads((landed / "_catalog" / "current.json").read_text())["run_id"] == "it-run"
    note = json.loads((landed / notification_key("it-run")).read_text())
    assert note["message"] == f"ecomlake pipeline run it-run succeeded for 2 date(s): {','.join(DATES)}."
