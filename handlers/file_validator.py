"""Lambda: validate a raw file as it lands (EventBridge S3 "Object Created" on the raw bucket).

Writes the validation report, quarantines a file that cannot be read (a copy plus
``<file>.reason.json``), and announces the outcome on the default event bus as
"Raw File Accepted" (the router starts the pipeline on it) or "Raw File Rejected"
(for alerts). Also accepts ``{"dates": [...], "datasets": [...]}`` to re-validate whole
partitions. Environment: ``ECOMLAKE_RAW_BUCKET``, ``ECOMLAKE_QUARANTINE_BUCKET``,
``ECOMLAKE_REPORTS_BUCKET``, optional ``ECOMLAKE_MAX_FILE_BYTES``.
"""

from __future__ import annotations

from typing import Any

from ecomlake.ingest.service import validate_event
from ecomlake.ingest.validator import max_file_bytes
from handlers._aws import Logger, aws_client, lake_storage

logger = Logger(service="file_validator")


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result = validate_event(
        event, storage_for=lake_storage, events_client=aws_client("events"), max_bytes=max_file_bytes()
    )
    for file in result["files"]:
        log = logger.warning if file["status"] == "rejected" else logger.info
        log(f"{file['status']}: {file['key']}", **file)
    return result
