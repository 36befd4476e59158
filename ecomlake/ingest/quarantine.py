"""Whole-file quarantine: a copy of the rejected file with ``<file>.reason.json`` beside it.

The raw object is never moved, changed or deleted; quarantine holds copies. A file that
cannot be routed (its key is outside the raw layout) is copied under
``quarantine/_unrouted/<its key>`` since it has no dataset or date to file it under.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from ecomlake.contract import QUARANTINE_REASON_SUFFIX, Dataset, Zone, partition_prefix
from ecomlake.ingest.report import ValidationReport
from ecomlake.storage import Storage

UNROUTED = "_unrouted"


def quarantine_key(dataset: Dataset | str, day: str, file_name: str) -> str:
    """``quarantine/<dataset>/date=D/<file>``: where a rejected raw file is copied."""
    return partition_prefix(Zone.QUARANTINE, Dataset(dataset), day) + file_name


def unrouted_quarantine_key(key: str) -> str:
    """Where an object whose key is outside the raw layout is copied."""
    return f"{Zone.QUARANTINE}/{UNROUTED}/{key.lstrip('/')}"


def reason_key(quarantined_key: str) -> str:
    return quarantined_key + QUARANTINE_REASON_SUFFIX


def quarantine_key_for(report: ValidationReport) -> str:
    if report.dataset and report.date:
        return quarantine_key(report.dataset, report.date, report.file)
    return unrouted_quarantine_key(report.key)


def reason_document(report: ValidationReport, *, source_uri: str, quarantined_key: str, checked_at: str) -> dict:
    """The ``<file>.reason.json`` body: the rule, where it was found, and the source it came from."""
    rejection = report.rejection
    if rejection is None:
        raise ValueError(f"{report.key} was not rejected")
    return {
        "rule": rejection.rule,
        "detail": rejection.detail,
        "line": rejection.line,
        "column": rejection.column,
        "dataset": report.dataset,
        "date": report.date,
        "file": report.file,
        "source_key": report.key,
        "source_uri": source_uri,
        "size": report.size,
        "etag": report.etag,
        "quarantine_key": quarantined_key,
        "report_key": report.report_key,
        "checked_at": checked_at,
    }


def copy_object(storage: Storage, src: str, dst: str) -> None:
    """Copy one object; a store with a server-side ``copy`` (S3) is not read through memory."""
    copier = getattr(storage, "copy", None)
    if callable(copier):
        copier(src, dst)
    else:
        storage.write_bytes(dst, storage.read_bytes(src))


def delete_object(storage: Storage, key: str) -> bool:
    """Delete exactly one object (``delete_prefix`` on S3 would also take longer names)."""
    deleter = getattr(storage, "delete", None)
    if callable(deleter):
        return bool(deleter(key))
    if storage.list(key) == [key]:
        return storage.delete_prefix(key) > 0
    return False


def quarantine_file(storage: Storage, report: ValidationReport, *, now: datetime | None = None) -> str:
    """Copy a rejected file into quarantine with its reason document; return the copy's key."""
    target = quarantine_key_for(report)
    copy_object(storage, report.key, target)
    report.quarantine_key = target
    checked_at = (now or datetime.now(UTC)).isoformat(timespec="seconds").replace("+00:00", "Z")
    document = reason_document(
        report, source_uri=storage.uri(report.key), quarantined_key=target, checked_at=checked_at
    )
    # The reason is written last: its presence means the copy beside it is complete.
    storage.write_bytes(reason_key(target), (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode())
    return target


def clear_quarantine(storage: Storage, report: ValidationReport) -> list[str]:
    """Remove the quarantined copy of an earlier, rejected version of a file now accepted."""
    target = quarantine_key_for(report)
    removed = [key for key in (reason_key(target), target) if storage.exists(key) and delete_object(storage, key)]
    return removed


def read_reason(storage: Storage, quarantined_key: str) -> dict[str, Any] | None:
    key = reason_key(quarantined_key)
    data = storage.read_optional(key)
    return None if data is None else json.loads(data)
