"""Raw records as one DataFrame of text columns, shared by both engines' readers.

Every schema column comes out as *text* (a cast never loses a value before the rules
have seen it), plus ``_error`` (why the reader could not parse a record), ``_line`` (the
line the record starts on), ``_file`` (its raw key) and ``date`` (its partition).
:func:`read_raw` picks the engine's reader (``raw_duckdb`` or ``raw_spark``); the helpers
here re-read a file with the validator's own parser where an engine's reader could count
lines or records differently.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Final

from ecomlake.contract import (
    PARTITION_KEY,
    Dataset,
)
from ecomlake.etl.engines import is_sqlframe
from ecomlake.etl.io.lake import LakeIO, RawFile
from ecomlake.exceptions import FileRejectedError
from ecomlake.ingest import formats
from ecomlake.schemas import RAW_SCHEMAS

ERROR: Final = "_error"
LINE: Final = "_line"
FILE: Final = "_file"
# Raw files are decoded whole by the fallback parser; no limit beyond what ingestion allows.
_NO_LIMIT: Final = 1 << 62


# --------------------------------------------------------------------------- raw readers (shared)


def _raw_columns(dataset: Dataset) -> tuple[str, ...]:
    return RAW_SCHEMAS[dataset].column_names


def _raw_format(dataset: Dataset) -> str:
    return RAW_SCHEMAS[dataset].format


def _is_csv(dataset: Dataset) -> bool:
    return _raw_format(dataset) == "csv"


def _decoded_text(data: bytes, name: str) -> str:
    """Text of an already gunzipped file, decoded exactly as the validator decodes it."""
    try:
        return formats.decode(data, name.removesuffix(formats.GZIP_SUFFIX), max_bytes=_NO_LIMIT).text
    except FileRejectedError as err:
        raise FileRejectedError(err.rule, f"{name}: {err.detail}", err.line, err.column) from None


def _python_records(data: bytes, file: RawFile) -> Iterable[tuple[int, dict[str, str | None], str | None]]:
    """(line, values, error) of every record, by the validator's own parser."""
    text = _decoded_text(data, file.name)
    source = formats.read_records(text, _raw_format(file.dataset))
    for record in source.records:
        yield record.line, record.values, record.error


def _records_to_arrow(
    records: Iterable[tuple[int, dict[str, str | None], str | None]], columns: Sequence[str], file: RawFile
) -> Any:
    import pyarrow as pa

    data: dict[str, list[Any]] = {name: [] for name in (*columns, ERROR, LINE)}
    for line, values, error in records:
        for name in columns:
            data[name].append(values.get(name))
        data[ERROR].append(error)
        data[LINE].append(line)
    rows = len(data[LINE])
    arrays = {name: pa.array(data[name], pa.string()) for name in (*columns, ERROR)}
    arrays[LINE] = pa.array(data[LINE], pa.int64())
    arrays[FILE] = pa.array([file.key] * rows, pa.string())
    arrays[PARTITION_KEY] = pa.array([file.date] * rows, pa.string())
    return pa.table(arrays)


def _read_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.name.endswith(formats.GZIP_SUFFIX) else data


def _csv_header(data: bytes, name: str) -> tuple[str, ...]:
    """Header names as the validator keys them (trimmed, blank -> ``_c<i>``)."""
    first_line = data.split(b"\n", 1)[0]
    text = _decoded_text(first_line + b"\n", name)
    source = formats.read_csv(text)
    assert source.header is not None
    return source.header


def _physical_lines(data: bytes) -> int:
    return data.count(b"\n") + (0 if data.endswith(b"\n") else 1)


def _reparse_lines(lines: Iterable[tuple[int, str]]) -> Iterable[tuple[int, dict[str, str | None], str | None]]:
    """JSON Lines the fast path left alone, read one by one with the validator's parser."""
    for number, line in lines:
        # The validator's per-line reading of JSON Lines (numbers kept as written).
        for record in formats._json_lines_records(line):
            yield number, record.values, record.error


def _csv_field_count(line: str) -> int | None:
    """Fields of one CSV line as the validator's parser counts them; None when it is not valid CSV."""
    import csv

    try:
        rows = list(csv.reader([line], strict=True))
    except csv.Error:
        return None
    return len(rows[0]) if len(rows) == 1 else None


def read_raw(session: Any, lake: LakeIO, dataset: Dataset | str, files: Sequence[RawFile]) -> Any:
    """The raw records of ``files`` as one DataFrame of text columns plus metadata (see module doc)."""
    # Imported here: each engine's reader builds on the helpers of this module.
    ds = Dataset(dataset)
    if is_sqlframe(session):
        from ecomlake.etl.io.raw_duckdb import read_raw_duckdb

        return read_raw_duckdb(session, lake, ds, files)
    from ecomlake.etl.io.raw_spark import read_raw_spark

    return read_raw_spark(session, lake, ds, files)
