"""Lambda: the pipeline's ``publish`` step (``ecomlake.runs.cloud_steps.publish_step``).

Invoked by Step Functions with ``{"run_id": <execution name>}`` once the audit passed.
Publishes what the run wrote as the next snapshot (one create-if-absent write of
``_catalog/history/<seq>.json``: ``If-None-Match: *``), copies the audit's reports into place,
deletes versions no reader can reach (keeping the previous snapshot's), then switches the
Glue catalog's partitions and unpartitioned tables to the new versions. Without a passing
audit verdict it raises ``DataQualityError`` and changes nothing; if another run published
since this one's plan, ``PublishConflictError``. Neither is retried.

``{"action": "sync_catalog"}`` instead re-syncs the catalog with the published snapshot and
publishes nothing: the deployment invokes it after a ``pulumi up`` that rewrote a table.

Environment: the ``ECOMLAKE_*_BUCKET`` variables and ``ECOMLAKE_GLUE_DATABASE``.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ecomlake.contract import EnvVar
from ecomlake.runs.cloud_steps import is_sync_request, publish_step, step_run_id, sync_step
from ecomlake.storage import S3Storage
from handlers._aws import aws_client, boto3_session, lake_buckets
from handlers._powertools import failures_logged, powertools, require_env

tools = powertools("publish")
logger, tracer = tools.logger, tools.tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    with failures_logged(logger, "cannot publish"):
        database = require_env(EnvVar.GLUE_DATABASE, EnvVar.REPORTS_BUCKET)[EnvVar.GLUE_DATABASE]
        run_id = None if is_sync_request(event) else step_run_id(event)
    storage = S3Storage(lake_buckets(), boto3_session())
    if run_id is None:
        synced = sync_step(storage, aws_client("glue"), database)
        logger.info(f"catalog synced with snapshot {synced['snapshot']}", catalog=synced)
        return synced
    with failures_logged(logger, f"run {run_id} not published", run_id=run_id):
        result = publish_step(storage, aws_client("glue"), database, run_id)
    logger.info(
        f"published snapshot {result['snapshot']}",
        run_id=run_id,
        already_published=result["already_published"],
        garbage=result["garbage"],
        catalog=result["catalog"],
    )
    return result
