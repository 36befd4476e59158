"""Lambda: the pipeline's lock steps (``acquire_lock``, ``release_lock``, ``release_lock_after_failure``).

Invoked by Step Functions with ``{"run_id": <execution name>, "execution_id": <execution ARN>,
"action": "acquire" | "release"}``; the lease logic is ``ecomlake.runs.cloud_lock``. While
another execution holds the lake, ``acquire`` raises ``RunLockBusyError``: the state
machine retries exactly that error name (``ecomlake.pipeline.LOCK_RETRY``), so the
execution queues behind the holder. ``release`` of a lease this execution does not hold
answers ``not_held`` and changes nothing.

Environment: ``ECOMLAKE_LOCK_TABLE`` (the lock table) and ``ECOMLAKE_STAGE`` (the item's key).
Permissions: ``dynamodb:GetItem``/``PutItem``/``DeleteItem`` on that table (SSE-KMS with the
lake key, used through DynamoDB only) and ``states:DescribeExecution`` on the pipeline's
executions. A payload that is not that shape raises ``InvalidArgumentError`` with one logged
line; it is not retried.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ecomlake.contract import EnvVar
from ecomlake.runs.cloud_lock import LockRequest, RunLock, RunLockBusyError
from handlers._aws import aws_client
from handlers._powertools import failures_logged, log_fields, powertools, require_env

tools = powertools("run_lock")
logger, tracer = tools.logger, tools.tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    with failures_logged(logger, "cannot use the run lock"):
        request = LockRequest.parse(event)
        env = require_env(EnvVar.LOCK_TABLE, EnvVar.STAGE)
    lock = RunLock(aws_client("dynamodb"), aws_client("stepfunctions"), env[EnvVar.LOCK_TABLE], env[EnvVar.STAGE])
    try:
        result = lock.handle(request)
    except RunLockBusyError as err:
        logger.info(f"lake busy: {err}", run_id=request.run_id)
        raise
    logger.info(f"{request.action}: {result['status']}", run_id=request.run_id, **log_fields(result, "lock"))
    return result
