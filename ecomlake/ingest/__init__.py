"""Ingestion: validate landed raw files, quarantine the unreadable ones, route the rest.

The same functions serve the Lambda handlers (``handlers/file_validator.py``,
``handlers/file_router.py``) and the local ``ecomlake ingest`` command.

* ``validate_bytes`` / ``validate_object`` -> ``ValidationReport`` (``validator``)
* ``classify_records`` / ``classify_row`` -- the row rules, as the ETL runs them (``classifier``)
* ``route_key`` -> ``Route``; ``pipeline_input`` / ``start_pipeline`` (``router``)
* ``ingest_files`` / ``land_tree`` -> ``IngestResult`` (``local``)
* ``accepted_keys`` -- the raw files of a partition the ETL should read
"""

from __future__ import annotations

from ecomlake.ingest.local import IngestResult, ingest_files, land_tree
from ecomlake.ingest.report import FaultExample, Rejection, ValidationReport
from ecomlake.ingest.router import (
    PipelineStart,
    Route,
    Trigger,
    execution_name,
    pipeline_input,
    route_key,
    start_pipeline,
)
from ecomlake.ingest.rules import check_row, classify_row
from ecomlake.ingest.validator import (
    accepted_keys,
    max_file_bytes,
    read_report,
    validate_bytes,
    validate_object,
    validate_stream,
)


def __getattr__(name: str) -> object:
    # The classifier needs DuckDB and Arrow; the router function imports this package without them.
    if name in {"RowFault", "classify_records"}:
        from ecomlake.ingest import classifier

        return getattr(classifier, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "FaultExample",
    "IngestResult",
    "PipelineStart",
    "Rejection",
    "Route",
    "RowFault",
    "Trigger",
    "ValidationReport",
    "accepted_keys",
    "check_row",
    "classify_records",
    "classify_row",
    "execution_name",
    "ingest_files",
    "land_tree",
    "max_file_bytes",
    "pipeline_input",
    "read_report",
    "route_key",
    "start_pipeline",
    "validate_bytes",
    "validate_object",
    "validate_stream",
]
