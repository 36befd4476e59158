"""Typed parsing of the events that reach the ingestion handlers, and the events they emit.

Accepted shapes:

* S3 -> EventBridge ``Object Created`` (``source: aws.s3``): keys arrive as written.
* ``Raw File Accepted`` (``source: ecomlake.ingestion``), emitted by the validator; its
  ``detail`` repeats the S3 shape (``bucket.name``, ``object.key/size/etag``), so one
  parser reads both.
* Classic S3 notifications (``Records[]``, ``eventName: ObjectCreated:*``): keys arrive
  URL-encoded (``date%3D2025-01-01``, spaces as ``+``) and are decoded here.
* A direct invocation ``{"dates": [...], "datasets": [...]}`` (validate whole partitions).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import unquote_plus

from ecomlake.contract import (
    DATASETS,
    EVENT_FILE_ACCEPTED,
    EVENT_FILE_REJECTED,
    EVENT_SOURCE,
    EXECUTION_INPUT_DATASETS,
    EXECUTION_INPUT_DATES,
    Dataset,
    parse_dataset,
    parse_date,
)
from ecomlake.exceptions import EcomlakeError
from ecomlake.ingest.report import ValidationReport
from ecomlake.ingest.router import Trigger, normalize_etag

S3_SOURCE = "aws.s3"
OBJECT_CREATED = "Object Created"
DEFAULT_EVENT_BUS = "default"


class UnsupportedEventError(EcomlakeError):
    """An event the ingestion handlers do not know how to read."""


@dataclass(frozen=True)
class ObjectEvent:
    """One object an event is about."""

    bucket: str
    key: str
    size: int | None = None
    etag: str | None = None
    version_id: str | None = None
    sequencer: str | None = None
    kind: str = OBJECT_CREATED

    @property
    def is_folder_marker(self) -> bool:
        """The console's "Create folder" writes an empty ``<prefix>/`` object: not a file."""
        return self.key.endswith("/") and not self.size

    def trigger(self) -> Trigger:
        return Trigger(self.key, self.bucket, self.etag, self.size, self.version_id)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _from_detail(detail: Mapping[str, Any], kind: str) -> ObjectEvent:
    try:
        bucket = detail["bucket"]["name"]
        obj = detail["object"]
        key = obj["key"]
    except (KeyError, TypeError):
        raise UnsupportedEventError(f"{kind} event without detail.bucket.name and detail.object.key") from None
    return ObjectEvent(
        bucket=str(bucket),
        key=str(key),
        size=_int(obj.get("size")),
        etag=normalize_etag(obj.get("etag")),
        version_id=obj.get("version-id"),
        sequencer=obj.get("sequencer"),
        kind=kind,
    )


def _from_record(record: Mapping[str, Any]) -> ObjectEvent | None:
    if record.get("eventSource") != "aws:s3":
        raise UnsupportedEventError(f"record from {record.get('eventSource')!r}, expected aws:s3")
    if not str(record.get("eventName", "")).startswith("ObjectCreated:"):
        return None
    s3 = record.get("s3") or {}
    obj = s3.get("object") or {}
    return ObjectEvent(
        bucket=str(s3.get("bucket", {}).get("name")),
        key=unquote_plus(str(obj.get("key", ""))),
        size=_int(obj.get("size")),
        etag=normalize_etag(obj.get("eTag")),
        version_id=obj.get("versionId"),
        sequencer=obj.get("sequencer"),
        kind=str(record.get("eventName")),
    )


def parse_object_events(event: Mapping[str, Any]) -> list[ObjectEvent]:
    """The objects an S3 / EventBridge event is about (see the module docstring)."""
    if not isinstance(event, Mapping):
        raise UnsupportedEventError(f"expected a JSON object event, got {type(event).__name__}")
    if "detail-type" in event:
        source, kind = event.get("source"), event.get("detail-type")
        if (source, kind) in {(S3_SOURCE, OBJECT_CREATED), (EVENT_SOURCE, EVENT_FILE_ACCEPTED)}:
            return [_from_detail(event.get("detail") or {}, str(kind))]
        raise UnsupportedEventError(f"unsupported event {source!r} / {kind!r}")
    if "Records" in event:
        found = (_from_record(r) for r in event["Records"])
        return [e for e in found if e is not None]
    raise UnsupportedEventError("not an S3 event: no 'detail-type' and no 'Records'")


def parse_partitions(event: Mapping[str, Any]) -> tuple[list[str], list[Dataset]] | None:
    """``{"dates": [...], "datasets": [...]}`` (datasets optional: all) or None for other events."""
    if not isinstance(event, Mapping) or EXECUTION_INPUT_DATES not in event:
        return None
    dates = [parse_date(str(d)) for d in event[EXECUTION_INPUT_DATES]]
    names = event.get(EXECUTION_INPUT_DATASETS) or list(DATASETS)
    return dates, [parse_dataset(str(n)) for n in names]


def file_event(report: ValidationReport, bucket: str, *, event_bus: str = DEFAULT_EVENT_BUS) -> dict[str, Any]:
    """The EventBridge ``PutEvents`` entry announcing a validated file (accepted or rejected).

    Its detail repeats S3's ``bucket``/``object`` shape so the router parses it like an
    ``Object Created`` event; the rest summarises the report.
    """
    detail = {
        "bucket": {"name": bucket},
        "object": {"key": report.key, "size": report.size, "etag": report.etag},
        "dataset": report.dataset,
        "date": report.date,
        "file": report.file,
        "status": report.status,
        "rows": report.rows,
        "valid_rows": report.valid_rows,
        "faults": report.faults,
        "extra_columns": report.extra_columns,
        "rejection": None if report.rejection is None else asdict(report.rejection),
        "report_key": report.report_key,
        "quarantine_key": report.quarantine_key,
    }
    return {
        "Source": EVENT_SOURCE,
        "DetailType": EVENT_FILE_ACCEPTED if report.accepted else EVENT_FILE_REJECTED,
        "Resources": [f"arn:aws:s3:::{bucket}"],
        "Detail": json.dumps(detail, sort_keys=True),
        "EventBusName": event_bus,
    }
