"""The local runner walks the spec: order, retries, catch -> failure notification, run records."""

from __future__ import annotations

import json
import random

import pytest
from pipeline_fakes import Recorder, ServiceError

from ecomlake.contract import Job, run_record_key
from ecomlake.exceptions import DataQualityError, InvalidArgumentError, LakeNotFoundError
from ecomlake.local.runner import (
    PipelineRunner,
    RunEvent,
    StepContext,
    error_name,
    notification_key,
    raw_dates,
    run_pipeline,
    summarise_etl,
)
from ecomlake.pipeline import GLUE_RETRY, Setting

DAY = "2025-01-01"
DAYS = ["2025-01-02", "2025-01-01", "2025-01-03"]


def run(lake, recorder: Recorder, dates=(DAY,), sleeps=None, **kw):
    registry = recorder.registry()
    registry.pop("notify_success")  # the real local notifier: it only writes a report file
    registry.pop("notify_failure")
    return run_pipeline(
        lake,
        list(dates),
        registry=registry,
        sleep=(sleeps.append if sleeps is not None else lambda _s: None),
        rng=random.Random(7),
        run_id="run-test",
        **kw,
    )


def test_happy_path_calls_steps_in_spec_order(lake, recorder):
    record = run(lake, recorder)

    assert record.status == "SUCCEEDED"
    assert record.succeeded
    assert recorder.calls == [
        ("acquire_lock", None),
        ("plan", None),
        ("transaction_etl", None),
        ("product_enrichment", None),
        ("clickstream_aggregation", None),
        ("master_data_merge", None),
        ("data_quality", None),
        ("audit", None),
        ("publish", None),
        ("dashboard_refresh", None),
        ("release_lock", None),
    ]
    statuses = {s.name: s.status for s in record.steps}
    # The fake plan returns no estimate: the Choice takes the Glue branch, as the state machine would.
    assert record.step("small_enough").output == {
        "branch": "glue",
        "staged_bytes": None,
        "small_date_max_bytes": 268435456,
    }
    assert statuses["small_date"] == "SKIPPED"
    assert statuses["etl"] == statuses["notify_success"] == "SUCCEEDED"
    assert statuses["notify_failure"] == statuses["release_lock_after_failure"] == "SKIPPED"
    assert record.failed_step is None
    assert record.error is None


def test_success_notification_goes_to_a_report_file(lake, recorder):
    record = run(lake, recorder)

    note = json.loads((lake / notification_key("run-test")).read_text())
    assert note["outcome"] == "SUCCEEDED"
    assert note["subject"] == "ecomlake local: pipeline run succeeded"
    assert note["message"] == f"ecomlake pipeline run run-test succeeded for 1 date(s): {DAY}."
    assert record.notification["message"] == note["message"]


def test_backfill_is_one_run_and_the_jobs_compute_the_plans_dates(lake, recorder):
    recorder.repairs = ["2024-12-31"]  # the plan found a published partition missing
    record = run(lake, recorder, dates=DAYS)

    assert record.dates == sorted(DAYS)
    glue_calls = [n for n in recorder.names() if n.endswith(("_etl", "_enrichment", "_aggregation", "_merge"))]
    assert glue_calls == ["transaction_etl", "product_enrichment", "clickstream_aggregation", "master_data_merge"]
    assert recorder.names().count("data_quality") == 1
    glue_dates = {tuple(c.run_dates) for c in recorder.contexts if c.step.kind == "glue"}
    assert glue_dates == {("2024-12-31", *sorted(DAYS))}
    assert record.step("etl").output == {
        "completed": ["transaction_etl", "product_enrichment", "clickstream_aggregation"]
    }
    assert record.step("transaction_etl").output["rows_in"] == 40
    assert record.plan["dates"] == ["2024-12-31", *sorted(DAYS)]


def test_payloads_are_built_from_the_spec(lake, recorder):
    run(lake, recorder, dates=DAYS)
    payloads = {c.step.name: c.payload() for c in recorder.contexts if c.step.kind == "lambda"}
    assert payloads["acquire_lock"] == {"run_id": "run-test", "execution_id": "run-test", "action": "acquire"}
    assert payloads["plan"] == {"dates": sorted(DAYS), "run_id": "run-test"}
    assert payloads["audit"] == {"run_id": "run-test"}
    assert payloads["publish"] == {"run_id": "run-test"}
    assert payloads["dashboard_refresh"] == {"dates": sorted(DAYS), "run_id": "run-test"}
    assert payloads["release_lock"] == {"run_id": "run-test", "execution_id": "run-test", "action": "release"}


def test_run_record_is_written_under_runs(lake, recorder):
    record = run(lake, recorder, dates=DAYS)

    path = lake / run_record_key("run-test")
    assert path == lake / "_runs" / "run-test.json"
    saved = json.loads(path.read_text())
    assert saved == json.loads(json.dumps(record.to_dict()))
    assert saved["status"] == "SUCCEEDED"
    assert saved["engine"] == "duckdb"
    assert saved["dates"] == sorted(DAYS)
    by_name = {s["name"]: s for s in saved["steps"]}
    assert by_name["transaction_etl"]["parent"] == "etl"
    assert by_name["master_data_merge"] == {
        "name": "master_data_merge",
        "kind": "glue",
        "parent": None,
        "status": "SUCCEEDED",
        "attempts": 1,
        "seconds": by_name["master_data_merge"]["seconds"],
        "output": {"rows_in": 30, "rows_out": 27, "rows_quarantined": 3},
        "error": None,
    }


def test_a_small_estimate_takes_the_small_date_step_and_skips_the_glue_jobs(lake, recorder):
    recorder.staged_bytes = 1024
    record = run(lake, recorder, dates=DAYS)

    assert record.status == "SUCCEEDED"
    assert recorder.names() == [
        "acquire_lock",
        "plan",
        "small_date",
        "audit",
        "publish",
        "dashboard_refresh",
        "release_lock",
    ]
    assert record.step("small_enough").output == {
        "branch": "small_date",
        "staged_bytes": 1024,
        "small_date_max_bytes": 268435456,
    }
    assert record.step("small_enough").kind == "choice"
    for skipped in ("etl", "transaction_etl", "master_data_merge", "data_quality"):
        assert record.step(skipped).status == "SKIPPED", skipped
    small = next(c for c in recorder.contexts if c.step.name == "small_date")
    assert small.payload() == {"run_id": "run-test"}


@pytest.mark.parametrize(
    ("settings", "env", "engine", "branch"),
    [
        ({}, None, "duckdb", "small_date"),  # the default: the demo takes the small path
        ({}, None, "spark", "glue"),  # a Spark run exercises the Glue jobs' engine
        ({}, "2048", "duckdb", "glue"),  # the estimate is 4096
        ({}, "4096", "spark", "small_date"),  # at most: equal is small, whatever the engine
        ({}, "none", "duckdb", "glue"),
        ({Setting.SMALL_DATE_MAX_BYTES: 10_000}, "1", "duckdb", "small_date"),  # the option wins
        ({Setting.SMALL_DATE_MAX_BYTES: None}, None, "duckdb", "glue"),
    ],
)
def test_the_local_threshold_comes_from_the_option_the_environment_or_the_engine(
    lake, recorder, monkeypatch, settings, env, engine, branch
):
    if env is None:
        monkeypatch.delenv("ECOMLAKE_SMALL_DATE_MAX_BYTES", raising=False)
    else:
        monkeypatch.setenv("ECOMLAKE_SMALL_DATE_MAX_BYTES", env)
    recorder.staged_bytes = 4096
    record = run(lake, recorder, settings=settings, engine=engine)
    assert record.step("small_enough").output["branch"] == branch
    assert ("small_date" in recorder.names()) is (branch == "small_date")
    assert ("transaction_etl" in recorder.names()) is (branch == "glue")


@pytest.mark.parametrize("value", ["-1", "lots", "1e9"])
def test_a_bad_local_threshold_is_one_clear_error(lake, monkeypatch, value):
    monkeypatch.setenv("ECOMLAKE_SMALL_DATE_MAX_BYTES", value)
    with pytest.raises(InvalidArgumentError, match="ECOMLAKE_SMALL_DATE_MAX_BYTES must be a number of bytes >= 0"):
        PipelineRunner(lake, [DAY])


def test_a_small_date_failure_goes_to_the_failure_path(lake, recorder, sleeps):
    recorder.staged_bytes = 1
    recorder.fail["small_date"] = [RuntimeError("No space left on device")]
    record = run(lake, recorder, sleeps=sleeps)
    assert record.status == "FAILED"
    assert record.failed_step == "small_date"
    assert record.error["Error"] == "RuntimeError"
    assert sleeps == []  # a failed run of the function is not a service error: not retried
    assert recorder.names()[-1] == "release_lock_after_failure"
    assert record.step("audit").status == "SKIPPED"
    assert record.notification["message"].startswith("ecomlake pipeline run run-test failed")


def test_transient_errors_are_retried_with_backoff_then_succeed(lake, recorder, sleeps):
    recorder.fail["master_data_merge"] = [
        ServiceError("Glue.ConcurrentRunsExceededException"),
        ServiceError("Glue.ConcurrentRunsExceededException"),
    ]
    record = run(lake, recorder, sleeps=sleeps)

    assert record.status == "SUCCEEDED"
    assert record.step("master_data_merge").attempts == 3
    assert recorder.names().count("master_data_merge") == 3
    # FULL jitter: each wait is somewhere in [0, interval * backoff^(n-1)].
    assert len(sleeps) == 2
    assert 0 <= sleeps[0] <= GLUE_RETRY[0].delay(1)
    assert 0 <= sleeps[1] <= GLUE_RETRY[0].delay(2)
    assert sleeps[0] != sleeps[1]


def test_retries_stop_at_max_attempts_then_catch_notifies_failure(lake, recorder, sleeps):
    # A failed job run is States.TaskFailed: retried once (GLUE_RETRY[1]), then caught.
    recorder.fail["product_enrichment"] = [RuntimeError("executor lost"), RuntimeError("executor lost again")]
    record = run(lake, recorder, sleeps=sleeps)

    assert record.status == "FAILED"
    assert record.failed_step == "product_enrichment"
    assert record.error["Error"] == "States.TaskFailed"
    assert "executor lost again" in record.error["Cause"]
    assert record.step("product_enrichment").attempts == 2
    assert len(sleeps) == 1
    assert sleeps[0] <= GLUE_RETRY[1].delay(1)
    # The Parallel stops at the failed branch; nothing after it runs but the failure path.
    assert recorder.names() == [
        "acquire_lock",
        "plan",
        "transaction_etl",
        "product_enrichment",
        "product_enrichment",
        "release_lock_after_failure",
    ]
    statuses = {s.name: s.status for s in record.steps}
    assert statuses["etl"] == "FAILED"
    assert statuses["clickstream_aggregation"] == statuses["audit"] == statuses["publish"] == "SKIPPED"
    assert statuses["data_quality"] == statuses["small_date"] == "SKIPPED"
    assert statuses["notify_success"] == statuses["release_lock"] == "SKIPPED"
    assert statuses["release_lock_after_failure"] == statuses["notify_failure"] == "SUCCEEDED"
    note = json.loads((lake / notification_key("run-test")).read_text())
    assert note["outcome"] == "FAILED"
    assert note["message"].startswith(f'ecomlake pipeline run run-test failed for ["{DAY}"]. Error: States.TaskFailed.')
    assert json.loads((lake / "_runs" / "run-test.json").read_text())["status"] == "FAILED"


def test_a_failed_audit_is_not_retried_and_nothing_is_published(lake, recorder, sleeps):
    cause = "1 critical data-quality check(s) failed, nothing was published: x on 2025-01-02: y"
    recorder.fail["audit"] = [DataQualityError(cause)]
    record = run(lake, recorder, dates=DAYS, sleeps=sleeps)

    assert record.status == "FAILED"
    assert record.failed_step == "audit"
    assert record.error == {"Error": "DataQualityError", "Cause": cause}
    assert sleeps == []
    assert "publish" not in recorder.names()
    assert "dashboard_refresh" not in recorder.names()
    assert record.step("publish").status == "SKIPPED"
    assert record.published is None
    assert recorder.names()[-1] == "release_lock_after_failure"
    assert record.notification["message"].endswith(f"Cause: {cause}")


def test_a_failing_cleanup_still_sends_the_failure_notification(lake, recorder, sleeps):
    recorder.fail["audit"] = [DataQualityError("bad data")]
    recorder.fail["release_lock_after_failure"] = [RuntimeError("lock table unreachable")]
    record = run(lake, recorder, sleeps=sleeps)
    assert record.status == "FAILED"
    assert record.error == {"Error": "DataQualityError", "Cause": "bad data"}
    assert record.step("release_lock_after_failure").status == "FAILED"
    assert record.step("notify_failure").status == "SUCCEEDED"


def test_lambda_throttling_is_retried(lake, recorder, sleeps):
    recorder.fail["dashboard_refresh"] = [ServiceError("Lambda.TooManyRequestsException")]
    record = run(lake, recorder, sleeps=sleeps)
    assert record.status == "SUCCEEDED"
    assert record.step("dashboard_refresh").attempts == 2
    assert len(sleeps) == 1


def test_a_lambda_bug_is_not_retried(lake, recorder, sleeps):
    recorder.fail["dashboard_refresh"] = [KeyError("revenue")]
    record = run(lake, recorder, sleeps=sleeps)
    assert record.status == "FAILED"
    assert record.error["Error"] == "KeyError"
    assert sleeps == []
    assert record.step("dashboard_refresh").attempts == 1


def test_failed_success_notification_goes_to_the_failure_path(lake, recorder, sleeps):
    registry = recorder.registry()
    recorder.fail["notify_success"] = [ServiceError("SNS.InternalError")] * 4  # first try + 3 retries
    record = run_pipeline(lake, [DAY], registry=registry, sleep=sleeps.append, run_id="r2")
    assert record.status == "FAILED"
    assert record.failed_step == "notify_success"
    assert record.step("notify_success").attempts == 4
    assert len(sleeps) == 3
    assert recorder.names()[-1] == "notify_failure"


def test_failure_notification_failing_still_ends_failed_with_the_original_error(lake, recorder):
    registry = recorder.registry()
    recorder.fail["master_data_merge"] = [DataQualityError("boom"), DataQualityError("boom")]
    recorder.fail["notify_failure"] = [ServiceError("SNS.InternalError")] * 4
    record = run_pipeline(lake, [DAY], registry=registry, sleep=lambda _s: None, run_id="r3")
    assert record.status == "FAILED"
    assert record.failed_step == "master_data_merge"
    assert record.error["Cause"] == "boom"
    assert record.step("notify_failure").status == "FAILED"
    assert record.notification is None


def test_events_report_progress(lake, recorder):
    events: list[RunEvent] = []
    recorder.fail["transaction_etl"] = [ServiceError("Glue.ThrottlingException")]
    run(lake, recorder, on_event=events.append)
    kinds = [(e.kind, e.record.name) for e in events]
    assert kinds[:9] == [
        ("started", "acquire_lock"),
        ("finished", "acquire_lock"),
        ("started", "plan"),
        ("finished", "plan"),
        ("started", "small_enough"),
        ("finished", "small_enough"),
        ("started", "etl"),
        ("started", "transaction_etl"),
        ("retrying", "transaction_etl"),
    ]
    assert ("notified", "notify_success") in kinds
    assert kinds[-2:] == [("finished", "notify_success"), ("notified", "notify_success")]


def test_invalid_arguments_are_refused(lake):
    with pytest.raises(InvalidArgumentError, match="engine"):
        PipelineRunner(lake, [DAY], engine="pandas")
    with pytest.raises(InvalidArgumentError, match="at least one date"):
        PipelineRunner(lake, [])


def test_error_names_follow_the_cloud(lake):
    from ecomlake.pipeline import PIPELINE

    assert error_name(PIPELINE.step("master_data_merge"), ValueError("x")) == "States.TaskFailed"
    assert error_name(PIPELINE.step("audit"), DataQualityError("x")) == "DataQualityError"
    assert error_name(PIPELINE.step("audit"), ServiceError("Lambda.ServiceException")) == "Lambda.ServiceException"


def test_raw_dates_lists_partitions_with_files(lake):
    for dataset, day in (("transactions", "2025-01-02"), ("products", "2025-01-01"), ("reviews", "2025-01-02")):
        folder = lake / "raw" / dataset / f"date={day}"
        folder.mkdir(parents=True)
        (folder / "f.csv").write_text("x")
    (lake / "raw" / "clickstream" / "date=2025-01-09").mkdir(parents=True)  # empty: not landed
    (lake / "raw" / "clickstream" / "date=garbage").mkdir(parents=True)
    (lake / "raw" / "clickstream" / "date=garbage" / "f").write_text("x")
    assert raw_dates(lake) == ["2025-01-01", "2025-01-02"]


def test_raw_dates_on_an_empty_lake_is_a_clear_error(lake):
    with pytest.raises(LakeNotFoundError, match="no raw partitions"):
        raw_dates(lake)


def test_etl_summary_adds_up_per_table():
    rows = [
        {"dataset_or_table": "transactions", "rows_in": 10, "rows_out": 8, "rows_quarantined": 2},
        {"dataset_or_table": "transactions", "rows_in": 5, "rows_out": 5, "rows_quarantined": 0},
        {"dataset_or_table": "reviews", "rows_in": 3, "rows_out": 2, "rows_quarantined": 1, "duplicates_dropped": 1},
        {"dataset_or_table": "sessions", "rows_in": 7, "rows_out": 7, "rows_quarantined": 0},
    ]
    summary = summarise_etl(rows)
    assert summary["tables"]["transactions"] == {
        "rows_in": 15,
        "rows_out": 13,
        "rows_quarantined": 2,
        "duplicates_dropped": 0,
    }
    assert (summary["rows_in"], summary["rows_out"], summary["rows_quarantined"]) == (18, 15, 3)
    assert summary["rows_built"] == 7
    assert summary["summaries"] == 4


def test_step_context_values_match_the_state_machine_inputs(lake):
    from ecomlake.pipeline import PIPELINE, Input

    ctx = StepContext(PIPELINE.step("dashboard_refresh"), lake, ("2025-01-01", "2025-01-02"), "duckdb", "r")
    values = ctx.values()
    assert values[Input.DATES_CSV] == "2025-01-01,2025-01-02"
    assert values[Input.DATE_COUNT] == 2
    assert set(values) == set(Input)


# --------------------------------------------------------------------------- the default callables


def test_default_callables_call_the_library_interfaces(lake, monkeypatch):
    import ecomlake.dashboard
    import ecomlake.etl
    import ecomlake.runs.audit
    import ecomlake.runs.plan
    import ecomlake.runs.publish
    from ecomlake.pipeline import PIPELINE

    calls = []

    class Plan:
        def __init__(self, dates):
            self.dates = [*sorted(dates), "2025-01-09"]

        def to_dict(self):
            return {"dates": self.dates, "base_seq": 3, "staged_bytes": 10}

    def plan_run(storage, run_id, dates):
        calls.append(("plan_run", run_id, sorted(dates)))
        return Plan(dates)

    def run_job(job, dates, lake_, engine, *, run_id, base_seq):
        calls.append(("run_job", str(job), dates, lake_, engine, run_id, base_seq))
        return [{"dataset_or_table": "transactions", "rows_in": 4, "rows_out": 3, "rows_quarantined": 1}]

    class Audit:
        def summary(self):
            return {"passed": True, "engine": "spark"}

    def local_engine(lake_, run_id, engine):
        calls.append(("local_engine", lake_, run_id, engine))
        return "opener"

    def audit_storage(storage, run_id, opener, *, source):
        calls.append(("audit_storage", run_id, opener, source))
        return Audit()

    def check_verdict(storage, run_id):
        calls.append(("check_verdict", run_id))
        return {"passed": True, "dates": DAYS, "checks": 9, "critical_failed": 0, "warnings": 0, "run_id": run_id}

    class Publication:
        def to_dict(self):
            return {"snapshot": 4}

    def publish_run(storage, run_id, base_seq):
        calls.append(("publish_run", run_id, base_seq))
        return Publication()

    def build(lake_):
        calls.append(("build", lake_))
        return lake_ / "_site"

    monkeypatch.setattr(ecomlake.runs.plan, "plan_run", plan_run)
    monkeypatch.setattr(ecomlake.etl, "run_job", run_job)
    monkeypatch.setattr(ecomlake.runs.audit, "local_engine", local_engine)
    monkeypatch.setattr(ecomlake.runs.audit, "audit_storage", audit_storage)
    monkeypatch.setattr(ecomlake.runs.audit, "check_verdict", check_verdict)
    monkeypatch.setattr(ecomlake.runs.publish, "publish_run", publish_run)
    monkeypatch.setattr(ecomlake.dashboard, "build", build)
    monkeypatch.delenv("ECOMLAKE_SMALL_DATE_MAX_BYTES", raising=False)
    record = run_pipeline(lake, DAYS, engine="spark", run_id="wired")  # Spark: the Glue branch

    assert record.status == "SUCCEEDED"
    planned = [*sorted(DAYS), "2025-01-09"]
    assert calls[0] == ("plan_run", "wired", sorted(DAYS))
    glue = [c for c in calls if c[0] == "run_job"]
    etl_jobs = [j for j in PIPELINE.glue_jobs if j is not Job.DATA_QUALITY]
    assert glue == [("run_job", str(j), planned, lake, "spark", "wired", 3) for j in etl_jobs]
    # The audit job on the run's engine, then the gate on its verdict.
    assert ("local_engine", lake, "wired", "spark") in calls
    assert ("audit_storage", "wired", "opener", str(lake)) in calls
    assert ("check_verdict", "wired") in calls
    assert ("publish_run", "wired", 3) in calls
    assert calls[-1] == ("build", lake)
    assert record.step("master_data_merge").output["rows_quarantined"] == 1
    assert record.step("dashboard_refresh").output == {"site": str(lake / "_site")}
    assert record.plan == {"dates": planned, "base_seq": 3, "staged_bytes": 10}
    assert record.published == {"snapshot": 4}
    assert record.audit == {"passed": True, "engine": "spark"}
    assert record.step("audit").output == {
        "passed": True,
        "dates": DAYS,
        "checks": 9,
        "critical_failed": 0,
        "warnings": 0,
    }


def test_the_small_date_callable_runs_the_small_path_on_the_lake(lake, monkeypatch):
    import ecomlake.runs.small_date

    calls = []

    def run_small_date(lake_, run_id):
        calls.append((lake_, run_id))
        return {"rows_in": 5, "rows_out": 4, "rows_quarantined": 1, "audit": {"passed": True, "engine": "duckdb"}}

    monkeypatch.setattr(ecomlake.runs.small_date, "run_small_date", run_small_date)
    recorder = Recorder()
    recorder.staged_bytes = 3
    registry = {k: v for k, v in recorder.registry().items() if k not in ("small_date", "notify_success")}
    record = run_pipeline(lake, [DAY], registry=registry, run_id="small", sleep=lambda _s: None)
    assert record.status == "SUCCEEDED"
    assert calls == [(lake, "small")]
    assert record.audit == {"passed": True, "engine": "duckdb"}  # lifted from the small path's own audit
