"""What the handler tests share: a Lambda context, the JSON event fixtures, and the function's log lines."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EVENTS_DIR = Path(__file__).resolve().parents[1] / "events"
REQUEST_ID = "6f1c3f1e-0000-4000-8000-000000000001"


@dataclass
class LambdaContext:
    """The attributes of the runtime's context object that Powertools' Logger reads."""

    function_name: str = "ecomlake-dev-function"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:ecomlake-dev-function"
    aws_request_id: str = REQUEST_ID


def load_event(name: str) -> Any:
    """A JSON fixture from tests/events/ (``name`` with or without ``.json``)."""
    return json.loads((EVENTS_DIR / (name if name.endswith(".json") else f"{name}.json")).read_text())


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def log_lines(text: str) -> list[dict[str, Any]]:
    """Powertools log records (EMF metric lines left out)."""
    return [line for line in json_lines(text) if "_aws" not in line]


def emf_metrics(text: str) -> list[tuple[str, dict[str, str], float]]:
    """``(metric name, dimensions, value)`` for every value of every EMF line in ``text``."""
    found = []
    for line in json_lines(text):
        if "_aws" not in line:
            continue
        (directive,) = line["_aws"]["CloudWatchMetrics"]
        (dim_names,) = directive["Dimensions"]
        dims = {name: line[name] for name in dim_names}
        for metric in directive["Metrics"]:
            values = line[metric["Name"]]
            for value in values if isinstance(values, list) else [values]:
                found.append((metric["Name"], dims, float(value)))
    return found


def metric_sum(metrics: Iterable[tuple[str, dict[str, str], float]], name: str, dims: dict[str, str]) -> float | None:
    """Sum of a metric's values for exactly one dimension set (as CloudWatch would aggregate it)."""
    values = [v for n, d, v in metrics if n == name and d == dims]
    return sum(values) if values else None
