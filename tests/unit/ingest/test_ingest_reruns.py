"""A failed date runs again: the router's attempts on moto's Step Functions, which really executes them."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from ecomlake.ingest import router
from ecomlake.ingest.router import AcceptedFile, Trigger, date_execution_name, start_date_pipeline

DAY = "2025-01-15"
FILES = [AcceptedFile(f"raw/{ds}/date={DAY}/{ds}.csv", etag=f"etag-{ds}") for ds in ("transactions", "products")]
DATASETS = ["transactions", "products"]
TRIGGER = Trigger(FILES[-1].key, "ecomlake-dev-raw", "etag-products", 10)
NAME = date_execution_name(DAY, FILES)
ROLE = "arn:aws:iam::123456789012:role/ecomlake-dev-pipeline"
MACHINES = {
    "fails": {"StartAt": "boom", "States": {"boom": {"Type": "Fail", "Error": "PipelineFailed", "Cause": "test"}}},
    "passes": {"StartAt": "ok", "States": {"ok": {"Type": "Pass", "End": True}}},
    "waits": {"StartAt": "wait", "States": {"wait": {"Type": "Wait", "Seconds": 3600, "End": True}}},
    "times_out": {
        "TimeoutSeconds": 1,
        "StartAt": "wait",
        "States": {"wait": {"Type": "Wait", "Seconds": 30, "End": True}},
    },
}


class Pipeline:
    """One state machine whose behaviour the test switches between attempts."""

    def __init__(self, behaviour: str) -> None:
        self.sfn = boto3.client("stepfunctions", region_name="us-east-1")
        self.arn = self.sfn.create_state_machine(
            name="ecomlake-dev-pipeline", definition=json.dumps(MACHINES[behaviour]), roleArn=ROLE
        )["stateMachineArn"]

    def behave(self, behaviour: str) -> None:
        self.sfn.update_state_machine(stateMachineArn=self.arn, definition=json.dumps(MACHINES[behaviour]))

    def start(self) -> router.PipelineStart:
        return start_date_pipeline(self.sfn, self.arn, DAY, DATASETS, FILES, TRIGGER)

    def settle(self, arn: str | None) -> str:
        assert arn is not None
        deadline = time.monotonic() + 30
        while (status := self.sfn.describe_execution(executionArn=arn)["status"]) == "RUNNING":
            assert time.monotonic() < deadline, "execution did not end"
            time.sleep(0.05)
        return status

    def names(self) -> list[str]:
        return sorted(e["name"] for e in self.sfn.list_executions(stateMachineArn=self.arn)["executions"])

    def input_of(self, arn: str | None) -> dict[str, Any]:
        return json.loads(self.sfn.describe_execution(executionArn=arn)["input"])


@pytest.fixture
def sfn() -> Iterator[None]:
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield


def test_a_failed_date_runs_again_under_the_next_attempt_name(sfn: None):
    pipeline = Pipeline("fails")
    first = pipeline.start()
    assert (first.status, first.name, first.rerun_of) == ("started", NAME, None)
    assert pipeline.settle(first.execution_arn) == "FAILED"

    second = pipeline.start()
    assert (second.status, second.name) == ("started", f"{NAME}-r2")
    assert second.rerun_of == {"name": NAME, "status": "FAILED"}
    assert second.execution_arn == first.execution_arn.replace(NAME, f"{NAME}-r2")
    assert pipeline.input_of(second.execution_arn)["dates"] == [DAY]
    assert pipeline.settle(second.execution_arn) == "FAILED"

    pipeline.behave("passes")  # the cause was fixed
    third = pipeline.start()
    assert (third.status, third.name, third.rerun_of) == (
        "started",
        f"{NAME}-r3",
        {"name": f"{NAME}-r2", "status": "FAILED"},
    )
    assert pipeline.settle(third.execution_arn) == "SUCCEEDED"

    # Succeeded: the same files are done; nothing more starts.
    done = pipeline.start()
    assert (done.status, done.name) == ("already_started", f"{NAME}-r3")
    assert pipeline.names() == [NAME, f"{NAME}-r2", f"{NAME}-r3"]
    assert done.to_dict()["rerun_of"] == {"name": f"{NAME}-r2", "status": "FAILED"}


def test_a_running_attempt_is_not_started_twice(sfn: None):
    pipeline = Pipeline("waits")
    first = pipeline.start()
    again = pipeline.start()
    assert (again.status, again.name, again.execution_arn) == ("already_started", NAME, first.execution_arn)
    assert pipeline.names() == [NAME]
    pipeline.sfn.stop_execution(executionArn=first.execution_arn)


def test_a_rerun_in_progress_absorbs_duplicate_deliveries(sfn: None):
    pipeline = Pipeline("fails")
    pipeline.settle(pipeline.start().execution_arn)
    pipeline.behave("waits")
    rerun = pipeline.start()
    duplicate = pipeline.start()
    assert (rerun.status, duplicate.status) == ("started", "already_started")
    assert duplicate.name == rerun.name == f"{NAME}-r2"
    assert pipeline.names() == [NAME, f"{NAME}-r2"]
    pipeline.sfn.stop_execution(executionArn=rerun.execution_arn)


@pytest.mark.parametrize("ending", ["TIMED_OUT", "ABORTED"])
def test_timed_out_and_aborted_dates_run_again(sfn: None, ending: str):
    pipeline = Pipeline("times_out" if ending == "TIMED_OUT" else "waits")
    first = pipeline.start()
    if ending == "ABORTED":
        pipeline.sfn.stop_execution(executionArn=first.execution_arn)
    assert pipeline.settle(first.execution_arn) == ending
    pipeline.behave("passes")
    again = pipeline.start()
    assert (again.status, again.name, again.rerun_of) == ("started", f"{NAME}-r2", {"name": NAME, "status": ending})


def test_attempts_stop_after_the_limit(sfn: None, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(router, "MAX_ATTEMPTS", 3)
    pipeline = Pipeline("fails")
    for _ in range(3):
        pipeline.settle(pipeline.start().execution_arn)
    exhausted = pipeline.start()
    assert (exhausted.status, exhausted.execution_arn) == ("attempts_exhausted", None)
    assert exhausted.rerun_of == {"name": f"{NAME}-r3", "status": "FAILED"}
    assert pipeline.names() == [NAME, f"{NAME}-r2", f"{NAME}-r3"]


def test_attempt_names_stay_valid_execution_names():
    assert router.attempt_name(NAME, 1) == NAME
    assert router.attempt_name(NAME, 20) == f"{NAME}-r20"
    assert router.EXECUTION_NAME_RE.match(router.attempt_name(NAME, router.MAX_ATTEMPTS))
    assert len(router.attempt_name(NAME, router.MAX_ATTEMPTS)) <= 80
