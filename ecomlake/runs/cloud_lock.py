"""One writer in the cloud: a lease on the lake in DynamoDB, held by one Step Functions execution.

The router starts one execution per complete date, so several executions can be under way at
once; only the one holding the lake's lease may plan, write, audit and publish. The lease is
one item per lake (its key is the stage) in the stack's lock table::

    {"lake": "prod", "execution_id": "<execution ARN>", "run_id": "<execution name>", "since": "..."}

* **acquire** is one conditional ``PutItem`` (no item, or already ours: a retried invocation
  is re-entrant). When another execution holds it, that execution is looked up with
  ``states:DescribeExecution``: while it is ``RUNNING`` (or ``PENDING_REDRIVE``) this one
  raises :class:`RunLockBusyError`, which the state machine's ``LOCK_RETRY`` retries -- the
  execution queues behind the holder. A holder that ended without releasing (aborted, timed
  out, or failed where no cleanup ran) is taken over with a second conditional write naming
  the old holder, so two waiters can never both win -- but only once it has been stopped for
  :data:`LINGER_SECONDS`: Step Functions does not stop a Lambda invocation that is under way
  when an execution is aborted, and such a straggler must not publish or collect garbage
  under the new holder's feet.
* **release** is a conditional ``DeleteItem`` (only the holder may delete). Releasing a lease
  one does not hold is a no-op: the failure path releases whatever the failed step was,
  including ``acquire_lock`` itself.

Why not a TTL lease: a run's length is not known in advance (a backfill may take hours), and
Step Functions already knows for certain whether the holder is alive.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

from ecomlake.contract import parse_run_id
from ecomlake.exceptions import EcomlakeError, InvalidArgumentError

LOCK_KEY: Final = "lake"  # the lock table's partition key (a string: the stage)
# Execution statuses whose holder may still write: it keeps the lease.
ALIVE: Final = frozenset({"RUNNING", "PENDING_REDRIVE"})
MISSING: Final = "MISSING"  # DescribeExecution does not know the holder any more (history expired)
# How long after its execution stopped a holder's last task may still run: Lambda's
# 15-minute maximum (a Glue job run of an aborted execution is stopped by Step Functions).
LINGER_SECONDS: Final = 15 * 60
# Rounds of "write failed -> look at the holder" before giving up for this attempt.
ROUNDS: Final = 3


class RunLockBusyError(EcomlakeError):
    """Another execution holds the lake; the state machine retries (``pipeline.RUN_LOCK_BUSY``)."""


class LockAction(StrEnum):
    ACQUIRE = "acquire"
    RELEASE = "release"


@dataclass(frozen=True)
class LockRequest:
    """The lock step's payload: ``{"run_id", "execution_id", "action"}``."""

    run_id: str
    execution_id: str
    action: LockAction

    @classmethod
    def parse(cls, event: Any) -> LockRequest:
        if not isinstance(event, Mapping):
            raise InvalidArgumentError(
                f"event must be an object with run_id, execution_id and action, got {type(event).__name__}"
            )
        missing = [k for k in ("run_id", "execution_id", "action") if not isinstance(event.get(k), str)]
        if missing:
            raise InvalidArgumentError(f"event needs string field(s): {', '.join(missing)}")
        try:
            action = LockAction(event["action"])
        except ValueError:
            known = ", ".join(LockAction)
            raise InvalidArgumentError(f"unknown action {event['action']!r}; expected one of: {known}") from None
        execution = event["execution_id"].strip()
        if not execution:
            raise InvalidArgumentError("execution_id is empty")
        return cls(parse_run_id(event["run_id"]), execution, action)


@dataclass(frozen=True)
class Holder:
    """Who holds the lease, as the item says."""

    execution_id: str
    run_id: str
    since: str

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Holder:
        def text(name: str) -> str:
            return str(item.get(name, {}).get("S", ""))

        return cls(text("execution_id"), text("run_id"), text("since"))

    def describe(self) -> str:
        return f"run {self.run_id} (execution {self.execution_id}, holding since {self.since})"

    def to_dict(self) -> dict[str, str]:
        return {"execution_id": self.execution_id, "run_id": self.run_id, "since": self.since}


@dataclass(frozen=True)
class ExecutionState:
    status: str
    stopped: datetime | None = None


def execution_state(sfn: Any, execution_arn: str) -> ExecutionState:
    """The holder's execution status (``MISSING`` when Step Functions no longer knows it)."""
    try:
        described = sfn.describe_execution(executionArn=execution_arn)
    except sfn.exceptions.ExecutionDoesNotExist:
        return ExecutionState(MISSING)
    stopped = described.get("stopDate")
    return ExecutionState(str(described["status"]), stopped if isinstance(stopped, datetime) else None)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


class RunLock:
    """The lease of one lake in one lock table. ``dynamodb`` and ``sfn`` are boto3 clients."""

    def __init__(self, dynamodb: Any, sfn: Any, table: str, lake: str, *, linger_seconds: int = LINGER_SECONDS):
        if not lake:
            raise InvalidArgumentError("the lock needs the lake's name (the stage)")
        self.dynamodb, self.sfn, self.table, self.lake = dynamodb, sfn, table, lake
        self.linger_seconds = linger_seconds

    @property
    def key(self) -> dict[str, dict[str, str]]:
        return {LOCK_KEY: {"S": self.lake}}

    def holder(self) -> Holder | None:
        item = self.dynamodb.get_item(TableName=self.table, Key=self.key, ConsistentRead=True).get("Item")
        return None if item is None else Holder.from_item(item)

    def acquire(self, run_id: str, execution_id: str, *, now: datetime | None = None) -> dict[str, Any]:
        """Take the lease for ``execution_id``, or raise :class:`RunLockBusyError` while another holds it."""
        moment = now or datetime.now(UTC)
        item = {
            **self.key,
            "execution_id": {"S": execution_id},
            "run_id": {"S": parse_run_id(run_id)},
            "since": {"S": _stamp(moment)},
        }
        for _ in range(ROUNDS):
            if self._put(item, "attribute_not_exists(#lake) OR #holder = :me", {":me": {"S": execution_id}}):
                return {"status": "acquired", "lake": self.lake, "holder": Holder.from_item(item).to_dict()}
            current = self.holder()
            if current is None:
                continue  # released in between: try again
            if current.execution_id == execution_id:
                continue  # cannot happen with a consistent read; ask again rather than guess
            state = execution_state(self.sfn, current.execution_id)
            if state.status in ALIVE:
                raise RunLockBusyError(
                    f"the lake {self.lake!r} is held by {current.describe()}, which is {state.status}; "
                    f"run {run_id} waits for it"
                )
            if state.stopped is not None and (moment - state.stopped).total_seconds() < self.linger_seconds:
                raise RunLockBusyError(
                    f"the lake {self.lake!r} is held by {current.describe()}, which ended {state.status} at "
                    f"{_stamp(state.stopped)} without releasing it; a task it started may still be running, "
                    f"so run {run_id} takes it over {self.linger_seconds // 60} minutes after that"
                )
            if self._put(item, "#holder = :old", {":old": {"S": current.execution_id}}):
                return {
                    "status": "taken_over",
                    "lake": self.lake,
                    "holder": Holder.from_item(item).to_dict(),
                    "previous": {**current.to_dict(), "status": state.status},
                }
        raise RunLockBusyError(f"the lake {self.lake!r} changed hands while run {run_id} asked for it; asking again")

    def release(self, execution_id: str) -> dict[str, Any]:
        """Give the lease up if ``execution_id`` holds it; otherwise change nothing."""
        try:
            self.dynamodb.delete_item(
                TableName=self.table,
                Key=self.key,
                ConditionExpression="#holder = :me",
                ExpressionAttributeNames={"#holder": "execution_id"},
                ExpressionAttributeValues={":me": {"S": execution_id}},
            )
        except self.dynamodb.exceptions.ConditionalCheckFailedException:
            current = self.holder()
            return {
                "status": "not_held",
                "lake": self.lake,
                "holder": None if current is None else current.to_dict(),
            }
        return {"status": "released", "lake": self.lake}

    def handle(self, request: LockRequest, *, now: datetime | None = None) -> dict[str, Any]:
        if request.action is LockAction.ACQUIRE:
            return self.acquire(request.run_id, request.execution_id, now=now)
        return self.release(request.execution_id)

    def _put(self, item: dict[str, Any], condition: str, values: dict[str, Any]) -> bool:
        names = {"#holder": "execution_id"}
        if "#lake" in condition:
            names["#lake"] = LOCK_KEY
        try:
            self.dynamodb.put_item(
                TableName=self.table,
                Item=item,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except self.dynamodb.exceptions.ConditionalCheckFailedException:
            return False
        return True
