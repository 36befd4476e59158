"""Lambda entry point of the cloud dashboard's API: ``GET /api/<query>?start_date=...&end_date=...``.

Thin by design: routing, validation, caching and the Athena call live in
``ecomlake.dashboard_api``. ``API`` is module-level so its cache (and its boto3 session)
survive between invocations of a warm function. CloudFront reaches it through a function
URL with IAM auth (see components/dashboard.py).

The request is read with Powertools' event classes -- ``LambdaFunctionUrlEvent`` (the
function URL's payload, API Gateway v2 shaped) or ``APIGatewayProxyEvent`` (REST, v1) --
and checked for shape before the API sees it: a request that is not such an event, or
whose query parameters are not single text values, is a 400 naming what is wrong (never
a 502 or a crash).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent, LambdaFunctionUrlEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from ecomlake.dashboard_api import Api, ApiError, athena_runner, response
from handlers._aws import boto3_session
from handlers._powertools import powertools

tools = powertools("dashboard_api")
logger, tracer = tools.logger, tools.tracer

API = Api(
    runner_factory=lambda: athena_runner(boto3_session=boto3_session()),
    log_error=lambda message, err: logger.error(message, exc_info=err),
)


def _bad(message: str) -> ApiError:
    return ApiError(400, "bad_request", message)


def _params(values: Any, field: str) -> dict[str, str]:
    if values is None:
        return {}
    if not isinstance(values, Mapping):
        raise _bad(f"{field} must be an object of name -> value, got {type(values).__name__}")
    out = {}
    for key, value in values.items():
        if value is None:
            continue
        if not isinstance(value, str):
            raise _bad(f"query parameter {key!r} must be given once, as text")
        out[str(key)] = value
    return out


def request_event(event: Any) -> dict[str, Any]:
    """The request as the API reads it (v2 shape): method, path and single-valued parameters."""
    if not isinstance(event, Mapping):
        raise _bad(f"the request must be an HTTP event object, got {type(event).__name__}")
    context = event.get("requestContext")
    if isinstance(context, Mapping) and isinstance(context.get("http"), Mapping):
        v2 = LambdaFunctionUrlEvent(dict(event))
        method, path = v2.request_context.http.method, v2.raw_path
        params = _params(v2.query_string_parameters, "queryStringParameters")
    elif "httpMethod" in event:
        v1 = APIGatewayProxyEvent(dict(event))
        method, path = v1.http_method, v1.path
        params = _params(v1.query_string_parameters, "queryStringParameters")
        multi = v1.multi_value_query_string_parameters
        if multi is not None and not isinstance(multi, Mapping):
            raise _bad(f"multiValueQueryStringParameters must be an object, got {type(multi).__name__}")
        for key, values in (multi or {}).items():
            if isinstance(values, list) and len(values) > 1:
                raise _bad(f"query parameter {key!r} is given more than once")
    else:
        raise _bad("not an HTTP request event (no requestContext.http and no httpMethod)")
    if not isinstance(method, str) or not isinstance(path, str):
        raise _bad("the request's method and path must be text")
    return {"rawPath": path, "requestContext": {"http": {"method": method}}, "queryStringParameters": params}


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)  # results hold business data
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    try:
        request = request_event(event)
    except ApiError as err:
        logger.warning(f"bad request: {err}", status=err.status, error=str(err))
        return response(err.status, err.body(), API.config)
    result = API.handle(request)
    logger.info("request", path=request["rawPath"], status=result["statusCode"], cache=result["headers"].get("X-Cache"))
    return result
