"""Turning a landed file's bytes into records, keeping the line each record starts on.

Two steps, both pure:

* ``decode`` -- size limit, gzip (``.gz`` names only), encoding (UTF-8 with or without a
  byte order mark; anything else is refused with the line of the first bad byte),
  binary sniffing, and the empty-file check. It raises ``FileRejectedError`` with a
  ``schemas.FileRule`` code when the file cannot be read at all.
* ``read_records`` -- the dataset's format: CSV with a header (RFC 4180: comma separator,
  double-quote quoting, quotes escaped by doubling, quoted fields may hold commas and
  newlines), a JSON array of objects, or JSON Lines (one object per line). Records come
  out lazily as ``RawRecord(line, values, error)`` so a large file is never held twice.

Every value comes out as text (or ``None``): the typed checks live in
``ecomlake.ingest.rules`` so the validator and the ETL agree on one reading of each value.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ecomlake.exceptions import FileRejectedError
from ecomlake.schemas import FileRule

GZIP_MAGIC = b"\x1f\x8b"
UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
# Files that are plainly not text, by their first bytes (xlsx and docx are ZIP archives).
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "a ZIP archive (xlsx and docx files are ZIP archives too)"),
    (b"PAR1", "a Parquet file"),
    (b"%PDF-", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
    (b"\xfd7zXZ\x00", "an xz stream"),
    (b"BZh", "a bzip2 stream"),
)

# Formats a record source can have; the report names the one found.
CSV = "csv"
JSON_ARRAY = "json_array"
JSON_LINES = "json_lines"

# File name endings each raw format accepts (``.gz`` on top of any of them).
EXTENSIONS: dict[str, tuple[str, ...]] = {
    "csv": (".csv",),
    "json": (".json", ".jsonl", ".ndjson"),
    "jsonl": (".json", ".jsonl", ".ndjson"),
}
GZIP_SUFFIX = ".gz"

_CHUNK = 1 << 20


@dataclass(frozen=True)
class Decoded:
    """A file's text and what it took to get it."""

    text: str
    compression: str | None  # "gzip" or None
    bom: bool
    line_endings: str  # "lf" | "crlf" | "cr" | "mixed" | "none"
    decoded_bytes: int  # size after decompression


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One record as found: its first line, its values as text, or why it does not parse."""

    line: int
    values: dict[str, str | None]
    error: str | None = None


@dataclass
class RecordSource:
    """A readable file: its format, its header (CSV only) and its records, lazily."""

    format: str
    header: tuple[str, ...] | None
    records: Iterator[RawRecord]


# --------------------------------------------------------------------------- decoding


def check_extension(file_name: str, raw_format: str) -> None:
    """Refuse names the ETL readers would misread (they pick compression from the name)."""
    allowed = EXTENSIONS[raw_format]
    base = file_name[: -len(GZIP_SUFFIX)] if file_name.endswith(GZIP_SUFFIX) else file_name
    if not base.endswith(allowed):
        choices = ", ".join(f"{ext} or {ext}{GZIP_SUFFIX}" for ext in allowed)
        raise FileRejectedError(FileRule.WRONG_FORMAT, f"file name {file_name!r} must end with {choices}")


def gunzip(data: bytes, max_bytes: int) -> bytes:
    """Decompress every gzip member, refusing output beyond ``max_bytes`` (a zip bomb stays small)."""
    out = bytearray()
    rest = data
    while rest:
        inflater = zlib.decompressobj(wbits=31)
        try:
            pending = rest
            while pending:
                out += inflater.decompress(pending, _CHUNK)
                if len(out) > max_bytes:
                    raise FileRejectedError(
                        FileRule.TOO_LARGE, f"decompresses to more than the {max_bytes}-byte limit; split the file"
                    )
                pending = inflater.unconsumed_tail
            out += inflater.flush()
        except zlib.error as err:
            raise FileRejectedError(FileRule.WRONG_FORMAT, f"not a valid gzip stream ({err})") from None
        if not inflater.eof:
            raise FileRejectedError(FileRule.WRONG_FORMAT, "truncated gzip stream (the upload was cut short?)")
        # Concatenated members are valid gzip; trailing zero padding is tolerated as gzip(1) does.
        rest = inflater.unused_data if inflater.unused_data.strip(b"\x00") else b""
    if len(out) > max_bytes:
        raise FileRejectedError(FileRule.TOO_LARGE, f"decompresses to more than the {max_bytes}-byte limit")
    return bytes(out)


def _line_of(data: bytes, offset: int) -> tuple[int, int]:
    """1-based line and byte column of a byte offset."""
    line = data.count(b"\n", 0, offset) + 1
    column = offset - (data.rfind(b"\n", 0, offset) + 1) + 1
    return line, column


def _line_endings(text: str) -> str:
    crlf = text.count("\r\n")
    lf = text.count("\n") - crlf
    cr = text.count("\r") - crlf
    kinds = [name for name, n in (("crlf", crlf), ("lf", lf), ("cr", cr)) if n]
    if not kinds:
        return "none"
    return kinds[0] if len(kinds) == 1 else "mixed"


def decode(data: bytes, file_name: str, *, max_bytes: int) -> Decoded:
    """Text of a landed file, or ``FileRejectedError`` saying why it cannot be read.

    Checks, in order: 0 bytes (empty_file), size (too_large), gzip framing vs the name
    (wrong_format), UTF-16 byte order marks (not_utf8), binary signatures and NUL bytes
    (binary_content), UTF-8 decoding (not_utf8, with line and byte), whitespace only
    (empty_file).
    """
    if not data:
        raise FileRejectedError(FileRule.EMPTY_FILE, "the file is 0 bytes")
    if len(data) > max_bytes:
        raise FileRejectedError(
            FileRule.TOO_LARGE, f"{len(data)} bytes is over the {max_bytes}-byte limit; split the file"
        )
    compression = None
    named_gz = file_name.endswith(GZIP_SUFFIX)
    is_gz = data.startswith(GZIP_MAGIC)
    if named_gz and not is_gz:
        raise FileRejectedError(FileRule.WRONG_FORMAT, f"{file_name!r} is named .gz but is not gzip data")
    if is_gz and not named_gz:
        raise FileRejectedError(
            FileRule.WRONG_FORMAT, f"gzip-compressed data in a file not named .gz; land it as {file_name}.gz"
        )
    if is_gz:
        compression = "gzip"
        data = gunzip(data, max_bytes)
        if not data:
            raise FileRejectedError(FileRule.EMPTY_FILE, "the gzip stream decompresses to 0 bytes")
    if data.startswith(_UTF16_BOMS):
        raise FileRejectedError(FileRule.NOT_UTF8, "the file is UTF-16 (byte order mark); save it as UTF-8")
    for magic, kind in _SIGNATURES:
        if data.startswith(magic):
            raise FileRejectedError(FileRule.BINARY_CONTENT, f"this is {kind}, not a text file")
    nul = data.find(b"\x00")
    if nul >= 0:
        line, col = _line_of(data, nul)
        raise FileRejectedError(FileRule.BINARY_CONTENT, f"NUL byte at line {line}, byte {col}: not a text file", line)
    bom = data.startswith(UTF8_BOM)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line, col = _line_of(data, err.start)
        raise FileRejectedError(
            FileRule.NOT_UTF8,
            f"byte 0x{data[err.start]:02x} at line {line}, byte {col} is not valid UTF-8 "
            "(Latin-1 or Windows-1252 export?); save the file as UTF-8",
            line,
        ) from None
    if not text.strip():
        raise FileRejectedError(FileRule.EMPTY_FILE, "the file holds only whitespace")
    return Decoded(text, compression, bom, _line_endings(text), len(data))


# --------------------------------------------------------------------------- CSV


class _CountingLines:
    """Feeds csv.reader line by line and counts, so each record knows its first line."""

    __slots__ = ("_lines", "count")

    def __init__(self, text: str) -> None:
        # newline="" keeps "\r\n" inside quoted fields intact, as the csv module requires.
        self._lines = iter(io.StringIO(text, newline=""))
        self.count = 0

    def __iter__(self) -> _CountingLines:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.count += 1
        return line


def _csv_rows(text: str) -> Iterator[tuple[int, list[str] | None, str | None]]:
    """(first line, fields or None, error) for every non-blank CSV record."""
    lines = _CountingLines(text)
    reader = csv.reader(lines, strict=True)
    while True:
        start = lines.count + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            yield start, None, f"CSV syntax error: {err}"
            continue
        if not fields:
            continue  # blank line
        yield start, fields, None


def header_names(fields: list[str]) -> tuple[str, ...]:
    """Header names as the reader keys them: trimmed; a blank name becomes ``_c<i>`` (Spark's)."""
    return tuple(name.strip() or f"_c{i}" for i, name in enumerate(fields))


def read_csv(text: str) -> RecordSource:
    """A CSV file with a header line. Raises for a missing or unusable header."""
    rows = _csv_rows(text)
    first = next(rows, None)
    if first is None:
        raise FileRejectedError(FileRule.EMPTY_FILE, "no header line")
    line, fields, error = first
    if fields is None:
        raise FileRejectedError(FileRule.WRONG_FORMAT, f"the header is not valid CSV: {error}", line)
    header = header_names(fields)
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise FileRejectedError(FileRule.WRONG_FORMAT, f"column {name!r} appears twice in the header", line, name)
        seen.add(name)
    width = len(header)

    def records() -> Iterator[RawRecord]:
        for start, values, err in rows:
            if values is None:
                yield RawRecord(start, {}, err)
            elif len(values) != width:
                yield RawRecord(start, {}, f"expected {width} fields (the header's), found {len(values)}")
            else:
                yield RawRecord(start, dict(zip(header, values, strict=True)))

    return RecordSource(CSV, header, records())


# --------------------------------------------------------------------------- JSON


def _decoder() -> json.JSONDecoder:
    # Numbers keep the text they were written with ("12.50" stays "12.50", 1e3 stays "1e3"),
    # so a JSON number and a CSV field are checked by the same rule.
    return json.JSONDecoder(parse_float=str, parse_int=str, parse_constant=str)


def json_text(value: Any) -> str | None:
    """A JSON value as the text the rules check: null -> None, true -> "true", objects as JSON."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


def _json_record(line: int, value: Any) -> RawRecord:
    if not isinstance(value, dict):
        kind = {list: "an array", str: "a string"}.get(type(value), "a scalar")
        return RawRecord(line, {}, f"found {kind} where a JSON object was expected")
    return RawRecord(line, {str(k): json_text(v) for k, v in value.items()})


_WS = re.compile(r"[ \t\n\r]*")


def _json_array_records(text: str, start: int) -> Iterator[RawRecord]:
    """Elements of a top-level JSON array, each with the line its value starts on."""
    decoder = _decoder()
    idx = start + 1  # past "["
    line, counted_to = 1, 0

    def line_at(pos: int) -> int:
        nonlocal line, counted_to
        line += text.count("\n", counted_to, pos)
        counted_to = pos
        return line

    def broken(pos: int, what: str) -> FileRejectedError:
        at = line_at(pos)
        return FileRejectedError(FileRule.WRONG_FORMAT, f"the JSON array is broken at line {at}: {what}", at)

    idx = _WS.match(text, idx).end()  # type: ignore[union-attr]
    if text.startswith("]", idx):
        idx += 1
    else:
        while True:
            try:
                value, end = decoder.raw_decode(text, idx)
            except json.JSONDecodeError as err:
                raise FileRejectedError(
                    FileRule.WRONG_FORMAT,
                    f"the JSON array is broken at line {err.lineno} column {err.colno}: {err.msg}",
                    err.lineno,
                ) from None
            yield _json_record(line_at(idx), value)
            idx = _WS.match(text, end).end()  # type: ignore[union-attr]
            if text.startswith(",", idx):
                idx = _WS.match(text, idx + 1).end()  # type: ignore[union-attr]
                if text.startswith("]", idx):
                    raise broken(idx, "a comma before the closing ']'")
                continue
            if text.startswith("]", idx):
                idx += 1
                break
            raise broken(idx, "expected ',' or ']' after an element")
    if text[idx:].strip():
        raise broken(_WS.match(text, idx).end(), "text after the closing ']'")  # type: ignore[union-attr]


def _json_lines_records(text: str) -> Iterator[RawRecord]:
    decoder = _decoder()
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip("\r")
        if not line.strip():
            continue
        try:
            value = decoder.decode(line)
        except json.JSONDecodeError as err:
            yield RawRecord(number, {}, f"not valid JSON at column {err.colno}: {err.msg}")
            continue
        yield _json_record(number, value)


def read_json_lines(text: str) -> Iterator[RawRecord]:
    """Records of JSON Lines text (blank lines skipped; a bad line is a record with an error)."""
    return _json_lines_records(text)


def read_json(text: str, raw_format: str) -> RecordSource:
    """``json``: a JSON array or JSON Lines; ``jsonl``: JSON Lines only."""
    start = len(text) - len(text.lstrip())
    if text.startswith("[", start):
        if raw_format == "jsonl":
            raise FileRejectedError(
                FileRule.WRONG_FORMAT,
                "found a JSON array; this dataset is JSON Lines (one JSON object per line)",
                text.count("\n", 0, start) + 1,
            )
        return RecordSource(JSON_ARRAY, None, _json_array_records(text, start))
    return RecordSource(JSON_LINES, None, _json_lines_records(text))


def read_records(text: str, raw_format: str) -> RecordSource:
    """Records of a decoded file in one of the raw formats (``RawSchema.format``)."""
    if raw_format == "csv":
        stripped = text.lstrip()
        if stripped.startswith(("{", "[")):
            raise FileRejectedError(
                FileRule.WRONG_FORMAT,
                "found JSON; this dataset is CSV with a header line",
                text.count("\n", 0, len(text) - len(stripped)) + 1,
            )
        return read_csv(text)
    if raw_format in {"json", "jsonl"}:
        return read_json(text, raw_format)
    raise ValueError(f"unknown raw format {raw_format!r}")
