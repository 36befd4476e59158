"""Raw readers on Spark (the Glue engine): one file per partition, rows numbered in the JVM.

Spark's CSV and JSON readers are used where they provably read what the validator reads
(one record per line); other files, and the few records Spark cannot parse, are re-read
on the driver with the validator's own parser so reasons and line numbers agree.
"""

# ruff: noqa: N803, N806 -- F, T and Window are the PySpark aliases (functions, types, Window)

from __future__ import annotations

import gzip
from collections.abc import Iterable, Sequence
from typing import Any, Final

from ecomlake.contract import (
    PARTITION_KEY,
    Dataset,
)
from ecomlake.etl.engines import api, string_struct
from ecomlake.etl.io.lake import LakeIO, RawFile
from ecomlake.etl.io.raw import (
    ERROR,
    FILE,
    LINE,
    _csv_field_count,
    _csv_header,
    _is_csv,
    _python_records,
    _raw_columns,
    _reparse_lines,
)
from ecomlake.ingest import formats

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


def read_raw_spark(spark: Any, lake: LakeIO, dataset: Dataset, files: Sequence[RawFile]) -> Any:
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
