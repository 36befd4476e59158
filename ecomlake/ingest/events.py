"""Typed parsing of the events that reach the ingestion handlers, and the events they emit.

Accepted shapes:

* S3 -> EventBridge ``Object Created`` (``source: aws.s3``): keys arrive URL-encoded
  (``date%3D2025-01-01``, spaces as ``+``), as in S3's own notifications, and are decoded
  here -- the rule of Powertools' ``S3EventBridgeNotificationObject.key``; an undecoded key
  names no object (404, retried, dead-lettered).
* ``Raw File Accepted`` (``source: ecomlake.ingestion``), emitted by the validator; its
  ``detail`` repeats the S3 shape (``bucket.name``, ``object.key/size/etag``), so one
  parser reads both. Its key is the decoded one (the validator writes it): not decoded again.
* Classic S3 notifications (``Records[]``, ``eventName: ObjectCreated:*``): keys arrive
  URL-encoded too and are decoded here.
* A direct invocation ``{"dates": [...], "datasets": [...]}`` (validate whole partitions);
  a single ``"dates": "YYYY-MM-DD"`` / ``"datasets": "name"`` is read as a list of one.

Anything else -- a ``Records`` that is not a list of objects, a size that is not a whole
number, a key that is not text -- is an :class:`UnsupportedEventError` naming the field: the
handlers answer it with one logged error and no retry (retrying cannot fix an event).
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


def _size(value: Any, where: str) -> int | None:
    """An object size in bytes: a whole, non-negative number (S3 sends an integer)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).strip().isdigit():
        raise UnsupportedEventError(f"{where} must be a whole number of bytes, got {value!r}")
    return int(value)


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise UnsupportedEventError(f"{where} must be a non-empty string, got {value!r}")
    return value


def _optional_text(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise UnsupportedEventError(f"{where} must be a string, got {value!r}")
    return value


def _from_detail(detail: Any, kind: str, *, url_encoded: bool) -> ObjectEvent:
    try:
        bucket = detail["bucket"]["name"]
        obj = detail["object"]
        key = obj["key"]
    except (KeyError, TypeError):
        raise UnsupportedEventError(f"{kind} event without detail.bucket.name and detail.object.key") from None
    if not isinstance(obj, Mapping):
        raise UnsupportedEventError(f"{kind} event: detail.object must be an object, got {obj!r}")
    key = _text(key, "detail.object.key")
    return ObjectEvent(
        bucket=_text(bucket, "detail.bucket.name"),
        key=unquote_plus(key) if url_encoded else key,
        size=_size(obj.get("size"), "detail.object.size"),
        etag=normalize_etag(_optional_text(obj.get("etag"), "detail.object.etag")),
        version_id=_optional_text(obj.get("version-id"), "detail.object.version-id"),
        sequencer=_optional_text(obj.get("sequencer"), "detail.object.sequencer"),
        kind=kind,
    )


def _from_record(record: Any, index: int) -> ObjectEvent | None:
    where = f"Records[{index}]"
    if not isinstance(record, Mapping):
        raise UnsupportedEventError(f"{where} must be an S3 event record (an object), got {record!r}")
    if record.get("eventSource") != "aws:s3":
        raise UnsupportedEventError(f"{where} comes from {record.get('eventSource')!r}, expected aws:s3")
    if not str(record.get("eventName", "")).startswith("ObjectCreated:"):
        return None
    s3 = record.get("s3")
    bucket = s3.get("bucket") if isinstance(s3, Mapping) else None
    obj = s3.get("object") if isinstance(s3, Mapping) else None
    if not isinstance(bucket, Mapping) or not isinstance(obj, Mapping):
        raise UnsupportedEventError(f"{where} has no s3.bucket and s3.object")
    return ObjectEvent(
        bucket=_text(bucket.get("name"), f"{where}.s3.bucket.name"),
        key=unquote_plus(_text(obj.get("key"), f"{where}.s3.object.key")),
        size=_size(obj.get("size"), f"{where}.s3.object.size"),
        etag=normalize_etag(_optional_text(obj.get("eTag"), f"{where}.s3.object.eTag")),
        version_id=_optional_text(obj.get("versionId"), f"{where}.s3.object.versionId"),
        sequencer=_optional_text(obj.get("sequencer"), f"{where}.s3.object.sequencer"),
        kind=str(record.get("eventName")),
    )


def parse_object_events(event: Mapping[str, Any]) -> list[ObjectEvent]:
    """The objects an S3 / EventBridge event is about (see the module docstring)."""
    if not isinstance(event, Mapping):
        raise UnsupportedEventError(f"expected a JSON object event, got {type(event).__name__}")
    if "detail-type" in event:
        source, kind = event.get("source"), event.get("detail-type")
        if (source, kind) in {(S3_SOURCE, OBJECT_CREATED), (EVENT_SOURCE, EVENT_FILE_ACCEPTED)}:
            return [_from_detail(event.get("detail") or {}, str(kind), url_encoded=source == S3_SOURCE)]
        raise UnsupportedEventError(f"unsupported event {source!r} / {kind!r}")
    if "Records" in event:
        records = event["Records"]
        if not isinstance(records, list):
            raise UnsupportedEventError(f"'Records' must be a list of S3 event records, got {records!r}")
        found = (_from_record(r, i) for i, r in enumerate(records))
        return [e for e in found if e is not None]
    raise UnsupportedEventError("not an S3 event: no 'detail-type' and no 'Records'")


def parse_partitions(event: Mapping[str, Any]) -> tuple[list[str], list[Dataset]] | None:
    """``{"dates": [...], "datasets": [...]}`` (datasets optional: all) or None for other events."""
    if not isinstance(event, Mapping) or EXECUTION_INPUT_DATES not in event:
        return None
    dates = [parse_date(d) for d in _names(event[EXECUTION_INPUT_DATES], EXECUTION_INPUT_DATES, required=True)]
    names = _names(event.get(EXECUTION_INPUT_DATASETS), EXECUTION_INPUT_DATASETS, required=False) or list(DATASETS)
    return dates, [parse_dataset(str(n)) for n in names]


def _names(value: Any, field: str, *, required: bool) -> list[str]:
    """A list of strings; one string is a list of one (never iterated character by character)."""
    if isinstance(value, str):
        value = [value]
    if value is None and not required:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value) or (required and not value):
        raise UnsupportedEventError(f"{field!r} must be a list of strings, got {value!r}")
    return value


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
