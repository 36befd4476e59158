"""What a pipeline run costs on AWS: usage in, dollars per service out. Pure: no AWS call, no clock.

::

    usage = RunUsage(
        athena_query_bytes=(1_200_000_000, 4_000),
        glue_runs=(GlueRun(seconds=95.0, dpus=2.0),),
        lambda_gb_seconds=12.5, lambda_invocations=9,
        state_transitions=40, s3_put_requests=120, s3_get_requests=900,
    )
    estimate(usage, load_prices()).to_dict()   # {"currency": "USD", "total": ..., "services": {...}}

The billing rules applied are the services' own (us-east-1 list prices, read 2025; see
docs/infrastructure.md for the sources):

- **Athena** (SQL queries, engine v3): $5.00 per TB scanned; each query is rounded up to
  the next whole MB with a 10 MB minimum, so a query that scans 4 kB is billed 10 MB.
- **Glue** (Spark jobs, Glue 2.0+ incl. 5.0): $0.44 per DPU-hour, billed per second with
  a 1-minute minimum per job run (a 20 s run is billed 60 s).
- **Lambda** (x86_64): $0.0000166667 per GB-second and $0.20 per million requests.
- **Step Functions** (standard workflows): $0.025 per 1,000 state transitions.
- **S3** (Standard): PUT/COPY/POST/LIST $0.005 per 1,000 requests; GET and other reads
  $0.0004 per 1,000.

Free tiers are ignored (an account's free tier is shared by everything in it), and so
are storage, data transfer and KMS requests: a run's marginal cost is what it does, not
what the lake holds. Prices are data (:class:`Prices`): a stack sets its own with the
Pulumi config object ``ecomlake:prices`` (passed to the functions as ``ECOMLAKE_PRICES``),
and a laptop with ``ECOMLAKE_PRICES`` (JSON) or ``ECOMLAKE_PRICES_FILE`` (a JSON file).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Final

from ecomlake.contract import EnvVar
from ecomlake.exceptions import InvalidArgumentError

PRICES_ENV: Final = EnvVar.PRICES.value
PRICES_FILE_ENV: Final = EnvVar.PRICES_FILE.value
MB: Final = 1024 * 1024
TB: Final = 1024**4
# DPUs per worker of each Glue 5.0 worker type (a G.1X worker is 1 DPU: 4 vCPU, 16 GB).
GLUE_WORKER_DPUS: Final[dict[str, float]] = {
    "G.1X": 1.0,
    "G.2X": 2.0,
    "G.4X": 4.0,
    "G.8X": 8.0,
    "R.1X": 1.0,
    "R.2X": 2.0,
    "R.4X": 4.0,
    "R.8X": 8.0,
}
SERVICES: Final = ("athena", "glue", "lambda", "stepfunctions", "s3")


@dataclass(frozen=True)
class Prices:
    """List prices in USD (defaults: us-east-1). Override any field; unknown names are refused."""

    athena_per_tb_scanned: float = 5.00
    athena_min_bytes_per_query: int = 10 * MB
    glue_per_dpu_hour: float = 0.44
    glue_min_seconds_per_run: float = 60.0
    lambda_per_gb_second: float = 0.0000166667
    lambda_per_million_requests: float = 0.20
    stepfunctions_per_1000_transitions: float = 0.025
    s3_per_1000_put_requests: float = 0.005
    s3_per_1000_get_requests: float = 0.0004
    currency: str = "USD"

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], *, source: str = "prices") -> Prices:
        """Defaults overridden by ``values`` (the names of the fields); a clear error on anything else."""
        if not isinstance(values, Mapping):
            raise InvalidArgumentError(f"{source}: expected an object of price name -> number, got {values!r}")
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise InvalidArgumentError(
                f"{source}: unknown price(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        changes: dict[str, Any] = {}
        for name, value in values.items():
            if name == "currency":
                if not isinstance(value, str) or not value:
                    raise InvalidArgumentError(f"{source}: currency must be a code such as 'USD', got {value!r}")
                changes[name] = value
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0 or math.isnan(value):
                raise InvalidArgumentError(f"{source}: {name} must be a number >= 0, got {value!r}")
            changes[name] = int(value) if known[name].type in (int, "int") else float(value)
        return replace(cls(), **changes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_prices(environ: Mapping[str, str] | None = None) -> Prices:
    """Prices from ``ECOMLAKE_PRICES`` (JSON object) or ``ECOMLAKE_PRICES_FILE`` (a JSON file), else defaults."""
    env = os.environ if environ is None else environ
    inline, path = env.get(PRICES_ENV, "").strip(), env.get(PRICES_FILE_ENV, "").strip()
    if inline and path:
        raise InvalidArgumentError(f"set {PRICES_ENV} or {PRICES_FILE_ENV}, not both")
    if path:
        try:
            text, source = Path(path).read_text(encoding="utf-8"), f"{PRICES_FILE_ENV}={path}"
        except OSError as err:
            raise InvalidArgumentError(f"{PRICES_FILE_ENV}={path}: cannot read it ({err.strerror})") from None
    elif inline:
        text, source = inline, PRICES_ENV
    else:
        return Prices()
    try:
        values = json.loads(text)
    except json.JSONDecodeError as err:
        raise InvalidArgumentError(f"{source}: not JSON ({err.msg} at line {err.lineno})") from None
    return Prices.from_mapping(values, source=source)


@dataclass(frozen=True)
class GlueRun:
    """One Glue job run: how long it ran and on how many DPUs (workers x DPUs per worker)."""

    seconds: float
    dpus: float

    @classmethod
    def of_workers(cls, seconds: float, worker_type: str, workers: int) -> GlueRun:
        try:
            per_worker = GLUE_WORKER_DPUS[worker_type]
        except KeyError:
            known = ", ".join(GLUE_WORKER_DPUS)
            raise InvalidArgumentError(f"unknown Glue worker type {worker_type!r}; known: {known}") from None
        return cls(seconds=seconds, dpus=per_worker * workers)


@dataclass(frozen=True)
class RunUsage:
    """What one run used. Every field defaults to zero: a local run fills what it can measure."""

    athena_query_bytes: tuple[int, ...] = ()  # bytes scanned by each query
    glue_runs: tuple[GlueRun, ...] = ()
    lambda_gb_seconds: float = 0.0  # sum over invocations of duration (s) x memory (GB)
    lambda_invocations: int = 0
    state_transitions: int = 0
    s3_put_requests: int = 0  # PUT, COPY, POST, LIST
    s3_get_requests: int = 0  # GET and other reads

    def __post_init__(self) -> None:
        numbers = {
            "lambda_gb_seconds": self.lambda_gb_seconds,
            "lambda_invocations": self.lambda_invocations,
            "state_transitions": self.state_transitions,
            "s3_put_requests": self.s3_put_requests,
            "s3_get_requests": self.s3_get_requests,
        }
        for i, scanned in enumerate(self.athena_query_bytes):
            numbers[f"athena_query_bytes[{i}]"] = scanned
        for i, run in enumerate(self.glue_runs):
            numbers[f"glue_runs[{i}].seconds"] = run.seconds
            numbers[f"glue_runs[{i}].dpus"] = run.dpus
        for name, value in numbers.items():
            if value < 0:
                raise InvalidArgumentError(f"usage {name} must be >= 0, got {value!r}")

    @property
    def athena_bytes_scanned(self) -> int:
        return sum(self.athena_query_bytes)

    @property
    def glue_dpu_seconds(self) -> float:
        return sum(run.seconds * run.dpus for run in self.glue_runs)

    def to_dict(self) -> dict[str, Any]:
        return {
            "athena_queries": len(self.athena_query_bytes),
            "athena_bytes_scanned": self.athena_bytes_scanned,
            "glue_runs": len(self.glue_runs),
            "glue_dpu_seconds": round(self.glue_dpu_seconds, 3),
            "lambda_gb_seconds": round(self.lambda_gb_seconds, 3),
            "lambda_invocations": self.lambda_invocations,
            "state_transitions": self.state_transitions,
            "s3_put_requests": self.s3_put_requests,
            "s3_get_requests": self.s3_get_requests,
        }


def lambda_gb_seconds(duration_ms: float, memory_mb: int) -> float:
    """GB-seconds of one invocation (Lambda bills duration in 1 ms steps)."""
    return math.ceil(duration_ms) / 1000 * memory_mb / 1024


@dataclass(frozen=True)
class CostEstimate:
    """Dollars per service (``SERVICES``), their total, and what they were computed from."""

    services: dict[str, float]
    usage: RunUsage
    prices: Prices
    billed: dict[str, float] = field(default_factory=dict)  # the billed quantities behind each line

    @property
    def total(self) -> float:
        return sum(self.services.values())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: rounded to 1/1000 of a cent, services in a fixed order."""
        return {
            "currency": self.prices.currency,
            "total": round(self.total, 5),
            "services": {name: round(self.services[name], 5) for name in SERVICES},
            "billed": {k: round(v, 3) for k, v in self.billed.items()},
            "usage": self.usage.to_dict(),
            "prices": self.prices.to_dict(),
        }


def estimate(usage: RunUsage, prices: Prices | None = None) -> CostEstimate:
    """The run's cost under ``prices`` (defaults: us-east-1 list prices), per service."""
    p = prices or Prices()
    athena_bytes = sum(
        max(p.athena_min_bytes_per_query, math.ceil(scanned / MB) * MB) for scanned in usage.athena_query_bytes
    )
    glue_dpu_seconds = sum(
        max(p.glue_min_seconds_per_run, math.ceil(run.seconds)) * run.dpus for run in usage.glue_runs
    )
    services = {
        "athena": athena_bytes / TB * p.athena_per_tb_scanned,
        "glue": glue_dpu_seconds / 3600 * p.glue_per_dpu_hour,
        "lambda": usage.lambda_gb_seconds * p.lambda_per_gb_second
        + usage.lambda_invocations / 1_000_000 * p.lambda_per_million_requests,
        "stepfunctions": usage.state_transitions / 1000 * p.stepfunctions_per_1000_transitions,
        "s3": usage.s3_put_requests / 1000 * p.s3_per_1000_put_requests
        + usage.s3_get_requests / 1000 * p.s3_per_1000_get_requests,
    }
    billed = {"athena_bytes": float(athena_bytes), "glue_dpu_seconds": float(glue_dpu_seconds)}
    return CostEstimate(services=services, usage=usage, prices=p, billed=billed)
