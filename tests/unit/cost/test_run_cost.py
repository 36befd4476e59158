"""A local run's record priced as AWS would bill it (ecomlake.local.run_cost)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecomlake.exceptions import InvalidArgumentError
from ecomlake.local.run_cost import describe, estimate_run, glue_workers, run_usage, transitions


def step(name: str, kind: str, seconds: float, status: str = "SUCCEEDED", attempts: int = 1) -> dict:
    return {"name": name, "kind": kind, "seconds": seconds, "status": status, "attempts": attempts}


RECORD = {
    "run_id": "r1",
    "dates": ["2025-01-01", "2025-01-02", "2025-01-03"],
    "steps": [
        step("acquire_lock", "lambda", 0.02),
        step("plan", "lambda", 0.5),
        step("etl", "parallel", 40.0),
        step("transaction_etl", "glue", 30.0),
        step("product_enrichment", "glue", 20.0),
        step("clickstream_aggregation", "glue", 90.5),
        step("master_data_merge", "glue", 10.0),
        step("data_quality", "glue", 5.0),
        step("audit", "lambda", 0.1),
        step("publish", "lambda", 1.0, attempts=2),
        step("dashboard_refresh", "lambda", 2.0, status="FAILED"),
        step("release_lock", "lambda", 0.0, status="SKIPPED"),
        step("notify_success", "notify", 0.0, status="SKIPPED"),
        step("release_lock_after_failure", "lambda", 0.02),
        step("notify_failure", "notify", 0.01),
    ],
}


def test_glue_steps_are_runs_on_the_dev_workers_with_the_one_minute_minimum(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("ECOMLAKE_GLUE_WORKERS", raising=False)
    usage = run_usage(tmp_path, RECORD)
    assert [(g.seconds, g.dpus) for g in usage.glue_runs] == [
        (30.0, 2.0),
        (20.0, 2.0),
        (90.5, 2.0),
        (10.0, 2.0),
        (5.0, 2.0),
    ]
    cost = estimate_run(tmp_path, RECORD)
    # Billed: 60 + 60 + 91 + 60 + 60 = 331 s x 2 DPU = 662 DPU-s at $0.44 per DPU-hour.
    assert cost["billed"]["glue_dpu_seconds"] == 662.0
    assert cost["services"]["glue"] == round(662 / 3600 * 0.44, 5)
    assert cost["assumed"] == {"glue_workers": "G.1X x 2", "lambda_memory_mb": 1024, "small_date_memory_mb": 2048}


def test_lambda_steps_count_every_attempt_and_skipped_ones_nothing(tmp_path: Path) -> None:
    usage = run_usage(tmp_path, RECORD)
    # acquire, plan, audit, publish (twice), dashboard_refresh (failed, still billed), release after failure.
    assert usage.lambda_invocations == 7
    # 1 GB: each step's milliseconds (x attempts) as GB-seconds.
    assert usage.lambda_gb_seconds == pytest.approx(0.02 + 0.5 + 0.1 + 2.0 + 2.0 + 0.02)
    assert usage.athena_query_bytes == ()  # the refresh failed: no queries to bill


def test_transitions_are_the_states_entered_plus_the_dates_prelude() -> None:
    ran = sum(1 for s in RECORD["steps"] if s["status"] != "SKIPPED")
    assert transitions(RECORD) == ran + 1 + 2 * 2


def test_workers_come_from_the_environment_and_bad_values_are_refused(monkeypatch) -> None:
    monkeypatch.setenv("ECOMLAKE_GLUE_WORKERS", "G.2X:10")
    assert glue_workers() == ("G.2X", 10)
    monkeypatch.setenv("ECOMLAKE_GLUE_WORKERS", "G.2X")
    with pytest.raises(InvalidArgumentError, match="TYPE:COUNT"):
        glue_workers()


def test_the_small_date_step_is_priced_at_its_own_memory(tmp_path: Path) -> None:
    record = {"run_id": "s", "dates": ["2025-01-01"], "steps": [step("small_date", "lambda", 5.0)]}
    usage = run_usage(tmp_path, record)
    assert usage.lambda_gb_seconds == pytest.approx(5.0 * 2)  # 2 GB for 5 s
    assert usage.glue_runs == ()


@pytest.mark.parametrize(("threshold", "glue_runs"), [("none", 5), ("268435456", 0)])
def test_a_run_record_carries_its_estimate_and_the_cli_prints_it(
    tmp_path: Path, capsys, monkeypatch, threshold: str, glue_runs: int
) -> None:
    import json

    from ecomlake.cli import run
    from ecomlake.generate import generate
    from ecomlake.ingest import land_tree

    monkeypatch.setenv("ECOMLAKE_SMALL_DATE_MAX_BYTES", threshold)  # the Glue branch, or the small-date Lambda
    lake = tmp_path / "lake"
    generate(tmp_path / "src", days=1, transactions=300, products=20, clickstream=200, reviews=20, seed=1)
    land_tree(lake, tmp_path / "src")
    assert run(["run", "--all", "--lake", str(lake)]) == 0
    out = capsys.readouterr().out
    assert "estimated AWS cost of this run: $0.0" in out
    record = json.loads(next((lake / "_runs").glob("*.json")).read_text())
    cost = record["cost"]
    assert set(cost["services"]) == {"athena", "glue", "lambda", "stepfunctions", "s3"}
    assert cost["usage"]["glue_runs"] == glue_runs
    # Each Glue job run is billed at least a minute on 2 DPUs.
    assert cost["billed"]["glue_dpu_seconds"] >= 120 * glue_runs
    assert (cost["services"]["glue"] > 0) == (glue_runs > 0)
    assert cost["usage"]["athena_queries"] > 0  # the dashboard refresh ran its queries
    assert cost["usage"]["s3_put_requests"] > 0
    assert describe(cost).startswith(f"${cost['total']:.4f} (")
