"""Lambda: validate a raw file as it lands (EventBridge S3 "Object Created" on the raw bucket).

Writes the validation report, quarantines a file that cannot be read (a copy plus
``<file>.reason.json``), and announces the outcome on the default event bus as
"Raw File Accepted" (the router starts the pipeline on it) or "Raw File Rejected"
(for alerts). Also accepts ``{"dates": [...], "datasets": [...]}`` to re-validate whole
partitions. Environment: ``ECOMLAKE_RAW_BUCKET``, ``ECOMLAKE_QUARANTINE_BUCKET``,
``ECOMLAKE_REPORTS_BUCKET``, optional ``ECOMLAKE_MAX_FILE_BYTES``.

An event that cannot be read (``Records: "x"``, a size that is not a number, an unknown
date) is answered with ``{"status": "invalid_event", "error": ...}``, one logged error and
an ``InvalidEvents`` metric, and is not retried: no retry can fix it. Infrastructure
errors (S3, EventBridge) raise, so Lambda retries them.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ecomlake.contract import Metric
from ecomlake.ingest.service import validate_event
from ecomlake.ingest.validator import max_file_bytes
from handlers._aws import aws_client, lake_storage
from handlers._powertools import MALFORMED_EVENT_ERRORS, count, invalid_event, log_fields, powertools

tools = powertools("file_validator")
logger, tracer = tools.logger, tools.tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)  # results hold business data
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    max_bytes = max_file_bytes()  # configuration: a bad value raises, it is not the event's fault
    try:
        result = validate_event(
            event, storage_for=lake_storage, events_client=aws_client("events"), max_bytes=max_bytes
        )
    except MALFORMED_EVENT_ERRORS as err:
        return {**invalid_event(tools, err, event), "files": [], "rejected": 0}
    for file in result["files"]:
        log = logger.warning if file["status"] == "rejected" else logger.info
        log(f"{file['status']}: {file['key']}", **log_fields(file, "file"))
    count(Metric.FILES_REJECTED, result["rejected"])
    return result
