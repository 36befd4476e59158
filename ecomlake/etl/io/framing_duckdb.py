"""The framer's rules in DuckDB SQL, for the records whose framing is provably simple.

``ecomlake.ingest.framing`` is the one definition of how a raw file splits into records;
it runs in Python, a chunk at a time, for the validator and on Spark. On DuckDB the same
records are found here, in one SQL pass over many files, for the parts of a file where the
rules leave no room for doubt, and by the framer's own functions for every other record:

* a file is read whole as text (``read_text``: DuckDB checks it is UTF-8) and split at
  line feeds, keeping each line's number; a line's CR before its LF is dropped, a line of
  spaces, tabs, CR, VT or FF is blank and skipped -- the framer's ``_lines``;
* **CSV**: a line holding no double quote is one record, its fields split at commas. A
  line holding an even number of quotes is one record too (a quoted field that runs past
  a line end needs an odd number on its first line) and goes through the framer's
  ``_csv_record``; so does the header. A file with any line holding an odd number of
  quotes is left to the framer whole;
* **JSON Lines**: a line that is a flat object of string or null values with no escape,
  no control character and no key twice (checked by a strict pattern, not by DuckDB's
  JSON reader, which is more lenient than the framer) has its values extracted by
  DuckDB's JSON functions; they are exactly the text Python's decoder gives. Every other
  line goes through the framer's ``_decode_line``.

A file is left to the framer whole -- which also rejects it, with the validator's reason,
if it must be -- whenever anything about it is not the plain case: a name the framer
refuses, gzip, over the size limit, not UTF-8, a byte order mark, a NUL byte, a binary
signature, bare-CR line ends, a JSON array, a header that is not clean, no records, only
malformed records, or a required column missing. What this module returns is then, row
for row, what ``RecordReader`` yields (``tests/unit/etl/test_etl_framing_duckdb.py`` checks
it on hostile files).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final

import pyarrow as pa

from ecomlake.contract import PARTITION_KEY
from ecomlake.etl import cleaning
from ecomlake.etl.io.raw import RANK, SOURCE
from ecomlake.exceptions import FileRejectedError
from ecomlake.ingest import framing
from ecomlake.ingest.streams import GZIP_SUFFIX, SIGNATURES
from ecomlake.schemas import RAW_SCHEMAS, Dataset, RawSchema
from ecomlake.sqltext import ident, literal

# Files read by one statement: enough to keep both cores busy, little enough that a 10M-row
# backfill does not hold every raw byte in memory at once.
GROUP_BYTES: Final = 96 * 1024 * 1024
# A JSON line the SQL path takes: an object of string or null values, nothing escaped,
# no control character, only spaces and tabs between tokens and none before a colon.
_STRING: Final = framing.PLAIN_STRING
_PAIR: Final = rf"{_STRING}:[ \t]*(?:{_STRING}|null)[ \t]*"
SIMPLE_JSON_LINE: Final = rf"\{{[ \t]*(?:{_PAIR}(?:,[ \t]*{_PAIR})*)?\}}"
_BLANK: Final = "[ \t\r\x0b\x0c]*"
# Lines looked at first for a CSV file's header and for a record of the header's width; a file
# that has neither among them is searched whole.
_PROBE_LINES: Final = 16
_counter = itertools.count()


@dataclass(frozen=True)
class SqlFile:
    """A file the SQL path may read: its path on disk, its raw key, its partition and its ``raw.RANK``."""

    path: str
    key: str
    date: str
    rank: int = 0


def framer_prefix(dataset: Dataset) -> str:
    """The names of the tables a framer of ``dataset`` keeps in its session start with this."""
    return f"_frame_{dataset}_"


def eligible(name: str, size: int, raw_format: str, max_bytes: int) -> bool:
    """Whether a file may be framed in SQL at all (by name and size); the content is checked later."""
    if name.endswith(GZIP_SUFFIX) or size <= 0 or size > max_bytes:
        return False
    try:
        framing.check_extension(name, raw_format)
    except FileRejectedError:
        return False
    return True


def groups(files: Sequence[SqlFile], limit: int = GROUP_BYTES) -> list[list[SqlFile]]:
    """Consecutive runs of files whose sizes add up to at most ``limit`` (one file may exceed it alone)."""
    out: list[list[SqlFile]] = []
    current: list[SqlFile] = []
    size = 0
    for file in files:
        bytes_ = os.path.getsize(file.path)
        if current and size + bytes_ > limit:
            out.append(current)
            current, size = [], 0
        current.append(file)
        size += bytes_
    if current:
        out.append(current)
    return out


def _parts(fids: dict[int, SqlFile], workers: int) -> list[dict[int, SqlFile]]:
    """``fids`` shared out between at most ``workers`` parts of about the same size in bytes."""
    count = max(1, min(workers, len(fids)))
    parts: list[dict[int, SqlFile]] = [{} for _ in range(count)]
    loads = [0] * count
    sizes = {fid: os.path.getsize(file.path) for fid, file in fids.items()}
    for fid in sorted(fids, key=lambda f: -sizes[f]):
        lightest = loads.index(min(loads))
        parts[lightest][fid] = fids[fid]
        loads[lightest] += sizes[fid]
    return [dict(sorted(part.items())) for part in parts if part]


def _threads(conn: Any) -> int:
    """The threads DuckDB may use in this session."""
    return int(conn.execute("SELECT current_setting('threads')").fetchall()[0][0])


def _signature_checks() -> str:
    """SQL that is true when the text starts like one of the binary formats the framer refuses."""
    tests = []
    for magic, _kind in SIGNATURES:
        try:
            text = magic.decode("utf-8")
        except UnicodeDecodeError:
            continue  # not UTF-8: read_text has refused the file already
        tests.append(f"starts_with(content, {literal(text)})")
    return " OR ".join(tests) or "FALSE"


class SqlFramer:
    """Frames a dataset's plain files in SQL into tables of the session, exposed as one view.

    ``add`` takes files (in groups of at most ``GROUP_BYTES``) and returns those left to the
    framer; ``view`` names a view of every record found, with the raw frame's columns
    (schema columns as text, ``_error``, ``_line``, ``_file``, ``date``),
    ``cleaning.PLAIN_HINT`` (true or false for a CSV line matched whole, else null), the record's
    place (``raw.SOURCE``: its file id and first line) and its file's ``raw.RANK``. Records are
    computed when the view is read: the lines are kept, not a copy of every field.
    """

    def __init__(self, conn: Any, dataset: Dataset) -> None:
        self.conn, self.dataset = conn, dataset
        self.schema: RawSchema = RAW_SCHEMAS[dataset]
        self.csv = self.schema.format == "csv"
        self.prefix = f"{framer_prefix(dataset)}{next(_counter)}"
        self.next_fid = 0
        cols = self.schema.column_names
        self.lines = f"{self.prefix}_lines"
        self.files = f"{self.prefix}_files"
        self.slow = f"{self.prefix}_slow"
        self.view = f"{self.prefix}_rows"
        # Not a temporary table: the cursors that load it in parallel (``_group``) must see it.
        conn.execute(
            f"CREATE TABLE {ident(self.lines)} "
            "(fid INTEGER, line BIGINT, t VARCHAR, blank BOOLEAN, ordered BOOLEAN, ok BOOLEAN)"
        )
        positions = "".join(f", _p{i} INTEGER" for i in range(len(cols)))
        conn.execute(
            f"CREATE TEMP TABLE {ident(self.files)} (fid INTEGER, _file VARCHAR, {ident(PARTITION_KEY)} VARCHAR, "
            f"{RANK} INTEGER, _hline BIGINT, _width INTEGER{positions})"
        )
        if self.csv:
            conn.execute(
                f"CREATE TEMP TABLE {ident(self.slow)} (fid INTEGER, _line BIGINT, _f VARCHAR[], _err VARCHAR)"
            )
        else:
            text = "".join(f", {ident(c)} VARCHAR" for c in cols)
            conn.execute(f"CREATE TEMP TABLE {ident(self.slow)} (fid INTEGER, _line BIGINT{text}, _error VARCHAR)")
        conn.execute(f"CREATE TEMP VIEW {ident(self.view)} AS {self._rows_sql()}")

    def rows_at(self, wanted: str) -> str:
        """A view of the records whose ``raw.SOURCE`` is in the table ``wanted`` (column ``raw.SOURCE``): the
        few a job reads again, found by their place, split only then. Returns its name."""
        view = f"{self.prefix}_rows_at"
        self.conn.execute(f"CREATE OR REPLACE TEMP VIEW {ident(view)} AS {self._rows_sql(wanted)}")
        return view

    def _rows_sql(self, wanted: str | None = None) -> str:
        cols = self.schema.column_names
        meta = f"m._file, m.{ident(PARTITION_KEY)}"

        # A record's place (``raw.SOURCE``): its file id and its first line, unique among the records
        # found here, as each line starts one record at most.
        def place(fid: str, line: str) -> str:
            return f"({fid}::BIGINT << 32) + {line}"

        def at(fid: str, line: str) -> str:
            return "" if wanted is None else f" AND {place(fid, line)} IN (SELECT {SOURCE} FROM {ident(wanted)})"

        if self.csv:
            picks = ", ".join(
                f"CASE WHEN r._err IS NULL AND len(r._f) = m._width THEN r._f[m._p{i}] END AS {ident(c)}"
                for i, c in enumerate(cols)
            )
            error = (
                "CASE WHEN r._err IS NULL AND len(r._f) <> m._width THEN 'expected ' || m._width || "
                "' fields (the header''s), found ' || len(r._f) ELSE r._err END AS _error"
            )
            # A line of a file whose header is the schema's columns in order is matched whole against
            # the plain row (``cleaning.PLAIN_HINT``): one match over the text it already holds.
            pattern = cleaning.plain_row_pattern(self.schema, ",")
            in_order = " AND ".join([f"f._width = {len(cols)}", *(f"f._p{i} = {i + 1}" for i in range(len(cols)))])
            hint = (
                "NULL::BOOLEAN"
                if pattern is None
                else (f"CASE WHEN {in_order} THEN regexp_matches(l.t, {literal(pattern)}) END")
            )
            return (
                f"SELECT {picks}, {error}, r._line, {meta}, r._hint AS {ident(cleaning.PLAIN_HINT)}, "
                f"r.{SOURCE}, m.{RANK} FROM ("
                f"SELECT l.fid, l.line AS _line, string_split(l.t, ',') AS _f, NULL::VARCHAR AS _err, {hint} AS _hint, "
                f"{place('l.fid', 'l.line')} AS {SOURCE} "
                f"FROM {ident(self.lines)} l JOIN {ident(self.files)} f USING (fid) "
                f"WHERE l.line > f._hline AND NOT l.blank AND NOT contains(l.t, '\"'){at('l.fid', 'l.line')} "
                f"UNION ALL SELECT fid, _line, COALESCE(_f, []), _err, NULL, {place('fid', '_line')} "
                f"FROM {ident(self.slow)} WHERE TRUE{at('fid', '_line')}"
                f") r JOIN {ident(self.files)} m USING (fid)"
            )
        paths = "[" + ", ".join(literal(f"$.{c}") for c in cols) + "]"
        picks = ", ".join(f"r.v[{i + 1}] AS {ident(c)}" for i, c in enumerate(cols))
        hint = f"NULL::BOOLEAN AS {ident(cleaning.PLAIN_HINT)}"
        return (
            f"SELECT {picks}, NULL::VARCHAR AS _error, r.line AS _line, {meta}, {hint}, r.{SOURCE}, m.{RANK} FROM ("
            f"SELECT fid, line, json_extract_string(t, {paths}) AS v, {place('fid', 'line')} AS {SOURCE} "
            f"FROM {ident(self.lines)} WHERE ok{at('fid', 'line')}"
            f") r JOIN {ident(self.files)} m USING (fid) "
            f"UNION ALL SELECT {', '.join(f's.{ident(c)}' for c in cols)}, s._error, s._line, {meta}, {hint}, "
            f"{place('s.fid', 's._line')}, m.{RANK} FROM {ident(self.slow)} s "
            f"JOIN {ident(self.files)} m USING (fid) WHERE TRUE{at('s.fid', 's._line')}"
        )

    def add(self, files: Sequence[SqlFile]) -> list[SqlFile]:
        """Frame ``files``; returns those the framer must read (see the module docstring)."""
        left: list[SqlFile] = []
        for group in groups(files):
            left += self._group(group)
        return left

    # ------------------------------------------------------------------ one group

    def _group(self, files: list[SqlFile]) -> list[SqlFile]:
        base = self.next_fid
        self.next_fid += len(files)
        fids = {base + i: f for i, f in enumerate(files)}
        parts = _parts(fids, _threads(self.conn))
        if len(parts) == 1:
            refused = self._load(self.conn, parts[0])
        else:
            # Splitting a file into lines is one thread's work in DuckDB (each file is one row of
            # read_text), so the files are shared out between cursors of the session, a thread
            # each, appending to the one lines table.
            with ThreadPoolExecutor(max_workers=len(parts)) as pool:
                refused = set().union(*pool.map(self._load_apart, parts))
        kept = sorted(set(fids) - refused)
        if kept:
            refused |= self._csv(fids, kept) if self.csv else self._json(fids, kept)
        return [fids[fid] for fid in sorted(refused)]

    def _load_apart(self, part: dict[int, SqlFile]) -> set[int]:
        cursor = self.conn.cursor()
        try:
            return self._load(cursor, part)
        finally:
            cursor.close()

    def _load(self, conn: Any, part: dict[int, SqlFile]) -> set[int]:
        """Store the lines of ``part``'s files; returns the ids of those left to the framer."""
        import duckdb

        try:
            return self._store_lines(conn, part)
        except duckdb.Error:
            if len(part) == 1:
                return set(part)  # not UTF-8 (or unreadable): the framer says why
            # One bad file must not send the others to the slow path: read them one at a time.
            return set().union(*(self._load(conn, {fid: file}) for fid, file in part.items()))

    def _store_lines(self, conn: Any, fids: dict[int, SqlFile]) -> set[int]:
        """Read ``fids``' files, and store the lines of those that may be framed here; returns the others.

        One statement reads, checks and splits: a file that is not plain text to the framer (a
        NUL byte, a byte order mark, a binary signature, bare-CR line ends, nothing but blanks,
        a first character that says JSON for CSV or an array for JSON Lines) stores no line, and
        a file that stored none is the framer's (every other file has a line 1).
        """
        cols = self.schema.column_names
        paths = "[" + ", ".join(literal(f.path) for f in fids.values()) + "]"
        # The first character that is not blank: a CSV file opening like JSON, or JSON Lines opening
        # like an array, is the framer's to refuse.
        first = "regexp_extract(content, '^[ \\t\\r\\n\\x0b\\x0c]*(.)', 1)"
        wrong_opening = "('{', '[')" if self.csv else "('[')"
        odd = (
            f"contains(content, chr(0)) OR starts_with(content, chr(65279)) OR ({_signature_checks()}) "
            "OR (NOT contains(content, chr(10)) AND contains(content, chr(13))) "
            "OR NOT regexp_matches(content, '[^ \\t\\r\\n\\x0b\\x0c]') "
            f"OR {first} IN {wrong_opening}"
        )
        ids = f"{self.prefix}_ids_{min(fids)}"
        conn.register(
            ids,
            pa.table(
                {
                    "fid": pa.array(list(fids), pa.int32()),
                    "filename": pa.array([f.path for f in fids.values()], pa.string()),
                }
            ),
        )
        # JSON: whether a line is a plain object whose keys are schema columns, each once. In a plain
        # line a double quote followed by a colon closes a key (no value holds a quote, no space
        # comes before a colon), so '":' counts the keys, and '"<column>":' finds a column's.
        ordered = framing.ordered_json_line(cols)
        present = " + ".join(f"contains(t, {literal(chr(34) + c + chr(34) + ':')})::INTEGER" for c in cols)
        # A line of every column in order (``ordered``) is plain; others are checked key by key.
        json_cols, json_stage = (
            ("", "")
            if self.csv
            else (
                # CASE, not OR: DuckDB evaluates both sides of an OR for every row.
                ", ordered, CASE WHEN ordered THEN TRUE ELSE NOT blank "
                f"AND (strlen(t) - strlen(replace(t, '\":', ''))) // 2 = ({present}) "
                f"AND regexp_full_match(t, {literal(SIMPLE_JSON_LINE)}) END",
                f"SELECT *, NOT blank AND regexp_full_match(t, {literal(ordered)}) AS ordered FROM (",
            )
        )
        try:
            # Every line with its number; the CR of a CRLF dropped; blank lines marked.
            conn.execute(
                f"INSERT INTO {ident(self.lines)} (fid, line, t, blank{', ordered, ok' if not self.csv else ''}) "
                f"SELECT fid, line, t, blank{json_cols} FROM ({json_stage}"
                # Only a line that sorts below '!' can be blank (its first byte is whitespace, or it
                # is empty), so the pattern runs for those alone: a CASE, because DuckDB evaluates
                # both sides of an AND or an OR for every row here (half the time of this statement).
                f"SELECT fid, line, t, CASE WHEN t < '!' THEN regexp_full_match(t, {literal(_BLANK)}) "
                "ELSE FALSE END AS blank FROM ("
                "SELECT fid, line, CASE WHEN ends_with(t, chr(13)) THEN substr(t, 1, length(t) - 1) ELSE t END AS t "
                "FROM (SELECT fid, unnest(parts) AS t, unnest(range(1, len(parts) + 1)) AS line, len(parts) AS n "
                f"FROM (SELECT i.fid, string_split(c.content, chr(10)) AS parts FROM read_text({paths}) c "
                f"JOIN {ident(ids)} i USING (filename) WHERE NOT ({odd}))) "
                f"WHERE NOT (line = n AND t = '')){')' if json_stage else ''})"
            )
        finally:
            conn.unregister(ids)
        stored = conn.execute(
            f"SELECT fid FROM {ident(self.lines)} WHERE line = 1 AND fid IN {self._in(sorted(fids))}"
        ).fetchall()
        return set(fids) - {int(fid) for (fid,) in stored}

    def _in(self, fids: Sequence[int]) -> str:
        return "(" + ", ".join(str(f) for f in fids) + ")"

    def _register_files(self, rows: dict[str, list[Any]], fids: dict[int, SqlFile]) -> None:
        """Add the files ``rows`` describes (``fid``, ``_hline``, ``_width``, ``_p<i>``) to the files table,
        with each one's key, date and rank from ``fids``."""
        cols = self.schema.column_names
        types = {"fid": pa.int32(), "_hline": pa.int64(), "_width": pa.int32(), "_file": pa.string()}
        types[PARTITION_KEY] = pa.string()
        files = [fids[fid] for fid in rows["fid"]]
        rows = {
            **rows,
            "_file": [f.key for f in files],
            PARTITION_KEY: [f.date for f in files],
            RANK: [f.rank for f in files],
        }
        positions = [f"_p{i}" for i in range(len(cols))]
        table = pa.table(
            {
                name: pa.array(rows.get(name, [None] * len(rows["fid"])), types.get(name, pa.int32()))
                for name in ["fid", "_file", PARTITION_KEY, RANK, "_hline", "_width", *positions]
            }
        )
        self._insert(self.files, table)

    def _insert(self, target: str, table: pa.Table) -> None:
        """Append an Arrow table to one of the framer's tables (same columns, same order)."""
        name = f"{target}_new"
        self.conn.register(name, table)
        try:
            self.conn.execute(f"INSERT INTO {ident(target)} SELECT * FROM {ident(name)}")
        finally:
            self.conn.unregister(name)

    def _drop(self, fids: set[int]) -> None:
        """Forget what was stored for files left to the framer."""
        if fids:
            for table in (self.lines, self.files, self.slow):
                self.conn.execute(f"DELETE FROM {ident(table)} WHERE fid IN {self._in(sorted(fids))}")

    # ------------------------------------------------------------------ CSV

    def _csv(self, fids: dict[int, SqlFile], kept: list[int]) -> set[int]:
        cols = self.schema.column_names
        lines = ident(self.lines)
        heads = self._first_lines(kept)
        # The lines holding a double quote: few in a plain file, and each either sends its file to the
        # framer (an odd number of quotes: a quoted field runs past the line end) or is one record.
        quoted: dict[int, list[tuple[int, str]]] = {}
        for fid, line, text in self.conn.execute(
            f"SELECT fid, line, t FROM {lines} WHERE fid IN {self._in(kept)} AND NOT blank AND contains(t, '\"') "
            "ORDER BY fid, line"
        ).fetchall():
            quoted.setdefault(int(fid), []).append((int(line), str(text)))
        rows: dict[str, list[Any]] = {"fid": [], "_hline": [], "_width": []}
        rows.update({f"_p{i}": [] for i in range(len(cols))})
        good: dict[int, tuple[int, int]] = {}  # fid -> (header line, width)
        for fid in kept:
            if fid not in heads or any(text.count('"') % 2 for _line, text in quoted.get(fid, [])):
                continue
            line, text = heads[fid]
            header = _csv_header(text, self.schema)
            if header is None:
                continue
            good[fid] = (line, len(header))
            where = {name: i + 1 for i, name in enumerate(header)}
            for key, value in (("fid", fid), ("_hline", line), ("_width", len(header))):
                rows[key].append(value)
            for i, name in enumerate(cols):
                rows[f"_p{i}"].append(where.get(name))
        left = set(kept) - set(good)
        self._drop(left)
        if not good:
            return left
        self._register_files(rows, fids)
        # Quoted lines after the header: one record each, parsed by the framer.
        slow: dict[str, list[Any]] = {"fid": [], "_line": [], "_f": [], "_err": []}
        parsed_ok: set[int] = set()
        for fid, (hline, width) in good.items():
            for line, text in quoted.get(fid, []):
                if line <= hline:
                    continue
                parsed = framing._csv_record(text.encode("utf-8"), 0, True)
                assert parsed is not None  # final=True: a record always ends
                values, error, _end = parsed
                slow["fid"].append(fid)
                slow["_line"].append(line)
                slow["_f"].append(None if values is None else [v.decode("utf-8") for v in values])
                slow["_err"].append(error)
                if error is None and values is not None and len(values) == width:
                    parsed_ok.add(fid)
        self._insert(
            self.slow,
            pa.table(
                {
                    "fid": pa.array(slow["fid"], pa.int32()),
                    "_line": pa.array(slow["_line"], pa.int64()),
                    "_f": pa.array(slow["_f"], pa.list_(pa.string())),
                    "_err": pa.array(slow["_err"], pa.string()),
                }
            ),
        )
        # A file with no record, or none that parses, is the framer's to reject.
        unsure = {fid: hline for fid, (hline, _width) in good.items() if fid not in parsed_ok}
        empty = set(unsure) - self._with_plain_record(unsure)
        self._drop(empty)
        return left | empty

    def _near_top_first(self, query: str, fids: list[int], bound: str) -> list[tuple[Any, ...]]:
        """The rows of ``query`` (the file id first) for ``fids``: with ``bound``, which keeps the lines
        near a file's top, then whole for the files it found nothing for (rare: a plain file has
        what is looked for in its first lines)."""
        rows = self.conn.execute(query.format(fids=self._in(fids), bound=bound)).fetchall()
        found = {int(row[0]) for row in rows}
        rest = [fid for fid in fids if fid not in found]
        if rest:
            rows += self.conn.execute(query.format(fids=self._in(rest), bound="")).fetchall()
        return rows

    def _first_lines(self, kept: list[int]) -> dict[int, tuple[int, str]]:
        """(number, text) of each file's first line that is not blank: its header."""
        query = (
            f"SELECT fid, arg_min(line, line), arg_min(t, line) FROM {ident(self.lines)} "
            "WHERE NOT blank AND fid IN {fids}{bound} GROUP BY fid"
        )
        rows = self._near_top_first(query, kept, f" AND line <= {_PROBE_LINES}")
        return {int(fid): (int(line), str(text)) for fid, line, text in rows}

    def _with_plain_record(self, headers: dict[int, int]) -> set[int]:
        """Those files (id -> header line) with a line after the header, not blank, holding no quote,
        of the header's width."""
        if not headers:
            return set()
        query = (
            f"SELECT DISTINCT l.fid FROM {ident(self.lines)} l JOIN {ident(self.files)} f USING (fid) "
            f"WHERE l.fid IN {{fids}} AND l.line > f._hline{{bound}} AND NOT l.blank AND NOT contains(l.t, '\"') "
            "AND strlen(l.t) - strlen(replace(l.t, ',', '')) = f._width - 1"
        )
        # A bound on the line number alone (not on each file's own header line) reaches the scan.
        bound = f" AND l.line <= {max(headers.values()) + _PROBE_LINES}"
        return {int(fid) for (fid,) in self._near_top_first(query, sorted(headers), bound)}

    # ------------------------------------------------------------------ JSON Lines

    def _json(self, fids: dict[int, SqlFile], kept: list[int]) -> set[int]:
        cols = self.schema.column_names
        required = self.schema.required_columns
        # Lines outside the plain case: decoded by the framer, as it decodes every line.
        others = self.conn.execute(
            f"SELECT fid, line, t FROM {ident(self.lines)} WHERE fid IN {self._in(kept)} AND NOT blank AND NOT ok"
        ).fetchall()
        decoder = framing._decoder()
        slow: dict[str, list[Any]] = {"fid": [], "_line": [], **{c: [] for c in cols}, "_error": []}
        keys_seen: dict[int, set[str]] = {}
        valid: dict[int, int] = {}
        for fid, line, text in others:
            value, error = framing._decode_line(decoder, str(text))
            slow["fid"].append(fid)
            slow["_line"].append(line)
            slow["_error"].append(error)
            if error is None:
                valid[int(fid)] = valid.get(int(fid), 0) + 1
                keys_seen.setdefault(int(fid), set()).update(value)
                for c in cols:
                    slow[c].append(framing.json_text(value.get(c)))
            else:
                for c in cols:
                    slow[c].append(None)
        # A file with an ordered line holds every column; the others are searched for each key.
        searched = []
        for fid, count, ordered in self.conn.execute(
            f"SELECT fid, count(*), bool_or(ordered) FROM {ident(self.lines)} WHERE fid IN {self._in(kept)} AND ok "
            "GROUP BY fid"
        ).fetchall():
            valid[int(fid)] = valid.get(int(fid), 0) + int(count)
            if ordered:
                keys_seen.setdefault(int(fid), set()).update(required)
            else:
                searched.append(int(fid))
        present = ", ".join(f"bool_or(contains(t, {literal(chr(34) + c + chr(34) + ':')}))" for c in required)
        if searched and required:
            for row in self.conn.execute(
                f"SELECT fid, {present} FROM {ident(self.lines)} WHERE fid IN {self._in(searched)} AND ok GROUP BY fid"
            ).fetchall():
                keys_seen.setdefault(int(row[0]), set()).update(
                    c for c, hit in zip(required, row[1:], strict=True) if hit
                )
        # No record that parses, or a required column in none of them: the framer's to reject.
        left = {fid for fid in kept if not valid.get(fid) or not set(required) <= keys_seen.get(fid, set())}
        good = [fid for fid in kept if fid not in left]
        self._drop(left)
        rows: dict[str, list[Any]] = {
            "fid": good,
            "_hline": [0] * len(good),
            "_width": [len(cols)] * len(good),
        }
        self._register_files(rows, fids)
        types = {"fid": pa.int32(), "_line": pa.int64()}
        keep = [i for i, fid in enumerate(slow["fid"]) if fid not in left]
        self._insert(
            self.slow, pa.table({k: pa.array([v[i] for i in keep], types.get(k, pa.string())) for k, v in slow.items()})
        )
        return left


def _csv_header(text: str, schema: RawSchema) -> tuple[str, ...] | None:
    """The header's names as the framer reads them; None when the framer would refuse the file."""
    if '"' in text:
        parsed = framing._csv_record(text.encode("utf-8"), 0, True)
        if parsed is None or parsed[0] is None:
            return None
        fields = [v.decode("utf-8") for v in parsed[0]]
    else:
        fields = text.split(",")
    try:
        return framing.checked_header(fields, schema, None)
    except FileRejectedError:
        return None


__all__ = ["GROUP_BYTES", "SIMPLE_JSON_LINE", "SqlFile", "SqlFramer", "eligible", "framer_prefix"]
