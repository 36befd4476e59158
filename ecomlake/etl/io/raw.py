"""Raw records as one DataFrame of text columns, read by the validator's own framer on both engines.

Every schema column comes out as *text* (a cast never loses a value before the rules
have seen it), plus ``_error`` (why the framer could not parse a record), ``_line`` (the
line the record starts on), ``_file`` (its raw key) and ``date`` (its partition).

Both engines read a file through ``ecomlake.ingest.framing.RecordReader``, the reader the
validator uses, so the ETL reads exactly the records the validator counted. A file the
framer refuses (it changed after it was validated, or it was never validated) never stops
the job: its rows are dropped, and it is rejected whole -- quarantined with its reason and
a validation report, as the validator would have done -- while every other file and date
goes on. :func:`read_raw` picks the engine's reader (``raw_duckdb`` or ``raw_spark``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, BinaryIO, Final

import pyarrow as pa

from ecomlake.contract import PARTITION_KEY, Dataset
from ecomlake.etl.engines import is_sqlframe
from ecomlake.etl.io.lake import LakeIO, RawFile
from ecomlake.exceptions import FileRejectedError
from ecomlake.ingest.framing import ERROR, LINE, RecordReader
from ecomlake.schemas import RAW_SCHEMAS

FILE: Final = "_file"
# On DuckDB, a record's place in the session's raw tables (``raw_duckdb``): a job reads the text
# of its few bad records again by it, rather than carrying every record's text through its plan.
SOURCE: Final = "_src"
# On DuckDB too, a record's file as its place among the read's files in key order: what the order
# of the files' keys decides (which of two rows came first), told by a number instead of the text.
RANK: Final = "_rank"
__all__ = ["ERROR", "FILE", "LINE", "RANK", "SOURCE", "file_batches", "read_raw", "record_rejections", "tagged_schema"]


def raw_columns(dataset: Dataset) -> tuple[str, ...]:
    return RAW_SCHEMAS[dataset].column_names


def tagged_schema(columns: Sequence[str]) -> pa.Schema:
    """The raw frame's Arrow schema: text columns, ``_error``, ``_line``, ``_file``, ``date``."""
    return pa.schema(
        [
            *(pa.field(c, pa.string()) for c in columns),
            pa.field(ERROR, pa.string()),
            pa.field(LINE, pa.int64()),
            pa.field(FILE, pa.string()),
            pa.field(PARTITION_KEY, pa.string()),
        ]
    )


def file_batches(raw: BinaryIO, key: str, date: str, dataset: Dataset, max_bytes: int) -> Iterator[pa.RecordBatch]:
    """One file's records as batches tagged with ``_file`` and ``date`` (raises ``FileRejectedError``)."""
    name = key.rsplit("/", 1)[-1]
    reader = RecordReader(raw, name, dataset.value, max_bytes=max_bytes)
    for batch in reader.batches():
        rows = batch.num_rows
        yield pa.RecordBatch.from_arrays(
            [*batch.columns, pa.array([key] * rows, pa.string()), pa.array([date] * rows, pa.string())],
            schema=tagged_schema(raw_columns(dataset)),
        )


def record_rejections(lake: LakeIO, rejections: Sequence[tuple[RawFile, FileRejectedError]]) -> None:
    """Reject files the ETL could not read, as the validator rejects them (report + quarantine)."""
    from ecomlake.ingest.report import Rejection, ValidationReport
    from ecomlake.ingest.validator import object_size, record_outcome

    for file, err in rejections:
        report = ValidationReport(
            key=file.key,
            file=file.name,
            dataset=file.dataset.value,
            date=file.date,
            size=object_size(lake.storage, file.key),
        )
        report.reject(Rejection.of(err))
        record_outcome(lake.storage, report)


def read_raw(session: Any, lake: LakeIO, dataset: Dataset | str, files: Sequence[RawFile]) -> Any:
    """The raw records of ``files`` as one DataFrame of text columns plus metadata (see module doc)."""
    # Imported here: each engine's reader builds on the helpers of this module.
    ds = Dataset(dataset)
    if is_sqlframe(session):
        from ecomlake.etl.io.raw_duckdb import read_raw_duckdb

        return read_raw_duckdb(session, lake, ds, files)
    from ecomlake.etl.io.raw_spark import read_raw_spark

    return read_raw_spark(session, lake, ds, files)
