"""Lambda entry point of the pipeline's ``dashboard_refresh`` step.

Runs every analytics query on Athena (the same ``sql/*.sql`` and parameter binding as
the local build) and writes the page's ``data/`` files into the dashboard bucket, so
CloudFront serves fresh numbers without a query per visitor. Invoked by Step Functions
with ``{"dates": [...], "run_id": "..."}``; the dates only go to the log, because the page
always shows the latest window of the whole lake.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from ecomlake.contract import EnvVar
from ecomlake.dashboard import cloud_data_files
from ecomlake.dashboard_api import SqlRunner, athena_runner
from ecomlake.storage import S3Storage
from handlers._aws import Logger, aws_client, boto3_session

logger = Logger(service="dashboard_refresh")

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
    files = cloud_data_files(runner, reports=S3Storage.from_env())
    for key, text in sorted(files.items()):
        put_object(
            Bucket=bucket,
            Key=key,
            Body=text.encode("utf-8"),
            ContentType=content_type(key),
            CacheControl=DATA_CACHE_CONTROL,
        )
    return {"bucket": bucket, "files": sorted(files)}


@logger.inject_lambda_context
def handler(event: Mapping[str, Any], context: object) -> dict[str, Any]:
    bucket = os.environ[EnvVar.DASHBOARD_BUCKET]
    result = refresh(athena_runner(boto3_session=boto3_session()), aws_client("s3").put_object, bucket)
    logger.info("dashboard data refreshed", dates=event.get("dates"), run_id=event.get("run_id"), **result)
    return result
