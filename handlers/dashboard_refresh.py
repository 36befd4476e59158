"""Lambda entry point of the pipeline's ``dashboard_refresh`` step.

Runs every analytics query on Athena (the same ``sql/*.sql`` and parameter binding as
the local build) and writes the page's ``data/`` files into the dashboard bucket, so
CloudFront serves fresh numbers without a query per visitor. Invoked by Step Functions
with ``{"dates": [...], "run_id": "..."}``; the dates only go to the log, because the page
always shows the latest window of the whole lake.

A step input that is not that shape raises ``InvalidArgumentError`` and a missing
``ECOMLAKE_DASHBOARD_BUCKET`` raises ``MissingConfigurationError``, each with one logged
line naming the problem (Step Functions' Catch records it; neither is retried).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ecomlake.contract import EXECUTION_INPUT_DATES, EnvVar, parse_date
from ecomlake.dashboard import cloud_data_files
from ecomlake.dashboard_api import SqlRunner, athena_runner
from ecomlake.exceptions import InvalidArgumentError
from ecomlake.storage import S3Storage
from handlers._aws import aws_client, boto3_session, lake_buckets
from handlers._powertools import failures_logged, powertools, require_env

tools = powertools("dashboard_refresh")
logger, tracer = tools.logger, tools.tracer

# The page re-fetches data files on load; a short max-age keeps CloudFront from serving
# yesterday's numbers for long after a run.
DATA_CACHE_CONTROL = "public, max-age=60"
CONTENT_TYPES = {".json": "application/json", ".js": "text/javascript"}


def content_type(key: str) -> str:
    return next((t for ext, t in CONTENT_TYPES.items() if key.endswith(ext)), "application/octet-stream")


def refresh(
    runner: SqlRunner,
    put_object: Callable[..., Any],
    bucket: str,
) -> dict[str, Any]:
    """Build the data files from ``runner`` and upload each; returns what was written."""
    files = cloud_data_files(runner, reports=S3Storage(lake_buckets(), boto3_session()))
    for key, text in sorted(files.items()):
        put_object(
            Bucket=bucket,
            Key=key,
            Body=text.encode("utf-8"),
            ContentType=content_type(key),
            CacheControl=DATA_CACHE_CONTROL,
        )
    return {"bucket": bucket, "files": sorted(files)}


def step_input(event: Any) -> tuple[list[str], str | None]:
    """``(dates, run_id)`` of ``{"dates": [...], "run_id": "..."}``; both are optional, only logged."""
    if not isinstance(event, dict):
        raise InvalidArgumentError(f"event must be an object like {{'dates': [...]}}, got {type(event).__name__}")
    dates = event.get(EXECUTION_INPUT_DATES) or []
    if isinstance(dates, str):
        dates = [dates]
    if not isinstance(dates, list) or not all(isinstance(d, str) for d in dates):
        raise InvalidArgumentError(f"'dates' must be a list of YYYY-MM-DD strings, got {dates!r}")
    run_id = event.get("run_id")
    if run_id is not None and not isinstance(run_id, str):
        raise InvalidArgumentError(f"'run_id' must be a string, got {run_id!r}")
    return [parse_date(d) for d in dates], run_id


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)  # results hold business data
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    with failures_logged(logger, "cannot refresh the dashboard"):
        dates, run_id = step_input(event)
        bucket = require_env(EnvVar.DASHBOARD_BUCKET)[EnvVar.DASHBOARD_BUCKET]
    result = refresh(athena_runner(boto3_session=boto3_session()), aws_client("s3").put_object, bucket)
    logger.info("dashboard data refreshed", dates=dates, run_id=run_id, **result)
    return result
