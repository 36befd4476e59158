"""Reading raw files and writing partitioned Parquet, once per engine.

Everything engine-specific about I/O lives here, so transforms never touch a path:

* **Readers** turn the accepted raw files of a dataset into one DataFrame with every
  schema column as *text* (a cast never loses a value before the rules have seen it),
  plus ``_error`` (why the reader could not parse a record), ``_line`` (the line the
  record starts on), ``_file`` (its raw key) and ``date`` (its partition).
* **The writer** :func:`write_partitioned` replaces exactly the partitions of the dates
  being written (dynamic partition overwrite): DuckDB ``COPY ... PARTITION_BY`` into a
  staging folder whose partitions are then swapped in (sqlframe's own ``partitionBy``
  write fails on DuckDB 2.0), or Spark's writer with ``partitionOverwriteMode=dynamic``.

Reading stays exact where it is cheap to be: CSV goes through DuckDB's reader, and when a
file holds anything that reader could count differently from the validator (a record
spanning lines, blank lines, a record DuckDB rejects) the file is re-read with the
validator's own parser (``ecomlake.ingest.formats``) so line numbers and malformed records
match it. JSON Lines are parsed by DuckDB's JSON functions; any line that is not a plain
object of strings (invalid JSON, numbers, booleans, nested values) is re-read by the
validator's parser, which keeps numbers as the text they were written with. JSON arrays
always use the validator's parser.
"""

# ruff: noqa: N803, N806 -- F, T and Window are the PySpark aliases (functions, types, Window)

from __future__ import annotations

import contextlib
import gzip
import itertools
import shutil
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from ecomlake.contract import (
    PARTITION_KEY,
    QUARANTINE_ROWS_FILE,
    RAW_FILE_NAMES,
    Dataset,
    Table,
    Zone,
    partition_prefix,
    table_prefix,
    table_zone,
)
from ecomlake.etl.engines import api, duckdb_connection, engine_of, is_sqlframe, spark_type, string_struct
from ecomlake.exceptions import FileRejectedError
from ecomlake.ingest import formats
from ecomlake.schemas import RAW_SCHEMAS, TableSchema, athena_to_duckdb
from ecomlake.storage import LocalStorage, Storage

ERROR: Final = "_error"
LINE: Final = "_line"
FILE: Final = "_file"
# Raw files are decoded whole by the fallback parser; no limit beyond what ingestion allows.
_NO_LIMIT: Final = 1 << 62
_PART_PREFIX: Final = "part"
_counter = itertools.count()


def _unique(prefix: str) -> str:
    return f"{prefix}_{next(_counter)}_{uuid.uuid4().hex[:8]}"


# --------------------------------------------------------------------------- the lake


@dataclass(frozen=True)
class LakeIO:
    """Where a run reads and writes: a Storage for small objects, URIs for the engines."""

    storage: Storage

    @classmethod
    def local(cls, lake: str | Path) -> LakeIO:
        return cls(LocalStorage(Path(lake)))

    @property
    def is_local(self) -> bool:
        return isinstance(self.storage, LocalStorage)

    def uri(self, key: str) -> str:
        return self.storage.uri(key)

    def table_uri(self, table: Table | str) -> str:
        return self.uri(table_prefix(table_zone(table), str(Table(table))).rstrip("/"))

    def quarantine_uri(self, dataset: Dataset | str) -> str:
        return self.uri(table_prefix(Zone.QUARANTINE, str(Dataset(dataset))).rstrip("/"))


@dataclass(frozen=True)
class RawFile:
    """One accepted raw file of a dataset partition."""

    dataset: Dataset
    date: str
    key: str

    @property
    def name(self) -> str:
        return self.key.rsplit("/", 1)[-1]


def raw_files(lake: LakeIO, dataset: Dataset | str, dates: Sequence[str]) -> list[RawFile]:
    """The raw files the ETL reads: every file of each partition not rejected whole.

    The validator decides (``ecomlake.ingest.validator.accepted_keys``); a file landed
    without being validated is validated first, so a rejected file never reaches a job.
    """
    from ecomlake.ingest.validator import accepted_keys

    ds = Dataset(dataset)
    return [RawFile(ds, day, key) for day in dates for key in sorted(accepted_keys(lake.storage, ds, day))]


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


def _reparse_lines(lines: Iterable[tuple[int, str]]) -> Iterable[tuple[int, dict[str, str | None], str | None]]:
    """JSON Lines the fast path left alone, read one by one with the validator's parser."""
    for number, line in lines:
        # The validator's per-line reading of JSON Lines (numbers kept as written).
        for record in formats._json_lines_records(line):
            yield number, record.values, record.error


def _duckdb_read_raw(session: Any, lake: LakeIO, dataset: Dataset, files: Sequence[RawFile]) -> Any:
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


# --------------------------------------------------------------------------- raw readers: Spark

# Raw files are read one file per partition, so rows can be numbered in the JVM (no
# Python round trip): a split as large as any accepted file (the validator caps them at
# DEFAULT_MAX_FILE_BYTES) and an open cost so high that no two files share a partition.
_ONE_FILE_PER_PARTITION: Final = {
    "spark.sql.files.maxPartitionBytes": str(2 * 1024 * 1024 * 1024),
    "spark.sql.files.openCostInBytes": str(2 * 1024 * 1024 * 1024),
}


def _spark_rows(spark: Any, file: RawFile, records: Iterable[Any], columns: Sequence[str]) -> Any:
    """Records read on the driver ((line, values, error) triples) as a raw DataFrame."""
    return _spark_rows_of(spark, [(file, records)], columns)


def _spark_rows_of(spark: Any, batches: Iterable[tuple[RawFile, Iterable[Any]]], columns: Sequence[str]) -> Any:
    """Records of several files read on the driver, as one raw DataFrame (one small plan)."""
    T = api(spark).T
    rows = [
        (*(values.get(c) for c in columns), error, line, file.key, file.date)
        for file, records in batches
        for line, values, error in records
    ]
    return spark.createDataFrame(rows, _spark_raw_schema(T, columns))


def _spark_read_bytes(spark: Any, uri: str) -> bytes:
    """A whole (small) file's bytes on the driver, gunzipped when named .gz."""
    row = spark.read.format("binaryFile").load(uri).select("content").first()
    data = bytes(row[0]) if row is not None else b""
    return gzip.decompress(data) if uri.endswith(formats.GZIP_SUFFIX) else data


def _spark_python_file(spark: Any, file: RawFile, uri: str, columns: Sequence[str]) -> Any:
    """A whole file read on the driver with the validator's parser (small or unusual files)."""
    return _spark_rows(spark, file, _python_records(_spark_read_bytes(spark, uri), file), columns)


def _spark_raw_schema(T: Any, columns: Sequence[str]) -> Any:
    fields = list(string_struct((*columns, ERROR), T).fields)
    fields += [
        T.StructField(LINE, T.LongType(), True),
        T.StructField(FILE, T.StringType(), True),
        T.StructField(PARTITION_KEY, T.StringType(), True),
    ]
    return T.StructType(fields)


def _csv_field_count(line: str) -> int | None:
    """Fields of one CSV line as the validator's parser counts them; None when it is not valid CSV."""
    import csv

    try:
        rows = list(csv.reader([line], strict=True))
    except csv.Error:
        return None
    return len(rows[0]) if len(rows) == 1 else None


def _numbered(spark: Any, df: Any, files: Sequence[RawFile], first_line: int) -> Any:
    """Add ``_line`` (``first_line`` for each file's first row, in file order), ``_file`` and ``date``.

    Raw files are read one file per partition (see ``_ONE_FILE_PER_PARTITION``), and
    ``monotonically_increasing_id`` counts rows within a partition in its low 33 bits:
    that count is the row's position in its file. No shuffle, no Python round trip.
    """
    from urllib.parse import quote

    F, T, _ = api(spark)
    tail = r"(raw/[^/]+/date=[0-9]{4}-[0-9]{2}-[0-9]{2}/[^/]+)$"
    tagged = df.select(
        "*",
        F.regexp_extract(F.input_file_name(), tail, 1).alias("_tail"),
        (F.monotonically_increasing_id().bitwiseAND(F.lit((1 << 33) - 1)) + F.lit(first_line)).alias(LINE),
    )
    # input_file_name() spells a path as a URI, percent-encoding what needs it.
    spellings = {(spelled, f.key, f.date) for f in files for spelled in (f.key, quote(f.key, safe="/="))}
    lookup = spark.createDataFrame(
        sorted(spellings),
        T.StructType([T.StructField(n, T.StringType(), False) for n in ("_tail", FILE, PARTITION_KEY)]),
    )
    return tagged.join(F.broadcast(lookup), on="_tail", how="inner").drop("_tail")


def _spark_text(spark: Any, uris: Sequence[str]) -> Any:
    return spark.read.option("lineSep", "\n").text(list(uris))


def _spark_csv(
    spark: Any, lake: LakeIO, files: Sequence[RawFile], columns: Sequence[str], held: list[Any]
) -> list[Any]:
    """CSV files in one read per header: Spark's reader where it provably matches the validator.

    Records are read one per line. When a file has exactly one record per line after
    its header (no quoted newlines, no blank lines), its rows are numbered exactly, and
    the few records Spark cannot parse are re-counted on the driver to be worded as the
    validator words them. Other files are read on the driver with the validator's parser.
    """
    F, T, _ = api(spark)
    uris = {f.key: lake.uri(f.key) for f in files}
    text = _numbered(spark, _spark_text(spark, list(uris.values())), files, 1)
    heads = {
        row[0]: (row[1], int(row[2]))
        for row in text.groupBy(FILE)
        .agg(F.min_by("value", LINE).alias("head"), F.count(F.lit(1)).alias("n"))
        .select(FILE, "head", "n")
        .collect()
    }
    groups: dict[tuple[str, ...], list[RawFile]] = {}
    for f in files:
        head, _ = heads.get(f.key, ("", 0))
        groups.setdefault(_csv_header(((head or "") + "\n").encode(), f.name), []).append(f)
    corrupt = "_corrupt_record"
    frames = []
    for header, group in groups.items():
        schema = T.StructType([*string_struct(header, T).fields, T.StructField(corrupt, T.StringType(), True)])
        df = (
            spark.read.option("header", True)
            .option("multiLine", False)
            .option("mode", "PERMISSIVE")
            .option("columnNameOfCorruptRecord", corrupt)
            .option("quote", '"')
            .option("escape", '"')
            .option("encoding", "UTF-8")
            .schema(schema)
            .csv([uris[f.key] for f in group])
        )
        numbered = _numbered(spark, df, group, 2).cache()
        held.append(numbered)
        stats = {
            row[0]: (int(row[1]), int(row[2]))
            for row in numbered.groupBy(FILE).agg(F.count(F.lit(1)), F.count(F.col(corrupt))).collect()
        }
        broken: dict[str, list[tuple[int, str]]] = {}
        for row in numbered.where(F.col(corrupt).isNotNull()).select(FILE, LINE, corrupt).collect():
            broken.setdefault(row[0], []).append((int(row[1]), row[2]))
        exact, bad_rows = [], []
        width = len(header)
        for f in group:
            records, _ = stats.get(f.key, (0, 0))
            counts = [(line, _csv_field_count(raw)) for line, raw in broken.get(f.key, [])]
            if records + 1 == heads.get(f.key, ("", 0))[1] and all(n is not None for _, n in counts):
                exact.append(f.key)
                bad_rows += [
                    (f, [(line, {}, f"expected {width} fields (the header's), found {n}") for line, n in counts])
                ]
            else:
                frames.append(_spark_python_file(spark, f, uris[f.key], columns))
        good = numbered.where(F.col(FILE).isin(*exact) & F.col(corrupt).isNull()).select(
            *[F.col(c) if c in header else F.lit(None).cast("string").alias(c) for c in columns],
            F.lit(None).cast("string").alias(ERROR),
            F.col(LINE),
            F.col(FILE),
            F.col(PARTITION_KEY),
        )
        frames.append(good)
        if any(records for _, records in bad_rows):
            frames.append(_spark_rows_of(spark, bad_rows, columns))
    return frames


def _non_string_pattern(columns: Sequence[str]) -> str:
    """A schema key whose value is not a JSON string or null (a number, boolean, object, array)."""
    names = "|".join(columns)
    return f'"({names})"\\s*:\\s*[^"n\\s]'


def _spark_json_lines(
    spark: Any, lake: LakeIO, files: Sequence[RawFile], columns: Sequence[str], held: list[Any]
) -> list[Any]:
    """JSON Lines: Spark parses lines that are objects of strings; the rest are re-read on the driver."""
    F, T, _ = api(spark)
    uris = {f.key: lake.uri(f.key) for f in files}
    lines = _numbered(spark, _spark_text(spark, list(uris.values())), files, 1)
    corrupt = "_corrupt_record"
    schema = T.StructType([*string_struct(columns, T).fields, T.StructField(corrupt, T.StringType(), True)])
    text = F.regexp_replace(F.col("value"), "\r$", "")
    parsed = lines.where(F.trim(F.col("value")) != F.lit("")).select(
        F.from_json(
            text,
            schema,
            # Strict JSON, as Python's json module reads it (Spark accepts 'single quotes' by default).
            {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": corrupt, "allowSingleQuotes": "false"},
        ).alias("r"),
        text.alias("_text"),
        F.col(LINE),
        F.col(FILE),
        F.col(PARTITION_KEY),
    )
    plain = (
        F.col("r").isNotNull()
        & F.col(f"r.{corrupt}").isNull()
        & F.ltrim(F.col("_text")).startswith("{")
        & ~F.col("_text").rlike(_non_string_pattern(columns))
    )
    marked = parsed.select("*", plain.alias("_plain")).cache()
    held.append(marked)
    others: dict[str, list[tuple[int, str]]] = {}
    for row in marked.where(~F.col("_plain")).select(FILE, LINE, "_text").collect():
        others.setdefault(row[0], []).append((int(row[1]), row[2]))
    good = marked.where(F.col("_plain")).select(
        *[F.col(f"r.{c}").alias(c) for c in columns],
        F.lit(None).cast("string").alias(ERROR),
        F.col(LINE),
        F.col(FILE),
        F.col(PARTITION_KEY),
    )
    by_key = {f.key: f for f in files}
    batches = [(by_key[key], list(_reparse_lines(sorted(rows)))) for key, rows in others.items()]
    return [good, _spark_rows_of(spark, batches, columns)] if batches else [good]


def _spark_read_raw(spark: Any, lake: LakeIO, dataset: Dataset, files: Sequence[RawFile]) -> Any:
    T = api(spark).T
    columns = _raw_columns(dataset)
    previous = {key: spark.conf.get(key) for key in _ONE_FILE_PER_PARTITION}
    for key, value in _ONE_FILE_PER_PARTITION.items():
        spark.conf.set(key, value)
    held: list[Any] = []
    try:
        if _is_csv(dataset):
            frames = _spark_csv(spark, lake, files, columns, held) if files else []
        else:
            arrays, lines = [], []
            for f in files:
                head = _spark_text(spark, [lake.uri(f.key)]).first()
                is_array = head is not None and head[0].lstrip("\ufeff \t\r").startswith("[")
                (arrays if is_array else lines).append(f)
            # A JSON array (products) is small: read on the driver by the validator's parser.
            frames = [_spark_python_file(spark, f, lake.uri(f.key), columns) for f in arrays]
            if lines:
                frames += _spark_json_lines(spark, lake, lines, columns, held)
        names = _spark_raw_schema(T, columns).fieldNames()
        out = spark.createDataFrame([], _spark_raw_schema(T, columns))
        for frame in frames:
            out = out.unionByName(frame.select(*names))
        # Read now, one file per partition, before the settings are put back.
        return out.localCheckpoint(eager=True)
    finally:
        for key, value in previous.items():
            spark.conf.set(key, value)
        for frame in held:
            frame.unpersist()


def read_raw(session: Any, lake: LakeIO, dataset: Dataset | str, files: Sequence[RawFile]) -> Any:
    """The raw records of ``files`` as one DataFrame of text columns plus metadata (see module doc)."""
    ds = Dataset(dataset)
    if is_sqlframe(session):
        return _duckdb_read_raw(session, lake, ds, files)
    return _spark_read_raw(session, lake, ds, files)


# --------------------------------------------------------------------------- processed / curated readers


def _empty_table_sql(schema: TableSchema) -> str:
    cols = [f"CAST(NULL AS {athena_to_duckdb(c.type)}) AS {_ident(c.name)}" for c in schema.columns]
    if schema.partition_key:
        cols.append(f"CAST(NULL AS VARCHAR) AS {_ident(schema.partition_key)}")
    return f"SELECT {', '.join(cols)} WHERE false"


def read_table(session: Any, lake: LakeIO, schema: TableSchema) -> Any:
    """Every partition of a processed or curated table (typed, ``date`` as text), or an empty frame."""
    uri = lake.table_uri(schema.name)
    names = [*schema.column_names, *([schema.partition_key] if schema.partition_key else [])]
    if is_sqlframe(session):
        conn = duckdb_connection(session)
        view = f"in_{schema.zone}_{schema.name}"
        pattern = f"{PARTITION_KEY}=*/*.parquet" if schema.partition_key else "*.parquet"
        has_files = Path(uri).is_dir() and any(Path(uri).glob(pattern))
        if has_files:
            cols = ", ".join(
                f"CAST({_ident(c.name)} AS {athena_to_duckdb(c.type)}) AS {_ident(c.name)}" for c in schema.columns
            )
            part = f", CAST({_ident(PARTITION_KEY)} AS VARCHAR) AS {PARTITION_KEY}" if schema.partition_key else ""
            source = (
                f"read_parquet({_sql_str(str(Path(uri) / pattern))}, hive_partitioning = "
                f"{'true' if schema.partition_key else 'false'}"
                + (", hive_types = {'date': VARCHAR}" if schema.partition_key else "")
                + ")"
            )
            conn.execute(f"CREATE OR REPLACE VIEW {_ident(view)} AS SELECT {cols}{part} FROM {source}")
        else:
            conn.execute(f"CREATE OR REPLACE VIEW {_ident(view)} AS {_empty_table_sql(schema)}")
        return session.table(view).select(*names)
    T = api(session).T
    fields = [T.StructField(c.name, spark_type(c.type, T), True) for c in schema.columns]
    if schema.partition_key:
        fields.append(T.StructField(schema.partition_key, T.StringType(), True))
    struct = T.StructType(fields)
    if not _spark_path_exists(session, uri):
        return session.createDataFrame([], struct)
    return session.read.schema(struct).option("basePath", uri).parquet(uri).select(*names)


def _hadoop_fs(spark: Any, uri: str) -> tuple[Any, Any]:
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(uri)
    return path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), path


def _spark_path_exists(spark: Any, uri: str) -> bool:
    fs, path = _hadoop_fs(spark, uri)
    return bool(fs.exists(path))


def _spark_delete(spark: Any, uri: str) -> None:
    fs, path = _hadoop_fs(spark, uri)
    if fs.exists(path):
        fs.delete(path, True)


# --------------------------------------------------------------------------- materialising


def duckdb_sql(df: Any) -> str:
    """The DuckDB SQL sqlframe would run for ``df`` (earlier statements, if any, are executed)."""
    session = df.session
    expressions = df._get_expressions(optimize=False)
    for expression in expressions[:-1]:
        session._execute(session._to_sql(expression))
    return session._to_sql(expressions[-1], pretty=False)


def materialize(df: Any, name: str) -> Any:
    """Compute ``df`` once and keep it, so counting and writing do not recompute it.

    DuckDB: a table in the session's database. Spark: a cached DataFrame.
    """
    if is_sqlframe(df):
        conn = duckdb_connection(df)
        conn.execute(f"CREATE OR REPLACE TABLE {_ident(name)} AS {duckdb_sql(df)}")
        return df.session.table(name)
    return df.cache()


def release(df: Any) -> None:
    """Free what :func:`materialize` kept."""
    if not is_sqlframe(df):
        df.unpersist()


# --------------------------------------------------------------------------- the writer


def partition_dir(root: str | Path, day: str) -> Path:
    return Path(root) / f"{PARTITION_KEY}={day}"


def _swap_in(staging: Path, target: Path, dates: Sequence[str] | None) -> None:
    """Replace the written partitions (or the whole table) with the staged ones."""
    target.mkdir(parents=True, exist_ok=True)
    if dates is None:
        for old in target.iterdir():
            if old.is_dir():
                shutil.rmtree(old)
            else:
                old.unlink()
        for new in staging.iterdir():
            new.rename(target / new.name)
        return
    staged = {p.name for p in staging.iterdir()} if staging.exists() else set()
    unexpected = staged - {f"{PARTITION_KEY}={d}" for d in dates}
    if unexpected:
        raise ValueError(f"rows for partitions outside the run: {sorted(unexpected)}")
    for day in dates:
        current = partition_dir(target, day)
        if current.exists():
            shutil.rmtree(current)
        fresh = partition_dir(staging, day)
        if fresh.exists():
            fresh.rename(current)


def write_partitioned(
    df: Any, target: str | Path, dates: Sequence[str] | None, *, order_by: Sequence[str] = ()
) -> None:
    """Write ``df`` as Parquet under ``target``, replacing exactly the partitions of ``dates``.

    ``dates=None`` writes an unpartitioned table and replaces all of it. A date in ``dates``
    with no rows ends with no partition (an older partition of it is removed), so a re-run
    never leaves stale rows behind. ``order_by`` sorts rows within each file, so two runs
    over the same input write the same files.

    Files: DuckDB writes ``date=D/part-0.parquet`` (``part-0.parquet`` unpartitioned);
    Spark writes ``date=D/part-<n>-<uuid>.c000.snappy.parquet``. Both Snappy-compressed.
    """
    if is_sqlframe(df):
        _duckdb_write(df, Path(target), dates, order_by)
    else:
        _spark_write(df, str(target), dates, order_by)


def _duckdb_write(df: Any, target: Path, dates: Sequence[str] | None, order_by: Sequence[str]) -> None:
    conn = duckdb_connection(df)
    staging = target.parent / ".staging" / f"{target.name}-{uuid.uuid4().hex}"
    staging.mkdir(parents=True)
    try:
        query = duckdb_sql(df)
        if order_by:
            query = f"SELECT * FROM ({query}) ORDER BY {', '.join(_ident(c) for c in order_by)}"
        if dates is None:
            conn.execute(
                f"COPY ({query}) TO {_sql_str(str(staging / (_PART_PREFIX + '-0.parquet')))} "
                "(FORMAT parquet, COMPRESSION snappy)"
            )
        else:
            conn.execute(
                f"COPY ({query}) TO {_sql_str(str(staging))} (FORMAT parquet, COMPRESSION snappy, "
                f"PARTITION_BY ({PARTITION_KEY}), OVERWRITE_OR_IGNORE, FILENAME_PATTERN '{_PART_PREFIX}-{{i}}')"
            )
        _swap_in(staging, target, dates)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        with contextlib.suppress(OSError):
            staging.parent.rmdir()


def _spark_write(df: Any, target: str, dates: Sequence[str] | None, order_by: Sequence[str]) -> None:
    spark = df.sparkSession
    F = api(df).F
    if dates is None:
        out = df.coalesce(1)
        if order_by:
            out = out.sortWithinPartitions(*order_by)
        out.write.mode("overwrite").parquet(target)
        return
    data = df.repartition(F.col(PARTITION_KEY))
    if order_by:
        data = data.sortWithinPartitions(PARTITION_KEY, *order_by)
    data = data.cache()
    present = {r[0] for r in data.select(PARTITION_KEY).distinct().collect()}
    unexpected = present - set(dates)
    if unexpected:
        data.unpersist()
        raise ValueError(f"rows for partitions outside the run: {sorted(unexpected)}")
    if present:
        # Dynamic overwrite (SPARK_RUNTIME_CONF): only the partitions in the data are replaced.
        data.write.mode("overwrite").partitionBy(PARTITION_KEY).parquet(target)
    data.unpersist()
    for day in sorted(set(dates) - present):
        _spark_delete(spark, f"{target.rstrip('/')}/{PARTITION_KEY}={day}")


def write_quarantine(df: Any, lake: LakeIO, dataset: Dataset | str, dates: Sequence[str]) -> None:
    """Bad rows to ``quarantine/<dataset>/date=D/rows.parquet``, replacing that file only.

    Whole-file rejects live in the same folders (copied there by the validator), so the
    folder is never cleared: only ``rows.parquet`` is replaced, or removed when a re-run
    finds no bad rows for the date.
    """
    ds = Dataset(dataset)
    root = lake.quarantine_uri(ds)
    if is_sqlframe(df):
        staging = Path(root).parent / ".staging" / f"{ds}-{uuid.uuid4().hex}"
        try:
            _duckdb_write(df, staging / "out", dates, (PARTITION_KEY, LINE, FILE))
            for day in dates:
                final = Path(lake.uri(partition_prefix(Zone.QUARANTINE, ds, day) + QUARANTINE_ROWS_FILE))
                final.unlink(missing_ok=True)
                written = sorted(partition_dir(staging / "out", day).glob("*.parquet"))
                if written:
                    final.parent.mkdir(parents=True, exist_ok=True)
                    written[0].rename(final)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            with contextlib.suppress(OSError):
                staging.parent.rmdir()
        return
    spark = df.sparkSession
    staging_uri = f"{root.rstrip('/')}/_staging-{uuid.uuid4().hex}"
    try:
        _spark_write(df, staging_uri, dates, (LINE,))
        fs, _ = _hadoop_fs(spark, staging_uri)
        jvm = spark.sparkContext._jvm
        for day in dates:
            final = jvm.org.apache.hadoop.fs.Path(
                lake.uri(partition_prefix(Zone.QUARANTINE, ds, day) + QUARANTINE_ROWS_FILE)
            )
            if fs.exists(final):
                fs.delete(final, False)
            part = jvm.org.apache.hadoop.fs.Path(f"{staging_uri}/{PARTITION_KEY}={day}")
            if not fs.exists(part):
                continue
            files = [s.getPath() for s in fs.listStatus(part) if s.getPath().getName().endswith(".parquet")]
            if files:
                fs.mkdirs(final.getParent())
                fs.rename(files[0], final)
    finally:
        _spark_delete(spark, staging_uri)


def raw_file_name(dataset: Dataset | str) -> str:
    """The file name a dataset normally arrives as (any accepted name is read)."""
    return RAW_FILE_NAMES[Dataset(dataset)]


def engine_name(df: Any) -> str:
    return engine_of(df)
