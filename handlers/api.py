"""Lambda entry point of the cloud dashboard's API: ``GET /api/<query>?start_date=...&end_date=...``.

Thin by design: routing, validation, caching and the Athena call live in
``ecomlake.dashboard_api``. ``API`` is module-level so its cache (and its boto3 session)
survive between invocations of a warm function. CloudFront reaches it through a function
URL with IAM auth (see components/dashboard.py).
"""

from __future__ import annotations

from typing import Any

from ecomlake.dashboard_api import Api, athena_runner
from handlers._aws import Logger, boto3_session

logger = Logger(service="dashboard_api")

API = Api(
    runner_factory=lambda: athena_runner(boto3_session=boto3_session()),
    log_error=logger.exception,
)


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    result = API.handle(event)
    logger.info(
        "request",
        path=event.get("rawPath") or event.get("path"),
        status=result["statusCode"],
        cache=result["headers"].get("X-Cache"),
    )
    return result
