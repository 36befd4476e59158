"""The generated Step Functions definition: valid ASL (asl-validator), and the right shape."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ecomlake.asl import (
    JOIN_DATES,
    PipelineResources,
    definition,
    format_expression,
    mermaid,
)
from ecomlake.contract import PARALLEL_ETL_JOBS, Job, JobArg
from ecomlake.pipeline import PIPELINE, Input, PipelineFunction, Setting

REPO_ROOT = Path(__file__).resolve().parents[3]
VALIDATOR = REPO_ROOT / "node_modules" / ".bin" / "asl-validator"
DOCS = REPO_ROOT / "docs" / "orchestration.md"

GLUE_SYNC = "arn:aws:states:::glue:startJobRun.sync"
LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
SNS_PUBLISH = "arn:aws:states:::sns:publish"

RESOURCES = PipelineResources(
    glue_jobs={job: f"glue-{job}" for job in Job},
    functions={fn: f"arn:aws:lambda:eu-west-1:111122223333:function:fn-{fn}" for fn in PipelineFunction},
    alerts_topic_arn="arn:aws:sns:eu-west-1:111122223333:alerts",
    stage="prod",
    settings={Setting.SMALL_DATE_MAX_BYTES: 1_000_000},
)


@pytest.fixture(scope="module")
def asl() -> dict[str, Any]:
    return definition(RESOURCES)


def all_states(states: dict[str, Any], depth: int = 0) -> Iterator[tuple[str, dict[str, Any], int]]:
    """Every state, nested ones included, with its nesting depth (0 = top level)."""
    for name, state in states.items():
        yield name, state, depth
        for branch in state.get("Branches", []):
            yield from all_states(branch["States"], depth + 1)
        if "ItemProcessor" in state:
            yield from all_states(state["ItemProcessor"]["States"], depth + 1)


def validate(tmp_path: Path, document: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    if not VALIDATOR.exists() or shutil.which("node") is None:
        pytest.fail(f"{VALIDATOR} is missing: run `npm ci` (the Makefile's test target does)")
    path = tmp_path / "definition.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return subprocess.run([str(VALIDATOR), "--json-path", str(path)], capture_output=True, text=True, timeout=60)


# --------------------------------------------------------------------------- validity


def test_generated_definition_passes_asl_validator(tmp_path, asl):
    result = validate(tmp_path, asl)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is valid" in result.stdout


def test_asl_validator_rejects_a_broken_definition(tmp_path, asl):
    broken = json.loads(json.dumps(asl))
    broken["States"]["master_data_merge"]["Next"] = "no_such_state"
    result = validate(tmp_path, broken)
    assert result.returncode != 0
    assert "no_such_state" in result.stdout + result.stderr


def test_definition_is_json_and_deterministic(asl):
    assert json.loads(json.dumps(asl)) == asl
    assert definition(RESOURCES) == asl


# --------------------------------------------------------------------------- shape


def test_starts_by_joining_dates_then_runs_the_spec_in_order(asl):
    assert asl["StartAt"] == JOIN_DATES
    states = asl["States"]
    assert states["more_dates"]["Default"] == "acquire_lock"
    assert states["acquire_lock"]["Next"] == "plan"
    assert states["plan"]["Next"] == "small_enough"
    # Two ways from the Choice, joining at the audit gate.
    assert states["small_date"]["Next"] == "audit"
    assert [states[n]["Next"] for n in ("etl", "master_data_merge", "data_quality")] == [
        "master_data_merge",
        "data_quality",
        "audit",
    ]
    order = ["audit", "publish", "dashboard_refresh", "release_lock", "notify_success"]
    assert [states[name].get("Next") for name in order[:-1]] == order[1:]
    assert states["notify_success"]["End"] is True
    # The failure path: release the lock, then the one notification, then Fail with the original error.
    assert states["release_lock_after_failure"]["Next"] == "notify_failure"
    assert states["notify_failure"]["Next"] == "failed"
    assert states["failed"] == {
        "Type": "Fail",
        "Comment": "The run failed; the failure notification carries the details.",
        "ErrorPath": "$.error.Error",
        "CausePath": "$.error.Cause",
    }
    assert set(states) == {JOIN_DATES, "more_dates", "join_next_date", "acquire_lock", "plan", "small_enough"} | {
        "small_date",
        "etl",
        "master_data_merge",
        "data_quality",
        *order,
        "release_lock_after_failure",
        "notify_failure",
        "failed",
    }


def test_the_choice_sends_a_small_estimate_to_one_lambda_and_anything_else_to_glue(asl):
    path = "$.plan.payload.staged_bytes"
    assert asl["States"]["small_enough"] == {
        "Type": "Choice",
        "Comment": (
            "A run whose staged input (raw files of its dates + the published partitions it reads) is at most "
            "the stack's smallDateMaxBytes runs in one Lambda on DuckDB; anything else, or no estimate, in Glue."
        ),
        "Choices": [
            {
                "And": [
                    # First: a missing estimate must not be compared (a runtime error in ASL).
                    {"Variable": path, "IsPresent": True},
                    {"Variable": path, "IsNumeric": True},
                    {"Variable": path, "NumericLessThanEquals": 1_000_000},
                ],
                "Next": "small_date",
            }
        ],
        "Default": "etl",
    }
    assert "Catch" not in asl["States"]["small_enough"]


def test_the_threshold_is_the_deployments_and_required():
    for value in (0, 268435456, 5 * 1024**3):
        resources = PipelineResources(
            RESOURCES.glue_jobs,
            RESOURCES.functions,
            RESOURCES.alerts_topic_arn,
            settings={Setting.SMALL_DATE_MAX_BYTES: value},
        )
        rule = definition(resources)["States"]["small_enough"]["Choices"][0]["And"][2]
        assert rule == {"Variable": "$.plan.payload.staged_bytes", "NumericLessThanEquals": value}
    with pytest.raises(ValueError, match="setting small_date_max_bytes"):
        definition(PipelineResources(RESOURCES.glue_jobs, RESOURCES.functions, RESOURCES.alerts_topic_arn))
    assert PipelineResources.placeholders("dev").settings == {Setting.SMALL_DATE_MAX_BYTES: 268435456}


def test_parallel_has_the_three_etl_branches(asl):
    etl = asl["States"]["etl"]
    assert etl["Type"] == "Parallel"
    names = [b["StartAt"] for b in etl["Branches"]]
    assert names == [str(j) for j in PARALLEL_ETL_JOBS]
    jobs = [b["States"][b["StartAt"]]["Parameters"]["JobName"] for b in etl["Branches"]]
    assert jobs == [f"glue-{j}" for j in PARALLEL_ETL_JOBS]


def test_every_task_has_retry_with_backoff_and_jitter(asl):
    tasks = [(n, s) for n, s, _ in all_states(asl["States"]) if s["Type"] == "Task"]
    # 2 lock steps + plan + small_date + 3 ETL branches + merge + audit job + audit gate + publish
    # + dashboard + the cleanup + 2 notifications
    assert len(tasks) == 15
    for name, state in tasks:
        assert state["Retry"], name
        for retrier in state["Retry"]:
            assert {"ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate", "JitterStrategy"} <= set(retrier)
        assert state["TimeoutSeconds"] > 0


LAMBDA_RETRIER = {
    "ErrorEquals": [
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
        "Lambda.TooManyRequestsException",
        "Lambda.Unknown",
        "Lambda.ClientExecutionTimeoutException",
    ],
    "IntervalSeconds": 2,
    "MaxAttempts": 3,
    "BackoffRate": 2.0,
    "MaxDelaySeconds": 60,
    "JitterStrategy": "FULL",
    "Comment": "Lambda service errors, throttling and invokes that timed out are transient",
}


def test_glue_and_lambda_retry_transient_errors(asl):
    states = asl["States"]
    glue = states["master_data_merge"]["Retry"]
    assert glue == [
        {
            "ErrorEquals": [
                "Glue.ConcurrentRunsExceededException",
                "Glue.ThrottlingException",
                "Glue.InternalServiceException",
                "Glue.OperationTimeoutException",
            ],
            "IntervalSeconds": 30,
            "MaxAttempts": 8,
            "BackoffRate": 2.0,
            "MaxDelaySeconds": 300,
            "JitterStrategy": "FULL",
            "Comment": "Glue refused to start the run (concurrency limit, throttling): wait and ask again",
        },
        {
            "ErrorEquals": ["States.TaskFailed"],
            "IntervalSeconds": 15,
            "MaxAttempts": 1,
            "BackoffRate": 1.0,
            "JitterStrategy": "FULL",
            "Comment": "the job run failed: one more run (jobs overwrite only their own partitions)",
        },
    ]
    for name in ("plan", "small_date", "publish", "dashboard_refresh", "release_lock", "release_lock_after_failure"):
        assert states[name]["Retry"] == [LAMBDA_RETRIER], name
    assert states["data_quality"]["Retry"] == glue
    # A failed critical check is a verdict: never retried (and first, so the Lambda retrier never sees it).
    assert states["audit"]["Retry"] == [
        {
            "ErrorEquals": ["DataQualityError"],
            "IntervalSeconds": 1,
            "MaxAttempts": 0,
            "BackoffRate": 2.0,
            "JitterStrategy": "NONE",
            "Comment": "a failed critical check is a verdict on the data: never retried",
        },
        LAMBDA_RETRIER,
    ]
    # Another execution holds the lake: queue behind it.
    assert states["acquire_lock"]["Retry"] == [
        {
            "ErrorEquals": ["RunLockBusyError"],
            "IntervalSeconds": 60,
            "MaxAttempts": 24,
            "BackoffRate": 1.5,
            "MaxDelaySeconds": 300,
            "JitterStrategy": "FULL",
            "Comment": "another execution holds the lake: queue behind it (about 2 hours at most)",
        },
        LAMBDA_RETRIER,
    ]


# Errors that mean the task never ran (a refusal to start): an attempt ending in one costs no
# run time, only the wait before the next.
REFUSALS = {"RunLockBusyError", "Glue.ConcurrentRunsExceededException", "Glue.ThrottlingException"}


def worst_case(state: dict[str, Any]) -> float:
    """The longest a rendered state can take, read from the ASL alone (an oracle for the spec's own sum)."""
    if state["Type"] == "Choice":
        return 0.0
    if state["Type"] == "Parallel":
        return max(worst_case(b["States"][b["StartAt"]]) for b in state["Branches"])
    slow_attempts, waits = 1, 0.0
    for retrier in state["Retry"]:
        if not REFUSALS & set(retrier["ErrorEquals"]):
            slow_attempts += retrier["MaxAttempts"]
        for n in range(retrier["MaxAttempts"]):
            delay = retrier["IntervalSeconds"] * retrier["BackoffRate"] ** n
            waits += min(delay, retrier.get("MaxDelaySeconds", delay))
    return slow_attempts * state["TimeoutSeconds"] + waits


def longest_path(states: dict[str, Any], start: str) -> float:
    """The slowest way from ``start`` to the end, following Next / Choices / Default (not Catch)."""
    state = states[start]
    following = [state.get("Next"), state.get("Default"), *(c["Next"] for c in state.get("Choices", []))]
    rest = [longest_path(states, name) for name in following if name]
    return worst_case(state) + max(rest, default=0.0)


def test_timeouts_leave_room_for_every_retry_and_the_failure_path(asl):
    states = asl["States"]
    timeouts = {n: s["TimeoutSeconds"] for n, s, _ in all_states(states) if s["Type"] == "Task"}
    assert timeouts == {
        "acquire_lock": 60,
        "plan": 120,
        "small_date": 900,
        "transaction_etl": 3600,
        "product_enrichment": 3600,
        "clickstream_aggregation": 3600,
        "master_data_merge": 3600,
        "data_quality": 1800,
        "audit": 120,
        "publish": 300,
        "dashboard_refresh": 300,
        "release_lock": 60,
        "notify_success": 60,
        "release_lock_after_failure": 60,
        "notify_failure": 60,
    }
    # The slowest way through (the Glue branch, every retry used), then the failure path.
    total = longest_path(states, "acquire_lock") + worst_case(states["release_lock_after_failure"])
    total += worst_case(states["notify_failure"])
    assert total == pytest.approx(PIPELINE.worst_case_seconds())
    glue = sum(worst_case(states[n]) for n in ("etl", "master_data_merge", "data_quality"))
    assert longest_path(states, "small_enough") == pytest.approx(glue + longest_path(states, "audit"))
    # The execution timeout (which no Catch sees) is longer than everything that can go wrong.
    assert asl["TimeoutSeconds"] == 36000
    assert total < asl["TimeoutSeconds"]


def test_every_top_level_step_catches_into_the_cleanup_then_the_notification(asl):
    states = asl["States"]
    steps = [n for n, s in states.items() if s["Type"] in ("Task", "Parallel")]
    steps = [n for n in steps if n not in ("release_lock_after_failure", "notify_failure")]
    assert len(steps) == 11  # the branches' steps are top-level states too
    for name in steps:
        (catch,) = states[name]["Catch"]
        assert catch == {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "release_lock_after_failure"}
    # The cleanup goes on to the notification whatever happens, keeping "$.error" (the original error).
    assert states["release_lock_after_failure"]["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.release_lock_after_failure_error", "Next": "notify_failure"}
    ]
    assert states["release_lock_after_failure"]["ResultPath"] == "$.release_lock_after_failure"
    assert states["release_lock_after_failure"]["Parameters"]["Payload"] == {
        "run_id.$": "$$.Execution.Name",
        "execution_id.$": "$$.Execution.Id",
        "action": "release",
    }
    assert states["notify_failure"]["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.notify_error", "Next": "failed"}
    ]
    nested = [n for n, s, depth in all_states(states) if depth > 0]
    assert nested
    assert all("Catch" not in s for n, s, d in all_states(states) if d > 0)


def test_tasks_use_the_expected_service_integrations(asl):
    resources = {n: s["Resource"] for n, s, _ in all_states(asl["States"]) if s["Type"] == "Task"}
    assert {resources[str(j)] for j in Job} == {GLUE_SYNC}
    lambdas = ("acquire_lock", "plan", "small_date", "audit", "publish", "dashboard_refresh", "release_lock")
    assert {resources[n] for n in (*lambdas, "release_lock_after_failure")} == {LAMBDA_INVOKE}
    assert resources["notify_success"] == resources["notify_failure"] == SNS_PUBLISH


def test_glue_arguments_use_the_contract_job_arg_names(asl):
    for name, state, _ in all_states(asl["States"]):
        if state.get("Resource") == GLUE_SYNC:
            assert state["Parameters"]["Arguments"] == {
                f"--{JobArg.DATES}.$": "$.joined_dates.csv",
                f"--{JobArg.RUN_ID}.$": "$$.Execution.Name",
            }, name
            assert set(state["ResultSelector"]) == {"job.$", "run_id.$", "state.$"}


def test_lambda_payloads_and_results(asl):
    states = asl["States"]
    functions = RESOURCES.functions
    expected = {
        "acquire_lock": (
            PipelineFunction.RUN_LOCK,
            {"run_id.$": "$$.Execution.Name", "execution_id.$": "$$.Execution.Id", "action": "acquire"},
        ),
        "plan": (PipelineFunction.PLAN, {"dates.$": "$.dates", "run_id.$": "$$.Execution.Name"}),
        "small_date": (PipelineFunction.SMALL_DATE, {"run_id.$": "$$.Execution.Name"}),
        "audit": (PipelineFunction.DATA_QUALITY, {"run_id.$": "$$.Execution.Name"}),
        "publish": (PipelineFunction.PUBLISH, {"run_id.$": "$$.Execution.Name"}),
        "dashboard_refresh": (
            PipelineFunction.DASHBOARD_REFRESH,
            {"dates.$": "$.dates", "run_id.$": "$$.Execution.Name"},
        ),
        "release_lock": (
            PipelineFunction.RUN_LOCK,
            {"run_id.$": "$$.Execution.Name", "execution_id.$": "$$.Execution.Id", "action": "release"},
        ),
    }
    for name, (function, payload) in expected.items():
        assert states[name]["Parameters"] == {"FunctionName": functions[function], "Payload": payload}, name
        assert states[name]["ResultSelector"] == {"payload.$": "$.Payload"}
        assert states[name]["ResultPath"] == f"$.{name}"


def test_notifications_publish_to_the_topic_with_stage_in_subject(asl):
    ok = asl["States"]["notify_success"]["Parameters"]
    assert ok["TopicArn"] == RESOURCES.alerts_topic_arn
    assert ok["Subject"] == "ecomlake prod: pipeline run succeeded"
    assert ok["Message.$"].startswith("States.Format('ecomlake pipeline run {} succeeded")
    failed = asl["States"]["notify_failure"]["Parameters"]
    assert "$.error.Error" in failed["Message.$"]
    assert "$.error.Cause" in failed["Message.$"]


def test_missing_resources_are_refused():
    partial = PipelineResources(glue_jobs={}, functions={}, alerts_topic_arn="arn:aws:sns:us-east-1:1:t")
    with pytest.raises(ValueError, match="transaction_etl"):
        definition(partial)


def test_partition_is_applied_to_integration_arns():
    china = PipelineResources(
        RESOURCES.glue_jobs,
        RESOURCES.functions,
        RESOURCES.alerts_topic_arn,
        stage="prod",
        partition="aws-cn",
        settings=RESOURCES.settings,
    )
    resources = {s["Resource"] for _, s, _ in all_states(definition(china)["States"]) if s["Type"] == "Task"}
    assert resources == {
        "arn:aws-cn:states:::glue:startJobRun.sync",
        "arn:aws-cn:states:::lambda:invoke",
        "arn:aws-cn:states:::sns:publish",
    }


def test_placeholders_follow_the_stack_naming():
    dev = PipelineResources.placeholders("dev")
    assert dev.glue_jobs[Job.MASTER_DATA_MERGE] == "ecomlake-dev-master-data-merge"
    assert dev.functions[PipelineFunction.DATA_QUALITY].endswith(":function:ecomlake-dev-data-quality")
    assert dev.functions[PipelineFunction.RUN_LOCK].endswith(":function:ecomlake-dev-run-lock")
    with pytest.raises(ValueError, match="stage"):
        PipelineResources.placeholders("Dev Stage")


# --------------------------------------------------------------------------- templates and diagram


def test_format_expression_escapes_literals_and_keeps_static_text():
    text, dynamic = format_expression("it's {run_id} {{braces}} a\\b", {})
    assert dynamic
    assert text == "States.Format('it\\'s {} \\{braces\\} a\\\\b', $$.Execution.Name)"
    assert format_expression("ecomlake {stage}: ok", {Input.STAGE: "dev"}) == ("ecomlake dev: ok", False)


def test_mermaid_shows_every_state_and_the_failure_edges(asl):
    chart = mermaid(asl)
    for name, _, _ in all_states(asl["States"]):
        assert name in chart
    assert "etl -.->|error| release_lock_after_failure" in chart
    assert "small_enough -->|yes| small_date" in chart
    assert "small_enough -->|no| etl" in chart
    assert 'small_enough{"small_enough?"}' in chart
    assert "release_lock_after_failure --> notify_failure" in chart
    assert 'notify_success --> done(("succeeded"))' in chart


def test_readme_section_carries_the_current_diagram():
    chart = mermaid(definition(PipelineResources.placeholders("dev")))
    assert f"```mermaid\n{chart}```" in DOCS.read_text(encoding="utf-8"), (
        "docs/orchestration.md is stale: paste the output of `ecomlake asl --mermaid`"
    )
