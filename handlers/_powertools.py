"""Powertools for AWS Lambda (Python): the handlers' logger, tracer and metrics, and their answer to a bad event.

The library is the ecosystem's plumbing for Lambda (structured JSON logs with the request
id and cold start, X-Ray tracing, CloudWatch embedded-metric-format metrics, typed event
classes). In AWS it comes from the AWS-managed Powertools layer that
``components/powertools.py`` adds to every function, pinned to the version
``pyproject.toml`` pins for the tests; it is never part of a function's code package.

Metrics are written as EMF log lines (CloudWatch extracts them from the function's log
group: no ``PutMetricData`` call, no permission for it). They carry exactly the
contract's dimensions (``contract.MetricDimension``): the ``service`` dimension
Powertools would add from ``POWERTOOLS_SERVICE_NAME`` is switched off (``service=""``), so
alarms and dashboards name the same series the local reports describe.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from ecomlake.contract import METRICS_NAMESPACE, EnvVar, Metric, MetricDimension
from ecomlake.exceptions import EcomlakeError, InvalidArgumentError
from ecomlake.ingest.events import UnsupportedEventError

INVALID_EVENT: Final = "invalid_event"
# What a malformed event raises while it is parsed; retrying the same event cannot help.
MALFORMED_EVENT_ERRORS: Final = (UnsupportedEventError, InvalidArgumentError)
EMF_MAX_METRICS: Final = 100  # CloudWatch EMF: at most 100 metrics in one log line


class MissingConfigurationError(EcomlakeError):
    """An environment variable the stack sets on the function is missing (a deployment fault)."""


@dataclass(frozen=True)
class Powertools:
    """One function's logger and tracer (module-level, so they live across warm invocations)."""

    logger: Logger
    tracer: Tracer


class _StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stdout`` is at each record (the runtime's, or a test's capture).

    Powertools' default handler binds the stream at import time, before a test can capture it.
    """

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stdout

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def powertools(service: str) -> Powertools:
    return Powertools(logger=Logger(service=service, logger_handler=_StdoutHandler()), tracer=Tracer(service=service))


# LogRecord's own attribute names: a log field with one of these names would crash the call.
_RESERVED_LOG_KEYS: Final = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


@contextmanager
def failures_logged(logger: Logger, what: str, **context: Any) -> Iterator[None]:
    """Log an ``EcomlakeError`` raised inside as ``<what>: <error>`` (its type and ``context`` as
    fields), then let it go on: the state machine's retry and catch decide what comes next."""
    try:
        yield
    except EcomlakeError as err:
        logger.error(f"{what}: {err}", error=str(err), error_type=type(err).__name__, **context)
        raise


def log_fields(values: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """``values`` as log fields, a reserved name (``name``, ``args``...) becoming ``<prefix>_<name>``."""
    return {(f"{prefix}_{k}" if k in _RESERVED_LOG_KEYS else k): v for k, v in values.items()}


def stage() -> str:
    return os.environ.get(EnvVar.STAGE) or "dev"


def namespace() -> str:
    return os.environ.get(EnvVar.METRICS_NAMESPACE) or METRICS_NAMESPACE


def count(metric: Metric, value: float, **dimensions: str) -> None:
    """One EMF line: ``metric`` with the Stage dimension plus ``dimensions``."""
    line = EphemeralMetrics(namespace=namespace(), service="")
    line.add_dimension(name=str(MetricDimension.STAGE), value=stage())
    for name, dim_value in dimensions.items():
        line.add_dimension(name=name, value=dim_value)
    line.add_metric(name=str(metric), unit=MetricUnit.Count, value=value)
    line.flush_metrics()


def require_env(*names: str) -> dict[str, str]:
    """The named environment variables, or one error naming every missing one."""
    missing = [name for name in names if not os.environ.get(name)]
    if missing:
        raise MissingConfigurationError(
            f"{', '.join(missing)} not set: the stack sets it on this function (components/); redeploy"
        )
    return {name: os.environ[name] for name in names}


def invalid_event(tools: Powertools, err: Exception, event: Any) -> dict[str, Any]:
    """Log one clear error for an event that cannot be read, count it, and say so in the result.

    The function returns normally: an asynchronous invocation that raised would be retried
    twice and then parked in the dead-letter queue, and no retry can fix the event. The
    ``InvalidEvents`` metric (alarmed in components/observability.py) makes it visible.
    """
    message = str(err)
    tools.logger.error(
        f"invalid event: {message}",
        error=message,
        error_type=type(err).__name__,
        event_shape=sorted(map(str, event)) if isinstance(event, Mapping) else type(event).__name__,
    )
    count(Metric.INVALID_EVENTS, 1)
    return {"status": INVALID_EVENT, "error": message}


def emit_metric_data(data: Sequence[Mapping[str, Any]], namespace: str) -> int:
    """Write ``PutMetricData``-shaped data (``MetricName``/``Dimensions``/``Value``/``Unit``/``Timestamp``)
    as EMF lines: one line per dimension set and timestamp (at most 100 metrics each)."""
    groups: dict[tuple[Any, ...], list[Mapping[str, Any]]] = {}
    for datum in data:
        dims = tuple((d["Name"], d["Value"]) for d in datum["Dimensions"])
        groups.setdefault((dims, datum["Timestamp"]), []).append(datum)
    for (dims, timestamp), items in groups.items():
        for start in range(0, len(items), EMF_MAX_METRICS):
            chunk = items[start : start + EMF_MAX_METRICS]
            line = EphemeralMetrics(namespace=namespace, service="")
            for name, value in dims:
                line.add_dimension(name=name, value=value)
            line.set_timestamp(timestamp)
            for datum in chunk:
                line.add_metric(name=datum["MetricName"], unit=datum["Unit"], value=datum["Value"])
            line.flush_metrics()
    return len(data)
