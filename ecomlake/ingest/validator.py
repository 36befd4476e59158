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

import io
import json
import os
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, closing, nullcontext
from datetime import datetime
from typing import TYPE_CHECKING, BinaryIO

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
from ecomlake.ingest.quarantine import clear_quarantine, quarantine_file
from ecomlake.ingest.report import FaultExample, Rejection, ValidationReport
from ecomlake.ingest.router import Route, normalize_etag, route_key
from ecomlake.schemas import RAW_SCHEMAS, REASON_ORDER, FileRule
from ecomlake.storage import Storage

if TYPE_CHECKING:
    from ecomlake.ingest.classifier import Classified, GroupClassifier
    from ecomlake.ingest.framing import RecordReader

# Opens one file to validate, as a context manager (so only one is open at a time).
Opener = Callable[[], AbstractContextManager[BinaryIO]]


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


def _frame_into(
    report: ValidationReport, raw: BinaryIO, dataset: Dataset, max_bytes: int, classifier: GroupClassifier, file: int
) -> RecordReader:
    """Frame one file's records into ``classifier`` (as file ``file``); the report gets what the stream showed.

    Raises ``FileRejectedError`` to reject the file whole.
    """
    from ecomlake.ingest.framing import RecordReader

    reader = RecordReader(raw, report.file, dataset.value, max_bytes=max_bytes)
    try:
        for batch in reader.batches():
            classifier.add(batch, file)
    finally:
        facts = reader.facts
        report.compression = facts.compression
        report.encoding = "utf-8-bom" if facts.bom else "utf-8"
        report.line_endings = facts.line_endings
        report.format = reader.stats.format
        report.columns = reader.columns_found
        if report.size is None:
            report.size = facts.compressed_bytes
    return reader


def _fill(report: ValidationReport, reader: RecordReader, found: Classified, dataset: Dataset) -> None:
    """The rows, faults and columns of an accepted file, from its framing and its classification."""
    report.rows = reader.stats.rows
    report.valid_rows = found.valid_rows
    for reason in REASON_ORDER:
        if reason.value in found.faults:
            report.faults[reason.value] = found.faults[reason.value]
    report.examples = [FaultExample(f.reason.value, f.line, f.column, f.value, f.detail) for f in found.examples]
    declared = RAW_SCHEMAS[dataset].column_names
    present = report.columns
    report.extra_columns = [name for name in present if name not in declared]
    report.missing_optional_columns = [name for name in declared if name not in present]


def _reject(report: ValidationReport, err: FileRejectedError) -> None:
    report.reject(Rejection.of(err))
    report.rows = report.valid_rows = 0
    report.faults, report.examples = {}, []


def _read_group(dataset: Dataset, files: Sequence[tuple[ValidationReport, Opener]], max_bytes: int) -> None:
    """Fill the reports of files of one dataset: each framed in turn (one open at a time), and
    their rows classified together -- a few DuckDB statements for the lot, not a few per file."""
    # Imported here: the router function reads reports through this module without needing
    # the validator's dependencies (DuckDB, Arrow).
    from ecomlake.ingest.classifier import Classified, GroupClassifier

    classifier = GroupClassifier(dataset)
    readers: dict[int, RecordReader] = {}
    try:
        for file, (report, opener) in enumerate(files):
            try:
                with opener() as raw:
                    readers[file] = _frame_into(report, raw, dataset, max_bytes, classifier, file)
            except FileRejectedError as err:
                classifier.discard(file)
                _reject(report, err)
        found = classifier.finish()
    except BaseException:
        classifier.close()
        raise
    for file, reader in readers.items():
        _fill(files[file][0], reader, found.get(file, Classified()), dataset)
    for report, _ in files:
        report.finish()


def validate_stream(
    raw: BinaryIO,
    dataset: Dataset | str,
    day: str,
    file_name: str,
    *,
    key: str | None = None,
    etag: str | None = None,
    size: int | None = None,
    max_bytes: int | None = None,
) -> ValidationReport:
    """Validate one raw file read from a binary stream, in bounded memory; pure (no storage, no clock)."""
    ds = parse_dataset(str(dataset))
    day = parse_date(day)
    report = ValidationReport(
        key=key or raw_key(ds, day, file_name),
        file=file_name,
        dataset=ds.value,
        date=day,
        size=size,
        etag=normalize_etag(etag),
    )
    _read_group(ds, [(report, lambda: nullcontext(raw))], max_file_bytes() if max_bytes is None else max_bytes)
    return report


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
    return validate_stream(
        io.BytesIO(data), dataset, day, file_name, key=key, etag=etag, size=len(data), max_bytes=max_bytes
    )


def open_object(storage: Storage, key: str) -> BinaryIO:
    """A stored object as a binary stream: a local file, or the S3 object's body, never read whole."""
    path_of = getattr(storage, "path", None)
    if callable(path_of):
        return open(path_of(key), "rb")
    client = getattr(storage, "client", None)
    bucket_of = getattr(storage, "bucket", None)
    if client is not None and callable(bucket_of):
        return client.get_object(Bucket=bucket_of(key), Key=key)["Body"]  # type: ignore[no-any-return]
    return io.BytesIO(storage.read_bytes(key))


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


def _refused_early(
    storage: Storage, key: str, size: int | None, etag: str | None, limit: int, read: bool
) -> tuple[ValidationReport | None, Route | None, int | None]:
    """The report of a file refused before it is read (by its key, or by its size when it is to be
    read), else None; with the file's route and the size the store gives."""
    file_name = key.rsplit("/", 1)[-1]
    try:
        route = route_key(key)
    except InvalidKeyError as err:
        report = ValidationReport(key=key, file=file_name, size=size, etag=normalize_etag(etag))
        report.reject(Rejection(FileRule.BAD_KEY.value, str(err)))
        return report, None, None
    if not read:
        return None, route, size
    known = size if size is not None else object_size(storage, key)
    if known is not None and known > limit:
        report = _streamed_report(route, key, etag, known)
        report.reject(
            Rejection(FileRule.TOO_LARGE.value, f"{known} bytes is over the {limit}-byte limit; split the file")
        )
        return report, route, known
    return None, route, known


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
    early, route, known = _refused_early(storage, key, size, etag, limit, read=data is None)
    if early is not None:
        report = early
    elif data is not None:
        assert route is not None
        report = validate_bytes(data, route.dataset, route.date, route.file_name, key=key, etag=etag, max_bytes=limit)
    else:
        assert route is not None
        report = _streamed_report(route, key, etag, known)
        _read_group(route.dataset, [(report, _opener(storage, key))], limit)
    if write:
        record_outcome(storage, report, now=now)
    return report


def validate_objects(
    storage: Storage,
    objects: Sequence[tuple[str, str | None]],
    *,
    max_bytes: int | None = None,
    now: datetime | None = None,
) -> list[ValidationReport]:
    """:func:`validate_object` for several landed objects (``(key, etag)``), each outcome recorded.

    The reports are the ones :func:`validate_object` gives file by file; the rows of each
    dataset's files are classified together, which saves the few milliseconds each DuckDB
    statement costs, for every small file (a tree of daily files is landed this way).
    """
    limit = max_file_bytes() if max_bytes is None else max_bytes
    reports: list[ValidationReport] = []
    groups: dict[Dataset, list[tuple[ValidationReport, Opener]]] = {}
    for key, etag in objects:
        early, route, known = _refused_early(storage, key, None, etag, limit, read=True)
        if early is not None:
            reports.append(early)
            continue
        assert route is not None
        report = _streamed_report(route, key, etag, known)
        groups.setdefault(route.dataset, []).append((report, _opener(storage, key)))
        reports.append(report)
    for dataset, files in groups.items():
        _read_group(dataset, files, limit)
    for report in reports:
        record_outcome(storage, report, now=now)
    return reports


def _streamed_report(route: Route, key: str, etag: str | None, size: int | None) -> ValidationReport:
    return ValidationReport(
        key=key,
        file=route.file_name,
        dataset=route.dataset.value,
        date=route.date,
        size=size,
        etag=normalize_etag(etag),
    )


def _opener(storage: Storage, key: str) -> Opener:
    return lambda: closing(open_object(storage, key))


def read_report(storage: Storage, route: Route) -> ValidationReport | None:
    """The stored report of a raw file, if it was validated."""
    key = validation_report_key(route.dataset, route.date, route.file_name)
    data = storage.read_optional(key)
    return None if data is None else ValidationReport.from_dict(json.loads(data))


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
