"""Routing a landed object: which dataset and business date it belongs to, and what to start.

The key alone decides: ``raw/<dataset>/date=YYYY-MM-DD/<file>`` (``contract.RAW_KEY_RE``).
Anything else is refused with the reason spelled out, so a file dropped in the wrong
place is reported instead of silently ignored.

The pipeline-start event is the Step Functions execution input
``{"dates": [D], "datasets": [dataset], "trigger": {...}}``. Its execution name is
derived from the dataset, the date and a hash of the key and the object's ETag, so:

* the same object delivered twice (EventBridge delivers at least once) maps to the same
  name, and Step Functions refuses the second start (``ExecutionAlreadyExists``) -- the
  pipeline runs once per version of a file;
* a changed file landed under the same key has a new ETag, hence a new name and a new run.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ecomlake.contract import (
    EXECUTION_INPUT_DATASETS,
    EXECUTION_INPUT_DATES,
    EXECUTION_INPUT_TRIGGER,
    PARTITION_KEY,
    RAW_KEY_RE,
    Dataset,
    Zone,
    parse_dataset,
    parse_date,
)
from ecomlake.exceptions import InvalidDateError, InvalidKeyError, UnknownDatasetError

# Step Functions execution names: 1-80 characters of letters, digits, '-' and '_'.
EXECUTION_NAME_MAX = 80
_LAYOUT = f"{Zone.RAW}/<dataset>/{PARTITION_KEY}=YYYY-MM-DD/<file>"


@dataclass(frozen=True)
class Route:
    """Where a raw object belongs."""

    dataset: Dataset
    date: str
    file_name: str

    @property
    def key(self) -> str:
        return f"{Zone.RAW}/{self.dataset}/{PARTITION_KEY}={self.date}/{self.file_name}"


def _bad(key: str, why: str) -> InvalidKeyError:
    return InvalidKeyError(f"key {key!r} is outside the raw layout {_LAYOUT}: {why}")


def route_key(key: str) -> Route:
    """Dataset, date and file name of a raw key, or ``InvalidKeyError`` saying what is wrong."""
    parts = key.split("/")
    if parts[0] != Zone.RAW:
        raise _bad(key, f"not under {Zone.RAW}/")
    if key.endswith("/"):
        raise _bad(key, "a folder marker, not a file")
    if len(parts) < 4:
        raise _bad(key, f"no {PARTITION_KEY}= partition folder")
    if len(parts) > 4:
        raise _bad(key, "nested path below the partition folder")
    _, dataset, partition, file_name = parts
    try:
        ds = parse_dataset(dataset)
    except UnknownDatasetError as err:
        raise _bad(key, str(err)) from None
    if dataset != ds.value:
        raise _bad(key, f"dataset folder must be spelled {ds.value!r}")
    name, sep, day = partition.partition("=")
    if name != PARTITION_KEY or not sep:
        raise _bad(key, f"partition folder {partition!r} is not {PARTITION_KEY}=YYYY-MM-DD")
    try:
        parse_date(day)
    except InvalidDateError as err:
        raise _bad(key, str(err)) from None
    if file_name.startswith((".", "_")):
        # Spark and Hadoop skip such names when they list a folder: the ETL would never read it.
        raise _bad(key, f"file name {file_name!r} starts with '.' or '_' (hidden from the ETL readers)")
    if not RAW_KEY_RE.match(key):
        raise _bad(key, "unexpected characters")
    return Route(ds, day, file_name)


def execution_name(route: Route, etag: str | None) -> str:
    """Deterministic Step Functions execution name for one version of one raw object."""
    digest = hashlib.sha256(f"{route.key}\n{normalize_etag(etag) or ''}".encode()).hexdigest()[:16]
    return f"{route.dataset}-{route.date}-{digest}"[:EXECUTION_NAME_MAX]


def normalize_etag(etag: str | None) -> str | None:
    """ETags arrive quoted from S3 APIs and bare in events; compare them bare."""
    return etag.strip().strip('"') if etag else None


@dataclass(frozen=True)
class Trigger:
    """The object that set a run off, as recorded in the execution input."""

    key: str
    bucket: str | None = None
    etag: str | None = None
    size: int | None = None
    version_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"key": self.key}
        for name in ("bucket", "etag", "size", "version_id"):
            value = getattr(self, name)
            if value is not None:
                out[name] = normalize_etag(value) if name == "etag" else value
        return out


def pipeline_input(route: Route, trigger: Trigger) -> dict[str, Any]:
    """The pipeline-start event: Step Functions input in the cloud, the runner's arguments locally."""
    return {
        EXECUTION_INPUT_DATES: [route.date],
        EXECUTION_INPUT_DATASETS: [route.dataset.value],
        EXECUTION_INPUT_TRIGGER: trigger.to_dict(),
    }


@dataclass(frozen=True)
class PipelineStart:
    """What starting (or not re-starting) the pipeline for one object did."""

    status: str  # "started" | "already_started"
    name: str
    input: dict[str, Any] = field(default_factory=dict)
    execution_arn: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "name": self.name, "execution_arn": self.execution_arn, "input": self.input}


def start_pipeline(sfn_client: Any, state_machine_arn: str, route: Route, trigger: Trigger) -> PipelineStart:
    """Start one execution of the pipeline state machine for a landed object, at most once.

    ``sfn_client`` is a boto3 Step Functions client. A repeated delivery of the same
    object finds its execution already there and reports ``already_started``.
    """
    name = execution_name(route, trigger.etag)
    payload = pipeline_input(route, trigger)
    try:
        response = sfn_client.start_execution(
            stateMachineArn=state_machine_arn, name=name, input=json.dumps(payload, sort_keys=True)
        )
    except sfn_client.exceptions.ExecutionAlreadyExists:
        return PipelineStart("already_started", name, payload)
    return PipelineStart("started", name, payload, response["executionArn"])


def trigger_from(mapping: Mapping[str, Any]) -> Trigger:
    """A ``Trigger`` from a dict shaped like ``Trigger.to_dict()``."""
    return Trigger(
        key=str(mapping["key"]),
        bucket=mapping.get("bucket"),
        etag=mapping.get("etag"),
        size=mapping.get("size"),
        version_id=mapping.get("version_id"),
    )
