"""What the two ingestion Lambda functions do, with their AWS clients passed in.

``handlers/file_validator.py`` and ``handlers/file_router.py`` are one call each into
this module, so the behaviour is tested here with moto and the handlers stay thin.

Event flow in the cloud::

    S3 raw bucket --Object Created--> file_validator --Raw File Accepted--> file_router --> Step Functions
                                                     --Raw File Rejected--> (alerts rule)

A rejection is an outcome, not an error: the function returns normally (no retry). Only
infrastructure failures (S3 access, throttling) raise, so Lambda retries them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ecomlake.contract import Zone, partition_prefix
from ecomlake.exceptions import InvalidKeyError
from ecomlake.ingest.events import DEFAULT_EVENT_BUS, file_event, parse_object_events, parse_partitions
from ecomlake.ingest.report import ValidationReport
from ecomlake.ingest.router import route_key, start_pipeline
from ecomlake.ingest.validator import validate_object
from ecomlake.storage import Storage

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


def route_event(event: Mapping[str, Any], *, sfn_client: Any, state_machine_arn: str) -> dict[str, Any]:
    """Start the pipeline once per landed (or accepted) object; keys outside the layout are skipped."""
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
        started = start_pipeline(sfn_client, state_machine_arn, route, obj.trigger())
        runs.append({"key": obj.key, **started.to_dict()})
    return {"runs": runs, "started": sum(r["status"] == "started" for r in runs)}
