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
    INPUT_PATHS,
    JOIN_DATES,
    PipelineResources,
    definition,
    format_expression,
    mermaid,
)
from ecomlake.contract import PARALLEL_ETL_JOBS, Job, JobArg
from ecomlake.pipeline import PIPELINE, Input, PipelineFunction

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
    assert states["more_dates"]["Default"] == "etl"
    chain = [states[name].get("Next") for name in ("etl", "data_quality", "master_data_merge", "dashboard_refresh")]
    assert chain == ["data_quality", "master_data_merge", "dashboard_refresh", "notify_success"]
    assert states["notify_success"]["End"] is True
    assert states["notify_failure"]["Next"] == "failed"
    assert states["failed"]["Type"] == "Fail"
    assert states["failed"]["ErrorPath"] == "$.error.Error"


def test_parallel_has_the_three_etl_branches(asl):
    etl = asl["States"]["etl"]
    assert etl["Type"] == "Parallel"
    names = [b["StartAt"] for b in etl["Branches"]]
    assert names == [str(j) for j in PARALLEL_ETL_JOBS]
    jobs = [b["States"][b["StartAt"]]["Parameters"]["JobName"] for b in etl["Branches"]]
    assert jobs == [f"glue-{j}" for j in PARALLEL_ETL_JOBS]


def test_every_task_has_retry_with_backoff_and_jitter(asl):
    tasks = [(n, s) for n, s, _ in all_states(asl["States"]) if s["Type"] == "Task"]
    assert len(tasks) == 8  # 3 branches + per-date DQ + merge + dashboard + 2 notifications
    for name, state in tasks:
        assert state["Retry"], name
        for retrier in state["Retry"]:
            assert {"ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate", "JitterStrategy"} <= set(retrier)
        assert state["TimeoutSeconds"] > 0


def test_glue_and_lambda_retry_transient_errors(asl):
    glue = asl["States"]["master_data_merge"]["Retry"]
    assert "Glue.ConcurrentRunsExceededException" in glue[0]["ErrorEquals"]
    assert glue[0]["BackoffRate"] == 2.0
    assert glue[0]["JitterStrategy"] == "FULL"
    assert glue[-1]["ErrorEquals"] == ["States.TaskFailed"]
    assert glue[-1]["MaxAttempts"] == 1
    lam = asl["States"]["dashboard_refresh"]["Retry"]
    assert "Lambda.TooManyRequestsException" in lam[0]["ErrorEquals"]
    dq = asl["States"]["data_quality"]["ItemProcessor"]["States"]["data_quality_date"]["Retry"]
    assert dq[0]["ErrorEquals"] == ["DataQualityError"]
    assert dq[0]["MaxAttempts"] == 0


def test_every_top_level_step_catches_into_the_failure_notification(asl):
    states = asl["States"]
    for step in PIPELINE.steps:
        (catch,) = states[step.name]["Catch"]
        assert catch == {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "notify_failure"}
    (own,) = states["notify_failure"]["Catch"]
    assert own["Next"] == "failed"
    assert own["ResultPath"] != "$.error"
    nested = [n for n, s, depth in all_states(states) if depth > 0]
    assert nested
    assert all("Catch" not in s for n, s, d in all_states(states) if d > 0)


def test_tasks_use_the_expected_service_integrations(asl):
    resources = {n: s["Resource"] for n, s, _ in all_states(asl["States"]) if s["Type"] == "Task"}
    assert {resources[str(j)] for j in Job} == {GLUE_SYNC}
    assert resources["data_quality_date"] == resources["dashboard_refresh"] == LAMBDA_INVOKE
    assert resources["notify_success"] == resources["notify_failure"] == SNS_PUBLISH


def test_glue_arguments_use_the_contract_job_arg_names(asl):
    for name, state, _ in all_states(asl["States"]):
        if state.get("Resource") == GLUE_SYNC:
            assert state["Parameters"]["Arguments"] == {f"--{JobArg.DATES}.$": INPUT_PATHS[Input.DATES_CSV]}, name
            assert set(state["ResultSelector"]) == {"job.$", "run_id.$", "state.$"}


def test_lambda_payloads_and_results(asl):
    dashboard = asl["States"]["dashboard_refresh"]
    assert dashboard["Parameters"] == {
        "FunctionName": RESOURCES.functions[PipelineFunction.DASHBOARD_REFRESH],
        "Payload": {"dates.$": "$.dates", "run_id.$": "$$.Execution.Name"},
    }
    assert dashboard["ResultSelector"] == {"payload.$": "$.Payload"}
    dq = asl["States"]["data_quality"]
    assert dq["Type"] == "Map"
    assert dq["ItemsPath"] == "$.dates"
    assert dq["ItemSelector"]["date.$"] == "$$.Map.Item.Value"
    inner = dq["ItemProcessor"]["States"]["data_quality_date"]
    assert inner["Parameters"] == {
        "FunctionName": RESOURCES.functions[PipelineFunction.DATA_QUALITY],
        "Payload.$": "$",
    }


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
        RESOURCES.glue_jobs, RESOURCES.functions, RESOURCES.alerts_topic_arn, stage="prod", partition="aws-cn"
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
    assert "etl -.->|error| notify_failure" in chart
    assert 'notify_success --> done(("succeeded"))' in chart


def test_readme_section_carries_the_current_diagram():
    chart = mermaid(definition(PipelineResources.placeholders("dev")))
    assert f"```mermaid\n{chart}```" in DOCS.read_text(encoding="utf-8"), (
        "docs/orchestration.md is stale: paste the output of `ecomlake asl --mermaid`"
    )
