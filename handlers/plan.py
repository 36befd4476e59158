"""Lambda: the pipeline's ``plan`` step (``ecomlake.runs.cloud_steps.plan_step``).

Invoked by Step Functions with ``{"dates": [...], "run_id": <execution name>}``. Loads the
published snapshot (finishing a publication that stopped after its commit), decides the dates
the run computes (those asked for, plus published partitions found missing), writes
``_runs/<run_id>/plan.json`` for the Glue jobs, the audit and the publish step, and brings
the Glue catalog up to the published snapshot if it lags. Reads nothing but object listings,
the snapshot and the catalog's table entries.

Environment: the ``ECOMLAKE_*_BUCKET`` variables (zone -> bucket; the snapshot and the run's
folder live in the reports bucket) and ``ECOMLAKE_GLUE_DATABASE``. A payload that is not that
shape raises ``InvalidArgumentError`` with one logged line; it is not retried.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ecomlake.contract import EnvVar
from ecomlake.runs.cloud_steps import plan_step, step_dates, step_run_id
from ecomlake.storage import S3Storage
from handlers._aws import aws_client, boto3_session, lake_buckets
from handlers._powertools import failures_logged, powertools, require_env

tools = powertools("plan")
logger, tracer = tools.logger, tools.tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)  # the plan names the run's dates
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    with failures_logged(logger, "cannot plan the run"):
        run_id, dates = step_run_id(event), step_dates(event)
        database = require_env(EnvVar.GLUE_DATABASE, EnvVar.REPORTS_BUCKET)[EnvVar.GLUE_DATABASE]
    storage = S3Storage(lake_buckets(), boto3_session())
    result = plan_step(storage, aws_client("glue"), database, run_id, dates)
    logger.info(
        "planned",
        run_id=run_id,
        base_seq=result["base_seq"],
        dates=result["dates"],
        repair=result["repair"],
        notes=result["notes"],
        catalog=result["catalog"],
    )
    return result
