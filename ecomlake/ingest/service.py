"""What the two ingestion Lambda functions do, with their AWS clients passed in.

``handlers/file_validator.py`` and ``handlers/file_router.py`` are one call each into
this module, so the behaviour is tested here with moto and the handlers stay thin.

Event flow in the cloud::

    S3 raw bucket --Object Created--> file_validator --Raw File Accepted--> file_router --> Step Functions
                                                     --Raw File Rejected--> (alerts rule)

The router starts the pipeline per business date, once the date is complete (every
required dataset has an accepted file); until then it answers ``waiting`` with what is
missing. A rejection is an outcome, not an error: the function returns normally (no
retry). Only infrastructure failures (S3 access, throttling) raise, so Lambda retries them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ecomlake.contract import DATASETS, Dataset, Zone, parse_date, partition_prefix
from ecomlake.exceptions import InvalidKeyError
from ecomlake.ingest.events import DEFAULT_EVENT_BUS, file_event, parse_object_events, parse_partitions
from ecomlake.ingest.report import ValidationReport
from ecomlake.ingest.router import (
    AcceptedFile,
    normalize_etag,
    required_datasets,
    route_key,
    start_date_pipeline,
)
from ecomlake.ingest.validator import object_size, read_report, validate_object
from ecomlake.storage import S3Storage, Storage

# Builds the lake storage for one object: (bucket it landed in, its key). Both are None when
# whole partitions are validated, and the configured raw bucket is used.
StorageFactory = Callable[[str | None, str | None], Storage]


class EventPublishError(RuntimeError):
    """EventBridge refused an entry; raised so the invocation is retried."""


def report_summary(report: ValidationReport) -> dict[str, Any]:
    """The part of a report a handler returns and logs."""
    return {
        "key": report.key,
        "status": report.status,
        "dataset": report.dataset,
        "date": report.date,
        "rows": report.rows,
        "valid_rows": report.valid_rows,
        "faults": report.faults,
        "extra_columns": report.extra_columns,
        "rule": report.rejection.rule if report.rejection else None,
        "detail": report.rejection.detail if report.rejection else None,
        "report_key": report.report_key,
        "quarantine_key": report.quarantine_key,
    }


def _other_zone(key: str) -> bool:
    head = key.split("/", 1)[0]
    return head != Zone.RAW and head in {zone.value for zone in Zone}


def _publish(events_client: Any, entry: dict[str, Any]) -> None:
    response = events_client.put_events(Entries=[entry])
    if response.get("FailedEntryCount"):
        failed = response["Entries"][0]
        raise EventPublishError(f"EventBridge refused {entry['DetailType']!r}: {failed.get('ErrorMessage')}")


def validate_event(
    event: Mapping[str, Any],
    *,
    storage_for: StorageFactory,
    events_client: Any | None = None,
    event_bus: str = DEFAULT_EVENT_BUS,
    max_bytes: int | None = None,
) -> dict[str, Any]:
    """Validate the objects an event names (or whole partitions) and announce each outcome."""
    partitions = parse_partitions(event)
    if partitions is not None:
        dates, datasets = partitions
        storage = storage_for(None, None)
        reports = [
            validate_object(storage, key, max_bytes=max_bytes)
            for day in dates
            for dataset in datasets
            for key in storage.list(partition_prefix(Zone.RAW, dataset, day))
        ]
        return {
            "files": [report_summary(r) for r in reports],
            "rejected": sum(r.rejected for r in reports),
            "accepted_keys": [r.key for r in reports if r.accepted],
        }

    files: list[dict[str, Any]] = []
    for obj in parse_object_events(event):
        if obj.is_folder_marker:
            files.append({"key": obj.key, "status": "ignored", "detail": "folder marker, not a file"})
            continue
        if _other_zone(obj.key):
            # The lake's own outputs (reports, quarantine copies) are never raw input; quarantining
            # them would write new objects that trigger this function again, without end.
            files.append({"key": obj.key, "status": "ignored", "detail": "not in the raw zone"})
            continue
        report = validate_object(
            storage_for(obj.bucket, obj.key), obj.key, size=obj.size, etag=obj.etag, max_bytes=max_bytes
        )
        if events_client is not None:
            _publish(events_client, file_event(report, obj.bucket, event_bus=event_bus))
        files.append(report_summary(report))
    return {"files": files, "rejected": sum(f["status"] == "rejected" for f in files)}


# --------------------------------------------------------------------------- router


@dataclass(frozen=True)
class DateReadiness:
    """Which datasets of one business date hold an accepted file, and what the run still waits for."""

    date: str
    required: tuple[Dataset, ...]
    accepted: dict[Dataset, tuple[AcceptedFile, ...]] = field(default_factory=dict)
    # Landed files the validator has not reported on yet (or whose report is of an older version).
    pending: tuple[str, ...] = ()
    rejected: tuple[str, ...] = ()

    @property
    def present(self) -> list[Dataset]:
        """Datasets with at least one accepted file, in ``contract.DATASETS`` order."""
        return [ds for ds in DATASETS if self.accepted.get(ds)]

    @property
    def missing(self) -> list[Dataset]:
        return [ds for ds in self.required if not self.accepted.get(ds)]

    @property
    def complete(self) -> bool:
        return not self.missing

    @property
    def files(self) -> list[AcceptedFile]:
        """Every accepted file of the date, sorted by key: what names the date's run."""
        return sorted((f for files in self.accepted.values() for f in files), key=lambda f: f.key)


def _raw_objects(storage: Storage, prefix: str) -> Iterator[AcceptedFile]:
    """Objects under a raw prefix with their current ETag and size (one listing, no reads)."""
    if isinstance(storage, S3Storage):
        paginator = storage.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=storage.bucket(prefix), Prefix=prefix):
            for obj in page.get("Contents", []):
                yield AcceptedFile(obj["Key"], normalize_etag(obj.get("ETag")), obj.get("Size"))
        return
    # Local lake: no ETag to list; the size tells a replaced file from its report.
    for key in storage.list(prefix):
        yield AcceptedFile(key, None, object_size(storage, key))


def _describes(report: ValidationReport, obj: AcceptedFile) -> bool:
    """Whether a report is about the object's current version (a re-landed file waits for its own)."""
    report_etag = normalize_etag(report.etag)
    if obj.etag and report_etag:
        return obj.etag == report_etag
    return obj.size is None or report.size is None or obj.size == report.size


def date_readiness(storage: Storage, day: str, required: Sequence[Dataset] | None = None) -> DateReadiness:
    """How far one date is: reads the raw listing and the validator's reports, validates nothing.

    A file counts once its report (``contract.validation_report_key``) says accepted and
    describes the landed version; a rejected file never counts; a file not yet reported is
    ``pending`` (its "Raw File Accepted" event will call the router again).
    """
    day = parse_date(day)
    accepted: dict[Dataset, tuple[AcceptedFile, ...]] = {}
    pending: list[str] = []
    rejected: list[str] = []
    for ds in DATASETS:
        found: list[AcceptedFile] = []
        for obj in _raw_objects(storage, partition_prefix(Zone.RAW, ds, day)):
            try:
                route = route_key(obj.key)
            except InvalidKeyError:
                continue  # nested or hidden: no reader sees it, the validator quarantined it
            report = read_report(storage, route)
            if report is None or not _describes(report, obj):
                pending.append(obj.key)
            elif report.rejected:
                rejected.append(obj.key)
            else:
                found.append(AcceptedFile(obj.key, obj.etag or normalize_etag(report.etag), obj.size))
        if found:
            accepted[ds] = tuple(found)
    return DateReadiness(
        day,
        tuple(DATASETS if required is None else required),
        accepted,
        tuple(pending),
        tuple(rejected),
    )


def _waiting(readiness: DateReadiness) -> dict[str, Any]:
    missing = [ds.value for ds in readiness.missing]
    return {
        "status": "waiting",
        "date": readiness.date,
        "missing": missing,
        "present": [ds.value for ds in readiness.present],
        "pending": list(readiness.pending),
        "rejected": list(readiness.rejected),
        "detail": f"date {readiness.date} waits for an accepted file of: {', '.join(missing)}",
    }


def route_event(
    event: Mapping[str, Any],
    *,
    sfn_client: Any,
    state_machine_arn: str,
    storage_for: StorageFactory,
    required: Sequence[Dataset] | None = None,
) -> dict[str, Any]:
    """Start the pipeline for each date the event's objects complete; report the others as waiting.

    ``required`` defaults to ``$ECOMLAKE_REQUIRED_DATASETS`` (all four datasets when unset).
    Each object gets one entry in ``runs``: ``ignored`` (not a raw file), ``waiting`` (with
    the missing datasets), ``started`` or ``already_started`` (the date's execution).
    Objects of the same date in one event share one decision.
    """
    needed = required_datasets() if required is None else tuple(required)
    storages: dict[str, Storage] = {}
    decided: dict[str, dict[str, Any]] = {}
    runs: list[dict[str, Any]] = []
    for obj in parse_object_events(event):
        if obj.is_folder_marker:
            runs.append({"key": obj.key, "status": "ignored", "detail": "folder marker, not a file"})
            continue
        try:
            route = route_key(obj.key)
        except InvalidKeyError as err:
            # Retrying cannot fix a key; the validator has quarantined it with this reason.
            runs.append({"key": obj.key, "status": "ignored", "detail": str(err)})
            continue
        if route.date not in decided:
            if obj.bucket not in storages:
                storages[obj.bucket] = storage_for(obj.bucket, None)
            readiness = date_readiness(storages[obj.bucket], route.date, needed)
            if readiness.complete:
                started = start_date_pipeline(
                    sfn_client, state_machine_arn, route.date, readiness.present, readiness.files, obj.trigger()
                )
                decided[route.date] = {"date": route.date, "files": len(readiness.files), **started.to_dict()}
            else:
                decided[route.date] = _waiting(readiness)
        runs.append({"key": obj.key, **decided[route.date]})
    started_names = {r["name"] for r in runs if r["status"] == "started"}
    waiting_dates = {r["date"] for r in runs if r["status"] == "waiting"}
    return {"runs": runs, "started": len(started_names), "waiting": len(waiting_dates)}
