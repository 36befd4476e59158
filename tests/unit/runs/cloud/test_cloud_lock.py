"""The cloud run lock (a DynamoDB lease checked against Step Functions) under moto, and its Lambda."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import boto3
import pytest
from cloud_aws import LOCK_TABLE, REGION, Executions

from ecomlake.exceptions import InvalidArgumentError
from ecomlake.pipeline import LOCK_RETRY, PIPELINE, RUN_LOCK_BUSY, LambdaStep
from ecomlake.runs.cloud_lock import LINGER_SECONDS, LockAction, LockRequest, RunLock, RunLockBusyError
from handlers import run_lock
from tests.unit.lambda_support import LambdaContext, log_lines


def lock(table: str, lake: str = "test") -> RunLock:
    return RunLock(
        boto3.client("dynamodb", region_name=REGION), boto3.client("stepfunctions", region_name=REGION), table, lake
    )


def item(table: str, lake: str = "test") -> dict[str, str] | None:
    found = boto3.client("dynamodb", region_name=REGION).get_item(TableName=table, Key={"lake": {"S": lake}})
    return None if "Item" not in found else {k: v["S"] for k, v in found["Item"].items()}


def test_the_busy_error_is_the_name_the_state_machine_retries():
    assert RunLockBusyError.__name__ == RUN_LOCK_BUSY == "RunLockBusyError"
    acquire = PIPELINE.step("acquire_lock")
    assert isinstance(acquire, LambdaStep)
    assert acquire.retry == LOCK_RETRY
    assert acquire.retry[0].errors == ("RunLockBusyError",)
    # ... and only acquire waits: a release never raises it.
    for name in ("release_lock", "release_lock_after_failure"):
        step = PIPELINE.step(name)
        assert isinstance(step, LambdaStep)
        assert all(RUN_LOCK_BUSY not in p.errors for p in step.retry)


def test_acquire_then_release(lock_table: str, executions: Executions):
    me = executions.running("run-a")
    held = lock(lock_table).acquire("run-a", me)
    assert held["status"] == "acquired"
    assert item(lock_table) == {"lake": "test", "execution_id": me, "run_id": "run-a", "since": held["holder"]["since"]}
    assert lock(lock_table).release(me) == {"status": "released", "lake": "test"}
    assert item(lock_table) is None


def test_acquire_is_reentrant_for_a_retried_invocation(lock_table: str, executions: Executions):
    me = executions.running("run-a")
    assert lock(lock_table).acquire("run-a", me)["status"] == "acquired"
    assert lock(lock_table).acquire("run-a", me)["status"] == "acquired"
    assert item(lock_table)["execution_id"] == me


def test_a_second_execution_is_blocked_while_the_holder_runs(lock_table: str, executions: Executions):
    first, second = executions.running("run-a"), executions.running("run-b")
    lock(lock_table).acquire("run-a", first)
    with pytest.raises(RunLockBusyError) as info:
        lock(lock_table).acquire("run-b", second)
    message = str(info.value)
    assert "held by run run-a" in message
    assert first in message
    assert "RUNNING" in message
    assert "run run-b waits" in message
    assert item(lock_table)["execution_id"] == first  # untouched


def test_other_lakes_are_independent(lock_table: str, executions: Executions):
    first, second = executions.running("run-a"), executions.running("run-b")
    lock(lock_table, "dev").acquire("run-a", first)
    assert lock(lock_table, "prod").acquire("run-b", second)["status"] == "acquired"


def test_a_failed_holder_that_never_released_is_taken_over(lock_table: str, executions: Executions):
    dead = executions.failed("run-dead")
    stopped = executions.stopped_at(dead)
    lock(lock_table).acquire("run-dead", dead, now=stopped - timedelta(minutes=1))
    me = executions.running("run-new")

    # Within the linger window a task of the dead execution may still be running: wait.
    with pytest.raises(RunLockBusyError, match=r"ended FAILED at .* takes it over 15 minutes after that"):
        lock(lock_table).acquire("run-new", me, now=stopped + timedelta(seconds=LINGER_SECONDS - 5))
    assert item(lock_table)["execution_id"] == dead

    taken = lock(lock_table).acquire("run-new", me, now=stopped + timedelta(seconds=LINGER_SECONDS + 5))
    assert taken["status"] == "taken_over"
    assert taken["previous"]["execution_id"] == dead
    assert taken["previous"]["run_id"] == "run-dead"
    assert taken["previous"]["status"] == "FAILED"
    assert item(lock_table)["execution_id"] == me


@pytest.mark.parametrize("ending", ["aborted", "succeeded"])
def test_any_ended_holder_is_taken_over(lock_table: str, executions: Executions, ending: str):
    dead = getattr(executions, ending)("run-old")
    lock(lock_table).acquire("run-old", dead)
    me = executions.running("run-new")
    later = executions.stopped_at(dead) + timedelta(hours=1)
    taken = lock(lock_table).acquire("run-new", me, now=later)
    assert (taken["status"], taken["previous"]["status"]) == ("taken_over", ending.upper())


def test_a_holder_step_functions_no_longer_knows_is_taken_over(lock_table: str, executions: Executions):
    ghost = "arn:aws:states:us-east-1:123456789012:execution:ecomlake-test-waits:expired-long-ago"
    executions.running("keeps-the-machine")  # the machine exists; this execution never did
    lock(lock_table).acquire("expired-long-ago", ghost)
    taken = lock(lock_table).acquire("run-new", executions.running("run-new"))
    assert (taken["status"], taken["previous"]["status"]) == ("taken_over", "MISSING")


def test_release_by_a_non_holder_is_a_no_op(lock_table: str, executions: Executions):
    holder, other = executions.running("run-a"), executions.running("run-b")
    lock(lock_table).acquire("run-a", holder)
    answer = lock(lock_table).release(other)
    assert answer["status"] == "not_held"
    assert answer["holder"]["execution_id"] == holder
    assert item(lock_table)["execution_id"] == holder


def test_release_of_a_free_lake_is_a_no_op(lock_table: str, executions: Executions):
    # release_lock_after_failure also runs when acquire_lock itself failed.
    answer = lock(lock_table).release(executions.running("run-a"))
    assert answer == {"status": "not_held", "lake": "test", "holder": None}
    assert item(lock_table) is None


def test_two_waiters_racing_for_a_dead_holder_cannot_both_win(lock_table: str, executions: Executions):
    dead = executions.failed("run-dead")
    lock(lock_table).acquire("run-dead", dead)
    later = executions.stopped_at(dead) + timedelta(hours=1)
    first, second = executions.running("run-1"), executions.running("run-2")
    assert lock(lock_table).acquire("run-1", first, now=later)["status"] == "taken_over"
    # The second waiter now finds a live holder (run-1), not the dead one.
    with pytest.raises(RunLockBusyError, match="held by run run-1"):
        lock(lock_table).acquire("run-2", second, now=later)
    assert item(lock_table)["execution_id"] == first


# --------------------------------------------------------------------------- the Lambda


CONTEXT = LambdaContext(function_name="ecomlake-test-run-lock")


@pytest.fixture
def lock_env(lock_table: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("ECOMLAKE_LOCK_TABLE", lock_table)
    monkeypatch.setenv("ECOMLAKE_STAGE", "test")
    return lock_table


def payload(run_id: str, execution_id: str, action: str) -> dict[str, Any]:
    return {"run_id": run_id, "execution_id": execution_id, "action": action}


def test_handler_acquires_blocks_and_releases(lock_env: str, executions: Executions, capsys):
    first, second = executions.running("run-a"), executions.running("run-b")
    assert run_lock.handler(payload("run-a", first, "acquire"), CONTEXT)["status"] == "acquired"
    with pytest.raises(RunLockBusyError):
        run_lock.handler(payload("run-b", second, "acquire"), CONTEXT)
    assert run_lock.handler(payload("run-b", second, "release"), CONTEXT)["status"] == "not_held"
    assert run_lock.handler(payload("run-a", first, "release"), CONTEXT)["status"] == "released"
    assert run_lock.handler(payload("run-b", second, "acquire"), CONTEXT)["status"] == "acquired"
    assert item(LOCK_TABLE)["run_id"] == "run-b"
    messages = [line["message"] for line in log_lines(capsys.readouterr().out)]
    assert "acquire: acquired" in messages
    assert any(m.startswith("lake busy: the lake 'test' is held by run run-a") for m in messages)


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ("acquire", "event must be an object"),
        ({"run_id": "r", "action": "acquire"}, "execution_id"),
        ({"run_id": "r", "execution_id": "arn:x", "action": "grab"}, "unknown action 'grab'"),
        ({"run_id": "../etc", "execution_id": "arn:x", "action": "acquire"}, "invalid run id"),
    ],
)
def test_handler_refuses_a_malformed_payload(lock_env: str, event: Any, message: str, capsys):
    with pytest.raises(InvalidArgumentError, match=message):
        run_lock.handler(event, CONTEXT)
    (line,) = log_lines(capsys.readouterr().out)
    assert line["level"] == "ERROR"
    assert line["error_type"] == "InvalidArgumentError"


def test_lock_request_parses_the_step_payload():
    request = LockRequest.parse(payload("run-a", "arn:aws:states:us-east-1:1:execution:m:run-a", "release"))
    assert request == LockRequest("run-a", "arn:aws:states:us-east-1:1:execution:m:run-a", LockAction.RELEASE)
