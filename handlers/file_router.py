"""Lambda: start the pipeline for a business date once all its datasets are in ("Raw File Accepted").

For the date of each accepted file, lists ``raw/<dataset>/date=D/`` for every dataset and
reads the validator's reports (``_reports/validation/...``). While a required dataset has
no accepted file the answer is ``waiting`` with the missing datasets (logged, nothing
started). Once the date is complete it starts ONE Step Functions execution with input
``{"dates": [D], "datasets": [every dataset present], "trigger": {...}}``, named
``<D>-<hash of the sorted (key, ETag) of the date's accepted files>``: a repeated delivery
starts nothing new (``already_started``), a corrected file landed later starts a new run,
and an event for a date whose execution failed, timed out or was aborted starts a re-run
(``<name>-r2``, ``-r3``...; ``rerun_of`` names the failed attempt). After
``ecomlake.ingest.router.MAX_ATTEMPTS`` failed attempts of the same files it answers
``attempts_exhausted`` (logged as a warning) and starts nothing. Keys outside the raw layout
are logged and skipped.

Infrastructure wiring (environment and IAM this function needs):

* ``ECOMLAKE_STATE_MACHINE_ARN`` (required) -- ``states:StartExecution`` on that state machine,
  and ``states:DescribeExecution`` on its executions
  (``arn:aws:states:<region>:<account>:execution:<state machine name>:*``), to tell a
  redelivered event from a new start.
* ``ECOMLAKE_REPORTS_BUCKET`` (required) -- ``s3:GetObject`` on ``_reports/validation/*`` and
  ``s3:ListBucket`` on the bucket (without ListBucket a missing report reads as 403, not 404).
* ``ECOMLAKE_RAW_BUCKET`` (falls back to the bucket named in the event) -- ``s3:ListBucket``
  on the bucket, prefix ``raw/``; the router never reads raw objects.
* ``kms:Decrypt`` on the lake's KMS key (the reports bucket is SSE-KMS encrypted).
* Optional ``ECOMLAKE_REQUIRED_DATASETS`` -- comma list of datasets a date needs before it
  runs (default: transactions, products, clickstream, reviews).

A malformed event gets one logged error, ``{"status": "invalid_event", ...}`` and an
``InvalidEvents`` metric, never a retry; a missing variable above is a deployment fault
and raises (retried, then dead-lettered and alarmed).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ecomlake.contract import EnvVar
from ecomlake.ingest.router import required_datasets
from ecomlake.ingest.service import route_event
from handlers._aws import aws_client, lake_storage
from handlers._powertools import MALFORMED_EVENT_ERRORS, invalid_event, log_fields, powertools, require_env

tools = powertools("file_router")
logger, tracer = tools.logger, tools.tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)  # results hold business data
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    env = require_env(EnvVar.STATE_MACHINE_ARN, EnvVar.REPORTS_BUCKET)
    required = required_datasets()  # a bad ECOMLAKE_REQUIRED_DATASETS is configuration, not the event
    try:
        result = route_event(
            event,
            sfn_client=aws_client("stepfunctions"),
            state_machine_arn=env[EnvVar.STATE_MACHINE_ARN],
            storage_for=lake_storage,
            required=required,
        )
    except MALFORMED_EVENT_ERRORS as err:
        return {**invalid_event(tools, err, event), "runs": [], "started": 0, "waiting": 0}
    for run in result["runs"]:
        log = logger.warning if run["status"] in ("ignored", "attempts_exhausted") else logger.info
        detail = f" ({run['detail']})" if run.get("detail") else ""
        log(f"{run['status']}: {run['key']}{detail}", **log_fields(run, "execution"))
    return result
