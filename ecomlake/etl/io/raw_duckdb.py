"""Raw readers on DuckDB (the local engine): CSV through ``read_csv``, JSON Lines through DuckDB's JSON functions.

Reading stays exact where it is cheap to be: when a CSV file holds anything DuckDB's
reader could count differently from the validator (a record spanning lines, blank lines,
a record DuckDB rejects) the file is re-read with the validator's parser
(``ecomlake.ingest.formats``) so line numbers and malformed records match it. Any JSON
line that is not a plain object of strings is re-read the same way; JSON arrays always are.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from ecomlake.contract import (
    PARTITION_KEY,
    Dataset,
)
from ecomlake.etl.engines import duckdb_connection
from ecomlake.etl.io.lake import LakeIO, RawFile
from ecomlake.etl.io.raw import (
    ERROR,
    FILE,
    LINE,
    _csv_header,
    _decoded_text,
    _is_csv,
    _physical_lines,
    _python_records,
    _raw_columns,
    _read_bytes,
    _records_to_arrow,
    _reparse_lines,
)
from ecomlake.storage import LocalStorage

_counter = itertools.count()


def _unique(prefix: str) -> str:
    return f"{prefix}_{next(_counter)}_{uuid.uuid4().hex[:8]}"


# --------------------------------------------------------------------------- raw readers: DuckDB


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _raw_table_ddl(table: str, columns: Sequence[str]) -> str:
    cols = ", ".join(f"{_ident(c)} VARCHAR" for c in columns)
    return (
        f"CREATE OR REPLACE TABLE {_ident(table)} ({cols}, {ERROR} VARCHAR, {LINE} BIGINT, "
        f"{FILE} VARCHAR, {PARTITION_KEY} VARCHAR)"
    )


def _insert_arrow(conn: Any, table: str, arrow: Any, columns: Sequence[str]) -> None:
    view = _unique("arrow")
    conn.register(view, arrow)
    try:
        names = ", ".join(_ident(c) for c in (*columns, ERROR, LINE, FILE, PARTITION_KEY))
        conn.execute(f"INSERT INTO {_ident(table)} ({names}) SELECT {names} FROM {_ident(view)}")
    finally:
        conn.unregister(view)


_COUNT_ERRORS: Final = ("TOO MANY COLUMNS", "MISSING COLUMNS")


@dataclass(frozen=True)
class _CsvFile:
    file: RawFile
    path: Path
    header: tuple[str, ...]
    lines: int  # physical lines, header included


def _duckdb_csv(conn: Any, table: str, files: Sequence[tuple[RawFile, Path]], columns: Sequence[str]) -> None:
    """CSV files into ``table``: DuckDB's reader where it provably reads what the validator reads.

    Files with the same header are read by one ``read_csv`` call. DuckDB keeps each
    file's row order (CREATE TABLE AS preserves insertion order) and reports every record
    it rejects with its line. When every record of a file sits on one line (no quoted
    newlines, no blank lines) and every rejection is a wrong field count, the good rows
    fill, in order, the lines the rejected ones leave free -- each gets its exact line
    number -- and the rejected ones become ``malformed_record`` rows worded as the
    validator words them. Any other file is re-read with the validator's own parser.
    """
    groups: dict[tuple[str, ...], list[_CsvFile]] = {}
    for file, path in files:
        data = _read_bytes(path)
        csv_file = _CsvFile(file, path, _csv_header(data, file.name), _physical_lines(data))
        groups.setdefault(csv_file.header, []).append(csv_file)
    for header, group in groups.items():
        for csv_file in _duckdb_csv_group(conn, table, header, group, columns):
            data = _read_bytes(csv_file.path)
            arrow = _records_to_arrow(_python_records(data, csv_file.file), columns, csv_file.file)
            _insert_arrow(conn, table, arrow, columns)


def _insert_numbered(
    conn: Any,
    table: str,
    staged: str,
    header: tuple[str, ...],
    columns: Sequence[str],
    exact: list[tuple[_CsvFile, int, list[Any]]],
    left: list[_CsvFile],
    stats: dict[str, tuple[int, int, int]],
) -> None:
    """Insert the staged rows of the ``exact`` files with their line numbers, file and date.

    The numbers are laid out in rowid order and joined by position: the good rows of a
    file fill, in order, the lines after its header that no rejected record sits on.
    """
    import numpy as np
    import pyarrow as pa

    def rows_of(csv_file: _CsvFile) -> int:
        return stats.get(str(csv_file.path), (0, -1, 0))[2]

    spans = sorted(
        [(first, rows_of(f), f, bad, True) for f, first, bad in exact]
        + [(stats[str(f.path)][0], rows_of(f), f, [], False) for f in left if str(f.path) in stats],
        key=lambda span: span[0],
    )
    lines, files = [], []
    for _first, rows, _csv_file, bad, keep in spans:
        if keep:
            taken = np.array([line for line, *_rest in bad], dtype=np.int64)
            free = np.setdiff1d(np.arange(2, rows + len(bad) + 2, dtype=np.int64), taken, assume_unique=True)
            lines.append(free[:rows])
        else:
            lines.append(np.full(rows, -1, dtype=np.int64))  # re-read by the exact parser
        files.append(np.full(rows, len(files), dtype=np.int32))
    keys = pa.array([span[2].file.key for span in spans], pa.string())
    dates = pa.array([span[2].file.date for span in spans], pa.string())
    index = pa.array(np.concatenate(files) if files else np.array([], dtype=np.int32))
    numbered = pa.table(
        {
            "_n": pa.array(np.concatenate(lines) if lines else np.array([], dtype=np.int64)),
            "_k": pa.DictionaryArray.from_arrays(index, keys),
            "_d": pa.DictionaryArray.from_arrays(index, dates),
        }
    )
    view = _unique("numbered")
    conn.register(view, numbered)
    try:
        select = ", ".join(
            f"s.{_ident(c)}" if c in header else f"CAST(NULL AS VARCHAR) AS {_ident(c)}" for c in columns
        )
        conn.execute(
            f"INSERT INTO {_ident(table)} SELECT {select}, CAST(NULL AS VARCHAR), n._n, CAST(n._k AS VARCHAR), "
            f"CAST(n._d AS VARCHAR) FROM {_ident(staged)} AS s POSITIONAL JOIN {_ident(view)} AS n WHERE n._n >= 0"
        )
    finally:
        conn.unregister(view)


def _duckdb_csv_group(
    conn: Any, table: str, header: tuple[str, ...], group: list[_CsvFile], columns: Sequence[str]
) -> list[_CsvFile]:
    """Read files sharing ``header`` in one scan; returns the files left for the exact parser."""
    spec = "{" + ", ".join(f"{_sql_str(h)}: 'VARCHAR'" for h in header) + "}"
    paths = "[" + ", ".join(_sql_str(str(f.path)) for f in group) + "]"
    staged, rejects, scan = (_unique(p) for p in ("csv", "rejects", "scan"))
    conn.execute(
        f"CREATE TABLE {_ident(staged)} AS SELECT * FROM read_csv({paths}, header = true, auto_detect = false, "
        f"columns = {spec}, delim = ',', quote = '\"', escape = '\"', strict_mode = true, filename = '_path', "
        f"store_rejects = true, rejects_table = {_sql_str(rejects)}, rejects_scan = {_sql_str(scan)})"
    )
    try:
        stats = {
            path: (first, last, rows)
            for path, first, last, rows in conn.execute(
                f"SELECT _path, min(rowid), max(rowid), count(*) FROM {_ident(staged)} GROUP BY _path"
            ).fetchall()
        }
        rejected: dict[str, list[tuple[int, list[str], str | None, str | None]]] = {}
        for path, line, types, text, found in conn.execute(
            f"SELECT s.file_path, r.line, list(DISTINCT CAST(r.error_type AS VARCHAR)), any_value(r.csv_line), "
            f"any_value(regexp_extract(r.error_message, 'Found: ([0-9]+)', 1)) FROM {_ident(rejects)} AS r "
            f"JOIN {_ident(scan)} AS s USING (scan_id, file_id) GROUP BY s.file_path, r.line ORDER BY r.line"
        ).fetchall():
            rejected.setdefault(path, []).append((int(line), types, text, found))
        exact, left = [], []
        for csv_file in group:
            first, last, rows = stats.get(str(csv_file.path), (0, -1, 0))
            bad = rejected.get(str(csv_file.path), [])
            simple = all(
                set(types) <= set(_COUNT_ERRORS) and not any(ch in (text or "") for ch in "\r\n")
                for _, types, text, _ in bad
            )
            # The positional join below needs each file's rows together, in file order.
            contiguous = rows == 0 or last - first + 1 == rows
            if simple and contiguous and rows + len(bad) + 1 == csv_file.lines:
                exact.append((csv_file, first, bad))
            else:
                left.append(csv_file)
        if exact:
            _insert_numbered(conn, table, staged, header, columns, exact, left, stats)
            for csv_file, _, bad in exact:
                if bad:
                    width = len(header)
                    records = [
                        (line, {}, f"expected {width} fields (the header's), found {found}")
                        for line, _t, _x, found in bad
                    ]
                    _insert_arrow(conn, table, _records_to_arrow(records, columns, csv_file.file), columns)
        return left
    finally:
        for name in (staged, rejects, scan):
            conn.execute(f"DROP TABLE IF EXISTS {_ident(name)}")


def _duckdb_json(conn: Any, table: str, files: Sequence[tuple[RawFile, Path]], columns: Sequence[str]) -> None:
    """JSON files into ``table``: DuckDB parses plain JSON Lines, the validator's parser the rest.

    All JSON Lines files go through one query (each line tagged with its file). JSON
    arrays are read whole by the validator's parser.
    """
    import numpy as np
    import pyarrow as pa

    texts, numbers, owners, tagged = [], [], [], []
    for file, path in files:
        data = _read_bytes(path)
        text = _decoded_text(data, file.name)
        if text.lstrip().startswith("["):
            _insert_arrow(conn, table, _records_to_arrow(_python_records(data, file), columns, file), columns)
            continue
        lines = text.split("\n")
        texts.append(pa.array(lines, pa.large_string()))
        numbers.append(np.arange(1, len(lines) + 1, dtype=np.int64))
        owners.append(np.full(len(lines), len(tagged), dtype=np.int32))
        tagged.append(file)
    if not tagged:
        return
    index = pa.array(np.concatenate(owners))
    arrow = pa.table(
        {
            "t": pa.concat_arrays(texts),
            "n": pa.array(np.concatenate(numbers)),
            "k": pa.DictionaryArray.from_arrays(index, pa.array([f.key for f in tagged], pa.string())),
            "d": pa.DictionaryArray.from_arrays(index, pa.array([f.date for f in tagged], pa.string())),
        }
    )
    staged, parsed = _unique("lines"), _unique("parsed")
    conn.register(staged, arrow)
    # A line is "plain" when it is a JSON object whose schema columns are all strings,
    # nulls or absent: for those DuckDB's values equal the validator's exactly. Paths are
    # extracted as lists so each line is parsed a few times, not once per column.
    paths = "[" + ", ".join(_sql_str("$." + c) for c in columns) + "]"
    blank = "' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)"
    try:
        # Every JSON function below runs only on lines known to be JSON objects (DuckDB raises
        # on malformed input), hence the nested CASEs.
        conn.execute(
            f"CREATE TABLE {_ident(parsed)} AS SELECT n, j, CAST(k AS VARCHAR) AS k, CAST(d AS VARCHAR) AS d, "
            f"CASE WHEN ok THEN json_extract_string(j, {paths}) END AS v, "
            f"CASE WHEN ok THEN list_bool_and(list_transform(json_extract(j, {paths}), "
            f"lambda x: coalesce(json_type(x), 'NULL') IN ('VARCHAR', 'NULL'))) ELSE false END AS plain "
            f"FROM (SELECT n, k, d, j, CASE WHEN json_valid(j) THEN json_type(j) = 'OBJECT' ELSE false END AS ok "
            f"FROM (SELECT n, k, d, rtrim(t, chr(13)) AS j FROM {_ident(staged)} WHERE trim(t, {blank}) <> ''))"
        )
        extract = ", ".join(f"v[{i}]" for i in range(1, len(columns) + 1))
        conn.execute(
            f"INSERT INTO {_ident(table)} SELECT {extract}, CAST(NULL AS VARCHAR), n, k, d "
            f"FROM {_ident(parsed)} WHERE plain"
        )
        others = conn.execute(f"SELECT k, n, j FROM {_ident(parsed)} WHERE NOT plain ORDER BY k, n").fetchall()
    finally:
        conn.unregister(staged)
        conn.execute(f"DROP TABLE IF EXISTS {_ident(parsed)}")
    by_key = {f.key: f for f in tagged}
    for key in sorted({k for k, _, _ in others}):
        lines = [(n, j) for k, n, j in others if k == key]
        file = by_key[key]
        _insert_arrow(conn, table, _records_to_arrow(_reparse_lines(lines), columns, file), columns)


def read_raw_duckdb(session: Any, lake: LakeIO, dataset: Dataset, files: Sequence[RawFile]) -> Any:
    if not lake.is_local:
        raise NotImplementedError("the DuckDB engine reads a local lake; use --engine spark for S3")
    conn = duckdb_connection(session)
    columns = _raw_columns(dataset)
    table = f"raw_{dataset}"
    conn.execute(_raw_table_ddl(table, columns))
    storage = lake.storage
    assert isinstance(storage, LocalStorage)
    located = [(file, storage.path(file.key)) for file in files]
    if _is_csv(dataset):
        _duckdb_csv(conn, table, located, columns)
    else:
        _duckdb_json(conn, table, located, columns)
    return session.table(table)
