"""Routing a landed object: which dataset and business date it belongs to, and what to start.

The key alone decides: ``raw/<dataset>/date=YYYY-MM-DD/<file>`` (``contract.RAW_KEY_RE``).
Anything else is refused with the reason spelled out, so a file dropped in the wrong
place is reported instead of silently ignored.

The pipeline runs per business *date*, once the date is complete: every dataset of the
required set (``$ECOMLAKE_REQUIRED_DATASETS``, default all four) has an accepted file
(``ecomlake.ingest.service.route_event`` decides). The Step Functions execution input is
``{"dates": [D], "datasets": [every dataset present], "trigger": {...}}`` and its name is
``<date>-<hash of the sorted (key, ETag) of the date's accepted files>``, so:

* the same event delivered twice (EventBridge delivers at least once), or the events of
  two files that arrive together, map to the same name, and Step Functions refuses the
  second start (``ExecutionAlreadyExists``) -- the pipeline runs once per set of files;
* a corrected file landed later under any key of that date changes the set, hence a new
  name and a new run (the ETL overwrites the date's partitions, so a rerun is safe);
* a date whose execution *ended without success* (``FAILED``, ``TIMED_OUT``, ``ABORTED``) is
  re-runnable: the next event for it starts ``<name>-r2`` (then ``-r3``...), the first
  free name after the last failed attempt. A ``RUNNING`` or ``SUCCEEDED`` attempt keeps the
  answer ``already_started``. So re-sending a failed date's event (or landing any file of
  it again) runs it again, and a duplicate delivery while the re-run is under way starts
  nothing more. An operator can also start one directly (docs/infrastructure.md).

``execution_name`` / ``pipeline_input`` / ``start_pipeline`` are the per-file forms the
local ``ingest`` command still returns to its caller.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ecomlake.contract import (
    DATASETS,
    EXECUTION_INPUT_DATASETS,
    EXECUTION_INPUT_DATES,
    EXECUTION_INPUT_TRIGGER,
    PARTITION_KEY,
    RAW_KEY_RE,
    Dataset,
    EnvVar,
    Zone,
    parse_dataset,
    parse_date,
)
from ecomlake.exceptions import InvalidArgumentError, InvalidDateError, InvalidKeyError, UnknownDatasetError

# Step Functions execution names: 1-80 characters of letters, digits, '-' and '_'.
EXECUTION_NAME_MAX = 80
EXECUTION_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
# Hex digits of the file-set hash kept in a date's execution name (128 bits: collisions are not a concern).
_DATE_DIGEST_CHARS = 32
# Execution statuses after which the same files may run again; any other status (RUNNING,
# SUCCEEDED, PENDING_REDRIVE) means the set of files is handled.
RERUNNABLE_STATUSES = frozenset({"FAILED", "TIMED_OUT", "ABORTED"})
# Attempts of one set of files (``-r2`` .. ``-r<MAX>``): a date that failed this often needs a look,
# not another automatic run.
MAX_ATTEMPTS = 20
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
    """What starting (or not re-starting) the pipeline for one date (or one object) did."""

    status: str  # "started" | "already_started" | "attempts_exhausted"
    name: str
    input: dict[str, Any] = field(default_factory=dict)
    execution_arn: str | None = None
    # A re-run: the attempt before it, which ended without success ({"name", "status"}).
    rerun_of: dict[str, str] | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {"status": self.status, "name": self.name, "execution_arn": self.execution_arn, "input": self.input}
        if self.rerun_of is not None:
            out["rerun_of"] = self.rerun_of
        return out


def _start(sfn_client: Any, state_machine_arn: str, name: str, payload: dict[str, Any]) -> PipelineStart:
    """Start one named execution, at most once: an existing name reports ``already_started``."""
    try:
        response = sfn_client.start_execution(
            stateMachineArn=state_machine_arn, name=name, input=json.dumps(payload, sort_keys=True)
        )
    except sfn_client.exceptions.ExecutionAlreadyExists:
        return PipelineStart("already_started", name, payload)
    return PipelineStart("started", name, payload, response["executionArn"])


def start_pipeline(sfn_client: Any, state_machine_arn: str, route: Route, trigger: Trigger) -> PipelineStart:
    """Start one execution of the pipeline state machine for one landed object, at most once.

    ``sfn_client`` is a boto3 Step Functions client. A repeated delivery of the same
    object finds its execution already there and reports ``already_started``. The router
    starts per date instead (``start_date_pipeline``).
    """
    return _start(sfn_client, state_machine_arn, execution_name(route, trigger.etag), pipeline_input(route, trigger))


# --------------------------------------------------------------------------- one run per complete date


def required_datasets(environ: Mapping[str, str] | None = None) -> tuple[Dataset, ...]:
    """Datasets a date needs before its run starts: ``$ECOMLAKE_REQUIRED_DATASETS`` or all four.

    A comma list (spaces ignored), returned in ``contract.DATASETS`` order. An unknown name
    raises ``InvalidArgumentError``: a typo must not silently start runs on partial dates.
    """
    env = os.environ if environ is None else environ
    raw = env.get(EnvVar.REQUIRED_DATASETS, "").strip()
    if not raw:
        return DATASETS
    names = [part.strip() for part in raw.split(",") if part.strip()]
    try:
        chosen = {parse_dataset(name) for name in names}
    except UnknownDatasetError as err:
        raise InvalidArgumentError(f"{EnvVar.REQUIRED_DATASETS}: {err}") from None
    if not chosen:
        raise InvalidArgumentError(f"{EnvVar.REQUIRED_DATASETS} names no dataset: {raw!r}")
    return tuple(ds for ds in DATASETS if ds in chosen)


@dataclass(frozen=True)
class AcceptedFile:
    """One version of a raw file the validator accepted: what a date's run reads."""

    key: str
    etag: str | None = None
    size: int | None = None

    @property
    def version(self) -> str:
        """What tells two versions of the key apart: the ETag, else (no ETag known) the size."""
        etag = normalize_etag(self.etag)
        if etag:
            return etag
        return "" if self.size is None else f"size:{self.size}"


def date_execution_name(day: str, files: Iterable[AcceptedFile]) -> str:
    """Deterministic execution name for one date and one set of accepted file versions.

    ``<YYYY-MM-DD>-<sha256 of the sorted "key<TAB>etag" lines, 32 hex digits>``: 43
    characters of digits, letters and '-', within Step Functions' limits.
    """
    lines = sorted(f"{f.key}\t{f.version}" for f in files)
    digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()[:_DATE_DIGEST_CHARS]
    return f"{parse_date(day)}-{digest}"[:EXECUTION_NAME_MAX]


def date_pipeline_input(day: str, datasets: Iterable[Dataset | str], trigger: Trigger) -> dict[str, Any]:
    """Execution input for a complete date: every dataset present, and the object that completed it."""
    present = {parse_dataset(str(ds)) for ds in datasets}
    return {
        EXECUTION_INPUT_DATES: [parse_date(day)],
        EXECUTION_INPUT_DATASETS: [ds.value for ds in DATASETS if ds in present],
        EXECUTION_INPUT_TRIGGER: trigger.to_dict(),
    }


def start_date_pipeline(
    sfn_client: Any,
    state_machine_arn: str,
    day: str,
    datasets: Iterable[Dataset | str],
    files: Iterable[AcceptedFile],
    trigger: Trigger,
) -> PipelineStart:
    """Start the run of one complete date: once per set of accepted file versions, again after a failure.

    The executions are looked up first: Step Functions answers a repeated ``StartExecution``
    with the same name *and input* as a running standard execution with success (it is
    idempotent), so a redelivered event would otherwise read as ``started`` again. Attempts
    are ``<name>``, ``<name>-r2``, ``<name>-r3``...: the first one that does not exist yet is
    started unless an earlier one is running or succeeded (see the module docstring).
    """
    name = date_execution_name(day, files)
    payload = date_pipeline_input(day, datasets, trigger)
    executions = execution_arn(state_machine_arn, "")
    if executions is None:  # a version or alias ARN: executions cannot be looked up by name
        return _start(sfn_client, state_machine_arn, name, payload)
    previous: dict[str, str] | None = None
    for attempt in range(1, MAX_ATTEMPTS + 1):
        candidate = attempt_name(name, attempt)
        arn = executions + candidate
        status = _execution_status(sfn_client, arn)
        if status is None:
            started = _start(sfn_client, state_machine_arn, candidate, payload)
            return PipelineStart(started.status, candidate, payload, arn, rerun_of=previous)
        if status not in RERUNNABLE_STATUSES:
            return PipelineStart("already_started", candidate, payload, arn, rerun_of=previous)
        previous = {"name": candidate, "status": status}
    return PipelineStart("attempts_exhausted", name, payload, None, rerun_of=previous)


def attempt_name(name: str, attempt: int) -> str:
    """The execution name of attempt ``attempt`` (1-based) of one date's set of files."""
    return name if attempt == 1 else f"{name}-r{attempt}"[:EXECUTION_NAME_MAX]


def execution_arn(state_machine_arn: str, name: str) -> str | None:
    """The ARN an execution called ``name`` gets; None for a state machine version or alias ARN."""
    parts = state_machine_arn.split(":")
    if len(parts) != 7 or parts[5] != "stateMachine":
        return None
    return ":".join([*parts[:5], "execution", parts[6], name])


def _execution_status(sfn_client: Any, arn: str) -> str | None:
    """An execution's status; None when there is no such execution."""
    try:
        return str(sfn_client.describe_execution(executionArn=arn)["status"])
    except sfn_client.exceptions.ExecutionDoesNotExist:
        return None


def trigger_from(mapping: Mapping[str, Any]) -> Trigger:
    """A ``Trigger`` from a dict shaped like ``Trigger.to_dict()``."""
    return Trigger(
        key=str(mapping["key"]),
        bucket=mapping.get("bucket"),
        etag=mapping.get("etag"),
        size=mapping.get("size"),
        version_id=mapping.get("version_id"),
    )
