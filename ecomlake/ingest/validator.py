"""The file validator: can this raw file be read, and how many of its rows are good?

A file is *rejected whole* -- copied to quarantine with a reason document, left out of the
ETL -- only when it cannot be read as the dataset's source at all. Rules, checked in this
order (``schemas.FileRule`` codes):

==================  ========================================================================
bad_key             the key is outside ``raw/<dataset>/date=YYYY-MM-DD/<file>``
wrong_format        wrong file name ending, gzip framing that does not match the name, JSON
                    where CSV is expected (or the reverse), a JSON array for a JSON Lines
                    dataset, a broken JSON array, a duplicated CSV header name
empty_file          0 bytes, only whitespace, or a gzip stream that decompresses to nothing
too_large           over ``ECOMLAKE_MAX_FILE_BYTES`` (default 512 MiB), compressed or not
not_utf8            UTF-16, or bytes that are not UTF-8 (the line of the first one is given)
binary_content      a NUL byte or a known binary signature (ZIP/xlsx, Parquet, PDF, images)
missing_columns     a required column is absent from the CSV header, or from every JSON record
header_only         a CSV header and no records
no_valid_records    records are present but not one of them can be parsed
                    (every CSV record has the wrong field count, every JSON line is broken),
                    or a JSON array with no elements
==================  ========================================================================

Row-level faults (``schemas.Reason``, see ``ecomlake.ingest.rules``) never reject a file,
even when every row has one: they are counted per reason with the first examples (line,
column, value) in the report, and the ETL quarantines those rows one by one. Columns the
schema does not declare are allowed and reported as schema drift.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import datetime

from ecomlake.contract import (
    DEFAULT_MAX_FILE_BYTES,
    Dataset,
    EnvVar,
    Zone,
    parse_dataset,
    parse_date,
    partition_prefix,
    raw_key,
    validation_report_key,
)
from ecomlake.exceptions import FileRejectedError, InvalidArgumentError, InvalidKeyError
from ecomlake.ingest.formats import CSV, JSON_LINES, check_extension, decode, read_records
from ecomlake.ingest.quarantine import clear_quarantine, quarantine_file
from ecomlake.ingest.report import Rejection, ValidationReport
from ecomlake.ingest.router import Route, normalize_etag, route_key
from ecomlake.ingest.rules import RowClassifier
from ecomlake.schemas import RAW_SCHEMAS, FileRule, Reason
from ecomlake.storage import Storage


def max_file_bytes(environ: Mapping[str, str] | None = None) -> int:
    """The size limit: ``$ECOMLAKE_MAX_FILE_BYTES`` or ``contract.DEFAULT_MAX_FILE_BYTES``."""
    env = os.environ if environ is None else environ
    raw = env.get(EnvVar.MAX_FILE_BYTES, "").strip()
    if not raw:
        return DEFAULT_MAX_FILE_BYTES
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise InvalidArgumentError(f"{EnvVar.MAX_FILE_BYTES} must be a positive number of bytes, got {raw!r}")
    return value


def _plural(names: list[str]) -> str:
    return ("column " if len(names) == 1 else "columns ") + ", ".join(names)


def _read_into(report: ValidationReport, data: bytes, dataset: Dataset, max_bytes: int) -> None:
    """Fill ``report`` from the file's bytes; raises ``FileRejectedError`` to reject it whole."""
    schema = RAW_SCHEMAS[dataset]
    check_extension(report.file, schema.format)
    decoded = decode(data, report.file, max_bytes=max_bytes)
    report.compression = decoded.compression
    report.encoding = "utf-8-bom" if decoded.bom else "utf-8"
    report.line_endings = decoded.line_endings
    source = read_records(decoded.text, schema.format)
    report.format = source.format
    declared = schema.column_names

    header = source.header
    if header is not None:
        report.columns = list(header)
        missing = [name for name in schema.required_columns if name not in header]
        if missing:
            raise FileRejectedError(
                FileRule.MISSING_COLUMNS,
                f"the header lacks required {_plural(missing)}; it has: {', '.join(header)}",
                1,
                missing[0],
            )

    seen: dict[str, None] = {}  # JSON keys in order of first appearance
    classifier = RowClassifier(dataset)
    malformed = 0
    first_error: tuple[int, str] | None = None
    for record in source.records:
        report.rows += 1
        if record.error is not None:
            malformed += 1
            first_error = first_error or (record.line, record.error)
            report.add_fault(Reason.MALFORMED_RECORD, record.line, None, None, record.error)
            continue
        if header is None:
            for name in record.values:
                if name not in seen:
                    seen[name] = None
        fault = classifier.classify(record.values)
        if fault is None:
            report.valid_rows += 1
        else:
            report.add_fault(fault.reason, record.line, fault.column, fault.value, fault.detail)

    if report.rows == 0:
        if source.format == CSV:
            raise FileRejectedError(FileRule.HEADER_ONLY, "a header line and no records", 1)
        raise FileRejectedError(FileRule.NO_VALID_RECORDS, "the JSON array holds no records", 1)
    if malformed == report.rows and first_error is not None:
        line, error = first_error
        if source.format == JSON_LINES and not decoded.text.lstrip().startswith("{"):
            raise FileRejectedError(
                FileRule.WRONG_FORMAT, "not JSON: expected one JSON object per line (or a JSON array)", line
            )
        raise FileRejectedError(
            FileRule.NO_VALID_RECORDS,
            f"none of the {report.rows} records can be read; line {line}: {error}",
            line,
        )
    if header is None:
        report.columns = list(seen)
        missing = [name for name in schema.required_columns if name not in seen]
        if missing:
            raise FileRejectedError(
                FileRule.MISSING_COLUMNS, f"required {_plural(missing)} appear in no record", None, missing[0]
            )
    present = report.columns
    report.extra_columns = [name for name in present if name not in declared]
    report.missing_optional_columns = [name for name in declared if name not in present]


def validate_bytes(
    data: bytes,
    dataset: Dataset | str,
    day: str,
    file_name: str,
    *,
    key: str | None = None,
    etag: str | None = None,
    max_bytes: int | None = None,
) -> ValidationReport:
    """Validate one raw file's bytes; pure (no storage, no clock)."""
    ds = parse_dataset(str(dataset))
    day = parse_date(day)
    report = ValidationReport(
        key=key or raw_key(ds, day, file_name),
        file=file_name,
        dataset=ds.value,
        date=day,
        size=len(data),
        etag=normalize_etag(etag),
    )
    try:
        _read_into(report, data, ds, max_file_bytes() if max_bytes is None else max_bytes)
    except FileRejectedError as err:
        report.reject(Rejection(str(err.rule), err.detail, err.line, err.column))
    report.finish()
    return report


def object_size(storage: Storage, key: str) -> int | None:
    """Size of a stored object without reading it, when the store can tell."""
    sizer = getattr(storage, "size", None)
    if callable(sizer):
        return int(sizer(key))
    path_of = getattr(storage, "path", None)
    if callable(path_of):
        path = path_of(key)
        return path.stat().st_size if path.is_file() else None
    return None


def record_outcome(storage: Storage, report: ValidationReport, *, now: datetime | None = None) -> None:
    """Write the report, and quarantine a rejected file (or clear an older quarantined version)."""
    if report.dataset and report.date:
        report.report_key = validation_report_key(report.dataset, report.date, report.file)
    if report.rejected:
        quarantine_file(storage, report, now=now)
    elif report.dataset and report.date:
        clear_quarantine(storage, report)
    if report.report_key:
        storage.write_bytes(report.report_key, report.to_json().encode())


def validate_object(
    storage: Storage,
    key: str,
    *,
    max_bytes: int | None = None,
    data: bytes | None = None,
    size: int | None = None,
    etag: str | None = None,
    write: bool = True,
    now: datetime | None = None,
) -> ValidationReport:
    """Validate a landed object and (``write=True``) record the outcome in the lake.

    Writes the report at ``contract.validation_report_key``; a rejected file is copied to
    ``quarantine/<dataset>/date=D/<file>`` with ``<file>.reason.json`` beside it. ``data``
    skips the read when the caller already holds the bytes; ``size`` (from the event)
    lets an oversized object be refused without downloading it.
    """
    limit = max_file_bytes() if max_bytes is None else max_bytes
    file_name = key.rsplit("/", 1)[-1]
    try:
        route = route_key(key)
    except InvalidKeyError as err:
        report = ValidationReport(key=key, file=file_name, size=size, etag=normalize_etag(etag))
        report.reject(Rejection(FileRule.BAD_KEY.value, str(err)))
        if write:
            record_outcome(storage, report, now=now)
        return report

    if data is None:
        known = size if size is not None else object_size(storage, key)
        if known is not None and known > limit:
            report = ValidationReport(
                key=key,
                file=route.file_name,
                dataset=route.dataset.value,
                date=route.date,
                size=known,
                etag=normalize_etag(etag),
            )
            report.reject(
                Rejection(FileRule.TOO_LARGE.value, f"{known} bytes is over the {limit}-byte limit; split the file")
            )
            if write:
                record_outcome(storage, report, now=now)
            return report
        data = storage.read_bytes(key)
    report = validate_bytes(data, route.dataset, route.date, route.file_name, key=key, etag=etag, max_bytes=limit)
    if write:
        record_outcome(storage, report, now=now)
    return report


def read_report(storage: Storage, route: Route) -> ValidationReport | None:
    """The stored report of a raw file, if it was validated."""
    key = validation_report_key(route.dataset, route.date, route.file_name)
    if not storage.exists(key):
        return None
    return ValidationReport.from_dict(json.loads(storage.read_bytes(key)))


def accepted_keys(
    storage: Storage,
    dataset: Dataset | str,
    day: str,
    *,
    validate_unchecked: bool = True,
    max_bytes: int | None = None,
) -> list[str]:
    """The raw keys of one partition the ETL should read: every file not rejected whole.

    A file without a report (or whose size no longer matches it) is validated first when
    ``validate_unchecked``, so a file copied into the lake by hand is checked like any other.
    Keys the router refuses (nested, hidden) are never returned: no reader would see them.
    """
    ds = parse_dataset(str(dataset))
    keys: list[str] = []
    for key in storage.list(partition_prefix(Zone.RAW, ds, day)):
        try:
            route = route_key(key)
        except InvalidKeyError:
            continue
        report = read_report(storage, route)
        stale = report is None or (report.size is not None and object_size(storage, key) not in (None, report.size))
        if stale:
            if not validate_unchecked:
                keys.append(key)
                continue
            report = validate_object(storage, key, max_bytes=max_bytes)
        if report is not None and report.accepted:
            keys.append(key)
    return keys
