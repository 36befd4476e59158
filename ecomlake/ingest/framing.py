"""Framing: a raw file's records as Arrow batches of text columns, read once, one way, everywhere.

The validator, the DuckDB reader and the Spark reader (inside its tasks) all call
:class:`RecordReader`, so a file is split into records one way only: what the validator
accepts, the ETL reads the same rows of, with the same line numbers and the same
``malformed_record`` rows. Batches hold every schema column as text (null when absent),
``_error`` (why the record does not parse; null when it does) and ``_line`` (the line the
record starts on). The row rules (``ecomlake.etl.cleaning``) then run on those batches as
column expressions.

Framing rules (docs/ingestion.md has them as a table):

* **Lines** end with LF or CRLF. A CR not followed by LF is an ordinary character (a file
  with no LF at all but bare CRs is refused, see ``streams``). A line holding only spaces,
  tabs, CR, VT or FF is blank and skipped, in both formats, wherever it is (the CSV
  header is the first non-blank record).
* **CSV** (RFC 4180): fields separated by commas; a field is either bare (no comma, no
  double quote, no LF) or quoted (``"..."`` with ``""`` for a quote, and commas, CRs and
  LFs inside). A double quote inside a bare field, a character other than a comma or the
  line end after a closing quote, or a quoted field never closed make the record
  malformed (it ends at the end of the line the fault is on). A record whose field count
  differs from the header's is malformed. Fields have no length limit.
* **JSON Lines**: each non-blank line is one JSON value (RFC 8259, strict: no control
  characters inside strings, no single quotes), which must be an object. A JSON array
  file holds objects as its elements. An object with a key twice (at any depth) is
  malformed, as is a string holding a lone surrogate escape (``\\ud800``). Values come out
  as the text they were written with: strings as they are, numbers as written (``12.50``
  stays ``12.50``, ``1e3`` stays ``1e3``), ``true``/``false``, ``null`` as null, nested
  objects and arrays as compact JSON.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ecomlake.exceptions import FileRejectedError
from ecomlake.ingest.streams import CHUNK_BYTES, GZIP_SUFFIX, StreamFacts, text_chunks
from ecomlake.schemas import RAW_SCHEMAS, FileRule, RawSchema

ERROR: Final = "_error"
LINE: Final = "_line"

# Formats a file can turn out to have; the report names the one found.
CSV: Final = "csv"
JSON_ARRAY: Final = "json_array"
JSON_LINES: Final = "json_lines"

# File name endings each raw format accepts (``.gz`` on top of any of them).
EXTENSIONS: Final[dict[str, tuple[str, ...]]] = {
    "csv": (".csv",),
    "json": (".json", ".jsonl", ".ndjson"),
    "jsonl": (".json", ".jsonl", ".ndjson"),
}

_LF: Final = 10
_CR: Final = 13
_QUOTE: Final = 34
_COMMA: Final = 44
_QUOTED_FIELD: Final = re.compile(rb'"([^"]*(?:""[^"]*)*)"')
_BARE_FIELD: Final = re.compile(rb'[^,"\n]*')
# Records per batch of JSON (CSV batches follow the stream's chunks).
_JSON_BATCH: Final = 65_536
# A JSON string with nothing escaped and no control character: its text between the quotes is its value.
PLAIN_STRING: Final = r'"[^"\\\x00-\x1f]*"'
_GROUP_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def ordered_json_line(columns: Sequence[str], *, capture: bool = False) -> str:
    """A plain JSON line: an object holding every one of ``columns`` once, in their order, each
    a plain string or null, with only spaces and tabs between tokens and none before a colon.

    What producers write. Such a line is valid JSON, has no key twice, and its values are the
    text between their quotes, so it needs no decoder. ``capture`` names a group per column
    holding the value as written (``"..."`` or ``null``).
    """
    value = rf"(?:{PLAIN_STRING}|null)"
    pairs = [rf'"{re.escape(c)}":[ \t]*' + (f"(?P<{c}>{value})" if capture else value) + r"[ \t]*" for c in columns]
    return r"\{[ \t]*" + r",[ \t]*".join(pairs) + r"\}"


def check_extension(file_name: str, raw_format: str) -> None:
    """Refuse names the readers would misread (compression is told by the name)."""
    allowed = EXTENSIONS[raw_format]
    base = file_name[: -len(GZIP_SUFFIX)] if file_name.endswith(GZIP_SUFFIX) else file_name
    if not base.endswith(allowed):
        choices = ", ".join(f"{ext} or {ext}{GZIP_SUFFIX}" for ext in allowed)
        raise FileRejectedError(FileRule.WRONG_FORMAT, f"file name {file_name!r} must end with {choices}")


def header_names(fields: Sequence[str]) -> tuple[str, ...]:
    """Header names as records are keyed: trimmed; a blank name becomes ``_c<i>`` (Spark's)."""
    return tuple(name.strip() or f"_c{i}" for i, name in enumerate(fields))


def checked_header(fields: Sequence[str], schema: RawSchema, line: int | None) -> tuple[str, ...]:
    """The header's names (:func:`header_names`); ``FileRejectedError`` for a name twice or a required one missing."""
    header = header_names(fields)
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise FileRejectedError(FileRule.WRONG_FORMAT, f"column {name!r} appears twice in the header", line, name)
        seen.add(name)
    missing = [name for name in schema.required_columns if name not in header]
    if missing:
        raise FileRejectedError(
            FileRule.MISSING_COLUMNS,
            f"the header lacks required {_plural(missing)}; it has: {', '.join(header)}",
            line,
            missing[0],
        )
    return header


def batch_schema(columns: Sequence[str]) -> pa.Schema:
    return pa.schema(
        [*(pa.field(c, pa.string()) for c in columns), pa.field(ERROR, pa.string()), pa.field(LINE, pa.int64())]
    )


# --------------------------------------------------------------------------- lines


@dataclass
class _Lines:
    """The complete lines of a chunk: their text without terminators and their numbers."""

    text: pa.StringArray
    numbers: np.ndarray  # 1-based line numbers (int64)
    starts: np.ndarray  # byte offset of each line in the chunk
    ends: np.ndarray  # byte offset of each line's LF (or the chunk's end)
    blank: np.ndarray  # the line holds only spaces, tabs, CR, VT or FF (or nothing)


def _lines(buf: bytes, first_line: int) -> _Lines:
    """Split a chunk that ends at a line end (or at the end of the file) into lines."""
    arr = np.frombuffer(buf, dtype=np.uint8)
    nl = np.flatnonzero(arr == _LF)
    ends = nl if (len(buf) and buf[-1] == _LF) else np.append(nl, len(buf))
    starts = np.empty(len(ends), dtype=np.int64)
    if len(ends):
        starts[0] = 0
        starts[1:] = ends[:-1] + 1
    content_end = ends.copy()
    # CRLF: the CR belongs to the terminator.
    has_cr = (content_end > starts) & (arr[np.maximum(content_end - 1, 0)] == _CR) if len(ends) else ends > 0
    content_end = content_end - has_cr.astype(np.int64)
    keep = np.ones(len(buf), dtype=bool)
    keep[nl] = False
    keep[content_end[has_cr]] = False
    data = arr[keep]
    lengths = content_end - starts
    offsets = np.zeros(len(ends) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    if offsets[-1] >= 2**31:
        raise FileRejectedError(FileRule.TOO_LARGE, "a single line is longer than 2 GiB")
    text = pa.StringArray.from_buffers(len(ends), pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data))
    numbers = np.arange(first_line, first_line + len(ends), dtype=np.int64)
    return _Lines(text, numbers, starts, ends, _blank_lines(data, offsets, lengths))


# Lines starting with a blank byte, past which testing each one costs more than testing every byte.
_FEW_DOUBTFUL: Final = 256


def _blank_lines(data: np.ndarray, offsets: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Whether each line holds only bytes of the blank set (or nothing).

    A line whose first byte is not blank is not blank: only the few lines that start with a
    blank byte (indented, or blank) need every byte looked at.
    """
    blank = lengths == 0
    filled = np.flatnonzero(~blank)
    if not len(filled):
        return blank
    doubtful = filled[_SOLID[data[offsets[filled]]] == 0]
    if len(doubtful) <= _FEW_DOUBTFUL:
        for line in doubtful.tolist():
            blank[line] = not _SOLID[data[offsets[line] : offsets[line + 1]]].any()
        return blank
    # Segments of the joined text start at each non-empty line; empty lines add no bytes.
    blank[filled] = np.add.reduceat(_SOLID[data], offsets[filled]) == 0
    return blank


# 1 for a byte that makes a line non-blank: anything but space, tab, CR, VT and FF.
_SOLID: Final = np.ones(256, dtype=np.int32)
_SOLID[[32, 9, 13, 11, 12]] = 0


# --------------------------------------------------------------------------- CSV records


def _csv_record(buf: bytes, pos: int, final: bool) -> tuple[list[bytes] | None, str | None, int] | None:
    """One CSV record from ``pos``: (fields, error, end) with ``end`` past its LF; None if it needs more data."""
    fields: list[bytes] = []
    size = len(buf)

    def broken(at: int, why: str) -> tuple[None, str, int]:
        line_end = buf.find(b"\n", at)
        return None, f"CSV syntax error at field {len(fields) + 1}: {why}", size if line_end < 0 else line_end + 1

    while True:
        quoted = pos < size and buf[pos] == _QUOTE
        if quoted:
            match = _QUOTED_FIELD.match(buf, pos)
            if match is None:
                if not final:
                    return None
                return broken(pos, "a quoted field is never closed")
            fields.append(match.group(1).replace(b'""', b'"'))
        else:
            match = _BARE_FIELD.match(buf, pos)
            assert match is not None
            fields.append(match.group(0))
        pos = match.end()
        if quoted and pos < size and buf[pos] == _CR and (pos + 1 == size or buf[pos + 1] == _LF):
            pos += 1  # CRLF after a closing quote
        if pos >= size or buf[pos] == _LF:
            if not quoted and fields[-1].endswith(b"\r"):
                fields[-1] = fields[-1][:-1]  # CRLF: the CR is the terminator's
            return fields, None, min(pos + 1, size)
        if buf[pos] == _COMMA:
            pos += 1
            continue
        if quoted:
            return broken(pos, 'a character after the closing quote (quotes inside a field are doubled: "")')
        return broken(pos, "a double quote inside an unquoted field (quote the whole field and double it)")


@dataclass
class _Records:
    """The records of one chunk, in line order: fields as a list array, errors, first lines."""

    fields: pa.ListArray
    errors: pa.Array
    lines: np.ndarray


def _csv_records(buf: bytes, first_line: int, final: bool) -> tuple[_Records, int, int]:
    """Records of a chunk; returns them, the bytes consumed and the lines consumed."""
    lines = _lines(buf, first_line)
    count = len(lines.numbers)
    take = np.ones(count, dtype=bool)
    slow_fields: list[list[str] | None] = []
    slow_errors: list[str | None] = []
    slow_lines: list[int] = []
    consumed_bytes, consumed_lines = len(buf), count
    arr = np.frombuffer(buf, dtype=np.uint8)
    quotes = np.flatnonzero(arr == _QUOTE)
    if len(quotes):
        quote_lines = np.unique(np.searchsorted(lines.ends, quotes, side="left"))
        done_to = -1  # the last line taken by a record read so far
        for index in quote_lines.tolist():
            if index <= done_to:
                continue
            parsed = _csv_record(buf, int(lines.starts[index]), final)
            if parsed is None:
                # A quoted field runs past the chunk: this line and the rest wait for more data.
                take[index:] = False
                consumed_bytes, consumed_lines = int(lines.starts[index]), index
                break
            values, error, end = parsed
            last = int(np.searchsorted(lines.ends, end - 1, side="left"))
            take[index : last + 1] = False
            done_to = last
            slow_lines.append(int(lines.numbers[index]))
            slow_fields.append(None if values is None else [v.decode("utf-8") for v in values])
            slow_errors.append(error)
    take &= ~lines.blank
    fast_text = lines.text.filter(pa.array(take))
    fast = pc.split_pattern(fast_text, ",")
    fast_lines = lines.numbers[take]
    if slow_lines:
        slow = pa.array([v if v is not None else [] for v in slow_fields], pa.list_(pa.string()))
        fields = pa.concat_arrays([fast, slow])
        errors = pa.concat_arrays([pa.nulls(len(fast), pa.string()), pa.array(slow_errors, pa.string())])
        numbers = np.concatenate([fast_lines, np.array(slow_lines, dtype=np.int64)])
        order = np.argsort(numbers, kind="stable")
        index = pa.array(order)
        return _Records(fields.take(index), errors.take(index), numbers[order]), consumed_bytes, consumed_lines
    return _Records(fast, pa.nulls(len(fast), pa.string()), fast_lines), consumed_bytes, consumed_lines


# --------------------------------------------------------------------------- JSON


class _DuplicateKeyError(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKeyError(f"key {key!r} appears twice in one object")
            seen.add(key)
    return obj


def _decoder() -> json.JSONDecoder:
    # Numbers keep the text they were written with ("12.50" stays "12.50", 1e3 stays "1e3"),
    # so a JSON number and a CSV field are checked by the same rule.
    return json.JSONDecoder(parse_float=str, parse_int=str, parse_constant=str, object_pairs_hook=_unique_keys)


def json_text(value: Any) -> str | None:
    """A JSON value as the text the rules check: null -> None, true -> "true", objects as JSON."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


_SURROGATE_ESCAPE: Final = re.compile(r"\\u[dD][89a-fA-F]")


def _has_lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(v) for v in value)
    return False


def _json_value_error(value: Any, text: str) -> str | None:
    if not isinstance(value, dict):
        kind = {"[": "an array", '"': "a string"}.get(text.lstrip()[:1], "a scalar")
        return f"found {kind} where a JSON object was expected"
    if _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(value):
        return "a lone surrogate escape (\\ud800-\\udfff without its pair) is not a character"
    return None


class _JsonBatcher:
    """Collects decoded JSON records as rows of values, and records the keys seen."""

    def __init__(self, columns: Sequence[str], keys: dict[str, None]) -> None:
        self.columns = tuple(columns)
        self.keys = keys
        self._known: set[str] = set(keys)
        self._absent: tuple[None, ...] = (None,) * len(self.columns)
        self.reset()

    def reset(self) -> None:
        self.rows: list[tuple[Any, ...]] = []
        self.errors: list[str | None] = []
        self.lines: list[int] = []

    def __len__(self) -> int:
        return len(self.lines)

    def add(self, line: int, value: Any, error: str | None) -> None:
        self.lines.append(line)
        self.errors.append(error)
        if error is not None:
            self.rows.append(self._absent)
            return
        if not self._known.issuperset(value):
            self.note(value)
        self.rows.append(tuple(map(value.get, self.columns)))

    def note(self, keys: Iterable[str]) -> None:
        """Record keys seen, in the order they first appear."""
        for key in keys:
            if key not in self._known:
                self.keys[key] = None
                self._known.add(key)

    def batch(self) -> pa.RecordBatch:
        arrays = [_text_array(values) for values in zip(*self.rows, strict=True)] if self.rows else []
        if not arrays:
            arrays = [pa.array([], pa.string()) for _ in self.columns]
        arrays += [pa.array(self.errors, pa.string()), pa.array(self.lines, pa.int64())]
        out = pa.RecordBatch.from_arrays(arrays, schema=batch_schema(self.columns))
        self.reset()
        return out


def _text_array(values: tuple[Any, ...]) -> pa.Array:
    """Values of one column as text; strings (the common case) go straight to Arrow."""
    try:
        return pa.array(values, pa.string())
    except (pa.ArrowTypeError, pa.ArrowInvalid, TypeError):
        return pa.array([json_text(v) for v in values], pa.string())


@functools.cache
def _plain_line(columns: tuple[str, ...]) -> str | None:
    """``ordered_json_line`` anchored, a group per column; None if a column cannot name a group."""
    if not all(_GROUP_NAME.fullmatch(c) for c in columns):
        return None
    return "^" + ordered_json_line(columns, capture=True) + "$"


def _take_plain(text: pa.StringArray, pattern: str | None) -> tuple[np.ndarray, pa.StructArray | None]:
    """Which lines the plain-line pattern reads, and its captures (None when it reads none)."""
    if pattern is None or not len(text):
        return np.zeros(len(text), dtype=bool), None
    found = pc.extract_regex(text, pattern)
    taken = np.asarray(found.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    return taken, (found if taken.any() else None)


def _with_plain(
    batch: pa.RecordBatch | None, found: pa.StructArray, numbers: np.ndarray, columns: Sequence[str]
) -> pa.RecordBatch:
    """The plain lines' values (``"text"`` or ``null`` as written) added to ``batch``, in line order."""
    values = []
    for name in columns:
        written = found.field(name)
        values.append(pc.if_else(pc.equal(written, "null"), None, pc.utf8_slice_codeunits(written, 1, -1)))
    values += [pa.nulls(len(numbers), pa.string()), pa.array(numbers, pa.int64())]
    plain = pa.RecordBatch.from_arrays(values, schema=batch_schema(columns))
    if batch is None:
        return plain
    lines = np.concatenate([numbers, batch.column(LINE).to_numpy()])
    order = pa.array(np.argsort(lines, kind="stable"))
    merged = [pa.concat_arrays([plain.column(i), batch.column(i)]).take(order) for i in range(plain.num_columns)]
    return pa.RecordBatch.from_arrays(merged, schema=plain.schema)


def _decode_line(decoder: json.JSONDecoder, text: str) -> tuple[Any, str | None]:
    try:
        value = decoder.decode(text)
    except _DuplicateKeyError as err:
        return None, str(err)
    except json.JSONDecodeError as err:
        return None, f"not valid JSON at column {err.colno}: {err.msg}"
    except RecursionError:
        return None, "JSON nested too deeply"
    return value, _json_value_error(value, text)


# --------------------------------------------------------------------------- the reader


@dataclass
class FrameStats:
    """What framing found in a whole file (complete once the batches are exhausted)."""

    format: str | None = None
    header: tuple[str, ...] | None = None
    keys: dict[str, None] = field(default_factory=dict)  # JSON keys in order of first appearance
    rows: int = 0  # records (blank lines and the header excluded), malformed ones included
    malformed: int = 0
    first_error: tuple[int, str] | None = None


class RecordReader:
    """Reads one landed file's records as Arrow batches (see the module docstring).

    ``batches()`` raises ``FileRejectedError`` when the file cannot be read as its
    dataset -- possibly after yielding some batches, so a caller that keeps rows must
    drop that file's rows on error. ``facts`` and ``stats`` are complete at the end.
    """

    def __init__(
        self, raw: BinaryIO, file_name: str, dataset: str, *, max_bytes: int, chunk_bytes: int = CHUNK_BYTES
    ) -> None:
        self.schema: RawSchema = RAW_SCHEMAS[dataset]  # type: ignore[index]
        self.columns = self.schema.column_names
        self.raw = raw
        self.file_name = file_name
        self.max_bytes = max_bytes
        self.chunk_bytes = chunk_bytes
        self.facts = StreamFacts()
        self.stats = FrameStats()

    def batches(self) -> Iterator[pa.RecordBatch]:
        check_extension(self.file_name, self.schema.format)
        chunks = text_chunks(
            self.raw, self.file_name, max_bytes=self.max_bytes, facts=self.facts, chunk_bytes=self.chunk_bytes
        )
        if self.schema.format == "csv":
            yield from self._csv(chunks)
        else:
            yield from self._json(chunks)
        self._finish()

    def _count(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        stats = self.stats
        stats.rows += batch.num_rows
        errors = batch.column(ERROR)
        bad = errors.null_count
        if bad < batch.num_rows:
            stats.malformed += batch.num_rows - bad
            if stats.first_error is None:
                valid = pc.is_valid(errors)
                first = int(pc.index(valid, True).as_py())
                stats.first_error = (int(batch.column(LINE)[first].as_py()), str(errors[first].as_py()))
        return batch

    # ------------------------------------------------------------------ CSV

    def _csv(self, chunks: Iterator[bytes]) -> Iterator[pa.RecordBatch]:
        self.stats.format = CSV
        header: tuple[str, ...] | None = None
        carry = b""
        first_line = 1
        chunk_iter = iter(chunks)
        chunk = next(chunk_iter, None)
        while chunk is not None:
            following = next(chunk_iter, None)
            buf = carry + chunk if carry else chunk
            if header is None and self.facts.first_char in ("{", "["):
                raise FileRejectedError(FileRule.WRONG_FORMAT, "found JSON; this dataset is CSV with a header line")
            records, used_bytes, used_lines = _csv_records(buf, first_line, following is None)
            carry = buf[used_bytes:]
            first_line += used_lines
            if header is None and len(records.lines):
                header = self._header(records)
                records = _Records(records.fields.slice(1), records.errors.slice(1), records.lines[1:])
            if header is not None and len(records.lines):
                yield self._count(_csv_batch(records, header, self.columns))
            chunk = following
        if header is None:
            raise FileRejectedError(FileRule.EMPTY_FILE, "no header line")

    def _header(self, records: _Records) -> tuple[str, ...]:
        line = int(records.lines[0])
        if records.errors[0].is_valid:
            raise FileRejectedError(
                FileRule.WRONG_FORMAT, f"the header is not valid CSV: {records.errors[0].as_py()}", line
            )
        header = checked_header(records.fields[0].as_py(), self.schema, line)
        self.stats.header = header
        return header

    # ------------------------------------------------------------------ JSON

    def _json(self, chunks: Iterator[bytes]) -> Iterator[pa.RecordBatch]:
        chunk_iter = iter(chunks)
        first = next(chunk_iter, None)
        if first is None:
            return
        if self.facts.first_char == "[":
            if self.schema.format == "jsonl":
                start = len(first) - len(first.lstrip())
                raise FileRejectedError(
                    FileRule.WRONG_FORMAT,
                    "found a JSON array; this dataset is JSON Lines (one JSON object per line)",
                    first.count(b"\n", 0, start) + 1,
                )
            self.stats.format = JSON_ARRAY
            yield from self._json_array(first, chunk_iter)
        else:
            self.stats.format = JSON_LINES
            yield from self._json_lines(first, chunk_iter)

    def _json_lines(self, first: bytes, rest: Iterator[bytes]) -> Iterator[pa.RecordBatch]:
        decoder = _decoder()
        # Without the duplicate-key hook: C all the way, for the lines proven free of duplicates.
        scan = json.JSONDecoder(parse_float=str, parse_int=str, parse_constant=str).scan_once
        plain = _plain_line(self.columns)
        batcher = _JsonBatcher(self.columns, self.stats.keys)
        add = batcher.add
        line = 1
        chunk: bytes | None = first
        while chunk is not None:
            lines = _lines(chunk, line)
            line += chunk.count(b"\n")
            keep = ~lines.blank
            text = lines.text.filter(pa.array(keep))
            numbers = lines.numbers[keep]
            # Plain lines (every column once, in order, plain strings or null: what producers
            # write) are read by one pattern over the whole chunk; the rest line by line.
            taken, found = _take_plain(text, plain)
            others = np.flatnonzero(~taken)
            first_plain = None if found is None else int(numbers[taken][0])
            texts = (text if first_plain is None else text.take(pa.array(others))).to_pylist()
            for number, text_ in zip(numbers[others].tolist(), texts, strict=True):
                if first_plain is not None and number > first_plain:
                    batcher.note(self.columns)  # the plain line before this one named them first
                    first_plain = None
                # The common case inline: one flat object, nothing around it, no escapes. Every key
                # is followed by '":' (no whitespace before a colon is checked below), so when the
                # line holds as many '":' as the object has keys, no key was given twice.
                try:
                    value, end = scan(text_, 0)
                except (StopIteration, ValueError, RecursionError):
                    end = -1
                if (
                    end == len(text_)
                    and type(value) is dict
                    and text_.count('":') == len(value)
                    and "\\u" not in text_
                    and '" :' not in text_
                    and '"\t:' not in text_
                    and '"\r:' not in text_
                ):
                    add(number, value, None)
                else:
                    value, error = _decode_line(decoder, text_)
                    add(number, value if error is None else None, error)
            batch = batcher.batch() if len(batcher) else None
            if found is not None:
                batcher.note(self.columns)
                batch = _with_plain(batch, found.filter(pa.array(taken)), numbers[taken], self.columns)
            if batch is not None:
                yield self._count(batch)
            chunk = next(rest, None)

    def _json_array(self, first: bytes, rest: Iterator[bytes]) -> Iterator[pa.RecordBatch]:
        decoder, plain = _decoder(), json.JSONDecoder()
        batcher = _JsonBatcher(self.columns, self.stats.keys)
        text = first.decode("utf-8")
        more: Iterator[bytes] | None = rest
        line = 1  # the line of text[0]
        idx = len(text) - len(text.lstrip()) + 1  # past "["
        line += text.count("\n", 0, idx)
        base = idx

        # The line of a position is counted from the last position asked about, not from
        # ``base``: counting from ``base`` each time made a file of many small records
        # quadratic in the records of each chunk.
        seen_pos, seen_line = base, line

        def rebase(start: int, following: str) -> None:
            nonlocal text, idx, base, line, seen_pos, seen_line
            line += text.count("\n", base, start)
            text, idx, base = text[start:] + following, 0, 0
            seen_pos, seen_line = 0, line

        def need_more() -> bool:
            nonlocal more
            if more is None:
                return False
            following = next(more, None)
            if following is None:
                more = None
                return False
            rebase(idx, following.decode("utf-8"))
            return True

        def skip_ws() -> None:
            nonlocal idx
            while True:
                m = _JSON_WS.match(text, idx)
                idx = m.end() if m else idx
                if idx < len(text) or not need_more():
                    return

        def at(pos: int) -> int:
            nonlocal seen_pos, seen_line
            if pos >= seen_pos:
                seen_line += text.count("\n", seen_pos, pos)
                seen_pos = pos
                return seen_line
            return seen_line - text.count("\n", pos, seen_pos)

        def broken(pos: int, what: str) -> FileRejectedError:
            where = at(pos)
            return FileRejectedError(FileRule.WRONG_FORMAT, f"the JSON array is broken at line {where}: {what}", where)

        skip_ws()
        if text.startswith("]", idx):
            idx += 1
        else:
            while True:
                skip_ws()
                while True:
                    try:
                        try:
                            value, end = decoder.raw_decode(text, idx)
                            error = _json_value_error(value, text[idx:end])
                        except _DuplicateKeyError as err:
                            # Well formed, but ambiguous: a malformed record, like a JSON line.
                            value, error = None, str(err)
                            end = plain.raw_decode(text, idx)[1]
                        break
                    except RecursionError:
                        raise broken(idx, "JSON nested too deeply") from None
                    except json.JSONDecodeError as err:
                        if need_more():
                            continue
                        where = at(err.pos)
                        raise FileRejectedError(
                            FileRule.WRONG_FORMAT,
                            f"the JSON array is broken at line {where}: {err.msg}",
                            where,
                        ) from None
                batcher.add(at(idx), value if error is None else None, error)
                if len(batcher) >= _JSON_BATCH:
                    yield self._count(batcher.batch())
                idx = end
                skip_ws()
                if text.startswith(",", idx):
                    idx += 1
                    skip_ws()
                    if text.startswith("]", idx):
                        raise broken(idx, "a comma before the closing ']'")
                    # Drop what is read, so memory stays one element plus a chunk.
                    if idx > (1 << 20):
                        rebase(idx, "")
                    continue
                if text.startswith("]", idx):
                    idx += 1
                    break
                raise broken(idx, "expected ',' or ']' after an element")
        while True:
            trailing = text[idx:]
            if trailing.strip():
                raise broken(idx + len(trailing) - len(trailing.lstrip()), "text after the closing ']'")
            idx = len(text)
            if not need_more():
                break
        if len(batcher):
            yield self._count(batcher.batch())

    # ------------------------------------------------------------------ the end

    def _finish(self) -> None:
        stats = self.stats
        if stats.rows == 0:
            if stats.format == CSV:
                raise FileRejectedError(FileRule.HEADER_ONLY, "a header line and no records", 1)
            raise FileRejectedError(FileRule.NO_VALID_RECORDS, "the JSON array holds no records", 1)
        if stats.malformed == stats.rows and stats.first_error is not None:
            line, error = stats.first_error
            if stats.format == JSON_LINES and self.facts.first_char != "{":
                raise FileRejectedError(
                    FileRule.WRONG_FORMAT, "not JSON: expected one JSON object per line (or a JSON array)", line
                )
            raise FileRejectedError(
                FileRule.NO_VALID_RECORDS, f"none of the {stats.rows} records can be read; line {line}: {error}", line
            )
        if stats.header is None:
            missing = [name for name in self.schema.required_columns if name not in stats.keys]
            if missing:
                raise FileRejectedError(
                    FileRule.MISSING_COLUMNS, f"required {_plural(missing)} appear in no record", None, missing[0]
                )

    @property
    def columns_found(self) -> list[str]:
        """The CSV header, or the JSON keys in order of first appearance."""
        return list(self.stats.header) if self.stats.header is not None else list(self.stats.keys)


_JSON_WS: Final = re.compile(r"[ \t\n\r]*")


def _plural(names: list[str]) -> str:
    return ("column " if len(names) == 1 else "columns ") + ", ".join(names)


def _csv_batch(records: _Records, header: tuple[str, ...], columns: Sequence[str]) -> pa.RecordBatch:
    """Records of a chunk as a batch: fields keyed by the header, wrong field counts malformed."""
    width = len(header)
    counts = pc.list_value_length(records.fields).to_numpy(zero_copy_only=False)
    parsed = np.asarray(pc.is_null(records.errors).to_numpy(zero_copy_only=False), dtype=bool)
    ok = parsed & (counts == width)
    flat = pc.list_flatten(records.fields)
    starts = np.cumsum(counts) - counts
    arrays = []
    position = {name: i for i, name in enumerate(header)}
    for name in columns:
        where = position.get(name)
        if where is None:
            arrays.append(pa.nulls(len(counts), pa.string()))
            continue
        index = pa.array(starts + where, pa.int64(), mask=~ok)
        arrays.append(flat.take(index))
    errors = records.errors
    wrong = parsed & (counts != width)
    if wrong.any():
        found = pc.cast(pa.array(counts), pa.string())
        message = pc.binary_join_element_wise(
            pa.scalar(f"expected {width} fields (the header's), found "), found, pa.scalar("")
        )
        errors = pc.if_else(pa.array(wrong), message, errors)
    arrays += [errors, pa.array(records.lines, pa.int64())]
    return pa.RecordBatch.from_arrays(arrays, schema=batch_schema(columns))
