"""Lambda: start the pipeline for an accepted raw file ("Raw File Accepted" from the validator).

Parses dataset and date from the key, and starts one Step Functions execution with input
``{"dates": [D], "datasets": [dataset], "trigger": {...}}`` under a name derived from the
key and ETag, so a repeated delivery does not start a second run. Keys outside the raw
layout are logged and skipped. Environment: ``ECOMLAKE_STATE_MACHINE_ARN``.
"""

from __future__ import annotations

import os
from typing import Any

from ecomlake.contract import EnvVar
from ecomlake.ingest.service import route_event
from handlers._aws import Logger, aws_client

logger = Logger(service="file_router")


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    arn = os.environ.get(EnvVar.STATE_MACHINE_ARN)
    if not arn:
        raise RuntimeError(f"{EnvVar.STATE_MACHINE_ARN} is not set")
    result = route_event(event, sfn_client=aws_client("stepfunctions"), state_machine_arn=arn)
    for run in result["runs"]:
        log = logger.warning if run["status"] == "ignored" else logger.info
        log(f"{run['status']}: {run['key']}", **run)
    return result
